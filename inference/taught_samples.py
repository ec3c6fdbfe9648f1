"""The taught samples a model keeps: up to MAX_IMAGES of its taught OK crops, as the backbone sees them.

Every fit keeps them as the model file `taught_samples.npz` (uint8 N x S x S x 3, the first taught
crops resized to the network's input, after lighting compensation; an add keeps the earlier ones first).
Two checks made on a machine other than the fitting one need images the model was taught with:
- `precision: int8` quantises the backbone on them (NNCF's calibration set, inference/int8_model.py);
- `precision: auto` on a machine whose low precision the fit could not measure (taught on a CPU without
  bf16, inspected on one with it, or on a GPU) measures it on them when the model is loaded
  (inference/precision_gate.py).
Models saved before this file existed kept the same images only when taught with int8, as
`int8_calibration.npz`: that file is still read.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .errors import ProjectError

SAMPLES_FILE = "taught_samples.npz"
INT8_CALIBRATION_FILE = "int8_calibration.npz"  # the same images, as int8 models kept them before
MAX_IMAGES = 16


def inputs(crops: Sequence[np.ndarray], input_size: int, earlier: Optional[np.ndarray] = None) -> np.ndarray:
    """uint8 N x S x S x 3: the earlier samples, then `crops` resized, MAX_IMAGES at most."""
    from .preprocess import stack_inputs

    kept = [] if earlier is None else list(earlier[:MAX_IMAGES])
    room = MAX_IMAGES - len(kept)
    if room > 0 and len(crops):
        kept.extend(stack_inputs(list(crops[:room]), input_size))
    return np.stack(kept).astype(np.uint8, copy=False)


def to_bytes(images: np.ndarray) -> bytes:
    """An .npz (np.load reads it) deflated at level 1: as small as savez_compressed's level 6 on images, in half
    the time (16 crops at 224 px: 1.19 against 1.16 MB, 0.036 against 0.064 s; every fit pays it)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as npz:
        with npz.open("images.npy", "w") as f:
            np.lib.format.write_array(f, np.ascontiguousarray(images, dtype=np.uint8))
    return buf.getvalue()


def file_of(record) -> Optional[str]:
    """The model file holding the taught samples (None: the model was saved without them)."""
    return next((name for name in (SAMPLES_FILE, INT8_CALIBRATION_FILE) if name in record.files), None)


def stored(folder: Path, record) -> Optional[np.ndarray]:
    """The taught samples of the model in `folder` (checked against its manifest); None when it has none."""
    from . import project

    name = file_of(record)
    if name is None:
        return None
    data = project.read_model_file(folder, name, record)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            images = npz["images"]
    except (OSError, ValueError, KeyError) as exc:
        raise ProjectError(f"{name} of {folder} cannot be read ({exc}): teach the model again") from None
    if images.dtype != np.uint8 or images.ndim != 4 or not len(images):
        raise ProjectError(f"{name} of {folder} holds no images: teach the model again")
    return images
