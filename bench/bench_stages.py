"""Per-stage inspection times per runtime and precision, Engine.infer end to end, GFLOP/s against the peak.

Prints figures; never passes or fails on them. Example:
    python bench/bench_stages.py --images ../shared/data/mvtec_bottle/train/good --backbone dinov2_vits14 \\
        --weights none --input-size 448 --n 20
    python bench/bench_stages.py --images ../shared/data/mvtec_bottle/train/good --backbone efficientnet_lite0 \\
        --weights auto --input-size 224 --n 40

One model is fitted (torch fp32) and loaded once per variant (runtime-precision: torch-fp32,
torch-bf16, openvino-fp32, openvino-bf16, openvino-int8), each in its own process, one after
the other: compare variants within one run and read the load average it reports (a shared
machine's load moves between processes). int8 is calibrated on the taught images. Stages, batch 1:
decode (JPEG file -> RGB array), preprocess (ROI crop, resize to the input size,
stack), backbone (normalise, network, patch aggregation: Backbone.embed), search
(faiss nearest coreset neighbour per patch), map (upsample + smooth to the ROI
box, mask), score (image score, regions, verdict). "total" is their sum, which
is what Engine.infer costs for an image file; "engine_infer" times Engine.infer itself (batch 1)
on the same images, alternating with the staged pass.

GFLOP/s: the backbone's FLOPs (torch.utils.flop_counter on the torch network, one image, attention
counted through torch's math backend; the same network for every runtime) divided by its median time. Peak: measured here as the best of a few large matrix products
(2048^3, all torch threads) in fp32 and bf16, and, for an AMD Zen 4 CPU, the
nominal figure (2 x 256-bit FMA pipes: 32 fp32 FLOP/cycle/core; VDPBF16PS doubles
that for bf16; AMD Software Optimization Guide for Family 19h) at the clock
/proc/cpuinfo reports.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
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
from inference.scoring import anomaly_map, find_regions, global_score, judge, shown_map  # noqa: E402

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
    maps = anomaly_map(patch_scores, box[3] - box[1], box[2] - box[0], cfg.input_size, cfg.smoothing_sigma,
                       cfg.smoothing_at, cfg.surround_sigma)
    m = maps.smoothed
    m[~mask] = 0.0
    out["map"] = time.perf_counter() - t
    t = time.perf_counter()
    score = global_score(m, mask, patch_scores, patch_mask(model.roi, box, (h, w)), cfg.score_mode)
    judge(score, find_regions(shown_map(maps, mask), mask, threshold, box, None), threshold, 0.0)
    out["score"] = time.perf_counter() - t
    return {k: v * 1000 for k, v in out.items()}


def backbone_gflop(backbone, input_size: int) -> float:
    """The backbone's FLOPs for one image, attention's two matrix products included.

    flop_counter has no formula for the fused attention torch runs on a CPU
    (aten._scaled_dot_product_flash_attention_for_cpu) and counted it as nothing: 44.0 of DINOv2 ViT-S/14's
    63.4 GFLOP at 448 px. Counted with the math backend, attention is two bmm calls it does count."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, sdpa_kernel(SDPBackend.MATH):
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


VARIANTS = ("torch-fp32", "torch-bf16", "openvino-fp32", "openvino-bf16", "openvino-int8")


def load_variant(folder: str, base: EngineConfig, variant: str, fit_files: list):
    """(engine, model) of the fitted project for one runtime-precision, e.g. openvino-int8."""
    from dataclasses import replace

    runtime, precision = variant.split("-")
    engine = Engine(base.replace(runtime=runtime, precision="bf16" if precision == "int8" else precision))
    model = engine.load(folder)
    if precision == "int8":  # calibrated on the taught OK images, as Backbone.quantized is meant to be
        crops = [p.crop.pixels for p in prepare([load_image(f) for f in fit_files], model.roi)[0]]
        model = replace(model, backbone=model.backbone.quantized(crops))
    return engine, model


def set_threads(threads: int) -> None:
    """torch and OpenVINO on the same number of threads (0: each one's default; a loaded machine: 1)."""
    if not threads:
        return
    import functools

    from inference import openvino_runtime

    torch.set_num_threads(threads)
    init = openvino_runtime.CompiledGrid.__init__
    openvino_runtime.CompiledGrid.__init__ = functools.partialmethod(init, threads=threads)


def child(args, base: EngineConfig) -> int:
    """One variant in this process: stage times and Engine.infer times per test image (ms), as JSON."""
    set_threads(args.threads)
    files = expand_image_paths([args.images])
    fit_files, test_files = files[: args.n_fit], (files[args.n_fit:] or files)[: args.n]
    engine, model = load_variant(str(args.project), base, args.child, fit_files)
    time_stages(model, test_files[0], 1e9)  # warm-up: lazy initialisation, compilation
    engine.infer(model, test_files[0])
    times = {s: [] for s in (*STAGES, "engine_infer")}
    for f in test_files:  # stages and Engine.infer alternate, so load from other jobs hits both alike
        for s, v in time_stages(model, f, 1e9).items():
            times[s].append(v)
        t = time.perf_counter()
        engine.infer(model, f)
        times["engine_infer"].append((time.perf_counter() - t) * 1000)
    print(json.dumps({"times": times, "device": str(model.backbone.device), "runtime": model.backbone.runtime,
                      "precision": model.backbone.precision_name}))
    return 0


