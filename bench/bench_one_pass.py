"""What one pass through the data saves: the work the GUI no longer does after a fit and per inspected image.

Prints figures; never passes or fails on them. Example:
    nice -n 19 python bench/bench_one_pass.py --images ../shared/data/mvtec_bottle --n-fit 16
  1. fit -> the model: Engine.fit now returns it (FitResult.model); before, a second job ran
     Engine.load(project) (manifest, coreset read and hashed, index deserialised, calibration read).
     Timed: that load, median of --repeat, against building nothing.
  2. inspect one image: the image was decoded on the GUI thread and again in the worker; now once.
     Timed: one decode (inference.load_image) of a test image, median of --repeat.
  3. regions: find_regions now keeps each region's outline (one contour pass) so the view need not
     threshold the map again. Timed: find_regions on the image's real anomaly map, with and without
     that pass, median of --repeat.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference import Engine, EngineConfig, expand_image_paths, load_image  # noqa: E402
from inference import scoring  # noqa: E402


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=Path, required=True, help="an MVTec-layout category folder")
    ap.add_argument("--n-fit", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--input-size", type=int, default=224)
    args = ap.parse_args()
    train = expand_image_paths([str(args.images / "train" / "good")])[: args.n_fit]
    defects = sorted(d for d in (args.images / "test").iterdir() if d.is_dir() and d.name != "good")
    test = expand_image_paths([str(defects[0])])[:1]
    config = EngineConfig(backbone="efficientnet_lite0", weights="auto", input_size=args.input_size,
                          use_gpu=False, batch_size=8)
    engine = Engine(config)
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        result = engine.fit(Path(tmp) / "p", train, roi=None)
        fit_s = time.perf_counter() - t
        load_ms = median_ms(lambda: engine.load(Path(tmp) / "p"), args.repeat)
        print(f"fit: {len(train)} images of {args.images.name}, {result.coreset_size} of {result.n_embeddings} "
              f"patches, {fit_s:.1f} s")
        print(f"  the load a second job ran after each fit (now not run): {load_ms:.1f} ms median")

        decode_ms = median_ms(lambda: load_image(test[0]), args.repeat)
        h, w = load_image(test[0]).shape[:2]
        print(f"inspect: one decode of {Path(test[0]).name} ({w} x {h}), saved per inspected image: "
              f"{decode_ms:.1f} ms median")
        # A line camera's frame: the same image at 2448 x 2048 (5 MP), as PNG.
        import cv2

        big = Path(tmp) / "5mp.png"
        cv2.imwrite(str(big), cv2.resize(load_image(test[0]), (2448, 2048), interpolation=cv2.INTER_CUBIC)[..., ::-1])
        print(f"  the same at 2448 x 2048 PNG: {median_ms(lambda: load_image(big), args.repeat):.1f} ms median")

        r = engine.infer(result.model, test[0])
        thr = float(np.percentile(r.anomaly_map[r.mask], 99))
        with_outlines = median_ms(lambda: scoring.find_regions(r.anomaly_map, r.mask, thr, r.box, None), args.repeat)
        original = scoring._outlines
        scoring._outlines = lambda *a: {}
        try:
            without = median_ms(lambda: scoring.find_regions(r.anomaly_map, r.mask, thr, r.box, None), args.repeat)
        finally:
            scoring._outlines = original
        n = len(scoring.find_regions(r.anomaly_map, r.mask, thr, r.box, None))
        print(f"regions: find_regions on the {r.anomaly_map.shape[1]} x {r.anomaly_map.shape[0]} map at its p99 "
              f"({n} regions): {without:.2f} ms without outlines, {with_outlines:.2f} ms with")


if __name__ == "__main__":
    main()
