"""Images -> ROI crops -> patch features, batched, with the shape's patch mask.

Shared by fit (memory bank) and inference (queries) so that both see exactly
the same crop, resize and feature pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import numpy as np

from .backbone import Backbone
from .errors import ImageError
from .preprocess import ImageInput, RoiCrop, as_rgb8, crop_roi, image_name, stack_inputs
from .progress import CancelToken, ProgressFn, check, report
from .roi import Roi, full_image_roi, shape_mask

# A patch joins the memory bank / the score when this share of it lies inside the shape.
PATCH_COVERAGE_MIN = 0.25


@dataclass
class PreparedImage:
    name: str
    crop: RoiCrop


def prepare(
    images: Sequence[ImageInput], roi: Optional[Roi], same_size: Optional[tuple[int, int]] = None
) -> tuple[list[PreparedImage], Roi]:
    """Load every image and cut its ROI box; all problems surface here, before any long work.

    Without a ROI the whole first image is used, and then every image must be
    that size (`same_size`, width x height, is enforced too when given): a
    bigger one would otherwise be cut silently to its top-left corner.
    """
    prepared: list[PreparedImage] = []
    for i, image in enumerate(images):
        name = image_name(image, i)
        pixels = as_rgb8(image)
        size = (pixels.shape[1], pixels.shape[0])
        if roi is None:
            roi = full_image_roi(*size)
            same_size = same_size or size
        if same_size is not None and size != tuple(same_size):
            raise ImageError(
                f"{name} is {size[0]} x {size[1]} px but the model inspects whole {same_size[0]} x {same_size[1]} px "
                "images: use images from the same camera setup, or draw a ROI"
            )
        prepared.append(PreparedImage(name, crop_roi(pixels, roi, name)))
    if roi is None:
        raise ImageError("no images given")
    return prepared, roi


def patch_mask(roi: Roi, box: tuple[int, int, int, int], token_shape: tuple[int, int]) -> np.ndarray:
    coverage = shape_mask(roi, box, token_shape[0], token_shape[1], supersample=4)
    return coverage >= PATCH_COVERAGE_MIN


def embed_crops(
    backbone: Backbone,
    crops: Sequence[np.ndarray],
    progress: Optional[ProgressFn] = None,
    cancel: Optional[CancelToken] = None,
    stage: str = "embedding",
) -> Iterator[np.ndarray]:
    """Yields N x C x h x w float32 feature batches, in order, one per batch_size crops."""
    size = backbone.config.input_size
    step = backbone.config.batch_size
    total = len(crops)
    for start in range(0, total, step):
        check(cancel)
        batch = stack_inputs(crops[start:start + step], size)
        yield backbone.embed(batch).cpu().numpy()
        report(progress, stage, min(start + step, total), total)
