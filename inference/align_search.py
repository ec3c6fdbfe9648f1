"""Part location's search: where the taught reference lies in an image, as a rigid map.

inference.align decides the pose (the identity, the least turn, the confidence
threshold); this module finds candidates for it, at a working scale (the
locate region's long side WORK_SIDE px):
1. ORB features on the reference and the image, ratio-tested matches, and
   cv2.estimateAffinePartial2D with RANSAC (scale forced to 1). Fast and exact
   on textured parts, any angle.
2. A correlation search: the reference turned in steps over the allowed angles
   and slid over the image with cv2.matchTemplate at a coarse scale, then
   refined in small windows at half and full working scale (finer angles,
   sub-pixel peaks).
3. Of a pose found turned far, a pose turned less that matches as well (a
   symmetric part fits at several turns).
Every map here is template-work -> image-work (continuous px at the working
scale); Reference turns one into reference px -> image px.

Coordinates are continuous image pixels as in inference.roi (pixel (r, c)
covers [c, c+1) x [r, r+1)); OpenCV's index coordinates differ by 0.5 and
are converted where OpenCV is called (index_form).
"""

from __future__ import annotations

import math
from typing import Optional

import cv2
import numpy as np

# Location works on the locate region scaled to this long side (px): enough detail to place a
# part within about one source pixel at 512 px, cheap enough for the speed budget.
WORK_SIDE = 192
MIN_INLIERS = 8
# Correlation search: coarse long side of the reference and the angle step there.
COARSE_SIDE = 32
MAX_SCALE_CHANGE = 0.1  # a match that shrinks or grows the part more than this is wrong
# A pose turned by NEARER_TURN_MIN_DEG or more is checked against poses turned at least NEARER_TURN_GAP_DEG
# less (see nearer_turn); the coarse check passes when their coarse peak is within NEARER_TURN_COARSE_GAP.
# Measured on visa_fryum (docs/benchmarks.md): its six-spoked parts were turned by up to 135 deg where
# 15 deg fit as well.
NEARER_TURN_MIN_DEG = 20.0
NEARER_TURN_GAP_DEG = 15.0
NEARER_TURN_COARSE_GAP = 0.1


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb


def _resize(gray: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return gray
    h, w = gray.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def index_form(m: np.ndarray) -> np.ndarray:
    """A continuous-coordinate affine map in OpenCV's index coordinates (pixel centres at integers)."""
    out = m.astype(np.float64).copy()
    out[:, 2] = m[:, :2] @ np.array([0.5, 0.5]) + m[:, 2] - 0.5
    return out


def _rotation(angle_deg: float, centre: tuple[float, float], shift=(0.0, 0.0)) -> np.ndarray:
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    cx, cy = centre
    return np.array([[c, -s, cx - c * cx + s * cy + shift[0]], [s, c, cy - s * cx - c * cy + shift[1]]])


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float32).ravel()
    b = b.astype(np.float32).ravel()
    a = a - a.mean()
    b = b - b.mean()
    denom = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return float(np.dot(a, b) / denom) if denom > 1e-6 else 0.0


