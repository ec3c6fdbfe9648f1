"""Lighting compensation: each crop's brightness (and with shift_scale its contrast) brought to the taught
images' before its features are taken, so a line whose light drifts does not reject good parts for it.

The levels are the median and the interquartile range of the luminance inside the ROI shape, ignore regions left
out (robust to a defect, which covers a small share of it; the background a circle or annulus box holds in its
corners does not count). Models fitted before that (their target lacks "region") keep the whole crop's levels.
The target is decided once, at fit, from the taught crops (the median of their levels) and kept in the manifest
(`brightness`); `add` keeps the model's. Off by default: with it a part that is uniformly darker or brighter than
the taught ones (burnt, wrongly coated) is brought to the taught levels and only its local differences are
inspected (docs/benchmarks.md, issue 25, `shift`: +0.023 image AUROC on
ksdd, whose lighting varies, -0.011 on visa_fryum, whose colour is part of what is inspected).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional, Sequence

import cv2
import numpy as np

from .roi import Roi, shape_mask

MODES = ("none", "shift", "shift_scale")


def levels(pixels: np.ndarray, inside: Optional[np.ndarray] = None) -> tuple[float, float]:
    """(median, interquartile range) of an RGB uint8 crop's luminance (only where `inside`, when given); the range
    is at least 1."""
    grey = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)
    if inside is not None and inside.any():
        grey = grey[inside]
    q25, q50, q75 = np.percentile(grey, (25, 50, 75))
    return float(q50), float(max(q75 - q25, 1.0))


def inside_of(p, roi: Optional[Roi], ignore: Sequence = ()) -> Optional[np.ndarray]:
    """The pixels of a PreparedImage's crop that its levels are taken from: inside the ROI shape, outside every
    ignore region, and (a turned whole image) from inside the image; None: the whole crop."""
    if roi is None:
        return p.valid
    h, w = p.crop.pixels.shape[:2]
    inside = shape_mask(roi, p.crop.box, h, w)
    for shape in ignore:
        inside &= ~shape_mask(shape, p.crop.box, h, w)
    if p.valid is not None:
        inside &= p.valid
    return inside


def target(prepared: Sequence, mode: str, roi: Optional[Roi] = None, ignore: Sequence = ()) -> dict:
    """The levels the taught PreparedImages share inside the ROI, for `mode`; {} for none (nothing is changed)."""
    if mode == "none" or not len(prepared):
        return {}
    if mode not in MODES:
        raise ValueError(f"unknown brightness mode {mode!r}")
    found = np.array([levels(p.crop.pixels, inside_of(p, roi, ignore)) for p in prepared])
    return {"mode": mode, "median": round(float(np.median(found[:, 0])), 3),
            "iqr": round(float(np.median(found[:, 1])), 3), "region": "roi"}


def apply(pixels: np.ndarray, to: dict, inside: Optional[np.ndarray] = None) -> np.ndarray:
    """The crop with its levels (inside `inside`) brought to `to` (a target()); unchanged when `to` is empty."""
    return _applied(pixels, to, inside)[0]


def _applied(pixels: np.ndarray, to: dict, inside: Optional[np.ndarray] = None) -> tuple[np.ndarray, float]:
    """(the compensated crop, the grey levels its median moved by)."""
    if not to:
        return pixels, 0.0
    median, iqr = levels(pixels, inside)
    scale = to["iqr"] / iqr if to["mode"] == "shift_scale" else 1.0
    # One affine map for the three channels: the colours keep their relations, only light and contrast move.
    lut = np.clip(np.rint((np.arange(256, dtype=np.float64) - median) * scale + to["median"]), 0, 255)
    return cv2.LUT(np.ascontiguousarray(pixels), lut.astype(np.uint8)), float(to["median"]) - median


def compensate(prepared: list, to: dict, roi: Optional[Roi] = None, ignore: Sequence = ()) -> list:
    """PreparedImages with their crops compensated and the shift each got (`brightness_shift`, which every result
    reports: a compensated part is never compensated silently); the same objects when `to` is empty. The levels
    are taken inside `roi` when the target was (its "region"), else from the whole crop as before."""
    if not to:
        return prepared
    within = to.get("region") == "roi"
    out = []
    for p in prepared:
        if p.not_found:
            out.append(p)
            continue
        pixels, shift = _applied(p.crop.pixels, to, inside_of(p, roi if within else None, ignore if within else ()))
        out.append(replace(p, crop=replace(p.crop, pixels=pixels), brightness_shift=round(shift, 2)))
    return out
