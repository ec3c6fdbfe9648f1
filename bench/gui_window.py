"""What the GUI benches (bench_gui_stall.py, bench_gui_inspect.py) share: the model options, the images to teach,
the window as `inspector gui` shows it (with a throwaway settings file), and a 10 ms QTimer on the GUI thread whose
gaps between ticks are how long the window stopped answering."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tree's own packages, whether installed or not


def add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--images", type=Path, help="folder of OK images (default: generated discs)")
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument("--weights", default="auto")
    p.add_argument("--input-size", type=int, default=224)


def application():
    """The QApplication (offscreen where no display is named)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication(sys.argv)


def work_folder(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def images(args, work: Path, n: int) -> list[str]:
    """The first `n` images of --images, or `n` generated discs."""
    import inference

    if args.images:
        return [str(x) for x in inference.expand_image_paths([args.images])[:n]]
    from inference.synthetic import write_discs

    return [str(x) for x in write_discs(work / "ok", range(n))]


def engine(args):
    """(the engine config of the options, an Engine with it)."""
    import inference

    config = inference.EngineConfig.load(None).replace(
        backbone=args.backbone, weights=args.weights, input_size=args.input_size)
    return config, inference.Engine(config)


def window(engine, work: Path):
    """The main window over `engine`, shown, with a settings file of its own in `work`."""
    from PySide6.QtCore import QSettings

    from app.main_window import MainWindow

    shown = MainWindow(engine, settings=QSettings(str(work / "q.ini"), QSettings.Format.IniFormat))
    shown.show()
    return shown


def new_project(window, folder: Path) -> None:
    """File > New project with `folder` chosen in the folder dialog."""
    from app import file_dialogs

    folder.mkdir(parents=True, exist_ok=True)
    chosen = file_dialogs.open_folder
    file_dialogs.open_folder = lambda parent, title: str(folder)
    try:
        if not window.new_project():
            raise SystemExit(f"could not make a new project in {folder}")
    finally:
        file_dialogs.open_folder = chosen


class StallTimer:
    """Ticks every 10 ms on the GUI thread; `gaps` are the ms between ticks while `counting()` holds."""

    INTERVAL_MS = 10

    def __init__(self, counting: Callable[[], bool] = lambda: True):
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.counting = counting
        self.gaps: list[float] = []
        self._clock = QElapsedTimer()
        self._timer = QTimer()
        self._timer.setInterval(self.INTERVAL_MS)
        self._timer.timeout.connect(self._tick)
        self._last = 0

    def start(self) -> None:
        self._clock.start()
        self._last = self._clock.nsecsElapsed()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = self._clock.nsecsElapsed()
        if self.counting():
            self.gaps.append((now - self._last) / 1e6)
        self._last = now
