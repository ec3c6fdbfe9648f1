"""The backbone's feature grid on OpenVINO: an IR converted from the torch graph, cached per machine.

The IR is the conversion (`openvino.convert_model`) of Backbone.feature_grid, the one
feature definition: uint8 N x S x S x 3 RGB images in, float32 N x C x h x w patch
features out (normalisation, network, token grid, patch averaging, stage upsampling
and stride all inside). So a torch install and an OpenVINO one, or an exported folder
with no torch at all, compute the same features from the same weights.

IRs are cached per machine (inference/ir_cache.py) under a key of everything that shapes
them (weights sha256, input size, feature settings, int8 or not, the calibration images,
the OpenVINO version): a change of any of them builds a new one.

This module imports no torch at load: the export's inference (`inspector infer` on an
exported folder) uses CompiledGrid alone. Converting and quantising import torch/nncf.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import sys
import threading
import warnings
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .cpu_flags import CPUINFO, cpu_flags
from .ir_cache import cache_json, version

log = logging.getLogger(__name__)

# EngineConfig precision -> OpenVINO CPU inference precision hint.
HINTS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}
# An int8 IR is kept only when its features stay this close to fp32's (mean cosine over the calibration images).
INT8_MIN_COSINE = 0.999
# Convolutions at the network's input left in float by the quantisation (quantize_int8).
FLOAT_FIRST_CONVS = 2
# Operation types left in float by the quantisation: the feature definition after the network (patch averaging,
# stage upsampling, concatenation) and the depthwise convolutions (quantize_int8 says why).
FLOAT_TYPES = ("AvgPool", "Interpolate", "Concat", "GroupConvolution")
# Bumped when quantize_int8 changes what it makes, so an int8 IR cached by an earlier recipe is not reused.
INT8_RECIPE = 3
# The CPU flags (as Linux names them) of an 8-bit dot product that accumulates in 32 bits (VNNI). Without one,
# the CPU multiplies int8 pairs into 16-bit sums that saturate, and int8 weights use half their range instead
# (NNCF's overflow fix; int8_weight_range says why).
VNNI_CPU_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """Whether OpenVINO is installed (a dependency of `pip install -e .`; an install without it runs torch)."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def hint_for(precision: str) -> str:
    return HINTS.get(precision, "f32")


