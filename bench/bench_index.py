"""The coreset's index (`index: flat|ivf|sq8|pq`): index size, search time and image AUROC against flat.

Prints figures; never passes or fails on them. One torch-fp32 fit per set and shot count (the eval suite's
split, seed 0, engine defaults: EfficientNet-Lite0 224 px, coreset 0.1, the eval's few-shot policy at 8 shots or fewer); the same
coreset is then indexed flat, ivf, sq8 and pq, and the test images are scored with each; for ivf also the share
of patches whose nearest vector it finds (recall) and the image scores' largest relative change against flat.
    python bench/bench_index.py --shots 4,16 --max-test 60
    python bench/bench_index.py --shots 1,4,8,16 --kinds flat,ivf --max-test 60
    python bench/bench_index.py --categories mvtec_bottle --shots 100 --kinds flat,ivf:8,ivf:16 --product

ivf:N is ivf scanning 1 list in N (ivf alone: the engine's share, knn.IVF_PROBE_FRACTION). --product fits with
the product's defaults (config.yaml, EngineConfig.load(); torch fp32) instead of the eval's setting and policy.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_runtime_fidelity import spread  # noqa: E402

from inference import Engine, EngineConfig  # noqa: E402
from inference.knn import (Searcher, _flat_and_transform, build_index, ivf_lists_scanned,  # noqa: E402
                           ivf_lists_to_scan, serialize)
from inference.preprocess import stack_inputs  # noqa: E402
from inspector_eval.dataset import find_categories, load_images, make_split, read_category  # noqa: E402
from inspector_eval.metrics import image_auroc  # noqa: E402
from inspector_eval.ours import OursMethod, eval_config  # noqa: E402

KINDS = ("flat", "ivf", "sq8", "pq")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    p.add_argument("--categories", nargs="*")
    p.add_argument("--shots", default="4,16")
    p.add_argument("--max-test", type=int, default=60)
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--json", type=Path)
    p.add_argument("--product", action="store_true", help="fit with config.yaml's defaults, not the eval's")
    args = p.parse_args()
    shots, rows = args.shots.split(","), []
    policy = OursMethod("ours", eval_config(None))
    for folder in find_categories(args.root, args.categories):
        cat = read_category(folder)
        split = make_split(cat, shots)
        tests = spread(list(cat.test), args.max_test)
        y = [t.is_defect for t in tests]
        test_images = load_images([t.path for t in tests])
        for shot in shots:
            train = load_images(split.shots[shot])
            # The eval's few-shot policy, as `inspector eval` decides it for these images.
            base = EngineConfig.load() if args.product else policy.config_for_images(train)[0]
            base = base.replace(runtime="torch", precision="fp32")
            engine = Engine(base)
            with tempfile.TemporaryDirectory() as d:
                engine.fit(d, train)
                model = engine.load(d)
            flat, transform = _flat_and_transform(model.searcher.cpu_index)
            coreset = flat.reconstruct_n(0, flat.ntotal)
            queries = [model.backbone.embed(stack_inputs([im], base.input_size)).numpy()[0] for im in test_images[:10]]
            queries = [q.reshape(q.shape[0], -1).T for q in queries]
            row = {"set": folder.name, "shots": shot, "coreset": int(flat.ntotal), "dim": int(flat.d),
                   "setting": "product" if args.product else "eval"}
            flat_scores = flat_patch = None
            for kind in args.kinds.split(","):
                index = build_index(coreset, transform, kind.split(":")[0])
                if ":" in kind:  # ivf:N, 1 list in N scanned
                    inner, _ = _flat_and_transform(index)
                    inner.nprobe = ivf_lists_to_scan(inner.nlist, int(kind.split(":")[1]))
                searcher = Searcher(index, use_gpu=False)
                searcher.distances(queries[0])
                times = []
                for q in queries:
                    t = time.perf_counter()
                    searcher.distances(q)
                    times.append((time.perf_counter() - t) * 1000)
                scores = [r.score for r in engine.score_many(replace(model, searcher=searcher), test_images)]
                row[kind] = {"bytes": len(serialize(searcher.cpu_index)), "search_ms": round(statistics.median(times), 3),
                             "auroc": round(image_auroc(y, scores), 4)}
                scanned = ivf_lists_scanned(searcher.cpu_index)
                if scanned:  # ivf: how many lists it keeps and scans
                    row[kind].update(lists=scanned[1], nprobe=scanned[0])
                patch = np.concatenate([searcher.distances(q) for q in queries])
                if kind == "flat":
                    flat_scores, flat_patch = np.asarray(scores), patch
                elif flat_scores is not None:  # how far this index moves the scores of the same coreset
                    row[kind]["recall"] = round(float(np.mean(np.abs(patch - flat_patch) <= 1e-4 * flat_patch.max())), 4)
                    row[kind]["max_score_change"] = round(float(np.max(np.abs(np.asarray(scores) - flat_scores)
                                                                        / np.abs(flat_scores))), 5)
            rows.append(row)
            print(json.dumps(row), flush=True)
    out = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "load_average": [round(v, 1) for v in os.getloadavg()], "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
