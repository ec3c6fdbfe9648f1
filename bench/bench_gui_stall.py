"""How long the window stops answering while a fit runs in its worker thread.

A 10 ms QTimer runs on the GUI thread during a real fit started with the Fit
button; the gaps between its ticks are how long the event loop was blocked.
Prints figures; never passes or fails on them. Example:
    python bench/bench_gui_stall.py --images ../shared/data/mvtec_bottle/train/good --n 20
    python bench/bench_gui_stall.py --backbone dinov2_vits14 --weights none --input-size 448
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=Path, help="folder of OK images (default: generated discs)")
    p.add_argument("--n", type=int, default=20, help="images to teach")
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument("--weights", default="auto")
    p.add_argument("--input-size", type=int, default=224)
    args = p.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtCore import QElapsedTimer, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    import inference
    from app.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv)
    work = Path(tempfile.mkdtemp(prefix="stall-"))
    if args.images:
        images = [str(x) for x in inference.expand_image_paths([args.images])[: args.n]]
    else:
        from inference.synthetic import write_discs

        images = [str(x) for x in write_discs(work / "ok", range(args.n))]
    config = inference.EngineConfig.load(None).replace(
        backbone=args.backbone, weights=args.weights, input_size=args.input_size)
    engine = inference.Engine(config)
    engine.backbone(config)  # built before timing: loading weights is not what is measured
    window = MainWindow(engine, settings=QSettings(str(work / "q.ini"), QSettings.Format.IniFormat))
    window.show()
    window.doc.folder = work / "project"
    window.doc.config = config
    window.doc.add_images(images)

    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def tick():
        now = clock.nsecsElapsed()
        if window.runner.busy:
            gaps.append((now - last[0]) / 1e6)
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    started = time.perf_counter()
    window.teach_panel.fit_button.click()
    while window.runner.busy:
        app.processEvents()
        time.sleep(0.001)
    seconds = time.perf_counter() - started
    timer.stop()
    ok = window.session.model is not None or inference.has_model(work / "project")
    g = np.array(gaps) if gaps else np.array([float("nan")])
    print(f"fit               {seconds:.2f} s, {len(images)} images, {args.backbone} @ {args.input_size} px, "
          f"{'model saved' if ok else 'NO MODEL'}")
    print(f"timer ticks       {len(gaps)} (10 ms interval) while the fit ran")
    print(f"longest stall     {g.max():.1f} ms")
    print(f"p99 / median gap  {np.percentile(g, 99):.1f} / {np.median(g):.1f} ms")
    window.doc.dirty = False
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
