"""The history per hour, day or shift: what a line lead reads at the end of a shift, and what an MES pulls for its
reports (`inspector history PROJECT --by shift`, `GET /projects/NAME/history/periods`).

    for p in periods(history, by="shift", shifts=(6, 14, 22), since="today"):
        p.label, p.counts.summary(), p.masters_passed, p.masters_failed

Each period counts its production parts (OK, NG, NOT_FOUND, NO_VERDICT, ERROR and the one yield, as every count
of the history) and, apart, its master parts' checks (station/masters.py). Periods are in local time; a period
without a part is left out. A shift runs from its start to the next one: with shifts 6, 14 and 22, the parts of
01:00 belong to the shift that started at 22:00 the day before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Sequence

from inference import VerdictCounts

from .history_filters import HistoryError

PERIODS = ("hour", "day", "shift")
DEFAULT_SHIFTS = (6, 14, 22)  # the hours three 8-hour shifts start at


@dataclass
class Period:
    by: str  # hour, day or shift ("total": the periods together, total())
    start: datetime  # local time
    counts: VerdictCounts = field(default_factory=VerdictCounts)  # production parts
    masters_passed: int = 0
    masters_failed: int = 0

    @property
    def label(self) -> str:
        if self.by == "total":
            return "total"
        return self.start.strftime("%Y-%m-%d" if self.by == "day" else "%Y-%m-%d %H:%M")

    @property
    def masters_text(self) -> str:
        """The master parts' checks, as a report's column shows them: "1 passed, 0 failed"; "" without any."""
        if not self.masters_passed + self.masters_failed:
            return ""
        return f"{self.masters_passed} passed, {self.masters_failed} failed"

    def to_dict(self) -> dict:
        return {"label": self.label, "start": self.start.astimezone().isoformat(timespec="seconds"),
                "counts": self.counts.to_dict(), "masters": {"passed": self.masters_passed,
                                                             "failed": self.masters_failed}}


def parse_shifts(text: str, what: str = "shifts") -> tuple[int, ...]:
    """The hours shifts start at, as a line engineer writes them: "6,14,22" (`what` names the input in the error)."""
    try:
        hours = sorted({int(h) for h in str(text).split(",") if h.strip()})
    except ValueError:
        hours = []
    if not hours or not all(0 <= h <= 23 for h in hours):
        raise HistoryError(f"{what}: the hours shifts start at, 0-23, e.g. 6,14,22; got {text!r}")
    return tuple(hours)


def period_start(hour: datetime, by: str, shifts: Sequence[int] = DEFAULT_SHIFTS) -> datetime:
    """The start of the period (local time) that the hour starting at `hour` belongs to."""
    if by == "hour":
        return hour
    day = hour.replace(hour=0)
    if by == "day":
        return day
    started = [h for h in shifts if h <= hour.hour]
    if started:
        return day + timedelta(hours=started[-1])
    return day - timedelta(days=1) + timedelta(hours=max(shifts))  # the night shift that began the day before


def periods(history, by: str = "hour", since=None, until=None, shifts: Sequence[int] = DEFAULT_SHIFTS,
            **filters) -> list[Period]:
    """The rows matching the history's filters (since, until, verdict, purpose, part_id, ...) per period, oldest
    first."""
    if by not in PERIODS:
        raise HistoryError(f"by: one of {', '.join(PERIODS)}, got {by!r}")
    out: dict[datetime, Period] = {}
    for hour, verdict, master, passed, n in history.hourly_counts(since, until, **filters):
        start = period_start(datetime.strptime(hour, "%Y-%m-%d %H"), by, shifts)
        period = out.setdefault(start, Period(by, start))
        if not master:
            period.counts.add(verdict, n)
        elif passed:
            period.masters_passed += n
        else:
            period.masters_failed += n
    return [out[start] for start in sorted(out)]


def total(of: Sequence[Period]) -> Period:
    """The periods together: the counts and master checks of them all."""
    whole = Period("total", of[0].start if of else datetime.now())
    for p in of:
        for name in VerdictCounts.__slots__:  # ok, ng, not_found, no_verdict, error
            setattr(whole.counts, name, getattr(whole.counts, name) + getattr(p.counts, name))
        whole.masters_passed += p.masters_passed
        whole.masters_failed += p.masters_failed
    return whole


__all__ = ["DEFAULT_SHIFTS", "PERIODS", "Period", "parse_shifts", "period_start", "periods", "total"]
