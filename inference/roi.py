"""ROI shapes as plain data: JSON round-trip, bounding box, masks at any resolution.

Coordinates are image pixels with the origin at the top-left corner of the
top-left pixel, x to the right and y down (row-major numpy images). A pixel
(row r, column c) covers [c, c+1) x [r, r+1) and its centre is (c+0.5, r+0.5).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Union

import numpy as np

from .errors import RoiError


# Sane ranges: no camera image is a million pixels across (a ROI is checked against its image later, but a
# centre or size past this is a typo or an attack, and angles beyond a full turn lose precision in cos/sin).
MAX_COORD_PX = 1_000_000.0
MAX_ANGLE_DEG = 360.0


def _finite(name: str, value: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise RoiError(f"ROI field '{name}' must be a number, got {value!r}") from None
    except OverflowError:
        raise RoiError(f"ROI field '{name}' is too large for a number") from None
    if not math.isfinite(value):
        raise RoiError(f"ROI field '{name}' must be finite, got {value!r}")
    if name == "angle_deg":
        if abs(value) > MAX_ANGLE_DEG:
            raise RoiError(f"ROI field 'angle_deg' must be between -{MAX_ANGLE_DEG:g} and {MAX_ANGLE_DEG:g} "
                           f"degrees, got {value:g}")
    elif abs(value) > MAX_COORD_PX:
        raise RoiError(f"ROI field '{name}' must be between -{MAX_COORD_PX:g} and {MAX_COORD_PX:g} px, got {value:g}")
    return value


@dataclass(frozen=True)
class Rect:
    """Rectangle centred at (cx, cy), size w x h, rotated by angle_deg (clockwise on screen)."""

    cx: float
    cy: float
    w: float
    h: float
    angle_deg: float = 0.0

    kind = "rect"

    def __post_init__(self) -> None:
        for name in ("cx", "cy", "w", "h", "angle_deg"):
            object.__setattr__(self, name, _finite(name, getattr(self, name)))
        if self.w < 1 or self.h < 1:
            raise RoiError(f"rect ROI must be at least 1 px wide and high, got {self.w:g} x {self.h:g}")

    def corners(self) -> np.ndarray:
        """The four corners (x, y), in order around the rectangle."""
        a = math.radians(self.angle_deg)
        ux = np.array([math.cos(a), math.sin(a)])
        uy = np.array([-math.sin(a), math.cos(a)])
        c = np.array([self.cx, self.cy])
        hw, hh = self.w / 2, self.h / 2
        return np.array([c - hw * ux - hh * uy, c + hw * ux - hh * uy, c + hw * ux + hh * uy, c - hw * ux + hh * uy])

    def bounds(self) -> tuple[float, float, float, float]:
        pts = self.corners()
        return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        a = math.radians(self.angle_deg)
        dx, dy = x - self.cx, y - self.cy
        u = dx * math.cos(a) + dy * math.sin(a)
        v = -dx * math.sin(a) + dy * math.cos(a)
        return (np.abs(u) <= self.w / 2) & (np.abs(v) <= self.h / 2)

    def area(self) -> float:
        return self.w * self.h


@dataclass(frozen=True)
class Circle:
    cx: float
    cy: float
    r: float

    kind = "circle"

    def __post_init__(self) -> None:
        for name in ("cx", "cy", "r"):
            object.__setattr__(self, name, _finite(name, getattr(self, name)))
        if self.r < 1:
            raise RoiError(f"circle ROI radius must be at least 1 px, got {self.r:g}")

    def bounds(self) -> tuple[float, float, float, float]:
        return self.cx - self.r, self.cy - self.r, self.cx + self.r, self.cy + self.r

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (x - self.cx) ** 2 + (y - self.cy) ** 2 <= self.r**2

    def area(self) -> float:
        return math.pi * self.r**2


@dataclass(frozen=True)
class Annulus:
    cx: float
    cy: float
    r_inner: float
    r_outer: float

    kind = "annulus"

    def __post_init__(self) -> None:
        for name in ("cx", "cy", "r_inner", "r_outer"):
            object.__setattr__(self, name, _finite(name, getattr(self, name)))
        if self.r_inner < 0:
            raise RoiError(f"annulus inner radius must be >= 0, got {self.r_inner:g}")
        if not self.r_inner < self.r_outer:
            raise RoiError(
                f"annulus inner radius ({self.r_inner:g}) must be smaller than the outer radius ({self.r_outer:g})"
            )
        if self.r_outer < 1:
            raise RoiError(f"annulus outer radius must be at least 1 px, got {self.r_outer:g}")

    def bounds(self) -> tuple[float, float, float, float]:
        return self.cx - self.r_outer, self.cy - self.r_outer, self.cx + self.r_outer, self.cy + self.r_outer

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        d2 = (x - self.cx) ** 2 + (y - self.cy) ** 2
        return (d2 <= self.r_outer**2) & (d2 >= self.r_inner**2)

    def area(self) -> float:
        return math.pi * (self.r_outer**2 - self.r_inner**2)


@dataclass(frozen=True)
class Polygon:
    """A simple polygon through `points` ((x, y) pairs, closed implicitly); used for ignore regions."""

    points: tuple

    kind = "polygon"

    def __post_init__(self) -> None:
        try:
            pts = tuple((_finite("x", p[0]), _finite("y", p[1])) for p in self.points)
        except (TypeError, IndexError):
            raise RoiError(f"polygon points must be [x, y] pairs, got {self.points!r}") from None
        if any(len(p) != 2 for p in self.points):
            raise RoiError("polygon points must be [x, y] pairs")
        object.__setattr__(self, "points", pts)
        if len(pts) < 3:
            raise RoiError(f"a polygon needs at least 3 points, got {len(pts)}")
        if self.area() < 1:
            raise RoiError(f"polygon must cover at least 1 px, got {self.area():.3g} px")

    def bounds(self) -> tuple[float, float, float, float]:
        a = np.asarray(self.points)
        return float(a[:, 0].min()), float(a[:, 1].min()), float(a[:, 0].max()), float(a[:, 1].max())

    def contains(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Even-odd rule, vectorised over the points (x, y broadcast together)."""
        x, y = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64))
        inside = np.zeros(x.shape, bool)
        pts = self.points
        for (xa, ya), (xb, yb) in zip(pts, pts[1:] + pts[:1]):
            if ya == yb:
                continue
            crosses = (ya > y) != (yb > y)
            x_at = xa + (y - ya) * (xb - xa) / (yb - ya)
            inside ^= crosses & (x < x_at)
        return inside

    def area(self) -> float:
        a = np.asarray(self.points)
        return float(abs(np.dot(a[:, 0], np.roll(a[:, 1], -1)) - np.dot(a[:, 1], np.roll(a[:, 0], -1))) / 2)


