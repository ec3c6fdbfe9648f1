"""Lighting compensation: each crop's brightness (and with shift_scale its contrast) brought to the taught
images' before its features are taken, so a line whose light drifts does not reject good parts for it.

The levels are the median and the interquartile range of the crop's luminance (robust to a defect, which covers
a small share of the crop). The target is decided once, at fit, from the taught crops (the median of their
levels) and kept in the manifest (`brightness`); `add` keeps the model's. Off by default: with it a part that
is uniformly darker or brighter than the taught ones (burnt, wrongly coated) is brought to the taught levels
and only its local differences are inspected (docs/benchmarks.md, issue 25, `shift`: +0.023 image AUROC on
ksdd, whose lighting varies, -0.011 on visa_fryum, whose colour is part of what is inspected).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import cv2
import numpy as np

MODES = ("none", "shift", "shift_scale")


def levels(pixels: np.ndarray) -> tuple[float, float]:
    """(median, interquartile range) of an RGB uint8 crop's luminance; the range is at least 1."""
    grey = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)
    q25, q50, q75 = np.percentile(grey, (25, 50, 75))
    return float(q50), float(max(q75 - q25, 1.0))


def target(crops: Sequence[np.ndarray], mode: str) -> dict:
    """The levels the taught `crops` share, for `mode`; {} for none (nothing is changed)."""
    if mode == "none" or not len(crops):
        return {}
    if mode not in MODES:
        raise ValueError(f"unknown brightness mode {mode!r}")
    found = np.array([levels(c) for c in crops])
    return {"mode": mode, "median": round(float(np.median(found[:, 0])), 3),
            "iqr": round(float(np.median(found[:, 1])), 3)}


def apply(pixels: np.ndarray, to: dict) -> np.ndarray:
    """The crop with its levels brought to `to` (a target()); unchanged when `to` is empty."""
    return _applied(pixels, to)[0]


def _applied(pixels: np.ndarray, to: dict) -> tuple[np.ndarray, float]:
    """(the compensated crop, the grey levels its median moved by)."""
    if not to:
        return pixels, 0.0
    median, iqr = levels(pixels)
    scale = to["iqr"] / iqr if to["mode"] == "shift_scale" else 1.0
    # One affine map for the three channels: the colours keep their relations, only light and contrast move.
    lut = np.clip(np.rint((np.arange(256, dtype=np.float64) - median) * scale + to["median"]), 0, 255)
    return cv2.LUT(np.ascontiguousarray(pixels), lut.astype(np.uint8)), float(to["median"]) - median


def compensate(prepared: list, to: dict) -> list:
    """PreparedImages with their crops compensated and the shift each got (`brightness_shift`, which every result
    reports: a compensated part is never compensated silently); the same objects when `to` is empty."""
    if not to:
        return prepared
    out = []
    for p in prepared:
        if p.not_found:
            out.append(p)
            continue
        pixels, shift = _applied(p.crop.pixels, to)
        out.append(replace(p, crop=replace(p.crop, pixels=pixels), brightness_shift=round(shift, 2)))
    return out
