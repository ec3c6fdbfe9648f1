"""The first screen without a project: New, Open, Recent, the four steps, and "Try an example"."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QGroupBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
    QVBoxLayout, QWidget,
)

REOPEN_KEY = "startup/reopen_last"
STEPS = (
    ("1  Teach", "Draw the region of interest (ROI) on a good part, add 20 or more photos of good parts and "
                 "press Fit. Only good parts are needed."),
    ("2  Calibrate", "Show the model good parts it has not seen and, if you have them, bad ones: it sets the "
                     "threshold between OK and NG (Model > Calibrate…)."),
    ("3  Inspect", "Open photos or a folder: each part gets OK or NG, the heatmap shows where it differs from "
                   "the good parts, and the regions that made it NG are named."),
    ("4  Run", "Let the line run: parts are inspected as they arrive, every result goes to the History, "
               "where false rejects can be marked and taught back."),
)


class StartPage(QWidget):
    newRequested = Signal()
    openRequested = Signal()
    recentRequested = Signal(str)
    exampleRequested = Signal()

    def __init__(self, settings: QSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("startPage")
        self.settings = settings
        title = QLabel("<h1>Inspector</h1><p>Find defects on parts by comparing them with photos of good parts.</p>")
        title.setWordWrap(True)

        self.new_button = QPushButton("New project…")
        self.new_button.setObjectName("startNew")
        self.new_button.setToolTip("Start a project in an empty folder (Ctrl+N)")
        self.new_button.clicked.connect(self.newRequested)
        self.open_button = QPushButton("Open project…")
        self.open_button.setObjectName("startOpen")
        self.open_button.setToolTip("Open a project folder (Ctrl+O)")
        self.open_button.clicked.connect(self.openRequested)
        self.example_button = QPushButton("Try an example")
        self.example_button.setObjectName("startExample")
        self.example_button.setToolTip("Builds a small project from generated parts and goes through teach, "
                                       "calibrate and inspect in about a minute")
        self.example_button.clicked.connect(self.exampleRequested)
        self.example_button.setStyleSheet("font-weight:bold; padding:8px;")
        buttons = QHBoxLayout()
        for b in (self.new_button, self.open_button, self.example_button):
            buttons.addWidget(b)
        buttons.addStretch(1)

        self.recent = QListWidget()
        self.recent.setObjectName("recentList")
        self.recent.setToolTip("Double-click to open")
        self.recent.itemActivated.connect(lambda item: self.recentRequested.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.reopen = QCheckBox("Reopen the last project on start")
        self.reopen.setObjectName("reopenLast")
        self.reopen.setChecked(self.reopen_last())
        self.reopen.toggled.connect(lambda on: self.settings.setValue(REOPEN_KEY, bool(on)))
        recent_box = QGroupBox("Recent projects")
        recent_layout = QVBoxLayout(recent_box)
        recent_layout.addWidget(self.recent)
        recent_layout.addWidget(self.reopen)

        steps_box = QGroupBox("How it works")
        steps = QVBoxLayout(steps_box)
        for name, text in STEPS:
            step = QLabel(f"<b>{name}</b><br>{text}")
            step.setWordWrap(True)
            steps.addWidget(step)

        self.progress_label = QLabel()
        self.progress_label.setObjectName("exampleProgress")
        self.progress_label.setWordWrap(True)

        # The steps above the recent list, not beside it: between the two docks the page is 430-760 px wide,
        # and side by side the steps got 90 px and lost their last lines.
        layout = QVBoxLayout(self)
        layout.setContentsMargins(40, 30, 40, 30)
        layout.addWidget(title)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_label)
        layout.addWidget(steps_box)
        layout.addWidget(recent_box, 1)

    def reopen_last(self) -> bool:
        value = self.settings.value(REOPEN_KEY, True)
        return value if isinstance(value, bool) else str(value).lower() == "true"

    def set_recent(self, paths: list[str]) -> None:
        self.recent.clear()
        for path in paths:
            item = QListWidgetItem(f"{Path(path).name}    {path}")
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setToolTip(path)
            self.recent.addItem(item)
