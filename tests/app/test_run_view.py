"""The Run view: start on a watched folder, see each part's verdict and counters, warn on drift, stop; its fields
and alarm limits recalled. The PLC, MQTT, outputs and Copy command: test_run_view_line_io.py."""

import numpy as np

import inference
from inference.synthetic import write_discs
from station.history import History, default_path

from run_view_helpers import open_project, quick_error_rows, run_view_on  # noqa: F401 (an autouse fixture)


def test_run_view_inspects_a_folder_and_stops(qtbot, window, fitted_project, tmp_path, answerer):
    project = open_project(qtbot, window, fitted_project, tmp_path)
    inbox = tmp_path / "inbox"
    write_discs(inbox, range(20, 22))
    write_discs(inbox, [60], scratch=True)
    (inbox / "zz_broken.png").write_bytes(b"not an image")
    panel = window.open_run_view()
    assert panel.isVisible() and not panel.running
    panel.source_edit.setText(str(inbox))
    panel.archive_edit.setText(str(tmp_path / "archive"))
    assert panel.start()
    assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    qtbot.waitUntil(lambda: panel.last is not None and panel.last.counts.total == 4, timeout=120000)

    verdicts = [panel.table.item(r, 2).text() for r in range(panel.table.rowCount())]
    names = [panel.table.item(r, 1).text() for r in range(panel.table.rowCount())]
    assert sorted(zip(names, verdicts)) == [("ng_060.png", "NG"), ("ok_020.png", "OK"), ("ok_021.png", "OK"),
                                            ("zz_broken.png", "ERROR")]
    assert names[0] == "zz_broken.png"  # newest first; an unreadable file gets its second look last
    assert panel.verdict_label.text() == "ERROR"
    assert panel.counters_label.text() == "Total 4   NG 1   ERROR 1   Yield 66.7%"  # the one yield: OK / judged
    with History(default_path(project)) as history:  # the same history as `inspector run`
        assert sorted((r.file_name, r.verdict) for r in history.query()) == sorted(zip(names, verdicts))
    # The archive's own thread copies each part after its answer: the last may land a moment after its row (this
    # asserted at once, and failed now and then on a loaded machine).
    qtbot.waitUntil(lambda: len(list((tmp_path / "archive").rglob("*.png"))) == 4, timeout=30000)
    # With an archive a name the camera writes again is a new part, as under `inspector run --archive`: the next
    # part's image written over ok_020.png is judged and archived beside the first.
    write_discs(tmp_path / "next", [61], scratch=True)  # a part not seen before (an image seen is a frozen camera)
    (tmp_path / "next" / "ng_061.png").replace(inbox / "ok_020.png")
    qtbot.waitUntil(lambda: panel.last is not None and panel.last.counts.total == 5, timeout=60000)
    assert (panel.table.item(0, 1).text(), panel.table.item(0, 2).text()) == ("ok_020.png", "NG")
    qtbot.waitUntil(lambda: len(list((tmp_path / "archive").rglob("*.png"))) == 5, timeout=30000)

    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=30000)
    assert panel.start_button.isEnabled() and "5 inspected" in panel.status_label.text()
    # The status line holds the newest message; the Messages tab every one of the run, time-stamped, in order.
    said = panel.results.messages.toPlainText().splitlines()
    assert "Running on" in said[0] and "Stopped: 5 inspected" in said[-1] and len(said) >= 3
    assert all(line[2] == ":" and line[5] == ":" for line in said) and panel.results.tabs.count() == 2
    assert "ERROR by cause: image_invalid 1" in panel.status_label.text()  # the unreadable file
    assert answerer.seen == []


def test_run_view_shows_the_last_part_with_its_heatmap(qtbot, window, fitted_project, tmp_path):
    open_project(qtbot, window, fitted_project, tmp_path)
    inbox = tmp_path / "inbox"
    write_discs(inbox, [61], scratch=True)
    panel = window.open_run_view()
    panel.source_edit.setText(str(inbox))
    assert panel.start()
    qtbot.waitUntil(lambda: panel.last is not None, timeout=120000)
    assert panel.verdict_label.text() == "NG" and "#d93025" in panel.verdict_label.styleSheet()
    assert panel.view.image is not None and panel.view.result is panel.last.result
    assert panel.view.result.ng_regions  # the regions are drawn over the live image
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=30000)


def test_run_view_warns_on_drift(qtbot, window, fitted_project, tmp_path):
    project = open_project(qtbot, window, fitted_project, tmp_path)
    model = window.session.model
    cal = model.calibration
    median = float(np.median(cal.ok_scores))
    with History(default_path(project)) as history:  # recent OK parts scoring close to the threshold
        for i in range(30):
            history.record(source="line", file_name=f"{i}.png", verdict="OK",
                           score=median + 0.8 * (cal.threshold - median), model_id=model.model_id)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    panel = window.open_run_view()
    panel.source_edit.setText(str(inbox))
    assert panel.start()
    qtbot.waitUntil(lambda: panel.drift_label.isVisible(), timeout=60000)
    assert panel.drift_label.text().startswith("DRIFT")
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=30000)


