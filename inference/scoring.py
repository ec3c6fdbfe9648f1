"""Patch distances -> anomaly map at ROI resolution -> global score, regions (the heatmap drawn: heatmap.py)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field, replace
from typing import Callable, NamedTuple, Optional

import cv2
import numpy as np

from .config import SMOOTHING_AT  # the places live with the config keys, as align.py takes ALIGN_MODES
from .verdict import Verdict
from .region_length import longest_component, longest_extent
from .zones import ZoneMap, load, main_zone, pixels_per_label


@dataclass(frozen=True)
class Region:
    """A connected area of the anomaly map above the pixel threshold, in image pixels."""

    bbox: tuple[int, int, int, int]  # x, y, width, height
    centroid: tuple[float, float]  # x, y
    area_px: int
    area_mm2: Optional[float]
    max_score: float
    # Whether this region is at least the calibrated area limit, i.e. can make the part NG.
    counts: bool = False
    # Whether it touches the ROI's border, where the map is least reliable (the patches there see the part's
    # edge): a reviewer should check the ROI's placement before trusting it.
    on_edge: bool = False
    # Its outer border as a closed N x 2 polygon of image x, y (pixel corners), for drawing; not in to_dict.
    outline: Optional[np.ndarray] = field(default=None, compare=False, repr=False)
    # With inspection zones (inference/zones.py): its area in each zone it touches (name -> mm^2, else px) and
    # its share of their limits (it counts at 1 or more). None without zones.
    zones: Optional[dict] = None
    zone_load: Optional[float] = None
    # The zone that weighs most in it (zones.main_zone): 0 outside every zone, k the calibration's k-th zone, and
    # its name ("rest" outside every zone).
    zone_index: Optional[int] = None
    zone: Optional[str] = None
    # Its length: the longest distance across it (inference/region_length.py), in px and mm (None without mm_per_px).
    length_px: float = 0.0
    length_mm: Optional[float] = None

    def to_dict(self) -> dict:
        out = {f: getattr(self, f) for f in ("bbox", "centroid", "area_px", "area_mm2", "length_px", "length_mm",
                                              "max_score", "counts", "on_edge")}
        if self.zones is not None:
            out["zones"] = dict(self.zones)
            out["zone_load"] = self.zone_load if self.zone_load is None or np.isfinite(self.zone_load) else None
            out["zone_index"], out["zone"] = self.zone_index, self.zone
        return out

    @property
    def area(self) -> float:
        """The area the limit is compared with: mm^2 when the pixel size is known, else px."""
        return self.area_mm2 if self.area_mm2 is not None else float(self.area_px)

    @property
    def length(self) -> float:
        """The length the minimum length is compared with: mm when the pixel size is known, else px."""
        return self.length_mm if self.length_mm is not None else self.length_px


@dataclass
class InferenceResult:
    """What one inspected image gives; map and mask cover the ROI's box in the image."""

    name: str
    score: Optional[float]  # None when the image was not scored (NOT_FOUND, ERROR): never a NaN for a state
    anomaly_map: np.ndarray  # float32 h x w over `box`; 0 outside the shape
    mask: np.ndarray  # bool h x w: inside the ROI shape
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in the image
    token_shape: tuple[int, int]
    regions: list[Region] = field(default_factory=list)
    # OK / NG against the calibration; NOT_FOUND (part not located), NO_VERDICT (no usable calibration) and
    # ERROR (the image could not be inspected) are never read as OK. `reason` says why, in one line.
    verdict: Verdict = Verdict.NO_VERDICT
    threshold: Optional[float] = None
    seconds: float = 0.0
    reason: str = ""  # one line: why this verdict, or why there is none
    # With alignment: the ROI's outline where the part was found (N x 2 image x, y) and the placement
    # (angle, shift, confidence, method). verdict NOT_FOUND: the part was not located (score None).
    outline: Optional[np.ndarray] = None
    location: Optional[dict] = None
    ignore_outlines: list = field(default_factory=list)  # ignore regions where the part lies (N x 2 each)
    zone_outlines: list = field(default_factory=list)  # the calibration's inspection zones where the part lies
    # ERROR: what went wrong with this image (its neighbours in the batch are inspected as usual).
    error: Optional[str] = None
    # Lighting compensation (config brightness): the grey levels the crop's median was moved by to match the
    # taught images'. None: not compensated.
    brightness_shift: Optional[float] = None
    # ERROR by the image check (inference/image_check.py): the check failed ("dark", "bright", "flat"), else None.
    image_check: Optional[str] = None
    # With alignment: the placement (2 x 3, taught image px -> this image px) the map was put back with, which
    # inspection zones drawn on the taught image move by. Not in to_dict (`location` says it in words).
    reference_to_image: Optional[np.ndarray] = field(default=None, repr=False, compare=False)

    @property
    def ng_regions(self) -> list[int]:
        """Indices (into `regions`) of the regions that made the part NG."""
        return [i for i, r in enumerate(self.regions) if r.counts] if self.verdict == "NG" else []

    def to_dict(self, with_heatmap: bool = False) -> dict:
        out = {
            "name": self.name,
            "score": self.score,
            "verdict": self.verdict.value,
            "threshold": self.threshold,
            "box": list(self.box),
            "token_shape": list(self.token_shape),
            "regions": [r.to_dict() for r in self.regions],
            "ng_regions": self.ng_regions,
            "reason": self.reason,
            "seconds": round(self.seconds, 4),
        }
        if self.error is not None:
            out["error"] = self.error
        if self.brightness_shift is not None:
            out["brightness_shift"] = self.brightness_shift
        if self.image_check is not None:
            out["image_check"] = self.image_check
        if self.location is not None:
            out["location"] = dict(self.location)
            out["outline"] = [[round(float(x), 2), round(float(y), 2)] for x, y in self.outline] \
                if self.outline is not None else None
        if with_heatmap and self.score is not None:
            from .heatmap import heatmap_png

            out["heatmap_png_base64"] = base64.b64encode(heatmap_png(self)).decode("ascii")
        return out


