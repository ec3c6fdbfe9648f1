"""A region's length: the longest distance across it, for a minimum length a thin defect is caught by (a scratch
0.1 mm wide and 3 mm long has too small an area to count, and is what a line engineer rejects).

The length is the longest distance between the centres of two of the region's pixels, plus one pixel (a single
pixel is 1 px long, a row of n pixels n px). It grows as the threshold falls (a region at a lower cut holds the
region at a higher one), as its area does, so a verdict level with a minimum length stays exact.
"""

from __future__ import annotations

import cv2
import numpy as np


def longest_extent(border: np.ndarray) -> float:
    """The length, in px, of the region whose border pixels are `border` (N x 2, any offset)."""
    pts = np.asarray(border, np.float32).reshape(-1, 2)
    if len(pts) > 3:  # the two farthest points of a set lie on its convex hull
        pts = cv2.convexHull(pts).reshape(-1, 2)
    d = pts[:, None, :].astype(np.float64) - pts[None, :, :]
    return float(np.sqrt((d ** 2).sum(axis=-1)).max()) + 1.0


def longest_component(binary: np.ndarray) -> float:
    """The greatest length of any 8-connected component of `binary` (uint8), in px; 0 without any."""
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return max((longest_extent(c[:, 0, :]) for c in contours), default=0.0)
