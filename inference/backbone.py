"""timm models -> a grid of patch features (N x C x h x w).

DINOv2 ViTs give their last block's patch tokens (grid = input / 14), or the mean of several blocks
(vit_blocks); CNNs
give two (configurable) stages, each averaged over a 3 x 3 neighbourhood and
upsampled to the finer stage, then concatenated, as PatchCore does with
wide_resnet50_2. Both then share the same local aggregation (patch_size).
"""

from __future__ import annotations

import copy

import functools
import logging
import os
import socket
import warnings
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import timm
import torch
import torch.nn.functional as F

from .config import EngineConfig
from .cpu_flags import cpu_flags
from .errors import ConfigError, WeightsError
from .extractor import OpenVinoExtractor, pick_runtime
from .torch_matmul import full_fp32
from .weights import (
    AUTO,
    Preset,
    WeightsInfo,
    choose_auto_backbone,
    find_weights_file,
    map_by_order,
    missing_weights_message,
    read_state_dict,
    resolve_preset,
    sha256_file,
    unreadable_weights,
)

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# The CPU flags (as Linux names them) of native bf16 arithmetic: AVX-512 BF16, and AMX, several times faster still.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_bf16_flags() -> Optional[list[str]]:
    """Which of BF16_CPU_FLAGS this CPU has, in that order (cpu_flags: /proc/cpuinfo, or numpy's CPU table where
    there is none, which has no AMX); None where neither can be read."""
    words = cpu_flags()
    return None if words is None else [f for f in BF16_CPU_FLAGS if f in words]


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX-512 BF16 or AMX): then bf16 is 1.5-3x fp32, else slower.
    Where the flags cannot be read at all, no: fp32 is exact and runs on every CPU. (torch's CPU capability
    cannot stand in: it names the vector width, AVX2 or AVX512, never bf16.)"""
    return bool(cpu_bf16_flags())


def pick_device(use_gpu: bool) -> torch.device:
    return torch.device("cuda") if use_gpu and torch.cuda.is_available() else torch.device("cpu")


_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def pick_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The backbone's compute type: `precision` as set, or for "auto" the fastest one that keeps the features.

    auto: fp16 on CUDA (tensor cores; more mantissa than bf16), bf16 on a CPU with
    native bf16 (AVX-512 BF16 / AMX), fp32 on other CPUs, where bf16 would be emulated
    and slower. Features always leave the backbone as float32.
    """
    if precision not in ("auto", "int8"):
        return _DTYPES[precision]
    # int8: the operations left unquantised run as auto's (the quantised twin is Backbone.quantized).
    if device.type == "cuda":
        return torch.float16
    return torch.bfloat16 if device.type == "cpu" and cpu_has_bf16() else torch.float32


def fit_precision(precision: str, use_gpu: bool) -> str:
    """The precision a fit embeds the OK images in: "auto" teaches in fp32 on a CPU.

    Measured (docs/benchmarks.md): a bank embedded in bf16 moved visa_fryum's image
    AUROC by -0.007, inspecting in bf16 against an fp32 bank by +0.002. The bank is
    the reference every later image is compared with, so on a CPU it is built at
    full precision; a GPU fits in fp16 (the 1 s fit target needs it). int8 embeds the bank in fp32: the
    bank stays the reference the quantised backbone's features are compared with.
    """
    if precision == "int8":
        return "fp32"
    if precision != "auto":
        return precision
    return "auto" if use_gpu and torch.cuda.is_available() else "fp32"


def pick_compile_mode(setting: str, device: torch.device) -> Optional[str]:
    """torch.compile mode for the backbone, or None for eager.

    auto: "reduce-overhead" on CUDA (CUDA graphs: batch 1 is otherwise bound by kernel
    launches); eager on a CPU, where compiling did not pay off on the measured machine
    (docs/benchmarks.md). on: "reduce-overhead" on CUDA, "default" on a CPU.
    """
    if setting == "off" or (setting == "auto" and device.type != "cuda"):
        return None
    return "reduce-overhead" if device.type == "cuda" else "default"


