"""The heap release's cost at batch 1: after every image against at most once per heap.TRIM_INTERVAL_S.

    python bench/bench_heap_release.py ../shared/data/mvtec_bottle [--shots 16] [--rounds 4] [--config FILE]

One model is fitted with the eval's setting and few-shot policy (inspector_eval.ours: EfficientNet-Lite0, 224 px;
--config: a YAML in config.yaml's format over it, e.g. DINOv2 at 448 px with `weights: none`), on the first
--shots images of SET/train/good. SET/test's images (decoded once) are then inspected one at a time,
as the eval and the service do, in --rounds rounds that alternate the two policies in one process, so the
machine's load weighs on both alike. Prints each policy's median and mean ms per image and the process's RSS
after each round. Passes or fails nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_infer_memory import rss_mb  # noqa: E402

from inference import heap, load_image  # noqa: E402
from inspector_eval.ours import OursMethod, eval_config  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("set", type=Path)
    ap.add_argument("--shots", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--config", type=Path)
    args = ap.parse_args()
    method = OursMethod("ours", eval_config(args.config))
    method.fit([load_image(p) for p in sorted((args.set / "train" / "good").iterdir())[: args.shots]])
    images = [load_image(p) for p in sorted((args.set / "test").glob("*/*"))]
    for image in images[:5]:
        method.score(image)  # warm-up: compile, first allocations
    policies = {"after every image": 0.0, f"at most every {heap.TRIM_INTERVAL_S:g} s": heap.TRIM_INTERVAL_S}
    times = {name: [] for name in policies}
    rss = {name: [] for name in policies}
    for _ in range(args.rounds):
        for name, interval in policies.items():
            heap.TRIM_INTERVAL_S = interval
            for image in images:
                t = time.perf_counter()
                method.score(image)
                times[name].append(time.perf_counter() - t)
            rss[name].append(round(rss_mb(os.getpid())))
    cfg = method.config
    print(f"{cfg.backbone} at {cfg.input_size} px, precision {cfg.precision}; {args.set.name}, {args.shots} OK "
          f"images, {len(images)} test images x {args.rounds} rounds, load {os.getloadavg()[0]:.2f}")
    for name in policies:
        print(f"  heap release {name}: median {1e3 * statistics.median(times[name]):.2f} ms, "
              f"mean {1e3 * statistics.fmean(times[name]):.2f} ms; RSS by round {rss[name]} MB")
    method.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
