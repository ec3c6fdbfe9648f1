"""Outputs the station drives itself on a remote I/O module (Modbus TCP coils), for a line without a PLC: a
reject gate or pusher, a good-part signal, a tower light (`inspector run --io modbus://HOST:PORT ...`).

    io = RemoteIO("modbus://10.0.0.20:502", reject=Output(0, 0.2), ok=Output(1, 0.1), alarm=Output(2),
                  ready=Output(3), on_message=print)
    io.start()                         # a thread of its own connects and writes; the run never waits for it
    io.publish_result(outcome, latency)  # each part: a pulse on `reject` for every part that is not OK, on `ok` else
    io.set_alarm(active, text, names)  # `alarm` on while any alarm is
    io.set_ready(True)                 # `ready` on while the run inspects
    io.problem()                       # why the outputs cannot be written now (the `io` alarm), else None
    io.close()                         # every output off

The reject output is pulsed for every part that is not OK: NG, NOT_FOUND, ERROR and NO_VERDICT alike, so that a
part never passes the gate without a verdict. A pulse is written at once (within LATE_S of its part's result) or
not at all: a reject written late would push the part behind. A pulse given a time (`Output.at_s`, `COIL:MS@AT_MS`)
starts that long after its part's trigger (or its image complete, free-running) whenever the result came, as a
gate downstream of the camera needs: the part is in front of it then, whatever the inspection took; one whose
result came later than that, or that cannot start within half its length of it, is not written. So a write that
fails or would come late is said at once, naming the part that was NOT REJECTED, and keeps the `io` alarm up for a
minute; a module that does not take writes is the `io` alarm until it does again (then the held outputs, ready and
alarm, are written again). Two pulses on one coil that overlap make one longer pulse. Coils are numbered from 0
(Modbus addresses, as pymodbus and most modules' manuals count them); `/UNIT` after the port selects the device id
(default 1).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional
from urllib.parse import urlparse

from inference import InspectorError, Verdict

log = logging.getLogger(__name__)

DEFAULT_PULSE_S = 0.2
RETRY_S = 1.0  # a module that does not answer is asked again this often
LATE_S = 0.5  # a reject pulse this far behind its part is not written: it would push the part behind
MISSED_SHOWN_S = 60.0  # a part not rejected keeps the io alarm up this long, so that the line sees it
TIMEOUT_S = 1.0  # one write's wait for the module


@dataclass(frozen=True)
class Output:
    coil: int
    pulse_s: Optional[float] = None  # a pulse this long; None: held on or off (ready, alarm)
    at_s: Optional[float] = None  # the pulse starts this long after its part's trigger; None: at its result


def parse_output(text: str, flag: str, pulse: bool) -> Output:
    """`COIL` or, for a pulsed output, `COIL[:MS][@AT_MS]` (e.g. 0:200, or 0:200@800: 800 ms after the part's
    trigger), as a line engineer writes them."""
    head, _, at = str(text).partition("@")
    coil, _, ms = head.partition(":")
    try:
        number = int(coil)
        pulse_s = (float(ms) / 1000 if ms else DEFAULT_PULSE_S) if pulse else None
        at_s = float(at) / 1000 if at else None
    except ValueError:
        number, pulse_s, at_s = -1, None, None
    if not 0 <= number <= 65535 or ((ms or at) and not pulse) or (pulse and not 0 < pulse_s <= 60) or \
            (at_s is not None and not 0 <= at_s <= 60):
        form = "COIL[:MS][@AT_MS], e.g. 0:200 (coil 0, a 200 ms pulse) or 0:200@800 (800 ms after the part's " \
               "trigger)" if pulse else "COIL, e.g. 3"
        raise InspectorError(f"{flag} needs {form}, got {text!r}")
    return Output(number, pulse_s, at_s)


# How the messages name each setting: inspector run's flags (the Run view gives its fields' names).
FLAGS = {"io": "--io", "reject": "--io-reject", "ok": "--io-ok", "alarm": "--io-alarm", "ready": "--io-ready",
         "trigger": "--io-trigger"}


def parse_address(url: str, name: str = FLAGS["io"]) -> tuple[str, int, int]:
    """modbus://HOST:PORT[/UNIT] -> (host, port, unit)."""
    parsed = urlparse(url or "")
    unit = parsed.path.strip("/")
    try:
        port = parsed.port or 502
    except ValueError:
        port = -1
    if parsed.scheme != "modbus" or not parsed.hostname or not 0 < port < 65536 or \
            (unit and not (unit.isdigit() and 0 <= int(unit) <= 255)):
        raise InspectorError(f"{name} needs modbus://HOST:PORT[/UNIT] (the remote I/O module), got {url!r}")
    return parsed.hostname, port, int(unit) if unit else 1