def resolve_auto(config: EngineConfig) -> tuple[EngineConfig, str]:
    """`config` with `backbone: auto` replaced by the backbone it picks here, and a one-line note saying
    which and why ('' when the backbone was named). A fit stores the resolved name, so a model never
    changes backbone when it is loaded on a PC with other weights."""
    if config.backbone.strip().lower() != AUTO:
        return config, ""
    name, note = choose_auto_backbone(config.weights)
    return config.replace(backbone=name), note


def feature_stride(model: torch.nn.Module, kind: str) -> int:
    """Input pixels per feature-grid cell that input_size must be a multiple of: the ViT's patch size, or
    the largest reduction among the CNN stages used (EfficientNet-Lite0, stages 2-3: 16)."""
    if kind == "vit":
        return int(model.patch_embed.patch_size[0])
    return int(max(model.feature_info.reduction()))


def check_input_size(model: torch.nn.Module, kind: str, backbone: str, input_size: int) -> None:
    stride = feature_stride(model, kind)
    if input_size % stride:
        lower = max(stride, input_size - input_size % stride)
        raise ConfigError(
            f"config key 'input_size' must be a multiple of {stride} for backbone {backbone} "
            f"({'patch size' if kind == 'vit' else 'feature stride of the stages used'}), got {input_size} "
            f"(try {lower} or {lower + stride})"
        )


