"""Whether the machine's low precision keeps a model's features: measured once, at fit, on the taught images.

A CPU with native bf16 inspects in bf16 under `precision: auto`, about 1.7x faster than fp32 with OpenVINO. On
most parts the patch features keep a mean cosine of 0.9994 or more to fp32; on some (measured: the dark, low-
contrast metal of mpdd_metal_plate and mvtec_screw, 0.9957 and 0.9983) bf16's 8-bit mantissa moves them enough
to change image AUROC by up to 0.008 (docs/benchmarks.md, issue 21). So every fit (int8's has its own gate,
openvino_runtime.int8_refusal) embeds up to GATE_IMAGES taught crops once more, in the precision `auto` picks on
this machine, and compares them with the fit's own full-precision features of those crops; below MIN_COSINE the model inspects in fp32 wherever it is loaded with precision
auto (ModelRecord.engine_config), and the manifest's `precision_check` says why. A precision set explicitly is
obeyed as it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

if TYPE_CHECKING:
    from .backbone import Backbone

MIN_COSINE = 0.999  # the int8 gate's level: every dev set whose bf16 AUROC held stayed above it
GATE_IMAGES = 16
LOW_PRECISIONS = ("bf16", "fp16")


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
    cosine = mean_cosine(got, reference)
    return {"precision": low, "cosine": round(cosine, 6), "images": len(taught), "kept": bool(cosine >= MIN_COSINE)}


def combined(before: Optional[dict], now: dict) -> dict:
    """A model extended by `add`: its low precision holds only if it held on the earlier and the new images."""
    if not before or not now or before.get("precision") != now.get("precision"):
        return now or dict(before or {})
    cosine = min(float(before["cosine"]), float(now["cosine"]))
    return {"precision": now["precision"], "cosine": cosine, "images": int(before["images"]) + int(now["images"]),
            "kept": bool(before["kept"]) and bool(now["kept"])}


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
    verdict = ("kept" if check.get("kept") else
               f"refused below {MIN_COSINE}: precision auto inspects this model in fp32")
    return (f"{check['precision']} features cosine {float(check['cosine']):.4f} to fp32 on {check['images']} "
            f"taught images: {verdict}")
