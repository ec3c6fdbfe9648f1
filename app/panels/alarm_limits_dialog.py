"""The Run view's alarm limits (Alarms…): when the line's alarms rise, as `inspector run`'s --alarm-*, --min-free,
--master-every, --backups and --backup-every set them (station/line_io/alarms.py, station/backup_watch.py). The values live in the window's QSettings with the run's
other fields, so a station keeps its limits from one day to the next."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QLineEdit, QSpinBox, QVBoxLayout, QWidget,
)

import inference
from station.backup_watch import DEFAULT_EVERY_S
from station.line_io.alarms import AlarmLimits

from .. import messages

FREE_SPACE = "Free space kept"
MASTER_EVERY = "master_every_h"  # hours; 0: no master_due alarm
BACKUPS, BACKUP_EVERY = "backups", "backup_every_h"  # the backup folder watched ("": none), hours
NOT_LIMITS = (MASTER_EVERY, BACKUPS, BACKUP_EVERY)  # the values that are no AlarmLimits'


def default_values() -> dict:
    """AlarmLimits.as_set's arguments for the run's default limits, no master interval, no backup folder."""
    return dict(AlarmLimits().as_set_values(), **{MASTER_EVERY: 0.0, BACKUPS: "", BACKUP_EVERY: DEFAULT_EVERY_S / 3600})


def read_values(settings: Optional[QSettings]) -> dict:
    """The limits last set on this PC (run/alarm_*), the defaults for any not set."""
    values = default_values()
    if settings is not None:
        for key, default in values.items():
            values[key] = settings.value(f"run/alarm_{key}", default, type=type(default))
    return values


def write_values(settings: Optional[QSettings], values: dict) -> None:
    if settings is not None:
        for key, value in values.items():
            settings.setValue(f"run/alarm_{key}", value)


def limits_of(values: dict) -> AlarmLimits:
    """The AlarmLimits of the dialog's values (InspectorError naming the free space setting if it is no space)."""
    return AlarmLimits.as_set(**{k: v for k, v in values.items() if k not in NOT_LIMITS}, what=FREE_SPACE)


def summary(values: dict) -> str:
    """The limits in one line (the Alarms… button's tooltip)."""
    off = "off"
    parts = [f"NG in a row: {values['ng_streak'] or off}",
             f"NOT_FOUND or ERROR in a row: {values['streak'] or off}",
             "yield below " + (f"{values['yield_pct']:g}% over {values['yield_window']} parts"
                               if values["yield_pct"] and values["yield_window"] else off),
             f"score drift: {values['drift']:g} of the way to the threshold" if values["drift"] else "score drift: off",
             f"free space kept: {values['min_free']}",
             f"master parts every {values[MASTER_EVERY]:g} h" if values[MASTER_EVERY] else "master interval: none",
             f"a backup in {values[BACKUPS]} every {values[BACKUP_EVERY]:g} h" if values[BACKUPS]
             else "backups: not watched"]
    return "; ".join(parts)


