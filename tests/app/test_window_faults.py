"""The window's numbered faults of issue 12, one test (or more) each; every one failed on the code before the fix."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPointF, QSettings, Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

import inference
from gui_helpers import ROI, wait_idle
from gui_helpers import drag


@pytest.fixture
def project(fitted_project, tmp_path) -> Path:
    folder = tmp_path / "project"
    shutil.copytree(fitted_project, folder)
    return folder


@pytest.fixture
def corrupt(tmp_path) -> str:
    path = tmp_path / "corrupt.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    return str(path)


def opened(qtbot, window, folder):
    assert window.open_project(folder, ask=False)
    wait_idle(qtbot, window)
    assert window.session.model is not None
    return window


# 1 ------------------------------------------------------------------------------------------------------------
def test_1_quit_during_a_fit_stops_it_before_asking_to_save(qtbot, window, project, images, monkeypatch):
    from app import messages

    opened(qtbot, window, project)
    model_id = window.session.model.model_id
    window.doc.add_images(images["val"])  # unsaved change, and more to fit
    asked = []
    monkeypatch.setattr(messages, "confirm", lambda parent, title, text: asked.append(text) or True)
    monkeypatch.setattr(messages, "save_discard_cancel",
                        lambda *a: asked.append(("running while asked to save", window.runner.busy)) or "discard")
    window.teach_panel.fit_button.click()
    assert window.runner.busy
    window.close()
    assert ("running while asked to save", False) in asked
    assert not window.runner.busy
    assert inference.read_manifest(project)["model_id"] == model_id, "the cancelled fit replaced nothing"
    assert inference.Engine(window.engine.config).load(project).calibration is not None, "calibration still valid"


# 2 ------------------------------------------------------------------------------------------------------------
def test_2_an_unreadable_image_clears_the_previous_result(qtbot, window, project, images, corrupt, answerer):
    opened(qtbot, window, project)
    panel = window.inspect_panel
    panel.open_paths([images["ng"][0], corrupt])
    wait_idle(qtbot, window)
    assert panel.badge.text() == "NG" and window.view.outline_items
    panel.go(1)
    assert window.view.image is None, "the previous image is gone at once"
    wait_idle(qtbot, window)  # the inspection's worker decodes the file, and says it cannot
    assert any("corrupt.png" in t for t in answerer.seen), "the file is named in the message"
    assert window.view.image is None, "the previous image is gone"
    assert panel.badge.text() == "—" and panel.regions.rowCount() == 0 and panel.current is None
    assert not window.view.outline_items and window.view.overlay_item.image is None
    assert panel.results_table.item(panel.results_list.row_of(corrupt), 2).text() == "unreadable"
    # Stepping back onto the marked file says why in the status bar: no second inspection, no dialog per step.
    answerer.seen.clear()
    panel.go(0)
    wait_idle(qtbot, window)
    panel.go(1)
    assert not window.runner.busy and not answerer.seen and window.view.image is None
    assert "corrupt.png cannot be read" in window.statusBar().currentMessage()
    panel.inspect_current()  # Inspect tries the file again, and says again that it cannot
    wait_idle(qtbot, window)
    assert any("corrupt.png" in t for t in answerer.seen)


# 3 ------------------------------------------------------------------------------------------------------------
def test_3_inspect_all_skips_an_unreadable_file_and_inspects_the_rest(qtbot, window, project, images, corrupt,
                                                                       answerer):
    opened(qtbot, window, project)
    panel = window.inspect_panel
    paths = [images["ng"][0], corrupt, images["val"][0], images["ng"][1]]
    panel.open_paths(paths)
    wait_idle(qtbot, window)
    answerer.seen.clear()
    panel.inspect_all_button.click()
    wait_idle(qtbot, window)
    assert not answerer.seen, "no error dialog for the whole batch"
    verdicts = {Path(p).name: panel.results_table.item(panel.results_list.row_of(p), 2).text() for p in paths}
    assert verdicts == {"ng_050.png": "NG", "corrupt.png": "unreadable", "ok_010.png": "OK", "ng_051.png": "NG"}
    assert set(panel.results) == {images["ng"][0], images["val"][0], images["ng"][1]}
    assert "(1 OK / 3 judged); NG 2" in panel.summary_label.text() and "ERROR 1" in panel.summary_label.text()
    assert "yield 33.3%" in panel.summary_label.text()
    # Filter and sort the list.
    panel.filter_box.setCurrentText("NG")
    shown = [panel.results_table.item(r, 0).text() for r in range(4) if not panel.results_table.isRowHidden(r)]
    assert sorted(shown) == ["ng_050.png", "ng_051.png"]
    panel.filter_box.setCurrentText("All")
    panel.results_table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    scores = [panel.results_table.item(r, 1).text() for r in range(4)]
    numbers = [float(s) for s in scores if s]
    assert numbers == sorted(numbers, reverse=True) and scores.index("") in (0, 3), "unscored rows at one end"
    # Selecting a row after sorting shows that row's image.
    panel.results_table.selectRow(0)
    assert panel.paths[panel.index] == panel.results_table.item(0, 0).data(Qt.ItemDataRole.UserRole)
    wait_idle(qtbot, window)  # the row opened may be the unreadable file: its inspection ends inside the test


# 4 ------------------------------------------------------------------------------------------------------------
def test_4_in_the_inspect_step_a_drag_pans_and_leaves_the_roi(qtbot, window, project, images):
    opened(qtbot, window, project)
    window.inspect_panel.open_paths([images["val"][0]])
    wait_idle(qtbot, window)
    assert window.tabs.currentWidget() is window.inspect_panel
    before = window.view.view_box.viewRect()
    drag(qtbot, window.view, (80, 80), (110, 100))
    assert window.doc.roi == ROI and not window.doc.dirty
    assert not any("stale" in line for line in window.banner_lines())
    after = window.view.view_box.viewRect()
    assert after.center() != before.center(), "the drag panned the view"
    assert not window.roi_panel.spins["r"].isEnabled(), "numeric ROI fields are locked too"

    # In the Teach step the same drag moves the ROI.
    window.tabs.setCurrentWidget(window.teach_panel)
    window.view.fit()
    drag(qtbot, window.view, (80 + ROI.r * 0.7, 80), (100 + ROI.r * 0.7, 90))
    assert window.doc.roi != ROI and window.roi_panel.spins["r"].isEnabled()

    # A draw tool does not stay on into the Inspect step.
    window.roi_panel.actions["rect"].trigger()
    assert window.view.view_box.tool == "rect"
    window.tabs.setCurrentWidget(window.inspect_panel)
    assert window.view.view_box.tool is None


# 5 ------------------------------------------------------------------------------------------------------------
def test_5_the_fit_line_does_not_say_fitting_after_the_missing_weights_dialog(qtbot, make_window, tiny_config,
                                                                              images, tmp_path, monkeypatch,
                                                                              answerer):
    folder = tmp_path / "p"
    folder.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder)))
    w = make_window(tiny_config.replace(weights=str(tmp_path / "missing.pth")))
    assert w.new_project()
    w.doc.add_images(images["ok"][:2])
    answerer.answers = [QMessageBox.StandardButton.Cancel]
    w.teach_panel.fit_button.click()
    wait_idle(qtbot, w)
    qtbot.waitUntil(lambda: any("not on this machine" in t for t in answerer.seen), timeout=5000)
    assert "Fitting" not in w.teach_panel.result_label.text()
    assert "unchanged" in w.teach_panel.result_label.text()


def test_5_the_fit_line_does_not_say_adding_after_a_failed_add(qtbot, window, project, corrupt, answerer):
    opened(qtbot, window, project)
    window.doc.add_images([corrupt])  # as a stale settings.json could list it
    window.teach_panel.add_button.click()
    wait_idle(qtbot, window)
    assert answerer.seen
    assert not window.teach_panel.result_label.text().startswith("Adding")


# 6 ------------------------------------------------------------------------------------------------------------
def test_6_calibrate_shows_the_saved_calibration_after_reopening(qtbot, make_window, project, images):
    w = opened(qtbot, make_window(), project)
    saved = json.loads((project / "calibration.json").read_text())
    w.open_calibration()
    dialog = w.calibrate_dialog
    assert dialog.threshold == pytest.approx(saved["threshold"])
    assert dialog.threshold_spin.value() == pytest.approx(saved["threshold"], abs=1e-4)
    assert sum(dialog.ok_bars.opts["height"]) == 3 and sum(dialog.ng_bars.opts["height"]) == 2
    assert dialog.save_button.isEnabled() and "Saved calibration" in dialog.counts.text()

    # The image sets used come back too, once saved with the project.
    dialog.ok_box.add_paths(images["val"])
    dialog.ng_box.add_paths(images["ng"])
    dialog.compute_button.click()
    qtbot.waitUntil(lambda: dialog.save_button.isEnabled() and not w.runner.busy, timeout=60000)
    dialog.save_button.click()
    wait_idle(qtbot, w)
    assert w.save_project()
    again = opened(qtbot, make_window(), project)
    again.open_calibration()
    assert again.calibrate_dialog.ok_box.paths() == images["val"]
    assert again.calibrate_dialog.ng_box.paths() == images["ng"]


# 7 ------------------------------------------------------------------------------------------------------------
def test_7_the_teach_list_refuses_a_corrupt_file(qtbot, window, images, corrupt, answerer):
    window.teach_panel.add_paths([images["ok"][0], corrupt])
    assert window.doc.ok_images == [images["ok"][0]]
    assert any("cannot be read" in t and "corrupt.png" in t for t in answerer.seen)


def test_7_the_not_calibrated_banner_says_it_once(qtbot, window, project):
    (project / "calibration.json").unlink()
    opened(qtbot, window, project)
    lines = [line for line in window.banner_lines() if "calibrated" in line.lower()]
    assert lines and all("not calibrated: not calibrated" not in line.lower() for line in lines)


def test_7_the_csv_image_column_is_the_file_name(qtbot, window, project, images, tmp_path):
    opened(qtbot, window, project)
    panel = window.inspect_panel
    panel.open_paths(images["ng"])
    wait_idle(qtbot, window)
    panel.inspect_all_button.click()
    wait_idle(qtbot, window)
    out = tmp_path / "r.csv"
    panel.export_csv(str(out))
    rows = list(csv.DictReader(out.open()))
    assert [r["image"] for r in rows] == [Path(p).name for p in images["ng"]]
    assert [r["path"] for r in rows] == images["ng"]


def test_7_undo_back_to_the_saved_state_clears_the_title_star(qtbot, window, project):
    from app.commands import push_roi

    opened(qtbot, window, project)
    assert not window.isWindowModified()
    push_roi(window.undo_stack, window.doc, inference.Circle(70.0, 70.0, 40.0), "draw")
    assert window.isWindowModified()
    window.undo_stack.undo()
    assert window.doc.roi == ROI and not window.isWindowModified() and not window.doc.dirty
    window.undo_stack.redo()
    assert window.isWindowModified()


def test_7_the_pixel_readout_clears_when_the_mouse_leaves(qtbot, window, images):
    window.inspect_panel.open_paths([images["ok"][0]])
    # The scene reports the cursor as it does for a real mouse move (offscreen, QTest moves may be coalesced).
    window.view.scene().sigMouseMoved.emit(window.view.view_box.mapViewToScene(QPointF(40.5, 50.5)))
    assert window.pixel_label.text().startswith("x 40  y 50")
    QApplication.sendEvent(window.view, QEvent(QEvent.Type.Leave))
    assert window.pixel_label.text() == ""


def test_7_about_names_the_loaded_models_backbone(qtbot, window, images, tmp_path):
    from app.panels.about_dialog import AboutDialog

    config = inference.EngineConfig(backbone="efficientnet_lite0", weights="none", input_size=112,
                                    coreset_ratio=0.25)
    engine = inference.Engine(config)
    engine.fit(tmp_path / "cnn", images["ok"][:2], roi=ROI)
    model = engine.load(tmp_path / "cnn")
    text = AboutDialog(engine, model, window).text.toPlainText()
    assert "PatchCore on efficientnet_lite0" in text and "PatchCore on DINOv2" not in text
    # what it computes in, and the fit's precision check when there was one (tests/test_precision_gate.py)
    computes = inference.describe_compute(model.backbone.runtime, model.backbone.precision_name)
    assert computes.split()[0] in ("OpenVINO", "torch")  # the words `inspector info` uses
    assert "Computes in" in text and computes in text
    if model.precision_check:
        assert inference.describe_precision_check(model.precision_check) in text
    # computing in int8: int8, and the cosine its gate measured (the gate lowered: random weights)
    crops = [inference.load_image(path) for path in images["ok"][:2]]
    int8 = dataclasses.replace(model, backbone=model.backbone.quantized(crops, min_cosine=-1.0))
    text = AboutDialog(engine, int8, window).text.toPlainText()
    assert (f"{inference.describe_compute(int8.backbone.runtime, 'int8')} "
            f"({inference.describe_int8(int8.backbone.int8_cosine)})") in text


def test_7_messages_never_show_internal_job_names(qtbot, window, project, images, monkeypatch, answerer):
    from app import messages

    opened(qtbot, window, project)
    texts = []
    monkeypatch.setattr(messages, "confirm", lambda parent, title, text: texts.append(text) or False)
    window.doc.add_images(images["val"])
    window.teach_panel.fit_button.click()
    window.close()  # answered No: keeps running
    window.choose_project()  # refused while busy
    assert window.isVisible()
    wait_idle(qtbot, window)
    texts += answerer.seen
    assert texts and all("'fit'" not in t and "(fit)" not in t for t in texts)
    assert any("fitting the model" in t.lower() for t in texts)
    from app.panels.progress import stage_words

    assert stage_words("coreset") == "choosing the reference patches"


def test_7_file_dialogs_open_in_the_project_then_where_the_user_was(qtbot, window, project, images,
                                                                     monkeypatch):
    opened(qtbot, window, project)
    asked = []

    def fake(parent, title, folder, filter_=""):
        asked.append(folder)
        return [images["val"][0]], filter_

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(fake))
    window.inspect_panel.choose_images()
    window.teach_panel.choose_files()
    assert asked[0] == str(project)
    assert asked[1] == str(Path(images["val"][0]).parent)


def test_7_the_window_reopens_the_last_project(qtbot, make_window, project, tmp_path):
    settings = QSettings(str(tmp_path / "qsettings.ini"), QSettings.Format.IniFormat)
    settings.setValue("recent/projects", [str(project)])
    settings.sync()
    w = make_window()
    assert w.start()
    wait_idle(qtbot, w)
    assert w.doc.folder == project and w.session.model is not None
    assert w.centre.currentWidget() is not w.start_page

    w2 = make_window()
    w2.start_page.reopen.setChecked(False)  # the setting
    w3 = make_window()
    assert not w3.start() and w3.doc.folder is None
    assert w3.centre.currentWidget() is w3.start_page