class ModuleLink:
    """One connection to the module, used by one thread: each request connects first where it is not connected;
    a request the module does not take is the problem (said once, `lost(error)` gives its words), and the first
    that it takes again clears it (said, `back`)."""

    def __init__(self, host: str, port: int, unit: int, say: Callable[[str], None]):
        self.host, self.port, self.unit = host, port, unit
        self.problem: Optional[str] = None
        self._say = say
        self._client = None

    def open(self) -> None:
        from pymodbus.client import ModbusTcpClient

        quiet_pymodbus_connects()
        self._client = ModbusTcpClient(self.host, port=self.port, timeout=TIMEOUT_S, retries=0)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def request(self, call: Callable, lost: Callable[[str], str], back: str):
        """call(client, unit)'s answer; None when the module did not take it."""
        try:
            if not self._client.connected and not self._client.connect():
                raise ConnectionError("no connection")
            answer = call(self._client, self.unit)
            if answer.isError():
                raise ConnectionError(f"the module answered {answer}")
        except Exception as exc:  # noqa: BLE001 - pymodbus raises its own and the socket's errors alike
            problem = lost(str(exc or type(exc).__name__))
            if self.problem is None:
                self._say(f"WARNING: {problem}")
            self.problem = problem
            self._client.close()
            return None
        if self.problem is not None:
            self._say(back)
            self.problem = None
        return answer


