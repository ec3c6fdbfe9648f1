"""Calibration images as scored, their maps kept: each image's verdict level at any minimum area."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from .scoring import verdict_level
from .zones import Zone, zone_map


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

    def levels(self, min_area: float, zones: Sequence[Zone] = ()) -> tuple[list[float], list[float]]:
        """Each image's verdict level under `min_area` and the inspection zones (scoring.verdict_level)."""
        def level(r):
            zmap = zone_map(zones, min_area, r.box, r.mask.shape, self.mm_per_px, r.reference_to_image) \
                if zones else None
            return verdict_level(r.score, r.anomaly_map, r.mask, min_area, self.mm_per_px, zmap)
        return [level(r) for r in self.ok], [level(r) for r in self.ng]
