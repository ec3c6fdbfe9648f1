"""Images -> ROI crops -> patch features, batched, with the shape's patch mask.

Shared by fit (memory bank) and inference (queries) so that both see exactly
the same crop, resize and feature pipeline.
"""

from __future__ import annotations

import functools
import hashlib
from itertools import islice
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator, Optional, Sequence

import numpy as np

from .errors import ImageError
from .heap import release_free_memory
from .preprocess import (DEFAULT_MAX_MEGAPIXELS, ImageInput, RoiCrop, as_rgb8, augmented_copies, crop_roi, image_name,
                         stack_inputs)
from .progress import CancelToken, ProgressFn, check, report
from .roi import Roi, full_image_roi, shape_mask

if TYPE_CHECKING:
    from .backbone import Backbone

# A patch joins the memory bank / the score when this share of it lies inside the shape.
PATCH_COVERAGE_MIN = 0.25

# Within reusing_features(): (backbone id, input shape, input digest) -> (backbone, its features). A context
# variable, so only the thread (or task) that opened the scope sees it: a service's other requests never do.
_REUSED: ContextVar[Optional[dict]] = ContextVar("reused_features", default=None)


@dataclass
class PreparedImage:
    name: str
    crop: RoiCrop
    # With alignment (inference.align): where the part lies in the image, the image's size (w, h),
    # and why the part was not found (then `crop` is not inspected).
    placement: Optional[object] = None
    image_size: Optional[tuple[int, int]] = None
    not_found: str = ""
    # Whole-image ROI turned by alignment: the crop's pixels that came from inside the image (the rest is
    # filled border, left out like an ignore region). None: all of them.
    valid: Optional[np.ndarray] = None
    # Lighting compensation (brightness.compensate): the grey levels added to the crop's median to bring it to
    # the taught images'. None: not compensated.
    brightness_shift: Optional[float] = None


def prepare(
    images: Sequence[ImageInput], roi: Optional[Roi], same_size: Optional[tuple[int, int]] = None,
    first_index: int = 0, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS, names: Optional[Sequence[str]] = None,
) -> tuple[list[PreparedImage], Roi]:
    """Load every image and cut its ROI box; all problems surface here, before any long work.

    Without a ROI the whole first image is used, and then every image must be
    that size (`same_size`, width x height, is enforced too when given): a
    bigger one would otherwise be cut silently to its top-left corner.
    """
    prepared: list[PreparedImage] = []
    for i, image in enumerate(images, start=first_index):
        name = names[i - first_index] if names else image_name(image, i)
        pixels = as_rgb8(image, max_megapixels, name)
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


# -- ignore regions: left out of the memory bank, the scores and the regions -----------------------
@functools.lru_cache(maxsize=32)
def ignored_patches(ignore: tuple, box: tuple[int, int, int, int], token_shape: tuple[int, int]) -> np.ndarray:
    """Feature patches that touch any ignore region at all: their features see what is ignored."""
    touched = np.zeros(token_shape, bool)
    for shape in ignore:
        touched |= shape_mask(shape, box, token_shape[0], token_shape[1], supersample=4) > 0
    return _read_only(touched)


def kept_patch_mask(roi: Roi, ignore: tuple, box: tuple[int, int, int, int],
                    token_shape: tuple[int, int]) -> np.ndarray:
    """patch_mask less the patches that touch an ignore region (the same array without ignore regions)."""
    if not ignore:
        return patch_mask(roi, box, token_shape)
    return _read_only(patch_mask(roi, box, token_shape) & ~ignored_patches(ignore, box, token_shape))


def kept_pixel_mask(roi: Roi, ignore: tuple, box: tuple[int, int, int, int]) -> np.ndarray:
    """pixel_mask less the pixels inside an ignore region."""
    if not ignore:
        return pixel_mask(roi, box)
    x0, y0, x1, y1 = box
    mask = pixel_mask(roi, box).copy()
    for shape in ignore:
        mask &= ~shape_mask(shape, box, y1 - y0, x1 - x0)
    return _read_only(mask)


def neutralise_ignored(patch_scores: np.ndarray, ignore: tuple, box: tuple[int, int, int, int],
                       kept: np.ndarray) -> np.ndarray:
    """Patch scores with those that touch an ignore region set to the median of the kept ones.

    The map is smoothed and upsampled from these scores: a high score left in an
    ignored patch would bleed into its neighbours; a zero would hide theirs.
    """
    if not ignore:
        return patch_scores
    touched = ignored_patches(ignore, box, patch_scores.shape)
    out = patch_scores.copy()
    out[touched] = float(np.median(patch_scores[kept])) if kept.any() else 0.0
    return out


def inside_patches(valid: np.ndarray, token_shape: tuple[int, int]) -> np.ndarray:
    """Feature patches that lie wholly on real image pixels (see PreparedImage.valid)."""
    import cv2

    share = cv2.resize(valid.astype(np.float32), (token_shape[1], token_shape[0]), interpolation=cv2.INTER_AREA)
    return share >= 0.999


