"""The history's reports (station.History inherits them): the counts and yield, the NG parts per zone, the ERRORs
per cause, the counts per hour, the recent OK scores and their drift. Each reads production parts only unless
asked: a master part's check is no production part."""

from __future__ import annotations

from typing import Optional, Sequence

from inference import Verdict, VerdictCounts

from .drift import Drift, drift_of
from .history_filters import TimeLike, production_only, where_clause
from .history_rows import stored_verdict


class HistoryReports:
    """What History's reports read, through its `_run(sql, params)` (locked, errors as HistoryError)."""

    def _run(self, sql: str, params: Sequence = ()) -> list[tuple]:
        raise NotImplementedError

    def counts(self, since: TimeLike = None, until: TimeLike = None, **filters) -> VerdictCounts:
        """The counts of each verdict and the one yield (inference.VerdictCounts), over query()'s filters. Master
        parts are checks of the station, never production: they are counted only when purpose="master" is asked."""
        where, params = where_clause(since, until, **filters)
        where = production_only(where, filters.get("purpose"))
        rows = self._run(f"SELECT verdict, COUNT(*) FROM inspections{where} GROUP BY verdict", params)
        counts = VerdictCounts()
        for verdict, n in rows:
            counts.add(stored_verdict(verdict), n)  # a word an earlier version let a source store: ERROR
        return counts

    def ng_zones(self, since: TimeLike = None, until: TimeLike = None, **filters) -> list[tuple[Optional[str], int]]:
        """The NG parts matching query()'s filters by the inspection zone their largest defect weighs most in (its
        region's `zone`; None: without zones), most first (station/history_zones.py); production parts only."""
        return self._by("NG", "json_extract(regions, '$[0].zone')", since, until, filters)

    def error_causes(self, since: TimeLike = None, until: TimeLike = None,
                     **filters) -> list[tuple[Optional[int], int]]:
        """The ERRORs matching query()'s filters by their cause (station.ErrorCode; None: a row written before the
        history kept it), most first (station/history_causes.py); production parts only."""
        return self._by("ERROR", "error_code", since, until, filters)

    def _by(self, verdict: str, value: str, since: TimeLike, until: TimeLike, filters: dict) -> list[tuple]:
        """One verdict's production rows matching the filters, counted per `value` (SQL), most first."""
        filters = {k: v for k, v in filters.items() if k != "verdict"}  # no other verdict has a defect, a cause
        where, params = where_clause(since, until, verdict=verdict, **filters)
        where = production_only(where, filters.get("purpose"))
        return self._run(f"SELECT {value}, COUNT(*) FROM inspections{where} GROUP BY 1 ORDER BY 2 DESC, 1", params)

    def hourly_counts(self, since: TimeLike = None, until: TimeLike = None,
                      **filters) -> list[tuple[str, Verdict, bool, bool, int]]:
        """The rows matching query()'s filters, per hour of local time, oldest first: ("YYYY-MM-DD HH", verdict,
        a master part's check, passed, how many). station/history_periods.py folds them into hours, days, shifts."""
        where, params = where_clause(since, until, **filters)
        rows = self._run("SELECT strftime('%Y-%m-%d %H', time, 'unixepoch', 'localtime'), verdict, "
                         "purpose = 'master', verdict IS expected, COUNT(*) "
                         f"FROM inspections{where} GROUP BY 1, 2, 3, 4 ORDER BY 1", params)
        return [(hour, stored_verdict(verdict), bool(master), bool(passed), n)
                for hour, verdict, master, passed, n in rows]

    def recent_ok_scores(self, last: int = 200, model_id: Optional[str] = None) -> list[float]:
        """The scores of the newest `last` OK rows (of `model_id` when given), newest first; a master part's check
        is no production part, and says nothing of the line's drift."""
        where, params = where_clause(verdict="OK", model_id=model_id)
        where = production_only(where, None)
        rows = self._run(f"SELECT score FROM inspections{where} AND score IS NOT NULL "
                         "ORDER BY time DESC, id DESC LIMIT ?", params + [int(last)])
        return [float(r[0]) for r in rows]

    def drift(self, reference_ok_scores: Sequence[float], threshold: Optional[float],
              model_id: Optional[str] = None, last: int = 200, warn_at: float = 0.5,
              min_count: int = 20) -> Drift:
        """Rolling median / p99 of the last `last` OK scores against the calibration's OK scores."""
        return drift_of(self.recent_ok_scores(last, model_id), reference_ok_scores, threshold, warn_at, min_count)


__all__ = ["HistoryReports"]
