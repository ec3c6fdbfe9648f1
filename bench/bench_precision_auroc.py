"""Image AUROC of one fp32-fitted model inspected in fp32 and in bf16 (the inspection precision alone).

Prints figures; never passes or fails on them. Uses the eval suite's 16-shot split (seed 0) and its
engine defaults (EfficientNet-Lite0, 224 px, coreset 0.1):
    OMP_NUM_THREADS=1 python bench/bench_precision_auroc.py visa_fryum
"""
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sklearn.metrics import roc_auc_score
from inspector_eval.dataset import read_category, make_split, load_images
from inspector_eval.ours import eval_config
from inference import Engine
cat = read_category(Path("../shared/data") / sys.argv[1])
split = make_split(cat, ["16"])
train = load_images(split.shots["16"])
tests = load_images([t.path for t in cat.test]); y = [t.is_defect for t in cat.test]
base = eval_config(None)
with tempfile.TemporaryDirectory() as d:
    Engine(base.replace(precision="fp32")).fit(d, train)
    scores = {}
    engines = {p: Engine(base.replace(precision=p)) for p in ("fp32", "bf16")}
    models = {p: e.load(d) for p, e in engines.items()}
    for p in ("fp32", "bf16"):
        scores[p] = np.array([engines[p].score_many(models[p], [im])[0].score for im in tests])
    for p in scores:
        print(sys.argv[1], "fit fp32, score", p, "image AUROC", round(roc_auc_score(y, scores[p]), 4))
    rel = np.abs(scores["bf16"] - scores["fp32"]) / np.abs(scores["fp32"])
    print("score change bf16 vs fp32: median", np.median(rel), "max", rel.max())
