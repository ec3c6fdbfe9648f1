"""Which runtime computes the backbone's feature grid, and the OpenVINO one.

Backbone.embed is the feature-extractor interface: uint8 N x S x S x 3 RGB images in,
float32 N x C x h x w patch features out. Two runtimes implement it from one
definition (Backbone.feature_grid):

- torch: runs feature_grid itself (the reference; CUDA, autocast, torch.compile);
- openvino: runs the conversion of feature_grid with the same weights, built once per
  machine and cached (inference/openvino_runtime.py), in fp32 or bf16 (the CPU's
  inference precision hint), or int8 after NNCF quantisation on the taught OK images.

`runtime: auto` picks OpenVINO on a CPU when it is installed and torch on CUDA.
The search, the map and the score after the features are the same code for both.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from . import ir_cache
from . import openvino_runtime as ovr
from .errors import ConfigError, InspectorError

if TYPE_CHECKING:
    import torch

    from .backbone import Backbone


def pick_runtime(setting: str, device: "torch.device") -> str:
    """torch or openvino for the `runtime` setting on `device` (the one use_gpu gives)."""
    if setting == "torch":
        return "torch"
    if setting == "openvino":
        if not ovr.available():
            raise ConfigError("config key 'runtime' is openvino but the openvino package is not installed: "
                              "pip install -e '.[openvino]', or set runtime: torch")
        return "openvino"
    return "openvino" if device.type == "cpu" and ovr.available() else "torch"


def _grid_module(backbone: "Backbone"):
    """Backbone.feature_grid in fp32 as a torch module, for openvino.convert_model."""
    import torch

    class GridModule(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = backbone.model

        def forward(self, x):
            return backbone.feature_grid(x, backbone._eager, torch.float32)

    return GridModule().eval()


class OpenVinoExtractor:
    """The OpenVINO runtime of one Backbone: its fp32 IR (cached), compiled per precision on first use."""

    def __init__(self, backbone: "Backbone"):
        self.backbone = backbone
        self._compiled: dict[str, ovr.CompiledGrid] = {}
        self._lock = threading.Lock()

    def key_parts(self, int8_images: str = "") -> dict:
        """Everything that shapes the IR (ir_cache.ir_key adds the OpenVINO version)."""
        b, c = self.backbone, self.backbone.config
        parts = {
            "weights_sha256": b.weights.sha256, "timm_name": b.preset.timm_name, "backbone": c.backbone,
            "backbone_kwargs": c.backbone_kwargs, "cnn_layers": list(c.cnn_layers) if b.preset.kind == "cnn" else None,
            "input_size": c.input_size, "patch_size": c.patch_size, "stride": c.stride,
            "patch_zero_pad": c.patch_zero_pad, "precision": "int8" if int8_images else "fp32",
            "int8_images": int8_images,
        }
        if b.preset.kind == "cnn" and any(w != 1.0 for w in c.stage_weights()):  # absent when unweighted,
            parts["cnn_stage_weights"] = list(c.stage_weights())  # so the earlier keys stay valid
        if int8_images:  # only int8 IRs depend on the recipe: the fp32 keys stay as they were
            parts["int8_recipe"] = ovr.INT8_RECIPE
            if ovr.int8_weight_range() == "half":  # absent for the full range, so earlier keys stay valid
                parts["int8_weights"] = "half"
        return parts

    def fp32_ir(self) -> Path:
        parts = self.key_parts()
        return ir_cache.cached_ir(ir_cache.ir_key(parts), parts,
                                  lambda: ovr.convert(_grid_module(self.backbone), self.backbone.config.input_size))

    def compiled(self, precision: str) -> ovr.CompiledGrid:
        with self._lock:
            if precision not in self._compiled:
                self._compiled[precision] = ovr.CompiledGrid(self.fp32_ir(), precision)
            return self._compiled[precision]

    def embed(self, images: np.ndarray, precision: str) -> np.ndarray:
        return self.compiled(precision)(images)

    def int8(self, crops: Sequence[np.ndarray], precision: str,
             min_cosine: Optional[float] = None) -> ovr.CompiledGrid:
        """The int8 IR calibrated on `crops` (cached by their digest), compiled; refused below the cosine gate.

        `min_cosine` is for tests and benches only (the gate is not a setting): None is INT8_MIN_COSINE.
        The measured cosine is kept beside the cached IR per compile precision, so a later load of the
        same model on this machine does not embed the calibration images twice again."""
        from .preprocess import stack_inputs

        if not len(crops):
            raise InspectorError("precision int8 needs the taught OK images to calibrate the quantisation")
        size, step = self.backbone.config.input_size, self.backbone.config.batch_size
        batches = [stack_inputs(crops[i:i + step], size) for i in range(0, len(crops), step)]
        parts = self.key_parts(ovr.images_digest(batches))
        fp32_xml = self.fp32_ir()
        xml = ir_cache.cached_ir(ir_cache.ir_key(parts), parts,
                                 lambda: ovr.quantize_int8(fp32_xml, batches, ovr.int8_weight_range()))
        # Operations left unquantised run in `precision` (the machine's: bf16 where native).
        grid = ovr.CompiledGrid(xml, precision)
        cosine = ovr.stored_cosine(xml, precision)
        if cosine is None:
            reference = self.compiled("fp32")
            cosine = ovr.mean_cosine(np.concatenate([grid(b) for b in batches]),
                                     np.concatenate([reference(b) for b in batches]))
            ovr.store_cosine(xml, precision, cosine)
        refusal = ovr.int8_refusal(cosine, min_cosine)
        if refusal:
            raise InspectorError(refusal)
        grid.cosine = cosine
        return grid
