"""Inspection zones: parts of the ROI with their own minimum defect area (a sealing face where any mark is a
reject, a cosmetic face where only a large one is).

A zone is a shape in the taught image's pixels (rect, circle, annulus or polygon, as ROI and ignore regions
are) with a name and a `min_area` in the calibration's unit (mm^2 with mm_per_px, else px). The zones belong
to the calibration, like the minimum area of the rest of the ROI: they change no feature and no score, only
which regions make a part NG, so new zones are a new calibration (a version, audited), never a refit. With
alignment they move with the part, as the ROI does.

The rule, one for inspection and calibration: every pixel of a region weighs its area over the limit of its
zone (the strictest zone where zones overlap; the calibration's `min_area` outside every zone), and a region
counts when its weights sum to 1 or more. Inside one zone that is "area >= that zone's limit"; a region
across zones counts by its shares of each limit (0.6 of one limit and 0.5 of another: it counts), so a
defect is never let through because a zone border cut it in two. The sum only grows as the threshold falls,
so the verdict level stays the exact, bisected one (scoring.verdict_level).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Optional, Sequence

import numpy as np

from .errors import RoiError
from .roi import any_shape_from_dict, roi_to_dict, shape_mask

# The name of what lies outside every zone: taken, so no zone may be called so.
REST = "rest"
# Labels are uint8 with 0 for the rest; a station with more zones than this has a drawing, not a setting.
MAX_ZONES = 32
MAX_NAME = 64  # a name is shown in tables, reasons and history rows: a word or two, not a description


class ZoneError(RoiError):
    """A zone is malformed: no name, a name used twice, a bad shape or a bad minimum area."""


@dataclass(frozen=True)
class Zone:
    name: str
    shape: object  # a roi shape: Rect, Circle, Annulus or Polygon
    min_area: float

    def to_dict(self) -> dict:
        return {"name": self.name, "min_area": self.min_area, "shape": roi_to_dict(self.shape)}


def zones_from_list(data) -> tuple[Zone, ...]:
    """Zones from their JSON form (a list of {"name", "min_area", "shape"}), checked: ZoneError names the zone."""
    if data is None:
        return ()
    if not isinstance(data, (list, tuple)):
        raise ZoneError(f"zones must be a JSON list, got {type(data).__name__}")
    if len(data) > MAX_ZONES:
        raise ZoneError(f"at most {MAX_ZONES} zones, got {len(data)}")
    out, seen = [], set()
    for i, item in enumerate(data):
        what = f"zone {i + 1}"
        if not isinstance(item, dict):
            raise ZoneError(f"{what} must be a JSON object with name, min_area and shape, got {type(item).__name__}")
        unknown = sorted(set(item) - {"name", "min_area", "shape"})
        if unknown:
            raise ZoneError(f"{what} has unknown field(s) {', '.join(unknown)}; expected name, min_area, shape")
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ZoneError(f"{what} needs a name (text)")
        name = name.strip()
        if len(name) > MAX_NAME:
            raise ZoneError(f"{what}'s name is {len(name)} characters long: at most {MAX_NAME}")
        what = f"zone {name!r}"
        if name == REST:
            raise ZoneError(f"{what}: '{REST}' names what lies outside every zone; choose another name")
        if name in seen:
            raise ZoneError(f"{what} is named twice; each zone needs its own name")
        seen.add(name)
        area = item.get("min_area")
        if isinstance(area, bool) or not isinstance(area, (int, float)) or not math.isfinite(area) or area < 0:
            raise ZoneError(f"{what}: min_area must be a finite number >= 0 (mm^2; px without mm per px), "
                            f"got {area!r}")
        try:
            shape = any_shape_from_dict(item.get("shape"), "zone shape")
        except RoiError as exc:
            raise ZoneError(f"{what}: {exc}") from None
        out.append(Zone(name, shape, float(area)))
    return tuple(out)


def zones_to_list(zones: Sequence[Zone]) -> list[dict]:
    return [z.to_dict() for z in zones]


class ZoneMap:
    """The zones over one result's box (x0, y0, x1, y1): each pixel's label (0: the rest, k: zone k), the name and
    area limit of each label, and the area of one pixel in the limits' unit. A pixel is in a zone when its centre
    is (shape.contains, as for the ROI and ignore regions), taken back to the taught image by the placement of a
    located part: the zones move with it. Where zones overlap, a pixel takes the strictest (the lowest limit; the
    first of equals). Labels are worked out only where asked (an inspection: the pixels of its regions) or, for
    the whole box, once and only over each zone's bounds."""

    def __init__(self, zones: Sequence[Zone], rest_limit: float, box: tuple[int, int, int, int],
                 shape_hw: tuple[int, int], mm_per_px: Optional[float],
                 reference_to_image: Optional[np.ndarray] = None):
        self.zones, self.box, self.shape_hw = tuple(zones), tuple(box), tuple(shape_hw)
        self.names = (REST,) + tuple(z.name for z in self.zones)
        self.limits = np.array([rest_limit] + [z.min_area for z in self.zones], np.float64)
        self.px_area = float(mm_per_px) ** 2 if mm_per_px else 1.0
        self.placement = None if reference_to_image is None else np.asarray(reference_to_image, np.float64)
        # Strictest last, so that it is painted over the others.
        self._order = sorted(range(len(self.zones)), key=lambda k: (self.zones[k].min_area, k), reverse=True)

    def _centres(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Box pixels -> their centres in the taught image's pixels, where zones are drawn."""
        x = self.box[0] + cols + 0.5
        y = self.box[1] + rows + 0.5
        if self.placement is None:
            return x, y
        inv = np.linalg.inv(self.placement[:, :2])
        dx, dy = x - self.placement[0, 2], y - self.placement[1, 2]
        return inv[0, 0] * dx + inv[0, 1] * dy, inv[1, 0] * dx + inv[1, 1] * dy

    def labels_where(self, selected: np.ndarray) -> np.ndarray:
        """The labels of the pixels `selected` (a bool mask over the box), in row-major order."""
        if "labels" in self.__dict__:
            return self.labels[selected]
        rows, cols = np.nonzero(selected)
        out = np.zeros(rows.size, np.uint8)
        x, y = self._centres(rows, cols)
        for k in self._order:
            out[self.zones[k].shape.contains(x, y)] = k + 1
        return out

    @cached_property
    def labels(self) -> np.ndarray:
        """Every pixel's label (uint8, the box's shape): each zone tested only over its own bounds in the box."""
        h, w = self.shape_hw
        labels = np.zeros((h, w), np.uint8)
        for k in self._order:
            x0, y0, x1, y1 = self.zones[k].shape.bounds()
            corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
            if self.placement is not None:
                corners = corners @ self.placement[:, :2].T + self.placement[:, 2]
            c0 = max(int(np.floor(corners[:, 0].min())) - self.box[0] - 1, 0)
            r0 = max(int(np.floor(corners[:, 1].min())) - self.box[1] - 1, 0)
            c1 = min(int(np.ceil(corners[:, 0].max())) - self.box[0] + 1, w)
            r1 = min(int(np.ceil(corners[:, 1].max())) - self.box[1] + 1, h)
            if c1 <= c0 or r1 <= r0:
                continue
            rows, cols = np.mgrid[r0:r1, c0:c1]
            x, y = self._centres(rows.astype(np.float64), cols.astype(np.float64))
            labels[r0:r1, c0:c1][self.zones[k].shape.contains(x, y)] = k + 1
        return labels


def zone_map(zones: Sequence[Zone], rest_limit: float, box: tuple[int, int, int, int], shape_hw: tuple[int, int],
             mm_per_px: Optional[float], reference_to_image: Optional[np.ndarray] = None) -> ZoneMap:
    """The zones over a result's box (ZoneMap). `reference_to_image`: the placement (2 x 3, taught image px -> this
    image px) of a located part, whose zones move with it."""
    return ZoneMap(zones, rest_limit, box, shape_hw, mm_per_px, reference_to_image)


def load(pixels: np.ndarray, zmap: ZoneMap) -> float:
    """A region's share of its limits: the sum over zones of (its area there) / (that zone's limit); it counts
    at 1 or more. `pixels`: its pixel count per label. A limit of 0 makes any pixel there count."""
    total = 0.0
    for n, limit in zip(pixels, zmap.limits):
        if n:
            total += math.inf if limit <= 0 else float(n) * zmap.px_area / float(limit)
    return total


def main_zone(pixels: np.ndarray, zmap: ZoneMap) -> int:
    """The label (0: the rest, k: zone k) that weighs most in a region of these pixel counts per label: the
    largest share of its limit (a limit of 0 weighs most; among those, the most pixels)."""
    def weight(k: int) -> tuple[float, int]:
        n = int(pixels[k])
        if not n:
            return (-1.0, 0)
        return (math.inf if zmap.limits[k] <= 0 else n * zmap.px_area / float(zmap.limits[k]), n)
    return max(range(len(zmap.names)), key=weight)


def pixels_per_label(components: np.ndarray, n_components: int, zmap: ZoneMap, inside: np.ndarray) -> np.ndarray:
    """n_components x n_labels pixel counts of each connected component (cv2 labels) in each zone."""
    n_labels = len(zmap.names)
    flat = components[inside].astype(np.int64) * n_labels + zmap.labels_where(inside)
    return np.bincount(flat, minlength=n_components * n_labels).reshape(n_components, n_labels)


def check_over_roi(zones: Sequence[Zone], roi) -> None:
    """ZoneError for a zone that covers no pixel of the ROI: drawn in the wrong place, or hidden under a stricter
    zone, it would judge nothing, silently."""
    if not zones:
        return
    bx0, by0, bx1, by1 = roi.bounds()
    box = (math.floor(bx0), math.floor(by0), math.ceil(bx1), math.ceil(by1))
    inside = shape_mask(roi, box, box[3] - box[1], box[2] - box[0])
    zmap = zone_map(zones, 0.0, box, inside.shape, None)
    present = set(np.unique(zmap.labels[inside]).tolist())
    missing = [z.name for k, z in enumerate(zones) if k + 1 not in present]
    if missing:
        raise ZoneError(f"zone(s) {', '.join(repr(n) for n in missing)} cover no pixel of the ROI (outside it, or "
                        "under a stricter zone): draw them over the part")
