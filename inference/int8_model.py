"""`precision: int8`: the taught OK images a model keeps to quantise its backbone, and the gate at fit.

With `precision: int8` (opt-in, OpenVINO only) a fit keeps up to MAX_IMAGES of its taught
OK images, resized to the network's input, as the model file `int8_calibration.npz`.
They calibrate NNCF's post-training quantisation of the backbone's IR
(Backbone.quantized); the int8 IR is kept only when its patch features reach a mean
cosine of 0.999 to fp32 on those images, else the fit is refused and nothing is saved.
The IR and the measured cosine are cached per machine (inference/openvino_runtime.py),
so loading the model again costs a compile, not a quantisation. A model taught without
int8 has no calibration images: inspecting it with int8 is refused with a clear message.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .errors import ProjectError

INT8 = "int8"
CALIBRATION_FILE = "int8_calibration.npz"
# Calibration images kept per model: the first taught ones (an add keeps the earlier ones first).
MAX_IMAGES = 16


def wanted(*configs) -> bool:
    """Whether any of these configs (the fit's, the machine's) asks for int8."""
    return any(c is not None and c.precision == INT8 for c in configs)


def calibration_inputs(crops: Sequence[np.ndarray], input_size: int,
                       earlier: Optional[np.ndarray] = None) -> np.ndarray:
    """uint8 N x S x S x 3: the earlier calibration images, then `crops` resized, MAX_IMAGES at most."""
    from .preprocess import stack_inputs

    kept = [] if earlier is None else list(earlier[:MAX_IMAGES])
    room = MAX_IMAGES - len(kept)
    if room > 0 and len(crops):
        kept.extend(stack_inputs(list(crops[:room]), input_size))
    return np.stack(kept).astype(np.uint8, copy=False)


def to_bytes(inputs: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, images=np.ascontiguousarray(inputs, dtype=np.uint8))
    return buf.getvalue()


def stored_inputs(folder: Path, record, required: bool = True) -> Optional[np.ndarray]:
    """The calibration images of the model in `folder` (checked against its manifest). A model without them:
    ProjectError when `required` (inspecting it with int8), else None."""
    from . import project

    if CALIBRATION_FILE not in record.files:
        if not required:
            return None
        raise ProjectError(f"precision int8 needs the taught OK images to quantise the backbone, and the model in "
                           f"{folder} was taught without precision int8: teach it again with precision int8, or "
                           "set precision auto")
    data = project.read_model_file(folder, CALIBRATION_FILE, record)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            images = npz["images"]
    except (OSError, ValueError, KeyError) as exc:
        raise ProjectError(f"{CALIBRATION_FILE} of {folder} cannot be read ({exc}): teach the model again") from None
    if images.dtype != np.uint8 or images.ndim != 4 or not len(images):
        raise ProjectError(f"{CALIBRATION_FILE} of {folder} holds no images: teach the model again")
    return images
