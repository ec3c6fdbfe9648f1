"""What the line display (`inspector run --display`) costs: drawing a part's picture per camera size, and the run's
throughput while a browser watches, against the same run without a display.

Prints figures; never passes or fails on them (tests/test_line_display.py checks the behaviour). Two parts:
1. The picture alone (station.line_io.display.draw_part + the JPEG): a grey image of each size with a real-shaped
   result (the ROI box 80 % of the image, a map at the box's size, two defect outlines), median of 30.
2. The run: EfficientNet-Lite0 (built-in weights) at 224 px taught on 16 `train/good` images of mvtec_bottle and
   calibrated on 8 more OK and 8 defects; N test images (900 x 900 JPEG) copied into a folder, inspected by a Runner
   with no display, then with a display and a watcher that asks for the state every 0.5 s and for each new
   picture, as the page does; alternating, ROUNDS rounds each. Throughput is parts per second over each round.
    python bench/bench_display.py [--data ../shared/data] [--n 60] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference import Engine, EngineConfig, InferenceResult, Region, Verdict, load_image  # noqa: E402
from inspector_line.display_server import DisplayServer  # noqa: E402
from inspector_line.runner import RunOptions, Runner  # noqa: E402
from inspector_line.sources import FolderSource  # noqa: E402
from station import Station  # noqa: E402
from station.history import History  # noqa: E402
from station.line_io.display import LineDisplay, draw_part, encode_jpeg  # noqa: E402


def picture_ms(w: int, h: int, repeats: int = 30) -> float:
    image = np.full((h, w, 3), 128, np.uint8)
    x0, y0, x1, y1 = int(0.1 * w), int(0.1 * h), int(0.9 * w), int(0.9 * h)
    amap = np.random.default_rng(0).random((y1 - y0, x1 - x0), dtype=np.float32) * 4
    square = lambda x, y, s: np.array([[x, y], [x + s, y], [x + s, y + s], [x, y + s]], float)  # noqa: E731
    regions = [Region((x0 + 50, y0 + 50, 80, 80), (0, 0), 6400, None, 9.0, True, outline=square(x0 + 50, y0 + 50, 80)),
               Region((x0 + 300, y0 + 200, 20, 20), (0, 0), 400, None, 6.0, outline=square(x0 + 300, y0 + 200, 20))]
    result = InferenceResult("p.png", 9.0, amap, np.ones_like(amap, bool), (x0, y0, x1, y1), (16, 16), regions,
                             Verdict.NG, threshold=5.0)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        encode_jpeg(draw_part(image, result))
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def watcher(base: str, stop: threading.Event) -> None:
    """As the page: the state every 0.5 s, each new part's picture once."""
    import httpx

    shown = None
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            part = client.get(base + "/state").json()["part"]
            if part and part["picture"] and part["seq"] != shown:
                shown = part["seq"]
                client.get(f"{base}/{part['picture']}")
            stop.wait(0.5)


def run_round(engine, project: Path, images: list[Path], work: Path, with_display: bool) -> float:
    inbox = work / "inbox"
    shutil.rmtree(inbox, ignore_errors=True)
    inbox.mkdir()
    for i, path in enumerate(images):
        shutil.copy(path, inbox / f"{i:04d}{path.suffix}")
    display = LineDisplay() if with_display else None
    server, stop = None, threading.Event()
    if display is not None:
        server = DisplayServer(display, "127.0.0.1", 0)
        server.start()
        threading.Thread(target=watcher, args=(f"http://127.0.0.1:{server.port}", stop), daemon=True).start()
    history_path = work / "history.sqlite"
    history_path.unlink(missing_ok=True)
    try:
        with History(history_path) as history:
            t = time.perf_counter()
            summary = Runner(Station(project, engine, history=history), FolderSource(inbox, settle_s=0.05),
                             RunOptions(display=display, idle_exit_s=0.3, lock=False)).run()
            seconds = time.perf_counter() - t - 0.3
    finally:
        stop.set()
        if server is not None:
            server.close()
    return summary.counts.total / seconds


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    p.add_argument("--n", type=int, default=60)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f}")
    for w, h in ((640, 480), (1280, 1024), (2448, 2048), (4096, 3000)):
        print(f"picture {w} x {h}: {picture_ms(w, h):.1f} ms (draw + JPEG, median of 30)")
    bottle = args.data / "mvtec_bottle"
    if not bottle.is_dir():
        print(f"no {bottle}: the run's part skipped")
        return
    good = sorted((bottle / "train" / "good").glob("*.*"))
    bad = sorted(p for p in (bottle / "test").rglob("*.*") if p.parent.name != "good")
    engine = Engine(EngineConfig(backbone="efficientnet_lite0", weights="auto", input_size=224))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        engine.fit(work / "proj", [load_image(p) for p in good[:16]])
        model = engine.load(work / "proj")
        engine.calibrate(model, [load_image(p) for p in good[16:24]], [load_image(p) for p in bad[:8]])
        images = [good[24 + i % (len(good) - 24)] if i % 3 else bad[i % len(bad)] for i in range(args.n)]
        rates = {False: [], True: []}
        for _ in range(args.rounds):
            for with_display in (False, True):
                rates[with_display].append(run_round(engine, work / "proj", images, work, with_display))
    plain, shown = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"run, {args.n} parts x {args.rounds} rounds: {plain:.1f} parts/s without a display, {shown:.1f} with one "
          f"watched (ratio {shown / plain:.3f}); rounds {['%.1f' % r for r in rates[False]]} / "
          f"{['%.1f' % r for r in rates[True]]}")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
