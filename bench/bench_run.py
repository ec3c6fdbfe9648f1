"""Run-mode throughput and latency on a watched folder, against Engine.score_many on the same images.

Prints figures; never passes or fails on them. Example:
    nice -n 10 python bench/bench_run.py --images ../shared/data/mvtec_bottle --n 60
Steps, all in one process with one loaded model:
  1. score_many: the images as one list (what `inspector infer` does), images/s; again at the end.
  2. run, saturated: a feeder renames all images into the watched folder at once; the
     Runner (the code of `inspector run`) inspects them; images/s from the first file
     complete to the last history row; latency = file complete -> history row.
  3. run, paced: one image every 1/(pace x the saturated rate) seconds, renamed into
     place: the latency a line sees when the inspection keeps up.
  4. (--in-place) paced, files written in place and closed: complete at once on Linux (inotify's
     close-after-write), elsewhere after the settle time (default 0.5 s).
Without --images it uses generated discs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference import Engine, EngineConfig, expand_image_paths, write_discs  # noqa: E402
from station import Station  # noqa: E402
from station.history import History  # noqa: E402
from inspector_line.runner import RunOptions, Runner  # noqa: E402
from inspector_line.sources import FolderSource  # noqa: E402


def pick_images(root: Path | None, n_fit: int, n: int, tmp: Path) -> tuple[list, list, list, list]:
    """(fit, calibration OK, calibration NG, inspect) image paths."""
    if root is None:
        fit = write_discs(tmp / "fit", range(n_fit))
        cal_ok = write_discs(tmp / "cal", range(1000, 1010))
        cal_ng = write_discs(tmp / "ng", range(2000, 2005), scratch=True)
        inspect = write_discs(tmp / "inspect", range(3000, 3000 + n))
        return fit, cal_ok, cal_ng, inspect
    good = expand_image_paths([root / "train" / "good"])
    test = sorted(p for d in sorted((root / "test").iterdir()) if d.is_dir() and d.name != "good"
                  for p in expand_image_paths([d]))
    fit, cal_ok, rest = good[:n_fit], good[n_fit:n_fit + 10], good[n_fit + 10:]
    cal_ng = test[::max(1, len(test) // 5)][:5]
    pool = rest + expand_image_paths([root / "test" / "good"]) + test
    inspect = [pool[i % len(pool)] for i in range(n)]
    return fit, cal_ok, cal_ng, inspect


def feed(images: list[Path], inbox: Path, interval: float, in_place: bool) -> None:
    """Put the images into the watched folder: renamed into place (atomic) or written in place."""
    for i, src in enumerate(images):
        name = f"part_{i:05d}{src.suffix}"
        data = src.read_bytes()
        if in_place:
            with open(inbox / name, "wb") as fh:
                fh.write(data)
        else:
            tmp = inbox / f".{name}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, inbox / name)
        if interval:
            time.sleep(interval)


def run_mode(engine, model, images, work: Path, tag: str, interval: float, in_place: bool, settle: float) -> dict:
    inbox = work / f"inbox_{tag}"
    inbox.mkdir()
    history = History(work / f"history_{tag}.sqlite")
    source = FolderSource(inbox, settle_s=settle)
    stop = threading.Event()
    runner = Runner(Station(model.folder, engine, history=history), source, RunOptions(), model=model)
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    time.sleep(0.5)  # the watch is up
    feeder = threading.Thread(target=feed, args=(images, inbox, interval, in_place), daemon=True)
    feeder.start()
    deadline = time.monotonic() + 1800
    while history.count() < len(images) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join()
    rows = history.query(descending=False)
    history.close()
    latencies = np.array([r.latency for r in rows])
    completes = np.array([r.time - r.latency for r in rows])
    span = max(r.time for r in rows) - completes.min()
    return {"n": len(rows), "images_s": len(rows) / span, "p50_ms": 1000 * float(np.percentile(latencies, 50)),
            "p95_ms": 1000 * float(np.percentile(latencies, 95)),
            "verdicts": {v: sum(r.verdict == v for r in rows) for v in {r.verdict for r in rows}}}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=Path, help="MVTec-layout category folder (default: generated discs)")
    p.add_argument("--n-fit", type=int, default=20)
    p.add_argument("--n", type=int, default=60, help="images inspected per step")
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument("--weights", default="auto")
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument("--pace", type=float, default=0.5, help="paced step: this fraction of the saturated rate")
    p.add_argument("--in-place", action="store_true", help="also a paced step with files written in place")
    p.add_argument("--settle", type=float, default=0.5)
    args = p.parse_args()

    config = EngineConfig.load(None).replace(backbone=args.backbone, weights=args.weights,
                                             input_size=args.input_size)
    with tempfile.TemporaryDirectory() as tmp_name:
        work = Path(tmp_name)
        fit, cal_ok, cal_ng, images = pick_images(args.images, args.n_fit, args.n, work)
        engine = Engine(config)
        engine.fit(work / "project", fit)
        model = engine.load(work / "project")
        engine.calibrate(model, cal_ok, cal_ng)
        model = engine.load(work / "project")  # the calibrated version (a calibration is a new version)
        for path in images:
            path.read_bytes()  # every step reads the files from the page cache, not the first one from disk
        engine.score_many(model, images[:2])  # warm-up

        def direct_rate() -> float:
            t = time.perf_counter()
            engine.score_many(model, images)
            return len(images) / (time.perf_counter() - t)

        direct = [direct_rate()]

        sat = run_mode(engine, model, images, work, "saturated", 0.0, False, args.settle)
        interval = 1.0 / (args.pace * sat["images_s"])
        paced = run_mode(engine, model, images, work, "paced", interval, False, args.settle)
        steps = [("run, saturated (renamed into place)", sat), (f"run, paced {1 / interval:.1f}/s (renamed)", paced)]
        if args.in_place:
            steps.append((f"run, paced {1 / interval:.1f}/s (in place, settle {args.settle} s)",
                          run_mode(engine, model, images, work, "inplace", interval, True, args.settle)))

        direct.append(direct_rate())  # again after the runs: the shared machine's load changes

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# {stamp}; {os.cpu_count()} CPUs, load average {load:.1f} at the end; {args.backbone} "
          f"({args.weights}) at {args.input_size}, batch {config.batch_size}; {len(images)} images from "
          f"{args.images or 'generated discs'}")
    print("| step | images/s | latency p50 ms | p95 ms |")
    print("|---|---|---|---|")
    print(f"| Engine.score_many (as `inspector infer`), before the runs | {direct[0]:.1f} | | |")
    for name, r in steps:
        print(f"| {name} | {r['images_s']:.1f} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} |")
    print(f"| Engine.score_many, after the runs | {direct[1]:.1f} | | |")
    print(f"verdicts (saturated): {sat['verdicts']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
