"""The window's sign-in (station/sign_in.py, app/access_guard.py): where a users file is in force, the operator runs
and inspects but cannot teach, calibrate, activate, mark or change the line's setup, not even through a use case a
button did not guard; a person signs in for their roles, the audit trail and the marks name them, and they are
signed out after minutes without input. Without a users file nothing changes."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import Qt

import inference
from app.access_guard import SignInButton, SignInDialog
from gui_helpers import drag, wait_idle
from station import history as hist
from station.sign_in import SignIn


@pytest.fixture
def station(qtbot, make_window, users, fitted_project, images, tmp_path):
    """A window with the users file, on a copy of the fitted project with three bench inspections in its history."""
    folder = tmp_path / "project"
    shutil.copytree(fitted_project, folder)
    window = make_window(sign_in=SignIn(users))
    window.open_project(folder, ask=False)
    wait_idle(qtbot, window)
    window.inspect_panel.open_paths([images["ng"][0], images["ng"][1], images["val"][0]])
    wait_idle(qtbot, window)
    window.inspect_panel.inspect_all_button.click()
    wait_idle(qtbot, window)
    return window, folder


def actions(window) -> dict:
    return {a.text().replace("&", ""): a for a, _ in window.guarded_actions}


def sign_in(qtbot, window, name, password):
    dialog = SignInDialog(window.access, window)
    dialog.name_box.setCurrentText(name)
    dialog.password_edit.setText(password)
    signed = dialog.try_sign_in()
    return signed, dialog.message.text()


def test_the_operator_inspects_but_changes_nothing(qtbot, station, images, answerer):
    window, folder = station
    assert window.access.who == "operator"
    button = window.statusBar().findChild(SignInButton)
    assert button is not None and button.isVisible() and button.text() == "Operator · Sign in…"
    guarded = actions(window)
    assert {"Fit", "Calibrate…", "Settings…", "Save", "Add to model", "Back up…"} <= set(guarded)
    assert not any(a.isEnabled() for a in guarded.values())
    assert not window.tabs.isTabEnabled(window.tabs.indexOf(window.teach_panel))
    assert not window.setup_dock.widget().isEnabled() and not window.roi_editable()
    roi = window.doc.roi
    for action in (*window.roi_panel.actions.values(), *window.ignore_panel.actions.values()):
        assert not action.isEnabled()
        action.trigger()  # the Edit menu's draw tools: disabled, so nothing to draw with
        drag(qtbot, window.view, (20, 30), (100, 90))
    assert window.doc.roi == roi and window.doc.ignore == () and not window.doc.dirty
    assert window.inspect_panel.current is not None, "the operator inspects"
    versions = inference.list_versions(folder)
    audit = inference.read_audit(folder)

    # The use cases themselves refuse, whatever asked: no version, no audit row, a message naming who may.
    window.session.fit()
    window.session.activate("v1", "rollback")
    window.open_calibration()
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: len(answerer.seen) >= 3)
    assert all("operator may not teach" in text and "role engineer" in text for text in answerer.seen[:3])
    assert inference.list_versions(folder) == versions and inference.read_audit(folder) == audit

    history = window.history_panel
    window.tabs.setCurrentWidget(history)
    history.table.selectRow(next(r for r in range(history.table.rowCount()) if history.table.item(r, 2).text() == "NG"))
    assert not history.reject_button.isEnabled() and not history.teach_button.isEnabled()
    history.mark("false_reject")
    qtbot.waitUntil(lambda: any("may not mark inspections" in text for text in answerer.seen))
    with hist.History(hist.default_path(folder)) as h:
        assert not any(r.label for r in h.query())

    assert window.try_example() is False and window.new_project() is False  # a new project is teaching too
    qtbot.waitUntil(lambda: sum("operator may not teach" in t for t in answerer.seen) >= 5)

    run_view = window.open_run_view()
    assert run_view.start_button.isEnabled() and not run_view.source_edit.isEnabled()
    assert not run_view.alarm_button.isEnabled() and not run_view.modbus_edit.isEnabled()
    run_view.close()


def test_people_sign_in_for_their_roles_and_are_named(qtbot, station, images, answerer):
    window, folder = station
    signed, message = sign_in(qtbot, window, "bo", "not-bo's")
    assert not signed and message == "Wrong name or password." and window.access.who == "operator"

    # A reviewer marks, and the mark names them; teaching stays closed.
    assert sign_in(qtbot, window, "bo", "bo-password")[0]
    history = window.history_panel
    window.tabs.setCurrentWidget(history)
    row = next(r for r in range(history.table.rowCount()) if history.table.item(r, 2).text() == "NG")
    history.table.selectRow(row)
    row_id = history.table.item(row, 0).data(Qt.ItemDataRole.UserRole)
    assert history.reject_button.isEnabled() and not history.teach_button.isEnabled()
    history.reject_button.click()
    with hist.History(hist.default_path(folder)) as h:
        assert h.get(row_id).label == "false_reject" and h.marks(row_id)[-1]["who"] == "bo"
    assert not actions(window)["Fit"].isEnabled()

    # The engineer activates a version, and the audit trail names her.
    assert sign_in(qtbot, window, "ana", "ana-password")[0]
    assert all(a.isEnabled() for a in actions(window).values()) and window.setup_dock.widget().isEnabled()
    assert window.tabs.isTabEnabled(window.tabs.indexOf(window.teach_panel))
    window.session.activate("v1", "try the first")
    wait_idle(qtbot, window)
    audit = inference.read_audit(folder)[-1]
    assert audit["action"] == "rollback" and audit["who"] == "ana" and inference.active_version(folder) == "v1"

    # Her fit and her calibration say why, in her name (the notes the command line's --note gives).
    window.teach_panel.note_edit.setText("new supplier batch")
    window.teach_panel.fit()
    wait_idle(qtbot, window)
    fitted = inference.read_audit(folder)[-1]
    assert (fitted["action"], fitted["who"], fitted["note"]) == ("fit", "ana", "new supplier batch")
    window.open_calibration()
    dialog = window.calibrate_dialog
    dialog.ok_box.add_paths(images["val"])
    dialog.ng_box.add_paths(images["ng"])
    dialog.note_edit.setText("after the refit")
    dialog.compute_button.click()
    wait_idle(qtbot, window)
    dialog.save_button.click()
    qtbot.waitUntil(lambda: inference.read_audit(folder)[-1]["action"] == "calibrate", timeout=60000)
    wait_idle(qtbot, window)
    calibrated = inference.read_audit(folder)[-1]
    assert (calibrated["who"], calibrated["note"]) == ("ana", "after the refit")

    # A fit that outlives her sign-out is still hers in the audit trail.
    window.teach_panel.fit()
    window.access.sign_out()
    _ = window.session.station  # the operator's next use case starts meanwhile (it named the station's user)
    wait_idle(qtbot, window)
    assert inference.read_audit(folder)[-1]["action"] == "fit" and inference.read_audit(folder)[-1]["who"] == "ana"
    assert sign_in(qtbot, window, "ana", "ana-password")[0]

    # Minutes without a key or a click sign her out: the operator's rights are back.
    window.access.idle.setInterval(50)
    window.access.idle.start()
    qtbot.waitUntil(lambda: window.access.who == "operator", timeout=5000)
    assert not actions(window)["Fit"].isEnabled() and not window.roi_editable()
    button = window.statusBar().findChild(SignInButton)
    assert button.text() == "Operator · Sign in…" and "without a key or a click" in button.toolTip()


def test_without_a_users_file_nothing_is_locked(qtbot, window, fitted_project):
    window.open_project(fitted_project, ask=False)
    wait_idle(qtbot, window)
    assert not window.access.required and window.access.who == inference.os_user()
    assert all(a.isEnabled() for a, _ in window.guarded_actions)
    assert not window.statusBar().findChild(SignInButton).isVisible()
