"""The main window: menus, docks and wiring; the work is done by the panels and the session."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import (
    QDockWidget, QLabel, QMainWindow, QStackedWidget, QTabWidget, QVBoxLayout, QWidget,
)

import inference
from station.sign_in import SignIn

from . import file_dialogs, messages, window_access
from .access_guard import AccessGuard
from .document import ProjectDocument, read_project
from .image_view import ImageView
from .jobs import JobRunner
from .menus import build_menus
from .model_banner import ModelBanner
from .history_link import HistoryLink
from .panels.history_panel import HistoryPanel
from .panels.versions_panel import VersionsPanel
from .panels.inspect_panel import InspectPanel
from .panels.progress import ProgressStrip
from .panels.setup_panels import setup_panels
from .panels.start_page import StartPage
from .panels.teach_panel import TeachPanel
from .roi_items import RoiOverlay
from .session import Session

log = logging.getLogger(__name__)
MAX_RECENT = 8


class MainWindow(QMainWindow):
    def __init__(self, engine: inference.Engine, settings: Optional[QSettings] = None, interactive: bool = True,
                 sign_in: Optional[SignIn] = None):
        super().__init__()
        self.setObjectName("mainWindow")
        self.engine = engine
        self.default_config = engine.config
        self.qsettings = settings or QSettings()
        # In --screenshot mode nobody can answer a dialog: errors are logged and counted instead. The sink is
        # this window's own: messages.error finds it from any widget inside the window or its dialogs.
        self.interactive = interactive
        self.message_sink = messages.MessageSink(interactive)
        self.errors = self.message_sink.unanswered if not interactive else []
        self.doc = ProjectDocument(engine.config, self)
        self.runner = JobRunner(self)
        # Who works at the window (station/sign_in.py: without a users file, the OS user with every permission).
        self.session = Session(engine, self.doc, self.runner, self, AccessGuard(sign_in, self))
        self.access = self.session.access
        self.undo_stack = QUndoStack(self)
        file_dialogs.use(self.qsettings, lambda: self.doc.folder)

        self.view = ImageView()
        self.overlay = RoiOverlay(self.view.view_box, self.doc, self.undo_stack, self)
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        self.banner = ModelBanner(self.session, self.doc)
        column.addWidget(self.banner)
        column.addWidget(self.view, 1)
        # Without a project the centre shows what to do first, not an empty canvas.
        self.start_page = StartPage(self.qsettings)
        self.centre = QStackedWidget()
        self.centre.addWidget(self.start_page)
        self.centre.addWidget(central)
        self.setCentralWidget(self.centre)
        self.centre.currentChanged.connect(self.update_enabled)

        self.roi_panel, self.ignore_panel, self.zones_panel, self.locate_panel, setup = \
            setup_panels(self.doc, self.undo_stack, self.view, self.overlay)
        self.teach_panel = TeachPanel(self.session)
        self.inspect_panel = InspectPanel(self.session, self.view, self.show_status)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.teach_panel, "Teach")
        self.tabs.addTab(self.inspect_panel, "Inspect")
        self.history_panel = HistoryPanel()
        self.tabs.addTab(self.history_panel, "History")
        self.history_link = HistoryLink(self)
        self.versions_panel = VersionsPanel(self.session)
        self.tabs.addTab(self.versions_panel, "Versions")
        self.doc.folderChanged.connect(self.versions_panel.set_project)
        self.tabs.setToolTip("Teach OK images and fit the model, or inspect images")
        self.inspect_panel.opened.connect(lambda: self.tabs.setCurrentWidget(self.inspect_panel))
        self.inspect_panel.opened.connect(self.show_work)
        # Editing and reviewing apart: the ROI is edited in the Teach step only; elsewhere a drag pans.
        self.tabs.currentChanged.connect(self.lock_roi)
        for action in self.roi_panel.actions.values():
            action.triggered.connect(lambda _=False: self.tabs.setCurrentWidget(self.teach_panel))
        self.teach_panel.previewRequested.connect(self.show_reference)
        self.setup_dock = self._dock("Setup", setup, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Teach and inspect", self.tabs, Qt.DockWidgetArea.RightDockWidgetArea)

        self.progress = ProgressStrip(self.runner)
        self.statusBar().addPermanentWidget(self.progress)
        self.pixel_label = QLabel()
        self.pixel_label.setObjectName("pixelLabel")
        self.statusBar().addWidget(self.pixel_label, 1)
        self.view.hovered.connect(self.pixel_label.setText)
        self.start_page.newRequested.connect(self.new_project)
        self.start_page.openRequested.connect(self.choose_project)
        self.start_page.recentRequested.connect(lambda path: self.open_project(path))
        self.start_page.exampleRequested.connect(lambda: self.try_example())

        self.recent_menu, self.settings_action = build_menus(self)
        window_access.connect(self)
        self._refresh_recent()
        self.doc.dirtyChanged.connect(self._update_title)
        self.doc.folderChanged.connect(self._update_title)
        self.doc.folderChanged.connect(self.update_enabled)
        self.session.failed.connect(self.show_engine_error)
        self.runner.busyChanged.connect(self.update_busy)
        self._update_title()
        self.lock_roi()
        self.start_page.set_recent(self.recent_projects())
        self.update_enabled()
        self.resize(1400, 900)
        geometry = self.qsettings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)

    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "_"))
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    # -- menu slots (the menus themselves are built in menus.py) ------------------------------------
    def stop_drawing(self) -> None:
        self.roi_panel.cancel_tool()
        self.ignore_panel.cancel_tool()
        self.zones_panel.cancel_tool()
        self.locate_panel.cancel_tool()

    def cancel_job(self) -> None:
        if self.runner.busy:
            self.runner.cancel()

    # -- status, title, banner ---------------------------------------------------------------------
    def show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def _update_title(self, *_):
        name = str(self.doc.folder) if self.doc.folder else "untitled"
        self.setWindowTitle(f"{name}[*] — Inspector")
        self.setWindowModified(self.doc.dirty)

    def banner_lines(self) -> list[str]:
        return self.banner.lines()

    def update_enabled(self, *_):
        """Setup and Teach need a project (or at least an image shown to draw on): not on the start page alone."""
        usable = (self.doc.folder is not None or self.centre.currentIndex() == 1) and self.access.may("teach")
        self.roi_panel.setEnabled(usable)
        self.tabs.setTabEnabled(self.tabs.indexOf(self.teach_panel), usable)

    def update_busy(self, busy: bool) -> None:
        self.settings_action.setEnabled(not busy and self.access.may("teach"))

    # -- errors ---------------------------------------------------------------------------------------
    def show_engine_error(self, title: str, exc: BaseException) -> None:
        if not self.interactive:
            messages.error(self, title, exc)
            return
        self.errors.append(messages.describe(exc))
        if isinstance(exc, inference.WeightsError):
            from .panels.weights_dialog import resolve_missing_weights

            resolve_missing_weights(self, exc)
            return
        messages.error(self, title, exc)

    # -- project ----------------------------------------------------------------------------------------
    def _may_discard(self) -> bool:
        if not self.doc.dirty:
            return True
        answer = messages.save_discard_cancel(self, "Unsaved changes",
                                              "The project has unsaved changes. Save them?")
        if answer == "save":
            return self.save_project()
        return answer == "discard"

    def _busy_refusal(self) -> bool:
        if self.runner.busy:
            messages.error(self, "Busy", f"Wait until {self.runner.job.name} is done, or cancel it first (Esc).")
            return True
        return False

    def new_project(self) -> bool:
        if self.access.refuse(self, "New project", "teach") or self._busy_refusal() or not self._may_discard():
            return False
        folder = file_dialogs.open_folder(self, "Choose an empty folder for the new project")
        if not folder:
            return False
        folder = Path(folder)
        if inference.has_model(folder) or (folder / "settings.json").exists():
            messages.error(self, "New project", f"{folder} already holds a project: open it instead.")
            return False
        self.doc.replace_with(folder, {"config": self.default_config}, self.default_config)
        self.undo_stack.clear()
        self.session.set_model(None, "no model yet: teach OK images and press Fit")
        self.doc.save()
        self._remember(folder)
        self.show_work()
        return True

    def choose_project(self) -> bool:
        if self._busy_refusal() or not self._may_discard():
            return False
        folder = file_dialogs.open_folder(self, "Open a project folder")
        return bool(folder) and self.open_project(folder, ask=False)

    def open_project(self, folder, ask: bool = True, on_loaded=None) -> bool:
        """Read the project's settings, then load its model in a worker; the old project stays on error."""
        if ask and (self._busy_refusal() or not self._may_discard()):
            return False
        folder = Path(folder)
        try:
            settings = read_project(folder, self.default_config)
        except inference.InspectorError as exc:
            self.show_engine_error("Cannot open the project", exc)
            return False
        self.doc.replace_with(folder, settings, self.default_config)
        self.undo_stack.clear()
        self.session.set_model(None, "loading the model…")
        self._remember(folder)
        self.session.load_model(on_loaded)
        self.show_work()
        if self.doc.ok_images:
            self.show_reference(self.doc.ok_images[0])  # the ROI is drawn over a part, not an empty canvas
        return True

    def show_reference(self, path: str) -> None:
        """Show a taught image, without any inspection result, as the reference for the ROI."""
        try:
            rgb = inference.load_image(path)
        except inference.InspectorError as exc:
            self.show_status(f"Cannot show {Path(path).name}: {exc}")
            return
        self.view.set_image(rgb)  # also clears any heatmap: this is not an inspection result
        self.show_status(f"{Path(path).name} (taught OK image)")

    def save_project(self) -> bool:
        if self.access.refuse(self, "Save", "teach"):
            return False
        if self.doc.folder is None:
            return self.save_project_as()
        try:
            self.doc.save()
        except (inference.InspectorError, OSError) as exc:
            messages.error(self, "Cannot save the project", exc if isinstance(exc, inference.InspectorError)
                           else f"Cannot write to {self.doc.folder}: {exc}")
            return False
        self.show_status(f"Saved {self.doc.folder}")
        self.banner.refresh()
        return True

    def save_project_as(self) -> bool:
        if self.access.refuse(self, "Save As", "teach"):
            return False
        folder = file_dialogs.open_folder(self, "Save the project to folder")
        if not folder:
            return False
        source, target = self.doc.folder, Path(folder)
        moving = source is not None and target.resolve() != source.resolve()
        if moving and inference.has_model(target) and not messages.confirm(
                self, "Replace the project?", f"{target} already holds a fitted model. Replace it with this one?"):
            return False
        try:
            if moving and inference.has_model(source):
                # The model travels with the project; the engine's copy is checked and atomic.
                inference.copy_model(source, target)
            self.doc.save(target)
        except (inference.InspectorError, OSError) as exc:
            messages.error(self, "Cannot save the project", str(exc))
            return False
        self._remember(Path(folder))
        self.session.load_model()
        return True

    # -- recent projects --------------------------------------------------------------------------------
    def recent_projects(self) -> list[str]:
        value = self.qsettings.value("recent/projects", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _remember(self, folder: Path) -> None:
        if not self.interactive:
            return  # a --screenshot run leaves Recent and "reopen the last project" as they were
        where = str(Path(folder).absolute())  # opened again from a desktop or a shortcut, not where it was typed
        items = [where] + [p for p in self.recent_projects() if p != where]
        self.qsettings.setValue("recent/projects", items[:MAX_RECENT])
        self._refresh_recent()
        self.start_page.set_recent(self.recent_projects())

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_projects():
            action = self.recent_menu.addAction(path)
            action.setToolTip(f"Open {path}")
            action.triggered.connect(lambda _=False, p=path: self.open_project(p))
        self.recent_menu.setEnabled(bool(self.recent_projects()))

    # -- dialogs ----------------------------------------------------------------------------------------
    def open_settings(self) -> None:
        from .panels.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.doc.config, self)
        if dialog.exec():
            self.doc.set_config(dialog.config)

    def open_calibration(self) -> None:
        from .panels.calibrate_dialog import CalibrateDialog

        if self.access.refuse(self, "Calibrate", "teach"):
            return
        if self.session.model is None:
            messages.error(self, "Calibrate", "There is no model to calibrate: fit one first.")
            return
        if getattr(self, "calibrate_dialog", None) is not None:  # the last one, closed: its scored maps go with it
            self.calibrate_dialog.deleteLater()
        self.calibrate_dialog = CalibrateDialog(self.session, self)
        self.calibrate_dialog.show()

    def export_model(self) -> None:
        """Model > Export for an edge PC: the model as a folder that a PC without torch inspects with."""
        if self.session.model is None:
            messages.error(self, "Export", "There is no model to export: fit one first.")
            return
        folder = file_dialogs.open_folder(self, "Export the model into a new or empty folder")
        if not folder:
            return

        def done(meta: dict) -> None:
            self.statusBar().showMessage(
                f"Exported the active version {meta['version']} (model {meta['model_id'][:12]}) to {folder}: a PC "
                f"with the edge install inspects with it (inspector infer {folder} IMAGES)")

        self.session.export(folder, done)

    def open_run_view(self):
        """The operator's Run view, in its own window (the same run code as `inspector run`)."""
        from .panels.run_panel import RunPanel

        if getattr(self, "run_view", None) is None:
            self.run_view = RunPanel(self.engine, lambda: self.doc.folder, self, settings=self.qsettings)
            self.run_view.setWindowFlag(Qt.WindowType.Window)
            self.run_view.setWindowTitle("Run — Inspector")
            self.run_view.resize(1200, 800)
            self.run_view.set_setup_editable(self.access.may("teach"))
        self.run_view.show()
        self.run_view.raise_()
        return self.run_view

    def open_about(self) -> None:
        from .panels.about_dialog import AboutDialog

        AboutDialog(self.engine, self.session.model, self).exec()

    # -- start page, ROI lock, start-up ---------------------------------------------------------------
    def show_start(self) -> None:
        self.start_page.set_recent(self.recent_projects())
        self.centre.setCurrentWidget(self.start_page)

    def show_work(self) -> None:
        self.centre.setCurrentIndex(1)

    def roi_editable(self) -> bool:
        return self.tabs.currentWidget() is self.teach_panel and self.access.may("teach")

    def lock_roi(self, *_):
        locked = not self.roi_editable()
        self.overlay.set_locked(locked)
        self.roi_panel.set_locked(locked)
        self.locate_panel.set_locked(locked)

    def forget_missing(self) -> list[str]:
        """Drop recent projects whose folder is gone; returns them."""
        recent = self.recent_projects()
        gone = [p for p in recent if not Path(p).is_dir()]
        if gone:
            self.qsettings.setValue("recent/projects", [p for p in recent if p not in gone])
            self._refresh_recent()
            self.start_page.set_recent(self.recent_projects())
        return gone

    def start(self) -> bool:
        """At start-up without a project named: reopen the last one when the setting says so. Recent projects
        whose folder is gone are dropped, and the start page says so (never another project in the last's place)."""
        recent = self.recent_projects()
        gone = self.forget_missing()
        if gone:
            self.start_page.progress_label.setText(
                "No longer found, removed from the recent projects: " + ", ".join(gone)
                + (" (the last project: open or create another)" if recent[0] in gone else ""))
        if not self.start_page.reopen_last() or not recent or recent[0] in gone:
            return False
        return self.open_project(recent[0], ask=False)

    def try_example(self, folder: Optional[Path] = None, config: Optional[inference.EngineConfig] = None) -> bool:
        from .example import ExampleRun

        if self.access.refuse(self, "Try an example", "teach") or self._busy_refusal() or not self._may_discard():
            return False
        self.example = ExampleRun(self, folder, config)
        return self.example.begin()

    # -- closing -----------------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        if self.runner.busy and self.interactive:
            what = self.runner.job.name
            if not messages.confirm(self, "Still working", f"{what[0].upper()}{what[1:]} is still running. "
                                    "Cancel it and quit?"):
                event.ignore()
                return
            # Stop it before asking about saving: a fit left running would replace the model meanwhile.
            if not self.runner.cancel_and_wait():
                log.warning("the running job did not stop in time")
        if self.interactive and not self._may_discard():
            event.ignore()
            return
        if not self.runner.cancel_and_wait():
            log.warning("the running job did not stop in time")
        if getattr(self, "run_view", None) is not None and not self.run_view.stop_and_wait():
            log.warning("the run did not stop in time")
        self.history_panel.set_project(None)  # rows still being written are finished first
        self.qsettings.setValue("window/geometry", self.saveGeometry())
        self.qsettings.sync()
        event.accept()
