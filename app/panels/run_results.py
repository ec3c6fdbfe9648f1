"""What the Run view shows of the line while it runs: the last part's image with its heatmap and its verdict in
large letters, the run's counters, the drift warning and the alarms, the last results and, on a tab beside them, the
run's messages (the status line shows only the newest), and the last NG part held beside them
(app/panels/run_panel.py starts and stops the run; this only shows it).

At ten parts a second an NG part's picture would show for a tenth of a second; held in its own small view with its
name, time and reason, it stays until the next NG, as the line display holds it (docs/plc.md). Master parts are
checks of the station, not production: a master's NG is not held.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView, QHeaderView, QLabel, QPlainTextEdit, QSplitter, QTableWidget, QTableWidgetItem, QTabWidget,
    QVBoxLayout, QWidget,
)

from inspector_line.runner import PartResult

from ..image_view import ImageView

LAST_N = 50  # rows in the "last results" table
MESSAGES_KEPT = 500  # lines of the run's messages on their tab (the log file keeps them all)
VERDICT_STYLE = {
    "OK": "background:#1e8e3e; color:white;",
    "NG": "background:#d93025; color:white;",
    "ERROR": "background:#e37400; color:white;",
    None: "background:#777; color:white;",
}
DRIFT_STYLE = "background:#fff3cd; color:#5c4400; padding:6px; border:1px solid #e0c36c;"
ALARM_STYLE = "background:#d93025; color:white; padding:6px; font-weight:bold;"
SERVING_STYLE = "background:#eef3fb; color:#1f3b63; padding:4px; border:1px solid #c5d3ea;"
LAST_NG_HEIGHT = 200  # pixels of the held NG part's view


def _label(name: str, style: str = "", wrap: bool = True) -> QLabel:
    label = QLabel("")
    label.setObjectName(name)
    label.setWordWrap(wrap)
    if style:
        label.setStyleSheet(style)
    return label


class RunResults(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.view = ImageView()
        self.verdict_label = _label("runVerdict", VERDICT_STYLE[None], wrap=False)
        self.verdict_label.setText("—")
        self.verdict_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = QFont()
        font.setPointSize(40)
        font.setBold(True)
        self.verdict_label.setFont(font)
        self.verdict_label.setMinimumHeight(110)
        self.detail_label = _label("runDetail")
        self.counters_label = _label("runCounters", wrap=False)
        big = QFont()
        big.setPointSize(14)
        self.counters_label.setFont(big)
        self.drift_label = _label("runDrift", DRIFT_STYLE)
        self.drift_label.setVisible(False)
        # The line's alarms (station.line_io.alarms, raised and cleared by the runner's publisher) as they come:
        # the active ones, one a line. Their limits are the Alarms… dialog's (RunOptions.alarm_limits).
        self.alarms: dict[str, str] = {}
        self.alarm_label = _label("runAlarms", ALARM_STYLE)
        self.alarm_label.setVisible(False)
        self.status_label = _label("runStatus")
        self.status_label.setText("Stopped.")
        # Where the run's servers are reached (the PLC's, the display's, Prometheus'), kept in view while it runs:
        # a line engineer types these addresses into the PLC's program and the panel PC's browser.
        self.serving_label = _label("runServing", SERVING_STYLE)
        self.serving_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.serving_label.setVisible(False)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("runResults")
        self.table.setHorizontalHeaderLabels(["Time", "Part", "Verdict", "Score"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        for col in (0, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip(f"The last {LAST_N} parts, newest first; the full record is in the history")
        # Every message of the run, time-stamped (files skipped, alarms raised and cleared, a PC refused, ...): the
        # status line shows only the newest, and a technician looks back at what the run said before.
        self.messages = QPlainTextEdit()
        self.messages.setObjectName("runMessages")
        self.messages.setReadOnly(True)
        self.messages.setMaximumBlockCount(MESSAGES_KEPT)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.table, "Parts")
        self.tabs.addTab(self.messages, "Messages")
        self.last_ng: Optional[PartResult] = None
        self.last_ng_view = ImageView()
        self.last_ng_view.setObjectName("runLastNgView")
        self.last_ng_view.setFixedHeight(LAST_NG_HEIGHT)
        self.last_ng_label = _label("runLastNg")
        self.last_ng_label.setToolTip("The last NG part of this run, held while good parts pass")

        side = QWidget()
        column = QVBoxLayout(side)
        for widget in (self.verdict_label, self.detail_label, self.counters_label, self.drift_label,
                       self.alarm_label):
            column.addWidget(widget)
        column.addWidget(self.tabs, 1)
        column.addWidget(self.last_ng_label)
        column.addWidget(self.last_ng_view)
        column.addWidget(self.serving_label)
        column.addWidget(self.status_label)
        split = QSplitter()
        split.addWidget(self.view)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self.clear()

    def clear(self) -> None:
        """A new run: nothing shown of the last one but its image."""
        self.table.setRowCount(0)
        self.drift_label.setVisible(False)
        self.set_alarm(None, "")
        self.show_counts(None)
        self.last_ng = None
        self.last_ng_label.setText("Last NG: none this run")
        self.last_ng_view.setVisible(False)
        self.show_serving(None)
        self.messages.clear()

    def show_serving(self, text: Optional[str]) -> None:
        """A server's start line, kept beside the others while the run goes on; None: the servers are closed."""
        if text:
            self.messages.appendPlainText(f"{datetime.now():%H:%M:%S}  {text}")
        lines = [line for line in self.serving_label.text().split("\n") if line] + [text] if text else []
        self.serving_label.setText("\n".join(lines))
        self.serving_label.setVisible(bool(lines))

    def show_part(self, part: PartResult) -> None:
        if part.image is not None:
            self.view.set_image(part.image)
            self.view.set_result(part.result)
        verdict = part.verdict
        self.verdict_label.setText(verdict if verdict is not None else "NO VERDICT")
        self.verdict_label.setStyleSheet(VERDICT_STYLE.get(verdict, VERDICT_STYLE[None]))
        self.detail_label.setText(f"{part.name}: {part.reason}" if part.reason else part.name)
        check = None  # a master part's: a check of the station, outside the counters
        if part.expected is not None:
            check = "passed" if part.verdict is part.expected else "FAILED"
            self.detail_label.setText(f"Master part {part.part_id}: check {check} (expected "
                                      f"{part.expected.value}). {self.detail_label.text()}")
        elif verdict == "NG":
            self._hold_ng(part)
        self.show_counts(part)
        if part.drift is not None:
            self.drift_label.setText(part.drift.message if part.drift.warning else "")
            self.drift_label.setVisible(part.drift.warning)
        self.table.insertRow(0)
        shown = (verdict or "—") + (f" (master {check})" if check else "")
        score = "" if part.score is None else f"{part.score:.4f}"
        cells = [datetime.now().strftime("%H:%M:%S"), part.name, shown, score]
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if col == 2 and (verdict in ("NG", "ERROR") or check == "FAILED"):
                item.setForeground(Qt.GlobalColor.red)
            self.table.setItem(0, col, item)
        while self.table.rowCount() > LAST_N:
            self.table.removeRow(self.table.rowCount() - 1)

    def _hold_ng(self, part: PartResult) -> None:
        self.last_ng = part
        who = f"{part.name} (part {part.part_id})" if part.part_id else part.name
        reason = f": {part.reason}" if part.reason else ""
        self.last_ng_label.setText(f"Last NG: {who} at {datetime.now().strftime('%H:%M:%S')}{reason}")
        if part.image is not None:
            self.last_ng_view.set_image(part.image)
            self.last_ng_view.set_result(part.result)
        self.last_ng_view.setVisible(part.image is not None)

    def show_counts(self, part: Optional[PartResult]) -> None:
        if part is None:
            self.counters_label.setText("Total 0   NG 0   ERROR 0   Yield —")
            return
        c = part.counts
        extra = "".join(f"   {name} {n}" for name, n in (("not found", c.not_found), ("no verdict", c.no_verdict)) if n)
        self.counters_label.setText(f"Total {c.total}   NG {c.ng}   ERROR {c.error}{extra}   Yield {c.yield_text()}")

    def show_message(self, text: str) -> None:
        """One of the run's messages: a drift warning or its end, an alarm raised or cleared, else the status; each
        also on the Messages tab."""
        self.messages.appendPlainText(f"{datetime.now():%H:%M:%S}  {text}")
        if text.startswith("DRIFT"):
            self.drift_label.setText(text)
            self.drift_label.setVisible(True)
        elif text.startswith("drift cleared"):
            self.drift_label.setVisible(False)
        elif text.startswith(("ALARM ", "alarm cleared ")):
            raised = text.startswith("ALARM ")
            self.set_alarm(text.split(" ", 2 if not raised else 1)[-1].split(":", 1)[0], text if raised else "")
            self.status_label.setText(text)
        else:
            self.status_label.setText(text)

    def set_alarm(self, name: Optional[str], message: str) -> None:
        """An alarm raised (message) or cleared (""); None clears all (a new run)."""
        if name is None:
            self.alarms.clear()
        elif message:
            self.alarms[name] = message
        else:
            self.alarms.pop(name, None)
        self.alarm_label.setText("\n".join(self.alarms.values()))
        self.alarm_label.setVisible(bool(self.alarms))


__all__ = ["RunResults"]
