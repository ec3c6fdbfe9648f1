"""Run view (for the operator): pick a source, start/stop, see each part's verdict as it comes.

The run is the very same code as `inspector run` (inspector_line.Runner) on a
QThread (app/run_worker.py): each part comes back as a queued signal carrying a
snapshot (PartResult), so the window never shares mutable state with the worker.
The PLC's servers are built as `inspector run` builds them (plc_servers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QApplication, QCheckBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout,
    QWidget,
)

import inference
from inspector_line.runner import PartResult, RunOptions, RunSummary
from inspector_line.sources import open_source

from .. import messages
from ..run_setup import command_text, recipe_folders, run_arguments, run_options
from ..run_worker import RunWorker
from . import alarm_limits_dialog, line_outputs_dialog
from .run_results import RunResults


def line_edit(name: str, placeholder: str, tip: str = "") -> QLineEdit:
    """One of the run's fields: its object name (tests, style sheets), what it takes, and why."""
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    edit.setToolTip(tip)
    return edit


def _taken(dialog, apply: Callable[[dict], None]) -> bool:
    """A settings dialog of the run, shown: its values() applied when it was accepted (True), else nothing."""
    if not dialog.exec():
        return False
    apply(dialog.values())
    return True


class RunPanel(QWidget):
    """Source, start/stop, live image with heatmap, big verdict, counters, last results, drift warning."""

    runningChanged = Signal(bool)

    def __init__(self, engine: inference.Engine, project: Callable[[], Optional[Path]], parent=None,
                 settings: Optional[QSettings] = None):
        super().__init__(parent)
        self.setObjectName("runPanel")
        self.engine = engine
        self.project = project
        self.settings = settings
        self.worker: Optional[RunWorker] = None
        self.last: Optional[PartResult] = None
        self.preview = None  # the Camera… dialog, while open

        self.source_edit = line_edit("runSource", "folder a camera program writes into, camera:0, or a video file",
                                     "Where the images come from: a watched folder, camera:N, or a video file")
        browse = QPushButton("Folder…")
        browse.setToolTip("Choose the folder the camera program writes images into")
        browse.clicked.connect(self.choose_folder)
        self.camera_button = QPushButton("Camera…")
        self.camera_button.setToolTip("The camera's live picture, to aim, focus and set the exposure by, opened as the "
                                      "run will open it (camera:N with its settings)")
        self.camera_button.clicked.connect(self.preview_camera)
        self.archive_edit = line_edit("runArchive", "archive folder (optional): images copied to <date>/OK|NG|ERROR")
        # Part ids from the file names, and the master parts whose ids they name (station/masters.py): a master
        # part is a check of the station, shown as such and outside the counters (inspector run's --part-id-pattern
        # and --masters).
        self.part_id_edit = line_edit("runPartIdPattern", "part id from the file name (optional), e.g. SN(\\d+)",
                                      "A regular expression searched in each file name: its first group is the "
                                      "part's id, recorded in the history")
        self.masters_edit = line_edit("runMasters", "master parts file (optional): 'RR-001 NG' lines",
                                      "Master parts (\"red rabbits\") run to prove the station still catches what it "
                                      "must: a part whose id the file names must get the verdict it gives, else the "
                                      "master_failed alarm until it passes (needs part ids)")
        # The line's PLC over Modbus TCP (docs/plc.md), as `inspector run --modbus HOST:PORT [--free-run]`: the
        # window serves the handshake while it runs, so a line engineer tries the PLC's program from here.
        self.modbus_edit = line_edit("runModbus",
                                     "PLC over Modbus TCP (optional): the address to serve, e.g. 0.0.0.0:502",
                                     "Serve the PLC handshake (Trigger, Busy, ResultReady, the result registers, "
                                     "Ack, Alarm; docs/plc.md) on this address while the run goes on")
        # Modbus has no password: the PCs its server answers, as `inspector run --modbus-allow` (the PLC's address).
        self.modbus_allow_edit = line_edit("runModbusAllow", "answer only (optional): the PLC's IP",
                                           "Answer only these PCs on Modbus (the PLC's IP address, or several and "
                                           "networks, comma separated: 192.168.10.5,192.168.10.0/28); without it any "
                                           "PC that reaches the port may write Trigger and Ack")
        # The PLC over OPC UA (a Siemens S7-1500's client, an HMI), as `inspector run --opcua URL --opcua-users
        # FILE`: the same handshake as Modbus; anonymous on 127.0.0.1 only, a users file on any other address.
        self.opcua_edit = line_edit("runOpcUa", "PLC over OPC UA (optional), e.g. opc.tcp://0.0.0.0:4840",
                                    "Serve the PLC handshake as the variables of an OPC UA object Inspector "
                                    "(docs/plc.md), besides or instead of Modbus TCP")
        self.opcua_users_edit = line_edit("runOpcUaUsers", "users file: needed off 127.0.0.1",
                                          "The PLC's user names and passwords, one name:password a line: any address "
                                          "but 127.0.0.1 takes no anonymous session")
        users_browse = QPushButton("Users…")
        users_browse.setToolTip("Choose the OPC UA users file")
        users_browse.clicked.connect(self.choose_opcua_users)
        # Other projects the PLC selects by its recipe register (one product variant each), as `inspector run
        # --recipe PROJECT ...`: recipe 0 is the open project, 1, 2, ... these, in order.
        self.recipes_edit = line_edit("runRecipes", "recipes (optional): the projects the PLC selects as recipe 1, "
                                      "2, …, separated by ;", "Recipe 0 is the open project; the PLC writes the "
                                      "recipe number before its Trigger (docs/plc.md). Every recipe records into this "
                                      "project's history")
        recipes_browse = QPushButton("Add…")
        recipes_browse.setToolTip("Add a project folder as the next recipe")
        recipes_browse.clicked.connect(self.add_recipe)
        # Each result to the plant's MQTT broker (SCADA, MES), as `inspector run --mqtt URL`: through the history's
        # outbox (kept while the broker is down, sent in order after), the alarms and liveness retained.
        self.mqtt_edit = line_edit("runMqtt", "results to an MQTT broker (optional), e.g. mqtt://broker:1883/line3",
                                   "Publish each result as JSON to the topic (QoS 1, kept while the broker is down), "
                                   "the alarms retained on TOPIC/alarm, online/offline on TOPIC/status (docs/plc.md)")
        self.free_run_check = QCheckBox("Free run")
        self.free_run_check.setObjectName("runFreeRun")
        self.free_run_check.setToolTip("Inspect every image as it comes; the PLC only reads the results. Unticked, "
                                       "an image is inspected when the PLC sets Trigger")
        # When the line's alarms rise (inspector run's --alarm-*, --min-free, --master-every, --backups): set once
        # per station.
        self.alarm_values = alarm_limits_dialog.default_values()
        self.alarm_button = QPushButton("Alarms…")
        self.alarm_button.setObjectName("runAlarmLimits")
        self.alarm_button.clicked.connect(self.edit_alarm_limits)
        # Where results go besides the PLC and MQTT, and the OPC UA endpoint's certificates (--post, --metrics,
        # --opcua-cert/-key/-trust): set once per station, kept with the fields.
        self.output_values = line_outputs_dialog.default_values()
        self.outputs_button = QPushButton("Outputs…")
        self.outputs_button.setObjectName("runOutputs")
        self.outputs_button.clicked.connect(self.edit_outputs)
        self.command_button = QPushButton("Copy command")
        self.command_button.setObjectName("runCopyCommand")
        self.command_button.setToolTip("Copy the inspector run command line that runs what Start runs now (the "
                                       "fields and the alarm limits), for the line PC's service (run.env)")
        self.command_button.clicked.connect(self.copy_command)
        masters_browse = QPushButton("File…")
        masters_browse.setToolTip("Choose the master parts file")
        masters_browse.clicked.connect(self.choose_masters)
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("runStart")
        self.start_button.setToolTip("Inspect every new image from the source, each exactly once")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("runStop")
        self.stop_button.setToolTip("Finish the part in flight and stop")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.setEnabled(False)
        # The line's setup is a commissioning job: where a users file is in force, the operator starts and stops
        # the run with it, and an engineer changes it (set_setup_editable).
        self.setup_editable = True
        self.setup_widgets = (*self._fields().values(), browse, masters_browse, users_browse, recipes_browse,
                              self.free_run_check, self.alarm_button, self.outputs_button)
        controls = QGridLayout()
        controls.addWidget(QLabel("Source"), 0, 0)
        controls.addWidget(self.source_edit, 0, 1)
        source_buttons = QHBoxLayout()
        source_buttons.addWidget(browse)
        source_buttons.addWidget(self.camera_button)
        controls.addLayout(source_buttons, 0, 2)
        controls.addWidget(self.start_button, 0, 3)
        controls.addWidget(QLabel("Archive"), 1, 0)
        controls.addWidget(self.archive_edit, 1, 1, 1, 2)
        controls.addWidget(self.stop_button, 1, 3)
        controls.addWidget(QLabel("Part id"), 2, 0)
        controls.addWidget(self.part_id_edit, 2, 1, 1, 2)
        controls.addWidget(self.alarm_button, 2, 3)
        controls.addWidget(self.command_button, 3, 3)
        controls.addWidget(QLabel("Masters"), 3, 0)
        controls.addWidget(self.masters_edit, 3, 1)
        controls.addWidget(masters_browse, 3, 2)
        modbus_row = QHBoxLayout()
        modbus_row.addWidget(self.modbus_edit, 3)
        modbus_row.addWidget(self.modbus_allow_edit, 2)
        controls.addWidget(QLabel("Modbus"), 4, 0)
        controls.addLayout(modbus_row, 4, 1)
        controls.addWidget(self.free_run_check, 4, 2)
        controls.addWidget(self.outputs_button, 4, 3)
        opcua_row = QHBoxLayout()
        opcua_row.addWidget(self.opcua_edit, 3)
        opcua_row.addWidget(self.opcua_users_edit, 2)
        controls.addWidget(QLabel("OPC UA"), 5, 0)
        controls.addLayout(opcua_row, 5, 1)
        controls.addWidget(users_browse, 5, 2)
        controls.addWidget(QLabel("Recipes"), 6, 0)
        controls.addWidget(self.recipes_edit, 6, 1)
        controls.addWidget(recipes_browse, 6, 2)
        controls.addWidget(QLabel("MQTT"), 7, 0)
        controls.addWidget(self.mqtt_edit, 7, 1, 1, 2)

        # What the panel shows of the line (app/panels/run_results.py); its widgets by the names tests use.
        self.results = RunResults()
        r = self.results
        self.view, self.verdict_label, self.detail_label = r.view, r.verdict_label, r.detail_label
        self.counters_label, self.drift_label, self.alarm_label = r.counters_label, r.drift_label, r.alarm_label
        self.status_label, self.table, self.alarms = r.status_label, r.table, r.alarms
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.results, 1)
        self._recall()

    # -- control ------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.worker is not None

    def set_setup_editable(self, editable: bool) -> None:
        """Whether the fields and the Alarms… / Outputs… dialogs may be changed (while running, those stay shut)."""
        self.setup_editable = editable
        for widget in self.setup_widgets:
            widget.setEnabled(editable and not (self.running and widget in (self.alarm_button, self.outputs_button)))

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder the camera program writes images into")
        if folder:
            self.source_edit.setText(folder)

    def preview_camera(self) -> bool:
        """The Camera… preview of the source; refused, with a message, for a folder or while the run uses it."""
        spec = self.source_edit.text().strip()
        if not spec.startswith("camera:"):
            messages.error(self, "Camera", "Camera… shows a camera: give camera:N (with its settings, e.g. "
                           "camera:0?width=1920&height=1080) as the source.")
            return False
        if self.running:
            messages.error(self, "Camera", "Stop the run first: it is using the camera.")
            return False
        from .camera_preview_dialog import CameraPreviewDialog

        self.preview = CameraPreviewDialog(spec, self)
        self.preview.open()
        return True

    def start(self) -> bool:
        if self.running:
            return False
        project = self.project()
        spec = self.source_edit.text().strip()
        if project is None or not inference.has_model(project):
            messages.error(self, "Run", "Open a project with a fitted model first.")
            return False
        if not spec:
            messages.error(self, "Run", "Choose a source: a folder, camera:N or a video file.")
            return False
        try:
            open_source(spec).stop()  # checked here, so a typo is a message now, not a failed run later
        except inference.InspectorError as exc:
            messages.error(self, "Run", exc)
            return False
        setup = self.line_setup()
        if setup is None:
            return False
        options, servers = setup
        self._remember()
        self.worker = RunWorker(self.engine, Path(project), spec, options, servers,
                                recipe_folders(self.recipes_edit.text()), self)
        self.worker.part.connect(self._on_part)
        self.worker.message.connect(self.results.show_message)
        self.worker.serving.connect(self.results.show_serving)
        self.worker.failed.connect(self._on_failed)
        self.worker.done.connect(self._on_done)
        self.worker.finished.connect(self._on_finished)
        self.results.clear()
        protocols = [f"{name} on {edit.text().strip()}" for name, edit in (("Modbus TCP", self.modbus_edit),
                                                                           ("OPC UA", self.opcua_edit))
                     if edit.text().strip()]
        plc = f"; the PLC over {' and '.join(protocols)}" if protocols else "".join(
            f"; parts triggered by the photo-eye on input {eye.input.number}" for eye in options.photo_eyes)
        mqtt = f"; results to {self.mqtt_edit.text().strip()}" if options.mqtt is not None else ""
        self.results.show_message(f"Running on {spec}{plc}{mqtt}…")
        for button in (self.start_button, self.alarm_button, self.outputs_button):
            button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.worker.start()
        self.runningChanged.emit(True)
        return True

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.results.show_message("Stopping after the part in flight…")
            self.stop_button.setEnabled(False)

    def stop_and_wait(self, timeout_ms: int = 60000) -> bool:
        """Stop the run and block until its thread ends (the window is closing)."""
        worker = self.worker
        if worker is None:
            return True
        worker.stop()
        return worker.wait(timeout_ms)

    def add_recipe(self) -> None:
        recipes = recipe_folders(self.recipes_edit.text())
        folder = QFileDialog.getExistingDirectory(self, f"Project for recipe {len(recipes) + 1}")
        if folder:
            self.recipes_edit.setText("; ".join(str(p) for p in [*recipes, Path(folder)]))

    def choose_opcua_users(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "OPC UA users file", "", "Text files (*.txt);;All files (*)")
        if path:
            self.opcua_users_edit.setText(path)

    def choose_masters(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Master parts file", "", "Text files (*.txt);;All files (*)")
        if path:
            self.masters_edit.setText(path)

    def edit_alarm_limits(self) -> bool:
        """The Alarms… dialog; True when its limits were taken (for the next Start)."""
        return _taken(alarm_limits_dialog.AlarmLimitsDialog(self.alarm_values, self), self.set_alarm_values)

    def copy_command(self) -> Optional[str]:
        """The `inspector run` command line of the fields and limits, copied to the clipboard and shown; None after a
        message when there is no project or source yet."""
        project = self.project()
        if project is None or not self.source_edit.text().strip():
            messages.error(self, "Copy command", "Open a project and choose a source first.")
            return None
        text = command_text(run_arguments(Path(project), self._texts(), self.free_run_check.isChecked(),
                                          self.alarm_values))
        QApplication.clipboard().setText(text)
        self.status_label.setText(f"Copied: {text}")
        return text

    def edit_outputs(self) -> bool:
        """The Outputs… dialog; True when its values were taken (for the next Start)."""
        return _taken(line_outputs_dialog.LineOutputsDialog(self.output_values, self), self.set_output_values)

    def set_output_values(self, values: dict) -> None:
        self.output_values = values
        self.outputs_button.setToolTip("Where results go, from the next Start: " + line_outputs_dialog.summary(values))

    def set_alarm_values(self, values: dict) -> None:
        self.alarm_values = values
        self.alarm_button.setToolTip("When the line's alarms rise, from the next Start: "
                                     + alarm_limits_dialog.summary(values))

    def _fields(self) -> dict[str, QLineEdit]:
        return {"source": self.source_edit, "archive": self.archive_edit, "part_id_pattern": self.part_id_edit,
                "masters": self.masters_edit, "modbus": self.modbus_edit, "modbus_allow": self.modbus_allow_edit,
                "opcua": self.opcua_edit, "opcua_users": self.opcua_users_edit, "recipes": self.recipes_edit,
                "mqtt": self.mqtt_edit}

    def _recall(self) -> None:
        """The fields of the last run started on this PC (the window's QSettings): the station's folder, archive,
        PLC address and alarm limits are the same from one day to the next."""
        self.set_alarm_values(alarm_limits_dialog.read_values(self.settings))
        if self.settings is None:
            self.set_output_values(self.output_values)
            return
        for key, edit in self._fields().items():
            edit.setText(str(self.settings.value(f"run/{key}", "") or ""))
        self.set_output_values({key: str(self.settings.value(f"run/{key}", "") or "")
                                for key in line_outputs_dialog.KEYS})
        self.free_run_check.setChecked(self.settings.value("run/free_run", False, type=bool))

    def _remember(self) -> None:
        if self.settings is None:
            return
        for key, text in self._texts().items():
            self.settings.setValue(f"run/{key}", text)
        self.settings.setValue("run/free_run", self.free_run_check.isChecked())
        alarm_limits_dialog.write_values(self.settings, self.alarm_values)

    def line_setup(self) -> Optional[tuple[RunOptions, list]]:
        """The run's options and the PLC's servers from the fields (app/run_setup.py), or None after a message
        saying what is wrong with one."""
        try:
            return run_options(self._texts(), self.free_run_check.isChecked(), self.alarm_values)
        except inference.InspectorError as exc:
            messages.error(self, "Run", exc)
            return None

    def _texts(self) -> dict[str, str]:
        """The run's fields and the Outputs… values, as run_setup takes them."""
        return {**{key: edit.text().strip() for key, edit in self._fields().items()}, **self.output_values}

    # -- results (GUI thread) --------------------------------------------------------------------
    def _on_part(self, part: PartResult) -> None:
        self.last = part
        self.results.show_part(part)

    def _on_failed(self, exc: BaseException) -> None:
        self.results.show_message(f"Stopped: {messages.describe(exc)}")
        messages.error(self, "The run stopped", exc)

    def _on_done(self, summary: RunSummary) -> None:
        c = summary.counts
        causes = f"; {summary.causes_text}" if summary.error_causes else ""
        self.results.show_message(f"Stopped: {c.total} inspected this run, {summary.skipped} already in the "
                                  f"history{causes}; {summary.seconds:.0f} s.")
        if summary.drift is not None:
            self.drift_label.setText(summary.drift.message if summary.drift.warning else "")
            self.drift_label.setVisible(summary.drift.warning)

    def _on_finished(self) -> None:
        self.results.show_serving(None)  # the run's servers are closed with it
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.deleteLater()
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.set_setup_editable(self.setup_editable)
        self.runningChanged.emit(False)
