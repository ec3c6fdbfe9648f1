"""Thresholds from OK (and NG) scores; false-accept / false-reject rates; the minimum region area.

False reject (FRR): an OK part the verdict rule calls NG. False accept (FAR): an
NG part it calls OK, i.e. a defect that escapes. Both are counted on each
image's verdict level (scoring.verdict_level: the highest threshold at which the
part is NG, score AND minimum region area), so what calibration reports is what
inspection then does; without an area limit the level is the score. Where OK and NG scores
overlap, the threshold minimises FAR + FRR and, among equals, the lower FAR,
because a defect shipped costs more than a good part re-checked.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from datetime import datetime, timezone
from typing import Optional, Sequence

import numpy as np

from .config import current_keys
from .errors import InspectorError
from .rate_bounds import evidence_note, upper_bound
from .zones import ZoneError, zones_from_list, zones_to_list


# The unit of a minimum region area: mm^2 when the model knows its pixel size (mm_per_px), else px.
AREA_UNITS = ("mm2", "px")
# Keys calibration.json files of earlier versions used: read as their new names.
RENAMED_CALIBRATION_KEYS = {"area_mm2_thr": "min_area"}
# The unit of a minimum length, by the area's.
LENGTH_UNITS = {"mm2": "mm", "px": "px"}
# Parts of the verdict rule a calibration may use that a reader must apply, or give no verdict: a reader that
# ignored them would judge by a laxer rule than the one calibrated (a zone's lower limit, a length limit).
# Calibration.requires lists the ones it uses; a later version's name not in this list is refused.
RULES_APPLIED = ("zones", "min_length")


def area_unit(mm_per_px: Optional[float]) -> str:
    """The unit regions are measured in for a model with this pixel size: "mm2", or "px" without one."""
    return "mm2" if mm_per_px else "px"


@dataclass
class Calibration:
    threshold: float
    score_percentile: float
    # Regions smaller than this do not make a part NG, in `min_area_unit` (a region's mm^2 when the model
    # knows mm_per_px, else its px).
    min_area: float
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
    # Set by Engine.calibrate when the OK images score unlike the taught ones (capture_shift_warning).
    warning: str = ""
    # "mm2" or "px": set from the model when the calibration is saved with it (Engine.save_calibration);
    # "" on a calibration not saved yet. A file without it (earlier versions) takes its model's unit.
    min_area_unit: str = ""
    # Each image's verdict level (scoring.verdict_level): NG at threshold t exactly when t <= level; -inf
    # (null in JSON): never NG under this area limit. FAR, FRR and margin are counted on these. Files of
    # earlier versions lack them: their scores stand in (what those versions counted on).
    ok_levels: list = field(default_factory=list)
    ng_levels: list = field(default_factory=list)
    # Names of OK images that were also taught (their scores are optimistic): shown with the warning.
    taught_images: list = field(default_factory=list)
    # What computed the scores: "int8" (a quantised backbone) or "float" (fp32, bf16, fp16: kept within the
    # precision gate of each other); "" in files of earlier versions and on thresholds typed in. An int8
    # network scores a defect lower than fp32 does (about half, measured: its ranges are calibrated on OK
    # images and a defect's activations are clipped): a threshold set on float scores gives no verdicts in
    # int8 (usable_with).
    scored_in: str = ""
    # Inspection zones (inference/zones.py): parts of the ROI with their own minimum area, in min_area_unit, as
    # zones_to_list gives them; min_area holds outside every zone. [] in files of earlier versions.
    zones: list = field(default_factory=list)
    # A region at least this long counts whatever its area (a thin scratch), in mm with mm_per_px, else px
    # (min_area_unit's length); 0: no such limit (files of earlier versions).
    min_length: float = 0.0
    # The parts of the verdict rule it uses beyond threshold and minimum area (RULES_APPLIED): a version of the
    # application that does not know one refuses the calibration instead of ignoring it.
    requires: list = field(default_factory=list)

    @cached_property
    def zone_list(self) -> tuple:
        """The zones as Zone objects (checked when the calibration was read or made)."""
        return zones_from_list(self.zones)

    def to_dict(self) -> dict:
        out = asdict(self)
        for key in ("ok_levels", "ng_levels"):
            out[key] = [None if not np.isfinite(v) else float(v) for v in out[key]]
        return out

    @property
    def errors(self) -> "ThresholdErrors":
        """Its threshold's false rejects and accepts on its own images, as counted when it was made (its far and
        frr): the counts its rate bounds (frr_upper, far_upper) and evidence sentence come from."""
        rejects = round(self.frr * self.n_ok)
        accepts = round(self.far * self.n_ng) if self.far is not None else 0
        return ThresholdErrors(self.threshold, self.n_ok, self.n_ng, rejects, accepts, self.far, self.frr, self.margin)

    def rate_bounds(self) -> dict:
        """{"frr_upper_95", "far_upper_95"}: the answers' (CLI --json, HTTP) form of errors' bounds."""
        errors = self.errors
        return {"frr_upper_95": errors.frr_upper, "far_upper_95": errors.far_upper}

    @property
    def levels(self) -> tuple[list, list]:
        """(OK levels, NG levels): what FAR and FRR are counted on (the scores in files that lack levels)."""
        ok = self.ok_levels if len(self.ok_levels) == len(self.ok_scores) else self.ok_scores
        ng = self.ng_levels if len(self.ng_levels) == len(self.ng_scores) else self.ng_scores
        return ok, ng

    @property
    def min_area_text(self) -> str:
        """E.g. "0.5 mm2", "30 px" ("0.5" while no model gave the unit); with zones, theirs after it:
        "0.5 mm2 elsewhere (zones: seal 0.05 mm2, face 2 mm2)"."""
        text = f"{self.min_area:g} {self.min_area_unit}".rstrip()
        if self.zones:
            text += " elsewhere (zones: " + ", ".join(f"{z.name} {z.min_area:g} {self.min_area_unit}".rstrip()
                                                       for z in self.zone_list) + ")"
        if self.min_length > 0:
            text += f", or {self.min_length:g} {LENGTH_UNITS.get(self.min_area_unit, '')}".rstrip() + " long"
        return text

    @classmethod
    def from_dict(cls, data: dict) -> "Calibration":
        """A calibration read from JSON, validated: a bad one raises CalibrationError, never passes parts."""
        if not isinstance(data, dict):
            raise CalibrationError("calibration is not a JSON object")
        data = current_keys(data, RENAMED_CALIBRATION_KEYS, CalibrationError)  # a file of an earlier version
        missing = [k for k in ("threshold", "min_area") if k not in data]
        if missing:
            raise CalibrationError(f"calibration lacks {', '.join(missing)}")
        known = set(cls.__dataclass_fields__)
        data = dict(data)
        for key in ("ok_levels", "ng_levels"):
            if key in data:
                if not isinstance(data[key], list):
                    raise CalibrationError(f"calibration's {key} is not a list")
                data[key] = [float("-inf") if v is None else _number(key, v) for v in data[key]]
        try:
            cal = cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:
            raise CalibrationError(f"calibration has unexpected content ({exc})") from None
        check_values(cal.threshold, cal.score_percentile, cal.min_area, cal.min_length)
        if not isinstance(cal.warning, str):
            raise CalibrationError("calibration's warning is not text")
        if cal.min_area_unit not in ("", *AREA_UNITS):
            raise CalibrationError(f"min_area_unit must be one of {list(AREA_UNITS)}, got {cal.min_area_unit!r}")
        try:
            cal.zones = zones_to_list(zones_from_list(cal.zones))
        except ZoneError as exc:
            raise CalibrationError(f"calibration's zones: {exc}") from None
        if not isinstance(cal.requires, list) or not all(isinstance(r, str) for r in cal.requires):
            raise CalibrationError("calibration's requires is not a list of names")
        unknown = [r for r in cal.requires if r not in RULES_APPLIED]
        if unknown:
            raise CalibrationError(f"it judges with {', '.join(unknown)}, which this version of the application does "
                                   "not apply: update the application, or calibrate again with this one")
        return cal


def scored_in(precision_name: str) -> str:
    """The kind of scores a backbone computing in `precision_name` gives, as Calibration.scored_in names it."""
    return "int8" if precision_name == "int8" else "float"


def usable_with(calibration: Optional["Calibration"], note: str,
                precision_name: str) -> tuple[Optional["Calibration"], str]:
    """(calibration, note) for a model whose backbone computes in `precision_name` here. A threshold set on float
    scores gives no verdict in int8: int8 scores defects lower and would pass them under it. One set in int8 stands
    in float (OK parts score alike, defects higher: the safe side)."""
    if calibration is None or calibration.scored_in != "float" or scored_in(precision_name) != "int8":
        return calibration, note
    return None, ("the threshold was set on scores of the backbone in full precision, and this machine computes "
                  "in int8, which scores defects lower: calibrate again on this machine, or set precision auto")


class CalibrationError(InspectorError):
    """A calibration value is missing, not a number, not finite or out of range."""


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise CalibrationError(f"{name} must be a number, got {value!r}")
    return float(value)


def check_values(threshold: Optional[float] = None, score_percentile: Optional[float] = None,
                 min_area: Optional[float] = None, min_length: Optional[float] = None) -> None:
    """The one place calibration values are checked, wherever they enter (CLI, GUI, API, HTTP, file).

    A NaN threshold would make every comparison false, an infinite one or an
    infinite area limit would pass every part: all are refused here.
    """
    if threshold is not None:
        t = _number("threshold", threshold)
        if not np.isfinite(t):
            raise CalibrationError(f"threshold must be a finite number, got {threshold!r}")
    if score_percentile is not None:
        q = _number("score percentile", score_percentile)
        if not (np.isfinite(q) and 0 < q <= 100):
            raise CalibrationError(f"score percentile must be in (0, 100], got {score_percentile!r}")
    if min_area is not None:
        a = _number("minimum area", min_area)
        if not (np.isfinite(a) and a >= 0):
            raise CalibrationError(f"minimum area must be a finite number >= 0 (mm^2, or px without mm per px), "
                                   f"got {min_area!r}")
    if min_length is not None:
        a = _number("minimum length", min_length)
        if not (np.isfinite(a) and a >= 0):
            raise CalibrationError(f"minimum length must be a finite number >= 0 (mm, or px without mm per px; 0: "
                                   f"none), got {min_length!r}")


@dataclass(frozen=True)
class ThresholdErrors:
    """What a threshold does to scored OK and NG sets: the one place FAR, FRR and margin are counted."""

    threshold: float
    n_ok: int
    n_ng: int
    false_rejects: int  # OK parts scored >= threshold
    false_accepts: int  # NG parts scored < threshold: defects that escape
    far: Optional[float]  # false_accepts / n_ng, None without NG scores
    frr: float  # false_rejects / n_ok
    # Distance to the nearest wrong side: to the highest OK score and, with NG scores, to the lowest NG
    # score (negative when the threshold misjudges one of them); inf without scores.
    margin: float

    @property
    def frr_upper(self) -> Optional[float]:
        """The highest false-reject rate these OK images cannot rule out at 95 % confidence (rate_bounds)."""
        return upper_bound(self.false_rejects, self.n_ok)

    @property
    def far_upper(self) -> Optional[float]:
        """The highest false-accept rate these NG images cannot rule out at 95 % confidence; None without NG."""
        return upper_bound(self.false_accepts, self.n_ng)

    @property
    def evidence(self) -> str:
        """What these images can show of the line's rates, in a sentence (rate_bounds.evidence_note)."""
        return evidence_note(self.false_rejects, self.n_ok, self.false_accepts, self.n_ng)


