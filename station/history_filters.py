"""Which history rows a question is about: times as people write them (2026-11-24T08:00, or 8h ago), and the one
WHERE clause that every query, count and report of the history shares (station/history.py,
station/history_periods.py)."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Optional, Union

from inference import InspectorError, Verdict

TimeLike = Union[None, float, int, str, datetime]
NO_VERDICT_NAMES = (Verdict.NO_VERDICT.value, "no verdict", None)  # "no verdict": the name earlier versions used
SPAN_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
LABELS = ("false_reject", "false_accept")  # a reviewer's marks (History.mark)


def local_time(seconds: float) -> str:
    """A stored time (seconds since 1970) as people at the line read it: local time, to the second."""
    return datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")


class HistoryError(InspectorError):
    """The history database cannot be opened, read or written (corrupt, locked, read-only, disk full)."""


def parse_label(text: str) -> Optional[str]:
    """A mark as a person types it (the CLI's --mark, the service's form): a label, or "none" (or nothing) to
    clear; HistoryError for anything else."""
    value = text.strip().lower()
    label = None if value in ("none", "") else value
    check_label(label)
    return label


def check_label(label: Optional[str]) -> None:
    if label is not None and label not in LABELS:
        raise HistoryError(f"label must be one of {', '.join(LABELS)} or none, got {label!r}")


def to_epoch(value: TimeLike) -> Optional[float]:
    """None, seconds since 1970, a datetime (naive = local time) or an ISO 8601 string -> seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise HistoryError(f"not a date/time: {value!r} (use e.g. 2026-11-24 or 2026-11-24T08:00)") from None
    raise HistoryError(f"not a date/time: {value!r}")


def span_seconds(text: str) -> Optional[float]:
    """A span as a person writes it (90s, 30m, 8h, 7d, 2w) in seconds; None when the text is no span."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text or "")
    return float(m.group(1)) * SPAN_UNITS[m.group(2)] if m else None


def parse_time(text: Optional[str], what: str = "time") -> Optional[float]:
    """ISO date/time (local time unless it names a zone), "today", or a span ago (30m, 8h, 7d, 2w) -> seconds since
    1970; None for None. `what` names the input in the one-line error (--since, since)."""
    if text is None:
        return None
    span = span_seconds(text)
    if span is not None:
        return time.time() - span
    if text.strip() == "today":
        return datetime.combine(datetime.now().date(), datetime.min.time()).timestamp()
    try:
        return to_epoch(text)
    except HistoryError:
        raise HistoryError(f"{what}: not a date/time or span: {text!r} (e.g. 2026-11-24T08:00 or 8h)") from None


def time_clauses(since: TimeLike = None, until: TimeLike = None) -> tuple[list[str], list]:
    """The clauses and parameters of a time window [since, until) over a table's `time` column (the history's
    rows, the alarm history's events)."""
    clauses, params = [], []
    if since is not None:
        clauses.append("time >= ?")
        params.append(to_epoch(since))
    if until is not None:
        clauses.append("time < ?")
        params.append(to_epoch(until))
    return clauses, params


def where_clause(since=None, until=None, verdict=None, min_score=None, max_score=None, label=None, model_id=None,
                 purpose=None, model_version=None, part_id=None, error_code=None) -> tuple[str, list]:
    """(" WHERE ..." or "", its parameters) for the rows matching every filter given. `verdict` is one verdict or
    several; NO_VERDICT selects the rows without one (stored as NULL). `error_code`: the ERRORs of that cause."""
    clauses, params = time_clauses(since, until)
    if verdict is not None:
        wanted = [verdict] if isinstance(verdict, str) or verdict is None else list(verdict)
        parts = []
        named = [str(v) for v in wanted if v not in NO_VERDICT_NAMES]
        if named:
            parts.append(f"verdict IN ({', '.join('?' * len(named))})")
            params.extend(named)
        if any(v in NO_VERDICT_NAMES for v in wanted):
            parts.append("verdict IS NULL")
        clauses.append("(" + " OR ".join(parts) + ")" if parts else "0")
    for test, value in (("score >= ?", None if min_score is None else float(min_score)),
                        ("score <= ?", None if max_score is None else float(max_score)),
                        ("label = ?", label), ("model_id = ?", model_id), ("purpose = ?", purpose),
                        ("model_version = ?", model_version), ("part_id = ?", part_id),
                        ("error_code = ?", None if error_code is None else int(error_code))):
        if value is not None:
            clauses.append(test)
            params.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def production_only(where: str, purpose: Optional[str]) -> str:
    """Master parts are checks of the station, never production: a count or yield leaves them out unless
    purpose="master" is what it asks for."""
    if purpose is not None:
        return where
    return where + (" AND " if where else " WHERE ") + "purpose != 'master'"


__all__ = ["HistoryError", "NO_VERDICT_NAMES", "TimeLike", "parse_time", "production_only", "span_seconds",
           "to_epoch", "where_clause"]
