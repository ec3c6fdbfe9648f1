"""Ties the History view to the window: the window's inspections (recorded by the station layer, as bench
checks) refresh it, past ones are shown, marked false rejects sent to Teach and marked images to Calibrate."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject

import inference


class HistoryLink(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = w = window
        h = w.history_panel
        w.doc.folderChanged.connect(h.set_project)
        w.inspect_panel.recorded.connect(self.record)
        w.tabs.currentChanged.connect(lambda _: w.tabs.currentWidget() is h and h.refresh())
        h.inspectionShown.connect(self.show_past_inspection)
        h.reinspectRequested.connect(lambda path: w.inspect_panel.open_paths([path]))
        h.teachRequested.connect(self.teach)
        h.taught = lambda: w.session.model.record.taught_digests if w.session.model else ()
        h.calibrateRequested.connect(self.calibrate)
        h.access = w.access
        w.access.changed.connect(h.update_buttons)

    def record(self, path: str, result: inference.InferenceResult) -> None:
        """The station recorded the inspection in the worker: show it when the History view is open."""
        if self.window.history_panel.isVisible():
            self.window.history_panel.refresh()

    def show_past_inspection(self, path: Optional[str], row) -> None:
        """A past inspection: its image with the regions that made it NG (as recorded then)."""
        w = self.window
        if path is None:
            w.view.set_image(None)
            return
        try:
            rgb = inference.load_image(path)
        except inference.InspectorError as exc:
            w.view.set_image(None)
            w.show_status(f"Cannot show {Path(path).name}: {exc}")
            return
        w.show_work()
        w.view.set_image(rgb)
        w.view.mark_boxes([tuple(r["bbox"]) for r in row.regions if "bbox" in r])

    def teach(self, paths: list) -> None:
        w = self.window
        before = len(w.doc.ok_images)
        w.teach_panel.add_paths(paths)
        added = len(w.doc.ok_images) - before
        w.tabs.setCurrentWidget(w.teach_panel)
        w.show_status(f"{added} false reject(s) added to the Teach list: press Add to model to teach them")

    def calibrate(self, ok: list, ng: list) -> None:
        w = self.window
        w.open_calibration()
        dialog = getattr(w, "calibrate_dialog", None)
        if dialog is not None and dialog.isVisible():
            dialog.ok_box.add_paths(ok)
            dialog.ng_box.add_paths(ng)
