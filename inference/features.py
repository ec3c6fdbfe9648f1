"""Images -> ROI crops -> patch features, batched, with the shape's patch mask.

Shared by fit (memory bank) and inference (queries) so that both see exactly
the same crop, resize and feature pipeline.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import numpy as np

from .backbone import Backbone
from .errors import ImageError
from .preprocess import DEFAULT_MAX_MEGAPIXELS, ImageInput, RoiCrop, as_rgb8, crop_roi, image_name, stack_inputs
from .progress import CancelToken, ProgressFn, check, report
from .roi import Roi, full_image_roi, shape_mask

# A patch joins the memory bank / the score when this share of it lies inside the shape.
PATCH_COVERAGE_MIN = 0.25


@dataclass
class PreparedImage:
    name: str
    crop: RoiCrop


def prepare(
    images: Sequence[ImageInput], roi: Optional[Roi], same_size: Optional[tuple[int, int]] = None,
    first_index: int = 0, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS,
) -> tuple[list[PreparedImage], Roi]:
    """Load every image and cut its ROI box; all problems surface here, before any long work.

    Without a ROI the whole first image is used, and then every image must be
    that size (`same_size`, width x height, is enforced too when given): a
    bigger one would otherwise be cut silently to its top-left corner.
    """
    prepared: list[PreparedImage] = []
    for i, image in enumerate(images, start=first_index):
        name = image_name(image, i)
        pixels = as_rgb8(image, max_megapixels)
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


# Masks depend only on the ROI and the box: a fixed camera gives the same box for every
# image, so they are computed once, not per image. Read-only, as results share them.
@functools.lru_cache(maxsize=32)
def patch_mask(roi: Roi, box: tuple[int, int, int, int], token_shape: tuple[int, int]) -> np.ndarray:
    """Feature patches that lie at least PATCH_COVERAGE_MIN inside the shape."""
    coverage = shape_mask(roi, box, token_shape[0], token_shape[1], supersample=4)
    return _read_only(coverage >= PATCH_COVERAGE_MIN)


@functools.lru_cache(maxsize=32)
def pixel_mask(roi: Roi, box: tuple[int, int, int, int]) -> np.ndarray:
    """Pixels of the box whose centre lies inside the shape."""
    x0, y0, x1, y1 = box
    return _read_only(shape_mask(roi, box, y1 - y0, x1 - x0))


def _read_only(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def embed_crops(
    backbone: Backbone,
    crops: Sequence[np.ndarray],
    progress: Optional[ProgressFn] = None,
    cancel: Optional[CancelToken] = None,
    stage: str = "embedding",
) -> Iterator[np.ndarray]:
    """Yields N x C x h x w float32 feature batches, in order, one per batch_size crops."""
    step = backbone.config.batch_size
    total = len(crops)
    for start in range(0, total, step):
        check(cancel)
        yield embed_batch(backbone, crops[start:start + step])
        report(progress, stage, min(start + step, total), total)


def embed_batch(backbone: Backbone, crops: Sequence[np.ndarray]) -> np.ndarray:
    """One batch of crops -> N x C x h x w float32 features (resized to the canonical input)."""
    return backbone.embed(stack_inputs(crops, backbone.config.input_size)).cpu().numpy()