def threshold_errors(ok: Sequence[float], ng: Sequence[float], threshold: float) -> ThresholdErrors:
    """False rejects and accepts, FAR, FRR and margin of any threshold (e.g. a calibrate dialog's line)."""
    ok = np.asarray(ok, dtype=np.float64)
    ng = np.asarray(ng, dtype=np.float64)
    t = float(threshold)
    rejects, accepts = int((ok >= t).sum()), int((ng < t).sum())
    # -inf levels (never NG) bound no margin: an OK one is safe at any threshold, an NG one an escape at any.
    ok_f, ng_f = ok[np.isfinite(ok)], ng[np.isfinite(ng)]
    margin = t - float(ok_f.max()) if ok_f.size else float("inf")
    if ng_f.size:
        margin = min(margin, float(ng_f.min()) - t)
    return ThresholdErrors(t, int(ok.size), int(ng.size), rejects, accepts,
                           float(accepts / ng.size) if ng.size else None,
                           float(rejects / ok.size) if ok.size else 0.0, float(margin))


def rates(ok: Sequence[float], ng: Sequence[float], threshold: float) -> tuple[Optional[float], float]:
    """(FAR, FRR) at `threshold`: FAR is None when there are no NG scores."""
    errors = threshold_errors(ok, ng, threshold)
    return errors.far, errors.frr


