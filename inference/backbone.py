"""timm models -> a grid of patch features (N x C x h x w).

DINOv2 ViTs give their last block's patch tokens (grid = input / 14); CNNs
give two (configurable) stages, each averaged over a 3 x 3 neighbourhood and
upsampled to the finer stage, then concatenated, as PatchCore does with
wide_resnet50_2. Both then share the same local aggregation (patch_size).
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import numpy as np
import timm
import torch
import torch.nn.functional as F

from .config import EngineConfig
from .errors import ConfigError, WeightsNotFoundError
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
)

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def pick_device(use_gpu: bool) -> torch.device:
    return torch.device("cuda") if use_gpu and torch.cuda.is_available() else torch.device("cpu")


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
        self.device = pick_device(config.use_gpu)
        self.weights = self._build()
        check_input_size(self.model, self.preset.kind, config.backbone, config.input_size)
        self.model.eval().requires_grad_(False).to(self.device)
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)
        with torch.inference_mode():
            probe = self.embed(np.zeros((1, config.input_size, config.input_size, 3), np.uint8))
        self.feature_dim = int(probe.shape[1])
        self.token_shape = (int(probe.shape[2]), int(probe.shape[3]))

    # -- construction -------------------------------------------------------
    def _create(self, **extra) -> torch.nn.Module:
        kwargs = dict(self.config.backbone_kwargs)
        if self.preset.kind == "vit":
            kwargs.setdefault("img_size", self.config.input_size)
            kwargs.setdefault("dynamic_img_size", True)
            kwargs.setdefault("num_classes", 0)
        kwargs.update(extra)
        try:
            return timm.create_model(self.preset.timm_name, **kwargs)
        except Exception as exc:
            if extra.get("pretrained"):
                raise
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
                    raise WeightsNotFoundError(f"weights file not found: {path}")
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
                raise WeightsNotFoundError(f"feature model of {self.preset.timm_name} lacks {missing[:3]}...")
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
                raise WeightsNotFoundError(
                    f"weights file {path} does not fit {self.preset.timm_name}: missing {missing[:3]}"
                )
        model.load_state_dict({k: v for k, v in state.items() if k in model.state_dict()}, strict=False)

    def _download(self) -> tuple[torch.nn.Module, WeightsInfo]:
        # Offline PCs are the norm on a line: fail in seconds, not after the hub client's retries.
        if os.environ.get("HF_HUB_OFFLINE") == "1" or not _hub_reachable():
            raise WeightsNotFoundError(missing_weights_message(self.config.backbone, self.preset))
        try:
            model = self._create(pretrained=True)
        except Exception as exc:
            log.info("timm download of %s failed: %s", self.preset.timm_name, exc)
            raise WeightsNotFoundError(missing_weights_message(self.config.backbone, self.preset)) from None
        cfg = getattr(model, "pretrained_cfg", {}) or {}
        tag = cfg.get("hf_hub_id") or cfg.get("url") or self.preset.timm_name
        digest = _state_digest(model)
        return model, WeightsInfo("timm-hub", True, str(tag), digest, self.preset.description)

    # -- features -------------------------------------------------------------
    @torch.inference_mode()
    def embed(self, images: np.ndarray) -> torch.Tensor:
        """uint8 N x S x S x 3 RGB images -> float32 N x C x h x w features on self.device."""
        x = torch.from_numpy(np.ascontiguousarray(images)).to(self.device)
        x = x.permute(0, 3, 1, 2).float().div_(255.0)
        x = (x - self._mean) / self._std
        if self.preset.kind == "vit":
            grid = self._vit_tokens(x)
            grid = _aggregate(grid, self.config.patch_size, self.config.patch_zero_pad)
        else:
            layers = [_aggregate(f, self.config.patch_size, self.config.patch_zero_pad) for f in self.model(x)]
            size = layers[0].shape[-2:]
            grid = torch.cat(
                [layers[0]] + [F.interpolate(f, size=size, mode="bilinear", align_corners=False) for f in layers[1:]],
                dim=1,
            )
        if self.config.stride > 1:
            grid = grid[..., :: self.config.stride, :: self.config.stride]
        return grid.float().contiguous()

    @torch.inference_mode()
    def stage_outputs(self, images: np.ndarray) -> list[np.ndarray]:
        """Raw CNN stage outputs for uint8 N x S x S x 3 images: lets a peer prove it uses the same weights."""
        x = torch.from_numpy(np.ascontiguousarray(images)).to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
        x = (x - self._mean) / self._std
        return [f.float().cpu().numpy() for f in self.model(x)]

    def _vit_tokens(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.model.forward_features(x)
        tokens = tokens[:, getattr(self.model, "num_prefix_tokens", 1):]
        patch = self.model.patch_embed.patch_size
        h, w = x.shape[-2] // patch[0], x.shape[-1] // patch[1]
        return tokens.reshape(x.shape[0], h, w, -1).permute(0, 3, 1, 2)


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
