"""How long the window stops answering while a fit runs in its worker thread.

A 10 ms QTimer runs on the GUI thread during a real fit started with the Fit
button; the gaps between its ticks are how long the event loop was blocked.
Prints figures; never passes or fails on them. Example:
    python bench/bench_gui_stall.py --images ../shared/data/mvtec_bottle/train/good --n 20
    python bench/bench_gui_stall.py --backbone dinov2_vits14 --weights none --input-size 448
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import gui_window


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    gui_window.add_model_options(p)
    p.add_argument("--n", type=int, default=20, help="images to teach")
    args = p.parse_args()

    app = gui_window.application()
    import inference

    work = gui_window.work_folder("stall-")
    images = gui_window.images(args, work, args.n)
    config, engine = gui_window.engine(args)
    engine.backbone(config)  # built before timing: loading weights is not what is measured
    window = gui_window.window(engine, work)
    gui_window.new_project(window, work / "project")  # as File > New project does: Teach unlocks
    window.doc.add_images(images)
    if not window.teach_panel.fit_button.isEnabled():
        print("the Fit button is disabled: nothing to measure", file=sys.stderr)
        return 1

    stalls = gui_window.StallTimer(counting=lambda: window.runner.busy)
    stalls.start()
    started = time.perf_counter()
    window.teach_panel.fit_button.click()
    while window.runner.busy:
        app.processEvents()
        time.sleep(0.001)
    seconds = time.perf_counter() - started
    stalls.stop()
    gaps = stalls.gaps
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
