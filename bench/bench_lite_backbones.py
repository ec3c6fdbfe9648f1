"""Backbone time per image of the built-in EfficientNet-Lite0/1/2 (stages 2-3, 224 px, batch 1, fp32 torch),
interleaved round by round so that load from other jobs hits each alike. Prints the median ms per image.

    python bench/bench_lite_backbones.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference import Engine, EngineConfig  # noqa: E402

NAMES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--size", type=int, default=224)
    args = ap.parse_args()
    backbones = {}
    for name in NAMES:
        cfg = EngineConfig(backbone=name, input_size=args.size, runtime="torch", precision="fp32", use_gpu=False,
                           patch_zero_pad=True)
        backbones[name] = Engine(cfg).backbone(cfg)
    image = np.random.default_rng(0).integers(0, 255, (1, args.size, args.size, 3), dtype=np.uint8)
    times = {n: [] for n in NAMES}
    for n, b in backbones.items():
        b.embed(image)  # warm-up
    for _ in range(args.rounds):
        for n, b in backbones.items():
            t = time.perf_counter()
            b.embed(image)
            times[n].append(time.perf_counter() - t)
    for n in NAMES:
        b = backbones[n]
        print(f"{n}: {np.median(times[n]) * 1e3:.1f} ms median backbone time per image "
              f"(features {b.feature_dim} x {b.token_shape[0]} x {b.token_shape[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
