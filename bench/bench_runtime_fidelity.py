"""Fidelity of the OpenVINO runtime: image AUROC of one model inspected with torch fp32, OpenVINO fp32 (what the
runtime alone changes), OpenVINO bf16, OpenVINO with precision auto (the product default: bf16 where the fit's
precision check found it holds the features, fp32 elsewhere) and OpenVINO int8, and how far each one's scores
move from torch fp32's. The model is fitted as the
product fits it (runtime auto, precision auto: OpenVINO, the bank in fp32, the bf16 check recorded).

Prints figures; never passes or fails on them. The eval suite's splits (seed 0) and engine defaults
(EfficientNet-Lite0, 224 px, coreset 0.1, the eval's few-shot policy). int8 is NNCF quantisation calibrated on
the taught OK images, as a fit with `precision: int8` does. An int8 model that the cosine gate refuses is
still scored (the gate lowered for this bench only) and reported as refused, with its AUROC, so the gate can
be judged against the AUROC it protects.
    python bench/bench_runtime_fidelity.py --shots 1,2,4,8,16 --max-test 0 [--categories visa_fryum ...]
        [--no-int8] [--product] [--variants torch-fp32,openvino-int8]

--product fits with config.yaml's defaults (what a fresh install fits) instead of the eval's setting.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference import Engine, EngineConfig, InspectorError  # noqa: E402
from inference.features import prepare  # noqa: E402
from inference.openvino_runtime import INT8_MIN_COSINE  # noqa: E402
from inspector_eval.dataset import find_categories, load_images, make_split, read_category  # noqa: E402
from inspector_eval.metrics import image_auroc  # noqa: E402
from inspector_eval.ours import OursMethod, eval_config  # noqa: E402

VARIANTS = ("torch-fp32", "openvino-fp32", "openvino-bf16", "openvino-auto", "openvino-int8")


def spread(items: list, n: int) -> list:
    """n items evenly spread over the list (all when n is 0 or larger)."""
    if not n or n >= len(items):
        return items
    return [items[i] for i in np.linspace(0, len(items) - 1, n).round().astype(int)]


def models_for(folder: str, base, train: list, int8: bool = True) -> dict:
    out = {}
    torch_engine = Engine(base.replace(runtime="torch", precision="fp32"))
    out["torch-fp32"] = (torch_engine, torch_engine.load(folder))
    # OpenVINO in fp32: what the runtime alone changes, apart from the precision.
    fp32_engine = Engine(base.replace(runtime="openvino", precision="fp32"))
    out["openvino-fp32"] = (fp32_engine, fp32_engine.load(folder))
    ov_engine = Engine(base.replace(runtime="openvino", precision="bf16"))
    bf16 = ov_engine.load(folder)
    out["openvino-bf16"] = (ov_engine, bf16)
    auto_engine = Engine(base.replace(runtime="openvino", precision="auto"))
    out["openvino-auto"] = (auto_engine, auto_engine.load(folder))
    if not int8:
        return out
    crops = [p.crop.pixels for p in prepare(train, bf16.roi)[0]]
    try:  # the gate lowered: the AUROC of a refused int8 model is measured too (the row says it was refused)
        out["openvino-int8"] = (ov_engine, replace(bf16, backbone=bf16.backbone.quantized(crops, min_cosine=-1.0)))
    except InspectorError as exc:
        out["openvino-int8"] = str(exc)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    p.add_argument("--categories", nargs="*")
    p.add_argument("--shots", default="1,4")
    p.add_argument("--max-test", type=int, default=80, help="test images per set, spread over the list (0: all)")
    p.add_argument("--no-int8", action="store_true", help="torch fp32 and OpenVINO bf16 only (int8 quantises per cell)")
    p.add_argument("--json", type=Path)
    p.add_argument("--variants", default=",".join(VARIANTS),
                   help=f"those scored, of {VARIANTS} (torch-fp32, the reference, always)")
    p.add_argument("--product", action="store_true", help="fit with config.yaml's defaults, not the eval's")
    args = p.parse_args()
    shots = args.shots.split(",")
    rows = []
    policy = OursMethod("ours", eval_config(None))
    for folder in find_categories(args.root, args.categories):
        cat = read_category(folder)
        split = make_split(cat, shots)
        tests = spread(list(cat.test), args.max_test)
        y = [t.is_defect for t in tests]
        test_images = load_images([t.path for t in tests])
        for shot in shots:
            train = load_images(split.shots[shot])
            # The eval's few-shot policy, as `inspector eval` decides it for these images (or the product's defaults).
            base = EngineConfig.load() if args.product else policy.config_for_images(train)[0]
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory() as d:
                check = Engine(base.replace(runtime="openvino", precision="auto")).fit(d, train).record.precision_check
                scores, row = {}, {"set": folder.name, "shots": shot, "n_test": len(tests), "precision_check": check}
                for name, pair in models_for(d, base, train, not args.no_int8).items():
                    if name != "torch-fp32" and name not in args.variants.split(","):
                        continue
                    if isinstance(pair, str):
                        row[name] = {"refused": pair}
                        continue
                    engine, model = pair
                    scores[name] = np.array([r.score for r in engine.score_many(model, test_images)])
                    row[name] = {"auroc": round(image_auroc(y, scores[name]), 4)}
                    if name != "torch-fp32":
                        ratio = scores[name] / scores["torch-fp32"]
                        row[name]["median_score_ratio"] = round(float(np.median(ratio)), 5)
                        row[name]["median_abs_change"] = round(float(np.median(np.abs(ratio - 1))), 5)
                        row[name]["auroc_delta"] = round(row[name]["auroc"] - row["torch-fp32"]["auroc"], 4)
                    if name == "openvino-auto":
                        row[name]["precision"] = model.backbone.precision_name
                    if name == "openvino-int8":
                        cosine = float(model.backbone._int8.cosine)
                        row[name]["cosine"] = round(cosine, 5)
                        row[name]["gate"] = "kept" if cosine >= INT8_MIN_COSINE else "refused"
            row["seconds"] = round(time.perf_counter() - t0, 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
    out = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "load_average":
           [round(v, 1) for v in os.getloadavg()], "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
