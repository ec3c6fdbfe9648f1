"""The side-by-side view in a real window: teach, calibrate in the dialog, inspect defects, open Nearest OK part.

Drives the window as a user would (the Fit button, the Calibrate dialog's Compute scores and Save, Inspect all,
the Nearest OK part toggle), prints what it shows, and saves screenshots with ImageMagick's `import` (the
whole screen, and the side-by-side window alone). Run it under Xvfb; prints, never passes or fails:

    Xvfb :77 -screen 0 1600x1000x24 &
    DISPLAY=:77 QT_QPA_PLATFORM=xcb python bench/gui_nearest_walkthrough.py --data ../shared/data/ksdd \\
        --out /tmp/walk            # docs/gui_nearest.png is /tmp/walk/nearest_window.png
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="an MVTec-layout set (train/good, test/defect)")
    p.add_argument("--out", type=Path, required=True, help="folder for the screenshots")
    p.add_argument("--teach", type=int, default=16)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    app = QApplication(sys.argv)
    import inference
    from app import file_dialogs
    from app.main_window import MainWindow

    def answer_boxes():  # a warning box (e.g. the calibration's) is read out and closed, as a user would
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            print("  [message]", box.text())
            box.close()

    timer = QTimer()
    timer.timeout.connect(answer_boxes)
    timer.start(300)

    def pump(seconds=0.3):
        end = time.time() + seconds
        while time.time() < end:
            app.processEvents()
            time.sleep(0.02)

    def idle():
        pump(0.2)
        while win.runner.busy:
            pump(0.1)

    def shot(name, window_id=None):
        pump(0.8)
        target = "root" if window_id is None else str(window_id)
        subprocess.run(["import", "-window", target, str(args.out / name)], check=True)
        print("  screenshot", args.out / name)

    tmp = Path(tempfile.mkdtemp(prefix="nearest-walk-"))
    win = MainWindow(inference.Engine(), settings=QSettings(str(tmp / "qsettings.ini"), QSettings.Format.IniFormat))
    win.resize(1600, 1000)
    win.move(0, 0)
    win.show()
    pump(1)
    file_dialogs.open_folder = lambda *a, **k: str(tmp / "project")  # the folder a user would pick
    (tmp / "project").mkdir()
    win.new_project()
    good = sorted((args.data / "train" / "good").iterdir())
    defects = sorted((args.data / "test" / "defect").iterdir())
    win.teach_panel.add_paths([str(f) for f in good[:args.teach]])
    t0 = time.time()
    win.teach_panel.fit()
    idle()
    print(f"fit {time.time() - t0:.1f} s: {win.teach_panel.result_label.text()}")

    win.open_calibration()
    pump(0.5)
    dialog = win.calibrate_dialog
    dialog.ok_box.add_paths([str(f) for f in good[100:112]])
    dialog.ng_box.add_paths([str(f) for f in defects[:10]])
    dialog.compute_button.click()
    idle()
    print("calibration:", dialog.counts.text())
    shot("calibrate.png")
    dialog.save_button.click()
    idle()
    dialog.close()

    panel = win.inspect_panel
    tests = [str(f) for f in defects[10:22]]
    panel.open_paths(tests)
    idle()
    panel.inspect_all()
    idle()
    for f in tests:
        r = panel.results.get(f)
        print(f"  {Path(f).name}: {r.verdict if r else '-'} {r.score if r else ''}")
    ng = [f for f in tests if panel.results.get(f) is not None and panel.results[f].verdict == "NG"]
    shown = max(ng, key=lambda f: panel.results[f].score) if ng else tests[0]
    panel.go(tests.index(shown))
    idle()
    print("shown:", Path(shown).name, panel.reason_label.text())
    shot("ng.png")
    panel.nearest.action.trigger()
    pump(0.3)
    idle()
    pump(1.0)
    nearest = panel.nearest.window
    nearest.move(220, 110)
    nearest.resize(1000, 760)
    pump(0.6)
    print("nearest:", nearest.taught_title.text(), "|", nearest.note.text())
    shot("nearest.png")
    shot("nearest_window.png", int(nearest.winId()))
    win.doc.dirty = False
    nearest.hide()
    win.close()
    pump(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
