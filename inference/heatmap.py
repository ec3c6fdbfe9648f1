"""A result's anomaly map drawn: the colours of every client's heatmap (the threshold mid-scale), its PNG, a
history row's thumbnail, an overlay on the image."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Optional

import cv2
import numpy as np

if TYPE_CHECKING:
    from .scoring import InferenceResult


# Colour maps a heatmap can be drawn in (OpenCV's), low to high; jet is the default everywhere.
HEATMAP_COLORMAPS = {"jet": cv2.COLORMAP_JET, "turbo": cv2.COLORMAP_TURBO, "inferno": cv2.COLORMAP_INFERNO,
                     "viridis": cv2.COLORMAP_VIRIDIS, "magma": cv2.COLORMAP_MAGMA}


def heatmap_colours(colormap: str = "jet") -> np.ndarray:
    """The colour map as 256 x 3 uint8 RGB, low to high (e.g. for a colour bar beside the heatmap)."""
    if colormap not in HEATMAP_COLORMAPS:
        raise ValueError(f"unknown colour map {colormap!r}; one of {', '.join(HEATMAP_COLORMAPS)}")
    bgr = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], HEATMAP_COLORMAPS[colormap])[:, 0, :]
    return np.ascontiguousarray(bgr[:, ::-1])


def heatmap_rgba(result: InferenceResult, vmax: Optional[float] = None, colormap: str = "jet") -> np.ndarray:
    """The map as an RGBA overlay over the ROI box; transparent outside the shape.

    With a threshold the scale is fixed to [0, 2 x threshold] so the threshold
    sits mid-scale and maps look alike from image to image.
    """
    alpha = np.where(result.mask, 255, 0).astype(np.uint8)
    return np.dstack([heatmap_rgb(result, vmax, colormap), alpha])


def heatmap_rgb(result: InferenceResult, vmax: Optional[float] = None, colormap: str = "jet") -> np.ndarray:
    """The map's colours (h x w x 3 uint8 RGB, contiguous) on heatmap_rgba's scale, the shape left to the caller."""
    if vmax is None:
        vmax = heatmap_scale(result)
    norm = np.clip(result.anomaly_map / max(vmax, 1e-12), 0, 1)
    return heatmap_colours(colormap)[(norm * 255).astype(np.uint8)]


def heatmap_scale(result: InferenceResult) -> float:
    """The value drawn in the top colour: 2 x threshold (the threshold sits mid-scale), else the map's peak."""
    return 2.0 * result.threshold if result.threshold else float(result.anomaly_map.max() or 1.0)


def heatmap_thumbnail_png(result: InferenceResult, max_px: int = 128) -> bytes:
    """A small PNG of the heatmap, at most `max_px` a side, on the full map's scale (for the inspection
    history). The map is shrunk before colouring: 50 ms -> 1 ms at 900 px. Shrunk by 5 or more, it is padded to a
    whole multiple of the factor, which OpenCV averages faster: the thumbnail of a 2400 px map in half the time
    (bench/bench_thumbnail.py)."""
    m, mask, vmax = result.anomaly_map, result.mask.astype(np.uint8), heatmap_scale(result)
    h, w = m.shape[:2]
    k = math.ceil(max(h, w) / max_px)
    if k >= 5:  # at most a fifth smaller than max_px: whole multiples, the pad at 0 and outside the shape
        m, mask = (cv2.copyMakeBorder(a, 0, -h % k, 0, -w % k, cv2.BORDER_CONSTANT, value=0) for a in (m, mask))
        h, w = m.shape[0] // k * k, m.shape[1] // k * k
    scale = min(1.0, max_px / max(h, w, 1)) if k < 5 else 1.0 / k
    small = result
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = replace(result, anomaly_map=cv2.resize(m, size, interpolation=cv2.INTER_AREA),
                        mask=cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST) > 0)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(heatmap_rgba(small, vmax), cv2.COLOR_RGBA2BGRA))
    return buf.tobytes() if ok else b""


def heatmap_png(result: InferenceResult) -> bytes:
    rgba = heatmap_rgba(result)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def overlay_rgb(image: np.ndarray, result: InferenceResult, alpha: float = 0.5) -> np.ndarray:
    """The image with the heatmap blended inside the ROI shape and regions outlined in red."""
    out = image.copy()
    x0, y0, x1, y1 = result.box
    rgba = heatmap_rgba(result)
    a = (rgba[..., 3:4].astype(np.float32) / 255.0) * alpha
    patch = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = (patch * (1 - a) + rgba[..., :3].astype(np.float32) * a + 0.5).astype(np.uint8)
    for r in result.regions:
        x, y, w, h = r.bbox
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), (255, 0, 0), 1)
    return out
