"""Calibration images as scored, their maps kept: each image's verdict level at any minimum area."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Optional, Sequence

from .calibration import Calibration, calibrate_by, check_values, scored_in
from .scoring import verdict_level
from .zones import Zone, check_over_roi, zone_map, zones_to_list

if TYPE_CHECKING:
    from .fitted import Model


@dataclass
class CalibrationSamples:
    """Calibration images as scored (maps kept), for the verdict levels at any minimum area."""

    ok: list  # InferenceResult of each OK image
    ng: list
    taught: list  # names of OK images that were also taught
    mm_per_px: Optional[float]

    @property
    def ok_scores(self) -> list[float]:
        return [r.score for r in self.ok]

    @property
    def ng_scores(self) -> list[float]:
        return [r.score for r in self.ng]

    def levels(self, min_area: float, zones: Sequence[Zone] = (), min_length: float = 0.0
               ) -> tuple[list[float], list[float]]:
        """Each image's verdict level under `min_area`, the inspection zones and `min_length`
        (scoring.verdict_level)."""
        def level(r):
            zmap = zone_map(zones, min_area, r.box, r.mask.shape, self.mm_per_px, r.reference_to_image) \
                if zones else None
            return verdict_level(r.score, r.anomaly_map, r.mask, min_area, self.mm_per_px, zmap, min_length)
        return [level(r) for r in self.ok], [level(r) for r in self.ng]


def calibration_of(model: "Model", samples: CalibrationSamples, score_percentile: Optional[float] = None,
                   min_area: Optional[float] = None, method: Optional[str] = None, zones: Sequence[Zone] = (),
                   min_length: Optional[float] = None) -> Calibration:
    """The calibration the model's method (or `method`) picks from scored samples, counted by the verdict rule at
    the minimum area, the zones' limits and the minimum length (the model's config's where not given): the one
    computation behind every client's calibrate (Engine.calibration_from)."""
    cfg = model.config
    area = min_area if min_area is not None else cfg.min_area
    length = min_length if min_length is not None else cfg.min_length
    check_values(min_area=area, min_length=length)
    check_over_roi(zones, model.roi)
    ok_levels, ng_levels = samples.levels(area, zones, length)
    cal = calibrate_by(method or cfg.calibration_method, samples.ok_scores, samples.ng_scores,
                       score_percentile if score_percentile is not None else cfg.score_percentile, area,
                       cfg.calibration_mad_k, cfg.calibration_expected_frr, ok_levels, ng_levels)
    return replace(cal, taught_images=list(samples.taught), scored_in=scored_in(model.backbone.precision_name),
                   zones=zones_to_list(zones), min_length=float(length),
                   requires=(["zones"] if zones else []) + (["min_length"] if length > 0 else []))