def error_result(name: str, error: str, token_shape: tuple = (0, 0),
                 threshold: Optional[float] = None) -> InferenceResult:
    """ERROR: an image that could not be inspected (the reason in `error`); no score, no map."""
    empty = np.zeros((0, 0), np.float32)
    return InferenceResult(name, None, empty, empty.astype(bool), (0, 0, 0, 0), tuple(token_shape),
                           verdict=Verdict.ERROR, reason=error, error=error, threshold=threshold)


class AnomalyMaps(NamedTuple):
    """The smoothed map at the ROI box's size, which the image score reads, and the map shown (regions, heatmap)
    at the size it was smoothed at: None where `surround_sigma` is off and the smoothed map is shown. shown_map
    brings it to the box."""

    smoothed: np.ndarray
    shown_small: Optional[np.ndarray]


def anomaly_map(
    patch_scores: np.ndarray, out_h: int, out_w: int, input_size: int, sigma: float, at: str = "box",
    surround: float = 0.0,
) -> AnomalyMaps:
    """Upsample a token-grid score map to the ROI box size and smooth it; with `surround`, also the map shown.

    sigma is in canonical-input pixels (PatchCore uses 4 at 224 px) and is
    scaled to the box, so the smoothing looks the same at any ROI size.
    at: "box" smooths at the box's size; "input" at the input size (each side
    of the box brought down to it, never up, as the crop was squared for the
    backbone; so a long narrow box keeps its grid's rows), then upsamples. The
    grid is far coarser than either, so both give one map (within 1 % of its
    peak), but a Gaussian of sigma 16 px on a 900 px box costs about 10 x one of
    sigma 4 at 224 px, and on a 5 MP camera box about 90 x.

    surround (input pixels, 0: off): the shown map is max(0, m + (m - G(m))), G a Gaussian of that sigma: each
    pixel plus its excess over its surroundings (unsharp masking). A defect narrower than the surround rises up
    to twice; a rise as wide as the surround or wider, which a defect image's far-seeing features (the stride-32
    stage, the 3 x 3 neighbourhood) spread over its OK surface, does not. So at a low false-positive rate the
    defect's own pixels come first (at 224 px input: AUPRO +0.016 over the six dev sets; docs/benchmarks.md,
    issue 25). The image score stays the smoothed map's.
    """
    if at not in SMOOTHING_AT:
        raise ValueError(f"unknown smoothing place {at!r}; one of {SMOOTHING_AT}")
    h, w = (min(out_h, input_size), min(out_w, input_size)) if at == "input" else (out_h, out_w)
    m = cv2.resize(patch_scores.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    if sigma > 0:
        sx = sigma * w / input_size
        sy = sigma * h / input_size
        m = cv2.GaussianBlur(m, (0, 0), sigmaX=max(sx, 0.1), sigmaY=max(sy, 0.1), borderType=cv2.BORDER_REFLECT)
    shown = None
    if surround > 0:  # at the working size: a resize is linear, so upsampled after it is the same map (but the clip)
        around = surround_mean(m, surround * w / input_size, surround * h / input_size)
        shown = np.maximum(m + (m - around), 0.0, dtype=np.float32)
    if (h, w) != (out_h, out_w):
        m = cv2.resize(m, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
    return AnomalyMaps(m, shown)


def shown_map(maps: AnomalyMaps, mask: np.ndarray) -> np.ndarray:
    """The map shown at the box's size, 0 outside `mask`, drawn INTO the smoothed map's array (read the score
    first; the smoothed map must be 0 outside `mask` already, as the score reads it): a second map of the box's
    size costs more to allocate than to compute (about 20 ms on a 5 MP box, against 2 for the resize). The
    smoothed map itself where the surround is off.

    It reaches the smoothed map's peak where that lies: there G(m) <= m, so m + (m - G(m)) is at least m already,
    but not where the peak lies on the edge of the kept pixels (the ROI, ignore regions) with the map still
    rising beyond it. So the score (the smoothed map's maximum, or a percentile below it) is always reached, and a
    part whose score reaches the threshold always has a region for the verdict to weigh. Elsewhere the shown map
    may exceed the peak (a sharp local excess): capped at it, the pixels of every image above its own score
    would tie, and the eval's pixel AUROC and AUPRO lose most of what the surround gains (fourteenth session),
    while regions at any threshold up to the score would be the same."""
    smoothed = maps.smoothed
    if maps.shown_small is None:
        return smoothed
    i = int(np.argmax(smoothed))  # distances are >= 0 and 0 outside the mask: the peak lies inside it
    if not mask.flat[i] and mask.any():  # all inside at 0 (or a map below 0): look inside only
        i = int(np.argmax(np.where(mask, smoothed, -np.inf)))
    peak = float(smoothed.flat[i])
    h, w = smoothed.shape
    cv2.resize(maps.shown_small, (w, h), dst=smoothed, interpolation=cv2.INTER_LINEAR)  # same size: a copy
    smoothed[~mask] = 0.0
    smoothed.flat[i] = max(float(smoothed.flat[i]), peak)
    return smoothed


# The surround's Gaussian runs on a copy shrunk so that its sigma is this many pixels there: a Gaussian of sigma
# 48 px at 448 px costs about 11 ms, and the map it smooths varies over tens of pixels, so nothing is lost.
SURROUND_SIGMA_SHRUNK_PX = 6.0


def surround_mean(m: np.ndarray, sigma_x: float, sigma_y: float) -> np.ndarray:
    """The Gaussian mean of `m` around each pixel (sigmas in m's pixels), at m's size."""
    h, w = m.shape
    f = max(1.0, min(sigma_x, sigma_y) / SURROUND_SIGMA_SHRUNK_PX)
    sw, sh = max(1, int(round(w / f))), max(1, int(round(h / f)))
    small = cv2.resize(m, (sw, sh), interpolation=cv2.INTER_AREA) if (sw, sh) != (w, h) else m
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=max(sigma_x * sw / w, 0.1), sigmaY=max(sigma_y * sh / h, 0.1),
                             borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR) if (sw, sh) != (w, h) else small


def global_score(pixel_map: np.ndarray, mask: np.ndarray, patch_scores: np.ndarray, patch_mask: np.ndarray,
                 mode: str, support_weight: Optional[Callable[[int], float]] = None) -> float:
    """The image score. `support_weight(i)`: the re-weighting of patch i (flat index), for reweighted_max."""
    if not mask.any():
        return 0.0
    if mode == "max":  # without copying the inside out first: half the time on a 900 px box (0.3 of 0.6 ms)
        return float(np.max(pixel_map, where=mask, initial=-np.inf))
    if mode == "p99":
        return float(np.percentile(pixel_map[mask], 99))
    if mode == "topk_mean":
        patches = patch_scores[patch_mask] if patch_mask.any() else patch_scores.ravel()
        k = max(1, int(np.ceil(0.01 * patches.size)))
        return float(np.sort(patches)[-k:].mean())
    if mode == "reweighted_max":
        # PatchCore's own image score: the largest patch distance (before upsampling and smoothing),
        # re-weighted by how densely the bank is taught around its nearest neighbour.
        kept = np.where(patch_mask, patch_scores, -np.inf) if patch_mask.any() else patch_scores
        i = int(np.argmax(kept))
        return float(patch_scores.flat[i]) * (support_weight(i) if support_weight is not None else 1.0)
    raise ValueError(f"unknown score mode {mode!r}")


def find_regions(
    pixel_map: np.ndarray, mask: np.ndarray, threshold: float, box: tuple[int, int, int, int],
    mm_per_px: Optional[float], zmap: Optional[ZoneMap] = None,
) -> list[Region]:
    """Connected components (8-neighbour) of map >= threshold inside the shape, largest first, each with
    its outline: the one place a map is thresholded into regions (viewers draw these, never their own). With
    zones, each region's area in each zone and its share of their limits (zones.load)."""
    binary = ((pixel_map >= threshold) & mask).astype(np.uint8)
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(binary, connectivity=8)
    x0, y0 = box[0], box[1]
    # Every region's peak in one pass over its pixels, not one full-map scan per region.
    peaks = np.full(n, -np.inf, np.float32)
    inside = binary.astype(bool)
    np.maximum.at(peaks, labels[inside], pixel_map[inside])
    outlines = _outlines(binary, labels, (x0, y0)) if n > 1 else {}
    # The shape's own border (its outermost pixels): regions with a pixel there are on the ROI's edge.
    border = mask & ~cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8), borderValue=0).astype(bool)
    on_edge = np.bincount(labels[border & inside], minlength=n) > 0
    per_zone = pixels_per_label(labels, n, zmap, inside) if zmap is not None and n > 1 else None
    regions = []
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        peak = float(peaks[i])
        in_zones = None if per_zone is None else \
            {name: float(c) * zmap.px_area if mm_per_px else int(c)
             for name, c in zip(zmap.names, per_zone[i]) if c}
        length = longest_extent(outlines[i]) if i in outlines else 1.0
        main = None if per_zone is None else main_zone(per_zone[i], zmap)
        regions.append(Region(
            bbox=(x + x0, y + y0, w, h),
            centroid=(float(centroids[i][0] + x0), float(centroids[i][1] + y0)),
            area_px=area,
            area_mm2=None if mm_per_px is None else float(area * mm_per_px**2),
            max_score=peak,
            outline=outlines.get(i),
            on_edge=bool(on_edge[i]),
            zones=in_zones,
            zone_load=None if per_zone is None else load(per_zone[i], zmap),
            zone_index=main,
            zone=None if main is None else zmap.names[main],
            length_px=length,
            length_mm=None if mm_per_px is None else length * mm_per_px,
        ))
    regions.sort(key=lambda r: r.area_px, reverse=True)
    return regions


