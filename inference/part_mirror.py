"""Whether the part's mirror image looks like its OK parts: the evidence against mirrored copies.

`part_symmetry: mirror` (and `any`) teaches every OK image mirrored too. That is right for a part that looks the
same mirrored (a bottle from above, a plain plate), and wrong for a chiral one: a metal nut lying upside down, a
cable whose wires come in the wrong order or a printed label are mirror images of an OK part, and mirrored copies
would teach them as OK.

The taught images say which: the first is located, at any angle, in its own mirror image (left-right and
top-bottom, the better of the two), and that match is compared with how well the other taught images match the
first (part_turns already locates each of them on it). A part whose mirror image matches it clearly worse than
its OK images match each other is chiral.

Why these bounds (measured on the six dev sets' first OK images in the eval's order, 2026-12-04,
docs/benchmarks.md):
- MIRROR_MARGIN 0.1: on every dev set the mirror image matches at least as well as the taught images, less 0.04
  (mvtec_screw: 0.91 against 0.95; mvtec_bottle 0.99 against 0.99); a chiral "F" drawn on a textured plate
  matches its mirror image at 0.70 against 0.97 (tests/test_part_mirror.py).
- Only where the taught images match each other confidently (part_turns.CONFIDENT_MATCH, median): a texture
  (ksdd: 0.21-0.29) or a product whose shape varies piece by piece (l4v_cookie: 0.64-0.73) gives no evidence
  either way.
One image is no evidence: nothing says how closely OK parts match. Nor is a small chiral mark on a symmetric part
told (the match is over the whole view): an "F" painted on mvtec_bottle matched its mirror image at 0.94 against
0.99 at a third of the bottle's width, at 0.88 at half.

This module judges; it changes nothing. The eval's few-shot policy teaches no mirrored copies of a chiral part
(inspector_eval.ours). The product says so at Teach when mirrors are declared for one, and, with few OK images,
says that declaring them would help where the part looks the same mirrored (+0.02 mean image AUROC with the
product's defaults); the declaration stays the line engineer's, since a small mirrored print is not told.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from . import part_turns
from .align import locate, whole_image_box
from .align_search import Reference
from .config import EngineConfig
from .part_turns import CONFIDENT_MATCH, MAX_IMAGES, TurnEvidence, taught_turns

MIRROR_MARGIN = 0.1
# Up to this many taught OK images, a fit of a part that looks the same mirrored is told that declaring it would
# help: mirrored copies matter most with few images (the eval's few-shot policy stops at 16 too).
SUGGEST_UP_TO = 16
# What declaring it measured with the product's defaults (docs/benchmarks.md, issue 25, thirteenth session).
MIRROR_GAIN = "+0.022 mean image AUROC over the six dev sets at 1-16 OK images"
# part_symmetry values whose copies include mirror images (inference.foreground.TRANSFORMS).
MIRRORING = ("mirror", "any")


@dataclass(frozen=True)
class MirrorEvidence:
    """How well the first taught image's mirror image matches it (None: one image, not measured), and how well
    the other taught images match it."""

    mirror_confidence: Optional[float]
    taught_confidences: tuple[float, ...]

    @property
    def taught_match(self) -> Optional[float]:
        return statistics.median(self.taught_confidences) if self.taught_confidences else None

    @property
    def judged(self) -> bool:
        """Whether the images say anything: two or more, matching each other confidently."""
        return self.mirror_confidence is not None and (self.taught_match or 0.0) >= CONFIDENT_MATCH

    @property
    def chiral(self) -> bool:
        return self.judged and self.mirror_confidence < self.taught_match - MIRROR_MARGIN

    def describe(self) -> str:
        if self.mirror_confidence is None or not self.taught_confidences:
            return "one OK image: no evidence of whether the part looks the same mirrored"
        if not self.judged:
            return (f"the OK images match each other at {self.taught_match:.2f}, too loosely to judge whether the "
                    "part looks the same mirrored")
        pair = f"{self.mirror_confidence:.2f} against {self.taught_match:.2f} between OK images"
        if self.chiral:
            return f"the part's mirror image does not match it as its OK images do ({pair}): mirrored, it is " \
                   "another part"
        return f"the part looks the same mirrored ({pair})"

    def to_dict(self) -> dict:
        return {"mirror_confidence": None if self.mirror_confidence is None else round(self.mirror_confidence, 3),
                "taught_match": None if self.taught_match is None else round(self.taught_match, 3),
                "chiral": self.chiral}


def taught_mirror(images: Sequence[np.ndarray], turns: Optional[TurnEvidence] = None,
                  box: Optional[tuple[int, int, int, int]] = None) -> MirrorEvidence:
    """Whether the part in `images` (the taught OK images, RGB or gray; the first MAX_IMAGES are read) looks the
    same mirrored, within `box` of the first (default: the whole image). `turns`: part_turns' evidence for the
    same images and box, when already measured (its matches are reused)."""
    images = list(images)[:MAX_IMAGES]
    if len(images) < 2:
        return MirrorEvidence(None, ())
    if turns is None or len(turns.confidences) != len(images) - 1:
        turns = taught_turns(images, box)
    first = images[0]
    h, w = first.shape[:2]
    reference = Reference.from_image(first, box or whole_image_box(w, h))
    mirrored = max(locate(reference, np.ascontiguousarray(view), "rigid", 180.0).confidence
                   for view in (first[:, ::-1], first[::-1]))
    return MirrorEvidence(float(mirrored), turns.confidences)


def symmetry_advice(config: EngineConfig, crops: Sequence[np.ndarray]) -> str:
    """What a new fit says about the part's symmetry from its taught images (crops), "" for nothing. Said, not
    applied (the module's note); one of:
    - the OK images lie turned while the model neither knows it nor locates the part (part_turns.turn_advice);
    - mirrored copies are taught (part_symmetry mirror or any) of a chiral part;
    - up to SUGGEST_UP_TO OK images, no symmetry declared, and a part that looks the same mirrored: declaring it
      would teach each image mirrored too.
    The taught images are located once for all three."""
    asks_turns = part_turns.asks_about_turns(config)
    mirrors = config.part_symmetry in MIRRORING
    suggests = config.part_symmetry == "none" and not config.augment and len(crops) <= SUGGEST_UP_TO
    if not (asks_turns or mirrors or suggests):
        return ""
    turns = part_turns.judged(taught_turns, crops, "the OK images lie turned")
    if turns is None:
        return ""
    if turns.turns and asks_turns:
        return part_turns.turn_advice(turns)
    if not mirrors and (turns.turns or not suggests):  # a part that turns: the turns are the advice, not mirrors
        return ""
    mirror = part_turns.judged(lambda images: taught_mirror(images, turns), crops, "the part looks the same mirrored")
    if mirror is None or not mirror.judged:
        return ""
    if mirrors:
        if not mirror.chiral:
            return ""
        return (f"{mirror.describe()}. Mirrored copies (part_symmetry: {config.part_symmetry}) teach a mirrored "
                "part (lying upside down, wired the other way round) as OK. Unless such parts are OK, choose a "
                "symmetry without mirrors (Teach: 'Not symmetric', 'Looks the same turned half way', 'Lies at any "
                "angle') and fit again.")
    if mirror.chiral:
        return ""
    return (f"{mirror.describe()}. With few OK images, teaching each one mirrored too finds more defects (Teach: "
            f"'Looks the same mirrored', --set part_symmetry=mirror; {MIRROR_GAIN}), unless a mirrored part (a print "
            "or a label the other way round) would be a defect. Fit again to use it.")