class Backbone:
    """A frozen feature extractor built once per (backbone, weights, input size)."""

    def __init__(self, config: EngineConfig):
        config, self.choice_note = resolve_auto(config)
        self.config = config
        self.preset: Preset = resolve_preset(config.backbone)
        self.runtime = pick_runtime(config.runtime, pick_device(config.use_gpu))
        if config.precision == "int8" and self.runtime != "openvino":
            raise ConfigError("precision int8 needs runtime openvino on a CPU (config key 'runtime': openvino, or auto "
                              "with use_gpu false or no GPU) and the openvino and nncf packages: "
                              "pip install -e '.[openvino]'")
        # OpenVINO runs on the CPU (runtime auto picks it only there); torch where use_gpu and CUDA say.
        self.device = torch.device("cpu") if self.runtime == "openvino" else pick_device(config.use_gpu)
        self.dtype = pick_dtype(config.precision, self.device)
        self.weights = self._build()
        check_input_size(self.model, self.preset.kind, config.backbone, config.input_size)
        self.model.eval().requires_grad_(False).to(self.device)
        self._eager = self.model if self.preset.kind == "cnn" else (
            self._block_mean if config.vit_blocks else self.model.forward_features)
        if self.preset.kind == "vit" and config.vit_blocks:
            depth = len(self.model.blocks)
            if max(config.vit_blocks) >= depth:
                raise ConfigError(f"config key 'vit_blocks' names block {max(config.vit_blocks)}; backbone "
                                  f"{config.backbone} has blocks 0-{depth - 1}")
        self._forward = _Runner(self._eager, pick_compile_mode(config.compile_backbone, self.device)
                                if self.runtime == "torch" else None)
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)
        # The OpenVINO twin of feature_grid (converted once per machine, see inference/extractor.py).
        self._openvino = OpenVinoExtractor(self) if self.runtime == "openvino" else None
        self._int8 = None  # an int8 CompiledGrid (quantized()); None: self.dtype decides
        # Why OpenVINO was set aside for torch under runtime auto (None: it was not): a self-test names it,
        # since torch is about half as fast on a CPU.
        self.runtime_fallback: Optional[str] = None
        probe = self._probe()
        self.feature_dim = int(probe.shape[1])
        self.token_shape = (int(probe.shape[2]), int(probe.shape[3]))

    @torch.inference_mode()
    def _probe(self) -> torch.Tensor:
        """One black image through the backbone; OpenVINO's conversion happens here, on first use per machine.
        With runtime auto, a network OpenVINO cannot convert or run (or a cache folder it cannot write) is
        run by torch instead, with a warning; runtime openvino asked for it, so the error stands."""
        black = np.zeros((1, self.config.input_size, self.config.input_size, 3), np.uint8)
        try:
            return self.embed(black)
        except Exception as exc:
            if self._openvino is None or self.config.runtime == "openvino" or self.config.precision == "int8":
                raise
            self.runtime_fallback = f"{type(exc).__name__}: {exc}"
            log.warning("OpenVINO cannot run backbone %s (%s): torch runs it", self.config.backbone,
                        self.runtime_fallback)
        self.runtime, self._openvino = "torch", None
        self._forward = _Runner(self._eager, pick_compile_mode(self.config.compile_backbone, self.device))
        return self.embed(black)

    def openvino_ir(self) -> Path:
        """The OpenVINO IR this backbone runs (inspector export): the int8 one when quantised, else the fp32 one
        (converted and cached on first use)."""
        if self._int8 is not None:
            return self._int8.xml
        return (self._openvino or OpenVinoExtractor(self)).fp32_ir()

    def with_precision(self, precision: str) -> "Backbone":
        """This backbone computing in `precision`, without building it again: the weights stay float32 and
        autocast picks the compute type per call, so both share one network (a fit embeds in fp32 on a CPU
        and the model it hands over inspects in the machine's precision)."""
        twin = copy.copy(self)
        twin.config = self.config.replace(precision=precision)
        twin.dtype = pick_dtype(precision, self.device)
        twin._int8 = None
        return twin

    # -- construction -------------------------------------------------------
    def _create(self, **extra) -> torch.nn.Module:
        kwargs = dict(self.config.backbone_kwargs)
        if self.preset.kind == "vit":
            kwargs.setdefault("img_size", self.config.input_size)
            kwargs.setdefault("dynamic_img_size", True)
            kwargs.setdefault("num_classes", 0)
        kwargs.update(extra)
        checkpoint = kwargs.get("checkpoint_path")
        try:
            with warnings.catch_warnings():
                if checkpoint:  # torch's loading warnings span many lines; the error below says it all
                    warnings.simplefilter("ignore")
                return timm.create_model(self.preset.timm_name, **kwargs)
        except Exception as exc:
            if extra.get("pretrained"):
                raise
            if checkpoint and not isinstance(exc, TypeError):
                raise unreadable_weights(checkpoint, exc, "backbone_kwargs checkpoint_path") from None
            raise ConfigError(f"cannot build backbone '{self.config.backbone}' (timm {self.preset.timm_name}): {exc}") from None

    def _build(self) -> WeightsInfo:
        choice = self.config.weights
        full: torch.nn.Module
        if choice.lower() == "none":
            full = self._create()
            info = WeightsInfo("random", False, sha256=_state_digest(full),
                               description="RANDOM weights (weights: none): for tests only, not for inspection")
        else:
            if choice.lower() == "auto":
                path, source = find_weights_file(self.preset)
            else:
                path, source = Path(choice).expanduser(), "file"
                if not path.is_file():
                    raise WeightsError(f"weights file not found: {path}")
            if path is not None:
                full = self._create()
                self._load_file(full, path)
                info = WeightsInfo(source, True, str(path), sha256_file(path), self.preset.description)
            else:
                full, info = self._download()
        if self.preset.kind == "cnn":
            self.model = self._create(features_only=True, out_indices=tuple(self.config.cnn_layers))
            missing, _ = self.model.load_state_dict(full.state_dict(), strict=False)
            if missing:
                raise WeightsError(f"feature model of {self.preset.timm_name} lacks {missing[:3]}...")
            _drop_unused_stages(self.model)
        else:
            self.model = full
        return info

    def _load_file(self, model: torch.nn.Module, path) -> None:
        state = read_state_dict(path)
        if self.preset.kind == "vit":
            from timm.models.vision_transformer import checkpoint_filter_fn

            state = checkpoint_filter_fn(state, model)
        wanted = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
        if not wanted <= set(state):
            if self.preset.kind == "cnn":
                state = map_by_order(state, model)
            else:
                missing = sorted(wanted - set(state))
                raise WeightsError(
                    f"weights file {path} does not fit {self.preset.timm_name}: missing {missing[:3]}"
                )
        own = set(model.state_dict())  # once: state_dict() walks every module (0.5 s per call on a CPU)
        model.load_state_dict({k: v for k, v in state.items() if k in own}, strict=False)

    def _download(self) -> tuple[torch.nn.Module, WeightsInfo]:
        # Offline PCs are the norm on a line: fail in seconds, not after the hub client's retries.
        if os.environ.get("HF_HUB_OFFLINE") == "1" or not _hub_reachable():
            raise WeightsError(missing_weights_message(self.config.backbone, self.preset))
        try:
            model = self._create(pretrained=True)
        except Exception as exc:
            log.info("timm download of %s failed: %s", self.preset.timm_name, exc)
            raise WeightsError(missing_weights_message(self.config.backbone, self.preset)) from None
        cfg = getattr(model, "pretrained_cfg", {}) or {}
        tag = cfg.get("hf_hub_id") or cfg.get("url") or self.preset.timm_name
        digest = _state_digest(model)
        return model, WeightsInfo("timm-hub", True, str(tag), digest, self.preset.description)

    # -- features -------------------------------------------------------------
    @torch.inference_mode()
    def embed(self, images: np.ndarray) -> torch.Tensor:
        """uint8 N x S x S x 3 RGB images -> float32 N x C x h x w features (on self.device with torch)."""
        if self._int8 is not None:
            return torch.from_numpy(self._int8(images))
        if self._openvino is not None:
            return torch.from_numpy(self._openvino.embed(images, self.precision_name))
        x = torch.from_numpy(np.ascontiguousarray(images)).to(self.device)
        with full_fp32():  # fp32 means fp32 whatever the host program set (bf16 / fp16 come from autocast)
            return self.feature_grid(x, self._forward, self.dtype)

    def feature_grid(self, x: torch.Tensor, forward: Optional[Callable] = None,
                     dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The one feature definition: uint8 N x S x S x 3 tensor -> float32 N x C x h x w patch features.

        torch runs it (embed); OpenVINO runs its conversion (inference/extractor.py), so both runtimes
        share the normalisation, the token grid, the patch averaging, the stage upsampling and the stride.
        """
        x = x.permute(0, 3, 1, 2).float().div(255.0)
        x = (x - self._mean) / self._std
        # Only the network runs in `dtype`; its outputs are float32 before any averaging.
        with torch.autocast(self.device.type, dtype=dtype, enabled=dtype != torch.float32):
            out = (forward or self._eager)(x)
        if self.preset.kind == "vit":
            grid = self._vit_tokens(out.float(), x.shape)
            grid = _aggregate(grid, self.config.patch_size, self.config.patch_zero_pad)
        else:
            layers = [_aggregate(f.float(), self.config.patch_size, self.config.patch_zero_pad) for f in out]
            weights = self.config.stage_weights()
            if any(w != 1.0 for w in weights):
                layers = [f * w for f, w in zip(layers, weights)]
            size = layers[0].shape[-2:]
            grid = torch.cat(
                [layers[0]] + [F.interpolate(f, size=size, mode="bilinear", align_corners=False) for f in layers[1:]],
                dim=1,
            )
        if self.config.stride > 1:
            grid = grid[..., :: self.config.stride, :: self.config.stride]
        return grid.float().contiguous()

    def quantized(self, crops: Sequence[np.ndarray], min_cosine: Optional[float] = None) -> "Backbone":
        """This backbone computing in int8 (OpenVINO, NNCF post-training quantisation calibrated on `crops`,
        the taught OK images); InspectorError unless their features keep a mean cosine of 0.999 to fp32
        (`min_cosine`: another gate, for tests and benches only)."""
        if self._openvino is None:
            raise ConfigError("precision int8 needs runtime openvino (config key 'runtime': auto on a CPU, or "
                              "openvino) and the openvino and nncf packages: pip install -e '.[openvino]'")
        twin = copy.copy(self)
        twin._int8 = self._openvino.int8(crops, self.precision_name, min_cosine)
        return twin

    @property
    def precision_name(self) -> str:
        """What the backbone computes in: int8, or fp32 / bf16 / fp16."""
        return "int8" if self._int8 is not None else {v: k for k, v in _DTYPES.items()}[self.dtype]

    @property
    def int8_cosine(self) -> Optional[float]:
        """int8's mean patch-feature cosine to fp32 on the images it was quantised on (its gate's measure)."""
        return None if self._int8 is None else float(self._int8.cosine)

    @torch.inference_mode()
    def stage_outputs(self, images: np.ndarray) -> list[np.ndarray]:
        """Raw CNN stage outputs for uint8 N x S x S x 3 images: lets a peer prove it uses the same weights."""
        x = torch.from_numpy(np.ascontiguousarray(images)).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
        x = (x - self._mean) / self._std
        return [f.float().cpu().numpy() for f in self.model(x)]  # always fp32: a fidelity reference

    def _block_mean(self, x: torch.Tensor) -> torch.Tensor:
        """The mean of the patch tokens of the blocks in vit_blocks, each through the final norm (VisionAD's
        multi-block average), with the prefix tokens left in place as forward_features gives them."""
        blocks = sorted(self.config.vit_blocks)
        outs = self.model.forward_intermediates(x, indices=blocks, norm=True, output_fmt="NLC",
                                                intermediates_only=True, return_prefix_tokens=False)
        patches = torch.stack(list(outs)).mean(0)
        prefix = getattr(self.model, "num_prefix_tokens", 1)
        return torch.cat([patches.new_zeros(patches.shape[0], prefix, patches.shape[2]), patches], dim=1)

    def _vit_tokens(self, tokens: torch.Tensor, input_shape: torch.Size) -> torch.Tensor:
        tokens = tokens[:, getattr(self.model, "num_prefix_tokens", 1):]
        patch = self.model.patch_embed.patch_size
        h, w = input_shape[-2] // patch[0], input_shape[-1] // patch[1]
        return tokens.reshape(input_shape[0], h, w, -1).permute(0, 3, 1, 2)


class _Runner:
    """The backbone's forward, through torch.compile when asked; eager again, for good, if compiling fails.

    A compiler needs a toolchain (a C++ compiler on a CPU, Triton on a GPU) that an
    inspection PC may lack, and fails only on the first call: inspection must go on.
    CUDA graphs ("reduce-overhead") reuse their output buffers, so outputs are cloned.
    """

    def __init__(self, eager: Callable, mode: Optional[str]):
        self.eager = eager
        self.mode = mode
        self.compiled: Optional[Callable] = None
        if mode is not None:
            try:
                self.compiled = torch.compile(eager, mode=mode, dynamic=False)
            except Exception as exc:
                log.warning("torch.compile unavailable (%s): the backbone runs eagerly", exc)

    @property
    def active(self) -> bool:
        return self.compiled is not None

    def __call__(self, x: torch.Tensor):
        if self.compiled is not None:
            try:
                out = self.compiled(x)
                return [o.clone() for o in out] if isinstance(out, (list, tuple)) else out.clone()
            except Exception as exc:
                log.warning("compiled backbone failed (%s): running eagerly from now on", exc)
                self.compiled = None
        return self.eager(x)


def _drop_unused_stages(model: torch.nn.Module) -> None:
    """Cut a timm EfficientNet-style feature model after its last returned stage.

    timm's feature model runs every block even when only early stages are returned;
    for EfficientNet-Lite0 with stages (2, 3) the unused blocks 5-6 are a third of
    the FLOPs. The returned features are unchanged (checked in tests/test_precision.py).
    """
    wanted = getattr(model, "_stage_out_idx", None)
    blocks = getattr(model, "blocks", None)
    if not wanted or not isinstance(blocks, torch.nn.Sequential) or getattr(model, "feature_hooks", None) is not None:
        return
    last = max(wanted)  # timm returns block i's output when i + 1 is in _stage_out_idx
    if last < len(blocks):
        model.blocks = blocks[:last]


def _aggregate(features: torch.Tensor, patch_size: int, zero_pad: bool = False) -> torch.Tensor:
    """Average each feature with its patch_size x patch_size neighbours (PatchCore's local context)."""
    if patch_size <= 1:
        return features
    return F.avg_pool2d(features, patch_size, stride=1, padding=patch_size // 2, count_include_pad=zero_pad)


def _state_digest(model: torch.nn.Module) -> str:
    import hashlib

    h = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().cpu().numpy().tobytes())
    return h.hexdigest()


def _hub_reachable(host: str = "huggingface.co", timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False
