"""The window's Versions tab (issue 19): the versions of the project, activating one (rollback), the audit trail;
a refit onto a calibrated project is staged and says so."""

from unittest import mock

import inference
from gui_helpers import wait_idle


def test_a_refit_is_staged_and_the_versions_tab_rolls_back(qtbot, window, fitted_project, images):
    window.open_project(fitted_project, ask=False)
    wait_idle(qtbot, window)
    panel = window.versions_panel
    assert [v.version for v in inference.list_versions(fitted_project) if v.active] == ["v2"]

    window.teach_panel.fit()  # onto the calibrated v2: a staged v3, and the window says so
    wait_idle(qtbot, window)
    assert window.session.model.version == "v3" and inference.active_version(fitted_project) == "v2"
    assert "staged" in window.teach_panel.result_label.text()
    panel.refresh()
    assert "Active (inspecting the line): v2" in panel.summary.text() and "v3" in panel.summary.text()
    assert panel.table.item(0, 1).text() == "v3" and panel.table.item(1, 0).text() == "●"
    # v2's calibration (3 OK images) carries a warning: marked, and the row's tooltip says why
    assert panel.table.item(1, 5).text().endswith(" !") and "Only 3 OK image(s)" in panel.table.item(1, 5).toolTip()

    panel.table.selectRow(0)  # v3: activate it, with a note for the audit trail
    assert panel.activate_button.isEnabled()
    with mock.patch("app.panels.versions_panel.QInputDialog.getText", return_value=("try the refit", True)):
        panel.activate_button.click()
    wait_idle(qtbot, window)
    assert inference.active_version(fitted_project) == "v3" and window.session.model.version == "v3"
    audit = inference.read_audit(fitted_project)
    assert audit[-1]["action"] == "activate" and audit[-1]["note"] == "try the refit"
    assert panel.audit.item(0, 2).text() == "activate" and panel.audit.item(0, 6).text() == "try the refit"

    row_of_v2 = next(r for r in range(panel.table.rowCount()) if panel.table.item(r, 1).text() == "v2")
    panel.table.selectRow(row_of_v2)
    with mock.patch("app.panels.versions_panel.QInputDialog.getText", return_value=("back", True)):
        panel.activate_button.click()
    wait_idle(qtbot, window)
    assert inference.active_version(fitted_project) == "v2" and window.session.model.calibration is not None
    assert inference.read_audit(fitted_project)[-1]["action"] == "rollback"


def test_the_versions_tab_warns_when_the_audit_trail_was_edited_by_hand(qtbot, window, fitted_project):
    window.open_project(fitted_project, ask=False)
    wait_idle(qtbot, window)
    panel = window.versions_panel
    inference.append_audit(fitted_project, {"action": "activate", "version": "v2", "note": "a real change"})
    panel.refresh()
    assert panel.audit_label.text() == "Audit trail: every change that altered verdicts"
    path = fitted_project / "audit.jsonl"
    path.write_text(path.read_text().replace("a real change", "nothing to see"))
    panel.refresh()
    text = panel.audit_label.text()
    assert "WARNING, edited by hand" in text and "was changed after it was written" in text
