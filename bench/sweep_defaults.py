"""Choose engine defaults by mean rank over every dev set and shot count (ours only, no per-set tuning).

For each feature setting (input size, ...) the test and calibration images of a set are embedded once;
each candidate fit (augmentation, distance) then scores those features with every image-score mode, so
one embedding pass serves many candidates. Prints a table and writes every score to --json, so that
calibration options can be compared afterwards without running anything again.

    nice -n 10 python bench/sweep_defaults.py ../shared/data --json bench/sweep_defaults.json

Uses engine internals (features.prepare / embed_batch, inspection.score_prepared): a bench script, not a client.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference import Engine  # noqa: E402
from inference.features import embed_batch, prepare  # noqa: E402
from inference.inspection import score_prepared  # noqa: E402
from inspector_eval import metrics  # noqa: E402
from inspector_eval.dataset import find_categories, read_category  # noqa: E402
from inspector_eval.ours import eval_config  # noqa: E402
from inspector_eval.runner import CategoryData  # noqa: E402

SETS = ["mvtec_bottle", "visa_fryum", "l4v_cookie", "ksdd", "mpdd_metal_plate", "mvtec_screw"]
SCORE_MODES = ("p99", "max", "topk_mean", "reweighted_max")
# Extra image-score candidates scored from the same features: name -> (score_mode, smoothing_sigma).
SCORE_VARIANTS = {"max_s2": ("max", 2.0), "max_s8": ("max", 8.0)}
# Feature settings (each embeds the test and calibration images once): name -> engine settings.
FEATURES = {
    "lite0": {},
    "lite1": {"backbone": "efficientnet_lite1"},
    "lite2": {"backbone": "efficientnet_lite2"},
    "lite0_s123": {"cnn_layers": [1, 2, 3]},
    # Each stage's share of the patch distance (cnn_stage_weights) and the stride-32 stage (issue 25, eighth session).
    "lite0_s2w167": {"cnn_stage_weights": {2: 1.67}},
    "lite0_s2w06": {"cnn_stage_weights": {2: 0.6}},
    "lite0_s234": {"cnn_layers": [2, 3, 4]},
    "lite0_s234_w07": {"cnn_layers": [2, 3, 4], "cnn_stage_weights": {4: 0.7}},
    "lite0_s234_w05": {"cnn_layers": [2, 3, 4], "cnn_stage_weights": {4: 0.5}},
    "lite0_s34": {"cnn_layers": [3, 4]},
}
# Fit candidates: name -> (engine settings, augmentation applied only at <= 8 shots).
FITS = {
    "none": ({}, {}),
    "flips": ({}, {"augment": True, "augment_copies": 0, "augment_flips": True}),
    "cosine": ({"distance": "cosine"}, {}),
    # A denser bank instead of (or with) mirrors at <= 8 shots: ratio 0.3 keeps as many vectors as the
    # mirrors at 0.1 do (3 x the images), so search time is the same.
    "dense": ({}, {"coreset_ratio": 0.3}),
    # Mirrors with the bank kept at the plain fit's size (ratio 0.1 / 3): the coreset and search cost of a plain fit.
    "flips_sparse": ({}, {"augment": True, "augment_copies": 0, "augment_flips": True, "coreset_ratio": 0.034}),
    "flips_dense": ({}, {"augment": True, "augment_copies": 0, "augment_flips": True, "coreset_ratio": 0.3}),
    # Issue 25's training-free ingredients, one at a time and combined with the mirrors.
    "fg": ({"foreground_mask": "auto"}, {}),
    "flips_fg": ({"foreground_mask": "auto"}, {"augment": True, "augment_copies": 0, "augment_flips": True}),
    "flips_cosine": ({"distance": "cosine"}, {"augment": True, "augment_copies": 0, "augment_flips": True}),
    "any": ({}, {"part_symmetry": "any"}),
    "any_fg": ({"foreground_mask": "auto"}, {"part_symmetry": "any"}),
    "cos_fg": ({"distance": "cosine", "foreground_mask": "auto"}, {}),
    "flips_cos_fg": ({"distance": "cosine", "foreground_mask": "auto"},
                     {"augment": True, "augment_copies": 0, "augment_flips": True}),
}


def embed_all(engine, model, images):
    prepared, _ = prepare(images, model.roi, model.manifest.get("image_size"))
    out = []
    for i in range(0, len(prepared), 16):
        out.extend(embed_batch(model.backbone, [p.crop.pixels for p in prepared[i:i + 16]]))
    return prepared, out


def score_modes(model, prepared, feats, modes=SCORE_MODES) -> tuple[dict, list]:
    scores = {m: [] for m in modes}
    maps = []
    base = model.config
    for p, f in zip(prepared, feats):
        for m in modes:
            mode, sigma = SCORE_VARIANTS.get(m, (m, base.smoothing_sigma))
            model.config = base.replace(score_mode=mode, smoothing_sigma=sigma)
            r = score_prepared(model, p, f, None)
            scores[m].append(float(r.score))
            if m == "max":
                maps.append(r.anomaly_map)
    model.config = base
    return scores, maps


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path)
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--shots", default="1,2,4,8,16")
    ap.add_argument("--sizes", default="224")
    ap.add_argument("--fits", default=",".join(FITS))
    ap.add_argument("--features", default="lite0", help="comma list of " + ", ".join(FEATURES))
    ap.add_argument("--modes", default=",".join(SCORE_MODES), help="image scores, and variants: "
                    + ", ".join(SCORE_VARIANTS))
    ap.add_argument("--json", type=Path, required=True)
    args = ap.parse_args()
    shots = [s for s in args.shots.split(",") if s]
    out = json.loads(args.json.read_text()) if args.json.is_file() else {"cells": []}
    done = {(c["set"], c["size"], c.get("features", "lite0"), c["fit"], c["shots"]) for c in out["cells"]}
    modes = [m for m in args.modes.split(",") if m]
    if "max" not in modes:
        modes.insert(0, "max")  # the map kept for pixel AUROC
    for folder in find_categories(args.root, args.sets.split(",")):
        cat = read_category(folder)
        data = CategoryData(cat, shots, 0, 10, 128)
        for size, feat in [(int(s), f) for s in args.sizes.split(",") for f in args.features.split(",")]:
            cache = None  # test + calibration features for this feature setting
            for fit_name in args.fits.split(","):
                settings, few = FITS[fit_name]
                for label, paths in data.split.shots.items():
                    if (cat.name, size, feat, fit_name, label) in done:
                        continue
                    n = len(paths)
                    if few and n > 8:
                        continue  # same fit as "none"
                    cfg = eval_config(None, {"input_size": size, **FEATURES[feat], **settings,
                                             **(few if n <= 8 else {})})
                    engine = Engine(cfg)
                    tmp = Path(tempfile.mkdtemp(prefix="sweep-"))
                    t = time.perf_counter()
                    res = engine.fit(tmp / "p", data.pool[:n])
                    fit_s = time.perf_counter() - t
                    model = engine.load(tmp / "p")
                    if cache is None:
                        pt, ft = embed_all(engine, model, data.test)
                        pc, fc = embed_all(engine, model, data.calibration)
                        cache = (model.backbone.config.input_size, pt, ft, pc, fc)
                    _, pt, ft, pc, fc = cache
                    test_scores, maps = score_modes(model, pt, ft, modes)
                    cal_scores, _ = score_modes(model, pc, fc, modes)
                    # Taught images scored by their own model: the reference a capture-shift check compares with.
                    taught_p, taught_f = embed_all(engine, model, data.pool[:n])
                    taught_scores, _ = score_modes(model, taught_p, taught_f, modes)
                    pix = np.stack([metrics.to_eval_resolution(
                        metrics.place_in_image(maps[i], pt[i].crop.box, data.test[i].shape[:2]), 128)
                        for i in data.pixel_idx])
                    cell = {
                        "set": cat.name, "size": size, "features": feat, "fit": fit_name, "shots": label,
                        "n_train": n, "foreground": res.record.foreground.get("note", ""),
                        "fit_s": round(fit_s, 3), "embedding_s": round(res.timings["embedding"], 3),
                        "coreset_s": round(res.timings["coreset"], 3),
                        "image_auroc": {m: metrics.image_auroc(data.is_defect, s) for m, s in test_scores.items()},
                        "pixel_auroc": metrics.pixel_auroc(pix, data.masks),
                        "aupro": metrics.aupro(pix, data.masks),
                        "is_defect": [bool(x) for x in data.is_defect],
                        "test_scores": test_scores, "cal_scores": cal_scores, "taught_scores": taught_scores,
                    }
                    out["cells"].append(cell)
                    shutil.rmtree(tmp, ignore_errors=True)
                    print(f"{cat.name} {size} {feat} {fit_name} {label}: " + " ".join(
                        f"{m} {v:.4f}" for m, v in cell["image_auroc"].items())
                        + f" pix {cell['pixel_auroc'] if cell['pixel_auroc'] is None else round(cell['pixel_auroc'], 4)}"
                        + f" fit {fit_s:.2f}s", flush=True)
                    args.json.write_text(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
