"""History: past inspections of this project (the run mode's and the window's own), reviewed and taught back.

Filter by time, verdict and score; sort by any column; select a row to see the
part with the regions that made it NG; mark false rejects / false accepts; send
marked false rejects to Teach, marked images to Calibrate; export CSV or JSON; a report per shift, hour or day.
"""

from __future__ import annotations

import html
import time
from datetime import datetime
from pathlib import Path
from typing import Callable, Collection, Optional

import cv2
import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView, QCheckBox, QComboBox, QDialog, QDoubleSpinBox, QGridLayout, QHBoxLayout, QHeaderView, QLabel,
    QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

import inference
from station import ErrorCode, history as hist
from station.history_filters import local_time
from station.review import MarkedImages, marked_images
from inspector_line.export import export_csv, export_json

from .. import file_dialogs, messages
from ..access_guard import AccessGuard
from .periods_dialog import PeriodsDialog
from .table_widgets import ScoreItem
from .trend_chart import TrendChart

MAX_ROWS = 2000  # newest rows shown; the filters narrow down the rest
SINCE = (("Last hour", 3600.0), ("Last 24 hours", 86400.0), ("Last 7 days", 7 * 86400.0), ("All time", None))
VERDICTS = (("All verdicts", None), ("NG", "NG"), ("OK", "OK"), ("Not found", "NOT_FOUND"),
            ("No verdict", hist.NO_VERDICT), ("Error", "ERROR"))
# The ERRORs of one cause (the PLC's ErrorCode), as `inspector history --cause` lists them.
CAUSES = tuple((f"Error: {code.cause}", int(code)) for code in ErrorCode if code is not ErrorCode.NONE)
PURPOSES = (("Line and bench", None), ("Line only", "line"), ("Bench checks only", "bench"),
            ("Master parts only", "master"))
LABEL_WORDS = {"false_reject": "false reject", "false_accept": "false accept", None: ""}
COLUMNS = ("time", "image", "verdict", "score", "review", "source")
# Shown in this order (the review column must be in sight in a narrow dock; the long ones come last).
VISUAL_ORDER = ("time", "verdict", "score", "review", "image", "source")
THUMB = 128


