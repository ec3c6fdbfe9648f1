"""What a PLC server refused: connections from PCs not in `--modbus-allow`, OPC UA sessions without a valid user.
Each is counted (the metrics' `inspector_plc_refused_total{protocol}`) and said where the server's messages go (the
run's messages, the Run view's Messages tab; the log while nobody listens), once a minute per who and why with how
many since the last line: a scanner's hundreds of attempts, or a PLC retrying a wrong password every second, do not
flood the messages, and an integrator commissioning the line still reads at once why the PLC gets no answer. Past
64 different PCs or users in a minute (a scan of the network, user names made up) the rest share one line."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Optional

log = logging.getLogger("station.line_io")

LOG_EVERY_S = 60.0  # one line per who and why in this time, with the count since the last one
MAX_KEYS = 64  # whos and whys followed one by one; past them (a scan of addresses, user names made up), one line


class Refusals:
    def __init__(self, server: str, clock: Callable[[], float] = time.monotonic):
        """`server`: how its lines name it (`Modbus TCP`)."""
        self.server = server
        self.total = 0  # refused since the start (the metrics read it at every scrape)
        self.on_message: Optional[Callable[[str], None]] = None  # where the lines go (the server's); else the log
        self._lock = threading.Lock()
        self._clock = clock
        self._unsaid: dict[str, int] = {}  # key -> refused since its last line
        self._said_at: dict[str, float] = {}

    def _others(self, count: int) -> str:
        return (f"{self.server}: {count} more refused, from more than {MAX_KEYS} different PCs or users in a "
                "minute (a scan of the network?)")

    def refuse(self, key: str, line: Callable[[int], str]) -> None:
        """Count one refusal of `key` (who, and why); say `line(count)` unless a line for that key went out less
        than LOG_EVERY_S ago (its count then goes with the next). Past MAX_KEYS keys in that time, the others are
        counted and said together: neither the lines nor the memory grow with a scan."""
        with self._lock:
            self.total += 1
            now = self._clock()
            if key not in self._said_at and len(self._said_at) >= MAX_KEYS:
                for old in [k for k, t in self._said_at.items() if now - t >= LOG_EVERY_S and not self._unsaid[k]]:
                    del self._said_at[old], self._unsaid[old]
                if len(self._said_at) >= MAX_KEYS:
                    key, line = "\0others", self._others
            self._unsaid[key] = self._unsaid.get(key, 0) + 1
            if now - self._said_at.get(key, -LOG_EVERY_S) < LOG_EVERY_S:
                return
            count, self._unsaid[key], self._said_at[key] = self._unsaid[key], 0, now
        text = line(count)
        if self.on_message is not None:
            self.on_message(text)
        else:
            log.warning("%s", text)


def times(count: int, noun: str) -> str:
    """`1 connection`, `3 connections`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


__all__ = ["LOG_EVERY_S", "MAX_KEYS", "Refusals", "times"]
