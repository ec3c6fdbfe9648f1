"""Why not to trust a calibration as it stands: the warnings every client shows with it (issue 19), and the
check that its OK images come from the capture the model was taught on."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .calibration import Calibration


# What makes a calibration untrustworthy on the line (issue 19): every client shows these warnings.
MIN_OK_IMAGES = 5
MAX_OWN_FRR = 0.5


def calibration_warnings(cal: Calibration) -> list[str]:
    """One sentence per reason not to trust `cal` as it stands (few OK images, a high false-reject rate on
    its own OK images, OK and NG overlapping, taught images among the OK ones, defects no threshold
    catches under the area limit). Empty: nothing found."""
    out = []
    if cal.n_ok < MIN_OK_IMAGES:
        out.append(f"only {cal.n_ok} OK image(s) calibrated the threshold (at least {MIN_OK_IMAGES} are needed "
                   "for a threshold to say anything about other good parts)")
    if cal.frr >= MAX_OWN_FRR:
        out.append(f"this threshold rejects {cal.frr:.0%} of its own OK images")
    if cal.margin < 0 and cal.n_ng:
        out.append(f"negative margin ({cal.margin:+.4g}): OK and NG overlap, some parts will be misjudged")
    elif cal.margin < 0 and cal.frr < MAX_OWN_FRR and round(cal.frr * cal.n_ok) > _rejects_asked(cal):
        # No NG images: only OK images are on the wrong side, more of them than the percentile asked for.
        out.append(f"the threshold rejects {round(cal.frr * cal.n_ok)} of its {cal.n_ok} OK images (the highest scores "
                   f"{-cal.margin:.4g} above it): expect the line to reject a like share of good parts")
    if cal.taught_images:
        shown = ", ".join(cal.taught_images[:5]) + (f" and {len(cal.taught_images) - 5} more"
                                                    if len(cal.taught_images) > 5 else "")
        out.append(f"{len(cal.taught_images)} OK image(s) were also taught ({shown}): they score low, so the "
                   "threshold is optimistic; calibrate with OK images the model never saw")
    never = sum(1 for v in cal.levels[1] if not np.isfinite(v))
    if never:
        out.append(f"{never} NG image(s) have no region as large as the minimum area {cal.min_area_text}: they "
                   "pass at any threshold; lower the minimum area" + (" or the zones' limits" if cal.zones else ""))
    return out


def _rejects_asked(cal: Calibration) -> int:
    """How many of its own OK images an OK-only percentile threshold rejects by design: the 99th percentile of 10
    scores lies under the highest (1), of 200 under the top 2. A warning for those would come with every such
    calibration and say nothing; the rates' bounds say what so few images can show. Other methods, and a threshold
    a person dragged, ask for none."""
    if cal.method != "ok_only":
        return 0
    return math.ceil(cal.n_ok * (100.0 - cal.score_percentile) / 100.0 - 1e-9)


# Held-out OK images of the same capture score, at the median, 1.09-2.81 x the taught images' own
# median score (taught images scored by their model, image score max; six dev sets, 1-16 shots,
# docs/benchmarks.md; the top of that range is mvtec_screw at 1-2 shots, screws turned every way).
# Beyond these limits the calibration images most likely come from another capture (light, camera, part).
SHIFT_RATIO_LIMITS = (0.67, 3.0)


def capture_shift_warning(taught_scores: Sequence[float], calibration_scores: Sequence[float],
                          limits: tuple[float, float] = SHIFT_RATIO_LIMITS) -> str:
    """A one-line warning when the calibration OK images score unlike the taught OK images (their
    median ratio outside `limits`), else ''. A threshold set on another capture than production's
    rejects good parts or passes bad ones: calibrate with images from the production capture."""
    taught = np.asarray(taught_scores, dtype=np.float64)
    cal = np.asarray(calibration_scores, dtype=np.float64)
    if taught.size == 0 or cal.size == 0:
        return ""
    ref = float(np.median(taught))
    if ref <= 0:
        return ""
    ratio = float(np.median(cal)) / ref
    if limits[0] <= ratio <= limits[1]:
        return ""
    side = "higher" if ratio > limits[1] else "lower"
    return (f"the calibration OK images score {ratio:.2f} x the taught images (median), much {side} than "
            f"images of one capture do ({limits[0]:g}-{limits[1]:g} x): they likely come from another capture "
            "(light, camera, focus, part batch). Teach and calibrate with images from the production capture.")


def join_warnings(warnings) -> str:
    """Warnings as one text, a sentence each (empty ones left out): what calibration.json's `warning` holds."""
    out = []
    for text in warnings:
        text = (text or "").strip()
        if text:
            out.append(text if text.endswith(".") else text[:1].upper() + text[1:] + ".")
    return " ".join(out)
