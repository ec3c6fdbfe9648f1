"""Which PCs are connected to a PLC server (Modbus TCP, OPC UA), said as they come and go: the first thing a line
engineer asks when the PLC gets no answer, and what the operator's monitor and Prometheus show (`inspector run`'s
messages, the Run view's Messages tab, `inspector_plc_connections{protocol}`).

    links = PlcLinks("Modbus TCP")
    links.update(["192.168.10.5"], now)   # -> ["Modbus TCP: 192.168.10.5 connected"]
    links.connected                       # ("192.168.10.5",)

A PC is connected while it holds a connection, and disconnected once it held none for GONE_AFTER_S: a PLC that
opens a connection for every request (some Modbus function blocks do) is one link, not a line a second.
"""

from __future__ import annotations

from typing import Iterable

LOOK_EVERY_S = 1.0  # how often a server looks at its connections
GONE_AFTER_S = 5.0  # without a connection this long, a PC is disconnected


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 1:
        return f"{seconds:.0f} s"
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


class PlcLinks:
    def __init__(self, server: str):
        """`server`: how its lines name it (`Modbus TCP`)."""
        self.server = server
        self._since: dict[str, float] = {}  # connected PC -> when it connected
        self._seen: dict[str, float] = {}  # connected PC -> when it last held a connection
        # The PCs connected, as of the last update: a tuple replaced whole, so the metrics' and the display's
        # threads read it while the server's loop updates
        self.connected: tuple[str, ...] = ()

    def update(self, peers: Iterable[str], now: float) -> list[str]:
        """The PCs holding a connection now; the lines to say (a PC connected, a PC gone)."""
        lines = []
        for peer in sorted(set(peers)):
            if peer not in self._since:
                self._since[peer] = now
                lines.append(f"{self.server}: {peer} connected")
            self._seen[peer] = now
        for peer in sorted(self._since):
            if now - self._seen[peer] >= GONE_AFTER_S:
                lines.append(f"{self.server}: {peer} disconnected (connected for {_duration(now - self._since[peer])})")
                del self._since[peer], self._seen[peer]
        self.connected = tuple(sorted(self._since))
        return lines


__all__ = ["GONE_AFTER_S", "LOOK_EVERY_S", "PlcLinks"]
