"""Scoring one prepared crop: its patch features against the model's memory bank -> map, score, regions, verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import numpy as np

from . import foreground, placement
from .features import PreparedImage, kept_patch_mask, kept_pixel_mask, neutralise_ignored
from .scoring import InferenceResult, anomaly_map, find_regions, global_score, judge, shown_map
from .verdict import Verdict
from .zones import zone_map

if TYPE_CHECKING:
    from .fitted import Model


def score_prepared(model: "Model", p: PreparedImage, feats: np.ndarray, threshold: Optional[float]) -> InferenceResult:
    """One prepared crop and its C x h x w features -> its result: patch distances to the memory bank, the ROI,
    ignore regions, placement and foreground masks, the smoothed map and its image score, the map shown
    (scoring.anomaly_map) and, with a threshold (the given one, else the calibration's), its regions and
    verdict. Every inspection and the fit's taught scores go through here."""
    cfg = model.config
    c, h, w = feats.shape
    patch_scores = model.searcher.distances(feats.reshape(c, -1).T, cfg.n_neighbors).reshape(h, w)
    x0, y0, x1, y1 = p.crop.box
    mask = kept_pixel_mask(model.roi, model.ignore, p.crop.box)
    pmask = kept_patch_mask(model.roi, model.ignore, p.crop.box, (h, w))
    patch_scores = neutralise_ignored(patch_scores, model.ignore, p.crop.box, pmask)
    mask, pmask, patch_scores = placement.inside_only(p, mask, pmask, patch_scores)
    mask, pmask, patch_scores = foreground.restrict(model.foreground, mask, pmask, patch_scores)
    # The score reads the smoothed map; the regions and the heatmap the map shown (surround_sigma: each pixel
    # plus its excess over its surroundings, else the smoothed map itself), drawn into the same array after.
    maps = anomaly_map(patch_scores, y1 - y0, x1 - x0, cfg.input_size, cfg.smoothing_sigma, cfg.smoothing_at,
                       cfg.surround_sigma)
    maps.smoothed[~mask] = 0.0
    score = global_score(maps.smoothed, mask, patch_scores, pmask, cfg.score_mode,
                         lambda i: model.searcher.support_weight(feats.reshape(c, -1)[:, i]))
    pixel_map = shown_map(maps, mask)
    cal = model.calibration
    thr = threshold if threshold is not None else (cal.threshold if cal else None)
    result = InferenceResult(p.name, score, pixel_map, mask, p.crop.box, (h, w), threshold=thr,
                             brightness_shift=p.brightness_shift)
    if p.placement is not None:
        result = placement.placed_in_image(result, p, model)
    if thr is not None:
        area = cal.min_area if cal else 0.0
        zmap = zone_map(cal.zone_list, area, result.box, result.mask.shape, model.mm_per_px,
                        result.reference_to_image) if cal and cal.zones else None
        regions = find_regions(result.anomaly_map, result.mask, thr, result.box, model.mm_per_px, zmap)
        result.verdict, result.regions, result.reason = judge(score, regions, thr, area, zmap,
                                                              cal.min_length if cal else 0.0)
    else:
        result.verdict = Verdict.NO_VERDICT
        result.reason = f"no verdict: {model.calibration_note or 'not calibrated'}"
    return result