def test_run_view_refuses_a_missing_source(qtbot, window, fitted_project, tmp_path, answerer):
    open_project(qtbot, window, fitted_project, tmp_path)
    panel = window.open_run_view()
    panel.source_edit.setText(str(tmp_path / "no_such_folder"))
    assert not panel.start()
    assert not panel.running and any("source not found" in text for text in answerer.seen)
    assert inference.has_model(tmp_path / "project")


def test_run_view_shows_the_line_alarms_while_they_are_active(qtbot, window, fitted_project, tmp_path):
    """Issue 23: the alarms of the line (issue 20: raised and cleared by the runner) in the window."""
    open_project(qtbot, window, fitted_project, tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(3):  # three unusable images in a row: the ERROR streak alarm (default 3)
        (inbox / f"a_broken_{i}.png").write_bytes(b"not an image")
    panel = window.open_run_view()
    panel.source_edit.setText(str(inbox))
    assert panel.start()
    qtbot.waitUntil(lambda: panel.alarm_label.isVisible(), timeout=120000)
    assert list(panel.alarms) == ["error_streak"] and panel.alarm_label.text().startswith("ALARM error_streak")
    write_discs(inbox, [22])  # a good part ends the streak: the alarm is cleared
    # The runner says "alarm cleared" as it records the part, and the part's result follows as its own signal:
    # under load the test can see the first before the second (a flaky failure, fourteenth session).
    qtbot.waitUntil(lambda: not panel.alarm_label.isVisible() and panel.last.verdict == "OK", timeout=120000)
    assert panel.alarms == {}
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=30000)


def test_run_view_checks_master_parts_apart_and_refuses_masters_without_part_ids(qtbot, window, fitted_project,
                                                                                tmp_path, answerer):
    """A red rabbit the station lets through: the table says so, the counters leave it out, the alarm rises."""
    open_project(qtbot, window, fitted_project, tmp_path)
    inbox = tmp_path / "inbox"
    write_discs(inbox, range(20, 22))  # ok_020.png, ok_021.png: production parts
    (tmp_path / "masters.txt").write_text("021 NG\n")  # ok_021.png is a master that must come out NG
    panel = window.open_run_view()
    panel.source_edit.setText(str(inbox))
    panel.masters_edit.setText(str(tmp_path / "masters.txt"))
    assert not panel.start() and "part id" in answerer.seen[-1]  # a master is known by its part id
    panel.part_id_edit.setText(r"ok_(\d+)")
    assert panel.start()
    qtbot.waitUntil(lambda: "master_failed" in panel.alarms and panel.table.rowCount() == 2, timeout=120000)
    shown = {panel.table.item(r, 1).text(): panel.table.item(r, 2).text() for r in range(panel.table.rowCount())}
    assert shown == {"ok_020.png": "OK", "ok_021.png": "OK (master FAILED)"}
    assert panel.counters_label.text().startswith("Total 1 ")  # production parts only
    assert "021 FAILED: expected NG, got OK" in panel.alarm_label.text()
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=30000)


def test_run_view_recalls_the_fields_of_the_last_run_started(qtbot, make_window, fitted_project, tmp_path):
    """The station's folder, archive, part id pattern, masters file and PLC address are the same from one day to
    the next: a window opened again shows those of the last run started (the window's QSettings)."""
    window = make_window()
    open_project(qtbot, window, fitted_project, tmp_path)
    inbox = tmp_path / "inbox"
    write_discs(inbox, [20])
    (tmp_path / "masters.txt").write_text("999 NG\n")
    panel = window.open_run_view()
    fields = {"source_edit": str(inbox), "archive_edit": str(tmp_path / "archive"), "part_id_edit": r"ok_(\d+)",
              "masters_edit": str(tmp_path / "masters.txt")}
    for name, text in fields.items():
        getattr(panel, name).setText(text)
    assert panel.start()
    qtbot.waitUntil(lambda: panel.last is not None, timeout=120000)
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=30000)
    panel.source_edit.setText("typed, never started")  # only a run started is remembered
    window.close()

    again = make_window().open_run_view()
    assert {name: getattr(again, name).text() for name in fields} == fields
    assert again.modbus_edit.text() == "" and not again.free_run_check.isChecked()