def calibrate(
    ok_scores: Sequence[float],
    ng_scores: Optional[Sequence[float]] = None,
    score_percentile: float = 99.0,
    min_area: float = 0.0,
    ok_levels: Optional[Sequence[float]] = None,
    ng_levels: Optional[Sequence[float]] = None,
) -> Calibration:
    """A threshold from OK levels alone or, with NG levels, the one that separates them best.

    Levels (scoring.verdict_level) are the verdict rule's own numbers: without them the scores stand in,
    which is exact only without an area limit. Below, "scores" means levels.

    OK only: threshold = the `score_percentile` of OK scores; margin =
    threshold - max(OK) (negative: that many score units of OK parts would be
    rejected). With NG: if they separate, the threshold sits midway between
    the highest OK and the lowest NG and margin is half that gap; if not,
    the margin is negative (the overlap).
    """
    ok_s = np.asarray(list(ok_scores), dtype=np.float64)
    ng_s = np.asarray(list(ng_scores or []), dtype=np.float64)
    if ok_s.size == 0:
        raise InspectorError("calibration needs at least one OK image")
    check_values(score_percentile=score_percentile, min_area=min_area)
    if not (np.isfinite(ok_s).all() and np.isfinite(ng_s).all()):
        raise CalibrationError("calibration scores must be finite numbers")
    ok_l = ok_s if ok_levels is None else np.asarray(list(ok_levels), dtype=np.float64)
    ng_l = ng_s if ng_levels is None else np.asarray(list(ng_levels), dtype=np.float64)
    if ok_l.shape != ok_s.shape or ng_l.shape != ng_s.shape or np.isnan(ok_l).any() or np.isnan(ng_l).any() \
            or (np.isposinf(ok_l).any() or np.isposinf(ng_l).any()):
        raise CalibrationError("calibration levels must be one number (or -inf) per scored image")
    # An OK image that is never NG under the area limit cannot be rejected at any threshold: for the
    # threshold's statistics it stands at the lowest level seen (or its score, when none is finite).
    finite_ok = ok_l[np.isfinite(ok_l)]
    ok = np.where(np.isfinite(ok_l), ok_l, finite_ok.min() if finite_ok.size else ok_s)
    ng = ng_l
    if ng.size == 0:
        threshold = float(np.percentile(ok, score_percentile))
        # A threshold equal to the top OK score would reject it (>=): nudge just above.
        if score_percentile >= 100:
            threshold = float(np.nextafter(ok.max(), np.inf))
        margin = threshold - float(ok.max())
        method = "ok_only"
    else:
        hi_ok = float(ok.max())
        lo_ng = float(ng.min())  # -inf: a defect no threshold catches under this area limit
        if hi_ok < lo_ng:
            threshold = (hi_ok + lo_ng) / 2.0
            margin = (lo_ng - hi_ok) / 2.0
        else:
            threshold = _best_overlapping_threshold(ok, ng)
            margin = threshold_errors(ok_l, ng_l, threshold).margin
        method = "ok_ng"
    errors = threshold_errors(ok_l, ng_l, threshold)
    check_values(threshold=threshold)
    if not np.isfinite(margin):
        margin = _finite_margin(errors.margin, ok_s, ng_s, threshold)
    return Calibration(
        threshold=threshold, score_percentile=float(score_percentile), min_area=float(min_area),
        method=method, n_ok=int(ok_s.size), n_ng=int(ng_s.size), far=errors.far, frr=errors.frr,
        margin=float(margin),
        ok_scores=[float(s) for s in ok_s], ng_scores=[float(s) for s in ng_s],
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        ok_levels=[float(v) for v in ok_l], ng_levels=[float(v) for v in ng_l],
    )


