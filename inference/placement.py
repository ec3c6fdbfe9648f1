"""Where the part lies, for the engine: alignment (inference/align.py) and ignore regions in fit and inspection.

Kept apart from engine.py so that its call sites stay one line each. Teaching:
crops where each OK image's part lies, the reference stored with the model.
Inspection: the aligned crop is scored, then its map, mask and regions are put
back where the part lies in the original image; a part not found gives NOT_FOUND.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np

from . import project
from .align import LOCATE_VERSION, REFERENCE_FILE, Locator, Reference, check_locate_box, default_locate_box
from .align import map_to_image, prepare_located, reference_from_png, reference_png
from .config import EngineConfig
from .errors import ImageError, InspectorError, ProjectError, RoiError
from .verdict import Verdict
from . import brightness, image_check
from .features import PreparedImage, embed_batch, inside_patches, kept_patch_mask, prepare
from .model_record import ModelRecord
from .preprocess import as_rgb8
from .roi import Roi, full_image_roi, ignore_list_from_json, outline, roi_to_dict
from .scoring import InferenceResult, error_result

if TYPE_CHECKING:
    from .backbone import Backbone
    from .fitted import Model


def stored_geometry(record: ModelRecord) -> tuple[tuple, None]:
    """A fitted model's ignore regions; add() keeps its locate region and reference."""
    return ignore_list_from_json(list(record.ignore)), None


def prepare_teaching(folder, ok_images, roi, same_size, config, previous, locate_box):
    """(prepared OK crops, ROI, locator or None, note): plain ROI crops without alignment, else crops where
    each OK image's part lies (the reference is the first OK image, or the model's for add()).

    When none of the other OK images matches the reference, the view has no part
    that repeats (a surface, or parts that differ in shape): with the default
    locate region over the whole image the model is taught without alignment and
    the note says why; with a drawn ROI or locate region the fit is refused,
    naming the cause rather than one image."""
    if config.align == "none":
        prepared, roi = prepare(ok_images, roi, same_size, max_megapixels=config.max_image_megapixels)
        return prepared, roi, None, ""
    drawn = roi is not None or locate_box is not None
    if previous is not None:
        locator = load_geometry(Path(folder), previous.record, config)[1]
    else:
        first = as_rgb8(ok_images[0], config.max_image_megapixels)
        h, w = first.shape[:2]
        roi = roi if roi is not None else full_image_roi(w, h)
        prepare([first], roi)  # the ROI must lie inside the reference image: same message as without alignment
        box = check_locate_box(locate_box, w, h) if locate_box is not None else default_locate_box(roi, w, h)
        locator = Locator(config.align, config.align_max_angle_deg, config.align_min_confidence,
                          Reference.from_image(first, box), (w, h))
    prepared = prepare_located(ok_images, roi, locator, max_megapixels=config.max_image_megapixels)
    others = prepared[1:] if previous is None else []
    if len(others) >= 2 and all(p.placement.confidence < locator.min_confidence for p in others):
        best = max(p.placement.confidence for p in others)
        why = (f"align: {config.align} found no part that repeats from image to image: the other {len(others)} OK "
               f"images match the first at {best:.2f} at best (align_min_confidence {locator.min_confidence:g}), "
               "as on a plain surface or parts that differ in shape")
        if drawn:
            raise ImageError(f"{why}: draw the locate region over a distinct part, or set align: none")
        prepared, roi = prepare(ok_images, None, same_size, max_megapixels=config.max_image_megapixels)
        return prepared, roi, None, f"{why}; taught without alignment (draw a ROI over the part to align)"
    for p in prepared:
        if p.not_found:
            raise ImageError(f"{p.name}: {p.not_found} (an OK image to teach must show the whole part; check the "
                             "locate region or align_min_confidence)")
    return prepared, roi, locator, ""


def check_ignore(roi: Roi, ignore: tuple) -> None:
    """Ignore regions are rect, circle or polygon shapes that overlap the ROI (else they ignore nothing)."""
    bx0, by0, bx1, by1 = roi.bounds()
    for i, shape in enumerate(ignore, start=1):
        if getattr(shape, "kind", None) not in ("rect", "circle", "polygon"):
            raise RoiError(f"ignore region {i} must be a rect, circle or polygon, got {shape!r}")
        x0, y0, x1, y1 = shape.bounds()
        if x1 <= bx0 or y1 <= by0 or x0 >= bx1 or y0 >= by1:
            raise RoiError(f"ignore region {i} ({shape.kind}) lies outside the ROI: move it over the part")


def geometry_record(ignore: tuple, locator, previous, prepared, note: str = "") -> tuple[list, dict, dict]:
    """(ignore regions, alignment) as the model record holds them, and the model files they need. `note`: why
    alignment was asked for but not used (a view with nothing to locate)."""
    ignore_json = [roi_to_dict(s) for s in ignore]
    if locator is None:
        return ignore_json, ({"mode": "none", "note": note} if note else {"mode": "none"}), {}
    if previous is not None and previous.record.align.get("mode", "none") != "none":
        align = previous.record.align
    else:
        align = locator.manifest(prepared[0].name)
    return ignore_json, align, {REFERENCE_FILE: reference_png(locator.reference)}


