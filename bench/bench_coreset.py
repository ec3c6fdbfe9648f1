"""k-center greedy coreset: blocked (bf16 and fp32 bulk update) against plain greedy, time and coverage radius.

Prints figures; never passes or fails on them. Example:
    python bench/bench_coreset.py --images ../shared/data/mvtec_bottle/train/good --n 204800 --compare 40960

The memory bank is real patch features: EfficientNet-Lite0 (ImageNet weights) at
252 px, 32 x 32 = 1,024 patches of 152 dims per image (200 images = 204,800), cut to --n rows. The coreset keeps 2 % (204,800 ->
4,096). Coverage radius = the largest distance from a bank feature to its nearest
coreset feature, in the raw feature space (k-center's objective; lower is better).
Plain greedy (the engine's algorithm before issue 15) runs on the first --compare
rows, where it takes a minute at most; add --stepwise-full to run it on all --n.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_engine import machine  # noqa: E402

from inference import EngineConfig, expand_image_paths, load_image  # noqa: E402
from inference.backbone import Backbone  # noqa: E402
from inference.memory import coverage_radius, kcenter_greedy, kcenter_greedy_stepwise  # noqa: E402
from inference.preprocess import stack_inputs  # noqa: E402


def bank(folder: Path, n: int, cache: Path) -> np.ndarray:
    if cache.is_file():
        x = np.load(cache)
        if len(x) >= n:
            return x[:n]
    backbone = Backbone(EngineConfig(backbone="efficientnet_lite0", input_size=252, precision="fp32"))
    rows, total = [], 0
    for f in expand_image_paths([folder]):
        feats = backbone.embed(stack_inputs([load_image(f)], 252)).numpy()[0]
        rows.append(feats.reshape(feats.shape[0], -1).T)
        total += len(rows[-1])
        if total >= n:
            break
    x = np.concatenate(rows)[:n].astype(np.float32)
    np.save(cache, x)
    return x


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=Path, required=True)
    p.add_argument("--n", type=int, default=204800)
    p.add_argument("--ratio", type=float, default=0.02)
    p.add_argument("--compare", type=int, default=40960, help="rows on which plain greedy runs too")
    p.add_argument("--stepwise-full", action="store_true")
    p.add_argument("--cache", type=Path, default=Path("/tmp/inspector_coreset_bank.npy"))
    args = p.parse_args()
    x = bank(args.images, args.n, args.cache)
    out = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
           "bank": list(x.shape), "ratio": args.ratio, "runs": []}
    sets = [("full", x), ("compare", x[: args.compare])]
    for name, pts in sets:
        methods = [("blocked bf16", lambda: kcenter_greedy(pts, args.ratio, bf16=True)),
                   ("blocked fp32", lambda: kcenter_greedy(pts, args.ratio, bf16=False))]
        if name == "compare" or args.stepwise_full:
            methods.append(("plain greedy", lambda: kcenter_greedy_stepwise(pts, args.ratio)))
        for method, fn in methods:
            idx, seconds = timed(fn)
            run = {"set": name, "n": len(pts), "k": len(idx), "method": method, "seconds": round(seconds, 2),
                   "coverage_radius": round(coverage_radius(pts, idx), 4),
                   "load_average": round(os.getloadavg()[0], 1)}
            out["runs"].append(run)
            print(json.dumps(run), flush=True)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
