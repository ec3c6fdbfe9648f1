"""What the one at the window may do, applied to the window's widgets: the menu actions that ask for a permission
(menus.py's `needs`), the Setup dock and the Teach step (teach), the versions' Activate, the History's marks (review)
and the Run view's setup. The session refuses the same use cases (session.py), so this is what the eye sees, not
the only guard."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .access_guard import SignInButton

if TYPE_CHECKING:
    from .main_window import MainWindow


def connect(window: MainWindow) -> None:
    window.statusBar().addPermanentWidget(SignInButton(window.access, window))
    window.access.changed.connect(lambda: apply(window))
    apply(window)


def apply(window: MainWindow) -> None:
    access = window.access
    may_teach = access.may("teach")
    for action, permission in window.guarded_actions:
        action.setEnabled(access.may(permission))
    window.setup_dock.widget().setEnabled(may_teach)
    # The Edit menu's draw tools belong to the Setup dock's panels but live outside it, as QActions.
    for panel in (window.roi_panel, window.ignore_panel, window.zones_panel):
        for action in panel.actions.values():
            action.setEnabled(may_teach)
    if not may_teach:
        window.undo_stack.clear()  # the signed-out engineer's edits are not the next one's to undo or redo
    window.update_enabled()
    window.lock_roi()
    window.update_busy(window.runner.busy)
    if not may_teach and window.tabs.currentWidget() is window.teach_panel:
        window.tabs.setCurrentWidget(window.inspect_panel)
    window.versions_panel.update_buttons()
    window.history_panel.update_buttons()
    run_view = getattr(window, "run_view", None)
    if run_view is not None:
        run_view.set_setup_editable(may_teach)
    calibrate = getattr(window, "calibrate_dialog", None)
    if calibrate is not None and not may_teach:
        calibrate.close()  # the signed-out engineer's dialog is not left for the next one at the window
