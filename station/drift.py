"""Drift: the line's recent OK scores against the calibration's, so false rejects are seen coming."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional, Sequence

import numpy as np


@dataclass
class Drift:
    """Recent OK scores against the calibration's OK scores.

    `shift` is how far the recent median has moved from the calibration median
    toward the threshold (0 = no drift, 1 = typical OK parts now sit at the
    threshold). A warning is raised when it reaches `warn_at` with at least
    `min_count` recent OK scores: false rejects are about to pile up.
    """

    n_recent: int
    recent_median: Optional[float]
    recent_p99: Optional[float]
    reference_median: Optional[float]
    reference_p99: Optional[float]
    threshold: Optional[float]
    shift: Optional[float]
    warn_at: float
    min_count: int
    warning: bool
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


def drift_of(recent: Sequence[float], reference: Sequence[float], threshold: Optional[float],
             warn_at: float = 0.5, min_count: int = 20) -> Drift:
    """The drift figures from recent OK scores and the calibration's (kept apart so the run mode can use a window)."""
    rec = np.asarray(list(recent), dtype=np.float64)
    ref = np.asarray(list(reference), dtype=np.float64)
    r_med = float(np.median(rec)) if rec.size else None
    r_p99 = float(np.percentile(rec, 99)) if rec.size else None
    c_med = float(np.median(ref)) if ref.size else None
    c_p99 = float(np.percentile(ref, 99)) if ref.size else None
    shift = None
    if r_med is not None and c_med is not None and threshold is not None and threshold > c_med:
        shift = (r_med - c_med) / (threshold - c_med)
    warning = shift is not None and rec.size >= min_count and shift >= warn_at
    if c_med is None or threshold is None:
        message = "no drift view: the model has no calibration with OK scores"
    elif rec.size == 0:
        message = "no drift view yet: no OK parts inspected"
    elif shift is None:
        message = "no drift view: the threshold is not above the calibration's OK scores"
    else:
        text = (f"OK scores: median {r_med:.4g} (p99 {r_p99:.4g}) over the last {rec.size} vs calibration "
                f"median {c_med:.4g} (p99 {c_p99:.4g}), threshold {threshold:.4g}; moved {100 * shift:.0f}% of the "
                "way to the threshold")
        if warning:
            message = ("DRIFT: " + text + ". Check lighting, camera position and material before false rejects "
                       "pile up; recalibrate if the parts are good")
        elif rec.size < min_count:
            message = text + f" (too few to judge, {min_count} needed)"
        else:
            message = text
    return Drift(int(rec.size), r_med, r_p99, c_med, c_p99, threshold, shift, warn_at, min_count, warning, message)
