"""The PLC handshake's state machine, once: the Modbus TCP and OPC UA servers are thin adapters over it
(station/line_io/modbus.py, opcua.py; docs/plc.md). Both may serve the same Handshake at once: a PLC sees the
same Trigger, result and Sequence over either protocol.

    hs = Handshake()
    hs.plc_write(part_id="SN-1", recipe=0); hs.plc_write(trigger=True)   # the PLC (through an adapter)
    trigger = hs.take_trigger()       # the station: Trigger(part_id, recipe) and Busy set, or None
    hs.publish_result(outcome)        # Verdict, Score, Sequence + 1, Busy off, ResultReady on
    hs.plc_write(ack=True)            # the PLC took it: ResultReady, Trigger and Ack cleared at once
    hs.subscribe(fn)                  # fn(HandshakeState) after every change (an adapter that pushes values)

A Trigger is taken when Trigger is set, Busy is off and ResultReady is off (the last result was acknowledged).
The PLC may write only Trigger, Ack, Recipe and PartId; anything else is refused (PlcWriteRefused).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Optional, Sequence

from ..outcome import ErrorCode
from .alarms import alarm_bits
from .plc_links import LOOK_EVERY_S, PlcLinks

log = logging.getLogger(__name__)

PLC_WRITABLE = ("trigger", "ack", "recipe", "part_id")
PART_ID_MAX = 40  # characters (Modbus: 20 registers of 2)
REASON_MAX = 500  # characters of a result's reason the PLC's HMI gets (a reason listing many zones is longer)


@dataclass
class Trigger:
    """What the PLC asked for when it set Trigger (or a photo-eye's edge, station/line_io/photo_eye.py)."""

    part_id: Optional[str]
    recipe: int
    taken: float = field(default_factory=time.monotonic)  # when the station took it (metrics: trigger to result)
    # A live camera's frame for this part began after this (time.monotonic()); None: `taken`. A photo-eye's part
    # comes into the camera's view its delay after the edge.
    frame_after: Optional[float] = None
    origin: str = "the PLC"  # who triggered, as messages name it


@dataclass(frozen=True)
class HandshakeState:
    trigger: bool = False
    busy: bool = False
    result_ready: bool = False
    ack: bool = False
    alarm: bool = False
    alarm_text: str = ""
    alarm_bits: int = 0  # which alarms, for a PLC that reads no text: bit i is alarms.ALARM_NAMES[i]
    verdict: int = 0  # inference.Verdict.code: 1 OK, 2 NG, 3 NOT_FOUND, 4 NO_VERDICT, 5 ERROR; 0 none yet
    score: float = math.nan  # NaN when not scored
    sequence: int = 0  # +1 per result (the Modbus register shows it modulo 65536)
    model_version: int = 0  # the active version's number (v7 -> 7)
    recipe: int = 0
    part_id: str = ""
    ready: bool = False  # the station's run is inspecting (set as it starts, cleared as it stops)
    heartbeat: int = 0  # +1 a second by the run's own loop: a PLC that sees it stand still knows the station hung
    # The result's defects, for a PLC that sorts or reworks by them: the regions that count (the calibrated area
    # limit, a zone's or the length limit), and the largest one's area (mm^2 where the project knows its pixel
    # size, else px: the unit of --min-area), centre (image px), inspection zone (1.. the calibration's zones,
    # 0 outside them or without zones) and length (mm, else px). 0 / NaN for a part without one (OK, ERROR,
    # NOT_FOUND).
    defects: int = 0
    defect_area: float = math.nan
    defect_x: float = math.nan
    defect_y: float = math.nan
    defect_zone: int = 0
    defect_length: float = math.nan
    # A master part's check (station.masters): 0 a production part, 1 the master got its expected verdict, 2 it
    # did not (the station missed what it must catch: the master_failed alarm is up).
    master_check: int = 0
    # Why an ERROR is one (station.ErrorCode: 1 image invalid, 2 image check, 3 no image, 4 repeated image, 5 part
    # mismatch, 6 unknown recipe, 7 model unusable, 9 other); 0 for any other verdict.
    error_code: int = 0
    # The result in words, for an HMI that shows text (OPC UA only: Modbus has no strings): the reason as the
    # history row keeps it (REASON_MAX characters kept), and an ERROR's cause by name (`no_image`; "" for any
    # other verdict), the names `inspector history --cause` and the metrics use.
    reason: str = ""
    cause: str = ""


class PlcWriteRefused(ValueError):
    """The PLC wrote something it may not (a station-owned value, or a value of the wrong kind)."""


def clean_part_id(text: str) -> str:
    """ASCII, printable, at most PART_ID_MAX characters: what the history records for the PLC's part id."""
    return "".join(c for c in str(text) if c.isascii() and c.isprintable()).strip()[:PART_ID_MAX]


class Handshake:
    def __init__(self):
        self._state = HandshakeState()
        self._lock = threading.Lock()
        self._notify = threading.Lock()
        self._listeners: list[Callable[[HandshakeState], None]] = []
        self._plc_wrote = threading.Event()

    @property
    def state(self) -> HandshakeState:
        with self._lock:
            return self._state

    def subscribe(self, listener: Callable[[HandshakeState], None]) -> None:
        self._listeners.append(listener)

    def _change(self, **values) -> HandshakeState:
        with self._lock:
            self._state = replace(self._state, **values)
            return self._state

    def _changed(self) -> None:
        # One notification at a time, each with the state as it is then: the last one always carries the newest.
        with self._notify:
            state = self.state
            for listener in self._listeners:
                listener(state)

    # -- the station's side -----------------------------------------------------------------------------------
    def take_trigger(self) -> Optional[Trigger]:
        """A pending Trigger (Busy is set at once), or None: Trigger off, or the last result not acknowledged."""
        with self._lock:
            s = self._state
            if not s.trigger or s.busy or s.result_ready:
                return None
            self._state = replace(s, busy=True)
            trigger = Trigger(s.part_id or None, s.recipe)
        self._changed()
        return trigger

    def publish_result(self, outcome) -> None:
        """The result of the part in flight (or of any part, free-running): registers first, then ResultReady."""
        score = math.nan if outcome.score is None else float(outcome.score)
        defects = [r for r in getattr(outcome, "regions", ()) if r.counts]
        largest = outcome.largest_defect
        master = getattr(outcome, "master_passed", None)
        error_code = int(getattr(outcome, "error_code", 0))
        code = ErrorCode.known(error_code)
        reason = str(getattr(outcome, "reason", "") or "")
        with self._lock:
            s = self._state
            self._state = replace(s, verdict=outcome.verdict.code, score=score, sequence=s.sequence + 1, busy=False,
                                  result_ready=True, defects=len(defects),
                                  defect_area=math.nan if largest is None else float(largest.area),
                                  defect_x=math.nan if largest is None else float(largest.centroid[0]),
                                  defect_y=math.nan if largest is None else float(largest.centroid[1]),
                                  defect_zone=0 if largest is None else largest.zone_index or 0,
                                  defect_length=math.nan if largest is None else float(largest.length),
                                  master_check=0 if master is None else 1 if master else 2,
                                  error_code=error_code, cause=code.cause if code else "",
                                  reason=reason if len(reason) <= REASON_MAX else reason[:REASON_MAX - 3] + "...")
        self._changed()

    def wait_for_trigger(self, timeout: float) -> None:
        """Wait up to `timeout` s for the PLC to write something (call take_trigger after: nothing is missed)."""
        self._plc_wrote.wait(timeout)
        self._plc_wrote.clear()

    def set_alarm(self, on: bool, text: str = "", names: Sequence[str] = ()) -> None:
        """The alarm state: any alarm on, its text, and which (`names`, the AlarmBits a PLC's HMI can show)."""
        self._change(alarm=bool(on), alarm_text=text if on else "", alarm_bits=alarm_bits(names) if on else 0)
        self._changed()

    def set_model_version(self, version: Optional[str]) -> None:
        number = int(version[1:]) if version and version[1:].isdigit() else 0
        self._change(model_version=number)
        self._changed()

    def set_ready(self, on: bool) -> None:
        self._change(ready=bool(on))
        self._changed()

    def beat(self) -> None:
        with self._lock:
            self._state = replace(self._state, heartbeat=self._state.heartbeat + 1)
        self._changed()

    # -- the PLC's side (the adapters) ------------------------------------------------------------------------
    def plc_write(self, **values) -> HandshakeState:
        """Values the PLC wrote (trigger, ack: bool; recipe: int; part_id: str). Ack clears ResultReady, Trigger
        and Ack together: the station is ready for the next part."""
        for name, value in values.items():
            if name not in PLC_WRITABLE:
                raise PlcWriteRefused(f"the PLC may write only {', '.join(PLC_WRITABLE)}, not {name}")
        if "recipe" in values and (isinstance(values["recipe"], bool) or not isinstance(values["recipe"], int)):
            raise PlcWriteRefused(f"Recipe is an integer, got {values['recipe']!r}")
        values = {k: (bool(v) if k in ("trigger", "ack") else clean_part_id(v) if k == "part_id" else v)
                  for k, v in values.items()}
        with self._lock:
            s = replace(self._state, **values)
            if s.ack:  # result taken: ready for the next part
                s = replace(s, ack=False, result_ready=False, trigger=False)
            self._state = s
        self._plc_wrote.set()
        self._changed()
        return s


class HandshakeAdapter:
    """What a protocol server (Modbus, OPC UA) offers the station: its Handshake's side, delegated once here, and
    its stop. A subclass sets self.handshake, maps the state onto its protocol and serves it on an asyncio loop
    (self._loop) in a thread of its own (self._thread)."""

    handshake: Handshake
    _loop: Optional[asyncio.AbstractEventLoop] = None
    _thread: Optional[threading.Thread] = None
    # Where its warnings go (a PLC's write refused, a PC refused: the run's messages, the Run view's lines); the log
    # while nobody set it.
    on_message: Optional[Callable[[str], None]] = None

    # The PCs connected to it (station/line_io/plc_links.py), said as they come and go, and the task on the
    # server's loop that looks at them (_watch_links).
    links: Optional[PlcLinks] = None
    _links_task: Optional[asyncio.Task] = None

    def _say(self, text: str) -> None:
        if self.on_message is not None:
            self.on_message(text)
        else:
            log.warning("%s", text)

    def _peers(self) -> list[str]:
        """The addresses holding a connection now (a subclass asks its protocol's server)."""
        return []

    async def _watch_links(self, title: str) -> None:
        """Runs on the server's loop: the PCs connected, looked at every LOOK_EVERY_S, each change said."""
        self.links = PlcLinks(title)
        while True:
            try:
                peers = self._peers()
            except Exception:  # a connection closing while looked at: look again next time
                peers = list(self.links.connected)
            for line in self.links.update(peers, time.monotonic()):
                self._say(line)
            await asyncio.sleep(LOOK_EVERY_S)

    def _stop_watching_links(self) -> None:
        """On the server's loop, once it stopped: the watch ends with it (no task left pending)."""
        task = self._links_task
        if task is not None and not task.done():
            task.cancel()
            try:
                task.get_loop().run_until_complete(task)
            except (asyncio.CancelledError, Exception):
                pass

    @property
    def connected(self) -> tuple[str, ...]:
        """The PCs connected now (as last looked): the PLC's address while it is there."""
        return self.links.connected if self.links is not None else ()

    def close(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def take_trigger(self) -> Optional[Trigger]:
        return self.handshake.take_trigger()

    def wait_for_trigger(self, timeout: float) -> None:
        self.handshake.wait_for_trigger(timeout)

    def publish_result(self, outcome) -> None:
        self.handshake.publish_result(outcome)

    def set_alarm(self, on: bool, text: str = "", names: Sequence[str] = ()) -> None:
        self.handshake.set_alarm(on, text, names)

    def set_model_version(self, version: Optional[str]) -> None:
        self.handshake.set_model_version(version)

    def set_ready(self, on: bool) -> None:
        self.handshake.set_ready(on)

    def beat(self) -> None:
        self.handshake.beat()


__all__ = ["Handshake", "HandshakeAdapter", "HandshakeState", "PLC_WRITABLE", "PART_ID_MAX", "PlcWriteRefused",
           "REASON_MAX", "Trigger", "clean_part_id"]
