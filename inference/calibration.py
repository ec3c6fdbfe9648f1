"""Thresholds from OK (and NG) scores; false-accept / false-reject rates; the area limit.

False reject (FRR): an OK part scored >= threshold. False accept (FAR): an NG
part scored < threshold, i.e. a defect that escapes. Where OK and NG scores
overlap, the threshold minimises FAR + FRR and, among equals, the lower FAR,
because a defect shipped costs more than a good part re-checked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Optional, Sequence

import numpy as np

from .errors import InspectorError


@dataclass
class Calibration:
    threshold: float
    score_percentile: float
    area_mm2_thr: float
    method: str  # "ok_only" or "ok_ng"
    n_ok: int
    n_ng: int
    far: Optional[float]  # NG accepted / NG, None without NG images
    frr: float  # OK rejected / OK
    margin: float  # distance from the threshold to the nearest wrong side (see calibrate())
    ok_scores: list = field(default_factory=list)
    ng_scores: list = field(default_factory=list)
    model_id: Optional[str] = None
    created: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Calibration":
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def rates(ok: Sequence[float], ng: Sequence[float], threshold: float) -> tuple[Optional[float], float]:
    """(FAR, FRR) at `threshold`: FAR is None when there are no NG scores."""
    ok = np.asarray(ok, dtype=np.float64)
    ng = np.asarray(ng, dtype=np.float64)
    frr = float((ok >= threshold).mean()) if ok.size else 0.0
    far = float((ng < threshold).mean()) if ng.size else None
    return far, frr


def calibrate(
    ok_scores: Sequence[float],
    ng_scores: Optional[Sequence[float]] = None,
    score_percentile: float = 99.0,
    area_mm2_thr: float = 0.0,
) -> Calibration:
    """A threshold from OK scores alone or, with NG scores, the one that separates them best.

    OK only: threshold = the `score_percentile` of OK scores; margin =
    threshold - max(OK) (negative: that many score units of OK parts would be
    rejected). With NG: if they separate, the threshold sits midway between
    the highest OK and the lowest NG and margin is half that gap; if not,
    the margin is negative (the overlap).
    """
    ok = np.asarray(list(ok_scores), dtype=np.float64)
    ng = np.asarray(list(ng_scores or []), dtype=np.float64)
    if ok.size == 0:
        raise InspectorError("calibration needs at least one OK image")
    if not (50 <= score_percentile <= 100):
        raise InspectorError(f"score percentile must be in [50, 100], got {score_percentile}")
    if area_mm2_thr < 0:
        raise InspectorError(f"area limit must be >= 0 mm^2, got {area_mm2_thr}")
    if not (np.isfinite(ok).all() and np.isfinite(ng).all()):
        raise InspectorError("calibration scores must be finite numbers")
    if ng.size == 0:
        threshold = float(np.percentile(ok, score_percentile))
        # A threshold equal to the top OK score would reject it (>=): nudge just above.
        if score_percentile >= 100:
            threshold = float(np.nextafter(ok.max(), np.inf))
        margin = threshold - float(ok.max())
        method = "ok_only"
    else:
        hi_ok, lo_ng = float(ok.max()), float(ng.min())
        if hi_ok < lo_ng:
            threshold = (hi_ok + lo_ng) / 2.0
            margin = (lo_ng - hi_ok) / 2.0
        else:
            threshold = _best_overlapping_threshold(ok, ng)
            margin = lo_ng - hi_ok
        method = "ok_ng"
    far, frr = rates(ok, ng, threshold)
    return Calibration(
        threshold=threshold, score_percentile=float(score_percentile), area_mm2_thr=float(area_mm2_thr),
        method=method, n_ok=int(ok.size), n_ng=int(ng.size), far=far, frr=frr, margin=float(margin),
        ok_scores=[float(s) for s in ok], ng_scores=[float(s) for s in ng],
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def _best_overlapping_threshold(ok: np.ndarray, ng: np.ndarray) -> float:
    candidates = np.unique(np.concatenate([ok, ng, [np.nextafter(ok.max(), np.inf)]]))
    best, best_key = float(candidates[0]), None
    for t in candidates:
        far, frr = rates(ok, ng, float(t))
        key = (far + frr, far)
        if best_key is None or key < best_key:
            best, best_key = float(t), key
    return best
