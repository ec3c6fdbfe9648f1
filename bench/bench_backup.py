"""A line PC's project at full size: how long a backup, its check and a restore take, and how big the file is.

    PYTHONPATH=. python bench/bench_backup.py [--images 100] [--rows 1000000]

Builds a project the size a DINOv2 ViT-S/14 model at 448 px gives (32 x 32 patch features of 384 floats per
image: the backbone cut to 2 random blocks, which changes the time to fit, not the files), through the real
writer: fit, calibrate, add as many images again, calibrate: four versions, the top level the active one's. Its
history gets `--rows` production rows (bench/bench_history_report.py's history of a line that ran 30 days).
Then prints, each once (a second run reads from the page cache, as a nightly backup of a busy PC would not):
- the project's files and the backup's size (each content stored once: a calibration shares its model files);
- `inspector backup` with and without the history, and how long the project lock was held (the model files);
- `inspector restore --check` and `inspector restore`.
Recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_history_report import build as build_history  # noqa: E402
from inference import Engine, EngineConfig, check_backup, project  # noqa: E402
from inference.synthetic import disc  # noqa: E402
from station import Station  # noqa: E402
from station.backup import back_up, restore  # noqa: E402


def make_project(folder: Path, images: int) -> None:
    config = EngineConfig(backbone="dinov2_vits14", weights="none", backbone_kwargs={"depth": 2}, input_size=448,
                          coreset_ratio=0.01, batch_size=8, runtime="torch")
    with Station(folder, Engine(config)) as st:
        st.teach([disc(i)[0] for i in range(images)])
        st.calibrate([disc(1000 + i)[0] for i in range(10)], [disc(2000 + i, True)[0] for i in range(3)])
        st.add([disc(images + i)[0] for i in range(images)])
        st.calibrate([disc(1000 + i)[0] for i in range(10)], [disc(2000 + i, True)[0] for i in range(3)])


def size_mb(paths) -> float:
    return sum(p.stat().st_size for p in paths if p.is_file()) / 1e6


def lock_held_s(seconds: list):
    """project.writing, timing how long the backup holds the project lock (into `seconds`)."""
    real = project.writing

    @contextmanager
    def timed(path, wait_s=0.0):
        with real(path, wait_s):
            t0 = time.perf_counter()
            try:
                yield
            finally:
                seconds.append(time.perf_counter() - t0)
    return timed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=100, help="images taught at the fit, and again at the add")
    p.add_argument("--rows", type=int, default=1_000_000, help="history rows")
    args = p.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; {args.images} + {args.images} images, {args.rows} history rows")
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        tmp = Path(tmp)
        folder = tmp / "part1"
        t0 = time.perf_counter()
        make_project(folder, args.images)
        build_history(folder / "history.sqlite", args.rows, 30.0)
        files = [p for p in folder.rglob("*") if p.is_file()]
        print(f"project built in {time.perf_counter() - t0:.0f} s: {len(files)} files, {size_mb(files):.0f} MB "
              f"(history {size_mb([folder / 'history.sqlite']):.0f} MB, versions/ "
              f"{size_mb((folder / 'versions').rglob('*')):.0f} MB)")
        import inference.project_backup as engine_backup

        for history in (True, False):
            held: list = []
            engine_backup.writing = lock_held_s(held)
            t0 = time.perf_counter()
            info = back_up(folder, tmp / f"backup-{history}.zip", history=history)
            took = time.perf_counter() - t0
            engine_backup.writing = project.writing
            print(f"backup {'with' if history else 'without'} the history: {took:.1f} s (project lock held "
                  f"{held[0]:.1f} s), file {info.path.stat().st_size / 1e6:.0f} MB for {info.bytes / 1e6:.0f} MB of "
                  "files, read back and checked")
        t0 = time.perf_counter()
        check_backup(tmp / "backup-True.zip")
        print(f"restore --check: {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        restore(tmp / "backup-True.zip", tmp / "restored")
        print(f"restore: {time.perf_counter() - t0:.1f} s")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
