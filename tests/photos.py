"""Real photographs for fidelity tests, from a pip dependency (matplotlib's sample data), so that a fresh clone
without ../shared/data still tests on camera images rather than generated shapes."""

from __future__ import annotations

import numpy as np
from PIL import Image


def grace_hopper() -> np.ndarray:
    """matplotlib's sample portrait (600 x 512 px JPEG) as H x W x 3 uint8 RGB."""
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as f, Image.open(f) as im:
        return np.asarray(im.convert("RGB")).copy()


def photo_views(n: int = 4) -> list[np.ndarray]:
    """`n` different views of the photo: whole, two overlapping crops, mirrored, then shifted crops."""
    photo = grace_hopper()
    h, w = photo.shape[:2]
    views = [photo, photo[: h // 2 + 100, : w // 2 + 100], photo[h // 2 - 100:, w // 2 - 100:], photo[:, ::-1]]
    step = 0
    while len(views) < n:
        step += 1
        views.append(photo[(step * 17) % (h // 3):, (step * 29) % (w // 3):])
    return [np.ascontiguousarray(v) for v in views[:n]]
