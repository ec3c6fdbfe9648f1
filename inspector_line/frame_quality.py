"""What a camera's frame says of its setup, for aiming, focusing and setting the exposure (`inspector capture`'s
lines, the Run view's Camera… preview): how sharp it is, how bright, and how much of it is clipped white or black.

Sharpness is the variance of the grey image's Laplacian, the usual focus measure: it rises as edges sharpen and
has no unit, so it is read against itself while the lens is turned (the largest seen is the focus). Brightness is
the median grey level; clipped is the share of pixels at 250 or more (the image check's level for clipped white,
inference/image_check.py), dark the share at 5 or less: a few percent of either loses the detail a defect shows in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inference import CLIPPED_LEVEL  # the image check's level for clipped white: the preview and the check agree

DARK_LEVEL = 5


@dataclass(frozen=True)
class FrameQuality:
    sharpness: float
    median: float  # grey level 0-255
    clipped_pct: float
    dark_pct: float
    width: int
    height: int

    def text(self) -> str:
        return (f"{self.width} x {self.height}, sharpness {self.sharpness:.0f}, brightness {self.median:.0f}/255, "
                f"clipped {self.clipped_pct:.1f} %, dark {self.dark_pct:.1f} %")


def frame_quality(rgb: np.ndarray) -> FrameQuality:
    import cv2

    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    n = grey.size
    return FrameQuality(float(cv2.Laplacian(grey, cv2.CV_64F).var()), float(np.median(grey)),
                        100.0 * np.count_nonzero(grey >= CLIPPED_LEVEL) / n,
                        100.0 * np.count_nonzero(grey <= DARK_LEVEL) / n, grey.shape[1], grey.shape[0])


__all__ = ["FrameQuality", "frame_quality"]
