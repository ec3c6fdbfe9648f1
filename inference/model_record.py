"""What a model is: the typed record behind manifest.json, its reading and writing, and the compatibility rules.

`ModelRecord.from_dict` checks a manifest field by field (manifest.validate_manifest) and
`to_dict` writes the same JSON keys, in the same order, as every version of schema 2 has;
keys this version does not know are kept as they were. The rules that decide whether a
saved model can still be used here, extended by `add`, or is stale against the GUI's
settings live here too, beside the fields they read; which settings they compare comes
from the roles on EngineConfig's fields (config.config_keys).
"""

from __future__ import annotations

import copy
import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

from .config import BRIGHTNESS_MODES, EngineConfig, absent_as_before, config_keys, current_keys
from .errors import ProjectError
from .manifest import MODEL_VERSION, SCHEMA_VERSION, validate_manifest
from .precision_gate import inspection_precision

if TYPE_CHECKING:
    from .backbone import Backbone

_BACKBONE_KEYS = ("name", "timm_name", "kind", "feature_dim", "weights", "chosen")
_KEYS = ("schema_version", "model_version", "app_version", "model_id", "backbone", "input_size", "token_shape",
         "config", "roi", "mm_per_px", "n_images", "images", "n_embeddings", "coreset_size", "created", "updated",
         "roi_is_whole_image", "image_size", "ignore", "align", "taught_scores", "foreground", "brightness",
         "exposure", "precision_check", "files")
# Never make a model stale: they do not change what it computes (the GUI's banner).
_NOT_MODEL_ROLES = ("runtime", "calibration")


@dataclass(frozen=True)
class BackboneRecord:
    """The backbone a model was fitted with, as manifest.json's "backbone" holds it."""

    name: str
    timm_name: str
    kind: str  # "vit" or "cnn"
    feature_dim: int
    weights: dict  # weights.WeightsInfo.to_dict(): source, pretrained, path, sha256, description
    chosen: str = ""  # set when `backbone: auto` chose: which backbone and why (written only then)
    extra: dict = field(default_factory=dict)

    @property
    def pretrained(self) -> bool:
        return bool(self.weights.get("pretrained", False))

    @classmethod
    def from_dict(cls, data: dict) -> "BackboneRecord":
        return cls(data["name"], data["timm_name"], data["kind"], data["feature_dim"], copy.deepcopy(data["weights"]),
                   data.get("chosen") or "", {k: copy.deepcopy(v) for k, v in data.items() if k not in _BACKBONE_KEYS})

    def to_dict(self) -> dict:
        out = {"name": self.name, "timm_name": self.timm_name, "kind": self.kind, "feature_dim": self.feature_dim,
               "weights": copy.deepcopy(self.weights), **copy.deepcopy(self.extra)}
        if self.chosen:
            out["chosen"] = self.chosen
        return out


