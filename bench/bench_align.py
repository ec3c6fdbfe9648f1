"""What part location costs per image, and how well each method places parts.

    python bench/bench_align.py [--repeats 3] [--data ../shared/data]

Generated 512 x 512 px views of an asymmetric textured part, shifted up to 20% of
the ROI and turned any angle: time of inference.align.locate per image (median
and 90th percentile over all views and repeats) and placement error, for the
whole method (features first, correlation when needed) and for the correlation
search alone (the fallback for plain parts). With --data, the same on real
images turned and shifted by a known amount (mvtec_screw, mpdd_metal_plate).
Timing on a shared CPU: wall time grows with the machine's load; the CPU time
(process time, OpenCV on one thread) is what location itself costs.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import cv2
import numpy as np

from inference import Rect
from inference import align
from inference.align import Reference, default_locate_box, locate
from inference.synthetic import moved_part

SIZE = 512
ROI = Rect(SIZE / 2, SIZE / 2, 236, 166)


def poses(n: int, seed: int = 0) -> list[tuple[float, float, float]]:
    rng = np.random.default_rng(seed)
    return [(float(rng.uniform(-0.2, 0.2) * ROI.w), float(rng.uniform(-0.2, 0.2) * ROI.h),
             float(rng.uniform(-180, 180))) for _ in range(n)]


def measure(ref: Reference, cases, centre, repeats: int, only_correlation: bool) -> dict:
    saved = align.by_features
    if only_correlation:
        align.by_features = lambda *args: None
    try:
        times, cpu, errors, angle_errors, methods = [], [], [], [], []
        for image, (dx, dy, angle) in cases:
            for _ in range(repeats):
                t, c = time.perf_counter(), time.process_time()
                p = locate(ref, image, "rigid", 180)
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
            got = p.apply(np.array([centre]))[0]
            errors.append(float(np.hypot(got[0] - centre[0] - dx, got[1] - centre[1] - dy)))
            angle_errors.append(abs((p.angle_deg - angle + 180) % 360 - 180))
            methods.append(p.method)
    finally:
        align.by_features = saved
    ms = np.array(times) * 1000
    return {"median_ms": float(np.median(ms)), "p90_ms": float(np.percentile(ms, 90)),
            "cpu_median_ms": float(np.median(cpu) * 1000), "cpu_p90_ms": float(np.percentile(cpu, 90) * 1000),
            "max_err_px": max(errors), "median_err_px": float(np.median(errors)),
            "max_angle_err_deg": max(angle_errors),
            "by_features": methods.count("features"), "n": len(cases)}


def generated(repeats: int) -> None:
    reference, _ = moved_part(0, size=SIZE)
    ref = Reference.from_image(reference, default_locate_box(ROI, SIZE, SIZE))
    cases = [(moved_part(100 + i, *pose, size=SIZE)[0], pose) for i, pose in enumerate(poses(20))]
    for label, only_corr in (("features, then correlation", False), ("correlation alone", True)):
        r = measure(ref, cases, (SIZE / 2, SIZE / 2), repeats, only_corr)
        print(f"generated 512 px, {label:27s}: wall median {r['median_ms']:5.1f} ms, p90 {r['p90_ms']:5.1f} ms; "
              f"CPU median {r['cpu_median_ms']:5.1f} ms, p90 {r['cpu_p90_ms']:5.1f} ms; "
              f"error median {r['median_err_px']:.2f} px, max {r['max_err_px']:.2f} px, "
              f"max {r['max_angle_err_deg']:.2f} deg; {r['by_features']}/{r['n']} placed by features")
    engine_side(ref, [c[0] for c in cases], repeats)
    unmoved(ref, repeats)
    empty = [moved_part(900 + i, present=False, size=SIZE)[0] for i in range(5)]
    conf = [locate(ref, im, "rigid", 180).confidence for im in empty]
    print(f"generated 512 px, no part in view: confidence max {max(conf):.3f} (NOT_FOUND below 0.5)")


def unmoved(ref: Reference, repeats: int) -> None:
    """Parts where they were taught: the identity matches within the margin, so no search runs."""
    images = [moved_part(300 + i, size=SIZE)[0] for i in range(10)]
    cpu, methods = [], []
    for image in images:
        for _ in range(repeats):
            c = time.process_time()
            p = locate(ref, image, "rigid", 180)
            cpu.append(time.process_time() - c)
        methods.append(p.method)
    print(f"generated 512 px, part where it was taught     : CPU median {np.median(cpu) * 1000:5.1f} ms; "
          f"{methods.count('unmoved')}/{len(images)} left unmoved (cut exactly as align: none)")


def engine_side(ref: Reference, images, repeats: int) -> None:
    """What the engine adds per image with alignment: locate + the turned ROI crop (instead of a plain cut)
    + the map and mask put back into the image; CPU time, against the plain crop of align: none."""
    from inference.align import Locator, map_to_image, prepare_located
    from inference.features import prepare

    locator = Locator("rigid", 180.0, 0.5, ref, (SIZE, SIZE))
    plain, located = [], []
    for image in images:
        for _ in range(repeats):
            c = time.process_time()
            prepare([image], ROI)
            plain.append(time.process_time() - c)
            c = time.process_time()
            (p,) = prepare_located([image], ROI, locator)
            amap = np.zeros(p.crop.pixels.shape[:2], np.float32)
            map_to_image(amap, p.placement, p.crop.box, SIZE, SIZE)
            map_to_image(amap.astype(np.uint8), p.placement, p.crop.box, SIZE, SIZE, nearest=True)
            located.append(time.process_time() - c)
    added = (np.median(located) - np.median(plain)) * 1000
    print(f"generated 512 px, engine side (locate + turned crop + map back) vs plain crop: CPU median "
          f"{np.median(located) * 1000:.1f} ms vs {np.median(plain) * 1000:.1f} ms: adds {added:.1f} ms per image")


def real(data: Path, repeats: int) -> None:
    from inference import images_in_folder, load_image

    for category in ("mvtec_screw", "mpdd_metal_plate"):
        folder = data / category / "train" / "good"
        if not folder.is_dir():
            continue
        cases_all = []
        for k, path in enumerate(images_in_folder(folder)[:4]):
            image = load_image(path)
            h, w = image.shape[:2]
            roi = Rect(w / 2, h / 2, w * 0.6, h * 0.6)
            ref = Reference.from_image(image, default_locate_box(roi, w, h))
            cases = []
            for dx, dy, angle in poses(5, seed=k):
                dx, dy = dx * w / SIZE * 0.5, dy * h / SIZE * 0.5  # keep the ROI inside the image
                m = cv2.getRotationMatrix2D((w / 2 - 0.5, h / 2 - 0.5), -angle, 1.0)
                m[:, 2] += (dx, dy)
                cases.append((cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE), (dx, dy, angle)))
            cases_all.append(measure(ref, cases, (w / 2, h / 2), repeats, False))
        med = np.median([c["median_ms"] for c in cases_all])
        cpu = np.median([c["cpu_median_ms"] for c in cases_all])
        err = max(c["max_err_px"] for c in cases_all)
        ang = max(c["max_angle_err_deg"] for c in cases_all)
        feats = sum(c["by_features"] for c in cases_all)
        n = sum(c["n"] for c in cases_all)
        print(f"{category} ({w} x {h} px), known turns and shifts: wall median {med:.1f} ms, CPU median {cpu:.1f} ms; max error {err:.2f} px, "
              f"{ang:.2f} deg; {feats}/{n} placed by features")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--data", type=Path, default=None, help="MVTec-layout data root (optional)")
    args = ap.parse_args()
    cv2.setNumThreads(1)  # the engine's other work runs beside it; one thread is the honest figure
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, load {load:.1f}: "
          f"OpenCV {cv2.__version__}, work side {align.WORK_SIDE} px, one OpenCV thread")
    generated(args.repeats)
    if args.data is not None:
        real(args.data, args.repeats)


if __name__ == "__main__":
    main()
