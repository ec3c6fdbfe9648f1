"""The History view: the window's inspections are recorded; filter, open, mark, teach back, calibrate, export."""

from __future__ import annotations

import csv
import shutil

import cv2
import inference
import numpy as np
import pytest
from PySide6.QtCore import Qt

from gui_helpers import wait_idle
from station import history as hist


@pytest.fixture
def reviewed(qtbot, window, fitted_project, images, tmp_path):
    folder = tmp_path / "project"
    shutil.copytree(fitted_project, folder)
    window.open_project(folder, ask=False)
    wait_idle(qtbot, window)
    panel = window.inspect_panel
    panel.open_paths([images["ng"][0], images["ng"][1], images["val"][0]])  # the first is inspected on open
    wait_idle(qtbot, window)
    panel.inspect_all_button.click()
    wait_idle(qtbot, window)
    window.tabs.setCurrentWidget(window.history_panel)
    return window, folder


def rows_shown(view):
    t = view.table
    return [tuple(t.item(r, c).text() for c in (1, 2, 4)) for r in range(t.rowCount())]


def select_first(view, verdict):
    t = view.table
    row = next(r for r in range(t.rowCount()) if t.item(r, 2).text() == verdict)
    t.selectRow(row)
    return t.item(row, 0).data(Qt.ItemDataRole.UserRole)


