"""Whether the machine's low precision keeps a model's features: measured once, at fit, on the taught images.

A CPU with native bf16 inspects in bf16 under `precision: auto`, about 1.7x faster than fp32 with OpenVINO. On
most parts the patch features keep a mean cosine of 0.9994 or more to fp32; on some (measured: the dark, low-
contrast metal of mpdd_metal_plate and mvtec_screw, 0.9957 and 0.9983) bf16's 8-bit mantissa moves them enough
to change image AUROC by up to 0.008 (docs/benchmarks.md, issue 21). So every fit (int8's has its own gate,
openvino_runtime.int8_refusal) embeds up to GATE_IMAGES taught crops once more, in the precision `auto` picks on
this machine, and compares them with the fit's own full-precision features of those crops; below MIN_COSINE
the model inspects in fp32 wherever it is loaded with precision auto (ModelRecord.engine_config), and the
manifest's `precision_check` says why. A precision set explicitly is obeyed as it is.

A fit can measure only the low precision of the machine it runs on, with its runtime. A model taught on a CPU
without bf16 (or before the check existed) and inspected on one with it, on a GPU (fp16), or with another runtime
(torch's bf16 and OpenVINO's round differently) is checked when it is loaded there
(`on_this_machine`): the same comparison on the model's taught samples (inference/taught_samples.py),
full precision against low precision on this machine, cached per machine so that it is measured once. A model
saved without taught samples cannot be checked: `auto` inspects it in fp32 and says why.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Callable, Optional, Sequence

import numpy as np

from .openvino_runtime import INT8_MIN_COSINE, cosine_text

if TYPE_CHECKING:
    from .backbone import Backbone

MIN_COSINE = 0.999  # the int8 gate's level: every dev set whose bf16 AUROC held stayed above it
GATE_IMAGES = 16
LOW_PRECISIONS = ("bf16", "fp16")
CHECKS_FOLDER = "precision-checks"  # in the per-machine cache folder (ir_cache.cache_dir)


def measure(fit_backbone: "Backbone", inspecting: "Backbone", taught: Sequence[tuple]) -> dict:
    """The check of `inspecting`'s low precision against the fit's full precision on (up to GATE_IMAGES of) the
    `taught` crops: (PreparedImage, the fit backbone's C x h x w features of its crop) each, the features the fit
    has already computed; {} when there is nothing to check (both compute alike, or no low precision)."""
    from .features import embed_crops
    from .openvino_runtime import mean_cosine

    low = inspecting.precision_name
    if low not in LOW_PRECISIONS or low == fit_backbone.precision_name or not len(taught):
        return {}
    taught = list(taught[:GATE_IMAGES])
    reference = np.stack([feats for _, feats in taught])
    got = np.concatenate(list(embed_crops(inspecting, [p.crop.pixels for p, _ in taught])))
    return _check(inspecting, mean_cosine(got, reference), len(taught))


def _check(low: "Backbone", cosine: float, images: int) -> dict:
    """What a check of `low`'s precision records: the mean cosine to full precision on `images` taught crops."""
    return {"precision": low.precision_name, "cosine": round(cosine, 6), "images": images,
            "kept": bool(cosine >= MIN_COSINE), "runtime": low.runtime}


def combined(before: Optional[dict], now: dict) -> dict:
    """A model extended by `add`: its low precision holds only if it held on the earlier and the new images."""
    if not before or not now or before.get("precision") != now.get("precision"):
        return now or dict(before or {})
    if before.get("runtime", now.get("runtime")) != now.get("runtime"):
        return now
    cosine = min(float(before["cosine"]), float(now["cosine"]))
    return {**now, "cosine": cosine, "images": int(before["images"]) + int(now["images"]),
            "kept": bool(before["kept"]) and bool(now["kept"])}


def covers(check: dict, low: str, runtime: str) -> bool:
    """Whether `check` (a model's fit check) measured the low precision `low` this machine would inspect in, with
    its `runtime` (torch's bf16 and OpenVINO's round differently; checks of earlier versions did not say which)."""
    return bool(check) and check.get("precision") == low and check.get("runtime", runtime) == runtime


def at_load(config, backbone: "Backbone", record, backbone_for: Callable, backbone_key: str,
            samples: Callable[[], Optional[np.ndarray]]) -> tuple:
    """(config, backbone, check in force) for a model loaded with `config` on this machine, where `backbone` is
    the one `config` gives (`backbone_for(config)` gives others). Only precision auto on a low precision the
    fit's check does not cover is measured (`samples()`: the model's taught samples, read only then); below the
    gate the model inspects in fp32."""
    check = dict(record.precision_check)
    low = backbone.precision_name
    if config.precision != "auto" or low not in LOW_PRECISIONS or covers(check, low, backbone.runtime):
        return config, backbone, check
    from .taught_samples import file_of

    full_config = config.replace(precision="fp32")
    key = machine_key(record.files.get(file_of(record) or ""), backbone_key, record.backbone.weights.get("sha256"),
                      low, backbone.runtime, runtime_version(backbone.runtime))
    check = _cached(key)
    if check is None:
        check = on_this_machine(backbone_for(full_config), backbone, samples(), key)
    if check["kept"]:
        return config, backbone, check
    return full_config, backbone_for(full_config), check


def on_this_machine(full: "Backbone", low: "Backbone", samples: Optional[np.ndarray], key: str) -> dict:
    """The check of `low` against `full` (this machine's fp32) on a loaded model's taught `samples`, kept in this
    machine's cache under `key` (what decides the result). Without samples nothing can be measured: not kept."""
    name = low.precision_name
    if samples is None or not len(samples):
        return {"precision": name, "cosine": None, "images": 0, "kept": False, "runtime": low.runtime,
                "measured": "never", "note": "the model was saved without taught samples"}
    from .features import embed_crops
    from .openvino_runtime import mean_cosine

    crops = list(samples[:GATE_IMAGES])
    cosine = mean_cosine(np.concatenate(list(embed_crops(low, crops))), np.concatenate(list(embed_crops(full, crops))))
    check = {**_check(low, cosine, len(crops)), "measured": "at load, on this machine"}
    _store(key, check)
    return check


def machine_key(*parts) -> str:
    """The cache key of a check measured at load: everything that decides its result, hashed."""
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:32]