def _read_only(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def embed_crops(
    backbone: Backbone,
    crops: Iterable[np.ndarray],
    progress: Optional[ProgressFn] = None,
    cancel: Optional[CancelToken] = None,
    stage: str = "embedding",
    total: Optional[int] = None,
) -> Iterator[np.ndarray]:
    """Yields N x C x h x w float32 feature batches, in order, one per batch_size crops. `crops` may be made as
    they are asked for (a fit's turned copies: one batch of them is held, not all); `total` is then their count."""
    step = backbone.config.batch_size
    total = len(crops) if total is None else total
    crops, done = iter(crops), 0
    while True:
        check(cancel)
        batch = list(islice(crops, step))
        if not batch:
            return
        yield embed_batch(backbone, batch)
        done += len(batch)
        report(progress, stage, done, total)


def embed_batch(backbone: Backbone, crops: Sequence[np.ndarray]) -> np.ndarray:
    """One batch of crops -> N x C x h x w float32 features (resized to the canonical input)."""
    inputs = stack_inputs(crops, backbone.config.input_size)
    reused = _REUSED.get()
    if reused is None:
        return _embedded(backbone, inputs)
    key = (id(backbone), inputs.shape, hashlib.blake2b(np.ascontiguousarray(inputs).data, digest_size=16).digest())
    if key not in reused:  # the backbone is kept with its features, so its id stays its own for the scope
        feats = _embedded(backbone, inputs)
        feats.setflags(write=False)  # shared by every model that asks: none may change it for the others
        reused[key] = (backbone, feats)
    return reused[key][1]


def _embedded(backbone: Backbone, inputs: np.ndarray) -> np.ndarray:
    feats = backbone.embed(inputs)
    return feats if isinstance(feats, np.ndarray) else feats.cpu().numpy()  # an exported IR gives numpy


@contextmanager
def reusing_features():
    """Within this scope (this thread only), a batch of crops embedded once by a backbone is not embedded again by
    it: for batch jobs that inspect the same images with several models of one feature definition (`inspector
    rescore`'s two versions: the same backbone object, the same ROI and placement, so the same crops). Their
    scores are the ones each model gives alone. Memory grows with the batches embedded in the scope, so keep it
    to one batch of images; a nested scope shares the outer one's."""
    if _REUSED.get() is not None:
        yield
        return
    token = _REUSED.set({})
    try:
        yield
    finally:
        _REUSED.reset(token)


def training_crops(prepared: list[PreparedImage], config) -> Iterator[np.ndarray]:
    """Each OK crop, followed by its augmented copies when augmentation is on, then its turned / mirrored
    copies for the part's symmetry (len(crop_transforms) per image; see there for their token masks). Made as
    they are embedded: 200 images turned 16 times would otherwise hold 3,200 copies (1.9 GB at 448 px)."""
    from .foreground import symmetric_copies

    rng = np.random.default_rng(config.seed)
    for p in prepared:
        yield p.crop.pixels
        if config.augment:
            yield from augmented_copies(p.crop.pixels, config.augment_copies, config.augment_flips, rng)
        yield from symmetric_copies(p.crop.pixels, config.part_symmetry, config.input_size)


def crop_transforms(config) -> list[tuple]:
    """The grid transform (foreground.apply) of each crop training_crops makes per OK image, in its order:
    the crop and its augmented copies keep the image's token masks, a symmetric copy turns them with it."""
    from .foreground import transforms

    same = (0, False)
    augmented = (config.augment_copies + (2 if config.augment_flips else 0)) if config.augment else 0
    return [same] * (1 + augmented) + list(transforms(config.part_symmetry)[1:])


def coreset_ratio(config) -> float:
    """The share of the fit's embedded patches the coreset keeps: coreset_ratio, or with coreset_of: taught that
    share of the taught images' own patches (each image is embedded len(crop_transforms) times)."""
    if config.coreset_of == "taught":
        return config.coreset_ratio / len(crop_transforms(config))
    return config.coreset_ratio


@dataclass
class TaughtFeatures:
    """What embed_taught gives: the bank's new patch features (one array per crop), the model's foreground
    decision (foreground.FgMask.to_dict, or {} without one), (prepared, features) of the first images and
    each feature array's origin."""

    features: list
    foreground: dict
    reference: list
    # Per entry of `features`: (OK image index, copy index in training_crops' order, the flat positions of its
    # rows in the copy's own patch grid, the copy's grid transform): where each bank row came from (provenance).
    origins: list


def embed_taught(backbone: Backbone, prepared: list[PreparedImage], masks: list[np.ndarray], config,
                 fitted_foreground: Optional[dict], progress: Optional[ProgressFn], cancel: Optional[CancelToken],
                 n_reference: int) -> TaughtFeatures:
    """Embed the OK crops with their copies (training_crops) and keep each crop's patches inside its token
    mask (`masks`, per OK image; a turned / mirrored copy turns it with it) and inside the model's foreground:
    `fitted_foreground` for an existing model (add keeps it), else decided here from the taught images when
    config.foreground_mask is auto."""
    from . import foreground

    kinds = crop_transforms(config)
    copies = len(kinds)
    crops = training_crops(prepared, config)
    decide = fitted_foreground is None and config.foreground_mask == "auto"
    per_image, rows, reference = [], [], []
    done = 0
    for feats in embed_crops(backbone, crops, progress, cancel, total=len(prepared) * copies):
        for f in feats:
            i, kind = divmod(done, copies)
            mask = foreground.apply(masks[i], kinds[kind])
            rows.append((f.transpose(1, 2, 0)[mask], np.flatnonzero(mask), kind, i))
            if kind == 0:
                if decide:
                    per_image.append(foreground.image_foreground(f))
                if len(reference) < n_reference:
                    reference.append((prepared[i], f.copy()))  # a view would keep its whole batch alive
            done += 1
        release_free_memory()  # the batch's buffers, freed among the bank's rows: back to the OS, not kept
    record = foreground.decide(per_image).to_dict() if decide else dict(fitted_foreground or {})
    fg = foreground.from_record(record)
    kept, origins = [], []
    for features, flat, kind, image in rows:
        if fg is not None:
            inside = foreground.apply(fg, kinds[kind]).ravel()[flat]
            features, flat = features[inside], flat[inside]
        if len(features):
            kept.append(features)
            origins.append((image, kind, flat, kinds[kind]))
    return TaughtFeatures(kept, record, reference, origins)
