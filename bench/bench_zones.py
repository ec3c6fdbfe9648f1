"""What inspection zones cost (inference/zones.py): an inspection's time with and without zones on a real model,
and the zone labels alone on a megapixel box.

Prints figures; never passes or fails on them (tests/test_zones.py checks the rule). The model: EfficientNet-Lite0
(the built-in pretrained weights) at 224 px on 16 `train/good` images of visa_fryum, calibrated on 10 more and 10
defects with a minimum area of 200 px; the same calibration with four zones (a rect turned 20 deg, a polygon, a
circle, an annulus, limits 0-400 px) over the part. Each defect image is inspected with both, alternating, 5 rounds;
the medians are per image. The labels alone: the same four zones scaled to a 1024 x 1024 box, unmoved and moved
(turned 5.7 deg), the whole box (calibration's bisection) and a 60 x 90 px region (what an inspection asks for).
    python bench/bench_zones.py [--data ../shared/data]
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

from inference import Engine, EngineConfig, load_image, zones_from_list, zones_to_list  # noqa: E402
from inference.zones import zone_map  # noqa: E402


def zones_for(w: float, h: float) -> tuple:
    return zones_from_list([
        {"name": "turned", "min_area": 0, "shape": {"type": "rect", "cx": 0.5 * w, "cy": 0.5 * h, "w": 0.3 * w,
                                                      "h": 0.2 * h, "angle_deg": 20}},
        {"name": "poly", "min_area": 100, "shape": {"type": "polygon", "points": [
            [0.1 * w, 0.1 * h], [0.6 * w, 0.12 * h], [0.4 * w, 0.7 * h], [0.09 * w, 0.5 * h]]}},
        {"name": "disc", "min_area": 400, "shape": {"type": "circle", "cx": 0.7 * w, "cy": 0.7 * h, "r": 0.15 * w}},
        {"name": "ring", "min_area": 50, "shape": {"type": "annulus", "cx": 0.3 * w, "cy": 0.3 * h,
                                                    "r_inner": 0.05 * w, "r_outer": 0.12 * w}},
    ])


def labels_alone() -> None:
    n = 1024
    zones = zones_for(n, n)
    selected = np.zeros((n, n), bool)
    selected[480:540, 470:560] = True
    turn = np.array([[0.995, -0.0998, 5.0], [0.0998, 0.995, 3.0]])
    print("\nzone labels alone, 4 zones over a 1024 x 1024 box (median of 10):")
    for name, placement in (("unmoved", None), ("moved", turn)):
        whole, region = [], []
        for _ in range(10):
            t = time.perf_counter()
            zone_map(zones, 1.0, (0, 0, n, n), (n, n), None, placement).labels
            whole.append(time.perf_counter() - t)
            t = time.perf_counter()
            zone_map(zones, 1.0, (0, 0, n, n), (n, n), None, placement).labels_where(selected)
            region.append(time.perf_counter() - t)
        print(f"  {name:8s} whole box {1000 * statistics.median(whole):6.1f} ms   "
              f"a 60 x 90 px region {1000 * statistics.median(region):5.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    root = args.data / "visa_fryum"
    good = sorted((root / "train" / "good").glob("*"))
    bad = sorted((root / "test" / "anomaly").glob("*"))
    if len(good) < 26 or len(bad) < 30:
        sys.exit(f"visa_fryum not found under {args.data}")
    engine = Engine(EngineConfig(backbone="efficientnet_lite0", weights="auto", input_size=224, runtime="torch"))
    with tempfile.TemporaryDirectory() as tmp:
        model = engine.fit(Path(tmp) / "p", [load_image(p) for p in good[:16]]).model
        samples = engine.calibration_samples(model, [load_image(p) for p in good[16:26]],
                                             [load_image(p) for p in bad[:10]])
        h, w = load_image(good[0]).shape[:2]
        zones = zones_for(w, h)
        plain = engine.calibration_from(model, samples, min_area=200)
        zoned = engine.calibration_from(model, samples, min_area=200, zones=zones)
        images = [load_image(p) for p in bad[10:30]]
        times = {"no zones": [], "4 zones": []}
        verdicts = {}
        for _ in range(5):
            for name, cal in (("no zones", plain), ("4 zones", zoned)):
                judged = model.with_calibration(cal)
                for i, image in enumerate(images):
                    t = time.perf_counter()
                    r = engine.infer(judged, image)
                    times[name].append(time.perf_counter() - t)
                    verdicts[(name, i)] = r.verdict
        print(f"visa_fryum, EfficientNet-Lite0 224, {w} x {h} px images, 20 defect images x 5 rounds, "
              f"{len(zones_to_list(zones))} zones")
        base = statistics.median(times["no zones"])
        for (name, values), cal in zip(times.items(), (plain, zoned)):
            ng = sum(verdicts[(name, i)] == "NG" for i in range(len(images)))
            print(f"  {name:9s} median {1000 * statistics.median(values):6.1f} ms per image "
                  f"({statistics.median(values) / base:.2f}x), NG {ng} of {len(images)}, calibration FAR {cal.far:.2f}")
    labels_alone()


if __name__ == "__main__":
    main()
