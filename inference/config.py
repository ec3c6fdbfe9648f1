"""EngineConfig: built-in defaults <- config.yaml <- PATCHCORE_* environment variables <- --set KEY=VALUE.

Every field can be overridden by an environment variable named PATCHCORE_
plus the field name in capitals (PATCHCORE_CORESET_RATIO=0.05), and on a
command line by `--set coreset_ratio=0.05` (parse_settings). Values are
validated once, here, and a wrong one is a ConfigError naming the key and
what it accepts.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from .errors import ConfigError

ENV_PREFIX = "PATCHCORE_"
DISTANCES = ("l2", "cosine", "mahalanobis")
SCORE_MODES = ("p99", "max", "topk_mean", "reweighted_max")
# Where the anomaly map is smoothed (smoothing_at; scoring.anomaly_map's `at`).
SMOOTHING_AT = ("input", "box")
PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
COMPILE_MODES = ("auto", "off", "on")
RUNTIMES = ("auto", "torch", "openvino")
# The same names as knn.INDEX_KINDS (kept here so config needs no faiss import).
INDEX_KINDS = ("auto", "flat", "ivf", "sq8", "pq")
# The same names as calibration.CALIBRATION_METHODS (kept here so config needs no numpy import).
CALIBRATION_METHODS = ("percentile", "mad", "tail")
ALIGN_MODES = ("none", "translation", "rigid")
CORESET_OF = ("bank", "taught")
# The same names as foreground.FOREGROUND_MODES and foreground.SYMMETRIES (kept here so config needs no numpy).
FOREGROUND_MODES = ("none", "auto")
PART_SYMMETRIES = ("none", "mirror", "rot90", "rot180", "any", "turns")
# The same names as brightness.MODES.
BRIGHTNESS_MODES = ("none", "shift", "shift_scale")
# Settings added after models were first saved: a manifest without them was fitted with these values
# (the behaviour before the setting existed), whatever the current default is.
ABSENT_MEANS = {"foreground_mask": "none", "part_symmetry": "none", "vit_blocks": (), "coreset_of": "bank",
                "index": "flat", "brightness": "none", "cnn_stage_weights": {}, "smoothing_at": "box",
                "patch_zero_pad": False, "surround_sigma": 0.0,
                "image_check": False}

# What each setting belongs to, stated once as metadata on its field (`setting(role, ...)`); the engine, the
# model record and the GUI's "model is stale" check read it through config_keys().
ROLES = {
    # Shapes the patch features: a model fitted with another value cannot be extended (add), only refitted.
    "feature": "shapes the patch features",
    # The backbone's weights: the model records their sha256, and that check decides (load, add).
    "weights": "which weights file the backbone loads",
    # Shapes the crops features are taken from: like "feature" for add.
    "align": "where the part is located before features are taken",
    # Shapes the memory bank and its index at fit (which patches are kept, the metric); add keeps the model's.
    "fit": "shapes the memory bank and its search index",
    # How inspection turns distances into a score and a verdict; the model keeps the values it was fitted with.
    "score": "how an inspected image is scored and judged",
    # How calibration picks the threshold; never makes a model stale.
    "calibration": "how the threshold is chosen",
    # The machine's, not the model's: always taken from the running engine; never makes a model stale.
    "runtime": "belongs to the machine, not the model",
}


def setting(role: str, default: Any = dataclasses.MISSING, factory: Any = dataclasses.MISSING) -> Any:
    """An EngineConfig field with its role (a key of ROLES) as metadata."""
    if role not in ROLES:
        raise ValueError(f"unknown setting role {role!r}; known: {sorted(ROLES)}")
    return field(default=default, default_factory=factory, metadata={"role": role})


@dataclass(frozen=True)
class EngineConfig:
    # "auto" (DINOv2 ViT-S/14 when its weights are on this machine, else the built-in EfficientNet-Lite0;
    # a fit records which), a preset (dinov2_vits14, dinov2_vitb14, dinov2_vitl14, dinov2_vitg14,
    # efficientnet_lite0) or any timm model name.
    backbone: str = setting("feature", "auto")
    # "auto" (bundled/known files, then timm download), "none" (random, tests only) or a file path.
    weights: str = setting("weights", "auto")
    # Extra keyword arguments for timm.create_model (e.g. {"depth": 2} for a tiny test model).
    backbone_kwargs: dict = setting("feature", factory=dict)
    # CNN backbones: which feature stages to concatenate (timm out_indices).
    cnn_layers: tuple = setting("feature", (2, 3))
    # CNN backbones: a stage's features times its weight before the stages are concatenated, which sets its
    # share of the patch distance ({stage index: weight}; a stage not named weighs 1, a stage named but not in
    # cnn_layers is not used).
    cnn_stage_weights: dict = setting("feature", factory=dict)
    # ViT backbones: the blocks whose patch tokens are averaged (each through the final norm), e.g.
    # [5, 7, 9, 11] for ViT-S/14; empty: the last block's tokens only (as before).
    vit_blocks: tuple = setting("feature", ())
    input_size: int = setting("feature", 448)
    coreset_ratio: float = setting("fit", 0.02)
    # What coreset_ratio counts: bank (every patch the fit embeds, the copies part_symmetry and augment add
    # included) or taught (the taught images' own patches: the copies add variety for the coreset to choose
    # from but do not grow the index, so they cost no inspection time).
    coreset_of: str = setting("fit", "bank")
    patch_size: int = setting("feature", 3)
    stride: int = setting("feature", 1)
    # Zero padding at the grid border when averaging a patch's neighbourhood, as PatchCore's reference
    # code and anomalib do: edge patches are damped, which cuts false alarms at image borders. The default
    # since the thirteenth session of issue 25 (the product's out-of-the-box model on the six dev sets: mean
    # image AUROC +0.03, docs/benchmarks.md); manifests saved before the option existed read False
    # (ABSENT_MEANS), so their models keep their features.
    patch_zero_pad: bool = setting("feature", True)
    distance: str = setting("fit", "l2")
    # The coreset's search index (inference/knn.py): auto (flat below 1,800 coreset vectors, ivf from there),
    # flat (exact float32), ivf (k-means lists, approximate: distances never under the exact ones), sq8 (8-bit
    # scalar quantisation, 4x smaller) or pq (product quantisation, 16x smaller; needs a coreset of 256 or
    # more, else sq8).
    index: str = setting("fit", "auto")
    n_neighbors: int = setting("score", 1)
    batch_size: int = setting("runtime", 32)
    use_gpu: bool = setting("runtime", True)
    faiss_fp16: bool = setting("runtime", True)
    # Backbone compute type. auto: fp16 on CUDA, bf16 on a CPU with native bf16 (AVX-512 BF16 / AMX),
    # fp32 elsewhere; auto fits in fp32 on a CPU (fit_precision). A runtime setting: features stay within
    # cosine 0.999 of fp32 (tests/test_precision.py). int8 (opt-in, OpenVINO on a CPU): at fit the backbone is
    # quantised (NNCF) on the taught OK images and refused unless its features keep cosine 0.999 to fp32
    # (inference/int8_model.py); a model taught without it is quantised on its taught samples where it is
    # loaded (one saved without them cannot inspect in int8). auto's low precision is gated the same way
    # (inference/precision_gate.py).
    precision: str = setting("runtime", "auto")
    # torch.compile for the backbone. auto: on CUDA (CUDA graphs), off on a CPU; on; off. Falls back to
    # eager when the compiler is missing or fails.
    compile_backbone: str = setting("runtime", "auto")
    # What runs the backbone: auto (OpenVINO on a CPU when it is installed, torch on CUDA), torch or openvino.
    # Both compute the same feature definition from the same weights (inference/extractor.py).
    runtime: str = setting("runtime", "auto")
    score_mode: str = setting("score", "max")
    smoothing_sigma: float = setting("score", 4.0)
    # Where the map is smoothed: input (at the backbone's input size, then upsampled to the ROI box: PatchCore's
    # order, the same map within 1 % of its peak, and 10 to 90 x faster on camera-size boxes) or box (at the
    # box's own size: models fitted before this setting, which keep it).
    smoothing_at: str = setting("score", "input")
    # The map shown and cut into regions: each pixel plus its excess over its surround (a Gaussian of this sigma,
    # input pixels): a defect rises over what its surroundings share (scoring.anomaly_map); the image score stays
    # the smoothed map's. 0: off, the default: at the default 448 px input it cost pixel AUROC and AUPRO; at
    # 224 px (the eval's setting, which turns it on) it gains AUPRO (issue 25, fourteenth session,
    # docs/benchmarks.md).
    surround_sigma: float = setting("score", 0.0)
    # Foreground mask (inference/foreground.py): none, or auto: decided once per model at fit from the taught
    # OK images (the first principal component of each image's patch features, the image centre taken as
    # the part, dilated and closed, the union over the taught images); patches outside it neither enter the
    # memory bank nor score. auto masks nothing where the part fills the view or the view has no part.
    foreground_mask: str = setting("fit", "none")
    # What the part looks like under turns and mirrors: none, mirror (left-right and top-bottom), rot90
    # (any quarter turn), rot180 (a half turn) or any (all eight). The taught images are also taught
    # turned / mirrored so. Never on by default: a mirrored OK copy teaches a wrongly placed part as OK.
    part_symmetry: str = setting("fit", "none")
    # Lighting compensation (inference/brightness.py): none, shift (each crop's median brightness brought to the
    # taught images'), or shift_scale (its contrast too). For lines whose light drifts; off by default, since a
    # part uniformly darker or brighter than the taught ones is then inspected for its local differences only.
    # Its levels are decided at fit and kept by the model (add keeps them, like the part's symmetry).
    brightness: str = setting("fit", "none")
    # The image check (inference/image_check.py): an image too dark, too bright or without contrast against the
    # taught ones (the light off, a covered lens, a dead frame) is an ERROR saying so, not a part scored; a fit
    # refuses a taught image that fails against the others. Its reference is taken at fit and kept by the model.
    image_check: bool = setting("fit", True)
    augment: bool = setting("fit", False)
    # Augmented copies per OK image when augment is on (rotation +-5 deg, light colour jitter).
    augment_copies: int = setting("fit", 2)
    # Also add mirrored copies of each OK image: only for parts that look the same mirrored.
    augment_flips: bool = setting("fit", False)
    score_percentile: float = setting("calibration", 99.0)
    # OK-only threshold: "percentile" (score_percentile of OK scores), "mad" (median + calibration_mad_k x
    # robust spread) or "tail" (log-normal fit, expected false-reject rate calibration_expected_frr).
    # With NG images the threshold always separates OK from NG. See inference/calibration.py.
    calibration_method: str = setting("calibration", "percentile")
    calibration_mad_k: float = setting("calibration", 3.0)
    calibration_expected_frr: float = setting("calibration", 0.001)
    # Regions smaller than this do not make a part NG: in mm^2 when the project knows mm_per_px, else in px
    # (a calibration records which: Calibration.min_area_unit). Named area_mm2_thr before; that name is read.
    min_area: float = setting("calibration", 0.0)
    # A region at least this long counts whatever its area (mm with mm_per_px, else px); 0: no such limit.
    min_length: float = setting("calibration", 0.0)
    seed: int = setting("fit", 0)
    # Images larger than this (megapixels) are refused before they are decoded: a 12000 x 12000 PNG would
    # take 2.4 GB. A machine setting, not part of a model.
    max_image_megapixels: float = setting("runtime", 64.0)
    # Model versions a project keeps (every fit, add and calibration is one; the active one is always kept).
    versions_kept: int = setting("runtime", 10)
    # Part location before inspection (inference/align.py): none (the ROI stays where it was drawn),
    # translation (the part shifts) or rigid (shifts and turns).
    align: str = setting("align", "none")
    # Rigid: the rotation range searched, +- degrees (180 = any orientation; e.g. 15 in a fixture).
    align_max_angle_deg: float = setting("align", 180.0)
    # A located part whose match with the reference is below this (normalised correlation, 0..1)
    # gives NOT_FOUND instead of a verdict.
    align_min_confidence: float = setting("score", 0.5)

    def __post_init__(self) -> None:
        _validate(self)

    def replace(self, **changes: Any) -> "EngineConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["cnn_layers"] = list(self.cnn_layers)
        data["vit_blocks"] = list(self.vit_blocks)
        # As JSON keeps it (a manifest's keys are strings), so a saved config compares equal to the running one.
        data["cnn_stage_weights"] = {str(k): v for k, v in sorted(self.cnn_stage_weights.items())}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EngineConfig":
        data = current_keys(data)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown config key(s) {unknown}: a typo, or settings written by a newer version of the "
                f"application (then update it); known keys: {sorted(known)}"
            )
        values = {k: _coerce(k, v) for k, v in data.items()}
        return cls(**values)

    def stage_weights(self) -> tuple:
        """The weight of each entry of cnn_layers, in its order (cnn_stage_weights, 1 where it names none)."""
        return tuple(float(self.cnn_stage_weights.get(i, 1.0)) for i in self.cnn_layers)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, env: Mapping[str, str] | None = None,
             settings: Sequence[str] = ()) -> "EngineConfig":
        """Defaults, then the YAML file (if given or found), then PATCHCORE_* variables, then `settings`
        ("KEY=VALUE" strings from a command line's --set: parse_settings), each over the one before."""
        values: dict[str, Any] = {}
        if path is None:
            path = default_config_path()
        if path is not None:
            values.update(current_keys(read_yaml(Path(path))))
        env = os.environ if env is None else env
        for f in dataclasses.fields(cls):
            old = [o for o, new in RENAMED_KEYS.items() if new == f.name]
            for name in [*old, f.name]:  # the current name's variable wins over an older name's
                raw = env.get(ENV_PREFIX + name.upper())
                if raw is not None and raw != "":
                    values[f.name] = _parse_env(f.name, raw)
        values.update(parse_settings(settings))
        return cls.from_dict(values)


def parse_settings(pairs: Sequence[str]) -> dict:
    """Command-line settings, "KEY=VALUE" each (`--set part_symmetry=turns`), as {key: value} with values read
    as an environment variable's are (YAML for lists and mappings: `--set cnn_layers=[2,3]`). A pair without
    "=" or a key that is no setting is a ConfigError naming it; the values are checked where they are used
    (EngineConfig.from_dict), as every other source's are."""
    out: dict = {}
    for pair in pairs or ():
        key, sep, raw = str(pair).partition("=")
        key = key.strip().replace("-", "_")
        key = RENAMED_KEYS.get(key, key)
        if not sep or not key:
            raise ConfigError(f"--set needs KEY=VALUE, e.g. --set part_symmetry=turns; got {pair!r}")
        if key not in _FIELD_TYPES:
            raise ConfigError(f"--set {pair!r}: {key!r} is no setting; known: {sorted(_FIELD_TYPES)}")
        out[key] = _parse_env(key, raw.strip(), source=f"--set {key}")
    return out


def absent_as_before(saved: Mapping[str, Any]) -> dict:
    """Saved settings (a manifest's or a project's) with those they predate (ABSENT_MEANS) set to the value
    that was the behaviour then: what was saved before a setting existed keeps meaning what it meant."""
    out = dict(saved)
    for key, value in ABSENT_MEANS.items():
        out.setdefault(key, list(value) if isinstance(value, tuple) else value)
    return out


def config_keys(*roles: str) -> tuple[str, ...]:
    """The EngineConfig field names with any of `roles`, in field order (e.g. config_keys("feature", "align"))."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValueError(f"unknown setting role(s) {unknown}; known: {sorted(ROLES)}")
    return tuple(f.name for f in dataclasses.fields(EngineConfig) if f.metadata.get("role") in roles)


# Setting names of earlier versions -> their current names: config.yaml files, PATCHCORE_ variables,
# settings.json and model manifests written with the old name still load.
RENAMED_KEYS = {"area_mm2_thr": "min_area"}


def current_keys(data: Mapping[str, Any], renamed: Mapping[str, str] = RENAMED_KEYS,
                 error: type[Exception] = ConfigError) -> dict:
    """`data` with keys under an earlier name (`renamed`: old -> new) moved to the current one; both names at
    once must agree, else `error`. Settings by default; calibration.json's keys use it too."""
    out = dict(data)
    for old, new in renamed.items():
        if old in out:
            value = out.pop(old)
            if new in out and out[new] != value:
                raise error(f"{old} is the earlier name of {new}; give one of them, not both "
                            f"({old}: {value!r}, {new}: {out[new]!r})")
            out.setdefault(new, value)
    return out


def default_config_path() -> Path | None:
    """config.yaml from PATCHCORE_CONFIG, the working folder, or the installed app, first found.

    A frozen (installed) app skips the working folder: a stray config.yaml wherever
    a technician happens to start it must not replace the app's own.
    """
    env = os.environ.get(ENV_PREFIX + "CONFIG")
    if env:
        return Path(env)
    import sys

    from .resources import resource_path

    candidates = [resource_path("config.yaml")]
    if not getattr(sys, "frozen", False):
        candidates.insert(0, Path.cwd() / "config.yaml")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys to values")
    return data.get("engine", data) if isinstance(data.get("engine"), dict) else data


_BOOL_WORDS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _parse_env(name: str, raw: str, source: str = "") -> Any:
    kind = _FIELD_TYPES[name]
    if kind in (dict, tuple):
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError:
            raise ConfigError(f"{source or ENV_PREFIX + name.upper()} must be YAML ({kind.__name__}), "
                              f"got {raw!r}") from None
    return raw


def _coerce(name: str, value: Any) -> Any:
    kind = _FIELD_TYPES[name]
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
                return _BOOL_WORDS[value.strip().lower()]
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise ValueError
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(str(value).strip()) if isinstance(value, str) else int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind is str:
            if not isinstance(value, str):
                raise ValueError
            return value.strip()
        if kind is dict:
            if value is None:
                return {}
            if not isinstance(value, dict):
                raise ValueError
            if name == "cnn_stage_weights":  # JSON (a manifest) keeps the stage indices as strings
                if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value.values()):
                    raise ValueError
                return {int(k): float(v) for k, v in value.items()}
            return dict(value)
        if kind is tuple:
            if isinstance(value, int) and not isinstance(value, bool):
                return (value,)
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) for v in value):
                raise ValueError
            return tuple(value)
    except (TypeError, ValueError):
        raise ConfigError(f"config key '{name}' must be {_TYPE_WORDS[kind]}, got {value!r}") from None
    return value


