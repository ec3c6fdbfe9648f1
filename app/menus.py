"""The main window's menu bar: every menu and its actions, with shortcuts and tips (the window keeps the slots)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from . import backup_actions

if TYPE_CHECKING:
    from .main_window import MainWindow


def _action(window: MainWindow, menu, text: str, slot, shortcut=None, tip: str = "", needs: str = "") -> QAction:
    """A menu action; `needs`: the permission (station/access.py) the one at the window must have to use it."""
    action = QAction(text, window)
    if needs:
        window.guarded_actions.append((action, needs))
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.setToolTip(tip or text)
    action.setStatusTip(tip or text)
    action.triggered.connect(slot)
    menu.addAction(action)
    return action


def build_menus(window: MainWindow) -> tuple[QMenu, QAction]:
    """Fill the window's menu bar; returns (the Open Recent menu, the Settings action) for the window to keep."""
    bar = window.menuBar()
    window.guarded_actions = []
    project = bar.addMenu("&Project")
    _action(window, project, "&New…", window.new_project, QKeySequence.StandardKey.New,
            "Start a new project in an empty folder", needs="teach")
    _action(window, project, "&Open…", window.choose_project, QKeySequence.StandardKey.Open, "Open a project folder")
    recent_menu = project.addMenu("Open &Recent")
    recent_menu.setToolTipsVisible(True)
    _action(window, project, "&Save", window.save_project, QKeySequence.StandardKey.Save,
            "Save the ROI, scale, image list and settings", needs="teach")
    _action(window, project, "Save &As…", window.save_project_as, QKeySequence("Ctrl+Shift+S"),
            "Save the project, with its model and calibration, to another folder and continue there", needs="teach")
    project.addSeparator()
    _action(window, project, "&Back up…", lambda: backup_actions.back_up(window), None,
            "Back the saved project up into one checked .zip file: every version, the audit trail, the history",
            needs="backup")
    _action(window, project, "Restore from bac&kup…", lambda: backup_actions.restore(window), None,
            "Restore a backup into a new, empty folder and open it", needs="teach")
    project.addSeparator()
    settings_action = _action(window, project, "Se&ttings…", window.open_settings, QKeySequence("Ctrl+,"),
                              "Engine settings for the next fit (saved with the project)", needs="teach")
    project.addSeparator()
    _action(window, project, "&Quit", window.close, QKeySequence.StandardKey.Quit, "Close the window")

    edit = bar.addMenu("&Edit")
    undo = window.undo_stack.createUndoAction(window, "&Undo")
    undo.setShortcut(QKeySequence.StandardKey.Undo)
    undo.setToolTip("Undo the last ROI edit (Ctrl+Z)")
    redo = window.undo_stack.createRedoAction(window, "&Redo")
    redo.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Y")])
    redo.setToolTip("Redo (Ctrl+Shift+Z)")
    edit.addAction(undo)
    edit.addAction(redo)
    edit.addSeparator()
    for action in window.roi_panel.actions.values():
        edit.addAction(action)
    edit.addAction(window.roi_panel.delete_action)
    edit.addSeparator()
    for action in window.ignore_panel.actions.values():
        edit.addAction(action)
    _action(window, edit, "Stop drawing", window.stop_drawing, QKeySequence(Qt.Key.Key_Escape),
            "Leave the draw tool, or cancel the running job (Esc)").triggered.connect(window.cancel_job)

    view = bar.addMenu("&View")
    _action(window, view, "&Start page", window.show_start, None, "New, open, recent projects and the example")
    _action(window, view, "&Fit to window", window.view.fit, QKeySequence("F"), "Show the whole image (F)")
    _action(window, view, "Zoom &in", lambda: window.view.view_box.scaleBy((0.8, 0.8)), QKeySequence.StandardKey.ZoomIn,
            "Zoom in (Ctrl++)")
    _action(window, view, "Zoom &out", lambda: window.view.view_box.scaleBy((1.25, 1.25)),
            QKeySequence.StandardKey.ZoomOut, "Zoom out (Ctrl+-)")

    inspect = bar.addMenu("&Inspect")
    inspect.addActions(window.inspect_panel.menu_actions())
    _action(window, inspect, "Show &heatmap", window.inspect_panel.overlay_check.toggle, QKeySequence("H"),
            "Show or hide the heatmap (H)")

    tools = bar.addMenu("&Model")
    _action(window, tools, "Add OK &images…", window.teach_panel.choose_files, QKeySequence("Ctrl+I"),
            "Add OK images to teach (Ctrl+I)", needs="teach")
    _action(window, tools, "&Fit", window.teach_panel.fit, QKeySequence("Ctrl+T"),
            "Fit a new model from the OK images (Ctrl+T)", needs="teach")
    _action(window, tools, "&Add to model", window.teach_panel.add_to_model, None,
            "Teach the newly added OK images into the existing model", needs="teach")
    _action(window, tools, "&Calibrate…", window.open_calibration, QKeySequence("Ctrl+K"),
            "Choose OK and NG images and set the threshold (Ctrl+K)", needs="teach")
    _action(window, tools, "Re&load model", lambda: window.session.load_model(), QKeySequence("Ctrl+R"),
            "Load the project's model again from disk")
    tools.addSeparator()
    _action(window, tools, "E&xport for an edge PC…", window.export_model, None,
            "Write the model as a folder that a PC with the edge install (OpenVINO, no torch) inspects with",
            needs="backup")

    run = bar.addMenu("R&un")
    run.setToolTipsVisible(True)
    _action(window, run, "&Run view…", window.open_run_view, QKeySequence("Ctrl+Shift+R"),
            "Inspect what a folder, camera or video delivers, each part once, into the history")

    help_menu = bar.addMenu("&Help")
    _action(window, help_menu, "&About", window.open_about, None, "Versions, device, weights and licences")
    for menu in (project, edit, view, inspect, tools, help_menu):
        menu.setToolTipsVisible(True)
    return recent_menu, settings_action
