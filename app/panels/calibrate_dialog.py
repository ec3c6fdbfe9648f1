"""Calibrate: score OK and NG image sets, place the threshold on their histograms, save a calibrated version.

The histograms show each image's verdict level (inference.verdict_level: the highest threshold at which the
verdict rule, score and minimum region area, calls it NG), so the line, the counts and the saved FAR / FRR say
what inspection will do. The suggested threshold is the station's calibration (the engine's method)."""

from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QListWidget,
    QLineEdit, QPushButton, QVBoxLayout,
)

import inference

from .. import file_dialogs, messages
from .progress import ProgressStrip
from .score_histogram import BinList, ScoreHistogram, bin_members
from .teach_panel import IMAGE_FILTER, image_paths_from


def histograms(ok: list[float], ng: list[float], bins: int = 30):
    """Shared bin edges and the OK and NG counts (levels of -inf, never NG, are left out of the bars)."""
    ok = [v for v in ok if np.isfinite(v)]
    ng = [v for v in ng if np.isfinite(v)]
    scores = np.asarray(list(ok) + list(ng) or [0.0], dtype=np.float64)
    lo, hi = float(scores.min()), float(scores.max())
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.05 * (hi - lo)
    edges = np.linspace(lo - pad, hi + pad, bins + 1)
    return edges, np.histogram(ok, edges)[0], np.histogram(ng, edges)[0]


def counts_text(ok: list[float], ng: list[float], threshold: float) -> str:
    """The lines under the histogram: the counts at the threshold, then what so few images can show of the line's
    rates (their 95 % bounds); the counting is calibration.py's (threshold_errors)."""
    errors = inference.threshold_errors(ok, ng, threshold)
    text = f"False rejects: {errors.false_rejects} of {errors.n_ok} OK (FRR {100 * errors.frr:.1f}%)"
    if not errors.n_ng:
        text += "   ·   False accepts: no NG images (FAR unknown)"
    else:
        text += f"   ·   False accepts: {errors.false_accepts} of {errors.n_ng} NG (FAR {100 * errors.far:.1f}%)"
    return text + "\n" + errors.evidence


