"""What a PLC server refused: connections from PCs not in `--modbus-allow`, OPC UA sessions without a valid user.
Each is counted (the metrics' `inspector_plc_refused_total{protocol}`) and said where the server's messages go (the
run's messages, the Run view's Messages tab; the log while nobody listens), once a minute per who and why with how
many since the last line: a scanner's hundreds of attempts, or a PLC retrying a wrong password every second, do not
flood the messages, and an integrator commissioning the line still reads at once why the PLC gets no answer."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Optional

log = logging.getLogger("station.line_io")

LOG_EVERY_S = 60.0  # one line per who and why in this time, with the count since the last one


class Refusals:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.total = 0  # refused since the start (the metrics read it at every scrape)
        self.on_message: Optional[Callable[[str], None]] = None  # where the lines go (the server's); else the log
        self._lock = threading.Lock()
        self._clock = clock
        self._unsaid: dict[str, int] = {}  # key -> refused since its last line
        self._said_at: dict[str, float] = {}

    def refuse(self, key: str, line: Callable[[int], str]) -> None:
        """Count one refusal of `key` (who, and why); say `line(count)` unless a line for that key went out less
        than LOG_EVERY_S ago (its count then goes with the next)."""
        with self._lock:
            self.total += 1
            self._unsaid[key] = self._unsaid.get(key, 0) + 1
            now = self._clock()
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


__all__ = ["LOG_EVERY_S", "Refusals", "times"]
