"""Engine speed: fit (embedding, coreset), inference latency and peak memory for one config.

Prints figures; never passes or fails on them. Example:
    python bench/bench_engine.py --images ../shared/data/mvtec_bottle/train/good --n-fit 20 --n-infer 30
    python bench/bench_engine.py --backbone efficientnet_lite0 --weights auto --input-size 224
Without --images it uses generated discs. DINOv2 without weights on this machine
runs with --weights none: the same arithmetic, so the timings are representative.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from inference import Circle, Engine, EngineConfig, expand_image_paths  # noqa: E402


def peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS
    scale = 1 / 1024 if sys.platform != "darwin" else 1 / 1024 / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {torch.get_num_threads()} torch threads, {gpu}, torch {torch.__version__}"


def images(folder: Optional[Path], n_fit: int, n_infer: int) -> tuple[list, list, Optional[Circle]]:
    """(fit images, images to inspect, ROI): the folder's files, or generated 512 px discs and a circle ROI."""
    if folder:
        files = expand_image_paths([folder])
        return files[:n_fit], (files[n_fit:] or files)[:n_infer], None
    from inference.synthetic import disc

    fit_imgs = [disc(i, size=512)[0] for i in range(n_fit)]
    infer_imgs = [disc(1000 + i, scratch=i % 2 == 1, size=512)[0] for i in range(n_infer)]
    return fit_imgs, infer_imgs, Circle(256, 256, 230)


def measure(config: EngineConfig, fit_imgs: list, infer_imgs: list, roi=None, throughput_images: int = 0,
            warm_fit: bool = False) -> dict:
    """Fit, load and inspect one image at a time (batch 1, after one warm-up); with `throughput_images`, also
    that many ROIs through Engine.score_many at the config's batch size (ROI/s). `warm_fit`: fit once untimed
    first (CUDA graphs are compiled per input shape on a GPU: the timed fit then shows the steady state)."""
    engine = Engine(config)
    t = time.perf_counter()
    engine.backbone(config)
    load_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as folder:
        if warm_fit:
            engine.fit(Path(folder) / "warm-up", fit_imgs, roi=roi)
        fit = engine.fit(Path(folder) / "timed", fit_imgs, roi=roi)
        model = engine.load(Path(folder) / "timed")
        engine.infer(model, infer_imgs[0])  # warm-up: first call pays lazy initialisation
        lat = []
        for img in infer_imgs:
            t = time.perf_counter()
            engine.infer(model, img)
            lat.append((time.perf_counter() - t) * 1000)
        per_second = None
        if throughput_images:
            batch = (infer_imgs * (throughput_images // len(infer_imgs) + 1))[:throughput_images]
            engine.score_many(model, batch[: config.batch_size])  # warm-up at the batch size
            t = time.perf_counter()
            engine.score_many(model, batch)
            per_second = throughput_images / (time.perf_counter() - t)
    figures = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": machine(),
        "device": str(model.backbone.device),
        "gpu_search": model.searcher.gpu_search or "cpu",  # faiss (its GPU build), torch, or the CPU
        "backbone": config.backbone,
        "weights": fit.record.backbone.weights["source"],
        "input_size": config.input_size,
        "token_shape": list(fit.record.token_shape),
        "coreset_ratio": config.coreset_ratio,
        "n_fit_images": fit.n_images,
        "n_embeddings": fit.n_embeddings,
        "coreset_size": fit.coreset_size,
        "backbone_load_s": round(load_s, 2),
        "fit_total_s": round(fit.seconds, 2),
        "fit_embedding_s": round(fit.timings["embedding"], 2),
        "fit_coreset_s": round(fit.timings["coreset"], 2),
        "infer_ms_median": round(statistics.median(lat), 1),
        "infer_ms_p95": round(float(np.percentile(lat, 95)), 1),
        "n_infer": len(lat),
        "peak_rss_mb": round(peak_rss_mb()),
    }
    if per_second is not None:
        figures.update(throughput_roi_per_s=round(per_second, 1), throughput_batch=config.batch_size,
                       throughput_images=throughput_images)
    return figures


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=Path, help="folder of OK images (default: generated discs)")
    p.add_argument("--n-fit", type=int, default=20)
    p.add_argument("--n-infer", type=int, default=30)
    p.add_argument("--backbone", default="dinov2_vits14")
    p.add_argument("--weights", default="none")
    p.add_argument("--input-size", type=int, default=448)
    p.add_argument("--coreset-ratio", type=float, default=0.02)
    p.add_argument("--json", action="store_true", help="print one JSON line instead of text")
    args = p.parse_args()

    config = EngineConfig.load(None).replace(backbone=args.backbone, weights=args.weights,
                                             input_size=args.input_size, coreset_ratio=args.coreset_ratio)
    fit_imgs, infer_imgs, roi = images(args.images, args.n_fit, args.n_infer)
    figures = measure(config, fit_imgs, infer_imgs, roi)
    if args.json:
        print(json.dumps(figures))
    else:
        for k, v in figures.items():
            print(f"{k:18} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