def _outlines(binary: np.ndarray, labels: np.ndarray, offset: tuple[int, int]) -> dict[int, np.ndarray]:
    """Component label -> its outer border (closed, image x, y). One contour pass over the whole map: an
    8-connected component has exactly one outer border, found at the label of any of its points."""
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = {}
    for c in contours:
        pts = c[:, 0, :]
        label = int(labels[pts[0, 1], pts[0, 0]])
        xy = pts.astype(np.float64) + offset
        out[label] = np.vstack([xy, xy[:1]])
    return out


def judge(score: float, regions: list[Region], threshold: float, area_limit: float,
          zmap: Optional[ZoneMap] = None, min_length: float = 0.0) -> tuple[Verdict, list[Region], str]:
    """(verdict, regions marked with whether they count, reason) for a calibrated model.

    NG when the score reaches the threshold and at least one region is at least
    `area_limit` (mm^2 when the pixel size is known, else px); with a limit of 0
    every region counts. With inspection zones (`zmap`, regions found with it) a region counts when its
    shares of its zones' limits sum to 1 or more (inference/zones.py). A region at least `min_length` long
    (mm, else px; 0: no such limit) counts too, whatever its area. The threshold and the limits are
    validated finite where they enter (calibration.py); a non-finite one here is a bug, never a pass.
    """
    if not (np.isfinite(threshold) and np.isfinite(area_limit) and np.isfinite(score) and np.isfinite(min_length)):
        raise ValueError(f"non-finite verdict input: score {score}, threshold {threshold}, area limit {area_limit}, "
                         f"length limit {min_length}")

    def by_area(r: Region) -> bool:
        return r.zone_load >= 1.0 if zmap is not None else r.area >= area_limit

    marked = [replace(r, counts=by_area(r) or (min_length > 0 and r.length >= min_length)) for r in regions]
    if score < threshold:
        return Verdict.OK, marked, f"score {score:.4g} below threshold {threshold:.4g}"
    counting = [i for i, r in enumerate(marked) if r.counts]
    unit = "mm^2" if marked and marked[0].area_mm2 is not None else "px"
    length_unit = "mm" if marked and marked[0].length_mm is not None else "px"
    if not counting:
        if zmap is not None:
            closest = max((r.zone_load for r in marked), default=0.0)
            reason = (f"score {score:.4g} reaches threshold {threshold:.4g}, but no region reaches the area limits "
                      f"of its zones (the closest: {closest:.2f} of them)")
        else:
            largest = max((r.area for r in marked), default=0.0)
            reason = (f"score {score:.4g} reaches threshold {threshold:.4g}, but no region reaches the area limit "
                      f"{area_limit:g} (largest {largest:.4g})")
        if min_length > 0:
            reason += (f" nor the length limit {min_length:g} (longest "
                       f"{max((r.length for r in marked), default=0.0):.4g})")
        return Verdict.OK, marked, reason
    by_areas = [i for i in counting if by_area(marked[i])]
    parts = []
    if by_areas and zmap is not None:
        limits = dict(zip(zmap.names, zmap.limits))
        names = ", ".join(f"#{i + 1} (" + ", ".join(f"{a:.4g} {unit} in {z} (limit {limits[z]:g})"
                                                   for z, a in marked[i].zones.items()) + ")" for i in by_areas)
        parts.append(f"region(s) {names} reach their zones' area limits")
    elif by_areas:
        names = ", ".join(f"#{i + 1} ({marked[i].area:.4g} {unit})" for i in by_areas)
        parts.append(f"region(s) {names} >= area limit {area_limit:g}")
    long_only = [i for i in counting if i not in by_areas]
    if long_only:
        names = ", ".join(f"#{i + 1} ({marked[i].length:.4g} {length_unit} long)" for i in long_only)
        parts.append(f"region(s) {names} >= length limit {min_length:g}")
    reason = f"score {score:.4g} >= threshold {threshold:.4g}; " + "; ".join(parts)
    edge = [i for i in counting if marked[i].on_edge]
    if edge and len(edge) == len(counting):  # NG only by regions on the ROI's border: say where they lie
        reason += (f" (only on the ROI's edge: {', '.join(f'#{i + 1}' for i in edge)}; the map is least reliable "
                   "there, check that the ROI lies inside the part)")
    return Verdict.NG, marked, reason


