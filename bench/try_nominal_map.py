"""Tried and rejected (seventh session, docs/benchmarks.md): a per-position nominal map, the taught images scored
leave-one-out, subtracted (times alpha) from each test map before the image score is taken.

    python bench/try_nominal_map.py ../shared/data ksdd,mpdd_metal_plate,l4v_cookie,visa_fryum,mvtec_bottle 2,4,8

Prints one JSON line per set and shot count: image AUROC (a<alpha>) and pixel AUROC (pix<alpha>); alpha 0 is the
eval's own fit (few-shot mirror policy). Uses engine internals: a bench script, not a client.
"""
import sys, json, shutil, tempfile
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).resolve().parents[1])); sys.path.insert(0, str(Path(__file__).resolve().parent))
from inference import Engine
from inspector_eval import metrics
from inspector_eval.dataset import find_categories, read_category
from inspector_eval.ours import eval_config, FEW_SHOT_AUGMENT
from inspector_eval.runner import CategoryData
from sweep_defaults import embed_all
from inference.inspection import score_prepared

sets = sys.argv[2].split(","); shots = sys.argv[3].split(",")
alphas = [0.0, 0.5, 0.75, 1.0]
out = []
def fit(images):
    cfg = eval_config(None, dict(FEW_SHOT_AUGMENT))
    e = Engine(cfg); tmp = Path(tempfile.mkdtemp(prefix="nom-"))
    e.fit(tmp / "p", images); m = e.load(tmp / "p"); shutil.rmtree(tmp, ignore_errors=True)
    return e, m
for folder in find_categories(Path(sys.argv[1]), sets):
    cat = read_category(folder); data = CategoryData(cat, shots, 0, 10, 128)
    cache = None
    for label, paths in data.split.shots.items():
        n = len(paths); imgs = data.pool[:n]
        e, model = fit(imgs)
        if cache is None:
            cache = embed_all(e, model, data.test)
        pt, ft = cache
        maps = [score_prepared(model, p, f, None).anomaly_map for p, f in zip(pt, ft)]
        loo = []
        for i in range(n):
            if n < 2: break
            e2, m2 = fit([im for j, im in enumerate(imgs) if j != i])
            pi, fi = embed_all(e2, m2, [imgs[i]])
            loo.append(score_prepared(m2, pi[0], fi[0], None).anomaly_map)
        res = {"set": cat.name, "shots": label}
        shapes = {m.shape for m in maps}
        for a in alphas:
            if loo and len(shapes) == 1 and loo[0].shape in shapes:
                nom = np.mean(loo, axis=0)
                adj = [m - a * nom for m in maps]
            else:
                adj = maps
            s = [float(m.max()) for m in adj]
            res[f"a{a}"] = metrics.image_auroc(data.is_defect, s)
            pix = np.stack([metrics.to_eval_resolution(metrics.place_in_image(adj[i], pt[i].crop.box, data.test[i].shape[:2]), 128) for i in data.pixel_idx]) if data.pixel_idx else None
            if pix is not None and data.masks is not None:
                res[f"pix{a}"] = round(metrics.pixel_auroc(pix, data.masks), 4)
        print(json.dumps(res), flush=True); out.append(res)
