"""`inspector rescore` throughput: images per second with two model versions, one process without Ray against
Ray with 1 and 2 workers, Ray's overhead per image, and a run on a two-node Ray cluster made on this machine.

Prints figures; never passes or fails on them (recorded in docs/benchmarks.md). Example:
    nice -n 10 python bench/bench_rescore.py --images ../shared/data/mvtec_bottle --n 2000
Steps:
  0. an archive of `--n` images in /tmp (copies of the data set's images, flipped, turned and brightened so no two
     files are equal; JPEG, `--size` px), a project taught on 16 good images (EfficientNet-Lite0 with its real
     weights, `--input-size` px: 448 as in the default config): v2 calibrated, v3 the same model at another threshold (staged);
  1. `proc`: station.rescore.score_items in this process, no Ray (the baseline);
  2. `ray1`, `ray2`: rescore() on a local Ray (this machine's cores) with 1 and 2 workers;
  3. `twonode`: `ray start --head --num-cpus 1` and `ray start --address ... --num-cpus 1` (a second node on this
     machine), rescore(address=..., workers=2); then `ray stop`.
Each Ray step writes into a new --out folder, so every image is scored.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from PIL import Image, ImageEnhance

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inference import Engine, EngineConfig, expand_image_paths  # noqa: E402
from station import Station  # noqa: E402
from station.rescore import archive_images, read_rows, rescore, score_items  # noqa: E402


def sized(src: Path, size: int) -> Image.Image:
    with Image.open(src) as im:
        return im.convert("RGB").resize((size, size))


def make_archive(root: Path, out: Path, n: int, size: int) -> list[Path]:
    sources = expand_image_paths([root / "train" / "good"]) + expand_image_paths([root / "test" / "good"])
    sources += sorted(p for d in sorted((root / "test").iterdir()) if d.is_dir() and d.name != "good"
                      for p in expand_image_paths([d]))
    day = out / "2026-11-20"
    day.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        k = i // len(sources)
        im = sized(sources[i % len(sources)], size)
        if k % 2:
            im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        im = im.rotate(90 * ((k // 2) % 4))
        im = ImageEnhance.Brightness(im).enhance(1.0 + 0.03 * (k // 8))
        path = day / f"part_{i:05d}.jpg"
        im.save(path, quality=92)
        paths.append(path)
    return paths


def make_project(root: Path, project: Path, config: EngineConfig, size: int, tmp: Path) -> None:
    """Taught on 16 good images and calibrated on 10 others, at the archive's size (a model inspects images of
    the size it was taught)."""
    good = []
    (tmp / "good").mkdir(parents=True, exist_ok=True)
    for src in expand_image_paths([root / "train" / "good"])[:26]:
        sized(src, size).save(tmp / "good" / f"{src.stem}.png")
        good.append(tmp / "good" / f"{src.stem}.png")
    st = Station(project, Engine(config))
    st.teach(good[:16], note="bench")
    st.calibrate(good[16:26])  # v2, active
    st.calibrate(good[16:26], version="v1", score_percentile=90, activate=False)  # v3, staged
    st.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def steady(done, started: float) -> dict:
    """Start-up (from the call until the first batch was scored: Ray, the actors, loading the models; epoch
    seconds) and the steady rate after it, from the rows' scored_at."""
    at = sorted(read_rows(done.out).column("scored_at").to_pylist())
    out = {"workers": done.workers, "startup_s": round(at[0] - started, 2)}
    first = at.count(at[0]) // 2  # images in the first batch (a row per version)
    per = (at[-1] - at[0]) / max(1, done.scored - first)
    out.update(steady_ms_per_image=round(1000 * per, 2), steady_images_per_s=round(1 / per, 2))
    return out


