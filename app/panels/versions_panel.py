"""Model versions and the audit trail in the window: which version inspects, activate or roll back, and every
change that altered verdicts. The station layer does the work (Session.activate); this view only shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout, QHeaderView, QInputDialog, QLabel, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout,
    QWidget,
)

import inference

VERSION_COLUMNS = ("", "version", "created", "action", "images", "threshold", "FAR", "FRR", "note")
AUDIT_COLUMNS = ("time", "who", "action", "version", "old", "new", "note")
AUDIT_TITLE = "Audit trail: every change that altered verdicts"


def _percent(value) -> str:
    return "-" if value is None else f"{100.0 * value:.1f}%"


def _values(values) -> str:
    if not values:
        return "-"
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={json.dumps(v) if isinstance(v, (dict, list)) else v}"
                     for k, v in values.items() if v is not None and k != "warning")


class VersionsPanel(QWidget):
    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("versionsPanel")
        self.session = session
        self.folder: Optional[Path] = None
        self.versions: list = []
        self.summary = QLabel()
        self.summary.setObjectName("versionsSummary")
        self.summary.setWordWrap(True)
        self.table = _table(VERSION_COLUMNS, "versionsTable")
        self.table.itemSelectionChanged.connect(self.update_buttons)
        self.activate_button = QPushButton("Activate…")
        self.activate_button.setObjectName("activateVersion")
        self.activate_button.setToolTip("Make the selected version the one that inspects from the next part on "
                                        "(a rollback is the same); asks for a note for the audit trail")
        self.activate_button.clicked.connect(self.activate_selected)
        self.audit = _table(AUDIT_COLUMNS, "auditTable")
        row = QHBoxLayout()
        row.addWidget(self.activate_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 2)
        layout.addLayout(row)
        self.audit_label = QLabel(AUDIT_TITLE)
        self.audit_label.setObjectName("auditChain")
        self.audit_label.setWordWrap(True)
        layout.addWidget(self.audit_label)
        layout.addWidget(self.audit, 3)
        session.modelChanged.connect(self._model_changed)  # a bound slot: no closure keeps this panel alive
        self.update_buttons()

    def _model_changed(self, _model) -> None:
        self.refresh()

    def set_project(self, folder: Optional[Path]) -> None:
        self.folder = folder
        self.refresh()

    def refresh(self) -> None:
        self.table.setRowCount(0)
        self.audit.setRowCount(0)
        self.versions = []
        if self.folder is None or not inference.has_model(self.folder):
            self.summary.setText("No model yet: teach OK images and press Fit.")
            self.update_buttons()
            return
        try:
            self.versions = inference.list_versions(self.folder)
            audit = inference.read_audit(self.folder)
            broken = inference.verify_audit(self.folder)  # rows edited, removed or put in by hand (audit_chain.py)
        except inference.InspectorError as exc:
            self.summary.setText(f"The versions cannot be read: {exc}")
            self.update_buttons()
            return
        active = next((v for v in self.versions if v.active), None)
        shown = self.session.model.version if self.session.model is not None else None
        text = f"Active (inspecting the line): {active.version if active else '-'}."
        if shown and active and shown != active.version:
            text += f" This window works on {shown} (staged: calibrate it, or activate it here)."
        from station.rescore_report import latest_report, report_line  # `inspector rescore` (docs/scale.md)

        reports = [report_line(r) for v in self.versions if (r := latest_report(self.folder, v.version))]
        self.summary.setText("\n".join([text] + reports[-3:]))  # what a staged version would change, if rescored
        for v in reversed(self.versions):  # newest first
            cal = v.calibration or {}
            # "!" as `inspector versions` marks it: a calibration with a warning (the row's tooltip says it)
            threshold = "-" if not cal else f"{cal['threshold']:.4g}" + (" !" if cal.get("warning") else "")
            cells = ["●" if v.active else "", v.version, v.created, v.action + (f" {v.based_on}" if v.based_on else ""),
                     str(v.n_images), threshold, _percent(cal.get("far")),
                     _percent(cal.get("frr")) if cal else "-", v.note]
            _add_row(self.table, cells, tip=(cal.get("warning") or "") if cal else "not calibrated: no verdicts")
        self.audit_label.setText(AUDIT_TITLE + (f" — WARNING, edited by hand: {broken[0]}" if broken else ""))
        self.audit_label.setStyleSheet("color: #c62828; font-weight: bold" if broken else "")
        for a in reversed(audit):
            _add_row(self.audit, [a.get("time", ""), a.get("who", ""), a.get("action", ""), a.get("version", ""),
                                  _values(a.get("old")), _values(a.get("new")), a.get("note", "")])
        self.update_buttons()

    def selected(self) -> Optional[str]:
        rows = self.table.selectionModel().selectedRows()
        return self.table.item(rows[0].row(), 1).text() if rows else None

    def update_buttons(self) -> None:
        version = self.selected()
        active = next((v.version for v in self.versions if v.active), None)
        self.activate_button.setEnabled(version is not None and version != active and not self.session.runner.busy
                                        and self.session.access.may("teach"))

    def activate_selected(self) -> None:
        version = self.selected()
        if version is None:
            return
        info = next(v for v in self.versions if v.version == version)
        warning = "" if info.calibration else ("\n\nThis version is not calibrated: the line gets NO verdict until "
                                               "it is.")
        note, ok = QInputDialog.getText(self, "Activate " + version,
                                        f"Why activate {version}? (kept in the audit trail){warning}")
        if not ok:
            return
        self.session.activate(version, note, lambda _model: self.refresh())


def _table(columns, name: str) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(list(columns))
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.verticalHeader().setVisible(False)
    return table


def _add_row(table: QTableWidget, cells, tip: str = "") -> None:
    row = table.rowCount()
    table.insertRow(row)
    for column, text in enumerate(cells):
        item = QTableWidgetItem(str(text))
        if tip:
            item.setToolTip(tip)
        item.setTextAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        table.setItem(row, column, item)