def interleaved(args, base: EngineConfig, folder: str, fit_files: list, test_files: list, variants: list) -> dict:
    """Engine.infer per variant in this one process, the variants alternating image by image (the order turned
    every image): under a load that moves, the ratios between variants hold better than across processes."""
    pairs = {v: load_variant(folder, base, v, fit_files) for v in variants}
    for engine, model in pairs.values():
        engine.infer(model, test_files[0])
    times = {v: [] for v in variants}
    for i, f in enumerate(test_files):
        for v in variants if i % 2 == 0 else variants[::-1]:
            engine, model = pairs[v]
            t = time.perf_counter()
            engine.infer(model, f)
            times[v].append((time.perf_counter() - t) * 1000)
    return {v: round(statistics.median(t), 1) for v, t in times.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=Path, required=True, help="folder of OK images (the first --n-fit are taught)")
    p.add_argument("--n-fit", type=int, default=10)
    p.add_argument("--n", type=int, default=20, help="images timed per variant")
    p.add_argument("--backbone", default="dinov2_vits14")
    p.add_argument("--weights", default="none")
    p.add_argument("--input-size", type=int, default=448)
    p.add_argument("--cnn-layers", default="2,3", help="CNN backbones: the feature stages (timm out_indices)")
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"runtime-precision list, of {VARIANTS}")
    p.add_argument("--json", type=Path, help="also write the figures here")
    p.add_argument("--threads", type=int, default=0, help="threads for torch and OpenVINO alike (0: their defaults)")
    p.add_argument("--interleave", action="store_true",
                   help="instead: time Engine.infer with every variant in this one process, alternating image by image")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--project", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()

    base = EngineConfig.load(None).replace(backbone=args.backbone, weights=args.weights, input_size=args.input_size,
                                           cnn_layers=tuple(int(i) for i in args.cnn_layers.split(",")),
                                           use_gpu=True, batch_size=1)
    if args.child:
        return child(args, base)
    files = expand_image_paths([args.images])
    fit_files, test_files = files[: args.n_fit], (files[args.n_fit:] or files)[: args.n]
    variants = args.variants.split(",")
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        fit_engine = Engine(base.replace(runtime="torch", precision="fp32"))
        fit_engine.fit(folder, fit_files)
        gflop = backbone_gflop(fit_engine.load(folder).backbone, args.input_size)
        for variant in [] if args.interleave else variants:  # each in its own process: no shared thread pools
            cmd = [sys.executable, __file__, "--child", variant, "--project", folder, "--images", str(args.images),
                   "--n-fit", str(args.n_fit), "--n", str(args.n), "--backbone", args.backbone,
                   "--weights", args.weights, "--input-size", str(args.input_size), "--cnn-layers", args.cnn_layers, "--threads", str(args.threads)]
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode:
                print(f"{variant} failed: {run.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
                continue
            results[variant] = json.loads(run.stdout.strip().splitlines()[-1])
        if args.interleave:
            set_threads(args.threads)
        mixed = interleaved(args, base, folder, fit_files, test_files, variants) if args.interleave else None
    peaks = {"fp32": measured_peak(torch.float32), "bf16": measured_peak(torch.bfloat16)}
    figures = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load_average": [round(v, 1) for v in os.getloadavg()],
        "backbone": args.backbone, "weights": args.weights, "input_size": args.input_size,
        "cnn_layers": args.cnn_layers, "n_images": len(test_files), "threads": args.threads or "default", "backbone_gflop_per_image": round(gflop, 2),
        "measured_peak_gflops": {k: round(v, 1) for k, v in peaks.items()},
        "nominal_peak_gflops": nominal_peak(),
        "stages_ms_median": {}, "total_ms_median": {}, "total_ms_p95": {}, "engine_infer_ms_median": {},
        "backbone_gflops": {},
    }
    if mixed:
        figures["engine_infer_ms_median_interleaved"] = mixed
    for variant, res in results.items():
        times = res["times"]
        med = {s: statistics.median(v) for s, v in times.items()}
        totals = [sum(times[s][i] for s in STAGES) for i in range(len(test_files))]
        figures["stages_ms_median"][variant] = {s: round(med[s], 2) for s in STAGES}
        figures["total_ms_median"][variant] = round(statistics.median(totals), 1)
        figures["total_ms_p95"][variant] = round(float(np.percentile(totals, 95)), 1)
        figures["engine_infer_ms_median"][variant] = round(med["engine_infer"], 1)
        figures["backbone_gflops"][variant] = round(gflop / (med["backbone"] / 1000), 1)
    text = json.dumps(figures, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