def with_threshold(base: Calibration, threshold: float) -> Calibration:
    """`base` with the threshold a person chose (the calibrate dialog's line): FAR, FRR and margin recomputed.

    The margin is the distance to the nearest wrong side: to the highest OK
    score, and with NG scores also to the lowest NG score (negative when the
    threshold misjudges one of them).
    """
    check_values(threshold=threshold)
    t = float(threshold)
    if t == base.threshold:
        return base
    errors = threshold_errors(*base.levels, t)
    margin = _finite_margin(errors.margin, base.ok_scores, base.ng_scores, t)
    return replace(base, threshold=t, far=errors.far, frr=errors.frr, margin=margin,
                   method=base.method + "+manual")


def _finite_margin(margin: float, ok_scores, ng_scores, threshold: float) -> float:
    """The margin, or, where no level bounds it (no image can be NG under the area limit), the scores'."""
    if np.isfinite(margin):
        return float(margin)
    return float(threshold_errors(ok_scores, ng_scores, threshold).margin)


def _best_overlapping_threshold(ok: np.ndarray, ng: np.ndarray) -> float:
    candidates = np.unique(np.concatenate([ok, ng, [np.nextafter(ok.max(), np.inf)]]))
    candidates = candidates[np.isfinite(candidates)]
    best, best_key = float(candidates[0]), None
    for t in candidates:
        far, frr = rates(ok, ng, float(t))
        key = (far + frr, far)
        if best_key is None or key < best_key:
            best, best_key = float(t), key
    return best