class HistoryPanel(QWidget):
    # Past inspection chosen: its image (or None when the file is gone) and the row, for the window to show.
    inspectionShown = Signal(object, object)
    teachRequested = Signal(list)  # image paths marked false reject: add them to the model
    calibrateRequested = Signal(list, list)  # OK paths (false rejects), NG paths (false accepts)
    reinspectRequested = Signal(str)  # inspect this file again with the current model (double-click)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("historyPanel")
        self.history: Optional[hist.History] = None
        self.folder: Optional[Path] = None
        self.rows: list[hist.Inspection] = []
        # The sha256 of the images the window's model was taught (set by the window: history_link.py).
        self.taught: Callable[[], Collection[str]] = lambda: ()
        self.access = AccessGuard(None, self)  # who marks, and whether they may (the window's, set by HistoryLink)
        # The window's inspections are recorded by the station layer in the inspecting worker (session.py);
        # this view only reads.

        self.since = QComboBox()
        self.since.setObjectName("historySince")
        for text, _ in SINCE:
            self.since.addItem(text)
        self.since.setCurrentIndex(len(SINCE) - 1)
        self.verdict = QComboBox()
        self.verdict.setObjectName("historyVerdict")
        for text, _ in VERDICTS + CAUSES:
            self.verdict.addItem(text)
        self.min_score = QDoubleSpinBox()
        self.min_score.setObjectName("historyMinScore")
        self.min_score.setRange(0.0, 1e6)
        self.min_score.setDecimals(3)
        self.min_score.setSpecialValueText("any score")
        self.min_score.setToolTip("Show only inspections scoring at least this")
        self.purpose = QComboBox()
        self.purpose.setObjectName("historyPurpose")
        self.purpose.setToolTip("Line inspections (run mode, service, infer), bench checks (this window's Inspect "
                                "tab, infer --bench) or master parts run to verify the station (inspector run "
                                "--masters)")
        for text, _ in PURPOSES:
            self.purpose.addItem(text)
        for w in (self.since, self.verdict, self.purpose):
            w.currentIndexChanged.connect(self.refresh)
        self.min_score.valueChanged.connect(self.refresh)
        self.trend_check = QCheckBox("Trend")
        self.trend_check.setObjectName("historyTrendShown")
        self.trend_check.setToolTip("Show the score and yield over time of the inspections listed")
        self.trend_check.setChecked(True)
        # Two rows, and the actions below two by two: in one row each they made the window wider than a line
        # PC's screen.
        filters = QGridLayout()
        for i, w in enumerate((self.since, self.verdict, self.trend_check, self.purpose, self.min_score)):
            filters.addWidget(w, i // 3, i % 3)
        self.trend = TrendChart()
        self.trend.setMinimumHeight(150)
        self.trend.setMaximumHeight(230)  # the list below keeps most of a narrow dock
        self.trend_check.toggled.connect(self.trend.setVisible)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("historyTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        for visual, name in enumerate(VISUAL_ORDER):
            header = self.table.horizontalHeader()
            header.moveSection(header.visualIndex(COLUMNS.index(name)), visual)
        self.table.horizontalHeaderItem(0).setToolTip("Local time (month-day hours:minutes:seconds)")
        self.table.setToolTip("Past inspections, newest first: click a header to sort, select a row to see it, "
                              "double-click to inspect it again with the current model")
        self.table.itemSelectionChanged.connect(self._selected)
        self.table.itemDoubleClicked.connect(self._double_clicked)

        self.summary = QLabel()
        self.summary.setObjectName("historySummary")
        self.summary.setWordWrap(True)
        self.detail = QLabel()
        self.detail.setObjectName("historyDetail")
        self.detail.setWordWrap(True)
        self.thumb = QLabel()
        self.thumb.setObjectName("historyHeatmap")
        self.thumb.setToolTip("The heatmap kept with this inspection")
        detail_row = QHBoxLayout()
        detail_row.addWidget(self.thumb)
        detail_row.addWidget(self.detail, 1)

        self.reject_button = QPushButton("False reject")
        self.reject_button.setObjectName("markFalseReject")
        self.reject_button.setToolTip("Mark the selected NG results as good parts wrongly rejected")
        self.reject_button.clicked.connect(lambda: self.mark("false_reject"))
        self.accept_button = QPushButton("False accept")
        self.accept_button.setObjectName("markFalseAccept")
        self.accept_button.setToolTip("Mark the selected OK results as bad parts wrongly passed")
        self.accept_button.clicked.connect(lambda: self.mark("false_accept"))
        self.clear_button = QPushButton("Clear mark")
        self.clear_button.setToolTip("Remove the review mark of the selected results")
        self.clear_button.clicked.connect(lambda: self.mark(None))
        marks = QHBoxLayout()
        for b in (self.reject_button, self.accept_button, self.clear_button):
            marks.addWidget(b)

        self.teach_button = QPushButton("Teach false rejects…")
        self.teach_button.setObjectName("teachFalseRejects")
        self.teach_button.setToolTip("Add every image marked false reject to the Teach list, to add to the model")
        self.teach_button.clicked.connect(self.teach_false_rejects)
        self.calibrate_button = QPushButton("Calibrate with marked…")
        self.calibrate_button.setObjectName("calibrateMarked")
        self.calibrate_button.setToolTip("Open Calibrate with the false rejects as OK and the false accepts as NG")
        self.calibrate_button.clicked.connect(self.calibrate_marked)
        self.export_button = QPushButton("Export…")
        self.export_button.setObjectName("exportHistory")
        self.export_button.setToolTip("Save the rows shown as CSV or JSON")
        self.export_button.clicked.connect(self.choose_export)
        self.report_button = QPushButton("Report…")
        self.report_button.setObjectName("historyReport")
        self.report_button.setToolTip("The counts and yield per shift, hour or day of the time shown, master parts' "
                                      "checks apart (as inspector history --by)")
        self.report_button.clicked.connect(self.show_report)
        actions = QGridLayout()
        for i, b in enumerate((self.teach_button, self.calibrate_button, self.export_button, self.report_button)):
            actions.addWidget(b, i // 2, i % 2)

        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.summary)
        layout.addWidget(self.trend)
        layout.addWidget(self.table, 1)
        layout.addLayout(detail_row)
        layout.addLayout(marks)
        layout.addLayout(actions)
        self.update_buttons()

    # -- the database ----------------------------------------------------------------------------
    def set_project(self, folder: Optional[Path]) -> None:
        if self.history is not None:
            self.history.close()
            self.history = None
        self.folder = folder
        self.summary.setText("")
        self._open_history()
        self.refresh()

    def _open_history(self) -> None:
        """Open the project's history; one that could not be opened yet (a new project's folder made after the
        window switched to it) is tried again at each refresh, so the first inspections are listed."""
        if self.history is not None or self.folder is None:
            return
        try:
            self.history = hist.History(hist.default_path(self.folder))
        except inference.InspectorError as exc:
            self.summary.setText(f"No history: {exc}")

    def filters(self) -> dict:
        span = SINCE[self.since.currentIndex()][1]
        chosen = self.verdict.currentIndex()
        cause = CAUSES[chosen - len(VERDICTS)][1] if chosen >= len(VERDICTS) else None
        return {"since": None if span is None else time.time() - span,
                "verdict": "ERROR" if cause is not None else VERDICTS[chosen][1], "error_code": cause,
                "purpose": PURPOSES[self.purpose.currentIndex()][1],
                "min_score": self.min_score.value() or None}

    def show_report(self) -> Optional[QDialog]:
        """The periods of the time and purpose shown (PeriodsDialog); returns it (modeless) for tests."""
        if self.history is None:
            return None
        f = self.filters()
        dialog = PeriodsDialog(self.history, {"since": f["since"], "purpose": f["purpose"]}, self)
        dialog.show()
        return dialog

    def show_detail(self, row: Optional[hist.Inspection]) -> None:
        """The detail line and heatmap of one row (None: nothing selected, nothing shown)."""
        if row is None:
            self.detail.setText("")
            self.thumb.setPixmap(QPixmap())
            return
        where = row.image_path()
        when = local_time(row.time)
        self.detail.setText(f"<b>{_verdict_cell(row)}</b> {html.escape(row.file_name)}, {when}<br>"
                            f"{html.escape(row.reason or row.error or '')}"
                            + ("" if where else "<br><i>The image file is no longer there.</i>"))
        self.thumb.setPixmap(self._thumbnail(row.heatmap_png))

    def refresh(self, *_) -> None:
        if self.detail.text():
            # The list is rebuilt without a selection: the detail of a row no longer selected must go too.
            self.show_detail(None)
            self.inspectionShown.emit(None, None)
        self.table.setSortingEnabled(False)
        self.table.setRowCount(0)
        self.rows = []
        self.trend.set_rows([])
        self._open_history()
        if self.history is None:
            self.summary.setText(self.summary.text() if self.summary.text().startswith("No history") else
                                 "Open a project: its inspections are listed here.")
            self.update_buttons()
            return
        try:
            f = self.filters()
            self.rows = self.history.query(**f, limit=MAX_ROWS)
            total = self.history.count(**f)
            counts = self.history.counts(since=f["since"])
        except inference.InspectorError as exc:
            self.summary.setText(f"Cannot read the history: {exc}")
            self.update_buttons()
            return
        for r, row in enumerate(self.rows):
            self.table.insertRow(r)
            when = datetime.fromtimestamp(row.time).strftime("%m-%d %H:%M:%S")
            # The file's name: `inspector infer` records its whole path (the detail line shows it), a narrow dock
            # would show only its folders.
            score = "" if row.score is None else f"{row.score:.3f}"
            cells = [when, Path(row.file_name).name or row.file_name, _verdict_cell(row), score,
                     LABEL_WORDS.get(row.label, row.label or "") + (f" (by {row.marked_by})" if row.label and row.marked_by
                                                                    else ""),
                     row.source + (f" ({row.purpose_note})" if row.purpose_note else "")]
            for c, text in enumerate(cells):
                item = ScoreItem(text) if c == 3 else QTableWidgetItem(text)
                if c == 0:
                    item.setData(Qt.ItemDataRole.UserRole, row.id)
                if c == 3:
                    item.setData(Qt.ItemDataRole.UserRole + 1, row.score)
                if c == 2 and row.verdict in ("NG", "ERROR"):
                    item.setForeground(Qt.GlobalColor.red)
                item.setToolTip(row.reason or row.error or "")
                self.table.setItem(r, c, item)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.trend.set_rows(self.rows)
        shown = f"{len(self.rows)} of {total}" if total > len(self.rows) else f"{total}"
        self.summary.setText(f"{shown} inspection(s) shown. In this period: {counts.summary()}.")
        self.update_buttons()

    # -- selection and review --------------------------------------------------------------------
    def selected_ids(self) -> list[int]:
        return [self.table.item(i.row(), 0).data(Qt.ItemDataRole.UserRole)
                for i in self.table.selectionModel().selectedRows()]

    def _selected(self) -> None:
        self.update_buttons()
        ids = self.selected_ids()
        if len(ids) != 1 or self.history is None:
            return
        row = self.history.get(ids[0])
        if row is None:
            return
        self.show_detail(row)
        where = row.image_path()
        self.inspectionShown.emit(str(where) if where else None, row)

    def _double_clicked(self, item) -> None:
        row = self.history.get(self.table.item(item.row(), 0).data(Qt.ItemDataRole.UserRole)) if self.history else None
        where = row.image_path() if row is not None else None
        if where is not None:
            self.reinspectRequested.emit(str(where))

    @staticmethod
    def _thumbnail(png: Optional[bytes]) -> QPixmap:
        if not png:
            return QPixmap()
        bgra = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
        if bgra is None:
            return QPixmap()
        rgba = np.ascontiguousarray(cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGBA if bgra.shape[-1] == 4
                                                 else cv2.COLOR_BGR2RGBA))
        image = QImage(rgba.data, rgba.shape[1], rgba.shape[0], 4 * rgba.shape[1], QImage.Format.Format_RGBA8888)
        return QPixmap.fromImage(image.copy())

    def mark(self, label: Optional[str]) -> None:
        ids = self.selected_ids()
        if not ids or self.history is None or self.access.refuse(self, "Review", "review"):
            return
        try:
            for row_id in ids:
                self.history.mark(row_id, label, who=self.access.who)
        except inference.InspectorError as exc:
            messages.error(self, "Review", exc)
        self.refresh()

    def marked(self, label: str, taught: bool = False) -> MarkedImages:
        """The images of every row with this mark (station/review.py, as `inspector fit --false-rejects` takes
        them); `taught`: less those the window's model taught already (`self.taught`, set by the window)."""
        if self.history is None:
            return MarkedImages(label)
        return marked_images(self.history, label, self.taught() if taught else ())

    def teach_false_rejects(self) -> None:
        marked = self.marked("false_reject", taught=True)
        if not marked.paths:
            messages.error(self, "Teach false rejects", "No image to teach: " + marked.summary() + ". Select NG "
                           "rows of good parts and press False reject.")
            return
        self.teachRequested.emit([str(p) for p in marked.paths])

    def calibrate_marked(self) -> None:
        # A false reject the model has taught would score low: no OK image to calibrate it with (as the CLI's).
        rejects, accepts = self.marked("false_reject", taught=True), self.marked("false_accept")
        if not rejects.paths and not accepts.paths:
            messages.error(self, "Calibrate with marked", f"No image to calibrate with: {rejects.summary()}, "
                           f"{accepts.summary()}.")
            return
        self.calibrateRequested.emit([str(p) for p in rejects.paths], [str(p) for p in accepts.paths])

    def choose_export(self) -> None:
        path = file_dialogs.save_file(self, "Export the history", "history.csv", "CSV (*.csv);;JSON (*.json)")
        if path:
            self.export(path)

    def export(self, path: str) -> bool:
        if not self.rows:
            messages.error(self, "Export", "No inspections shown: change the filters.")
            return False
        try:
            if Path(path).suffix.lower() == ".json":
                export_json(path, self.rows)
            else:
                export_csv(path, self.rows)
        except (inference.InspectorError, OSError) as exc:
            messages.error(self, "Export", exc if isinstance(exc, inference.InspectorError) else
                           f"Cannot write {path}: {exc.strerror or exc}")
            return False
        return True

    def selected_verdicts(self) -> set:
        return {self.table.item(i.row(), 2).text() for i in self.table.selectionModel().selectedRows()}

    def update_buttons(self) -> None:
        has = self.history is not None
        verdicts = self.selected_verdicts() if has else set()
        # A false reject is an NG of a good part, a false accept an OK of a bad one: never an ERROR row.
        review, teach = self.access.may("review"), self.access.may("teach")
        self.reject_button.setEnabled(verdicts == {"NG"} and review)
        self.accept_button.setEnabled(verdicts == {"OK"} and review)
        self.clear_button.setEnabled(bool(verdicts) and review)
        for b in (self.teach_button, self.calibrate_button):
            b.setEnabled(has and teach)
        for b in (self.export_button, self.report_button):
            b.setEnabled(has)


def _verdict_cell(row: hist.Inspection) -> str:
    """The verdict as the list shows it: an ERROR with its cause, as the PLC's ErrorCode gave it ("ERROR
    (no_image)"); other verdicts, and rows written before the history kept the cause, as they are."""
    cause = ErrorCode.known(row.error_code)
    return f"{row.verdict_text} ({cause.cause})" if cause else row.verdict_text