def test_run_view_alarm_limits_are_the_runs_and_recalled(qtbot, make_window, fitted_project, tmp_path, answerer):
    """The Alarms… dialog sets when the line's alarms rise, as inspector run's --alarm-* flags do: two NG in a
    row raise ng_streak where the default waits for five; a backup folder with no backup raises backup_due. A free
    space that is no space is a message and the dialog stays; the limits of the last run started come back with the
    window."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QDialogButtonBox

    from app.panels.alarm_limits_dialog import AlarmLimitsDialog

    window = make_window()
    open_project(qtbot, window, fitted_project, tmp_path)
    inbox = tmp_path / "inbox"
    write_discs(inbox, [60, 61], scratch=True)
    panel = window.open_run_view()
    assert "NG in a row: 5" in panel.alarm_button.toolTip()  # the run's defaults
    still_open = []
    backups = tmp_path / "backups"
    backups.mkdir()

    def fill():
        dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, AlarmLimitsDialog) and w.isVisible())
        ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        dialog.ng.setValue(2)
        dialog.min_free.setText("lots")
        ok.click()  # the message box is answered (answerer) before click() returns
        still_open.append(dialog.isVisible())
        dialog.min_free.setText("1GB")
        dialog.backups.setText(str(backups))
        ok.click()

    QTimer.singleShot(0, fill)
    assert panel.edit_alarm_limits()
    assert still_open == [True] and "Free space kept needs a percentage of the disk or a size" in answerer.seen[-1]
    assert "NG in a row: 2" in panel.alarm_button.toolTip() and "free space kept: 1GB" in panel.alarm_button.toolTip()

    panel.source_edit.setText(str(inbox))
    assert panel.start()
    assert not panel.alarm_button.isEnabled()  # the limits are the run's from its start
    qtbot.waitUntil(lambda: "ng_streak" in panel.alarms and "backup_due" in panel.alarms, timeout=120000)
    assert "2 NG in a row" in panel.alarm_label.text()
    assert f"no backup of project in {backups}; backups are due every 26.0 h" in panel.alarm_label.text()
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=30000)
    assert panel.alarm_button.isEnabled()
    window.close()

    again = make_window().open_run_view()
    assert again.alarm_values["ng_streak"] == 2 and again.alarm_values["min_free"] == "1GB"
    assert again.alarm_values["backups"] == str(backups) and again.alarm_values["backup_every_h"] == 26.0
    assert again.alarm_values["yield_pct"] == 50.0  # the others as they were




def test_run_view_holds_the_last_ng_part_while_good_ones_pass(qtbot, window, fitted_project, tmp_path):
    """At ten parts a second an NG part's picture would show for a tenth of a second: it stays in its own view with
    its name and reason until the next NG; a new run starts without it."""
    import os
    import time

    open_project(qtbot, window, fitted_project, tmp_path)
    inbox = tmp_path / "inbox"
    paths = write_discs(inbox, [61], scratch=True) + write_discs(inbox, [22, 23])
    for age, path in zip((30, 20, 10), paths):  # the NG part first, then two good ones
        os.utime(path, (time.time() - age, time.time() - age))
    panel = window.open_run_view()
    panel.source_edit.setText(str(inbox))
    assert panel.start()
    qtbot.waitUntil(lambda: panel.last is not None and panel.last.counts.total == 3, timeout=120000)
    results = panel.results
    assert panel.verdict_label.text() == "OK"  # the last part shown is good
    assert results.last_ng.name == "ng_061.png" and results.last_ng.verdict == "NG"
    assert results.last_ng_label.text().startswith("Last NG: ng_061.png at ")
    assert not results.last_ng_view.isHidden() and results.last_ng_view.result is results.last_ng.result
    assert results.last_ng_view.result.ng_regions  # its defect drawn
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=30000)
    assert panel.start()  # the same folder again: every part is in the history already, nothing new
    assert results.last_ng is None and results.last_ng_label.text() == "Last NG: none this run"
    assert results.last_ng_view.isHidden()
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=30000)


def test_camera_preview_shows_the_live_picture_with_its_focus_and_frees_the_camera(qtbot, window, fitted_project,
                                                                                    tmp_path, answerer, monkeypatch):
    """Camera… opens the source as the run will (its settings said when not taken), shows frames with their
    sharpness and brightness, and releases the camera when closed. No camera is attached to a test machine:
    tests/fake_camera.py's stands in."""
    import cv2

    from fake_camera import BufferingCamera, Scene
    from inference.synthetic import disc

    BufferingCamera.scene = Scene(disc(70)[0])
    monkeypatch.setattr(cv2, "VideoCapture", BufferingCamera)
    open_project(qtbot, window, fitted_project, tmp_path)
    panel = window.open_run_view()
    panel.source_edit.setText(str(tmp_path))
    assert not panel.preview_camera() and "Camera… shows a camera" in answerer.seen[-1]
    panel.source_edit.setText("camera:0?width=1920")
    assert panel.preview_camera()
    dialog = panel.preview
    qtbot.waitUntil(lambda: dialog.frames >= 3, timeout=30000)
    assert dialog.view.image is not None and dialog.view.image.shape == BufferingCamera.scene.before.shape
    assert "sharpness" in dialog.quality_label.text() and "brightness" in dialog.quality_label.text()
    assert dialog.focus_label.text().startswith("Focus: ") and dialog.best_sharpness > 0
    assert "did not take width=1920 (gives 1280)" in dialog.message_label.text()
    worker = dialog.worker
    dialog.reject()
    assert worker.isFinished()  # the camera is free for the run
