"""Tried (fourteenth session, docs/benchmarks.md, issue 21): can a few NG images tell where int8 loses defects?

The cosine gate sees OK images only; int8's error is in the defects' scores (their activations fall outside the
ranges calibrated on OK parts). An OK+NG calibration has a few NG images. Per cell: the model fitted as the
product fits it, inspected with torch fp32 and with OpenVINO int8 (calibrated on the taught OK images, the gate
lowered so that every cell is scored); then, on the calibration images only (the split's OK calibration images and
the eval's held-out calibration NG images), candidate statistics of int8 against fp32, and int8's AUROC change
on the remaining test images. Prints one JSON line per cell; decides nothing.

    python bench/try_int8_ng_gate.py --shots 1,2,4,8,16 [--categories ksdd ...] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference import Engine, calibrate  # noqa: E402
from inference.features import prepare  # noqa: E402
from inspector_eval.dataset import find_categories, load_images, make_split, read_category  # noqa: E402
from inspector_eval.metrics import image_auroc  # noqa: E402
from inspector_eval.ours import OursMethod, eval_config  # noqa: E402
from inspector_eval.runner import calibration_ng_indices  # noqa: E402


def separation(ok: np.ndarray, ng: np.ndarray) -> dict:
    thr = calibrate(list(ok), score_percentile=99.0).threshold
    return {"ng_over_thr_min": float(ng.min() / thr), "ng_over_thr_median": float(np.median(ng / thr)),
            "pairs": float(np.mean(ng[:, None] > ok[None, :]))}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    p.add_argument("--categories", nargs="*")
    p.add_argument("--shots", default="1,4,16")
    p.add_argument("--calibration-ng", type=int, default=5)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    shots = args.shots.split(",")
    policy = OursMethod("ours", eval_config(None))
    rows = []
    for folder in find_categories(args.root, args.categories):
        cat = read_category(folder)
        split = make_split(cat, shots)
        tests = list(cat.test)
        y = np.array([t.is_defect for t in tests])
        held = calibration_ng_indices(y, args.calibration_ng)
        rest = np.setdiff1d(np.arange(len(tests)), held)
        test_images = load_images([t.path for t in tests])
        cal_ok_images = load_images(split.calibration)
        for shot in shots:
            train = load_images(split.shots[shot])
            base = policy.config_for_images(train)[0]
            with tempfile.TemporaryDirectory() as d:
                Engine(base.replace(runtime="openvino", precision="auto")).fit(d, train)
                fp32_engine = Engine(base.replace(runtime="torch", precision="fp32"))
                fp32 = fp32_engine.load(d)
                ov_engine = Engine(base.replace(runtime="openvino", precision="bf16"))
                bf16 = ov_engine.load(d)
                crops = [q.crop.pixels for q in prepare(train, bf16.roi)[0]]
                int8 = replace(bf16, backbone=bf16.backbone.quantized(crops, min_cosine=-1.0))
                s = {}
                for name, (engine, model) in {"fp32": (fp32_engine, fp32), "int8": (ov_engine, int8)}.items():
                    s[name] = (np.array([r.score for r in engine.score_many(model, test_images)]),
                               np.array([r.score for r in engine.score_many(model, cal_ok_images)]))
                row = {"set": folder.name, "shots": shot, "cosine": round(float(int8.backbone._int8.cosine), 5)}
                for name, (test, ok) in s.items():
                    row[name] = {"auroc_rest": round(image_auroc(y[rest], test[rest]), 4),
                                 **{k: round(v, 4) for k, v in separation(ok, test[held]).items()}}
                ratio_ng = np.median(s["int8"][0][held] / s["fp32"][0][held])
                ratio_ok = np.median(s["int8"][1] / s["fp32"][1])
                row["ng_ratio_over_ok_ratio"] = round(float(ratio_ng / ratio_ok), 4)
                row["auroc_delta"] = round(row["int8"]["auroc_rest"] - row["fp32"]["auroc_rest"], 4)
                rows.append(row)
                print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
