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


# -- a part that moves: asymmetric, textured, placed anywhere at any angle -------------------------
PART_W, PART_H = 200, 130


def _part_canvas(scratch: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(part RGB, part mask, scratch mask) in the part's own frame; the same part every time."""
    rng = np.random.default_rng(1234)
    h, w = PART_H, PART_W
    noise = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 2.0)
    yy, xx = np.mgrid[:h, :w]
    texture = 130 + 25 * np.sin(xx / 5.0) * np.cos(yy / 7.0) + 30 * noise / max(float(noise.std()), 1e-6)
    shape = np.zeros((h, w), np.uint8)
    cv2.rectangle(shape, (0, 0), (w - 1, h - 1), 1, -1)
    cv2.rectangle(shape, (w - 60, 0), (w - 1, 45), 0, -1)  # a notch: the part is not symmetric
    cv2.circle(shape, (45, h - 40), 18, 0, -1)  # a hole, off-centre
    img = np.dstack([texture * 0.9, texture, texture * 1.1]).clip(0, 255).astype(np.uint8)
    cv2.putText(img, "A7", (70, 60), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (30, 30, 60), 3)
    cv2.rectangle(img, (120, 80), (170, 110), (220, 190, 90), -1)
    img[shape == 0] = 0
    scratch_mask = np.zeros((h, w), np.uint8)
    if scratch:
        cv2.line(img, (95, 75), (150, 118), (250, 250, 250), 3)
        cv2.line(scratch_mask, (95, 75), (150, 118), 1, 3)
    return img, shape.astype(bool), scratch_mask.astype(bool) & shape.astype(bool)


def moved_part(seed: int, dx: float = 0.0, dy: float = 0.0, angle_deg: float = 0.0, scratch: bool = False,
               size: int = 320, present: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(RGB image, bool scratch mask in the image): the part centred at the image centre + (dx, dy),
    turned by angle_deg (clockwise on screen), on a plain dark background with camera noise."""
    rng = np.random.default_rng(seed)
    background = rng.normal(35, 3, (size, size, 3)).clip(0, 255).astype(np.uint8)
    if not present:
        return background, np.zeros((size, size), bool)
    part, shape, scratch_mask = _part_canvas(scratch)
    cx, cy = size / 2 + dx, size / 2 + dy
    m = cv2.getRotationMatrix2D((PART_W / 2, PART_H / 2), -angle_deg, 1.0)
    m[:, 2] += (cx - PART_W / 2, cy - PART_H / 2)
    placed = cv2.warpAffine(part, m, (size, size), flags=cv2.INTER_LINEAR)
    inside = cv2.warpAffine(shape.astype(np.uint8) * 255, m, (size, size), flags=cv2.INTER_LINEAR) > 127
    flaw = cv2.warpAffine(scratch_mask.astype(np.uint8) * 255, m, (size, size), flags=cv2.INTER_NEAREST) > 0
    out = background.copy()
    out[inside] = placed[inside]
    noise = rng.normal(0, 3, out.shape)
    return (out.astype(np.float32) + noise).clip(0, 255).astype(np.uint8), flaw
