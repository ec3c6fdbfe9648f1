"""The main window: menus, docks and wiring; the work is done by the panels and the session."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QDockWidget, QFileDialog, QLabel, QMainWindow, QTabWidget, QVBoxLayout, QWidget,
)

import inference

from . import messages
from .document import ProjectDocument, read_project, stale_reasons, weights_of
from .image_view import ImageView
from .jobs import JobRunner
from .panels.inspect_panel import InspectPanel
from .panels.progress import ProgressStrip
from .panels.ignore_panel import IgnorePanel
from .panels.roi_panel import RoiPanel
from .panels.teach_panel import TeachPanel
from .roi_items import RoiOverlay
from .session import Session

log = logging.getLogger(__name__)
MAX_RECENT = 8
BANNER_STYLE = "background:#fff3cd; color:#5c4400; padding:6px; border-bottom:1px solid #e0c36c;"


class MainWindow(QMainWindow):
    def __init__(self, engine: inference.Engine, settings: Optional[QSettings] = None, interactive: bool = True):
        super().__init__()
        self.setObjectName("mainWindow")
        self.engine = engine
        self.default_config = engine.config
        self.qsettings = settings or QSettings()
        # In --screenshot mode nobody can answer a dialog: errors are logged and counted instead.
        self.interactive = interactive
        messages.interactive = interactive
        self.errors = messages.unanswered if not interactive else []
        self.doc = ProjectDocument(engine.config, self)
        self.runner = JobRunner(self)
        self.session = Session(engine, self.doc, self.runner, self)
        self.undo_stack = QUndoStack(self)

        self.view = ImageView()
        self.overlay = RoiOverlay(self.view.view_box, self.doc, self.undo_stack, self)
        self.banner = QLabel()
        self.banner.setObjectName("staleBanner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(BANNER_STYLE)
        self.banner.setVisible(False)
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.banner)
        column.addWidget(self.view, 1)
        self.setCentralWidget(central)

        self.roi_panel = RoiPanel(self.doc, self.undo_stack, self.view, self.overlay)
        self.ignore_panel = IgnorePanel(self.doc, self.undo_stack, self.view, self.roi_panel)
        self.roi_panel.layout().insertWidget(1, self.ignore_panel)
        self.teach_panel = TeachPanel(self.session)
        self.inspect_panel = InspectPanel(self.session, self.view, self.show_status)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.teach_panel, "Teach")
        self.tabs.addTab(self.inspect_panel, "Inspect")
        self.tabs.setToolTip("Teach OK images and fit the model, or inspect images")
        self.inspect_panel.opened.connect(lambda: self.tabs.setCurrentWidget(self.inspect_panel))
        self.teach_panel.previewRequested.connect(self.show_reference)
        self._dock("Setup", self.roi_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Teach and inspect", self.tabs, Qt.DockWidgetArea.RightDockWidgetArea)

        self.progress = ProgressStrip(self.runner)
        self.statusBar().addPermanentWidget(self.progress)
        self.pixel_label = QLabel()
        self.pixel_label.setObjectName("pixelLabel")
        self.statusBar().addWidget(self.pixel_label, 1)
        self.view.hovered.connect(self.pixel_label.setText)

        self._build_menus()
        self.doc.dirtyChanged.connect(self._update_title)
        self.doc.folderChanged.connect(self._update_title)
        self.doc.roiChanged.connect(self._update_banner)
        self.doc.ignoreChanged.connect(self._update_banner)
        self.doc.configChanged.connect(self._update_banner)
        self.session.modelChanged.connect(self._update_banner)
        self.session.modelNote.connect(self._update_banner)
        self.session.failed.connect(self.show_engine_error)
        self.runner.busyChanged.connect(self._busy)
        self._model_note = ""
        self.session.modelNote.connect(self._set_note)
        self._update_title()
        self._update_banner()
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

    # -- menus ----------------------------------------------------------------------------------
    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setToolTip(tip or text)
        action.setStatusTip(tip or text)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        project = bar.addMenu("&Project")
        self._action(project, "&New…", self.new_project, QKeySequence.StandardKey.New,
                     "Start a new project in an empty folder")
        self._action(project, "&Open…", self.choose_project, QKeySequence.StandardKey.Open, "Open a project folder")
        self.recent_menu = project.addMenu("Open &Recent")
        self.recent_menu.setToolTipsVisible(True)
        self._action(project, "&Save", self.save_project, QKeySequence.StandardKey.Save,
                     "Save the ROI, scale, image list and settings")
        self._action(project, "Save &As…", self.save_project_as, QKeySequence("Ctrl+Shift+S"),
                     "Save the project settings to another folder (fit there to create its model)")
        project.addSeparator()
        self.settings_action = self._action(project, "Se&ttings…", self.open_settings, QKeySequence("Ctrl+,"),
                                            "Engine settings for the next fit (saved with the project)")
        project.addSeparator()
        self._action(project, "&Quit", self.close, QKeySequence.StandardKey.Quit, "Close the window")

        edit = bar.addMenu("&Edit")
        undo = self.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        undo.setToolTip("Undo the last ROI edit (Ctrl+Z)")
        redo = self.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Y")])
        redo.setToolTip("Redo (Ctrl+Shift+Z)")
        edit.addAction(undo)
        edit.addAction(redo)
        edit.addSeparator()
        for action in self.roi_panel.actions.values():
            edit.addAction(action)
        edit.addAction(self.roi_panel.delete_action)
        edit.addSeparator()
        for action in self.ignore_panel.actions.values():
            edit.addAction(action)
        self._action(edit, "Stop drawing", self._stop_drawing, QKeySequence(Qt.Key.Key_Escape),
                     "Leave the draw tool, or cancel the running job (Esc)").triggered.connect(self._escape)

        view = bar.addMenu("&View")
        self._action(view, "&Fit to window", self.view.fit, QKeySequence("F"), "Show the whole image (F)")
        self._action(view, "Zoom &in", lambda: self.view.view_box.scaleBy((0.8, 0.8)), QKeySequence.StandardKey.ZoomIn,
                     "Zoom in (Ctrl++)")
        self._action(view, "Zoom &out", lambda: self.view.view_box.scaleBy((1.25, 1.25)),
                     QKeySequence.StandardKey.ZoomOut, "Zoom out (Ctrl+-)")

        inspect = bar.addMenu("&Inspect")
        inspect.addActions(self.inspect_panel.menu_actions())
        self._action(inspect, "Show &heatmap", self.inspect_panel.overlay_check.toggle, QKeySequence("H"),
                     "Show or hide the heatmap (H)")

        tools = bar.addMenu("&Model")
        self._action(tools, "Add OK &images…", self.teach_panel.choose_files, QKeySequence("Ctrl+I"),
                     "Add OK images to teach (Ctrl+I)")
        self._action(tools, "&Fit", self.teach_panel.fit, QKeySequence("Ctrl+T"),
                     "Fit a new model from the OK images (Ctrl+T)")
        self._action(tools, "&Add to model", self.teach_panel.add_to_model, None,
                     "Teach the newly added OK images into the existing model")
        self._action(tools, "&Calibrate…", self.open_calibration, QKeySequence("Ctrl+K"),
                     "Choose OK and NG images and set the threshold (Ctrl+K)")
        self._action(tools, "Re&load model", lambda: self.session.load_model(), QKeySequence("Ctrl+R"),
                     "Load the project's model again from disk")

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About", self.open_about, None, "Versions, device, weights and licences")
        for menu in (project, edit, view, inspect, tools, help_menu):
            menu.setToolTipsVisible(True)
        self._refresh_recent()

    def _stop_drawing(self) -> None:
        self.roi_panel.cancel_tool()
        self.ignore_panel.cancel_tool()

    def _escape(self) -> None:
        if self.runner.busy:
            self.runner.cancel()

    # -- status, title, banner ---------------------------------------------------------------------
    def show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def _set_note(self, note: str) -> None:
        self._model_note = note
        self._update_banner()

    def _update_title(self, *_):
        name = str(self.doc.folder) if self.doc.folder else "untitled"
        self.setWindowTitle(f"{name}[*] — Inspector")
        self.setWindowModified(self.doc.dirty)

    def banner_lines(self) -> list[str]:
        model = self.session.model
        lines = []
        if model is None:
            if self._model_note:
                lines.append(self._model_note[0].upper() + self._model_note[1:])
            return lines
        reasons = stale_reasons(self.doc.roi, self.doc.config, model.manifest, self.doc.ignore)
        if reasons:
            lines.append("The model is stale: " + "; ".join(reasons) + ". Fit again to use the changes.")
        weights = weights_of(model.manifest)
        if not weights.get("pretrained", False):
            lines.append("This model was fitted with RANDOM backbone weights (test only): its results mean "
                         "nothing. Choose pretrained weights in Settings and fit again.")
        if model.calibration is None:
            lines.append("Not calibrated: " + (model.calibration_note or "no threshold yet") +
                         " (Model > Calibrate…). Scores are shown without a verdict.")
        return lines

    def _update_banner(self, *_):
        lines = self.banner_lines()
        self.banner.setText("\n".join(lines))
        self.banner.setVisible(bool(lines))

    def _busy(self, busy: bool) -> None:
        self.settings_action.setEnabled(not busy)

    # -- errors ---------------------------------------------------------------------------------------
    def show_engine_error(self, title: str, exc: BaseException) -> None:
        if not self.interactive:
            messages.error(self, title, exc)
            return
        self.errors.append(messages.describe(exc))
        if isinstance(exc, inference.WeightsNotFoundError):
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
            messages.error(self, "Busy", f"Wait for the running job ({self.runner.job.name}) or cancel it first.")
            return True
        return False

    def new_project(self) -> bool:
        if self._busy_refusal() or not self._may_discard():
            return False
        folder = QFileDialog.getExistingDirectory(self, "Choose an empty folder for the new project")
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
        return True

    def choose_project(self) -> bool:
        if self._busy_refusal() or not self._may_discard():
            return False
        folder = QFileDialog.getExistingDirectory(self, "Open a project folder")
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
        if self.doc.folder is None:
            return self.save_project_as()
        try:
            self.doc.save()
        except (inference.InspectorError, OSError) as exc:
            messages.error(self, "Cannot save the project", exc if isinstance(exc, inference.InspectorError)
                           else f"Cannot write to {self.doc.folder}: {exc}")
            return False
        self.show_status(f"Saved {self.doc.folder}")
        self._update_banner()
        return True

    def save_project_as(self) -> bool:
        folder = QFileDialog.getExistingDirectory(self, "Save the project to folder")
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
        items = [str(folder)] + [p for p in self.recent_projects() if p != str(folder)]
        self.qsettings.setValue("recent/projects", items[:MAX_RECENT])
        self._refresh_recent()

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

        if self.session.model is None:
            messages.error(self, "Calibrate", "There is no model to calibrate: fit one first.")
            return
        self.calibrate_dialog = CalibrateDialog(self.session, self)
        self.calibrate_dialog.show()

    def open_about(self) -> None:
        from .panels.about_dialog import AboutDialog

        AboutDialog(self.engine, self.session.model, self).exec()

    # -- closing -----------------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        if self.runner.busy and self.interactive:
            if not messages.confirm(self, "A job is running",
                                    f"'{self.runner.job.name}' is still running. Cancel it and quit?"):
                event.ignore()
                return
        if self.interactive and not self._may_discard():
            event.ignore()
            return
        if not self.runner.cancel_and_wait():
            log.warning("the running job did not stop in time")
        self.qsettings.setValue("window/geometry", self.saveGeometry())
        self.qsettings.sync()
        event.accept()
