"""Part location: register each image to a taught reference before the ROI is cut.

A project with `align: translation` or `align: rigid` keeps a reference: the
locate region (the ROI's box grown by LOCATE_MARGIN, or a region the user
draws) cut from its first OK image. Every image, at fit and at inspection, is
registered to it, giving a Placement: a rigid 2 x 3 matrix from reference
image pixels to this image's pixels, and a confidence in [-1, 1].

How (chosen by measurement, bench/bench_align.py and docs/benchmarks.md; the
searches themselves are in inference.align_search):
1. ORB features on the reference and the image, ratio-tested matches, and
   cv2.estimateAffinePartial2D with RANSAC (scale forced to 1). Fast and exact
   on textured parts, any angle.
2. When that is not convincing (few matches on a plain part), a correlation
   search: the reference turned in steps over the allowed angles and slid over
   the image with cv2.matchTemplate at a coarse scale, then refined in small
   windows at half and full working scale (finer angles, sub-pixel peaks).
Both run at a working scale (the locate region's long side WORK_SIDE px).
The confidence is the same for both: the zero-mean normalised correlation
between the reference and the image warped back onto it, so a blank view
or another object scores near 0 and a placed part near 1.
3. Of poses that match about as well, the one turned least wins: a
   symmetric part (a six-spoked wheel) fits at several turns, and turning
   the whole view by 50 deg where 10 deg fit as well turned the camera-fixed
   background and lighting for nothing.
4. A part that did not move is not moved: when the reference matches the
   image where it was taught (the identity) within UNMOVED_MARGIN of the best
   pose found, the placement is the identity, and the ROI is cut exactly as
   without alignment (no resampling). Without this a rotationally symmetric
   part (a bottle seen from above) was turned by an arbitrary angle and the
   whole view resampled for nothing (docs/benchmarks.md).
This module decides the pose (locate), places the ROI on it, and holds a
model's Locator.

Coordinates are continuous image pixels as in inference.roi (pixel (r, c)
covers [c, c+1) x [r, r+1)); OpenCV's index coordinates differ by 0.5 and
are converted where OpenCV is called.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

# Reference and WORK_SIDE are imported from here too (inference.placement, tests, bench).
from .align_search import WORK_SIDE, Reference, by_correlation, by_features, index_form, nearer_turn
from .config import ALIGN_MODES  # noqa: F401  (the modes live with the config keys)
from .errors import ImageError
from .roi import full_image_roi

# The locate region by default: the ROI's box grown by this share of its size on each side.
LOCATE_MARGIN = 0.25
# Features: the fallback runs when the feature match's confidence is below this.
FEATURES_GOOD_ENOUGH = 0.6
# The identity wins when its confidence is within this of the best pose's. Measured on unmoved
# whole-image views (mvtec_bottle): the search's best beats the identity by 0.000-0.026 there,
# while a part moved by a few pixels or degrees loses 0.05 or more (mvtec_screw, mpdd_metal_plate).
UNMOVED_MARGIN = 0.03
# A pose whose match is below WEAK_MATCH and beats the unmoved pose by less than WEAK_MATCH_GAIN is not
# applied: the part is inspected where it lies. Measured on whole-image views, 40 test images each (median
# best match / gain over unmoved): l4v_cookie 0.66 / 0.10 (every cookie has its own shape), mpdd_metal_plate
# 0.84 / 0.12, visa_fryum 0.87 / 0.30, mvtec_screw 0.93 / 0.75; a part pushed half out of view 0.73 / 0.61.
WEAK_MATCH = 0.75
WEAK_MATCH_GAIN = 0.25
# Stored with an aligned model: a model fitted by another version of location is refitted.
LOCATE_VERSION = 3


@dataclass(frozen=True)
class Placement:
    """Where the reference part lies in an image."""

    matrix: np.ndarray  # 2 x 3: reference image px -> this image px (continuous coordinates)
    confidence: float  # normalised correlation with the reference after placing, in [-1, 1]
    method: str  # "features", "correlation" or "unmoved" (the part lies where it was taught)

    @property
    def unmoved(self) -> bool:
        return self.method == "unmoved"

    @property
    def angle_deg(self) -> float:
        return math.degrees(math.atan2(self.matrix[1, 0], self.matrix[0, 0]))

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Reference points (N x 2) -> this image's points."""
        pts = np.asarray(points, np.float64)
        return pts @ self.matrix[:, :2].T + self.matrix[:, 2]

    def to_dict(self) -> dict:
        return {"angle_deg": round(self.angle_deg, 3), "shift_px": [round(float(v), 2) for v in self.matrix[:, 2]],
                "confidence": round(self.confidence, 4), "method": self.method}


IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def default_locate_box(roi, width: int, height: int) -> tuple[int, int, int, int]:
    """The ROI's box grown by LOCATE_MARGIN on each side, inside the image."""
    x0, y0, x1, y1 = roi.bounds()
    mx, my = (x1 - x0) * LOCATE_MARGIN, (y1 - y0) * LOCATE_MARGIN
    return (max(0, math.floor(x0 - mx)), max(0, math.floor(y0 - my)),
            min(width, math.ceil(x1 + mx)), min(height, math.ceil(y1 + my)))


def check_locate_box(box, width: int, height: int) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = (int(v) for v in box)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    if x1 - x0 < 16 or y1 - y0 < 16:
        raise ImageError(f"the locate region {list(box)} covers less than 16 x 16 px of the {width} x {height} "
                         "px reference image: draw it over the part")
    return x0, y0, x1, y1


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a after b, both 2 x 3."""
    a3, b3 = np.vstack([a, [0, 0, 1]]), np.vstack([b, [0, 0, 1]])
    return (a3 @ b3)[:2]


def locate(reference: Reference, image: np.ndarray, mode: str, max_angle_deg: float) -> Placement:
    """Register `image` (RGB or gray) to the reference; the caller judges the confidence."""
    if mode == "none":
        return Placement(IDENTITY.copy(), 1.0, "unmoved")
    work = reference.work_image(image)
    unmoved = reference.confidence(work, reference.identity_work())
    if unmoved >= 1.0 - UNMOVED_MARGIN:  # no pose can beat it by the margin: no search
        return Placement(IDENTITY.copy(), unmoved, "unmoved")
    max_angle = 0.0 if mode == "translation" else float(max_angle_deg)
    best: Optional[tuple[float, np.ndarray, str]] = None
    m = by_features(reference, work, max_angle)
    if m is not None:
        best = (reference.confidence(work, m), m, "features")
    if best is None or best[0] < FEATURES_GOOD_ENOUGH:
        m = by_correlation(reference, work, max_angle)
        conf = reference.confidence(work, m)
        if best is None or conf > best[0]:
            best = (conf, m, "correlation")
    conf, m, method = best
    nearer = nearer_turn(reference, work, m, conf, UNMOVED_MARGIN) if max_angle > 0 else None
    if nearer is not None:
        (conf, m), method = nearer, "correlation"
    if unmoved >= conf - UNMOVED_MARGIN:
        return Placement(IDENTITY.copy(), unmoved, "unmoved")
    if conf < WEAK_MATCH and conf - unmoved < WEAK_MATCH_GAIN:
        # No pose fits well and none fits much better than where the part lies (a product whose shape varies
        # piece by piece, like cookies): turning it to such a match moves good parts as often as it places
        # them. Inspect it where it lies. A part far from its place gains more and is still moved.
        return Placement(IDENTITY.copy(), conf, "unmoved")
    return Placement(reference._to_image(m), conf, method)


# -- placing the ROI on the located part --------------------------------------------------
def crop_matrix(placement: Placement, box: tuple[int, int, int, int]) -> np.ndarray:
    """2 x 3 map from the aligned crop's pixels (the ROI box in reference coordinates) to the image."""
    shift = np.array([[1.0, 0.0, box[0]], [0.0, 1.0, box[1]]])
    return _compose(placement.matrix, shift)


def aligned_crop(image: np.ndarray, placement: Placement, box: tuple[int, int, int, int]) -> tuple[np.ndarray, float]:
    """(the ROI box cut from `image` where the part lies, turned upright; share of it inside the image)."""
    w, h = box[2] - box[0], box[3] - box[1]
    ih, iw = image.shape[:2]
    if placement.unmoved and box[2] <= iw and box[3] <= ih:
        # Cut exactly as without alignment: same pixels, no resampling.
        return np.ascontiguousarray(image[box[1]:box[3], box[0]:box[2]]), 1.0
    m = index_form(crop_matrix(placement, box))
    crop = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    placed = corners @ crop_matrix(placement, box)[:, :2].T + crop_matrix(placement, box)[:, 2]
    inside = _polygon_inside_share(placed, iw, ih)
    return crop, inside


def _polygon_inside_share(pts: np.ndarray, width: int, height: int) -> float:
    """Share of a convex polygon's area that lies inside the image rectangle."""
    full = cv2.contourArea(pts.astype(np.float32))
    if full <= 0:
        return 0.0
    frame = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    area, _ = cv2.intersectConvexConvex(pts.astype(np.float32), frame)
    return float(area) / full