def step(name: str, n: int, seconds: float, extra: dict | None = None, rows=None) -> dict:
    out = {"step": name, "images": n, "seconds": round(seconds, 2), "images_per_s": round(n / seconds, 2),
           "ms_per_image": round(1000 * seconds / n, 2), **(extra or {}),
           "verdicts": dict(Counter(f"{r['version']} {r['verdict']}" for r in rows or []))}
    print(json.dumps(out), flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "data" / "mvtec_bottle")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--size", type=int, default=448, help="archive images' side in px")
    ap.add_argument("--input-size", type=int, default=448, help="the model's input (448: the default config)")
    ap.add_argument("--steps", default="proc,ray1,ray2,twonode")
    ap.add_argument("--tmp", type=Path, help="working folder (default: a new one in /tmp, removed at the end)")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    tmp = args.tmp or Path(tempfile.mkdtemp(prefix="bench-rescore-"))
    config = EngineConfig.load(None).replace(backbone="efficientnet_lite0", input_size=args.input_size)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    figures: dict = {"date": started, "cpus": os.cpu_count(), "load_before": os.getloadavg(), "n": args.n,
                     "input_size": args.input_size, "archive_px": args.size, "steps": []}
    archive, project = tmp / "archive", tmp / "project"
    if not project.is_dir():
        t = time.perf_counter()
        make_archive(args.images, archive, args.n, args.size)
        make_project(args.images, project, config, args.size, tmp)
        print(f"archive and project in {time.perf_counter() - t:.0f} s: {tmp}", flush=True)
    items = archive_images([archive])[: args.n]
    versions = ["v2", "v3"]
    wanted = args.steps.split(",")
    try:
        if "proc" in wanted:
            t = time.perf_counter()
            rows = score_items(project, versions, items, config, batch=config.batch_size)
            figures["steps"].append(step("proc: 1 process, no Ray", len(items), time.perf_counter() - t,
                                         {"rows": len(rows)}, rows))
        for workers in (1, 2):
            if f"ray{workers}" not in wanted:
                continue
            out = tmp / f"out-ray{workers}"
            shutil.rmtree(out, ignore_errors=True)
            t, started = time.perf_counter(), time.time()
            done = rescore(project, versions, items, out, config=config, workers=workers,
                           note=lambda line: print("  " + line, flush=True))
            figures["steps"].append(step(f"ray{workers}: local Ray, {workers} worker(s)", len(items),
                                         time.perf_counter() - t, {"rows": read_rows(out).num_rows,
                                                                   **steady(done, started)},
                                         read_rows(out).to_pylist()))
        if "twonode" in wanted:
            port = free_port()
            env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
            ray = shutil.which("ray") or "ray"
            subprocess.run([ray, "start", "--head", "--num-cpus", "1", "--port", str(port), "--include-dashboard",
                            "false", "--disable-usage-stats"], check=True, env=env, capture_output=True)
            try:
                subprocess.run([ray, "start", "--address", f"127.0.0.1:{port}", "--num-cpus", "1",
                                "--disable-usage-stats"], check=True, env=env, capture_output=True)
                out = tmp / "out-twonode"
                shutil.rmtree(out, ignore_errors=True)
                t, started = time.perf_counter(), time.time()
                done = rescore(project, versions, items, out, config=config, address=f"127.0.0.1:{port}",
                               workers=2, note=lambda line: print("  " + line, flush=True))
                figures["steps"].append(step("twonode: 2 Ray nodes of 1 CPU, 2 workers", len(items),
                                             time.perf_counter() - t, {"rows": read_rows(out).num_rows,
                                                                       **steady(done, started)},
                                             read_rows(out).to_pylist()))
            finally:
                subprocess.run([ray, "stop"], env=env, capture_output=True)
    finally:
        figures["load_after"] = os.getloadavg()
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
        if args.tmp is None:
            shutil.rmtree(tmp, ignore_errors=True)
    by = {s["step"].split(":")[0]: s for s in figures["steps"]}
    if "proc" in by and "ray1" in by:
        print(f"Ray overhead, 1 worker against 1 process: start-up {by['ray1']['startup_s']:.1f} s, then "
              f"{by['ray1']['steady_ms_per_image'] - by['proc']['ms_per_image']:+.1f} ms per image")
    if "proc" in by:
        per = by["proc"]["ms_per_image"] / 1000 * (os.cpu_count() or 1)  # core-seconds per image, both versions
        extra = max(0.0, by["ray1"]["steady_ms_per_image"] - by["proc"]["ms_per_image"]) / 1000 * (
            os.cpu_count() or 1) if "ray1" in by else 0.0
        print(f"cost: {per:.4f} core-s per image (both versions) in one process, {per + extra:.4f} with Ray's")
        for nodes in (1, 4, 16, 64):
            hours = 1e6 * (per + extra) / (nodes * 16) / 3600
            print(f"estimate: 1,000,000 images, both versions, on {nodes} node(s) of 16 cores: {hours:.2f} h "
                  "(+ start-up)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
