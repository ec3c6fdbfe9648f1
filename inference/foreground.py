"""The part's foreground in the feature grid, decided once per model, and the part's declared symmetry.

Foreground (`foreground_mask: auto`, after AnomalyDINO's zero-shot masking): for each taught OK image a
1-component PCA of its own patch features, split at Otsu's threshold on the first component, the side
that holds the image centre taken as the part; dilated and closed (3 x 3). The model's mask is the
union over the taught images, dilated once more, so a part that sits a patch off where it was taught, or
a defect at its edge, stays inside. Patches outside the mask neither enter the memory bank nor score.
It is decided at fit from the taught images only, never per inspected image: a per-image mask could
cut a defect that changes the part's outline. Where the part fills the view (a surface, a texture) or
the split is unstable, no mask is applied and the model says why.

Symmetry (`part_symmetry`): the dihedral copies of each taught crop (made square first, so a quarter
turn keeps the geometry) and the same transform of its token masks. `turns` (a part that lies at any angle, as
AnomalyDINO rotates its references for parts that turn) adds turns between the quarter turns (every 22.5 deg):
the square turned about its centre, the corners it brings in from outside filled by reflection for the network's
context and left out of the token masks (they are no part of the taught image). No mirror: a mirrored part (a
left-hand thread) is another part.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np

FOREGROUND_MODES = ("none", "auto")
SYMMETRIES = ("none", "mirror", "rot90", "rot180", "any", "turns")
# `turns`: the quarter turns of 0, 22.5, 45 and 67.5 deg (counter-clockwise): every 22.5 deg. Measured on
# mvtec_screw (screws lie at any angle), image AUROC at 1 / 2 / 4 / 8 / 16 OK images: 0.570 / 0.597 / 0.562 / 0.645 /
# 0.691 against the eval's mirrors' 0.519 / 0.505 / 0.521 / 0.606 / 0.626 (docs/benchmarks.md, issue 25).

# Grid transforms: k quarter turns (counter-clockwise, np.rot90), then an optional left-right mirror.
_IDENTITY = (0, False)
TRANSFORMS = {
    "none": (_IDENTITY,),
    "mirror": (_IDENTITY, (0, True), (2, True)),  # left-right, top-bottom (= half turn of the left-right)
    "rot180": (_IDENTITY, (2, False)),
    "rot90": (_IDENTITY, (1, False), (2, False), (3, False)),
    "any": (_IDENTITY, (1, False), (2, False), (3, False), (0, True), (1, True), (2, True), (3, True)),
    # (quarter turns, mirror, degrees turned first)
    "turns": (_IDENTITY, *((k, False, a) for a in (0.0, 22.5, 45.0, 67.5) for k in range(4) if k or a)),
}

# Masking is skipped when the union covers more than this share of the grid (the part fills the view) or
# less than the lower share (no part found): then every patch is inspected.
MAX_SHARE = 0.85
MIN_SHARE = 0.05


def transforms(symmetry: str) -> tuple:
    if symmetry not in TRANSFORMS:
        raise ValueError(f"unknown part symmetry {symmetry!r}; one of {SYMMETRIES}")
    return TRANSFORMS[symmetry]


def apply(a: np.ndarray, transform: tuple, fill=None) -> np.ndarray:
    """An image (H x W x ...) or grid (h x w) turned and mirrored by `transform` (quarter turns, mirror, and
    optionally degrees turned first about the centre). A turn between quarter turns samples the nearest cell of a
    grid (a bool mask: False outside it; others: `fill`, by default the zero of their type) and fills an image's
    (uint8 H x W x 3) corners by reflection."""
    k, mirror = transform[:2]
    degrees = transform[2] if len(transform) > 2 else 0.0
    if degrees:
        a = _turned(a, degrees, fill)
    out = np.rot90(a, k, axes=(0, 1)) if k else a
    if mirror:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def _turned(a: np.ndarray, degrees: float, fill) -> np.ndarray:
    h, w = a.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0)
    if a.ndim == 3 and a.dtype == np.uint8:  # an image: the network sees plausible context in the corners
        return cv2.warpAffine(a, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    grid = a.astype(np.float32)  # masks and index grids: exact in float32 (at most a few thousand cells)
    value = float(0 if fill is None else fill)
    out = cv2.warpAffine(grid, matrix, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=value)
    return out > 0.5 if a.dtype == bool else out.astype(a.dtype)


def symmetric_copies(pixels: np.ndarray, symmetry: str, size: int) -> list[np.ndarray]:
    """The turned / mirrored copies of a crop (not the crop itself), each resized to size x size first."""
    steps = transforms(symmetry)[1:]
    if not steps:
        return []
    square = cv2.resize(pixels, (size, size), interpolation=cv2.INTER_AREA) if pixels.shape[:2] != (size, size) \
        else pixels
    return [apply(square, t) for t in steps]


def image_foreground(features: np.ndarray) -> np.ndarray:
    """C x h x w patch features of one image -> bool h x w: the part, by the first principal component."""
    c, h, w = features.shape
    x = features.reshape(c, -1).T.astype(np.float64)
    x -= x.mean(axis=0)
    # The C x C covariance's top eigenvector: an SVD of the N x C matrix took seconds on a busy 2-core CPU
    # (threaded LAPACK), this takes milliseconds. eigh gives ascending eigenvalues: the last is the first.
    _, vectors = np.linalg.eigh(x.T @ x)
    pc = x @ vectors[:, -1]
    span = pc.max() - pc.min()
    if span <= 0:
        return np.ones((h, w), bool)
    scaled = np.round(255 * (pc - pc.min()) / span).astype(np.uint8).reshape(h, w)
    thr, _ = cv2.threshold(scaled, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    fg = scaled > thr
    # The sign of a principal component is arbitrary: the side that holds the image centre is the part.
    cy, cx = slice(h // 4, h - h // 4), slice(w // 4, w - w // 4)
    if fg[cy, cx].mean() < 0.5:
        fg = ~fg
    return _grow(fg, 1)


def _grow(mask: np.ndarray, dilate: int) -> np.ndarray:
    kernel = np.ones((3, 3), np.uint8)
    m = mask.astype(np.uint8)
    if dilate:
        m = cv2.dilate(m, kernel, iterations=dilate)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, kernel)
    return m.astype(bool)


@dataclass(frozen=True)
class FgMask:
    """A model's foreground decision: `mask` (bool token grid) when applied, else None and why not."""

    mask: Optional[np.ndarray]
    note: str
    share: float

    def to_dict(self) -> dict:
        out = {"mode": "auto", "applied": self.mask is not None, "note": self.note, "share": round(self.share, 4)}
        if self.mask is not None:
            out["shape"] = list(self.mask.shape)
            out["rows"] = ["".join("1" if v else "0" for v in row) for row in self.mask]
        return out


