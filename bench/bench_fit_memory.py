"""A fit's peak memory against what inference/fit_memory.py estimates for it, and what a calibration adds on disk.

Prints figures; never passes or fails on them (tests/test_fit_memory.py checks the rule). Each fit runs alone in a
fresh process (`--child`), which prints its own peak RSS (getrusage), its RSS when the fit checked (the backbones
loaded: what the OS already counts as used) and the estimate the fit checked against the free memory. Then one
calibration of the fitted model, and the project's size on disk before and after it (`du`: hard links counted once).
    python bench/bench_fit_memory.py --ok ../shared/data/mvtec_screw/train/good --n 40 --set part_symmetry=turns
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GB = 1024 ** 3


def child(args) -> None:
    from inference import Engine, EngineConfig, fit_memory, parse_settings  # noqa: F401

    import psutil

    seen = []
    real = fit_memory.check
    fit_memory.check = lambda need, why, free=None: (seen.append((need, psutil.Process().memory_info().rss)),
                                                     real(need, why, free))[1]
    images = sorted(p for p in Path(args.ok).iterdir() if p.suffix.lower() in (".png", ".jpg", ".bmp"))[:args.n]
    t = time.perf_counter()
    result = Engine(EngineConfig.load(None, settings=args.set)).fit(Path(args.project), images)
    need, at_check = seen[-1]
    print(json.dumps({"images": len(images), "rows": result.n_embeddings, "estimated_rows": need.rows,
                      "bank_gb": need.bank_bytes / GB, "estimate_gb": need.needed / GB,
                      "rss_at_check_gb": at_check / GB,
                      "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB,
                      "fit_s": time.perf_counter() - t}))


def du_bytes(folder: Path) -> int:
    return int(subprocess.run(["du", "-sb", str(folder)], capture_output=True, text=True, check=True).stdout.split()[0])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ok", required=True, help="a folder of OK images")
    p.add_argument("--n", type=int, default=40, help="how many of them to teach (sorted by name)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="settings, as inspector fit's")
    p.add_argument("--project", help=argparse.SUPPRESS)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    print(f"load before: {os.getloadavg()[0]:.2f}; settings: {args.set or 'the config file'}")
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "proj"
        cmd = [sys.executable, __file__, "--child", "--ok", args.ok, "--n", str(args.n), "--project", str(project)]
        for s in args.set:
            cmd += ["--set", s]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            print(out.stderr[-2000:])
            sys.exit(out.returncode)
        fit = json.loads(out.stdout.strip().splitlines()[-1])
        grew = fit["peak_rss_gb"] - fit["rss_at_check_gb"]
        print(f"fit: {fit['images']} images, {fit['rows']:,} rows (estimated {fit['estimated_rows']:,}), bank "
              f"{fit['bank_gb']:.2f} GB; estimate {fit['estimate_gb']:.2f} GB; RSS {fit['rss_at_check_gb']:.2f} GB at "
              f"the check (backbones loaded), peak {fit['peak_rss_gb']:.2f} GB: grew {grew:.2f} GB "
              f"({grew / fit['estimate_gb']:.2f} of the estimate), {fit['fit_s']:.0f} s")
        before = du_bytes(project)
        cal = [sys.executable, "-m", "inspector_cli.entry", "calibrate", str(project), "--ok", args.ok]
        t = time.perf_counter()
        subprocess.run(cal + [f"--set={s}" for s in args.set], capture_output=True, text=True, check=True)
        print(f"calibration: {time.perf_counter() - t:.1f} s; project on disk {before / GB:.3f} GB -> "
              f"{du_bytes(project) / GB:.3f} GB")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
