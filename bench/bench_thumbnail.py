"""What a history row's heatmap thumbnail costs (inference.heatmap_thumbnail_png), now that every client's rows carry
one (the service's had none): the product's thumbnail against the plain shrink it replaced for large maps (one
cv2.INTER_AREA resize to at most 128 px, whatever the factor), alternating, in one process, per map size.

    python bench/bench_thumbnail.py [--rounds 30]

Prints figures; never passes or fails on them (tests/test_scoring_calibration.py checks the thumbnail itself).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference import heatmap_thumbnail_png  # noqa: E402
from inference.heatmap import heatmap_rgba, heatmap_scale  # noqa: E402
from inference.scoring import InferenceResult  # noqa: E402


def plain_shrink(result: InferenceResult, max_px: int = 128) -> bytes:
    """The thumbnail as it was made before: one INTER_AREA resize by any factor."""
    h, w = result.anomaly_map.shape[:2]
    scale = min(1.0, max_px / max(h, w, 1))
    small = result
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = replace(result, anomaly_map=cv2.resize(result.anomaly_map, size, interpolation=cv2.INTER_AREA),
                        mask=cv2.resize(result.mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(heatmap_rgba(small, heatmap_scale(result)), cv2.COLOR_RGBA2BGRA))
    return buf.tobytes()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print("| map (h x w) | thumbnail | plain shrink (before) | product (now) | now / before |")
    print("|---|---|---|---|---|")
    for h, w in ((224, 261), (512, 204), (900, 900), (1200, 1600), (2048, 2448), (2400, 2437)):
        amap = rng.random((h, w), dtype=np.float32)
        result = InferenceResult("x", 1.0, amap, np.ones((h, w), bool), (0, 0, w, h), (32, 32), threshold=0.5)
        times = {"before": [], "now": []}
        for _ in range(args.rounds):
            for name, make in (("before", plain_shrink), ("now", heatmap_thumbnail_png)):
                t = time.perf_counter()
                png = make(result)
                times[name].append(time.perf_counter() - t)
        shape = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED).shape[:2]
        before, now = (1000 * statistics.median(times[k]) for k in ("before", "now"))
        print(f"| {h} x {w} | {shape[0]} x {shape[1]} | {before:.2f} ms | {now:.2f} ms | {now / before:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