# -- thresholds from few OK images that survive a change of capture (issue 13) -------------------------
# Selected by the engine setting `calibration_method`; only OK-only calibration changes: with NG
# scores the threshold still separates OK from NG (calibrate()).
CALIBRATION_METHODS = ("percentile", "mad", "tail")
MAD_K_DEFAULT = 3.0
TAIL_FRR_DEFAULT = 0.001
# The normal distribution's MAD -> standard deviation factor.
_MAD_TO_SIGMA = 1.4826


def robust_spread(scores: Sequence[float]) -> float:
    """1.4826 x the median absolute deviation: the standard deviation of normal data, not moved by a
    stray score. Never below 5 % of the median, so 1-2 images (MAD 0) still get a margin."""
    s = np.asarray(scores, dtype=np.float64)
    med = float(np.median(s))
    mad = float(np.median(np.abs(s - med)))
    return max(_MAD_TO_SIGMA * mad, 0.05 * abs(med), 1e-12)


def mad_threshold(ok_scores: Sequence[float], k: float = MAD_K_DEFAULT) -> float:
    """median + k x robust spread of the OK scores. k = 3 by default: above the highest of 10 normal
    OK scores (median + 1.5 spreads on average), so fewer good parts are rejected than with the 99th
    percentile, while one stray high OK score does not lift the threshold over the defects
    (docs/benchmarks.md: mean FRR 0.04 / FAR 0.31 vs 0.05 / 0.49 for the percentile on three sets)."""
    s = np.asarray(ok_scores, dtype=np.float64)
    return float(np.median(s) + k * robust_spread(s))


def tail_threshold(ok_scores: Sequence[float], expected_frr: float = TAIL_FRR_DEFAULT) -> float:
    """The OK-score quantile 1 - expected_frr of a log-normal fitted robustly (median and MAD of log
    scores): anomaly scores are positive and skewed, so their logarithm is closer to normal. The
    expected FRR holds for parts from the capture the OK images came from."""
    from statistics import NormalDist

    if not 0 < expected_frr < 0.5:
        raise CalibrationError(f"expected false-reject rate must be in (0, 0.5), got {expected_frr!r}")
    s = np.asarray(ok_scores, dtype=np.float64)
    if (s <= 0).any():
        return mad_threshold(s, NormalDist().inv_cdf(1 - expected_frr))  # no logarithm: normal fit instead
    logs = np.log(s)
    z = NormalDist().inv_cdf(1 - expected_frr)
    return float(np.exp(np.median(logs) + z * robust_spread(logs)))


def calibrate_by(
    method: str,
    ok_scores: Sequence[float],
    ng_scores: Optional[Sequence[float]] = None,
    score_percentile: float = 99.0,
    min_area: float = 0.0,
    mad_k: float = MAD_K_DEFAULT,
    expected_frr: float = TAIL_FRR_DEFAULT,
    ok_levels: Optional[Sequence[float]] = None,
    ng_levels: Optional[Sequence[float]] = None,
) -> Calibration:
    """calibrate() with the OK-only threshold chosen by `method`: 'percentile' (the score_percentile of
    OK scores), 'mad' (mad_threshold) or 'tail' (tail_threshold). With NG scores every method gives
    calibrate()'s OK/NG threshold. The method is recorded as 'ok_only_mad' / 'ok_only_tail'."""
    if method not in CALIBRATION_METHODS:
        raise CalibrationError(f"calibration method must be one of {list(CALIBRATION_METHODS)}, got {method!r}")
    base = calibrate(ok_scores, ng_scores, score_percentile, min_area, ok_levels, ng_levels)
    if method == "percentile" or base.method != "ok_only":
        return base
    levels = np.asarray(base.ok_levels, dtype=np.float64)
    finite = levels[np.isfinite(levels)] if np.isfinite(levels).any() else np.asarray(base.ok_scores)
    threshold = mad_threshold(finite, mad_k) if method == "mad" else tail_threshold(finite, expected_frr)
    check_values(threshold=threshold)
    errors = threshold_errors(base.ok_levels, [], threshold)
    return replace(base, threshold=threshold, frr=errors.frr, far=errors.far,
                   margin=_finite_margin(errors.margin, base.ok_scores, [], threshold), method=f"ok_only_{method}")
