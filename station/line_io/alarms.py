"""Line alarms: conditions a line lead must see at once, raised when they start and cleared when they end.

    alarms = Alarms(AlarmLimits(ng_streak=5, yield_window=50, yield_min=0.5), reference=cal.ok_scores,
                    threshold=cal.threshold)
    for change in alarms.update(verdict, score):   # after every part
        print(change.message)                      # "ALARM ng_streak: 5 NG in a row" / "alarm cleared: ..."
    alarms.active -> {name: message}; alarms.text -> one line ("" when none)

Conditions (each off when its limit is 0 / None):
- ng_streak: N NG in a row (default 5); cleared by the next part that is not NG;
- not_found_streak / error_streak: N NOT_FOUND (part not located) / ERROR parts in a row (default 3 each);
- yield: OK / judged over the last `yield_window` judged parts below `yield_min` (judged once the window is
  full); cleared when it is back at or above the limit;
- drift: the median of ALL recent scores (OK and NG alike, the last `drift_window` scored parts) has moved
  `drift_warn_at` of the way from the calibration's OK median to the threshold: a whole batch going NG (a
  darker light) raises it, where the OK-only drift view (station.drift) sees nothing;
- disk: a disk the line writes to (its history, its archive) is below the free space it keeps
  (station.line_io.disk_space), cleared once there is room again;
- source: no part can arrive (the watched folder is gone, the camera stopped delivering frames), cleared when
  it is back. These two are checked whether or not parts arrive (`condition`, the publisher's `tick`);
- master_failed: a master part did not get the verdict it must (station.masters), until it passes again;
  master_due: a master part was not passed within its interval. Master parts are no production parts: they
  count in none of the conditions above;
- backup_due: the backup folder holds no backup of the project younger than its interval, or cannot be read
  (station.backup_watch), until a recent backup is there;
- io: the outputs the station drives itself (a reject gate on a remote I/O module, station.line_io.remote_io)
  cannot be written: parts are not rejected, until the module takes writes again.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Optional, Sequence

from inference import Verdict

from ..drift import drift_of
from .disk_space import DEFAULT_MIN_FREE, MinFree


ALARM_NAMES = ("ng_streak", "not_found_streak", "error_streak", "yield", "drift", "disk", "source", "master_failed",
               "master_due", "backup_due", "io")
CLEARED = {"disk": "the disks have room again", "source": "parts can arrive again",
           "master_failed": "the master parts that failed passed again",
           "master_due": "every master part passed within its interval",
           "backup_due": "a recent backup is in the backup folder",
           "io": "the remote I/O module takes writes again"}


RAISED = "ALARM {name}: "  # how an active alarm's message starts; its details follow


def alarm_details(name: str, message: str) -> str:
    """An active alarm's message without its "ALARM name: " (for a screen that names the alarm in its language)."""
    prefix = RAISED.format(name=name)
    return message[len(prefix):] if message.startswith(prefix) else message


def alarm_bits(names) -> int:
    """The active alarms as a PLC reads them without text (Modbus register 35, OPC UA AlarmBits): bit i set while
    ALARM_NAMES[i] is active (bit 0 ng_streak ... bit 8 master_due, bit 9 backup_due, bit 10 io)."""
    return sum(1 << ALARM_NAMES.index(name) for name in set(names) if name in ALARM_NAMES)


@dataclass
class AlarmLimits:
    ng_streak: int = 5
    not_found_streak: int = 3
    error_streak: int = 3
    yield_window: int = 50
    yield_min: Optional[float] = 0.5  # fraction 0..1
    drift_window: int = 50
    drift_warn_at: Optional[float] = 0.5
    drift_min_count: int = 20
    # The free space kept on the disks the line writes to (MinFree or its text, "5%", "20GB"): the disk alarm
    # below it; the archive's keeper (inspector_line/archive_keeper.py) removes old images before it comes to that.
    min_free: object = DEFAULT_MIN_FREE

    @classmethod
    def as_set(cls, ng_streak: int, streak: int, yield_pct: float, yield_window: int, drift: float,
               min_free: object = DEFAULT_MIN_FREE, what: str = "--min-free") -> "AlarmLimits":
        """The limits as a line engineer sets them (`inspector run`'s --alarm-* flags, the Run view's Alarms…): 0
        turns one off, the yield is in percent, one streak counts NOT_FOUND and ERROR parts; `what` names the free
        space setting in the message of a text that is no space."""
        return cls(ng_streak=ng_streak, not_found_streak=streak, error_streak=streak, yield_window=yield_window,
                   yield_min=yield_pct / 100 if yield_pct else None, drift_warn_at=drift or None,
                   min_free=MinFree.parse(min_free, what))

    def as_set_values(self) -> dict:
        """as_set's arguments for these limits (what the Run view's Alarms… dialog shows)."""
        return {"ng_streak": self.ng_streak, "streak": self.error_streak,
                "yield_pct": 100 * self.yield_min if self.yield_min else 0.0, "yield_window": self.yield_window,
                "drift": self.drift_warn_at or 0.0, "min_free": str(MinFree.parse(self.min_free))}


@dataclass
class AlarmChange:
    name: str
    raised: bool  # False: cleared
    message: str