class CompiledGrid:
    """An IR compiled for the CPU with one inference precision hint: uint8 images -> float32 features."""

    def __init__(self, xml: Path | str, precision: str = "fp32", threads: int = 0):
        import openvino as ov

        core = ov.Core()
        config = {"INFERENCE_PRECISION_HINT": hint_for(precision), "PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        self.xml = Path(xml)
        self.precision = precision
        self.compiled = core.compile_model(core.read_model(str(xml)), "CPU", config)
        self._request = self.compiled.create_infer_request()
        self._lock = threading.Lock()  # one infer request: calls from two threads take turns

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(images, dtype=np.uint8)
        with self._lock:
            out = self._request.infer({0: x})
            return np.array(out[self.compiled.output(0)], dtype=np.float32, copy=True)


def convert(module, input_size: int):
    """openvino.Model of a torch module taking uint8 N x S x S x 3 (any N)."""
    import openvino as ov
    import torch

    example = torch.zeros((1, input_size, input_size, 3), dtype=torch.uint8)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shape checks that are constant for a fixed size
        return ov.convert_model(module, example_input=example,
                                input=[(ov.PartialShape([-1, input_size, input_size, 3]), ov.Type.u8)])


@functools.lru_cache(maxsize=2)
def int8_weight_range(cpuinfo: Path = CPUINFO) -> str:
    """"full" where this CPU has VNNI, else "half": the int8 weights' range that keeps this CPU's sums exact.

    Without VNNI (AVX2 CPUs before Intel's Alder Lake and AMD's Zen 4, AVX-512 ones before Cascade Lake) an int8
    convolution or matrix product adds pairs of 8-bit products in 16 bits, which saturate for large weights
    and activations. Measured on an AMD EPYC without VNNI (docs/benchmarks.md, issue 21): EfficientNet-Lite0's
    int8 features came to a mean cosine of 0.9966 to fp32 on 16 mvtec_bottle images, where a CPU with VNNI
    reached 0.9995, and the int8 gate refused all six dev sets there. Half the weight range (7 bits) cannot
    saturate: 0.9989 on mvtec_bottle, and ksdd and visa_fryum kept (0.9992). The flags: /proc/cpuinfo on Linux,
    numpy's CPU table elsewhere (cpu_flags; it lists AVX-512 VNNI, not AVX-VNNI). Where they cannot be read, or
    show no VNNI, half: the range that is exact on every CPU.
    """
    words = cpu_flags(cpuinfo) or frozenset()
    return "full" if any(flag in words for flag in VNNI_CPU_FLAGS) else "half"


def quantize_int8(xml: Path, batches: Sequence[np.ndarray], weight_range: str = "full"):
    """NNCF post-training quantisation of the fp32 IR, calibrated on `batches` of uint8 images.

    `weight_range` "half" quantises every weight to 7 bits (NNCF's overflow fix), for CPUs without VNNI."""
    import nncf
    import openvino as ov

    model = ov.Core().read_model(str(xml))
    # The shared feature definition after the network (patch averaging, stage upsampling, concatenation) stays
    # in float: quantising it moved EfficientNet-Lite0's features to a cosine of 0.91, against 0.98 without.
    # Full bias correction instead of the fast one: 0.992 instead of 0.978 (mvtec_bottle, 4 images).
    # The first FLOAT_FIRST_CONVS convolutions stay in float too: the image arrives as 8 bits already, and
    # quantising the normalised image again costs most of the error (Lite0, 16 OK images: cosine 0.9947
    # instead of 0.9745 on mpdd_metal_plate, 0.9994 instead of 0.9923 on mvtec_bottle), for under 2 % of the
    # network's operations. On a ViT the first convolution is the patch embedding.
    # The depthwise convolutions (GroupConvolution) stay in float as well: each of their outputs sums 9 products,
    # where a pointwise one sums 16 to 1,152 (EfficientNet-Lite0), so the rounding of their int8 inputs does not
    # average out. With them in float, int8's image AUROC on ksdd (low-contrast steel) came within 0.005 of fp32
    # in every cell instead of losing 0.016-0.033 (docs/benchmarks.md, issue 21); the pointwise convolutions,
    # most of the network's operations, stay int8. A ViT has none.
    first = [op.get_friendly_name() for op in model.get_ordered_ops()
             if op.get_type_name() in ("Convolution", "GroupConvolution")][:FLOAT_FIRST_CONVS]
    post = nncf.IgnoredScope(types=list(FLOAT_TYPES), names=first, validate=False)
    # The full range passes no advanced parameters: NNCF's defaults, so a VNNI machine quantises as before.
    half = ({"advanced_parameters": nncf.AdvancedQuantizationParameters(overflow_fix=nncf.OverflowFix.ENABLE)}
            if weight_range == "half" else {})
    with _nncf_off_stdout():
        return nncf.quantize(model, nncf.Dataset(list(batches)), subset_size=len(batches), ignored_scope=post,
                             fast_bias_correction=False,
                             model_type=nncf.ModelType.TRANSFORMER if _has_attention(model) else None, **half)


@contextlib.contextmanager
def _nncf_off_stdout():
    """NNCF logs INFO lines (its own handler writes to stdout) and draws progress bars (rich, on sys.stdout), where
    `inspector ... --json` writes the answer the line's software parses: a load that quantised broke that JSON.
    Its log keeps to warnings and goes where the application's log goes (stderr); its progress bars to stderr
    (sys.stdout is the process's: quantisation runs in a fit or a model's load, where no answer is being printed)."""
    nncf_log = logging.getLogger("nncf")
    nncf_log.setLevel(logging.WARNING)
    for handler in list(nncf_log.handlers):
        if type(handler) is logging.StreamHandler:  # its console handler, not a file's
            nncf_log.removeHandler(handler)
    nncf_log.propagate = True
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _has_attention(model) -> bool:
    return any(op.get_type_name() == "Softmax" for op in model.get_ops())


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean cosine between the patch features of two N x C x h x w grids."""
    a = np.moveaxis(a, 1, -1).reshape(-1, a.shape[1]).astype(np.float64)
    b = np.moveaxis(b, 1, -1).reshape(-1, b.shape[1]).astype(np.float64)
    num = (a * b).sum(1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12
    return float((num / den).mean())


def images_digest(batches: Sequence[np.ndarray]) -> str:
    h = hashlib.sha256()
    for b in batches:
        h.update(np.ascontiguousarray(b).tobytes())
    return h.hexdigest()


def _cosine_file(xml: Path, precision: str) -> Path:
    return Path(xml).parent / f"cosine-{hint_for(precision)}.json"


def stored_cosine(xml: Path, precision: str) -> Optional[float]:
    """The int8 IR's mean cosine to fp32 measured on its calibration images on this machine, compiled with
    `precision`'s hint (None: not measured yet). The IR's key already holds the images' digest."""
    try:
        return float(json.loads(_cosine_file(xml, precision).read_text())["cosine"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def store_cosine(xml: Path, precision: str, cosine: float) -> None:
    """Keep the measured cosine beside the cached IR (best effort: a read-only cache only measures again)."""
    cache_json(_cosine_file(xml, precision), {"cosine": cosine, "openvino": version()}, "int8 cosine")


def cosine_text(cosine: float, gate: float) -> str:
    """`cosine` with 4 decimals, or as many more as it takes to stay on its side of `gate` (0.99898 is not
    "0.9990", which would read as passing a gate of 0.999 it failed)."""
    for digits in (4, 5, 6, 7):
        text = f"{cosine:.{digits}f}"
        if (float(text) >= gate) == (cosine >= gate):
            return text
    return repr(float(cosine))


def int8_refusal(cosine: float, min_cosine: Optional[float] = None) -> Optional[str]:
    """Why an int8 IR is refused (None: kept). `min_cosine`: tests and benches only; None is INT8_MIN_COSINE."""
    gate = INT8_MIN_COSINE if min_cosine is None else min_cosine
    if cosine >= gate:
        return None
    return (f"precision int8 refused: the quantised backbone's patch features reach a mean cosine of "
            f"{cosine_text(cosine, gate)} to fp32 on the taught OK images, below {gate}; its scores would differ from "
            "the fp32 model's. Use precision auto (bf16 or fp32) for this model")
