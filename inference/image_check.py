"""The image check: an image the camera did not take as it took the taught ones (the light off, the lens covered,
a saturated or dead frame) is an ERROR that says so, not a part scored.

Such a frame is far from everything taught, so it would be NG. Then the line reads "NG parts" and the
technician looks at good parts while the light is off. As an ERROR, the PLC's reply and the error_streak alarm say
the station cannot judge, and the reason says why.

The reference is decided at fit from the taught crops, before lighting compensation (which would hide the
fault), inside the ROI shape with the ignore regions left out, and kept in the manifest (`exposure`); `add` keeps
the model's. A crop fails when, against the taught ones:
- too dark: its median luminance is under DARK_RATIO of theirs (the light off, an exposure cut by 1.5 stops);
- too bright: its median luminance has gone BRIGHT_HEADROOM of the way from theirs to white, or CLIPPED_EXTRA more
  of it is clipped white than in any taught crop (exposure or gain up by 1.5-2 stops, saturated);
- no contrast: its luminance spread (standard deviation) is under FLAT_RATIO of theirs (a covered lens, a frame
  of one grey, far out of focus).
The limits leave about twice what real captures do: over the six dev sets' captures (every test image, good and
defective, and every taught image past the 16 of the reference), medians stay within 0.70-1.66 of the taught and
within 0.39 of the way to white, spreads above 0.69 of it, and clipped shares within 0.02 of the taught
(docs/benchmarks.md, "The image check's margins"). A taught part that is itself dark, flat or near white is not
checked for that. A fit refuses a taught image that fails against the others: a good part photographed in the dark
teaches nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional, Sequence

import cv2
import numpy as np

from .errors import ImageError
from .features import kept_pixel_mask

DARK_RATIO = 0.35
FLAT_RATIO = 0.25
BRIGHT_HEADROOM = 0.75
CLIPPED_EXTRA = 0.3
CLIPPED_LEVEL = 250  # grey levels at or above this are clipped white
MIN_MEDIAN = 12.0  # a taught median below this is already dark: no darker check
MIN_SPREAD = 4.0  # a taught spread below this is already flat: no flatter check
MIN_HEADROOM = 16.0  # a taught median this close to white is already bright: only the clipped share is checked


class ImageCheckError(ImageError):
    """An image the camera did not take as it took the taught ones; `check` names the test it failed."""

    def __init__(self, message: str, check: str):
        super().__init__(message)
        self.check = check


def levels(pixels: np.ndarray, inside: Optional[np.ndarray] = None) -> tuple[float, float, float]:
    """(median, standard deviation, clipped share) of an RGB uint8 crop's luminance, where `inside` (all when None).
    From one histogram: a few ms on a camera's crop, where sorting its pixels would take tens."""
    grey = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2GRAY)
    mask = None if inside is None or inside.all() else inside.astype(np.uint8)
    hist = cv2.calcHist([grey], [0], mask, [256], [0, 256]).ravel().astype(np.float64)
    total = hist.sum()
    if total == 0:
        return 0.0, 0.0, 0.0
    values = np.arange(256, dtype=np.float64)
    mean = float(hist @ values / total)
    spread = float(np.sqrt(max(hist @ (values - mean) ** 2 / total, 0.0)))
    median = float(np.searchsorted(np.cumsum(hist), total / 2))
    return median, spread, float(hist[CLIPPED_LEVEL:].sum() / total)


def reference(found: Sequence[tuple[float, float, float]]) -> dict:
    """The taught crops' levels (levels() of each): their median median and spread, their largest clipped share."""
    if not found:
        return {}
    values = np.array(found)
    return {"median": round(float(np.median(values[:, 0])), 3), "spread": round(float(np.median(values[:, 1])), 3),
            "clipped": round(float(values[:, 2].max()), 4)}


