"""Uploaded images -> RGB arrays, within the size limits; form fields -> checked values."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from fastapi import UploadFile

from inference import (
    ImageError,
    ImageTooLargeError,
    InspectorError,
    Roi,
    check_image_header,
    crop_box,
    decode_image,
    roi_from_dict,
    zones_from_list,
)

from .errors import ApiError


@dataclass(frozen=True)
class Limits:
    max_image_bytes: int = 50 * 1024 * 1024
    max_request_bytes: int = 512 * 1024 * 1024
    max_images: int = 1000  # files per request
    # Pixels per image, read from each header before anything is decoded; None: the engine's
    # max_image_megapixels (create_app fills it in).
    max_megapixels: Optional[float] = None


def read_images(files: Sequence[UploadFile], field: str, limits: Limits, required: bool = True
                ) -> tuple[list[str], list[np.ndarray]]:
    """(file names, RGB arrays). 413 over a limit, 415 for a non-image, 422 for a corrupt one; each names the file."""
    files = [f for f in files or () if f is not None]
    if required and not files:
        raise ApiError(422, f"no images in the file field {field!r}")
    if len(files) > limits.max_images:
        raise ApiError(413, f"{len(files)} files in {field!r}: at most {limits.max_images} per request "
                            "(--max-images)")
    limit = limits.max_megapixels if limits.max_megapixels is not None else 64.0
    names = []
    # Every file's byte size and pixel count first, from its header alone: an image over a limit is refused
    # (413) before any image of the request is decoded, so no over-limit image is ever held decoded.
    for i, upload in enumerate(files):
        name = upload.filename or f"{field}[{i}]"
        size = upload.size if upload.size is not None else _size(upload)
        if size > limits.max_image_bytes:
            raise ApiError(413, f"{field} file {name!r} is {size} bytes: over the per-image limit of "
                                f"{limits.max_image_bytes} bytes (--max-image-mb)")
        if size:  # an empty file gets decode_image's own message
            try:
                check_image_header(upload.file, repr(name), limit)
            except ImageTooLargeError as exc:
                raise ApiError(413, _named(field, exc)) from None
            except ImageError as exc:
                raise ApiError(_image_status(exc), _named(field, exc)) from None
        names.append(name)
    arrays = []
    for name, upload in zip(names, files):
        upload.file.seek(0)
        data = upload.file.read()
        try:
            arrays.append(decode_image(data, repr(name), limit))
        except ImageTooLargeError as exc:
            raise ApiError(413, _named(field, exc)) from None
        except ImageError as exc:
            raise ApiError(_image_status(exc), _named(field, exc)) from None
        del data
    return names, arrays


def _named(field: str, exc: ImageError) -> str:
    text = str(exc)
    return f"{field} file {text[len('image '):] if text.startswith('image ') else text}"


def _image_status(exc: ImageError) -> int:
    return 415 if "not an image" in str(exc) else 422


def _size(upload: UploadFile) -> int:
    upload.file.seek(0, 2)
    size = upload.file.tell()
    upload.file.seek(0)
    return size


def parse_number(field: str, text: Optional[str], positive: bool = False) -> Optional[float]:
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ApiError(422, f"form field {field!r} must be a number, got {text!r}") from None
    if not math.isfinite(value) or (positive and value <= 0):
        raise ApiError(422, f"form field {field!r} must be a {'positive ' if positive else ''}finite number, "
                            f"got {text!r}")
    return value


def parse_bool(field: str, text: Optional[str]) -> bool:
    if text is None or text == "":
        return False
    low = text.strip().lower()
    if low in ("true", "1", "yes", "on"):
        return True
    if low in ("false", "0", "no", "off"):
        return False
    raise ApiError(422, f"form field {field!r} must be true or false, got {text!r}")


def _json_field(field: str, text: Optional[str], parse, expected: str):
    """A form field holding JSON, through `parse`; None when absent; a 422 naming the field when it is not."""
    if text is None or text == "":
        return None
    try:
        data = json.loads(text)
    except ValueError:
        raise ApiError(422, f"form field {field!r} must be {expected}; got {text[:80]!r}") from None
    try:
        return parse(data)
    except InspectorError as exc:
        raise ApiError(422, f"form field {field!r}: {exc}") from None


def parse_roi(text: Optional[str]) -> Optional[Roi]:
    return _json_field("roi", text, roi_from_dict,
                       'ROI JSON, e.g. {"type": "circle", "cx": 80, "cy": 80, "r": 60}')


def parse_zones(text: Optional[str]) -> Optional[tuple]:
    """Form field 'zones': a JSON list of inspection zones; absent: the calibration keeps the zones it had."""
    return _json_field("zones", text, zones_from_list, 'a JSON list of zones, e.g. [{"name": "seal", "min_area": '
                       '0.05, "shape": {"type": "circle", "cx": 80, "cy": 80, "r": 20}}]')


def check_fit(field: str, names: Sequence[str], arrays: Sequence[np.ndarray], roi: Optional[Roi],
              same_size: Optional[Sequence[int]]) -> None:
    """Every image fits the ROI (and is `same_size`, width x height, for a whole-image model): else 422 naming it.

    The engine checks the same, but names uploads only by position; checking here also
    refuses a fit before it is queued instead of failing its job later.
    """
    for name, pixels in zip(names, arrays):
        width, height = pixels.shape[1], pixels.shape[0]
        if same_size is not None and (width, height) != tuple(same_size):
            raise ApiError(422, f"{field} file {name!r} is {width} x {height} px but the model inspects whole "
                                f"{same_size[0]} x {same_size[1]} px images: use images from the same camera "
                                "setup, or give a ROI")
        if roi is not None:
            try:
                crop_box(roi, width, height)
            except InspectorError as exc:
                raise ApiError(422, f"{field} file {name!r}: {exc}") from None


def read_part_ids(values: list, count: int) -> list:
    """The `part_id` form fields: none, or one per image (in order); each checked like every client's."""
    from station import checked_part_id

    if not values:
        return [None] * count
    if len(values) != count:
        raise ApiError(422, f"part_id: {len(values)} given for {count} image(s); give one per image, in order")
    try:
        return [checked_part_id(v) for v in values]
    except InspectorError as exc:
        raise ApiError(422, f"part_id: {exc}") from None
