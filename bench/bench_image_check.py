"""The image check's margins (inference/image_check.py): how far real captures of the six dev sets move from the
taught images' levels, against the limits, and whether the camera faults made of them fail.

Prints figures; never passes or fails on them (tests/test_image_check.py asserts that no capture fails). The
reference is the first 16 taught images' (`train/good`, sorted), over the whole image, as a fit without a ROI
takes it; the captures are every test image (good and defective) and every other taught image. Faults made of the
first test image: the light off (x0.15 plus sensor noise), exposure up 1, 1.5 and 2 stops (x2, x3, x4, clipped),
a dead frame of one grey.
    python bench/bench_image_check.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference.image_check import (  # noqa: E402
    BRIGHT_HEADROOM, CLIPPED_EXTRA, DARK_RATIO, FLAT_RATIO, levels, problem, reference,
)

SETS = ("mvtec_bottle", "visa_fryum", "l4v_cookie", "ksdd", "mpdd_metal_plate", "mvtec_screw")


def rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def faults(image: np.ndarray) -> dict:
    noise = np.random.default_rng(3).normal(0, 1.2, image.shape)
    frames = {"light off": np.clip(image * 0.15 + noise, 0, 255)}
    frames.update({f"x{gain}": np.clip(image.astype(np.float32) * gain, 0, 255) for gain in (2, 3, 4)})
    frames["grey frame"] = np.clip(128 + noise, 0, 255)
    return {name: frame.astype(np.uint8) for name, frame in frames.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = ap.parse_args()
    print(f"limits: dark < {DARK_RATIO} x taught median; bright >= {BRIGHT_HEADROOM} of the way to white or "
          f"clipped >= taught + {CLIPPED_EXTRA}; flat: spread < {FLAT_RATIO} x taught")
    print("| set | captures | median / taught | way to white, max | spread / taught, min | clipped - taught, max "
          "| failed | " + " | ".join(faults(np.zeros((2, 2, 3), np.uint8))) + " |")
    print("|" + " --- |" * 12)
    for name in SETS:
        folder = args.data / name
        if not folder.is_dir():
            print(f"| {name} | absent |")
            continue
        train = sorted((folder / "train" / "good").iterdir())
        ref = reference([levels(rgb(p)) for p in train[:16]])
        captures = sorted((folder / "test").glob("*/*")) + train[16:]
        found = np.array([levels(rgb(p)) for p in captures])
        failed = sum(problem(tuple(lv), ref) is not None for lv in found)
        way = (found[:, 0] - ref["median"]) / (255 - ref["median"])
        frames = faults(rgb(captures[0])).values()
        caught = [getattr(problem(levels(frame), ref), "check", "passed") for frame in frames]
        print(f"| {name} | {len(captures)} | {found[:, 0].min() / ref['median']:.2f}-"
              f"{found[:, 0].max() / ref['median']:.2f} | {way.max():.2f} | {found[:, 1].min() / ref['spread']:.2f} | "
              f"{found[:, 2].max() - ref['clipped']:+.3f} | {failed} | " + " | ".join(caught) + " |")


if __name__ == "__main__":
    main()