def problem(found: tuple[float, float, float], ref: dict) -> Optional[ImageCheckError]:
    """The check a crop of these levels (levels()) fails against `ref` (a reference()), as the error to raise; None
    when it passes."""
    if not ref:
        return None
    median, spread, clipped = found
    if ref["median"] >= MIN_MEDIAN and median < DARK_RATIO * ref["median"]:
        return ImageCheckError(f"too dark to inspect: median brightness {median:.0f} against {ref['median']:.0f} "
                               "in the taught images (light off, lens covered, exposure or gain changed?)", "dark")
    headroom = 255.0 - ref["median"]
    if headroom >= MIN_HEADROOM and median >= ref["median"] + BRIGHT_HEADROOM * headroom:
        return ImageCheckError(f"too bright to inspect: median brightness {median:.0f} against {ref['median']:.0f} "
                               "in the taught images (exposure or gain changed, a reflection, a flash?)", "bright")
    if clipped >= ref["clipped"] + CLIPPED_EXTRA:
        return ImageCheckError(f"too bright to inspect: {clipped:.0%} of it clipped white against at most "
                               f"{ref['clipped']:.0%} in the taught images (exposure or gain changed, a reflection, "
                               "a flash?)", "bright")
    if ref["spread"] >= MIN_SPREAD and spread < FLAT_RATIO * ref["spread"]:
        return ImageCheckError(f"no contrast to inspect: brightness spread {spread:.1f} against {ref['spread']:.1f} "
                               "in the taught images (lens covered, camera fault, far out of focus?)", "flat")
    return None


def _measured(prepared: Sequence, roi, ignore) -> list:
    """(PreparedImage, levels()) of each part found, inside the ROI shape, out of the ignore regions and the image;
    the masks cached per box (features.kept_pixel_mask), as a fixed camera gives one box."""
    return [(p, _levels_of(p, roi, ignore)) for p in prepared if not p.not_found]


def _levels_of(p, roi, ignore) -> tuple[float, float, float]:
    """levels() of a PreparedImage's crop inside the ROI shape, out of the ignore regions and the image."""
    inside = kept_pixel_mask(roi, tuple(ignore), p.crop.box) if roi is not None else None
    inside = p.valid if inside is None else inside if p.valid is None else inside & p.valid
    return levels(p.crop.pixels, inside)


def taught(prepared: Sequence, roi, ignore: Sequence, on: bool, kept: Optional[dict] = None) -> dict:
    """The reference a fit keeps, every taught PreparedImage checked against it (each crop measured once): an add's
    is `kept`, the model's; a fit's the taught crops' own when `on`, else none. A taught image that fails is an
    ImageCheckError naming it and what to do."""
    if (kept is None and not on) or kept == {}:  # off, or an add to a model without the check
        return {}
    measured = _measured(prepared, roi, ignore)
    ref = kept if kept is not None else reference([found for _, found in measured])
    for p, found in measured:
        error = problem(found, ref)
        if error is not None:
            raise ImageCheckError(f"taught image {p.name} is {error}: a good part photographed so teaches nothing. "
                                  "Leave it out of the OK images, or set image_check: false where such images are "
                                  "what the line takes", error.check)
    return ref


def check(prepared: Sequence, ref: dict, roi, ignore: Sequence = ()) -> list:
    """Raise the first found part's failed check against `ref` (nothing without one). A part not found whose image
    fails the check too has that said after why it was not found (to the locator the light off looks like no part):
    the list returned carries it."""
    if not ref:
        return list(prepared)
    for _, found in _measured(prepared, roi, ignore):
        error = problem(found, ref)
        if error is not None:
            raise error
    return [_also_failing(p, ref, roi, ignore) if p.not_found else p for p in prepared]


def _also_failing(p, ref: dict, roi, ignore: Sequence):
    """A part not found, with what the check finds where its ROI was looked for said after the reason: no part
    there looks the same to it as the light off, so both are named."""
    found = _levels_of(p, roi, ignore)
    error = problem(found, ref)
    if error is None:
        return p
    median, spread, _ = found
    seen = {"dark": f"far darker than the taught parts (median brightness {median:.0f} against {ref['median']:.0f}): "
                    "no part there, or the light off?",
            "bright": f"far brighter than the taught parts (median brightness {median:.0f} against "
                      f"{ref['median']:.0f}): no part there, or the exposure changed?",
            "flat": f"almost without contrast (spread {spread:.1f} against {ref['spread']:.1f} in the taught parts): "
                    "no part there, or the lens covered?"}[error.check]
    return replace(p, not_found=f"{p.not_found}; the image there is {seen}")
