"""Where the NG parts' defects lie: the NG parts counted by the inspection zone their largest defect weighs most in
(History.ng_zones), each with its share, most first. A line engineer reads it as a Pareto of where the process
fails (`inspector history PROJECT --by zone`, `GET /projects/NAME/history/zones`)."""

from __future__ import annotations

from typing import Optional, Sequence


def zone_records(zones: Sequence[tuple[Optional[str], int]]) -> list[dict]:
    """(zone, NG parts) pairs as records with each one's share of the NG parts; zone None: parts inspected without
    zones ("rest": outside every zone of a calibration with zones)."""
    total = sum(n for _, n in zones)
    return [{"zone": zone, "NG": n, "share": round(n / total, 6)} for zone, n in zones]
