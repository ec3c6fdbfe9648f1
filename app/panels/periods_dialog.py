"""The history per hour, day or shift, for the line lead at the end of a shift (History > Report…): the same
figures as `inspector history --by` (station/history_periods.py), production parts' counts and yield with the
master parts' checks apart; or the NG parts per inspection zone of their largest defect (`--by zone`,
station/history_zones.py), where the process fails; or the ERRORs per cause (`--by cause`), what keeps parts from
being judged; or the alarms raised and cleared (`--alarms`,
station/line_io/alarm_log.py)."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QDialog, QDialogButtonBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
    QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

import inference
from station.history_filters import local_time
from station.history_periods import DEFAULT_SHIFTS, parse_shifts, periods, total
from station.history_causes import cause_records
from station.history_zones import zone_records
from station.line_io.alarm_log import alarm_events, alarm_totals, total_text

BY = (("By shift", "shift"), ("By hour", "hour"), ("By day", "day"), ("NG by zone", "zone"),
      ("ERROR by cause", "cause"), ("Alarms", "alarms"))
HEADERS = ("period", "parts", "OK", "NG", "not found", "no verdict", "error", "yield", "master checks")
ZONE_HEADERS = ("zone", "NG parts", "share")
CAUSE_HEADERS = ("cause", "code", "ERROR parts", "share", "what it means")
ALARM_HEADERS = ("time", "project", "alarm")


class PeriodsDialog(QDialog):
    def __init__(self, history, filters: dict, parent: Optional[QWidget] = None):
        """`history`: a station History (read only); `filters`: the History view's (since, purpose, ...)."""
        super().__init__(parent)
        self.setObjectName("periodsDialog")
        self.setWindowTitle("Report by period")
        self.history, self.filters = history, dict(filters)
        self.by = QComboBox()
        self.by.setObjectName("periodsBy")
        for text, _ in BY:
            self.by.addItem(text)
        self.shifts = QLineEdit(",".join(str(h) for h in DEFAULT_SHIFTS))
        self.shifts.setObjectName("periodsShifts")
        self.shifts.setToolTip("The hours the shifts start at (local time), e.g. 6,14,22: a shift runs to the next "
                               "start, so 01:00 belongs to the night shift begun at 22:00")
        self.note = QLabel("")
        self.note.setObjectName("periodsNote")
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setObjectName("periodsTable")
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setToolTip("Production parts per period (the yield is OK / judged parts); master parts' checks "
                              "apart; the last row is the whole time shown")
        row = QHBoxLayout()
        row.addWidget(self.by)
        row.addWidget(QLabel("Shifts start at"))
        row.addWidget(self.shifts)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.by.currentIndexChanged.connect(self.refresh)
        self.shifts.editingFinished.connect(self.refresh)
        self.resize(760, 420)
        self.refresh()

    def refresh(self, *_) -> None:
        by = BY[self.by.currentIndex()][1]
        self.shifts.setEnabled(by == "shift")
        self.table.setRowCount(0)
        headers = {"zone": ZONE_HEADERS, "cause": CAUSE_HEADERS, "alarms": ALARM_HEADERS}.get(by, HEADERS)
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        try:
            if by == "zone":
                return self._show_zones(self.history.ng_zones(**self.filters))
            if by == "cause":
                return self._show_causes(self.history.error_causes(**self.filters))
            if by == "alarms":
                return self._show_alarms(alarm_events(self.history.path, self.filters.get("since"),
                                                      self.filters.get("until")))
            shifts = parse_shifts(self.shifts.text(), "Shifts start at") if by == "shift" else DEFAULT_SHIFTS
            found = periods(self.history, by, shifts=shifts, **self.filters)
        except inference.InspectorError as exc:  # a shift list that cannot be read, a history locked
            self.note.setText(str(exc))
            return
        self.note.setText("" if found else "No inspection in the time the History view shows.")
        for p in [*found, total(found)] if found else []:
            c = p.counts
            cells = [p.label, c.total, c.ok, c.ng, c.not_found, c.no_verdict, c.error, c.yield_text(), p.masters_text]
            r = self.table.rowCount()
            self.table.insertRow(r)
            for col, value in enumerate(cells):
                self.table.setItem(r, col, QTableWidgetItem(str(value)))

    def _show_zones(self, found) -> None:
        """The NG parts per zone of their largest defect, most first ("(no zones)": inspected without zones)."""
        self.note.setText("" if found else "No NG part in the time the History view shows.")
        for record in zone_records(found):
            r = self.table.rowCount()
            self.table.insertRow(r)
            zone = record["zone"] if record["zone"] is not None else "(no zones)"
            for col, value in enumerate((zone, record["NG"], f"{record['share']:.1%}")):
                self.table.setItem(r, col, QTableWidgetItem(str(value)))

    def _show_causes(self, found) -> None:
        """The ERROR parts per cause, most first (the PLC's ErrorCode beside each)."""
        self.note.setText("" if found else "No ERROR in the time the History view shows.")
        for record in cause_records(found):
            r = self.table.rowCount()
            self.table.insertRow(r)
            code = "-" if record["error_code"] is None else str(record["error_code"])
            cells = (record["cause"], code, record["ERROR"], f"{record['share']:.1%}", record["description"])
            for col, value in enumerate(cells):
                self.table.setItem(r, col, QTableWidgetItem(str(value)))

    def _show_alarms(self, events) -> None:
        """Each alarm raised and cleared (or ended by a stop), oldest first."""
        self.note.setText("; ".join(total_text(t) for t in alarm_totals(events[::-1])) if events
                          else "No alarm in the time the History view shows.")
        for e in reversed(events):
            r = self.table.rowCount()
            self.table.insertRow(r)
            for col, value in enumerate((local_time(e.time), e.project, e.message)):
                self.table.setItem(r, col, QTableWidgetItem(value))


__all__ = ["PeriodsDialog"]