def test_inspections_are_recorded_and_filtered(qtbot, reviewed, images):
    window, folder = reviewed
    view = window.history_panel
    with hist.History(hist.default_path(folder)) as h:
        rows = h.query()
    assert len(rows) == 4 and sorted(r.verdict for r in rows) == ["NG", "NG", "NG", "OK"]
    assert all(r.model_id == window.session.model.model_id and r.heatmap_png for r in rows)
    thumb = cv2.imdecode(np.frombuffer(rows[0].heatmap_png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert thumb.shape[2] == 4 and max(thumb.shape[:2]) == 128, "the ROI box (135 px) shrunk to the thumbnail size"
    assert {r.file_name for r in rows} == {"ng_050.png", "ng_051.png", "ok_010.png"}
    ng_row = next(r for r in rows if r.verdict == "NG")
    assert ng_row.regions and ng_row.reason.startswith("score")
    assert len(rows_shown(view)) == 4 and "NG 3" in view.summary.text() and "yield 25.0%" in view.summary.text()
    assert all(r.purpose == "bench" and r.model_version == window.session.model.version for r in rows)

    view.verdict.setCurrentText("OK")
    assert [r[0] for r in rows_shown(view)] == ["ok_010.png"]
    view.verdict.setCurrentText("All verdicts")
    ok_score = min(r.score for r in rows if r.verdict == "NG")
    view.min_score.setValue(ok_score)
    assert {r[1] for r in rows_shown(view)} == {"NG"}
    view.min_score.setValue(0)
    view.since.setCurrentText("Last hour")
    assert len(rows_shown(view)) == 4

    # Opening a past NG inspection shows its image with the recorded regions.
    select_first(view, "NG")
    assert window.view.image is not None and window.view.outline_items
    assert "NG" in view.detail.text() and "#1" in view.detail.text()
    assert not view.thumb.pixmap().isNull(), "the kept heatmap is shown"


def test_mark_teach_calibrate_and_export(qtbot, reviewed, images, tmp_path, answerer):
    window, folder = reviewed
    view = window.history_panel
    row_id = select_first(view, "NG")
    view.reject_button.click()
    with hist.History(hist.default_path(folder)) as h:
        marked = h.get(row_id)
        assert marked.label == "false_reject" and marked.marked_by == inference.os_user()
    assert any(r[2] == f"false reject (by {inference.os_user()})" for r in rows_shown(view))  # who marked it
    ok_id = select_first(view, "OK")
    view.accept_button.click()

    # Marked false rejects go to Teach, ready for "Add to model".
    before = list(window.doc.ok_images)
    view.teach_button.click()
    added = [p for p in window.doc.ok_images if p not in before]
    assert added == [str(hist_path(marked))]
    assert window.tabs.currentWidget() is window.teach_panel
    assert window.teach_panel.add_button.isEnabled()

    # Marked images open in Calibrate: false rejects as OK, false accepts as NG.
    window.tabs.setCurrentWidget(view)
    view.calibrate_button.click()
    dialog = window.calibrate_dialog
    assert str(hist_path(marked)) in dialog.ok_box.paths()
    with hist.History(hist.default_path(folder)) as h:
        assert str(hist_path(h.get(ok_id))) in dialog.ng_box.paths()
    dialog.reject()

    out = tmp_path / "history.csv"
    assert view.export(str(out))
    exported = list(csv.DictReader(out.open()))
    assert len(exported) == 4 and {r["verdict"] for r in exported} == {"NG", "OK"}
    assert view.export(str(tmp_path / "history.json"))
    assert (tmp_path / "history.json").read_text().lstrip().startswith("[")


def test_a_false_reject_taught_back_is_neither_taught_nor_calibrated_with_again(qtbot, reviewed, answerer):
    """The window takes the marked images as `inspector fit --false-rejects` / `calibrate --marked` do: once the
    model has taught a false reject (by its content), Teach does not add it again and Calibrate does not score it
    as an OK image (it would score low: a part the model has seen)."""
    window, folder = reviewed
    view = window.history_panel
    select_first(view, "NG")
    view.reject_button.click()
    view.teach_button.click()
    window.teach_panel.add_button.click()  # Add to model
    wait_idle(qtbot, window)
    wait_idle(qtbot, window)  # the taught model is loaded
    window.tabs.setCurrentWidget(view)
    answerer.seen.clear()
    view.teach_button.click()
    qtbot.waitUntil(lambda: bool(answerer.seen), timeout=5000)
    assert "0 image(s) marked false reject (1 taught already)" in answerer.seen[-1]
    view.calibrate_button.click()  # nothing left to calibrate with either
    qtbot.waitUntil(lambda: len(answerer.seen) > 1, timeout=5000)
    assert answerer.seen[-1] == ("No image to calibrate with: 0 image(s) marked false reject (1 taught already), 0 "
                                 "image(s) marked false accept.")


def hist_path(row):
    return row.image_path()


def test_a_history_that_cannot_be_opened_is_said_and_inspecting_goes_on(qtbot, window, fitted_project, images,
                                                                         tmp_path):
    folder = tmp_path / "project"
    shutil.copytree(fitted_project, folder)
    (folder / hist.HISTORY_FILE).mkdir()  # in the way of the database file
    window.open_project(folder, ask=False)
    wait_idle(qtbot, window)
    window.inspect_panel.open_paths([images["ng"][0]])
    wait_idle(qtbot, window)
    assert window.inspect_panel.current.verdict == "NG"
    window.tabs.setCurrentWidget(window.history_panel)
    assert "No history" in window.history_panel.summary.text() and "folder" in window.history_panel.summary.text()
    assert window.history_panel.table.rowCount() == 0 and not window.history_panel.export_button.isEnabled()


def test_the_report_by_shift_of_the_time_shown(qtbot, reviewed):
    """History > Report…: the counts and yield per period (inspector history --by), master checks apart."""
    from datetime import datetime

    window, folder = reviewed
    view = window.history_panel
    with hist.History(hist.default_path(folder)) as h:  # a master part's check from the line, 23:30 three days ago
        late = datetime.now().replace(hour=23, minute=30, second=0, microsecond=0).timestamp() - 3 * 86400
        h.record(source="line", file_name="rr.png", verdict="NG", part_id="RR-1", purpose="master", expected="NG",
                 time=late)
    dialog = view.show_report()
    table = dialog.table
    cells = [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]
    night = [c for c in cells if c[8]]  # the shift begun at 22:00 that day: only the master check
    assert [c[0] for c in night[:1]] == [datetime.fromtimestamp(late).strftime("%Y-%m-%d 22:00")]
    assert night[0][1:] == ["0", "0", "0", "0", "0", "0", "-", "1 passed, 0 failed"]
    assert cells[-1][:4] == ["total", "4", "1", "3"] and cells[-1][7] == "25.0%"  # the window's four inspections
    dialog.shifts.setText("6,30")
    dialog.refresh()
    assert table.rowCount() == 0 and "Shifts start at: the hours shifts start at" in dialog.note.text()
    dialog.by.setCurrentIndex(2)  # by day: the shift hours do not matter
    assert table.rowCount() >= 2 and dialog.note.text() == ""
    # NG by zone: the window's three NG parts, inspected without zones; the master check left out.
    dialog.by.setCurrentIndex(3)
    cells = [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]
    assert cells == [["(no zones)", "3", "100.0%"]] and not dialog.shifts.isEnabled()
    dialog.by.setCurrentIndex(4)  # ERROR by cause: none yet; then a frozen camera's two parts from the line
    assert table.rowCount() == 0 and dialog.note.text() == "No ERROR in the time the History view shows."
    with hist.History(hist.default_path(folder)) as h:
        for name in ("f1.png", "f2.png"):
            h.record(source="line", file_name=name, verdict="ERROR", reason="the same image as the part before",
                     error_code=4)
    dialog.refresh()
    cells = [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]
    assert cells == [["repeated_image", "4", "2", "100.0%", "the same image as the part before (a frozen camera)"]]
    view.refresh()  # the list says each ERROR's cause beside it
    listed = {view.table.item(r, 1).text(): view.table.item(r, 2).text() for r in range(view.table.rowCount())}
    assert listed["f1.png"] == listed["f2.png"] == "ERROR (repeated_image)" and "NG" in listed.values()
    view.verdict.setCurrentIndex(view.verdict.findText("Error: repeated_image"))  # those of one cause
    assert sorted(view.table.item(r, 1).text() for r in range(view.table.rowCount())) == ["f1.png", "f2.png"]
    view.verdict.setCurrentIndex(view.verdict.findText("Error: no_image"))
    assert view.table.rowCount() == 0
    view.verdict.setCurrentIndex(0)
    dialog.by.setCurrentIndex(5)  # alarms: none raised yet (the window inspects as bench checks)
    assert table.rowCount() == 0 and dialog.note.text() == "No alarm in the time the History view shows."
    from station.line_io.alarm_log import AlarmLog
    from station.line_io.alarms import AlarmChange

    log = AlarmLog(hist.default_path(folder))  # the Run view's publisher, or `inspector run` on this history
    log.record("project", [AlarmChange("disk", True, "ALARM disk: 2% free")], when=late)
    log.record("project", [AlarmChange("disk", False, "alarm cleared disk: free space back")], when=late + 60)
    log.close()
    dialog.refresh()
    cells = [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]
    assert cells == [[datetime.fromtimestamp(late).strftime("%Y-%m-%d %H:%M:%S"), "project", "ALARM disk: 2% free"],
                     [datetime.fromtimestamp(late + 60).strftime("%Y-%m-%d %H:%M:%S"), "project",
                      "alarm cleared disk: free space back"]]
    assert dialog.note.text() == "disk (project): raised 1x, on 0:01:00"
    dialog.close()
