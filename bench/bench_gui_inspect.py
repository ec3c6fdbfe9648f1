"""How long the window takes to inspect one image, from the Inspect button to the result shown.

The window's process as `inspector gui` starts it (with the garbage-collection policy of app/__main__.py where
the tree has one), EfficientNet-Lite0 with its real ImageNet weights by default: a project fitted on `--fit` OK
images, opened in the window; then the same image inspected `--n` times, each timed from `inspect_current()` to
the panel holding its result, and a 10 ms QTimer on the GUI thread measuring how long the window stopped answering
meanwhile. Prints figures; never passes or fails on them. Example:
    python bench/bench_gui_inspect.py --images ../shared/data/mvtec_bottle/train/good --n 40
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time

import gui_window

ROOT = gui_window.ROOT


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    gui_window.add_model_options(p)
    p.add_argument("--fit", type=int, default=8, help="images to teach")
    p.add_argument("--n", type=int, default=40, help="inspections timed")
    args = p.parse_args()

    app = gui_window.application()
    if (ROOT / "app" / "garbage.py").exists():
        from app.garbage import collect_on_gui_thread

        collect_on_gui_thread()
        policy = "collection on the GUI thread's timer"
    else:  # a tree from before the policy: Python's automatic collection, a full one at each job's start
        policy = "automatic collection, a full one at each job's start"
    work = gui_window.work_folder("gui-inspect-")
    images = gui_window.images(args, work, args.fit + 1)
    _, engine = gui_window.engine(args)
    engine.fit(work / "project", images[: args.fit], roi=None)
    window = gui_window.window(engine, work)

    def settle():
        while window.runner.busy:
            app.processEvents()
            time.sleep(0.0005)
        app.processEvents()

    window.open_project(work / "project", ask=False)
    settle()
    panel = window.inspect_panel
    image = images[args.fit]
    panel.open_paths([image])
    settle()
    panel.inspect_current()  # the first loads what a first inspection loads: not timed
    settle()

    stalls = gui_window.StallTimer()
    stalls.start()
    times = []
    for _ in range(args.n):
        panel.results.pop(image, None)
        started = time.perf_counter()
        panel.inspect_current()
        while image not in panel.results:
            app.processEvents()
            time.sleep(0.0005)
        times.append((time.perf_counter() - started) * 1000)
        settle()
    stalls.stop()
    times.sort()
    print(f"policy            {policy}")
    print(f"objects tracked   {len(gc.get_objects())}")
    print(f"inspect, one image, {args.backbone} @ {args.input_size} px, {args.n} times: median "
          f"{statistics.median(times):.1f} ms, p90 {times[int(0.9 * (len(times) - 1))]:.1f}, min {times[0]:.1f}")
    print(f"longest stall of the GUI thread {max(stalls.gaps):.1f} ms (10 ms timer; load {os.getloadavg()[0]:.2f})")
    window.doc.dirty = False
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
