"""The PCs a Modbus TCP server answers (`inspector run --modbus-allow`): Modbus has no user or password, so anybody
who reaches the port may write Trigger, Ack and Recipe; a line keeps that to its PLC, as Modbus devices do with
their "allowed masters" list. Addresses or networks, comma separated: `192.168.10.5,192.168.20.0/28,::1`.

A connection from any other address is closed as it opens, before a request is read, and a line says so once a
minute per address with how many it refused (a scanner's connections do not flood it): the run's messages through
the server's `on_message` (the console of `inspector run`, the Run view), else the log."""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from typing import Callable, Optional

from inference import InspectorError

log = logging.getLogger(__name__)
LOG_EVERY_S = 60.0  # one warning per refused address in this time, with the count since the last one


class AllowedPeers:
    def __init__(self, text: str, flag: str = "--modbus-allow", clock: Callable[[], float] = time.monotonic):
        words = [w.strip() for w in str(text).split(",") if w.strip()]
        if not words:
            raise InspectorError(f"{flag}: give the PLC's address, or several separated by commas "
                                 "(e.g. 192.168.10.5,192.168.10.0/28)")
        self.networks = []
        for word in words:
            try:
                self.networks.append(ipaddress.ip_network(word, strict=False))
            except ValueError:
                raise InspectorError(f"{flag}: {word!r} is no IP address or network (e.g. 192.168.10.5 or "
                                     "192.168.10.0/24; host names are not resolved)") from None
        self.refused = 0  # connections refused since the start (tests, and a reader of the log's figures)
        self.on_message: Optional[Callable[[str], None]] = None  # where the warnings go (the server's); else the log
        self._lock = threading.Lock()
        self._clock = clock
        self._unlogged: dict[str, int] = {}  # address -> refused since its last warning
        self._logged_at: dict[str, float] = {}

    def allows(self, address: str) -> bool:
        """Whether a connection from `address` (an IP as the socket gives it) is answered."""
        try:
            ip = ipaddress.ip_address(str(address).split("%")[0])
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:  # an IPv4 PLC seen on a dual-stack socket
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)

    def refuse(self, address: str) -> None:
        """Count a refused connection; warn once per LOG_EVERY_S per address."""
        with self._lock:
            self.refused += 1
            self._unlogged[address] = self._unlogged.get(address, 0) + 1
            now = self._clock()
            if now - self._logged_at.get(address, -LOG_EVERY_S) < LOG_EVERY_S:
                return
            count, self._unlogged[address], self._logged_at[address] = self._unlogged[address], 0, now
        text = (f"Modbus TCP: refused {count} connection{'' if count == 1 else 's'} from {address} (not in "
                f"--modbus-allow {self.describe()})")
        if self.on_message is not None:
            self.on_message(text)
        else:
            log.warning("%s", text)

    def describe(self) -> str:
        return ",".join(str(n.network_address) if n.num_addresses == 1 else str(n) for n in self.networks)


__all__ = ["AllowedPeers", "LOG_EVERY_S"]
