"""How large a chiral mark on a symmetric part must be before inference.part_mirror tells the part is chiral.

Paints the same "F" on the first N OK images of a set (the eval's order), at the view's centre, at several sizes
(fractions of the image width), and prints each size's mirror evidence. Prints; measures nothing else.
    python bench/mirror_mark.py ../shared/data/mvtec_bottle [--shots 4] [--sizes 0.15,0.3,0.5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference import taught_mirror  # noqa: E402
from inspector_eval.dataset import load_images, make_split, read_category  # noqa: E402


def painted_f(image: np.ndarray, size: float) -> np.ndarray:
    """`image` with a white "F" `size` x its width tall at its centre."""
    out = image.copy()
    h, w = out.shape[:2]
    s = int(size * w)
    x0, y0, bar = w // 2 - s // 3, h // 2 - s // 2, max(4, s // 6)
    for x1, y1, x2, y2 in ((x0, y0, x0 + bar, y0 + s), (x0, y0, x0 + 2 * s // 3, y0 + bar),
                           (x0, y0 + s // 2 - bar // 2, x0 + s // 2, y0 + s // 2 + bar // 2)):
        cv2.rectangle(out, (x1, y1), (x2, y2), (250, 250, 250), -1)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("category", type=Path)
    p.add_argument("--shots", default="4")
    p.add_argument("--sizes", default="0.15,0.3,0.5")
    args = p.parse_args()
    images = load_images(make_split(read_category(args.category), [args.shots]).shots[args.shots])
    print(f"{args.category.name}, {len(images)} OK images: {taught_mirror(images).describe()}")
    for size in (float(v) for v in args.sizes.split(",")):
        evidence = taught_mirror([painted_f(im, size) for im in images])
        print(f"an F {size} x the width: {evidence.describe()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
