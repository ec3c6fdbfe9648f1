"""A photo-eye (any part-present sensor) on a discrete input of the remote I/O module as the run's trigger, for a
line without a PLC (`inspector run --io modbus://HOST:PORT --io-trigger INPUT[:DELAY_MS[:GAP_MS]]`).

    eye = PhotoEye("modbus://10.0.0.20:502", parse_trigger("0:40", "--io-trigger"))
    eye.start()                      # a thread of its own reads the input every POLL_S
    trigger = eye.take_trigger()     # a Trigger for each rising edge not yet taken, oldest first, or None
    eye.wait_for_trigger(0.05)       # woken by an edge
    eye.pending()                    # edges seen and not taken yet
    eye.problem()                    # why the input cannot be read now (parts pass unseen: the source alarm)
    eye.close()

Each rising edge is a part: its Trigger is taken with the edge's time, and a live camera's frame for it is the first
that began DELAY_MS after the edge (the part has moved from the sensor into the camera's view by then). The edge's
time is that of the read that saw it, never earlier, so the frame never began before the part was there; it is at
most POLL_S late. Edges are kept while the run inspects the part before, up to QUEUE_MAX: past that a part is
dropped, said, and keeps the `source` alarm up for a minute, never judged with another part's picture (the camera's
frames are held a quarter second, inspector_line/camera_grabber.py). A sensor whose pulse is shorter than POLL_S
can be missed: set its off-delay (pulse stretch) to 20 ms or more. An input that cannot be read is the `source`
alarm (parts pass unseen) until it can again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Optional

from inference import InspectorError

from .handshake import Trigger
from .remote_io import FLAGS, RETRY_S, TIMEOUT_S, ModuleLink, parse_address

log = logging.getLogger(__name__)

POLL_S = 0.005  # the input is read this often: an edge's time is this late at most
QUEUE_MAX = 16  # edges kept while the run inspects the parts before them
DROPPED_SHOWN_S = 60.0  # a part dropped uninspected keeps the source alarm up this long, so that the line sees it


@dataclass(frozen=True)
class Input:
    number: int  # the discrete input, numbered from 0 as pymodbus and most modules' manuals count them
    delay_s: float = 0.0  # from the edge to the part in the camera's view
    gap_s: float = 0.0  # an edge this soon after the last part's is the same part (holes in it, a bouncing contact)


def parse_trigger(text: str, flag: str) -> Input:
    """`INPUT[:DELAY_MS[:GAP_MS]]` (e.g. 0:40: input 0, the part in view 40 ms after its edge; 0:40:150: and an
    edge within 150 ms of the last part's is the same part)."""
    number, _, rest = str(text).partition(":")
    ms, _, gap = rest.partition(":")
    try:
        value, delay_s, gap_s = int(number), float(ms) / 1000 if ms else 0.0, float(gap) / 1000 if gap else 0.0
    except ValueError:
        value, delay_s, gap_s = -1, 0.0, 0.0
    if not 0 <= value <= 65535 or not 0 <= delay_s <= 10 or not 0 <= gap_s <= 10:
        raise InspectorError(f"{flag} needs INPUT[:DELAY_MS[:GAP_MS]], e.g. 0:40 (input 0, the part in the camera's "
                             f"view 40 ms after the sensor sees it) or 0:40:150 (an edge within 150 ms of the last "
                             f"part's is the same part); each at most 10000 ms, got {text!r}")
    return Input(value, delay_s, gap_s)


class PhotoEye:
    def __init__(self, url: str, trigger: Input, on_message: Optional[Callable[[str], None]] = None,
                 names: dict = FLAGS):
        self.host, self.port, self.unit = parse_address(url, names["io"])
        self.input = trigger
        self.on_message = on_message
        self._edges: deque[float] = deque()  # monotonic times of rising edges not yet taken
        self._edge = threading.Condition()
        self._link = ModuleLink(self.host, self.port, self.unit, self._say)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._dropped: Optional[tuple[float, str]] = None  # (when, what) of the last part dropped uninspected

    def describe(self) -> str:
        delay = f", the part in view {1000 * self.input.delay_s:g} ms after" if self.input.delay_s else ""
        if self.input.gap_s:
            delay += f", edges within {1000 * self.input.gap_s:g} ms of a part's are the same part"
        return (f"trigger: photo-eye on input {self.input.number} of the Modbus TCP I/O at {self.host}:{self.port} "
                f"unit {self.unit} (each rising edge a part{delay})")

    def problem(self) -> Optional[str]:
        """What the source alarm says: the input cannot be read, or a part was dropped uninspected (for a minute)."""
        dropped = self._dropped
        if dropped is not None and time.monotonic() - dropped[0] < DROPPED_SHOWN_S:
            return "; ".join(p for p in (self._link.problem, dropped[1]) if p)
        return self._link.problem

    # -- the run's side --------------------------------------------------------------------------------------
    def take_trigger(self) -> Optional[Trigger]:
        with self._edge:
            if not self._edges:
                return None
            seen = self._edges.popleft()
        return Trigger(None, 0, taken=seen, frame_after=seen + self.input.delay_s, origin="the photo-eye")

    def pending(self) -> int:
        """Edges seen and not taken yet."""
        with self._edge:
            return len(self._edges)

    def wait_for_trigger(self, timeout: float) -> None:
        with self._edge:
            self._edge.wait_for(lambda: bool(self._edges), timeout=timeout)

    # -- the thread that reads -------------------------------------------------------------------------------
    def start(self) -> None:
        self._link.open()
        self._thread = threading.Thread(target=self._work, name="photo-eye", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5 + 2 * TIMEOUT_S)
            self._thread = None
        self._link.close()

    def _work(self) -> None:
        level: Optional[bool] = None  # unknown until read: an input already on at the start is no edge
        last_part = -float("inf")
        while not self._stop.is_set():
            on = self._read()
            if on is None:
                level = None  # after a gap nothing says whether an edge was missed; the alarm said it
                self._stop.wait(RETRY_S)
                continue
            now = time.monotonic()  # the read's time: the gap is measured and the edge stamped at one instant
            if on and level is False and now - last_part >= self.input.gap_s:
                last_part = now
                self._edge_seen(now)
            level = on
            self._stop.wait(POLL_S)

    def _edge_seen(self, when: float) -> None:
        with self._edge:
            if len(self._edges) >= QUEUE_MAX:
                dropped = self._edges.popleft()
                self._dropped = (time.monotonic(), f"a part seen by the photo-eye was dropped uninspected "
                                                   f"({time.strftime('%H:%M:%S')}): no verdict, no reject")
                self._say(f"WARNING: a part seen by the photo-eye {time.monotonic() - dropped:.1f} s ago was dropped "
                          f"uninspected: {QUEUE_MAX} parts were waiting (the line is faster than the station)")
            self._edges.append(when)
            self._edge.notify_all()

    def _read(self) -> Optional[bool]:
        """The input's level; None (and the problem said once) when the module does not answer."""
        where = f"the photo-eye's input {self.input.number} on the remote I/O module at {self.host}:{self.port}"
        answer = self._link.request(
            lambda client, unit: client.read_discrete_inputs(self.input.number, count=1, device_id=unit),
            lambda error: f"{where} cannot be read ({error}): parts pass unseen", f"{where} can be read again")
        return None if answer is None else bool(answer.bits[0])

    def _say(self, text: str) -> None:
        if self.on_message is not None:
            self.on_message(text)
        else:
            log.warning("%s", text)


__all__ = ["Input", "PhotoEye", "POLL_S", "QUEUE_MAX", "parse_trigger"]
