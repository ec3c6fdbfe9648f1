"""`precision: int8`: whether a config asks for it, and the taught images that quantise the backbone.

With `precision: int8` (opt-in, OpenVINO only) the model's taught samples (inference/taught_samples.py,
kept by every fit) calibrate NNCF's post-training quantisation of the backbone's IR
(Backbone.quantized); the int8 IR is kept only when its patch features reach a mean
cosine of 0.999 to fp32 on those images, else the fit is refused and nothing is saved.
The IR and the measured cosine are cached per machine (inference/openvino_runtime.py),
so loading the model again costs a compile, not a quantisation. A model saved without taught
samples (before they were kept, and not taught with int8) is refused with a clear message.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import taught_samples
from .errors import ProjectError

INT8 = "int8"


def wanted(*configs) -> bool:
    """Whether any of these configs (the fit's, the machine's) asks for int8."""
    return any(c is not None and c.precision == INT8 for c in configs)


def stored_inputs(folder: Path, record) -> np.ndarray:
    """The images that quantise the model in `folder`: its taught samples; ProjectError when it has none."""
    images = taught_samples.stored(folder, record)
    if images is None:
        raise ProjectError(f"precision int8 needs the taught OK images to quantise the backbone, and the model in "
                           f"{folder} was saved without them: teach it again, or set precision auto")
    return images