class RemoteIO:
    def __init__(self, url: str, reject: Optional[Output] = None, ok: Optional[Output] = None,
                 alarm: Optional[Output] = None, ready: Optional[Output] = None,
                 on_message: Optional[Callable[[str], None]] = None, names: dict = FLAGS):
        """`names`: how messages name the settings (FLAGS: inspector run's)."""
        self.url = url
        self.host, self.port, self.unit = parse_address(url, names["io"])
        self.reject, self.ok, self.alarm, self.ready = reject, ok, alarm, ready
        used = [o.coil for o in (reject, ok, alarm, ready) if o is not None]
        outputs = f"{names['reject']}, {names['ok']}, {names['alarm']} or {names['ready']}"
        if not used:
            raise InspectorError(f"{names['io']} drives nothing: give {outputs}"
                                 + (f" (or {names['trigger']}: a photo-eye)" if "trigger" in names else ""))
        if len(set(used)) != len(used):
            raise InspectorError(f"{outputs.replace(' or ', ' and ')} need a coil each, got {used}")
        self.on_message = on_message  # the run's messages (the Publisher gives its own when None)
        self._levels: dict[int, bool] = {}  # held outputs as they should be
        self._off_at: dict[int, float] = {}  # pulsed coils on now, and when they go off
        self._due: list = []  # pulses given a time, not started yet: a heap of (start, n, output, part)
        self._order = itertools.count()
        self._jobs: queue.Queue = queue.Queue()
        self._link = ModuleLink(self.host, self.port, self.unit, self._say)
        self._missed: Optional[tuple[float, str]] = None  # (when, what) of the last part not rejected
        self._thread: Optional[threading.Thread] = None

    def describe(self) -> str:
        parts = [f"{name} coil {o.coil}" + (f" ({1000 * o.pulse_s:g} ms)" if o.pulse_s else "")
                 + (f" {1000 * o.at_s:g} ms after the part's trigger" if o.at_s is not None else "")
                 for name, o in (("reject", self.reject), ("ok", self.ok), ("alarm", self.alarm),
                                 ("ready", self.ready)) if o is not None]
        return f"outputs: Modbus TCP I/O at {self.host}:{self.port} unit {self.unit}: {', '.join(parts)}"

    # -- what the publisher hands over (its outputs: each part, the alarm, ready, and what is wrong) ---------------
    def publish_result(self, outcome, latency: Optional[float] = None) -> None:
        """`latency`: seconds from the part's trigger (or its image complete) to now, for a pulse given a time."""
        rejected = outcome.verdict is not Verdict.OK
        output = self.reject if rejected else self.ok
        if output is not None:
            start = time.monotonic()
            if output.at_s is not None and latency is not None:
                start += output.at_s - latency
            self._jobs.put(("pulse", output, (outcome.name if rejected else None, start)))

    def set_alarm(self, active: bool, text: str = "", names=()) -> None:
        if self.alarm is not None:
            self._jobs.put(("level", self.alarm, bool(active)))

    def set_ready(self, ready: bool) -> None:
        if self.ready is not None:
            self._jobs.put(("level", self.ready, bool(ready)))

    def problem(self) -> Optional[str]:
        """What the io alarm says: the module does not take writes, or a part was not rejected (for a minute)."""
        missed = self._missed
        if missed is not None and time.monotonic() - missed[0] < MISSED_SHOWN_S:
            return "; ".join(p for p in (self._link.problem, missed[1]) if p)
        return self._link.problem

    def _say(self, text: str) -> None:
        if self.on_message is not None:
            self.on_message(text)
        else:
            log.warning("%s", text)

    # -- the thread that writes --------------------------------------------------------------------------------
    def start(self) -> None:
        self._link.open()
        self._thread = threading.Thread(target=self._work, name="remote-io", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is None:
            return
        for output in (self.ready, self.alarm):
            if output is not None:
                self._jobs.put(("level", output, False))
        self._jobs.put(("stop", None, None))
        self._thread.join(timeout=5 + 2 * TIMEOUT_S)
        self._link.close()
        self._thread = None

    def _work(self) -> None:
        retry_at = 0.0
        while True:
            now = time.monotonic()
            due = min([*self._off_at.values(), *(job[0] for job in self._due[:1])], default=None)
            wait = RETRY_S if self._link.problem else None
            if due is not None:
                wait = max(0.0, due - now) if wait is None else min(wait, max(0.0, due - now))
            try:
                kind, output, value = self._jobs.get(timeout=wait)
            except queue.Empty:
                kind = None
            now = time.monotonic()
            for coil in [c for c, t in self._off_at.items() if t <= now]:
                self._write(coil, False)  # not taken: _restore writes it off once the module answers
                del self._off_at[coil]
            if kind == "stop":  # the held outputs were set off by the jobs close() queued before this one
                for coil in list(self._off_at):  # a pulse cut short by the stop
                    self._write(coil, False)
                for _, _, output, part in sorted(self._due):  # timed rejects whose part had not reached the gate
                    if part is not None:
                        self._say(f"WARNING: {part} was NOT REJECTED: the run stopped before its part reached the "
                                  f"gate (reject coil {output.coil} at {self.host}:{self.port})")
                return
            if kind == "level":
                self._levels[output.coil] = value
                self._write(output.coil, value)
            elif kind == "pulse":
                heapq.heappush(self._due, (value[1], next(self._order), output, value[0]))
            while self._due and self._due[0][0] <= now:
                start, _, output, part = heapq.heappop(self._due)
                self._pulse(output, (part, start), now)
            if self._link.problem and now >= retry_at:
                retry_at = now + RETRY_S
                self._restore()

    def _restore(self) -> None:
        """The module asked again while it does not answer: each output as it should be now (a held one as set, a
        pulsed one off unless its pulse runs), which also clears the problem once it takes them."""
        for output in (self.reject, self.ok, self.alarm, self.ready):
            if output is not None:
                on = self._levels.get(output.coil, False) if output.pulse_s is None else output.coil in self._off_at
                if not self._write(output.coil, on):
                    return

    def _pulse(self, output: Output, job: tuple, now: float) -> None:
        part, queued = job
        # Written later, it would reject the part behind: a timed pulse must start while its part is at the gate.
        late = now - queued > (max(LATE_S, output.pulse_s) if output.at_s is None else output.pulse_s / 2)
        if not late and (output.coil in self._off_at or self._write(output.coil, True)):
            self._off_at[output.coil] = max(self._off_at.get(output.coil, 0.0), now + output.pulse_s)
        elif part is not None:
            why = f"its pulse would come {1000 * (now - queued):.0f} ms late" if late else \
                f"the output could not be written ({self._link.problem})"
            self._missed = (time.monotonic(), f"{part} was not rejected ({time.strftime('%H:%M:%S')})")
            self._say(f"WARNING: {part} was NOT REJECTED: {why} (reject coil {output.coil} at "
                      f"{self.host}:{self.port})")

    def _write(self, coil: int, value: bool) -> bool:
        """One coil written; False (and the problem said once) when the module does not take it."""
        where = f"the remote I/O module at {self.host}:{self.port}"
        return self._link.request(lambda client, unit: client.write_coil(coil, value, device_id=unit),
                                  lambda error: f"{where} does not take writes ({error}): parts are not rejected",
                                  f"{where} takes writes again") is not None


class _QuietConnects(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(("Connection to", "Repeating...."))


_QUIET = _QuietConnects()


def quiet_pymodbus_connects() -> None:
    """pymodbus logs each failed connect; the io and source alarms say it once. (It logs through the logger
    "pymodbus.logging": a filter on its parent would not see those records.)"""
    for name in ("pymodbus", "pymodbus.logging"):
        pymodbus_log = logging.getLogger(name)
        if _QUIET not in pymodbus_log.filters:
            pymodbus_log.addFilter(_QUIET)


__all__ = ["DEFAULT_PULSE_S", "FLAGS", "Output", "RemoteIO", "parse_address", "parse_output",
           "quiet_pymodbus_connects", "ModuleLink"]
