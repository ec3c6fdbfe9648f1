"""The anomaly map's cost by ROI box size, smoothed at the box (`smoothing_at: box`) and at the input size (`input`).

    python bench/bench_map.py [--input-size 224] [--grid 28] [--sigma 4] [--n 20]
    python bench/bench_map.py --engine ../shared/data/mvtec_bottle/train/good [--size 2448x2048]
    python bench/bench_map.py --surround 48 [--input-size 224]

--engine FOLDER: Engine.infer end to end instead (EfficientNet-Lite0 at --input-size, its built-in weights, the
product's other defaults): four images of FOLDER scaled to --size (a line camera's frame) are taught, once per
smoothing place, and the next --n are inspected by both models alternately, as decoded arrays (no JPEG decode).

--surround S: the cost of the map shown (`surround_sigma: S`: scoring.anomaly_map, the score, scoring.shown_map)
against the smoothed map alone, both smoothed at the input size, timed alternately.

For each box size: the median ms of `inference.scoring.anomaly_map` in each place, their ratio (one process, the
two timed alternately, so the machine's load weighs on both alike), and how far apart the two maps are (largest
difference over the box peak, and the two peaks). The score grid is a real one's shape: gamma noise with a
defect two cells wide. Prints figures and the load; passes or fails nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference.scoring import anomaly_map  # noqa: E402

BOXES = [(224, 224), (900, 900), (1000, 1500), (2048, 2448)]  # the input; MVTec; VisA; a 5 MP line camera


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input-size", type=int, default=224)
    ap.add_argument("--grid", type=int, default=28)
    ap.add_argument("--sigma", type=float, default=4.0)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--engine", type=Path, help="time Engine.infer on this folder's images instead")
    ap.add_argument("--size", default="2448x2048", help="--engine: the frame size, WIDTHxHEIGHT")
    ap.add_argument("--surround", type=float, default=0.0, help="time the map shown with this surround_sigma")
    a = ap.parse_args()
    if a.engine:
        return engine_infer(a)
    if a.surround:
        return surround_cost(a)
    rng = np.random.default_rng(0)
    grid = rng.gamma(2.0, 1.0, (a.grid, a.grid)).astype(np.float32)
    grid[a.grid // 3:a.grid // 3 + 2, a.grid // 5:a.grid // 5 + 2] += 8.0
    print(f"load before: {os.getloadavg()[0]:.2f}; input {a.input_size} px, grid {a.grid} x {a.grid}, "
          f"sigma {a.sigma}, {a.n} runs each")
    print("| box (h x w) | box ms | input ms | ratio | max diff / peak | peak box / input |")
    print("|---|---|---|---|---|---|")
    for h, w in BOXES:
        times = {"box": [], "input": []}
        for _ in range(a.n):
            for at in times:
                t = time.perf_counter()
                anomaly_map(grid, h, w, a.input_size, a.sigma, at=at)
                times[at].append(time.perf_counter() - t)
        box = anomaly_map(grid, h, w, a.input_size, a.sigma, at="box").smoothed
        fast = anomaly_map(grid, h, w, a.input_size, a.sigma, at="input").smoothed
        tb, ti = (statistics.median(times[k]) * 1e3 for k in ("box", "input"))
        print(f"| {h} x {w} | {tb:.2f} | {ti:.2f} | {ti / tb:.3f} | {np.abs(fast - box).max() / box.max():.4f} | "
              f"{box.max():.3f} / {fast.max():.3f} |")
    print(f"load after: {os.getloadavg()[0]:.2f}")
    return 0


def surround_cost(a: argparse.Namespace) -> int:
    from inference.scoring import global_score, shown_map

    rng = np.random.default_rng(0)
    grid = rng.gamma(2.0, 1.0, (a.grid, a.grid)).astype(np.float32)
    print(f"load before: {os.getloadavg()[0]:.2f}; input {a.input_size} px, surround {a.surround} px, {a.n} runs each")
    print("| box (h x w) | smoothed ms | smoothed + shown ms | added ms |")
    print("|---|---|---|---|")
    for h, w in BOXES:
        mask = np.ones((h, w), bool)
        times = {0.0: [], a.surround: []}
        for _ in range(a.n):
            for s in times:
                t = time.perf_counter()
                maps = anomaly_map(grid, h, w, a.input_size, a.sigma, "input", s)
                global_score(maps.smoothed, mask, grid, grid > 0, "max")
                shown_map(maps, mask)
                times[s].append(time.perf_counter() - t)
        plain, both = (statistics.median(times[k]) * 1e3 for k in times)
        print(f"| {h} x {w} | {plain:.2f} | {both:.2f} | {both - plain:.2f} |")
    print(f"load after: {os.getloadavg()[0]:.2f}")
    return 0


def engine_infer(a: argparse.Namespace) -> int:
    import tempfile

    import cv2

    from inference import Engine, EngineConfig, images_in_folder, load_image

    w, h = (int(v) for v in a.size.lower().split("x"))
    frames = [cv2.resize(load_image(f), (w, h), interpolation=cv2.INTER_CUBIC)
              for f in images_in_folder(a.engine)[:4 + a.n]]
    taught, test = frames[:4], frames[4:]
    base = EngineConfig(backbone="efficientnet_lite0", weights="auto", input_size=a.input_size)
    models, times = {}, {}
    with tempfile.TemporaryDirectory() as d:
        for at in ("box", "input"):
            engine = Engine(base.replace(smoothing_at=at))
            engine.fit(Path(d) / at, taught)
            models[at] = (engine, engine.load(Path(d) / at))
            times[at] = []
            engine.infer(models[at][1], test[0])  # warm-up
        print(f"load before: {os.getloadavg()[0]:.2f}; Engine.infer, {w} x {h} frames, Lite0 at {a.input_size} px")
        scores = {"box": [], "input": []}
        for image in test:
            for at, (engine, model) in models.items():
                t = time.perf_counter()
                scores[at].append(engine.infer(model, image).score)
                times[at].append(time.perf_counter() - t)
    tb, ti = (statistics.median(times[k]) * 1e3 for k in ("box", "input"))
    change = np.median(np.abs(np.array(scores["input"]) / np.array(scores["box"]) - 1))
    print(f"median ms: box {tb:.1f}, input {ti:.1f} (ratio {ti / tb:.3f}); median score change {change:.2%}")
    print(f"load after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