Roi = Union[Rect, Circle, Annulus]
# Shapes an ignore region may have (a polygon is only an ignore region, never the ROI).
IgnoreShape = Union[Rect, Circle, Polygon]
_KINDS = {cls.kind: cls for cls in (Rect, Circle, Annulus)}
_IGNORE_KINDS = {cls.kind: cls for cls in (Rect, Circle, Polygon)}


def roi_to_dict(roi: Roi) -> dict:
    if roi.kind == "polygon":
        return {"type": "polygon", "points": [list(p) for p in roi.points]}
    return {"type": roi.kind, **asdict(roi)}


def ignore_from_dict(data: dict) -> IgnoreShape:
    """An ignore region (rect, circle or polygon) from its JSON form."""
    return _shape_from_dict(data, _IGNORE_KINDS, "ignore region")


def ignore_list_from_json(data) -> tuple:
    if data is None:
        return ()
    if not isinstance(data, list):
        raise RoiError(f"ignore regions must be a JSON list, got {type(data).__name__}")
    return tuple(ignore_from_dict(d) for d in data)


def outline(shape, samples: int = 72) -> np.ndarray:
    """Closed outline of a shape as an N x 2 array of (x, y) (the outer circle for an annulus)."""
    if shape.kind == "rect":
        pts = shape.corners()
    elif shape.kind == "polygon":
        pts = np.asarray(shape.points, np.float64)
    else:
        r = shape.r if shape.kind == "circle" else shape.r_outer
        t = np.linspace(0, 2 * np.pi, samples, endpoint=False)
        pts = np.stack([shape.cx + r * np.cos(t), shape.cy + r * np.sin(t)], axis=1)
    return np.vstack([pts, pts[:1]])