class ImageSetBox(QGroupBox):
    def __init__(self, title: str, tip: str, parent=None):
        super().__init__(title, parent)
        self.list = QListWidget()
        self.list.setToolTip(tip)
        self.list.setObjectName(title.split()[0].lower() + "List")
        add = QPushButton("Add images…")
        add.setToolTip(f"Add files to the {title} set")
        add.clicked.connect(self._choose_files)
        folder = QPushButton("Add folder…")
        folder.setToolTip(f"Add every image of a folder to the {title} set")
        folder.clicked.connect(self._choose_folder)
        clear = QPushButton("Clear")
        clear.setToolTip(f"Empty the {title} set")
        clear.clicked.connect(self.list.clear)
        row = QHBoxLayout()
        for b in (add, folder, clear):
            row.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.list)

    def paths(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def add_paths(self, paths) -> None:
        have = set(self.paths())
        for p in image_paths_from(paths):
            if p not in have:
                self.list.addItem(p)
                have.add(p)

    def _choose_files(self):
        files = file_dialogs.open_files(self, self.title(), IMAGE_FILTER)
        self.add_paths(files)

    def _choose_folder(self):
        folder = file_dialogs.open_folder(self, self.title())
        if folder:
            self.add_paths([folder])


class CalibrateDialog(QDialog):
    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.setObjectName("calibrateDialog")
        self.setWindowTitle("Calibrate")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.resize(900, 680)
        self.session = session
        # The verdict levels of the OK and NG images (the scores, without an area limit).
        self.ok_scores: list[float] = []
        self.ng_scores: list[float] = []
        self.suggested: Optional[inference.Calibration] = None
        self.samples: Optional[inference.CalibrationSamples] = None
        self._save_when_scored = False
        self.scored_model: Optional[inference.Model] = None

        self.ok_box = ImageSetBox("OK images", "Good parts NOT used for teaching: their scores set the threshold")
        self.ng_box = ImageSetBox("NG images", "Defective parts (optional): they let the threshold separate OK and NG")
        self.compute_button = QPushButton("Compute scores")
        self.compute_button.setObjectName("computeScores")
        self.compute_button.setToolTip("Score every image with the model (runs in the background)")
        self.compute_button.clicked.connect(self.compute)

        self.plot = ScoreHistogram()
        self.line, self.ok_bars, self.ng_bars = self.plot.line, self.plot.ok_bars, self.plot.ng_bars
        self.line.sigPositionChanged.connect(self._threshold_moved)
        # Which images the scores belong to (known after Compute scores; the saved calibration keeps scores only).
        self.ok_paths: list[str] = []
        self.ng_paths: list[str] = []
        self.bin_list = BinList()
        self.plot.binClicked.connect(self.show_bin)

        self.percentile = QDoubleSpinBox()
        self.percentile.setObjectName("scorePercentile")
        self.percentile.setRange(0.1, 100.0)
        self.percentile.setDecimals(1)
        self.percentile.setToolTip("Without NG images the threshold is this percentile of the OK scores")
        self.area = QDoubleSpinBox()
        self.area.setObjectName("areaLimit")
        self.area.setRange(0.0, 1e6)
        self.area.setDecimals(3)
        model = session.model
        # The limits the line judges with are kept unless changed here (Station.kept_limits); the config's for a
        # first calibration.
        kept = session.station.kept_limits(model) if model is not None else None
        self.area.setValue(session.doc.config.min_area if kept is None or kept.min_area is None else kept.min_area)
        self.percentile.setValue(session.doc.config.score_percentile if kept is None or kept.score_percentile is None
                                 else kept.score_percentile)
        self.percentile.valueChanged.connect(self._suggest)
        self.area.valueChanged.connect(self._suggest)  # the area limit moves every image's verdict level
        # The model's unit: mm² when it knows its pixel size, else px.
        mm2 = model is not None and inference.area_unit(model.mm_per_px) == "mm2"
        self.area.setSuffix(" mm²" if mm2 else " px")
        self.area.setToolTip("Regions smaller than this do not make a part NG: mm² when the model knows mm per "
                             "pixel, else px")
        self.length = QDoubleSpinBox()
        self.length.setObjectName("lengthLimit")
        self.length.setRange(0.0, 1e6)
        self.length.setDecimals(3)
        self.length.setValue(session.doc.config.min_length if kept is None or kept.min_length is None
                             else kept.min_length)
        self.length.setSuffix(" mm" if mm2 else " px")
        self.length.setSpecialValueText("none")
        self.length.setToolTip("A region at least this long (its longest distance across) makes a part NG whatever "
                               "its area: a thin scratch. 0: none")
        self.length.valueChanged.connect(self._suggest)
        self.zones = QLabel()
        self.zones.setObjectName("calibrationZones")
        self.zones.setWordWrap(True)
        self.zones.setToolTip("Inspection zones with their own minimum area, drawn in the Setup panel (Inspection "
                              "zones); the minimum region area holds elsewhere")
        session.doc.zonesChanged.connect(self._show_zones)
        self.counts = QLabel("Compute the scores first.")
        self.counts.setObjectName("calibrationCounts")
        self.counts.setWordWrap(True)  # the second line (what the images can show) is a sentence
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setObjectName("thresholdValue")
        self.threshold_spin.setDecimals(4)
        self.threshold_spin.setRange(-1e9, 1e9)
        self.threshold_spin.setToolTip("The threshold: scores at or above it are NG (also set by dragging the line)")
        self.threshold_spin.valueChanged.connect(lambda v: self.line.setValue(v))
        self.reset_button = QPushButton("Suggest")
        self.reset_button.setToolTip("Put the line back at the suggested threshold")
        self.reset_button.clicked.connect(self._suggest)

        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("saveCalibration")
        self.save_button.setToolTip("Write calibration.json with this threshold and minimum region area")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save)
        close = QPushButton("Close")
        close.setToolTip("Close without saving")
        close.clicked.connect(self.reject)
        self.progress = ProgressStrip(session.runner)

        sets = QHBoxLayout()
        sets.addWidget(self.ok_box)
        sets.addWidget(self.ng_box)
        form = QFormLayout()
        form.addRow("Score percentile", self.percentile)
        form.addRow("Minimum region area", self.area)
        form.addRow("Minimum region length", self.length)
        form.addRow("Zones", self.zones)
        threshold_row = QHBoxLayout()
        threshold_row.addWidget(self.threshold_spin)
        threshold_row.addWidget(self.reset_button)
        form.addRow("Threshold", threshold_row)

        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        # Why this calibration, beside Save (no row of its own: the plot keeps its height): the audit trail keeps
        # it with who saved, as `calibrate --note` does.
        self.note_edit = QLineEdit()
        self.note_edit.setObjectName("calibrationNote")
        self.note_edit.setPlaceholderText("note: why (optional), kept in the audit trail")
        buttons.addWidget(self.note_edit, 1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(sets, 1)
        layout.addWidget(self.compute_button)
        layout.addWidget(self.plot, 2)
        layout.addWidget(self.bin_list)
        layout.addLayout(form)
        layout.addWidget(self.counts)
        layout.addLayout(buttons)
        session.runner.busyChanged.connect(self._busy)
        self._show_zones(session.doc.zones)
        self._show_saved()

    def _show_saved(self) -> None:
        """Open on what calibration.json holds: its threshold, limits and score histograms, and the sets used."""
        sets = self.session.doc.calibration_images
        self.ok_box.add_paths(sets.get("ok", []))
        self.ng_box.add_paths(sets.get("ng", []))
        model = self.session.model
        cal = model.calibration if model is not None else None
        if cal is None or not cal.ok_scores:
            return
        self.percentile.blockSignals(True)
        self.percentile.setValue(cal.score_percentile)
        self.percentile.blockSignals(False)
        self.area.setValue(cal.min_area)
        self.length.setValue(cal.min_length)
        ok_levels, ng_levels = cal.levels
        self._show_scores([float(v) for v in ok_levels], [float(v) for v in ng_levels])
        self.set_threshold(cal.threshold)
        self.counts.setText(f"Saved calibration: threshold {cal.threshold:.4f}. "
                            + counts_text(self.ok_scores, self.ng_scores, cal.threshold))

    def _show_zones(self, zones) -> None:
        """Which zones the calibration will have: the ones drawn (the line's own unless edited since)."""
        model = self.session.model
        unit = " mm²" if model is not None and inference.area_unit(model.mm_per_px) == "mm2" else " px"
        self.zones.setText(", ".join(f"{z.name}: {z.min_area:g}{unit}" for z in zones) if zones else
                           "none (the minimum region area holds over the whole ROI)")
        if self.isVisible():  # a dialog closed earlier stays the window's child: it computes nothing more
            self._suggest()  # each zone's limit moves the verdict levels of the images with regions there

    # -- scoring --------------------------------------------------------------------------------
    def compute(self) -> None:
        ok, ng = self.ok_box.paths(), self.ng_box.paths()
        if not ok:
            messages.error(self, "Calibrate", "Add at least one OK image (not one used for teaching).")
            return
        self.counts.setText("Scoring…")
        self._scoring_paths = (list(ok), list(ng))
        self.session.calibration_samples(ok, ng, self._scored)

    def _scored(self, model: inference.Model, samples: inference.CalibrationSamples) -> None:
        self.scored_model, self.samples = model, samples
        self.ok_paths, self.ng_paths = self._scoring_paths
        self._suggest()
        self._threshold_moved()  # the counts of the new scores, also when the line did not move
        if self._save_when_scored:  # Save was pressed before the images were scored (a saved calibration shown)
            self._save_when_scored = False
            self.save()

    def _show_scores(self, ok: list[float], ng: list[float]) -> None:
        self.ok_scores, self.ng_scores = ok, ng
        edges, ok_counts, ng_counts = histograms(self.ok_scores, self.ng_scores)
        self.plot.show_counts(edges, ok_counts, ng_counts)
        self.save_button.setEnabled(not self.session.runner.busy)

    def show_bin(self, i: int) -> None:
        """List the images of histogram bar `i` (a click on the plot)."""
        edges = self.plot.edges
        lo, hi, last = float(edges[i]), float(edges[i + 1]), i == len(edges) - 2
        known = len(self.ok_paths) == len(self.ok_scores) and len(self.ng_paths) == len(self.ng_scores)
        self.bin_list.show_bin(lo, hi, bin_members(self.ok_paths, self.ok_scores, lo, hi, last) if known else [],
                               bin_members(self.ng_paths, self.ng_scores, lo, hi, last) if known else [], known)

    def _suggest(self, *_):
        if self.samples is None:
            return
        try:
            self.suggested = self.session.station.calibration_from(
                self.scored_model, self.samples, score_percentile=self.percentile.value(), min_area=self.area.value(),
                zones=self.session.doc.zones, min_length=self.length.value())
        except inference.InspectorError as exc:
            messages.error(self, "Calibrate", exc)
            return
        self._show_scores(*self.suggested.levels)
        self.set_threshold(self.suggested.threshold)

    def set_threshold(self, value: float) -> None:
        self.line.setValue(value)

    @property
    def threshold(self) -> float:
        return float(self.line.value())

    def _threshold_moved(self, *_):
        self.threshold_spin.blockSignals(True)
        self.threshold_spin.setValue(self.threshold)
        self.threshold_spin.blockSignals(False)
        if self.ok_scores:
            self.counts.setText(counts_text(self.ok_scores, self.ng_scores, self.threshold))

    # -- saving ---------------------------------------------------------------------------------
    def calibration(self) -> inference.Calibration:
        """The suggested calibration with the threshold where the user put the line."""
        if self.suggested is None:
            raise inference.InspectorError("compute the scores first")
        base = self.suggested
        if abs(self.threshold - base.threshold) < 1e-12:
            return base
        return inference.with_threshold(base, self.threshold)

    def save(self) -> None:
        if self.samples is None:
            # A saved calibration is shown, but a new area limit or threshold moves every image's verdict
            # level, which needs the images' maps: score them first, then save.
            if not self.ok_box.paths():
                messages.error(self, "Calibrate", "Add the OK images (and NG images), then save.")
                return
            self._save_when_scored = True
            self.compute()
            return
        try:
            cal = self.calibration()
        except inference.InspectorError as exc:
            messages.error(self, "Calibrate", exc)
            return
        self.session.doc.set_calibration_images(self.ok_box.paths(), self.ng_box.paths())
        self.session.save_calibration(cal, lambda model: self._saved(model.calibration), model=self.scored_model,
                                      note=self.note_edit.text().strip())

    def _saved(self, cal: inference.Calibration) -> None:
        self.counts.setText(f"Saved: threshold {cal.threshold:.4f}. " + counts_text(self.ok_scores, self.ng_scores,
                                                                                    cal.threshold))
        if cal.warning:  # saved, but not to be trusted as it stands: the warning says why
            messages.notice(self.parentWidget() or self, "Calibration saved, with a warning", cal.warning)
        self.accept()

    def _busy(self, busy: bool) -> None:
        self.compute_button.setEnabled(not busy)
        self.save_button.setEnabled(not busy and bool(self.ok_scores))

    def reject(self) -> None:
        if self.session.runner.busy:
            self.session.runner.cancel()
        super().reject()