def runtime_version(runtime: str) -> str:
    """The installed version of the package that computes the features (another version: measured again)."""
    from importlib import metadata

    try:
        return metadata.version("openvino" if runtime == "openvino" else "torch")
    except metadata.PackageNotFoundError:
        return ""


def _check_file(key: str):
    from .ir_cache import cache_dir

    return cache_dir() / CHECKS_FOLDER / f"{key}.json"


def _cached(key: str) -> Optional[dict]:
    try:
        check = json.loads(_check_file(key).read_text(encoding="utf-8"))
        return check if isinstance(check, dict) and isinstance(check.get("kept"), bool) else None
    except (OSError, ValueError):
        return None


def _store(key: str, check: dict) -> None:
    from .ir_cache import cache_json

    cache_json(_check_file(key), check, "precision check")


def inspection_precision(setting: str, check: dict) -> str:
    """The precision a loaded model inspects in: `auto` becomes fp32 when its fit found the low precision moved
    its features; any other setting stands."""
    if setting == "auto" and check and not check.get("kept", True):
        return "fp32"
    return setting


def describe(check: dict) -> str:
    """One line for `inspector info`: what the fit measured and what it decided."""
    if not check:
        return ""
    if check.get("cosine") is None:
        return (f"{check['precision']} not checked ({check.get('note', 'nothing to measure')}): precision auto "
                "inspects this model in fp32; teach it again to check")
    verdict = ("kept" if check.get("kept") else
               f"refused below {MIN_COSINE}: precision auto inspects this model in fp32")
    where = f", {check['measured']}" if check.get("measured") else ""
    return (f"{check['precision']} features cosine {cosine_text(float(check['cosine']), MIN_COSINE)} to fp32 on "
            f"{check['images']} taught images{where}: {verdict}")


RUNTIME_NAMES = {"openvino": "OpenVINO", "torch": "torch"}


def describe_compute(runtime: str, precision: str) -> str:
    """What computes the features, in the words `inspector info` and the GUI's About share: "OpenVINO int8"."""
    return f"{RUNTIME_NAMES.get(runtime, runtime)} {precision}"


def describe_int8(cosine: float) -> str:
    """What int8's gate measured, for `inspector info` and the GUI: its features' mean cosine to fp32."""
    return (f"features cosine {cosine_text(cosine, INT8_MIN_COSINE)} to fp32 on the taught images it was "
            f"quantised on; refused below {INT8_MIN_COSINE}")
