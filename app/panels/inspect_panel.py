"""Inspect: open images or a folder, run inference, show the overlay, verdict, regions and results."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QGroupBox, QHBoxLayout, QLabel, QSlider, QTableWidgetItem, QVBoxLayout, QWidget,
)

import inference

from .. import file_dialogs, messages
from ..colour_bar import ColourBar
from ..image_view import COLORMAPS, ImageView, heat_scale, uncalibrated_scale
from ..result_text import batch_summary, explain, score_text, write_results_csv
from .nearest_view import NearestPart
from .results_list import FILTERS, ResultsList
from .table_widgets import button as _button, table as _table
from .teach_panel import IMAGE_FILTER, image_paths_from

BADGE_STYLE = {
    "OK": "background:#1e8e3e; color:white;",
    "NG": "background:#d93025; color:white;",
    # Neither OK nor NG: the part was not located (alignment on). Orange, never mistaken for OK.
    "NOT_FOUND": "background:#e37400; color:white;",
    None: "background:#777; color:white;",
}


class InspectPanel(QWidget):
    opened = Signal()  # images were opened: the window brings this panel to the front
    recorded = Signal(str, object)  # path, InferenceResult: an inspection the history keeps

    def __init__(self, session, view: ImageView, status=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.session, self.view = session, view
        self.status = status or (lambda text: None)
        self.paths: list[str] = []
        self.index = -1
        self.results: dict[str, inference.InferenceResult] = {}
        self.errors: dict[str, str] = {}  # path -> why it could not be read
        self.current: Optional[inference.InferenceResult] = None
        self.shown: Optional[tuple] = None  # (path, pixels) of the image on the view, decoded once
        self.waiting = False  # stepped to an image while a job ran: inspect it once the job is done

        # Actions, not button shortcuts: the window's menu holds them so the keys work from any tab.
        self.open_action = self._action("Open image…", "Ctrl+Shift+O", "Open one or more images to inspect",
                                        self.choose_images)
        self.open_folder_action = self._action("Open folder…", None, "Open a folder of images to inspect",
                                               self.choose_folder)
        self.prev_action = self._action("◀ Previous", Qt.Key.Key_PageUp, "Previous image",
                                        lambda: self.go(self.index - 1))
        self.next_action = self._action("Next ▶", Qt.Key.Key_PageDown, "Next image",
                                        lambda: self.go(self.index + 1))
        self.inspect_action = self._action("Inspect", Qt.Key.Key_F5, "Run the model on the current image",
                                           self.inspect_current)
        self.inspect_all_action = self._action("Inspect all", "Ctrl+F5", "Run the model on every open image",
                                               self.inspect_all)
        self.export_action = self._action("Export CSV…", "Ctrl+E", "Save the results list as CSV",
                                          self.choose_export)
        open_image, open_folder = _button(self.open_action), _button(self.open_folder_action)
        self.prev_button, self.next_button = _button(self.prev_action), _button(self.next_action)
        self.inspect_button = _button(self.inspect_action, "inspectButton")
        self.inspect_all_button = _button(self.inspect_all_action, "inspectAllButton")
        self.auto_check = QCheckBox("Inspect on open")
        self.auto_check.setChecked(True)
        self.auto_check.setToolTip("Inspect each image as soon as it is shown")
        self.nearest = NearestPart(session, self)  # the side-by-side view of the nearest taught OK part

        self.badge = QLabel("—")
        self.badge.setObjectName("verdictBadge")
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.badge.setMinimumSize(72, 40)
        self.badge.setToolTip("Verdict: OK or NG (— until the model is calibrated)")
        self.score_label = QLabel("score —")
        self.score_label.setObjectName("scoreLabel")
        self.score_label.setToolTip("Anomaly score of the image and the calibrated threshold")
        self._show_badge(None)
        self.reason_label = QLabel()
        self.reason_label.setObjectName("reasonLabel")
        self.reason_label.setWordWrap(True)
        self.reason_label.setToolTip("Why the part got this verdict")

        self.overlay_check = QCheckBox("Heatmap")
        self.overlay_check.setChecked(True)
        self.overlay_check.setToolTip("Show the anomaly heatmap over the image (H)")
        self.overlay_check.toggled.connect(lambda on: self.view.overlay_item.setVisible(on))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setObjectName("opacitySlider")
        self.opacity.setRange(0, 100)
        self.opacity.setValue(int(view.opacity * 100))
        self.opacity.setToolTip("Opacity of the heatmap")
        self.opacity.valueChanged.connect(lambda v: self.view.set_opacity(v / 100))
        self.colormap = QComboBox()
        self.colormap.setObjectName("colormapBox")
        self.colormap.addItems(COLORMAPS)
        self.colormap.setToolTip("Colour map of the heatmap (scale 0 to 2 x threshold)")
        self.colormap.currentTextChanged.connect(self.view.set_colormap)
        self.colour_bar = ColourBar()
        self.colormap.currentTextChanged.connect(self.colour_bar.set_colormap)

        self.regions = _table(["#", "area px", "area mm²", "length", "centre x, y", "makes NG"], "regionsTable",
                              "Spots above the threshold. 'yes': at least the area limit, so it makes the part NG "
                              "(drawn strongly); 'too small': below the area limit (drawn faintly). "
                              "Select a row to zoom to it")
        self.regions.itemSelectionChanged.connect(self._region_selected)
        self.results_table = _table(["image", "score", "verdict"], "resultsTable",
                                    "Results of the open images: select a row to show it; click a header to sort")
        self.results_list = ResultsList(self.results_table)
        self.results_table.itemSelectionChanged.connect(self._result_selected)
        self.summary_label = QLabel()
        self.summary_label.setObjectName("batchSummary")
        self.summary_label.setWordWrap(True)
        self.filter_box = QComboBox()
        self.filter_box.setObjectName("resultsFilter")
        self.filter_box.addItems(FILTERS)
        self.filter_box.setToolTip("Show only the results with this verdict")
        self.filter_box.currentTextChanged.connect(self._apply_filter)
        export = _button(self.export_action)

        row1 = QHBoxLayout()
        row1.addWidget(open_image)
        row1.addWidget(open_folder)
        row2 = QHBoxLayout()
        for w in (self.prev_button, self.next_button, self.inspect_button, self.inspect_all_button):
            row2.addWidget(w)
        verdict_row = QHBoxLayout()
        verdict_row.addWidget(self.badge)
        verdict_row.addWidget(self.score_label, 1)
        overlay_box = QGroupBox("Heatmap")
        overlay_column = QVBoxLayout(overlay_box)
        overlay_row = QHBoxLayout()
        overlay_row.addWidget(self.overlay_check)
        overlay_row.addWidget(self.opacity, 1)
        overlay_row.addWidget(self.colormap)
        overlay_column.addLayout(overlay_row)
        overlay_column.addWidget(self.colour_bar)
        results_row = QHBoxLayout()
        results_row.addWidget(QLabel("Results"))
        results_row.addStretch(1)
        results_row.addWidget(QLabel("Show"))
        results_row.addWidget(self.filter_box)
        layout = QVBoxLayout(self)
        layout.addLayout(row1)
        layout.addLayout(row2)
        layout.addLayout(self.nearest.beside(self.auto_check))
        layout.addLayout(verdict_row)
        layout.addWidget(self.reason_label)
        layout.addWidget(overlay_box)
        layout.addWidget(QLabel("Regions"))
        layout.addWidget(self.regions, 1)
        layout.addLayout(results_row)
        layout.addWidget(self.results_table, 2)
        layout.addWidget(self.summary_label)
        layout.addWidget(export)

        session.modelChanged.connect(self._model_changed)
        session.runner.busyChanged.connect(self._update_buttons)
        session.runner.busyChanged.connect(self._idle)
        # Another project: its model never inspected these images (and they may not be there).
        session.doc.folderChanged.connect(lambda _: self.clear())
        self._update_buttons()

    def _action(self, text: str, shortcut, tip: str, slot) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            tip = f"{tip} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
        action.setToolTip(tip)
        action.triggered.connect(slot)
        return action

    def menu_actions(self) -> list[QAction]:
        return [self.open_action, self.open_folder_action, self.prev_action, self.next_action, self.inspect_action,
                self.inspect_all_action, self.nearest.action, self.export_action]

    # -- opening ------------------------------------------------------------------------------
    def choose_images(self) -> None:
        files = file_dialogs.open_files(self, "Open images to inspect", IMAGE_FILTER)
        if files:
            self.open_paths(files)

    def choose_folder(self) -> None:
        folder = file_dialogs.open_folder(self, "Open a folder to inspect")
        if folder:
            self.open_paths([folder])

    def open_paths(self, paths) -> None:
        images = image_paths_from(paths)
        if not images:
            messages.error(self, "Open", "No image files found.")
            return
        self.paths = images
        self.results = {}
        self.errors: dict[str, str] = {}
        self.summary_label.setText("")
        self.results_list.reset(images)
        self.index = -1
        self.opened.emit()
        self.go(0)

    def clear(self) -> None:
        """No images open (another project was opened)."""
        self.paths, self.results, self.errors, self.index, self.waiting = [], {}, {}, -1, False
        self.results_list.reset([])
        self.summary_label.setText("")
        self._show_pixels("", None)
        self.show_result(None)
        self._update_buttons()

    def go(self, index: int) -> None:
        if not self.paths or not (0 <= index < len(self.paths)):
            return
        path = self.paths[index]
        self.index = index
        self.results_list.select(path)
        cached = self.results.get(path)
        self.status(f"{Path(path).name}  ({index + 1} / {len(self.paths)})")
        if path in self.errors:
            # Known to be unreadable: stepping onto it says why again, without a dialog on every step; Inspect
            # (Ctrl+I) tries the file again, in case it was replaced.
            self._show_pixels(path, None)
            self.show_result(None)
            self.status(f"{Path(path).name} cannot be read: {self.errors[path]}  ({index + 1} / {len(self.paths)})")
            self._update_buttons()
            return
        wanted = cached is None and self.auto_check.isChecked() and self.session.model is not None
        if wanted and self.session.runner.busy:
            # Stepping never waits for the running inspection: this image is shown now, inspected when it ends.
            self.waiting = True
            self.show_result(None)
            try:
                self._show_pixels(path, inference.load_image(path))
            except inference.InspectorError:
                self._show_pixels(path, None)  # said when it is inspected
            self._update_buttons()
            return
        if wanted:
            # Decoded once, by the inspection's worker, which sends the pixels with the result. Meanwhile
            # nothing of the previous image may stay on screen next to this file's name.
            self._show_pixels(path, None)
            self.show_result(None)
            self.inspect_current()
            self._update_buttons()
            return
        try:
            rgb = inference.load_image(path)
        except inference.InspectorError as exc:
            self._unreadable(path, exc)
            messages.error(self, "Cannot open the image", exc)
            return
        self._show_pixels(path, rgb)
        self.show_result(cached)
        self._update_buttons()

    def _idle(self, busy: bool) -> None:
        if busy or not self.waiting:
            return
        self.waiting = False
        path = self.paths[self.index] if 0 <= self.index < len(self.paths) else None
        if path is not None and path not in self.results and path not in self.errors:
            self.inspect_current()

    def _show_pixels(self, path: str, rgb) -> None:
        """Show an image's pixels; kept, read-only, so inspecting what is shown does not decode it again."""
        self.view.set_image(rgb)
        self.shown = (path, rgb) if rgb is not None else None

    def _unreadable(self, path: str, exc) -> None:
        # Nothing of the previous image may stay on screen next to this file's name.
        self._show_pixels(path, None)
        self.show_result(None)
        self.errors[path] = str(exc)
        self.results_list.show(path, None, self.errors[path])
        if self.index >= 0 and self.paths[self.index] == path:
            self.status(f"{Path(path).name} cannot be read  ({self.index + 1} / {len(self.paths)})")
        self._update_buttons()

    # -- inspecting ---------------------------------------------------------------------------
    def inspect_current(self) -> None:
        if not (0 <= self.index < len(self.paths)):
            messages.error(self, "Inspect", "Open an image first.")
            return
        path = self.paths[self.index]
        pixels = self.shown[1] if self.shown is not None and self.shown[0] == path else None
        self.session.infer(path, lambda rgb, result: self._inspected(path, rgb, result),
                           on_failure=lambda exc: self._not_inspected(path, exc), pixels=pixels)

    def _inspected(self, path: str, rgb, result: inference.InferenceResult) -> None:
        self.errors.pop(path, None)
        self.results[path] = result
        self.results_list.show(path, result)
        self.recorded.emit(path, result)
        if self.index >= 0 and self.paths[self.index] == path:
            self._show_pixels(path, rgb)
            self.show_result(result)

    def _not_inspected(self, path: str, exc) -> None:
        """The session shows the error. An image the engine refused is marked in the list (as Inspect all
        marks it); one that decodes is still shown, decoded here on this rare path."""
        if isinstance(exc, inference.ImageError):
            self._unreadable(path, exc)
        if self.shown is None and self.index >= 0 and self.paths[self.index] == path:
            try:
                self._show_pixels(path, inference.load_image(path))
            except inference.InspectorError:
                pass  # the error is shown already; nothing to draw

    def inspect_all(self) -> None:
        if not self.paths:
            messages.error(self, "Inspect all", "Open images or a folder first.")
            return
        paths = list(self.paths)
        self.session.inspect_many(paths, lambda outcomes: self._inspected_all(paths, outcomes))

    def _inspected_all(self, paths: list[str], outcomes: list) -> None:
        if paths != self.paths:
            return  # another folder was opened meanwhile
        self.results_table.setSortingEnabled(False)
        for p, outcome in zip(paths, outcomes):
            if isinstance(outcome, str):
                self.errors[p] = outcome
                self.results.pop(p, None)
            else:
                self.errors.pop(p, None)
                self.results[p] = outcome
                self.recorded.emit(p, outcome)
            self.results_list.show(p, self.results.get(p), self.errors.get(p))
        self.results_table.setSortingEnabled(True)
        current = self.results.get(paths[self.index]) if 0 <= self.index < len(paths) else None
        if current is not None:
            self.show_result(current)
        self.summary_label.setText(batch_summary(outcomes))
        self.status(batch_summary(outcomes))
        self._apply_filter()

    def show_result(self, result: Optional[inference.InferenceResult]) -> None:
        self.current = result
        self.nearest.follow()
        self.view.set_result(result)
        # What the model's foreground mask left out, veiled grey (issue 25); nothing for other models.
        self.view.set_masked(inference.foreground_overlay(self.session.model, result) if result is not None else None,
                             result.box if result is not None else None)
        self.view.overlay_item.setVisible(self.overlay_check.isChecked())
        self.regions.setRowCount(0)
        if result is None:
            self._show_badge(None)
            self.score_label.setText("score —")
            self.reason_label.setText("")
            self.colour_bar.set_scale(None, None)
            return
        self._show_badge(result.verdict)
        if result.verdict == "NOT_FOUND":
            self.score_label.setText(result.reason)
            self.reason_label.setText("The part was not found: neither OK nor NG.")
            self.colour_bar.set_scale(None, None)
            return
        thr = f"   threshold {result.threshold:.3f}" if result.threshold is not None else "   (not calibrated)"
        where = ""
        if result.location is not None:
            where = f"   located {result.location['angle_deg']:.1f}° (match {result.location['confidence']:.2f})"
        # Lighting compensation is never silent: how much this part's light was evened out (config brightness).
        light = (f"   light {result.brightness_shift:+.0f}" if result.brightness_shift is not None else "")
        self.score_label.setText(f"score {score_text(result.score)}{thr}{where}{light}")
        model = self.session.model
        self.reason_label.setText(explain(result, model is not None and model.record.roi_is_whole_image))
        self.colour_bar.set_scale(heat_scale(result, self.view.uncalibrated_scale), result.threshold)
        strong = set(result.ng_regions)
        bold = QFont(self.font())
        bold.setBold(True)
        for i, reg in enumerate(result.regions):
            self.regions.insertRow(i)
            makes_ng = "yes" if i in strong else ("too small" if not reg.counts else "no (score OK)")
            if reg.zones:  # with inspection zones: where it lies, each zone's share of it
                makes_ng += " · " + ", ".join(f"{name} {area if isinstance(area, int) else f'{area:.3g}'}"
                                              for name, area in reg.zones.items())
            cells = [str(i + 1), str(reg.area_px), "—" if reg.area_mm2 is None else f"{reg.area_mm2:.3f}",
                     f"{reg.length_px:.0f} px" if reg.length_mm is None else f"{reg.length_mm:.3f} mm",
                     f"{reg.centroid[0]:.1f}, {reg.centroid[1]:.1f}", makes_ng]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if i in strong:
                    item.setFont(bold)
                    item.setForeground(Qt.GlobalColor.red)
                else:
                    item.setForeground(Qt.GlobalColor.gray)
                self.regions.setItem(i, j, item)

    def _show_badge(self, verdict: Optional[str]) -> None:
        self.badge.setText({"NOT_FOUND": "NOT FOUND", "NO_VERDICT": "—", None: "—"}.get(verdict, verdict))
        self.badge.setStyleSheet(BADGE_STYLE.get(verdict, BADGE_STYLE[None]) +
                                 "font-size:20px; font-weight:bold; border-radius:6px; padding:4px;")

    def _region_selected(self) -> None:
        rows = self.regions.selectionModel().selectedRows()
        if self.current is None or not rows:
            return
        reg = self.current.regions[rows[0].row()]
        self.view.zoom_to(*reg.bbox)

    # -- results list ---------------------------------------------------------------------------
    def _result_selected(self) -> None:
        path = self.results_list.selected_path()
        if path in self.paths and self.paths.index(path) != self.index:
            self.go(self.paths.index(path))

    def _apply_filter(self, *_):
        self.results_list.apply_filter(self.filter_box.currentText())

    def choose_export(self) -> None:
        path = file_dialogs.save_file(self, "Export results", "results.csv", "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def export_csv(self, path: str) -> None:
        rows = [(p, self.results[p]) for p in self.paths if p in self.results]
        if not rows:
            messages.error(self, "Export", "No results yet: inspect the images first.")
            return
        try:
            write_results_csv(path, rows)
        except OSError as exc:
            messages.error(self, "Export", f"Cannot write {path}: {exc.strerror or exc}")
            return
        self.status(f"Saved {len(rows)} result(s) to {path}")

    # -- state ----------------------------------------------------------------------------------
    def _model_changed(self, model) -> None:
        # Before calibration the heatmap keeps one scale from the taught images, not each map's own peak.
        self.view.uncalibrated_scale = uncalibrated_scale(model)
        # Results of another model would be misleading next to the new one.
        self.results = {}
        for p in self.paths:
            self.results_list.show(p, None, self.errors.get(p))
        self.summary_label.setText("")
        self.show_result(None)
        self._update_buttons()

    def _update_buttons(self, *_):
        busy = self.session.runner.busy
        has_model = self.session.model is not None
        self.inspect_action.setEnabled(not busy and has_model and self.index >= 0)
        self.inspect_all_action.setEnabled(not busy and has_model and bool(self.paths))
        # Stepping stays open while an image is inspected (the next one waits for it).
        self.prev_action.setEnabled(self.index > 0)
        self.next_action.setEnabled(0 <= self.index < len(self.paths) - 1)