class AlarmLimitsDialog(QDialog):
    def __init__(self, values: dict, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("alarmLimitsDialog")
        self.setWindowTitle("Alarm limits")
        self.setMinimumWidth(420)
        self.ng = self._count("alarmNg", "Raise ng_streak after this many NG parts in a row (0: off)")
        self.streak = self._count("alarmStreak", "Raise not_found_streak / error_streak after this many parts not "
                                  "located, or unreadable, in a row (0: off)")
        self.yield_pct = self._number("alarmYield", "Raise yield when OK / judged parts over the window falls below "
                                      "this (0: off)", 0, 100, 1, " %", "off")
        self.yield_window = self._count("alarmWindow", "The last parts the yield is counted over")
        self.drift = self._number("alarmDrift", "Raise drift when the median of the recent scores (OK and NG) has "
                                  "moved this fraction of the way from the calibration's OK median to the threshold "
                                  "(0: off)", 0, 10, 2, "", "off")
        self.drift.setSingleStep(0.1)
        self.min_free = QLineEdit()
        self.min_free.setObjectName("alarmMinFree")
        self.min_free.setToolTip("Free space kept on the disks the run writes to (the history, the archive), e.g. "
                                 "5% or 20GB: the archive's oldest images are removed before it comes to that, and "
                                 "the disk alarm rises below it (0: off)")
        self.master_every = self._number("alarmMasterEvery", "With a master parts file: raise master_due when a "
                                         "master part has not passed within this many hours (0: no interval)",
                                         0, 24 * 365, 1, " h", "no interval")
        self.backups = QLineEdit()
        self.backups.setObjectName("alarmBackups")
        self.backups.setPlaceholderText("optional: the folder the nightly backup fills")
        self.backups.setToolTip("Raise backup_due while this folder holds no backup of the project (inspector "
                                "backup PROJECT FOLDER, the nightly unit) younger than the interval below, or "
                                "cannot be read: a share not mounted, a disk not attached")
        self.backup_every = self._number("alarmBackupEvery", "How recent the newest backup must be (26 h: a nightly "
                                         "backup, with two hours' slack)", 1, 24 * 365, 1, " h")
        form = QFormLayout()
        form.addRow("NG in a row", self.ng)
        form.addRow("Not found / ERROR in a row", self.streak)
        form.addRow("Yield below", self.yield_pct)
        form.addRow("over the last parts", self.yield_window)
        form.addRow("Score drift", self.drift)
        form.addRow(FREE_SPACE, self.min_free)
        form.addRow("Master parts every", self.master_every)
        form.addRow("Backup folder", self.backups)
        form.addRow("a backup every", self.backup_every)
        note = QLabel("0 turns a limit off. The limits take effect at the next Start.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            lambda: self.show_values(default_values()))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.show_values(values)

    @staticmethod
    def _number(name: str, tip: str, low: float, high: float, decimals: int, suffix: str,
                at_lowest: str = "") -> QDoubleSpinBox:
        """A spin box of `decimals`; `at_lowest`: what it shows at `low` (e.g. "off")."""
        box = QDoubleSpinBox()
        box.setObjectName(name)
        box.setRange(low, high)
        box.setDecimals(decimals)
        box.setSuffix(suffix)
        box.setSpecialValueText(at_lowest)
        box.setToolTip(tip)
        return box

    @staticmethod
    def _count(name: str, tip: str) -> QSpinBox:
        box = QSpinBox()
        box.setObjectName(name)
        box.setRange(0, 100000)
        box.setSpecialValueText("off")
        box.setToolTip(tip)
        return box

    def show_values(self, values: dict) -> None:
        self.ng.setValue(int(values["ng_streak"]))
        self.streak.setValue(int(values["streak"]))
        self.yield_pct.setValue(float(values["yield_pct"]))
        self.yield_window.setValue(int(values["yield_window"]))
        self.drift.setValue(float(values["drift"]))
        self.min_free.setText(str(values["min_free"]))
        self.master_every.setValue(float(values[MASTER_EVERY]))
        self.backups.setText(str(values[BACKUPS]))
        self.backup_every.setValue(float(values[BACKUP_EVERY]))

    def values(self) -> dict:
        return {"ng_streak": self.ng.value(), "streak": self.streak.value(), "yield_pct": self.yield_pct.value(),
                "yield_window": self.yield_window.value(), "drift": self.drift.value(),
                "min_free": self.min_free.text().strip(), MASTER_EVERY: self.master_every.value(),
                BACKUPS: self.backups.text().strip(), BACKUP_EVERY: self.backup_every.value()}

    def accept(self) -> None:
        try:
            limits_of(self.values())  # a free space that is no space is a message now, not a failed run later
        except inference.InspectorError as exc:
            messages.error(self, "Alarm limits", exc)
            return
        super().accept()