@dataclass(frozen=True)
class ModelRecord:
    """A fitted model's manifest: what it was fitted with and from, and the sha256 of each of its files."""

    model_id: str
    model_version: str
    app_version: Optional[str]
    backbone: BackboneRecord
    input_size: int
    token_shape: tuple[int, int]
    config: dict  # the EngineConfig it was fitted with, as saved (keys added later read as their defaults)
    roi: dict  # roi.roi_to_dict of the ROI, in reference-image pixels
    mm_per_px: Optional[float]
    n_images: int
    images: tuple[dict, ...]  # {"name", "sha256"} of each taught image, in teaching order
    n_embeddings: int
    coreset_size: int
    created: Optional[str] = None  # the project's first fit (ISO time, UTC)
    updated: Optional[str] = None  # this model's fit or add
    roi_is_whole_image: bool = False  # fitted without an ROI: every image must have image_size
    image_size: Optional[tuple[int, int]] = None  # (width, height) when roi_is_whole_image
    ignore: tuple[dict, ...] = ()  # ignore regions, roi.roi_to_dict each
    align: dict = field(default_factory=lambda: {"mode": "none"})  # align.Locator.manifest, or mode none
    # Image scores of the first taught images by this model (engine.TAUGHT_REFERENCE_IMAGES): the reference
    # of the capture-shift check at calibration. Empty for models of earlier versions (no check then).
    taught_scores: tuple[float, ...] = ()
    # The model's foreground mask (foreground.FgMask.to_dict) when it was fitted with foreground_mask auto;
    # empty for models fitted without (every patch is inspected).
    foreground: dict = field(default_factory=dict)
    # The levels every crop is brought to (brightness.target: mode, median, iqr) when fitted with brightness
    # shift or shift_scale; empty otherwise (crops are inspected as they are).
    brightness: dict = field(default_factory=dict)
    # The image check's reference (image_check.reference: median, spread, clipped) when fitted with image_check
    # on; empty otherwise (images are not checked).
    exposure: dict = field(default_factory=dict)
    # What the fit measured of the machine's low precision (precision_gate.measure): precision, cosine, images,
    # kept, runtime. Empty when nothing was checked (an explicit precision, a GPU, a CPU without bf16, earlier
    # versions): then a machine with a low precision measures it when it loads the model (precision_gate.at_load).
    precision_check: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)  # file name -> sha256; filled by project.save_model
    schema_version: int = SCHEMA_VERSION
    extra: dict = field(default_factory=dict)  # keys this version does not know, written back as they were

    # -- reading and writing ------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any, path: Path) -> "ModelRecord":
        """The record of a manifest read from `path`; ProjectError naming the key when a field is missing or
        of the wrong type."""
        validate_manifest(data, path)
        data = copy.deepcopy(data)
        image_size = data.get("image_size")
        align = data.get("align") or {"mode": "none"}
        whole = data.get("roi_is_whole_image", False)
        ignore = data.get("ignore") or []
        if not isinstance(whole, bool) or not isinstance(ignore, list) or not isinstance(align, dict):
            raise ProjectError(f"{path}: 'roi_is_whole_image', 'ignore' or 'align' is damaged: refit the model")
        taught = data.get("taught_scores") or []
        if not (isinstance(taught, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                  and math.isfinite(v) for v in taught)):
            raise ProjectError(f"{path}: 'taught_scores' must be a list of finite numbers: refit the model")
        if image_size is not None and not (isinstance(image_size, list) and len(image_size) == 2 and all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in image_size)):
            raise ProjectError(f"{path}: 'image_size' must be two positive integers: refit the model")
        foreground = data.get("foreground") or {}
        if not isinstance(foreground, dict):
            raise ProjectError(f"{path}: 'foreground' is damaged: refit the model")
        levels = data.get("brightness") or {}
        if levels and not (isinstance(levels, dict) and levels.get("mode") in BRIGHTNESS_MODES[1:] and all(
                isinstance(levels.get(k), (int, float)) and not isinstance(levels.get(k), bool)
                and math.isfinite(levels[k]) for k in ("median", "iqr")) and levels["iqr"] > 0):
            raise ProjectError(f"{path}: 'brightness' is damaged: refit the model")
        exposure = data.get("exposure") or {}
        if exposure and not (isinstance(exposure, dict) and all(
                isinstance(exposure.get(k), (int, float)) and not isinstance(exposure.get(k), bool)
                and math.isfinite(exposure[k]) and exposure[k] >= 0 for k in ("median", "spread", "clipped"))):
            raise ProjectError(f"{path}: 'exposure' is damaged: refit the model")
        check = data.get("precision_check") or {}
        if check and not (isinstance(check, dict) and isinstance(check.get("precision"), str)
                          and isinstance(check.get("kept"), bool) and isinstance(check.get("images"), int)
                          and isinstance(check.get("cosine"), (int, float)) and math.isfinite(check["cosine"])):
            raise ProjectError(f"{path}: 'precision_check' is damaged: refit the model")
        return cls(
            model_id=data["model_id"], model_version=data["model_version"], app_version=data["app_version"],
            backbone=BackboneRecord.from_dict(data["backbone"]), input_size=data["input_size"],
            token_shape=tuple(data["token_shape"]), config=data["config"], roi=data["roi"],
            mm_per_px=data["mm_per_px"], n_images=data["n_images"], images=tuple(data["images"]),
            n_embeddings=data["n_embeddings"], coreset_size=data["coreset_size"], created=data.get("created"),
            updated=data.get("updated"), roi_is_whole_image=whole,
            image_size=tuple(image_size) if image_size is not None else None, ignore=tuple(ignore), align=align,
            taught_scores=tuple(float(v) for v in taught), foreground=foreground, brightness=levels,
            exposure=exposure, precision_check=check, files=data["files"],
            schema_version=data["schema_version"],
            extra={k: v for k, v in data.items() if k not in _KEYS},
        )

    def to_dict(self) -> dict:
        """manifest.json's content: the same keys, in the same order, as the engine has always written."""
        out = {
            "schema_version": self.schema_version, "model_version": self.model_version,
            "app_version": self.app_version, "model_id": self.model_id, "backbone": self.backbone.to_dict(),
            "input_size": self.input_size, "token_shape": list(self.token_shape), "config": copy.deepcopy(self.config),
            "roi": copy.deepcopy(self.roi), "mm_per_px": self.mm_per_px, "n_images": self.n_images,
            "images": copy.deepcopy(list(self.images)), "n_embeddings": self.n_embeddings,
            "coreset_size": self.coreset_size, "created": self.created, "updated": self.updated,
            "roi_is_whole_image": self.roi_is_whole_image,
            "image_size": list(self.image_size) if self.image_size is not None else None,
            "ignore": copy.deepcopy(list(self.ignore)), "align": copy.deepcopy(self.align),
            **({"taught_scores": list(self.taught_scores)} if self.taught_scores else {}),
            **({"foreground": copy.deepcopy(self.foreground)} if self.foreground else {}),
            **({"brightness": dict(self.brightness)} if self.brightness else {}),
            **({"exposure": dict(self.exposure)} if self.exposure else {}),
            **({"precision_check": dict(self.precision_check)} if self.precision_check else {}),
            **copy.deepcopy(self.extra),
        }
        out["files"] = dict(self.files)
        return out

    @classmethod
    def fitted(cls, config: EngineConfig, backbone: Backbone, roi: dict, mm_per_px: Optional[float],
               images: Sequence[dict], n_embeddings: int, coreset_size: int, previous: Optional["ModelRecord"], *,
               chosen: str = "", image_size: Optional[Sequence[int]] = None, ignore: Sequence[dict] = (),
               align: Optional[dict] = None, foreground: Optional[dict] = None,
               brightness: Optional[dict] = None, exposure: Optional[dict] = None,
               precision_check: Optional[dict] = None) -> "ModelRecord":
        """The record of a model just fitted (or extended from `previous`) with `backbone`.

        `image_size` is set only for a model fitted without an ROI (the whole image is the ROI).
        """
        from . import __version__

        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        return cls(
            model_id=uuid.uuid4().hex, model_version=MODEL_VERSION, app_version=__version__,
            backbone=BackboneRecord(config.backbone, backbone.preset.timm_name, backbone.preset.kind,
                                    backbone.feature_dim, backbone.weights.to_dict(), chosen),
            input_size=config.input_size, token_shape=tuple(backbone.token_shape), config=config.to_dict(),
            roi=roi, mm_per_px=mm_per_px, n_images=len(images), images=tuple(images), n_embeddings=int(n_embeddings),
            coreset_size=int(coreset_size), created=previous.created if previous is not None else now, updated=now,
            roi_is_whole_image=image_size is not None,
            image_size=tuple(image_size) if image_size is not None else None, ignore=tuple(ignore),
            align=align if align is not None else {"mode": "none"}, foreground=dict(foreground or {}),
            brightness=dict(brightness or {}), exposure=dict(exposure or {}),
            precision_check=dict(precision_check or {}),
        )

    # -- what it was fitted with --------------------------------------------------------------------------------
    @property
    def same_size(self) -> Optional[tuple[int, int]]:
        """(width, height) every image must have: a model fitted without an ROI; else None."""
        return self.image_size if self.roi_is_whole_image else None

    @property
    def taught_digests(self) -> set[str]:
        """The taught images, by content (sha256 of a file's bytes or of an array's pixels: image_digest)."""
        return {str(m["sha256"]) for m in self.images if m.get("sha256")}

    @property
    def taught_names(self) -> set[str]:
        """The taught images, by the name (path) each was given as."""
        return {str(m.get("name")) for m in self.images}

    def fitted_settings(self) -> dict:
        """The settings the model was fitted with; keys added since read as their defaults."""
        return {**EngineConfig().to_dict(), **absent_as_before(current_keys(self.config))}

    # -- compatibility rules ------------------------------------------------------------------------------------
    @property
    def is_current(self) -> bool:
        """Fitted by this engine's model version (features and scores are computed as they were)."""
        return self.model_version == MODEL_VERSION

    def version_problem(self, folder=None) -> str:
        """Why this engine cannot use the model's features ('' when it can); naming the project `folder`."""
        if self.is_current:
            return ""
        where = f" in {folder}" if folder is not None else ""
        return (f"the model{where} was fitted by model version {self.model_version}; this engine is {MODEL_VERSION}"
                ": refit the model")

    def engine_config(self, runtime: EngineConfig) -> EngineConfig:
        """The model's own settings, with the machine's (role "runtime") taken from `runtime`."""
        fitted = current_keys(self.config)  # a model of an earlier version may use an older key name
        unknown = sorted(set(fitted) - set(EngineConfig().to_dict()))
        if unknown:
            raise ProjectError(
                f"model was fitted by a newer version of the application (settings {unknown} unknown here, "
                f"app {self.app_version}): update the application"
            )
        data = absent_as_before(fitted)
        data.update({k: getattr(runtime, k) for k in config_keys("runtime")})
        # auto keeps the machine's low precision only where the fit found it holds this model's features.
        data["precision"] = inspection_precision(data["precision"], self.precision_check)
        weights = data.get("weights", "auto")
        if weights.lower() not in ("auto", "none") and not Path(weights).expanduser().is_file():
            # A project moved to another PC: find the weights the usual way; the sha256 check decides.
            data["weights"] = "auto"
        return EngineConfig.from_dict(data)

    def check_extendable(self, config: EngineConfig) -> None:
        """ProjectError unless features taken with `config` can join this model's (add, not fit)."""
        if config.backbone == "auto" and self.config.get("backbone") != "auto":
            from .backbone import resolve_auto

            config, _ = resolve_auto(config)
        fitted, ours = self.fitted_settings(), config.to_dict()
        for key in config_keys("feature", "align"):
            if fitted.get(key) != ours[key]:
                raise ProjectError(
                    f"model was fitted with {key} {fitted.get(key)!r}; this engine uses {ours[key]!r}: "
                    "refit the model (fit, not add)"
                )

    def check_backbone(self, backbone: Backbone) -> None:
        """ProjectError unless `backbone` gives the features this model was fitted with."""
        recorded = self.backbone
        if recorded.timm_name != backbone.preset.timm_name or recorded.feature_dim != backbone.feature_dim:
            raise ProjectError(
                f"model was fitted with backbone {recorded.timm_name}; this engine uses "
                f"{backbone.preset.timm_name}: refit"
            )
        want = recorded.weights.get("sha256")
        have = backbone.weights.sha256
        if want and have and want != have:
            raise ProjectError(
                f"model was fitted with other {recorded.name} weights (sha256 {want[:12]}...) than this "
                f"machine has ({have[:12]}... from {backbone.weights.path or backbone.weights.source}): "
                "install the original weights file or refit"
            )

    def changed_settings(self, config: EngineConfig) -> list[str]:
        """The settings in `config` that a refit would use differently, sorted (empty: the model matches).

        Machine and calibration settings never count; a model fitted with `backbone: auto` matches settings
        that still say auto (a refit would pick the same backbone).
        """
        fitted, ours = absent_as_before(self.config), config.to_dict()
        if ours.get("backbone") == "auto" and self.backbone.chosen:
            ours["backbone"] = fitted.get("backbone")
        skip = config_keys(*_NOT_MODEL_ROLES)
        return sorted(k for k in ours if k not in skip and fitted.get(k) != ours[k])