_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
               dict: "a mapping", tuple: "a list of integers"}
_FIELD_TYPES = {
    f.name: {"bool": bool, "int": int, "float": float, "str": str, "dict": dict, "tuple": tuple}[str(f.type)]
    for f in dataclasses.fields(EngineConfig)
}


def _check(ok: bool, key: str, allowed: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"config key '{key}' must be {allowed}, got {value!r}")


def is_vit_name(backbone: str) -> bool:
    """Whether a backbone name is a ViT (patch tokens): the same rule as weights.resolve_preset."""
    return "vit" in backbone or "dinov2" in backbone


def _check_input_size(backbone: str, input_size: int) -> None:
    """Range always; a multiple of 14 for ViTs here. A CNN's feature stride (and `auto`'s choice) is
    only known once the backbone is chosen: backbone.check_input_size checks it then."""
    _check(56 <= input_size <= 1792, "input_size", "in [56, 1792] (448: 32 x 32 DINOv2 tokens)", input_size)
    if is_vit_name(backbone):
        _check(input_size % 14 == 0, "input_size",
               f"a multiple of 14 for the ViT backbone {backbone} (448 gives a 32 x 32 token grid)", input_size)


def _validate(c: EngineConfig) -> None:
    for name, kind in _FIELD_TYPES.items():
        value = getattr(c, name)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            object.__setattr__(c, name, float(value))
        elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            object.__setattr__(c, name, _coerce(name, value))
    object.__setattr__(c, "cnn_stage_weights", _coerce("cnn_stage_weights", c.cnn_stage_weights))  # int keys
    _check(bool(c.backbone), "backbone", "a backbone name", c.backbone)
    _check(bool(c.weights), "weights", "'auto', 'none' or a file path", c.weights)
    _check(0 < c.coreset_ratio <= 1, "coreset_ratio", "in (0, 1] (0.01-0.05 is typical)", c.coreset_ratio)
    _check(c.coreset_of in CORESET_OF, "coreset_of", f"one of {list(CORESET_OF)}", c.coreset_of)
    _check(c.patch_size >= 1 and c.patch_size % 2 == 1, "patch_size", "an odd integer >= 1", c.patch_size)
    _check(1 <= c.stride <= c.patch_size, "stride", "an integer in [1, patch_size]", c.stride)
    _check(c.index in INDEX_KINDS, "index", f"one of {list(INDEX_KINDS)}", c.index)
    _check(c.distance in DISTANCES, "distance", f"one of {list(DISTANCES)}", c.distance)
    _check(1 <= c.n_neighbors <= 16, "n_neighbors", "an integer in [1, 16]", c.n_neighbors)
    _check(1 <= c.batch_size <= 1024, "batch_size", "an integer in [1, 1024]", c.batch_size)
    _check_input_size(c.backbone, c.input_size)
    _check(c.precision in PRECISIONS, "precision", f"one of {list(PRECISIONS)}", c.precision)
    _check(c.compile_backbone in COMPILE_MODES, "compile_backbone", f"one of {list(COMPILE_MODES)}",
           c.compile_backbone)
    _check(c.runtime in RUNTIMES, "runtime", f"one of {list(RUNTIMES)}", c.runtime)
    _check(c.score_mode in SCORE_MODES, "score_mode", f"one of {list(SCORE_MODES)}", c.score_mode)
    _check(0 <= c.smoothing_sigma <= 64, "smoothing_sigma", "a number in [0, 64] (input pixels)", c.smoothing_sigma)
    _check(0 <= c.surround_sigma <= 512, "surround_sigma", "a number in [0, 512] (input pixels; 0: off)",
           c.surround_sigma)
    _check(c.smoothing_at in SMOOTHING_AT, "smoothing_at", f"one of {list(SMOOTHING_AT)}", c.smoothing_at)
    _check(0 <= c.augment_copies <= 16, "augment_copies", "an integer in [0, 16]", c.augment_copies)
    _check(0 < c.score_percentile <= 100, "score_percentile", "a number in (0, 100]", c.score_percentile)
    _check(c.calibration_method in CALIBRATION_METHODS, "calibration_method",
           f"one of {list(CALIBRATION_METHODS)}", c.calibration_method)
    _check(0 < c.calibration_mad_k <= 50, "calibration_mad_k", "a number in (0, 50]", c.calibration_mad_k)
    _check(0 < c.calibration_expected_frr < 0.5, "calibration_expected_frr", "a number in (0, 0.5)",
           c.calibration_expected_frr)
    _check(math.isfinite(c.min_area) and c.min_area >= 0, "min_area",
           "a finite number >= 0 (mm^2; px without mm per px)", c.min_area)
    _check(math.isfinite(c.min_length) and c.min_length >= 0, "min_length",
           "a finite number >= 0 (mm; px without mm per px; 0: none)", c.min_length)
    _check(0 < c.max_image_megapixels <= 1000, "max_image_megapixels", "a number in (0, 1000]",
           c.max_image_megapixels)
    _check(isinstance(c.versions_kept, int) and 1 <= c.versions_kept <= 1000, "versions_kept",
           "an integer in [1, 1000]", c.versions_kept)
    _check(c.align in ALIGN_MODES, "align", f"one of {list(ALIGN_MODES)}", c.align)
    _check(0 <= c.align_max_angle_deg <= 180, "align_max_angle_deg", "a number of degrees in [0, 180]",
           c.align_max_angle_deg)
    _check(0 <= c.align_min_confidence <= 1, "align_min_confidence", "a number in [0, 1]", c.align_min_confidence)
    _check(c.foreground_mask in FOREGROUND_MODES, "foreground_mask", f"one of {list(FOREGROUND_MODES)}",
           c.foreground_mask)
    _check(c.part_symmetry in PART_SYMMETRIES, "part_symmetry", f"one of {list(PART_SYMMETRIES)}", c.part_symmetry)
    _check(c.brightness in BRIGHTNESS_MODES, "brightness", f"one of {list(BRIGHTNESS_MODES)}", c.brightness)
    _check(all(0 <= i <= 63 for i in c.vit_blocks) and len(set(c.vit_blocks)) == len(c.vit_blocks), "vit_blocks",
           "a list of distinct block indices in [0, 63] (empty: the last block)", list(c.vit_blocks))
    _check(len(c.cnn_layers) >= 1 and all(0 <= i <= 5 for i in c.cnn_layers), "cnn_layers",
           "a list of stage indices in [0, 5]", list(c.cnn_layers))
    _check(all(0 <= i <= 5 and 0 < w <= 100 for i, w in c.cnn_stage_weights.items()), "cnn_stage_weights",
           "a mapping of stage indices in [0, 5] to weights in (0, 100], e.g. {4: 0.7}", c.cnn_stage_weights)