class Reference:
    """The taught location reference: the locate region of the reference image, ready to match."""

    def __init__(self, pixels: np.ndarray, box: tuple[int, int, int, int]):
        self.pixels = np.ascontiguousarray(pixels)  # the locate region, RGB (stored in the project)
        self.box = tuple(int(v) for v in box)  # where it lies in the reference image
        h, w = pixels.shape[:2]
        self.scale = min(1.0, WORK_SIDE / max(h, w))
        self.work = _resize(_gray(pixels), self.scale)
        self.orb = cv2.ORB_create(nfeatures=400, edgeThreshold=15, patchSize=15)
        self.keypoints, self.descriptors = self.orb.detectAndCompute(self.work, None)
        self.coarse_scale = min(1.0, COARSE_SIDE / max(self.work.shape))
        self.coarse = _resize(self.work, self.coarse_scale)
        self.work_half = _resize(self.work, 0.5)

    @classmethod
    def from_image(cls, image: np.ndarray, box: tuple[int, int, int, int]) -> "Reference":
        x0, y0, x1, y1 = box
        return cls(image[y0:y1, x0:x1], box)

    # work coordinates of the template: p_t = scale * (p_ref - origin); of the image: p_w = scale * p
    def _to_image(self, m_work: np.ndarray) -> np.ndarray:
        """Template-work -> image-work map as reference px -> image px."""
        s, (ox, oy) = self.scale, self.box[:2]
        a = m_work[:, :2]
        t = m_work[:, 2] / s - a @ np.array([ox, oy], np.float64)
        return np.hstack([a, t[:, None]])

    def work_image(self, image: np.ndarray) -> np.ndarray:
        """An image (RGB or gray) in gray at the working scale, ready to match against this reference."""
        return _resize(_gray(image), self.scale)

    def identity_work(self) -> np.ndarray:
        """The identity (the part where it was taught) as a template-work -> image-work map."""
        s, (ox, oy) = self.scale, self.box[:2]
        return np.array([[1.0, 0.0, s * ox], [0.0, 1.0, s * oy]])

    def confidence(self, image_work: np.ndarray, m_work: np.ndarray) -> float:
        th, tw = self.work.shape
        placed = cv2.warpAffine(image_work, index_form(m_work), (tw, th),
                                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        return _ncc(self.work, placed)


def by_features(ref: Reference, work: np.ndarray, max_angle: float) -> Optional[np.ndarray]:
    if ref.descriptors is None or len(ref.keypoints) < MIN_INLIERS:
        return None
    kps, desc = ref.orb.detectAndCompute(work, None)
    if desc is None or len(kps) < MIN_INLIERS:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(ref.descriptors, desc, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
    if len(good) < MIN_INLIERS:
        return None
    src = np.float32([ref.keypoints[g.queryIdx].pt for g in good]) + 0.5  # index -> continuous
    dst = np.float32([kps[g.trainIdx].pt for g in good]) + 0.5
    if max_angle == 0.0:
        # Translation only: the median shift of the matches that agree with it (a 1-D RANSAC).
        shifts = dst - src
        median = np.median(shifts, axis=0)
        agree = np.linalg.norm(shifts - median, axis=1) < 3.0
        if agree.sum() < MIN_INLIERS:
            return None
        t = shifts[agree].mean(axis=0)
        return np.array([[1.0, 0.0, t[0]], [0.0, 1.0, t[1]]])
    m, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=2.5,
                                             maxIters=2000, confidence=0.995, refineIters=10)
    if m is None or inliers is None or int(inliers.sum()) < MIN_INLIERS:
        return None
    scale = math.hypot(m[0, 0], m[1, 0])
    if abs(scale - 1.0) > MAX_SCALE_CHANGE:
        return None
    angle = math.degrees(math.atan2(m[1, 0], m[0, 0]))
    if abs(angle) > max_angle + 1.0:
        return None
    # Rigid: drop the scale, keep where the matched points' centre lands.
    keep = inliers.ravel().astype(bool)
    centre = src[keep].mean(axis=0)
    landed = m[:, :2] @ centre + m[:, 2]
    r = m[:, :2] / scale
    return np.hstack([r, (landed - r @ centre)[:, None]])


def _angles(max_angle: float, step: float) -> np.ndarray:
    if max_angle <= 0:
        return np.zeros(1)
    if max_angle >= 180:
        return np.arange(-180.0, 180.0, step)
    n = int(math.ceil(max_angle / step))
    return np.linspace(-max_angle, max_angle, 2 * n + 1)


def _coarse_step(ref: Reference) -> float:
    """The angle step that moves the coarse reference's rim by about one coarse pixel."""
    th, tw = ref.coarse.shape
    return max(2.0, math.degrees(1.5 / (0.5 * max(th, tw))))


def _coarse_best(ref: Reference, work: np.ndarray, angles) -> tuple[float, float, tuple[float, float]]:
    """(peak, angle, (dx, dy)): the best coarse match over `angles`, the reference turned about its centre and
    slid over the whole image with cv2.matchTemplate."""
    cs = ref.coarse_scale
    tmpl = ref.coarse
    th, tw = tmpl.shape
    image = _resize(work, cs)
    # Pad so the reference may lie partly outside the view (and a whole-image reference can shift).
    py, px = th // 2, tw // 2
    padded = cv2.copyMakeBorder(image, py, py, px, px, cv2.BORDER_REPLICATE)
    centre = (tw / 2, th / 2)
    best = (-2.0, 0.0, (0.0, 0.0))
    for angle in angles:
        # Turning the reference by angle about its centre; corners come from the replicated border.
        rot = _rotation(angle, centre)
        turned = cv2.warpAffine(tmpl, index_form(rot), (tw, th), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
        if float(turned.std()) < 1e-3:
            continue
        res = cv2.matchTemplate(padded, turned, cv2.TM_CCOEFF_NORMED)
        _, peak, _, loc = cv2.minMaxLoc(res)
        if peak > best[0]:
            best = (peak, float(angle), (loc[0] - px, loc[1] - py))
    return best


def _refined(ref: Reference, work: np.ndarray, coarse, turns: bool) -> np.ndarray:
    """A coarse match refined at half the work scale, then at the work scale: finer angles (when `turns`),
    a small window, sub-pixel peaks."""
    _, angle, (dx, dy) = coarse
    th, tw = ref.coarse.shape
    step = _coarse_step(ref)
    # Template (coarse) -> image (coarse): turn about the centre, then shift by the match position.
    m = _rescaled(_rotation(angle, (tw / 2, th / 2), (dx, dy)), ref.coarse_scale, 0.5)
    m = _match_around(ref.work_half, _resize(work, 0.5), m, step / 4, 4 * int(turns), radius=4)
    m = _rescaled(m, 0.5, 1.0)
    return _match_around(ref.work, work, m, step / 16, 2 * int(turns), radius=3)


def by_correlation(ref: Reference, work: np.ndarray, max_angle: float) -> np.ndarray:
    """Coarse search over angles and positions with matchTemplate, refined at finer scales and angles."""
    coarse = _coarse_best(ref, work, _angles(max_angle, _coarse_step(ref)))
    return _refined(ref, work, coarse, max_angle != 0.0)


def nearer_turn(ref: Reference, work: np.ndarray, m_work: np.ndarray, conf: float, margin: float):
    """(confidence, map) of a pose turned at least NEARER_TURN_GAP_DEG less than `m_work` that matches as well
    (within `margin`), or None. A symmetric part (a six-spoked wheel) fits at several turns: the
    smallest turns the view least (the camera-fixed background and lighting with it)."""
    angle = math.degrees(math.atan2(m_work[1, 0], m_work[0, 0]))
    if abs(angle) < NEARER_TURN_MIN_DEG:
        return None
    # Coarse first, like for like (the found turn's own coarse peak): most parts fit at one turn only,
    # and for them this costs one coarse pass.
    here = _coarse_best(ref, work, [angle])
    other = _coarse_best(ref, work, _angles(abs(angle) - NEARER_TURN_GAP_DEG, _coarse_step(ref)))
    if other[0] < here[0] - NEARER_TURN_COARSE_GAP:
        return None
    m = _refined(ref, work, other, True)
    c = ref.confidence(work, m)
    return (c, m) if c >= conf - margin else None


def _rescaled(m: np.ndarray, scale_from: float, scale_to: float) -> np.ndarray:
    """A template -> image map at one scale, as the same map at another (both sides scale alike)."""
    out = m.copy()
    out[:, 2] *= scale_to / scale_from
    return out


def _subpixel(res: np.ndarray, x: int, y: int) -> tuple[float, float]:
    """Parabola through the peak and its neighbours, per axis."""
    def vertex(a, b, c):
        d = a - 2 * b + c
        return 0.0 if d >= 0 else float(np.clip(0.5 * (a - c) / d, -0.5, 0.5))

    h, w = res.shape
    fx = vertex(res[y, x - 1], res[y, x], res[y, x + 1]) if 0 < x < w - 1 else 0.0
    fy = vertex(res[y - 1, x], res[y, x], res[y + 1, x]) if 0 < y < h - 1 else 0.0
    return x + fx, y + fy


def _match_around(tmpl: np.ndarray, image: np.ndarray, guess: np.ndarray, angle_step: float, steps: int,
                  radius: int) -> np.ndarray:
    """Best rigid map near `guess` (template -> image, continuous px at this scale): angles guess +- steps x
    angle_step, positions +- radius px, by normalised correlation with a sub-pixel peak."""
    th, tw = tmpl.shape
    centre = (tw / 2, th / 2)
    angle0 = math.degrees(math.atan2(guess[1, 0], guess[0, 0]))
    target = guess[:, :2] @ np.array(centre) + guess[:, 2]  # where the template's centre lands
    # The turned template's top-left lies at target - centre; search +- radius px around it.
    pad_y, pad_x = th + radius + 2, tw + radius + 2
    padded = cv2.copyMakeBorder(image.astype(np.float32), pad_y, pad_y, pad_x, pad_x, cv2.BORDER_REPLICATE)
    left = int(round(target[0] - centre[0])) - radius
    top = int(round(target[1] - centre[1])) - radius
    top_c = min(max(top + pad_y, 0), padded.shape[0] - th - 2 * radius)
    left_c = min(max(left + pad_x, 0), padded.shape[1] - tw - 2 * radius)
    top, left = top_c - pad_y, left_c - pad_x
    window = padded[top_c:top_c + th + 2 * radius, left_c:left_c + tw + 2 * radius]
    best = (-2.0, angle0, target)
    t32 = tmpl.astype(np.float32)
    for k in range(-steps, steps + 1):
        angle = angle0 + k * angle_step
        turned = cv2.warpAffine(t32, index_form(_rotation(angle, centre)), (tw, th), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
        res = cv2.matchTemplate(window, turned, cv2.TM_CCOEFF_NORMED)
        _, peak, _, loc = cv2.minMaxLoc(res)
        if peak > best[0]:
            x, y = _subpixel(res, *loc)
            best = (peak, angle, np.array([left + x + centre[0], top + y + centre[1]]))
    _, angle, landed = best
    return _rotation(angle, centre, (landed[0] - centre[0], landed[1] - centre[1]))