def verdict_level(score: Optional[float], pixel_map: np.ndarray, mask: np.ndarray, area_limit: float,
                  mm_per_px: Optional[float], zmap: Optional[ZoneMap] = None, min_length: float = 0.0) -> float:
    """The highest threshold at which `judge` calls this image NG: NG at threshold t exactly when t <= level.

    judge() needs the score to reach t and a region of `map >= t` inside the shape at least `area_limit`
    large (with zones: whose shares of its zones' limits sum to 1), or at least `min_length` long. All only get
    harder as t rises (a higher cut leaves a subset of the pixels, so every region shrinks or splits), so the
    image is NG for every t up
    to min(score, a*), where a* is the highest map value whose cut still holds a region that large: found by
    bisection over the map's own values, so it is exact, not sampled. Calibration counts false rejects and
    accepts on these levels, so the FAR and FRR it reports are what the verdict rule does, area limit
    included. -inf: never NG (no region can be that large).
    """
    if score is None or not np.isfinite(score):
        return float("-inf")
    values = np.unique(pixel_map[mask])
    if values.size == 0:
        return float("-inf")
    limits = zmap.limits if zmap is not None else np.array([area_limit])
    if np.all(limits <= 0):  # every region counts: NG wherever any pixel reaches t
        return float(min(score, values[-1]))
    px_per_unit = 1.0 / (mm_per_px ** 2) if mm_per_px else 1.0
    if zmap is not None:
        _ = zmap.labels  # the whole box's labels, worked out once: every bisection step reads them

    def reaches(i: int) -> bool:
        binary = (pixel_map >= values[i]) & mask
        n, components, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
        if n <= 1:
            return False
        if zmap is None and float(stats[1:, cv2.CC_STAT_AREA].max()) / px_per_unit >= area_limit:
            return True
        if zmap is not None:
            per_zone = pixels_per_label(components, n, zmap, binary)
            if any(load(per_zone[k], zmap) >= 1.0 for k in range(1, n)):
                return True
        if min_length <= 0:
            return False
        longest = longest_component(binary.astype(np.uint8))  # in px; compared as judge() compares Region.length
        return (longest * mm_per_px if mm_per_px is not None else longest) >= min_length

    if not reaches(0):
        return float("-inf")
    lo, hi = 0, values.size - 1  # reaches(lo) holds; find the last index where it does
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if reaches(mid):
            lo = mid
        else:
            hi = mid - 1
    return float(min(score, values[lo]))
