"""Per-stage inspection times, fp32 against bf16 in the same run, and GFLOP/s against the machine's peak.

Prints figures; never passes or fails on them. Example:
    python bench/bench_stages.py --images ../shared/data/mvtec_bottle/train/good --backbone dinov2_vits14 \\
        --weights none --input-size 448 --n 20
    python bench/bench_stages.py --images ../shared/data/mvtec_bottle/train/good --backbone efficientnet_lite0 \\
        --weights auto --input-size 224 --n 40

One model is fitted (fp32) and loaded twice, once per precision; each test image
goes through every stage under fp32 and then under bf16 (the order alternating),
so load from other jobs on a shared machine hits both alike. Stages, batch 1:
decode (JPEG file -> RGB array), preprocess (ROI crop, resize to the input size,
stack), backbone (normalise, network, patch aggregation: Backbone.embed), search
(faiss nearest coreset neighbour per patch), map (upsample + smooth to the ROI
box, mask), score (image score, regions, verdict). "total" is their sum, which
is what Engine.infer costs for an image file.

GFLOP/s: the backbone's FLOPs (torch.utils.flop_counter, one image) divided by
its median time. Peak: measured here as the best of a few large matrix products
(2048^3, all torch threads) in fp32 and bf16, and, for an AMD Zen 4 CPU, the
nominal figure (2 x 256-bit FMA pipes: 32 fp32 FLOP/cycle/core; VDPBF16PS doubles
that for bf16; AMD Software Optimization Guide for Family 19h) at the clock
/proc/cpuinfo reports.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_engine import machine  # noqa: E402

from inference import Engine, EngineConfig, expand_image_paths, load_image  # noqa: E402
from inference.features import patch_mask, pixel_mask, prepare  # noqa: E402
from inference.preprocess import stack_inputs  # noqa: E402
from inference.scoring import anomaly_map, find_regions, global_score, judge  # noqa: E402

STAGES = ("decode", "preprocess", "backbone", "search", "map", "score")


def time_stages(model, path: Path, threshold: float) -> dict[str, float]:
    """One image through every stage of Engine.infer, each timed (ms)."""
    cfg, out = model.config, {}
    t = time.perf_counter()
    pixels = load_image(path)
    out["decode"] = time.perf_counter() - t
    t = time.perf_counter()
    prepared, _ = prepare([pixels], model.roi)
    batch = stack_inputs([prepared[0].crop.pixels], cfg.input_size)
    out["preprocess"] = time.perf_counter() - t
    t = time.perf_counter()
    feats = model.backbone.embed(batch).cpu().numpy()[0]
    out["backbone"] = time.perf_counter() - t
    t = time.perf_counter()
    c, h, w = feats.shape
    patch_scores = model.searcher.distances(feats.reshape(c, -1).T, cfg.n_neighbors).reshape(h, w)
    out["search"] = time.perf_counter() - t
    t = time.perf_counter()
    box = prepared[0].crop.box
    mask = pixel_mask(model.roi, box)
    m = anomaly_map(patch_scores, box[3] - box[1], box[2] - box[0], cfg.input_size, cfg.smoothing_sigma)
    m[~mask] = 0.0
    out["map"] = time.perf_counter() - t
    t = time.perf_counter()
    score = global_score(m, mask, patch_scores, patch_mask(model.roi, box, (h, w)), cfg.score_mode)
    judge(score, find_regions(m, mask, threshold, box, None), threshold, 0.0)
    out["score"] = time.perf_counter() - t
    return {k: v * 1000 for k, v in out.items()}


def backbone_gflop(backbone, input_size: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        backbone.embed(np.zeros((1, input_size, input_size, 3), np.uint8))
    return counter.get_total_flops() / 1e9


def measured_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def nominal_peak() -> dict:
    """Zen 4 nominal peak at the reported clock (None elsewhere: then only the measured peak stands)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    mhz = [float(line.split(":")[1]) for line in info.splitlines() if line.startswith("cpu MHz")]
    if "avx512_bf16" not in info or "AuthenticAMD" not in info or not mhz:
        return {}
    cores = torch.get_num_threads()
    ghz = max(mhz) / 1000
    return {"clock_ghz": round(ghz, 2), "fp32": round(cores * ghz * 32, 1), "bf16": round(cores * ghz * 64, 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=Path, required=True, help="folder of OK images (the first --n-fit are taught)")
    p.add_argument("--n-fit", type=int, default=10)
    p.add_argument("--n", type=int, default=20, help="images timed per precision")
    p.add_argument("--backbone", default="dinov2_vits14")
    p.add_argument("--weights", default="none")
    p.add_argument("--input-size", type=int, default=448)
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args()

    files = expand_image_paths([args.images])
    fit_files, test_files = files[: args.n_fit], (files[args.n_fit:] or files)[: args.n]
    base = EngineConfig.load(None).replace(backbone=args.backbone, weights=args.weights, input_size=args.input_size,
                                           use_gpu=True)
    precisions = args.precisions.split(",")
    models = {}
    with tempfile.TemporaryDirectory() as folder:
        Engine(base.replace(precision="fp32")).fit(folder, fit_files)
        for prec in precisions:
            models[prec] = Engine(base.replace(precision=prec)).load(folder)
        for m in models.values():
            time_stages(m, test_files[0], 1e9)  # warm-up: lazy initialisation, compilation
        times = {prec: {s: [] for s in STAGES} for prec in precisions}
        for i, f in enumerate(test_files):
            order = precisions if i % 2 == 0 else precisions[::-1]
            for prec in order:
                for s, v in time_stages(models[prec], f, 1e9).items():
                    times[prec][s].append(v)
        gflop = backbone_gflop(models[precisions[0]].backbone, args.input_size)
    peaks = {"fp32": measured_peak(torch.float32), "bf16": measured_peak(torch.bfloat16)}
    figures = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load_average": [round(v, 1) for v in __import__("os").getloadavg()],
        "backbone": args.backbone, "weights": args.weights, "input_size": args.input_size,
        "device": str(models[precisions[0]].backbone.device), "n_images": len(test_files),
        "backbone_gflop_per_image": round(gflop, 2),
        "measured_peak_gflops": {k: round(v, 1) for k, v in peaks.items()},
        "nominal_peak_gflops": nominal_peak(),
        "stages_ms_median": {}, "total_ms_median": {}, "total_ms_p95": {}, "backbone_gflops": {},
    }
    for prec in precisions:
        med = {s: statistics.median(v) for s, v in times[prec].items()}
        totals = [sum(times[prec][s][i] for s in STAGES) for i in range(len(test_files))]
        figures["stages_ms_median"][prec] = {s: round(v, 2) for s, v in med.items()}
        figures["total_ms_median"][prec] = round(statistics.median(totals), 1)
        figures["total_ms_p95"][prec] = round(float(np.percentile(totals, 95)), 1)
        figures["backbone_gflops"][prec] = round(gflop / (med["backbone"] / 1000), 1)
        figures.setdefault("dtype", {})[prec] = str(models[prec].backbone.dtype).replace("torch.", "")
    text = json.dumps(figures, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
