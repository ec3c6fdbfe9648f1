"""Whether the taught OK images show the part lying at different angles: the evidence for `part_symmetry: turns`.

A line that presents its part at any angle (screws on a tray, plates dropped on a belt) shows it that way in
its own OK images; a line whose fixture holds the part shows it one way. Each taught image after the first is
located on the first (inference.align, rigid, any angle). The part turns when at least TURNED_SHARE of them are
found, with a confident match, turned by TURNED_MIN_DEG or more from it.

Why these bounds (measured on the six dev sets' first 16 OK images in the eval's order, 2026-12-04):
- TURNED_MIN_DEG 45: half a quarter turn. Parts that only wobble stay well under it (visa_fryum's snacks lie
  within 31 deg of each other; a turned copy there costs image AUROC, docs/benchmarks.md); screws lie at any
  angle (8 of 15 beyond 45 deg).
- CONFIDENT_MATCH 0.8: above inference.align's WEAK_MATCH. A view that matches nothing well (ksdd's plain
  strips: 0.06-0.33) is no evidence of a turn however the search lands.
- TURNED_SHARE 0.25: one odd match among many is not a line that turns (l4v_cookie: a round cookie matched at
  95 deg once in 15); mpdd_metal_plate's plates lie turned in 2-3 of 15.
One image is no evidence: the part is taken as lying one way.

This module judges; it changes nothing. The eval's few-shot policy applies `turns` where it holds
(inspector_eval.ours); the product reports it at Teach and leaves the declaration to the line engineer, since a
wrongly placed part would be taught as OK by a turned copy of a part that must lie one way.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, TypeVar

import cv2
import numpy as np

from .align import locate, whole_image_box
from .align_search import Reference
from .config import EngineConfig
from .errors import ImageError

log = logging.getLogger(__name__)
T = TypeVar("T")

TURNED_MIN_DEG = 45.0
CONFIDENT_MATCH = 0.8
TURNED_SHARE = 0.25
# Locating costs 2-12 ms per image (whole-image views of 512-1024 px); past this many the share is settled.
MAX_IMAGES = 16


@dataclass(frozen=True)
class TurnEvidence:
    """Each taught image's angle to the first (degrees, in (-180, 180]), None where no confident match, and how
    well each matched it (inference.align's confidence; part_mirror compares the part's mirror image with them)."""

    angles_deg: tuple[Optional[float], ...]
    confidences: tuple[float, ...] = ()

    @property
    def turned(self) -> int:
        return sum(a is not None and abs(a) >= TURNED_MIN_DEG for a in self.angles_deg)

    @property
    def share(self) -> float:
        return self.turned / len(self.angles_deg) if self.angles_deg else 0.0

    @property
    def turns(self) -> bool:
        return bool(self.angles_deg) and self.share >= TURNED_SHARE

    def describe(self) -> str:
        if not self.angles_deg:
            return "one OK image: no evidence of how the part lies"
        return (f"{self.turned} of {len(self.angles_deg)} OK images lie turned by {TURNED_MIN_DEG:.0f} deg or more "
                f"from the first: the part {'turns' if self.turns else 'lies one way'}")

    def to_dict(self) -> dict:
        return {"angles_deg": [None if a is None else round(a, 1) for a in self.angles_deg],
                "confidences": [round(c, 3) for c in self.confidences], "turned": self.turned, "turns": self.turns}


def taught_turns(images: Sequence[np.ndarray], box: Optional[tuple[int, int, int, int]] = None) -> TurnEvidence:
    """How the part lies across `images` (RGB or gray, the taught OK images; the first MAX_IMAGES are read),
    located within `box` of the first (x0, y0, x1, y1; default: the whole image)."""
    images = list(images)[:MAX_IMAGES]
    if len(images) < 2:
        return TurnEvidence(())
    first = images[0]
    h, w = first.shape[:2]
    reference = Reference.from_image(first, box or whole_image_box(w, h))
    angles: list[Optional[float]] = []
    confidences: list[float] = []
    for image in images[1:]:
        placement = locate(reference, image, "rigid", 180.0)
        confident = placement.confidence >= CONFIDENT_MATCH and math.isfinite(placement.angle_deg)
        angles.append(placement.angle_deg if confident else None)
        confidences.append(float(placement.confidence))
    return TurnEvidence(tuple(angles), tuple(confidences))


def judged(judge: Callable[[Sequence[np.ndarray]], T], crops: Sequence[np.ndarray], what: str) -> Optional[T]:
    """judge(crops), or None where it fails (logged as not knowing whether `what`): the judgements give advice
    only, so judging never fails a fit."""
    try:
        return judge(crops)
    except (cv2.error, ValueError, ImageError) as exc:
        log.warning("could not judge whether %s: %s", what, exc)
        return None


def asks_about_turns(config: EngineConfig) -> bool:
    """Whether a new fit with `config` would be told that its OK images lie turned: the model neither knows the
    part turns (part_symmetry) nor turns it back (align: rigid)."""
    return config.part_symmetry == "none" and config.align != "rigid"


def turn_advice(evidence: TurnEvidence) -> str:
    """What such a fit says when its OK images lie turned; "" when they do not. Said, not applied: see the
    module's note (inference.part_mirror.symmetry_advice decides when it is asked)."""
    if not evidence.turns:
        return ""
    return (f"{evidence.describe()}. If parts reach the camera at any angle, say so (Teach: 'Lies at any angle', "
            "--set part_symmetry=turns) or locate the part (--set align=rigid), and fit again.")
