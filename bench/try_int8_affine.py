"""Tried and rejected (seventh session, docs/benchmarks.md): a per-channel affine correction of the int8 backbone's
features, fitted by least squares to fp32's on the model's taught samples. Does it bring int8 scores to fp32's?

    python bench/try_int8_affine.py ../shared/data mvtec_bottle,ksdd,l4v_cookie,visa_fryum 1,4,16

Prints per set and shot count: image AUROC fp32 / int8 / int8 corrected, and the median int8 / fp32 score ratio
(all test images, and OK ones). Uses engine internals: a bench script, not a client.
"""
import sys, shutil, tempfile, json
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from inference import Engine
from inspector_eval import metrics
from inspector_eval.dataset import find_categories, read_category
from inspector_eval.ours import eval_config, FEW_SHOT_AUGMENT
from inspector_eval.runner import CategoryData
from inference.taught_samples import stored

sets = sys.argv[2].split(","); shots = sys.argv[3].split(",")
for folder in find_categories(Path(sys.argv[1]), sets):
    cat = read_category(folder); data = CategoryData(cat, shots, 0, 10, 128)
    test = data.test
    for label, paths in data.split.shots.items():
        n = len(paths)
        cfg = eval_config(None, {**FEW_SHOT_AUGMENT, "runtime": "openvino", "precision": "int8"})
        tmp = Path(tempfile.mkdtemp())
        e8 = Engine(cfg)
        try:
            e8.fit(tmp / "p", data.pool[:n])
        except Exception as exc:
            print(cat.name, label, "refused", str(exc)[:80]); continue
        m8 = e8.load(tmp / "p")
        e32 = Engine(cfg.replace(precision="fp32")); m32 = e32.load(tmp / "p")
        s32 = np.array([r.score for r in e32.score_many(m32, test)])
        s8 = np.array([r.score for r in e8.score_many(m8, test)])
        samples = stored(tmp / "p", m8.record)
        grid = m8.backbone._int8
        x = np.concatenate([grid(samples[i:i+8]) for i in range(0, len(samples), 8)])
        y = np.concatenate([m32.backbone.embed(samples[i:i+8]).numpy() for i in range(0, len(samples), 8)])
        X = np.moveaxis(x, 1, -1).reshape(-1, x.shape[1]); Y = np.moveaxis(y, 1, -1).reshape(-1, y.shape[1])
        mx, my = X.mean(0), Y.mean(0)
        a = ((X - mx) * (Y - my)).mean(0) / np.maximum(((X - mx) ** 2).mean(0), 1e-12)
        b = my - a * mx
        norm_ratio = np.median(np.linalg.norm(X, axis=1) / (np.linalg.norm(Y, axis=1) + 1e-9))
        orig = grid.__call__
        class Fixed:
            def __init__(s, g): s.g = g
            def __call__(s, imgs):
                f = s.g(imgs)
                return (f * a[None, :, None, None] + b[None, :, None, None]).astype(np.float32)
            def __getattr__(s, k): return getattr(s.g, k)
        m8.backbone._int8 = Fixed(grid)
        s8c = np.array([r.score for r in e8.score_many(m8, test)])
        au = lambda s: metrics.image_auroc(data.is_defect, list(s))
        ok = ~np.array(data.is_defect, bool)
        print(json.dumps({"set": cat.name, "shots": label, "norm_ratio": round(float(norm_ratio), 4),
              "auroc32": round(au(s32), 4), "auroc8": round(au(s8), 4), "auroc8c": round(au(s8c), 4),
              "ratio8": round(float(np.median(s8 / s32)), 4), "ratio8c": round(float(np.median(s8c / s32)), 4),
              "ratio8_ok": round(float(np.median(s8[ok] / s32[ok])), 4), "ratio8c_ok": round(float(np.median(s8c[ok] / s32[ok])), 4)}), flush=True)
        shutil.rmtree(tmp, ignore_errors=True)