def decide(per_image: Sequence[np.ndarray]) -> FgMask:
    """The model's mask from the taught images' own masks (image_foreground each): their union, grown."""
    if not per_image:
        return FgMask(None, "no taught image", 1.0)
    union = np.logical_or.reduce([np.asarray(m, bool) for m in per_image])
    mask = _grow(union, 1)
    share = float(mask.mean())
    if share > MAX_SHARE:
        return FgMask(None, f"the part fills {share:.0%} of the view: every patch is inspected", share)
    if share < MIN_SHARE:
        return FgMask(None, f"no part found ({share:.0%} of the view): every patch is inspected", share)
    return FgMask(mask, f"the part covers {share:.0%} of the view: patches outside it are not inspected", share)


def from_record(data: dict) -> Optional[np.ndarray]:
    """The bool token grid a manifest's "foreground" holds, or None (no mask: every patch inspected)."""
    if not data or not data.get("applied"):
        return None
    rows = data.get("rows") or []
    mask = np.array([[ch == "1" for ch in row] for row in rows], bool)
    if list(mask.shape) != list(data.get("shape", [])):
        raise ValueError("the model's foreground mask is damaged")
    mask.setflags(write=False)
    return mask


def pixel_foreground(mask: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """The token-grid mask over an out_h x out_w box (each pixel takes the patch it lies in)."""
    return cv2.resize(mask.astype(np.uint8), (out_w, out_h), interpolation=cv2.INTER_NEAREST).astype(bool)


def restrict(fg: Optional[np.ndarray], mask: np.ndarray, pmask: np.ndarray, patch_scores: np.ndarray):
    """(pixel mask, patch mask, patch scores) with the patches outside the part left out: their scores set to
    the median of the kept ones (the smoothed map must not bleed a background score into the part, nor a
    zero hide its edge), their pixels out of the mask. fg None: unchanged."""
    if fg is None or fg.shape != patch_scores.shape:
        return mask, pmask, patch_scores
    pmask = pmask & fg
    scores = patch_scores.copy()
    scores[~fg] = float(np.median(patch_scores[pmask])) if pmask.any() else 0.0
    return mask & pixel_foreground(fg, *mask.shape), pmask, scores


def foreground_overlay(model, result) -> Optional[np.ndarray]:
    """For a viewer: a bool mask over `result`'s box of what the model's foreground mask left out (True:
    not inspected), or None when the model inspects every patch. The one place a client learns what the
    model masked (drawn as a grey veil by the GUI)."""
    fg = getattr(model, "foreground", None)
    if fg is None or result.mask.size == 0 or result.location is not None:
        return None
    h, w = result.mask.shape
    return ~pixel_foreground(fg, h, w)