def roi_from_dict(data: dict) -> Roi:
    return _shape_from_dict(data, _KINDS, "ROI")


def any_shape_from_dict(data: dict, what: str):
    """A shape of any kind (rect, circle, annulus, polygon) from its JSON form: an inspection zone's."""
    return _shape_from_dict(data, {**_KINDS, **_IGNORE_KINDS}, what)


def _shape_from_dict(data: dict, kinds: dict, what: str):
    if not isinstance(data, dict):
        raise RoiError(f"{what} must be a JSON object, got {type(data).__name__}")
    kind = data.get("type")
    cls = kinds.get(kind)
    if cls is None:
        raise RoiError(f"{what} type must be one of {sorted(kinds)}, got {kind!r}")
    fields = {k: v for k, v in data.items() if k != "type"}
    if kind == "polygon" and isinstance(fields.get("points"), list):
        fields["points"] = tuple(tuple(p) if isinstance(p, list) else p for p in fields["points"])
    try:
        return cls(**fields)
    except TypeError as exc:
        raise RoiError(f"{kind} {what} has wrong fields ({exc}); expected {list(cls.__dataclass_fields__)}") from None


def full_image_roi(width: int, height: int) -> Rect:
    """The ROI used when none is given: the whole image."""
    return Rect(cx=width / 2, cy=height / 2, w=width, h=height)


def crop_box(roi: Roi, width: int, height: int) -> tuple[int, int, int, int]:
    """Integer pixel box (x0, y0, x1, y1), end-exclusive, that holds the ROI.

    Raises RoiError when the ROI does not lie inside a width x height image; a
    half-pixel overhang from rounding is tolerated and clipped.
    """
    bx0, by0, bx1, by1 = roi.bounds()
    x0, y0 = math.floor(bx0 + 0.5), math.floor(by0 + 0.5)
    x1, y1 = math.ceil(bx1 - 0.5), math.ceil(by1 - 0.5)
    if x0 < -1 or y0 < -1 or x1 > width + 1 or y1 > height + 1:
        raise RoiError(
            f"the {roi.kind} ROI spans x {bx0:.0f}..{bx1:.0f}, y {by0:.0f}..{by1:.0f}, "
            f"outside the {width} x {height} px image: move or shrink the ROI"
        )
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise RoiError(f"the {roi.kind} ROI covers less than 2 x 2 px of the image")
    return x0, y0, x1, y1


def shape_mask(roi: Roi, box: tuple[int, int, int, int], out_h: int, out_w: int, supersample: int = 1) -> np.ndarray:
    """Coverage of the ROI shape over `box`, sampled on an out_h x out_w grid.

    With supersample=1 this is a boolean mask (pixel centre inside the shape).
    With supersample=s > 1, each output cell is sampled s x s times and the
    result is the covered fraction in [0, 1], used to decide which feature
    patches touch the shape.
    """
    x0, y0, x1, y1 = box
    s = max(1, int(supersample))
    xs = x0 + (np.arange(out_w * s) + 0.5) * (x1 - x0) / (out_w * s)
    ys = y0 + (np.arange(out_h * s) + 0.5) * (y1 - y0) / (out_h * s)
    inside = roi.contains(xs[None, :], ys[:, None])
    if s == 1:
        return inside
    return inside.reshape(out_h, s, out_w, s).mean(axis=(1, 3))
