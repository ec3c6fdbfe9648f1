""""Try an example": a small project from generated parts, taken through teach, calibrate and inspect.

Each step is one job of the session; the next starts from the previous one's callback,
so the window stays usable and every step is shown as it happens.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QStandardPaths

import inference

EXAMPLE_ROI = inference.Circle(80.0, 80.0, 67.0)  # the generated discs' centre and radius
OK_SEEDS, NEW_OK_SEEDS, NG_SEEDS = range(10), range(100, 105), range(200, 203)


def example_folder() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation) or str(Path.home())
    return Path(base) / "examples" / time.strftime("example-%Y%m%d-%H%M%S")


def example_config(default: inference.EngineConfig) -> inference.EngineConfig:
    # The built-in pretrained backbone: works offline; small input for a quick first run.
    return default.replace(backbone="efficientnet_lite0", weights="auto", backbone_kwargs={}, input_size=224)


class ExampleRun:
    def __init__(self, window, folder: Optional[Path] = None, config: Optional[inference.EngineConfig] = None):
        self.window = window
        self.folder = Path(folder) if folder is not None else example_folder()
        self.config = config or example_config(window.default_config)
        self.ok: list[str] = []
        self.new_ok: list[str] = []
        self.ng: list[str] = []
        self.finished = False

    def say(self, text: str) -> None:
        self.window.start_page.progress_label.setText(text)
        self.window.statusBar().showMessage(text, 15000)

    def begin(self) -> bool:
        w = self.window
        try:
            images = self.folder / "images"
            self.ok = [str(p) for p in inference.write_discs(images / "ok", OK_SEEDS)]
            self.new_ok = [str(p) for p in inference.write_discs(images / "new_ok", NEW_OK_SEEDS)]
            self.ng = [str(p) for p in inference.write_discs(images / "ng", NG_SEEDS, scratch=True)]
        except OSError as exc:
            from . import messages

            messages.error(w, "Try an example", f"Cannot write the example images to {self.folder}: "
                           f"{exc.strerror or exc}")
            return False
        settings = {"roi": EXAMPLE_ROI, "mm_per_px": None, "ok_images": self.ok, "config": self.config,
                    "calibration_images": {"ok": self.new_ok, "ng": self.ng}}
        w.doc.replace_with(self.folder, settings, self.config)
        w.undo_stack.clear()
        w.doc.save()
        w.session.set_model(None, "no model yet: the example is teaching it")
        w._remember(self.folder)
        w.show_work()
        w.tabs.setCurrentWidget(w.teach_panel)
        w.show_reference(self.ok[0])
        self.say(f"Example, step 1 of 3: teaching the model from {len(self.ok)} good parts "
                 "(the yellow circle is the region of interest)…")
        w.teach_panel.result_label.setText("Fitting…")
        w.session.fit(w.teach_panel._fitted, w.teach_panel._cancelled, w.teach_panel._failed, self._calibrate)
        return True

    def _calibrate(self, model) -> None:
        if model is None:
            return
        self.say(f"Example, step 2 of 3: calibrating with {len(self.new_ok)} unseen good parts and "
                 f"{len(self.ng)} scratched ones…")
        self.window.session.calibrate(self.new_ok, self.ng, self._inspect)

    def _inspect(self, model) -> None:
        w = self.window
        cal = model.calibration
        self.say(f"Example, step 3 of 3: inspecting. Threshold {cal.threshold:.3f}; the scratched parts come "
                 "first (NG, with the region that made them NG), then good ones (Page Down). Next: History, "
                 "Model > Calibrate…, or your own project.")
        w.inspect_panel.open_paths(self.ng + self.new_ok)
        self.finished = True
