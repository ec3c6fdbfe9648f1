"""Generated parts: a textured disc on a dark background, optionally scratched.

Used where no real images may be assumed: the installation self-test, the
test suite and the benchmarks.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SIZE = 160
CENTRE = (80.0, 80.0)
RADIUS = 67.0


def disc(seed: int, scratch: bool = False, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 image, bool mask of the injected scratch)."""
    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), 40, np.uint8)
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(xx - size / 2, yy - size / 2)
    texture = (128 + 40 * np.sin(r / 3.0) + rng.normal(0, 6, (size, size))).clip(0, 255)
    inside = r < size * 0.42
    img[inside] = texture[inside, None].astype(np.uint8)
    mask = np.zeros((size, size), np.uint8)
    if scratch:
        offset = int(rng.integers(-8, 9)) * size // SIZE  # scratches vary a little from part to part
        p0 = (int(size * 0.33), int(size * 0.42) + offset)
        p1 = (int(size * 0.62), int(size * 0.55) + offset)
        cv2.line(img, p0, p1, (250, 250, 250), 3)
        cv2.line(mask, p0, p1, 1, 3)
    return img, mask.astype(bool)


def write_discs(folder: Path, seeds, scratch: bool = False) -> list[Path]:
    """PNG files of discs, one per seed; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for s in seeds:
        img, _ = disc(s, scratch)
        path = folder / f"{'ng' if scratch else 'ok'}_{s:03d}.png"
        if not cv2.imwrite(str(path), img[..., ::-1]):
            raise OSError(f"cannot write {path}")
        paths.append(path)
    return paths
