"""The IVF search: faiss's list scan against its Panorama twin (inference/ivf_panorama.py), on real patch features.

    python bench/bench_ivf_panorama.py ../shared/data --sets mvtec_bottle mvtec_screw --shots 16 [--levels 2,4,8]
        [--config config.yaml]   # the product's defaults instead of the eval's setting (no few-shot copies)

Per set, one model is fitted with the eval's setting and few-shot policy (inspector_eval.ours) on the first
--shots images of SET/train/good, and every image of SET/test is inspected once, keeping the patch features that
reach the search. Then, in one process, each image's search is timed (median ms per image, 5 rounds) with faiss's
IndexIVFFlat.search and with the twin at each --levels, and the results are compared: how many nearest rows and
distances (k = 1 and 3) differ from the IVF scan's. Last, the whole inspection (the eval's `score`, decoded
images) is timed with the twin and without it, alternated image by image over 3 rounds. Sets whose bank is small
enough for the exact flat index (`index: auto`) have no IVF and are skipped. The twin is timed whatever the bank's
dimensions (the product uses it from ivf_panorama.MIN_DIMENSIONS on). Prints figures; passes or fails nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference import ivf_panorama, knn, load_image  # noqa: E402
from inspector_eval.ours import OursMethod, eval_config  # noqa: E402


def searched_features(root: Path, name: str, shots: int, config: Optional[Path] = None):
    """(the fitted method, the test images, the searcher, the patch features of each test image as the search
    received them). The caller closes the method."""
    captured = []
    search = knn.Searcher.search

    def keep(self, queries, k=1):
        captured.append((self, np.ascontiguousarray(queries, dtype=np.float32)))
        return search(self, queries, k)

    method = OursMethod("ours", eval_config(config), few_shot_augment=config is None)
    try:
        method.fit([load_image(p) for p in sorted((root / name / "train" / "good").iterdir())[:shots]])
        images = [load_image(p) for p in sorted((root / name / "test").glob("*/*"))]
        knn.Searcher.search = keep
        for image in images:
            method.score(image)
    except BaseException:
        method.close()  # its project folder (about 150 MB) goes with it
        raise
    finally:
        knn.Searcher.search = search
    return method, images, captured[-1][0], [queries for _, queries in captured]


def inspection_ms(method, images, searcher, rounds=3) -> tuple[float, float]:
    """Median ms of a whole inspection without and with the twin, alternated image by image."""
    twin, times = searcher._panorama, ([], [])
    for _ in range(rounds):
        for image in images:
            for number, use in enumerate((None, twin)):
                searcher._panorama = use
                t = time.perf_counter()
                method.score(image)
                times[number].append(time.perf_counter() - t)
    searcher._panorama = twin
    return 1e3 * statistics.median(times[0]), 1e3 * statistics.median(times[1])


def median_ms(search, queries, rounds=5) -> float:
    times = []
    for _ in range(rounds):
        for q in queries:
            t = time.perf_counter()
            search(q)
            times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--sets", nargs="+", default=["mvtec_bottle", "mpdd_metal_plate", "mvtec_screw"])
    ap.add_argument("--shots", type=int, default=16)
    ap.add_argument("--levels", default=str(ivf_panorama.LEVELS))
    ap.add_argument("--config", type=Path, help="a YAML over the eval's setting, e.g. config.yaml")
    args = ap.parse_args()
    default_levels = ivf_panorama.LEVELS
    for name in args.sets:
        method, images, searcher, queries = searched_features(args.root, name, args.shots, args.config)
        ivf, transform = knn._flat_and_transform(searcher.cpu_index)
        if searcher._panorama is None and knn.index_kind(searcher.cpu_index) == "ivf":  # below MIN_DIMENSIONS
            searcher._panorama = ivf_panorama.PanoramaTwin(ivf, transform)
        if knn.index_kind(searcher.cpu_index) != "ivf":
            print(f"{name} {args.shots}: {searcher.ntotal} vectors, flat index: no IVF to compare")
            method.close()
            continue
        queries = [knn.apply_transform(transform, q) for q in queries]
        scan_ms = median_ms(lambda q: ivf.search(q, 1), queries)
        line = (f"{name} {args.shots} OK images: {ivf.ntotal} vectors x {ivf.d}, {ivf.nprobe} of {ivf.nlist} lists, "
                f"{len(queries)} images x {len(queries[0])} patches; IVF scan {scan_ms:.2f} ms")
        for levels in (int(v) for v in args.levels.split(",")):
            ivf_panorama.LEVELS = levels
            t = time.perf_counter()
            twin = ivf_panorama.PanoramaTwin(ivf)
            built = 1e3 * (time.perf_counter() - t)
            differ = [0, 0, 0]
            for q in queries:
                for k in (1, 3):
                    d2, ids = twin.search(q, k)
                    want_d2, want_ids = ivf.search(q, k)
                    differ[0] += int((ids != want_ids).sum())
                    differ[1] += int((d2 != want_d2).sum())
                    differ[2] += ids.size
            line += (f" | {levels} levels: {median_ms(lambda q: twin.search(q, 1), queries):.2f} ms (built in "
                     f"{built:.0f} ms), rows / distances unlike the scan's: {differ[0]} / {differ[1]} of {differ[2]}")
        ivf_panorama.LEVELS = default_levels
        without, with_twin = inspection_ms(method, images, searcher)
        method.close()
        print(line + f" | inspection: {without:.2f} ms with the IVF scan, {with_twin:.2f} ms with the twin", flush=True)
    print(f"load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