def load_geometry(folder: Path, record: ModelRecord, config: EngineConfig) -> tuple[tuple, Optional[Locator]]:
    ignore = ignore_list_from_json(list(record.ignore))
    align = record.align
    if align.get("mode", "none") == "none":
        return ignore, None
    if align.get("locate_version") != LOCATE_VERSION:
        raise ProjectError(f"the model in {folder} was fitted with an earlier version of part location (it placed parts "
                           "differently): refit the model")
    try:
        data = project.read_model_file(folder, align["reference_file"], record)
        reference = reference_from_png(data, align["locate_box"])
        size = tuple(align["reference_size"])
    except (KeyError, TypeError, InspectorError) as exc:
        raise ProjectError(f"the alignment reference of {folder} cannot be used ({exc}): refit the model") from None
    return ignore, Locator(align["mode"], float(align["max_angle_deg"]), config.align_min_confidence, reference, size)


def prepare_inspection(model: Model, images, same_size, first_index: int, names=None) -> list[PreparedImage]:
    limit = model.config.max_image_megapixels
    if model.locator is None:
        prepared = prepare(images, model.roi, same_size, first_index=first_index, max_megapixels=limit,
                           names=names)[0]
    else:
        prepared = prepare_located(images, model.roi, model.locator, first_index, max_megapixels=limit, names=names)
    # The camera took it as it took the taught images (before compensation, which would hide a light gone off)
    prepared = image_check.check(prepared, model.record.exposure, model.roi, model.ignore)
    # The levels the model was taught at, taken inside its ROI
    return brightness.compensate(prepared, model.record.brightness, model.roi, model.ignore)


def bank_mask(roi: Roi, ignore: tuple, p: PreparedImage, token_shape) -> np.ndarray:
    mask = kept_patch_mask(roi, ignore, p.crop.box, token_shape)
    return mask if p.valid is None else mask & inside_patches(p.valid, token_shape)


def inside_only(p: PreparedImage, mask, pmask, patch_scores):
    """A whole image turned by alignment: the filled border is left out like an ignore region."""
    if p.valid is None:
        return mask, pmask, patch_scores
    inside = inside_patches(p.valid, patch_scores.shape)
    pmask = pmask & inside
    patch_scores = patch_scores.copy()
    patch_scores[~inside] = float(np.median(patch_scores[pmask])) if pmask.any() else 0.0
    return mask & p.valid, pmask, patch_scores


def embed_found(backbone: Backbone, prepared: list[PreparedImage]):
    found = [p.crop.pixels for p in prepared if not p.not_found]
    return embed_batch(backbone, found) if found else []


def placed_in_image(result: InferenceResult, p: PreparedImage, model: Model) -> InferenceResult:
    """The aligned crop's map and mask put back where the part lies in the image (areas keep their size:
    the placement is rigid). The score stays the aligned crop's."""
    w, h = p.image_size
    amap, box = map_to_image(result.anomaly_map, p.placement, p.crop.box, w, h)
    mask, _ = map_to_image(result.mask.astype(np.uint8), p.placement, p.crop.box, w, h, nearest=True)
    mask = mask.astype(bool)
    amap[~mask] = 0.0
    result.anomaly_map, result.mask, result.box = amap, mask, box
    result.outline = p.placement.apply(outline(model.roi))
    result.ignore_outlines = [p.placement.apply(outline(shape)) for shape in model.ignore]
    zones = model.calibration.zone_list if model.calibration is not None else ()
    result.zone_outlines = [p.placement.apply(outline(zone.shape)) for zone in zones]
    result.location = p.placement.to_dict()
    result.reference_to_image = p.placement.matrix
    return result


def error_of(model: Model, name: str, exc: InspectorError) -> InferenceResult:
    """ERROR: an image that could not be prepared for inspection (`exc` says why), the image check's fault named in
    the result when that was it."""
    result = error_result(name, str(exc), model.backbone.token_shape,
                          model.calibration.threshold if model.calibration else None)
    if isinstance(exc, image_check.ImageCheckError):
        result.image_check = exc.check
    return result


def not_found_result(model: Model, p: PreparedImage) -> InferenceResult:
    """NOT_FOUND: neither OK nor NG; no score, an empty map over the ROI's drawn box."""
    x0, y0, x1, y1 = p.crop.box
    w, h = p.image_size
    box = (min(x0, w - 1), min(y0, h - 1), max(min(x1, w), min(x0, w - 1) + 1), max(min(y1, h), min(y0, h - 1) + 1))
    shape = (box[3] - box[1], box[2] - box[0])
    result = InferenceResult(p.name, None, np.zeros(shape, np.float32), np.zeros(shape, bool), box,
                             tuple(model.backbone.token_shape), verdict=Verdict.NOT_FOUND, reason=p.not_found,
                             threshold=model.calibration.threshold if model.calibration else None)
    if p.placement is not None:
        result.location = p.placement.to_dict()
    return result


def found_scores(results: list[InferenceResult], kind: str) -> list[float]:
    """Scores for calibration; a part not found, or an image that could not be inspected, calibrates nothing."""
    for bad, what in ((Verdict.ERROR, "could not be inspected"), (Verdict.NOT_FOUND, "part not found")):
        missing = [r for r in results if r.verdict == bad]
        if missing:
            shown = ", ".join(r.name for r in missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            raise InspectorError(f"{what} in {len(missing)} {kind} calibration image(s) ({shown}): {missing[0].reason}")
    return [r.score for r in results]