def map_to_image(values: np.ndarray, placement: Placement, box: tuple[int, int, int, int],
                 width: int, height: int, nearest: bool = False) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A map over the aligned crop -> (the map over its box in the image, that box)."""
    m = crop_matrix(placement, box)
    w, h = box[2] - box[0], box[3] - box[1]
    if placement.unmoved and box[2] <= width and box[3] <= height:
        return values, tuple(box)
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64) @ m[:, :2].T + m[:, 2]
    x0, y0 = max(0, math.floor(corners[:, 0].min())), max(0, math.floor(corners[:, 1].min()))
    x1, y1 = min(width, math.ceil(corners[:, 0].max())), min(height, math.ceil(corners[:, 1].max()))
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    to_box = _compose(np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0]]), m)
    flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    out = cv2.warpAffine(values, index_form(to_box), (x1 - x0, y1 - y0), flags=flags,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out, (x0, y0, x1, y1)


def whole_image_box(width: int, height: int) -> tuple[int, int, int, int]:
    r = full_image_roi(width, height)
    return 0, 0, int(r.w), int(r.h)


# -- the engine's side: a model's locator, and images prepared through it -----------------------
REFERENCE_FILE = "reference.png"


@dataclass
class Locator:
    """A model's alignment: its settings and its reference (None for align: none)."""

    mode: str
    max_angle_deg: float
    min_confidence: float
    reference: Optional[Reference]
    image_size: tuple[int, int] = (0, 0)  # the reference image's width, height

    def place(self, name: str, image: np.ndarray) -> tuple[Optional[Placement], str]:
        """(placement, "") or (placement or None, why the part counts as not found)."""
        placement = locate(self.reference, image, self.mode, self.max_angle_deg)
        if placement.confidence < self.min_confidence:
            return placement, (f"part not found: best match {placement.confidence:.2f} is below "
                               f"align_min_confidence {self.min_confidence:g}")
        return placement, ""

    def manifest(self, reference_name: str) -> dict:
        return {"mode": self.mode, "max_angle_deg": self.max_angle_deg, "min_confidence": self.min_confidence,
                "locate_box": list(self.reference.box), "reference_image": reference_name,
                "reference_file": REFERENCE_FILE, "reference_size": list(self.image_size), "work_side": WORK_SIDE,
                "locate_version": LOCATE_VERSION}


def prepare_located(images, roi, locator: Locator, first_index: int = 0, max_megapixels: float = 64.0,
                    names=None):
    """Like features.prepare, but each ROI crop is cut where the part lies, turned upright.

    The ROI is in reference-image pixels. An image whose part is not found gets
    `not_found` set.
    A drawn ROI that would reach more than 0.5% outside the image counts as not
    found too: the part is too close to the edge to be inspected whole. A
    whole-image ROI moves partly off the image with any shift: there the image
    border is replicated instead.
    """
    from .features import PreparedImage
    from .preprocess import RoiCrop, as_rgb8, image_name
    from .roi import crop_box

    box = crop_box(roi, *locator.image_size)
    whole = box == (0, 0, *locator.image_size)
    prepared = []
    for i, image in enumerate(images, start=first_index):
        name = names[i - first_index] if names else image_name(image, i)
        pixels = as_rgb8(image, max_megapixels, name)
        size = (pixels.shape[1], pixels.shape[0])
        placement, why = locator.place(name, pixels)
        crop, inside = aligned_crop(pixels, placement, box)
        if not why and inside < 0.995 and not whole:
            why = f"part not found whole: {100 * (1 - inside):.0f}% of the placed ROI lies outside the image"
        valid = _inside_image(pixels.shape[:2], placement, box) if whole and inside < 0.9999 else None
        prepared.append(PreparedImage(name, RoiCrop(crop, box), placement, size, why, valid))
    return prepared


def _inside_image(image_hw, placement: Placement, box) -> np.ndarray:
    """Pixels of the aligned crop that come from inside the image (not the filled border)."""
    w, h = box[2] - box[0], box[3] - box[1]
    ones = np.ones(image_hw, np.uint8)
    m = index_form(crop_matrix(placement, box))
    return cv2.warpAffine(ones, m, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0


def reference_png(reference: Reference) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(reference.pixels, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def reference_from_png(data: bytes, box) -> Reference:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ImageError(f"{REFERENCE_FILE} cannot be decoded")
    return Reference(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), tuple(box))