class Alarms:
    """The line's alarm state, updated part by part. Not thread-safe: one caller (the runner) updates it."""

    def __init__(self, limits: Optional[AlarmLimits] = None, reference: Sequence[float] = (),
                 threshold: Optional[float] = None):
        self.limits = limits or AlarmLimits()
        self.active: dict[str, str] = {}
        # An active alarm's figures, for a screen that words them in its own language (the line display): the
        # streaks' count (and the last part's reason), the yield, its window and limit, the drift's share of the
        # way to the threshold. The alarms of the line's surroundings (disk, source, ...) have none: their text only.
        self.figures: dict[str, dict] = {}
        self.raised_total = 0
        self._streaks = {Verdict.NG: 0, Verdict.NOT_FOUND: 0, Verdict.ERROR: 0}
        self._judged: deque = deque(maxlen=max(1, self.limits.yield_window))
        self._scores: deque = deque(maxlen=max(1, self.limits.drift_window))
        self.set_reference(reference, threshold)

    def set_reference(self, reference: Sequence[float], threshold: Optional[float]) -> None:
        """The calibration the drift alarm compares with (the active model's; call again after a switch)."""
        self._reference = list(reference or ())
        self._threshold = threshold

    @property
    def text(self) -> str:
        return "; ".join(self.active.values())

    def update(self, verdict, score: Optional[float], reason: str = "", cause: int = 0) -> list[AlarmChange]:
        """The alarms after one part; `reason`, its outcome's, ends a NOT_FOUND or ERROR streak's text, so the
        alarm says what to look at (the light off, a part not in place); `cause`, an ERROR's ErrorCode, goes with
        the error streak's figures (a display words the cause in its language)."""
        v = Verdict.parse(verdict)
        lim = self.limits
        changes: list[AlarmChange] = []
        for kind in self._streaks:
            self._streaks[kind] = self._streaks[kind] + 1 if v is kind else 0
        for name, kind, limit, what in (("ng_streak", Verdict.NG, lim.ng_streak, "NG"),
                                        ("not_found_streak", Verdict.NOT_FOUND, lim.not_found_streak,
                                         "NOT_FOUND (part not located)"),
                                        ("error_streak", Verdict.ERROR, lim.error_streak, "ERROR")):
            if limit:
                n = self._streaks[kind]
                last = f" (the last: {reason})" if reason and kind is not Verdict.NG and v is kind else ""
                self._set(changes, name, n >= limit, f"{n} {what} in a row{last}", f"{what} streak ended",
                          {"n": n, "reason": reason if last else ""} | (
                              {"cause": int(cause) if last else 0} if kind is Verdict.ERROR else {}))
        if v.judged:
            self._judged.append(v is Verdict.OK)
        if lim.yield_min is not None and lim.yield_window and len(self._judged) == self._judged.maxlen:
            y = sum(self._judged) / len(self._judged)
            self._set(changes, "yield", y < lim.yield_min,
                      f"yield {100 * y:.1f}% over the last {len(self._judged)} parts, below {100 * lim.yield_min:.0f}%",
                      f"yield {100 * y:.1f}% over the last {len(self._judged)} parts",
                      {"yield": f"{100 * y:.1f}", "n": len(self._judged), "limit": f"{100 * lim.yield_min:.0f}"})
        if score is not None and v in (Verdict.OK, Verdict.NG):
            self._scores.append(float(score))
        if lim.drift_warn_at is not None and self._reference and self._threshold is not None and self._scores:
            d = drift_of(self._scores, self._reference, self._threshold, warn_at=lim.drift_warn_at,
                         min_count=lim.drift_min_count)
            if d.shift is not None:
                self._set(changes, "drift", d.warning,
                          f"score drift: the median of the last {d.n_recent} scores (OK and NG) moved "
                          f"{100 * d.shift:.0f}% of the way from the calibration's OK median to the threshold",
                          f"scores back within {100 * d.shift:.0f}% of the way to the threshold",
                          {"n": d.n_recent, "share": f"{100 * d.shift:.0f}"})
        return changes

    def condition(self, name: str, problem: Optional[str]) -> list[AlarmChange]:
        """An alarm of the line's surroundings, checked whether or not parts arrive: `disk` (the disks' trouble
        now, DiskWatch.problem), `source` (why no part can arrive now), `master_failed` / `master_due`
        (station.masters.MasterWatch), `backup_due` (station.backup_watch); `problem` None when all is well."""
        changes: list[AlarmChange] = []
        self._set(changes, name, problem is not None, problem or "", CLEARED[name])
        return changes

    def _set(self, changes: list, name: str, on: bool, raised_text: str, cleared_text: str,
             figures: Optional[dict] = None) -> None:
        if on:
            message = RAISED.format(name=name) + raised_text
            if name not in self.active:
                self.raised_total += 1
                changes.append(AlarmChange(name, True, message))
            self.active[name] = message
            if figures is not None:
                self.figures[name] = figures
        elif name in self.active:
            del self.active[name]
            self.figures.pop(name, None)
            changes.append(AlarmChange(name, False, f"alarm cleared {name}: {cleared_text}"))


__all__ = ["ALARM_NAMES", "AlarmChange", "AlarmLimits", "Alarms", "alarm_bits", "alarm_details"]
