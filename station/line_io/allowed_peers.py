"""The PCs a Modbus TCP server answers (`inspector run --modbus-allow`): Modbus has no user or password, so anybody
who reaches the port may write Trigger, Ack and Recipe; a line keeps that to its PLC, as Modbus devices do with
their "allowed masters" list. Addresses or networks, comma separated: `192.168.10.5,192.168.20.0/28,::1`.

A connection from any other address is closed as it opens, before a request is read, counted (the metrics), and a
line says so once a minute per address with how many it refused (station/line_io/refusals.py): the run's messages
through the server's `on_message` (the console of `inspector run`, the Run view), else the log."""

from __future__ import annotations

import ipaddress
import time
from typing import Callable

from inference import InspectorError

from .refusals import LOG_EVERY_S, Refusals, times


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
        self.refusals = Refusals("Modbus TCP", clock)  # counted, and said where the server's messages go

    def allows(self, address: str) -> bool:
        """Whether a connection from `address` (an IP as the socket gives it) is answered."""
        try:
            ip = ipaddress.ip_address(str(address).split("%")[0])
        except ValueError:
            return False
        if ip.version == 6 and ip.ipv4_mapped is not None:  # an IPv4 PLC seen on a dual-stack socket
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)

    @property
    def refused(self) -> int:
        """Connections refused since the start."""
        return self.refusals.total

    def refuse(self, address: str) -> None:
        """Count a refused connection; said once per LOG_EVERY_S per address."""
        self.refusals.refuse(address, lambda n: f"Modbus TCP: refused {times(n, 'connection')} from {address} "
                                                f"(not in --modbus-allow {self.describe()})")

    def describe(self) -> str:
        return ",".join(str(n.network_address) if n.num_addresses == 1 else str(n) for n in self.networks)


__all__ = ["AllowedPeers", "LOG_EVERY_S"]
