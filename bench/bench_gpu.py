"""The GPU table in one run (issue 21; docs/benchmarks.md, "GPU table"): what a lent accelerator is measured on.

Prints figures; never passes or fails on them. Against the GPU targets (2 ms per ROI, 2,000 ROI/s, a 1 s fit):
- `Engine.infer` at batch 1, the fit of 20 OK images and `Engine.score_many` throughput, for DINOv2 ViT-S/14 at
  448 px (random weights: the same arithmetic) and EfficientNet-Lite0 at 224 px (its ImageNet weights when the
  package is installed), each with the engine's GPU defaults: precision auto (fp16 on CUDA), compile auto (CUDA
  graphs), the search on the GPU (faiss's GPU build where installed, else torch: the row's gpu_search says);
- the k-center coreset, 204,800 -> 4,096 vectors of 384 dims, on the GPU and (for the ratio) on the CPU;
- a Ray task asking for one GPU (`num_gpus=1`), where Ray is installed.
Generated 512 px parts (inference.synthetic), so it needs no data set. Every row names the device it ran on and is
printed as soon as it is measured (the first call of each input shape also compiles the CUDA graphs: a fit, an
inspection and a batch run first untimed); `--backbones` and `--no-coreset` let a rerun skip what came back. On a machine without CUDA it runs on the
CPU, which checks the script, not the targets (--quick: small sizes).

    python bench/bench_gpu.py --json OUT.json [--quick]

On the lent machine (docs/benchmarks.md says how its missing packages travel as wheels, bench/gpu_wheels.sh):
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && PYTHONPATH=/tmp/site:. \\
        PYTHONUNBUFFERED=1 python3 bench/bench_gpu.py --json $OUT/gpu.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_engine import images, machine, measure  # noqa: E402

from inference import EngineConfig  # noqa: E402
from inference.memory import kcenter_greedy  # noqa: E402

CASES = (
    {"backbone": "dinov2_vits14", "weights": "none", "input_size": 448, "coreset_ratio": 0.02},
    {"backbone": "efficientnet_lite0", "weights": "auto", "input_size": 224, "coreset_ratio": 0.1},
)


def engine_rows(quick: bool, backbones: list[str]) -> list[dict]:
    n_fit, n_infer, n_throughput = (4, 5, 16) if quick else (20, 50, 512)
    fit_imgs, infer_imgs, roi = images(None, n_fit, n_infer)
    rows = []
    for case in (c for c in CASES if c["backbone"] in backbones):
        config = EngineConfig.load(None).replace(**case, use_gpu=True, batch_size=8 if quick else 64)
        try:
            rows.append(measure(config, fit_imgs, infer_imgs, roi, n_throughput, warm_fit=True))
        except Exception as exc:  # one case that cannot run (a missing weights package) still leaves the others
            rows.append({**case, "error": f"{type(exc).__name__}: {exc}"})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def coreset_rows(quick: bool) -> list[dict]:
    n, k, dim = (20_480, 410, 384) if quick else (204_800, 4_096, 384)
    points = np.random.default_rng(0).standard_normal((n, dim), dtype=np.float32)
    devices = ["cuda", "cpu"] if torch.cuda.is_available() else ["cpu"]
    rows = []
    for device in devices:
        kcenter_greedy(points[: n // 10], k / n, device=device)  # warm-up: kernels, allocator
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        picked = kcenter_greedy(points, k / n, device=device)
        if device == "cuda":
            torch.cuda.synchronize()
        rows.append({"coreset": f"{n} -> {len(picked)} x {dim}", "device": device,
                     "seconds": round(time.perf_counter() - t, 2)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def ray_row() -> dict:
    try:
        import ray
    except ImportError:
        return {"ray": "not installed"}
    gpus = 1 if torch.cuda.is_available() else 0
    ray.init(num_cpus=2, num_gpus=gpus, include_dashboard=False, log_to_driver=False)
    try:
        @ray.remote(num_gpus=gpus)
        def product_on_gpu(n: int) -> tuple[str, float]:
            import torch as t

            device = "cuda" if t.cuda.is_available() else "cpu"
            x = t.randn(n, n, device=device)
            start = time.perf_counter()
            (x @ x).sum().item()
            return device, time.perf_counter() - start

        device, seconds = ray.get(product_on_gpu.remote(2048))
        return {"ray": ray.__version__, "task_num_gpus": gpus, "task_device": device, "seconds": round(seconds, 4)}
    finally:
        ray.shutdown()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", type=Path, help="write all rows here")
    p.add_argument("--quick", action="store_true", help="small sizes: checks the script, not the targets")
    p.add_argument("--backbones", default=",".join(c["backbone"] for c in CASES),
                   help="which engine rows (a rerun can leave out what came back already)")
    p.add_argument("--no-coreset", action="store_true")
    args = p.parse_args()
    import faiss

    head = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
            "cuda": torch.version.cuda, "faiss": faiss.__version__, "faiss_gpus": faiss.get_num_gpus()
            if hasattr(faiss, "get_num_gpus") else 0, "quick": args.quick}
    print(json.dumps(head), flush=True)
    out = {**head, "engine": engine_rows(args.quick, args.backbones.split(",")),
           "coreset": [] if args.no_coreset else coreset_rows(args.quick), "ray": ray_row()}
    print(json.dumps(out["ray"]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
