"""The whole loop through the real widgets: new project, ROI, teach, fit, cancel, add, calibrate, inspect,
save, reopen and get the same scores."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog, QMessageBox

import inference
from gui_helpers import wait_idle
from gui_helpers import drag


def drop_files(widget, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
    event = QDropEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    # Qt delivers Drop events only inside a real drag session, which offscreen tests cannot start:
    # the handler gets the event directly, as Qt would hand it over.
    widget.dragEnterEvent(event)
    assert event.isAccepted()
    widget.dropEvent(event)


def test_teach_fit_cancel_calibrate_inspect_save_reopen(qtbot, make_window, images, tmp_path, monkeypatch,
                                                        answerer):
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder)))
    w = make_window()
    assert w.new_project()
    assert w.doc.folder == folder and (folder / "settings.json").is_file()

    # ROI drawn with the mouse over a shown OK image.
    w.inspect_panel.open_paths([images["ok"][0]])
    w.roi_panel.actions["circle"].trigger()
    drag(qtbot, w.view, (80, 80), (80, 147))
    assert isinstance(w.doc.roi, inference.Circle)

    # Teach: three images by the API the file dialog uses, one dropped onto the thumbnails.
    teach = w.teach_panel
    teach.add_paths(images["ok"][:3])
    drop_files(teach.list, images["ok"][3:])
    assert w.doc.ok_images == images["ok"]
    assert teach.list.count() == 4 and not teach.list.item(0).icon().isNull()
    teach.list.item(3).setSelected(True)
    teach.remove_button.click()
    assert w.doc.ok_images == images["ok"][:3]

    teach.fit_button.click()
    wait_idle(qtbot, w)
    model = w.session.model
    assert model is not None and model.manifest["n_images"] == 3
    assert f"{model.manifest['coreset_size']} of {model.manifest['n_embeddings']} patches kept" in \
        teach.result_label.text()
    assert any("RANDOM" in line for line in w.banner_lines()), "random weights are flagged"
    first_id = model.model_id

    # A cancelled fit leaves the previous model untouched.
    w.doc.add_images(images["ok"][3:])
    teach.fit_button.click()
    assert w.runner.busy
    w.progress.cancel_button.click()
    wait_idle(qtbot, w)
    assert "Cancelled" in teach.result_label.text()
    assert inference.read_manifest(folder)["model_id"] == first_id
    assert w.session.model.model_id == first_id

    # Add to model teaches only the new image, incrementally.
    teach.add_button.click()
    wait_idle(qtbot, w)
    assert w.session.model.manifest["n_images"] == 4
    assert w.session.model.model_id != first_id

    # Calibrate with the histogram; moving the line updates the counts live.
    w.open_calibration()
    dialog = w.calibrate_dialog
    dialog.ok_box.add_paths(images["val"])
    dialog.ng_box.add_paths(images["ng"])
    dialog.compute_button.click()
    qtbot.waitUntil(lambda: dialog.save_button.isEnabled(), timeout=60000)
    assert sum(dialog.ok_bars.opts["height"]) == 3 and sum(dialog.ng_bars.opts["height"]) == 2
    assert max(dialog.ok_scores) < min(dialog.ng_scores), "the scratch scores above every OK part"
    assert "0 of 3 OK" in dialog.counts.text() and "0 of 2 NG" in dialog.counts.text()
    dialog.line.setValue(min(dialog.ok_scores) - 1e-3)
    assert "3 of 3 OK" in dialog.counts.text()
    dialog.line.setValue(max(dialog.ng_scores) + 1e-3)
    assert "2 of 2 NG" in dialog.counts.text()
    chosen = (max(dialog.ok_scores) + min(dialog.ng_scores)) / 2 + 1e-4
    dialog.line.setValue(chosen)
    dialog.save_button.click()
    wait_idle(qtbot, w)
    saved = json.loads((folder / "calibration.json").read_text())
    assert saved["threshold"] == pytest.approx(chosen) and saved["n_ng"] == 2
    assert w.session.model.calibration.threshold == pytest.approx(chosen)

    # Inspect the defect: NG with an overlay.
    w.inspect_panel.open_paths([images["ng"][0], images["val"][0]])
    wait_idle(qtbot, w)
    assert w.inspect_panel.badge.text() == "NG"
    ng_score = w.inspect_panel.current.score
    assert w.view.overlay_item.image is not None

    # The ROI changed since the fit: the banner says the model is stale.
    fitted_roi = w.doc.roi
    w.roi_panel.spins["r"].setValue(fitted_roi.r - 5)
    w.roi_panel.spins["r"].editingFinished.emit()
    assert any("stale" in line and "ROI" in line for line in w.banner_lines())
    w.undo_stack.undo()
    assert w.doc.roi == fitted_roi
    assert not any("stale" in line for line in w.banner_lines())

    with qtbot.waitActive(w):  # the offscreen platform does not hand activation back after a dialog
        w.activateWindow()
    qtbot.keyClick(w, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert not w.doc.dirty
    settings = json.loads((folder / "settings.json").read_text())
    assert settings["ok_images"] == images["ok"] and settings["roi"]["type"] == "circle"
    w.close()
    assert not w.isVisible()

    # Reopen in a fresh window: same ROI, same model, same score.
    w2 = make_window()
    assert str(folder) in w2.recent_projects()
    assert w2.open_project(folder, ask=False)
    wait_idle(qtbot, w2)
    assert w2.doc.roi == w.doc.roi and w2.doc.ok_images == images["ok"]
    w2.inspect_panel.open_paths([images["ng"][0]])
    wait_idle(qtbot, w2)
    assert w2.inspect_panel.current.score == pytest.approx(ng_score, rel=1e-5)
    assert w2.inspect_panel.badge.text() == "NG"
    # Only the calibration's own warning (3 OK images are too few to trust a threshold), no error.
    assert [s for s in answerer.seen if "calibrated the threshold" not in str(s)] == [], \
        "no error dialogs on the happy path"


def test_window_keeps_repainting_during_a_fit(qtbot, window, images, tmp_path):
    window.doc.save(tmp_path / "p")  # a project folder (Teach is off on the start page without one)
    window.doc.add_images(images["ok"] + images["val"])
    ticks_while_busy = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: window.runner.busy and ticks_while_busy.append(1))
    timer.start()
    window.teach_panel.fit_button.click()
    assert window.runner.busy
    wait_idle(qtbot, window)
    timer.stop()
    assert window.session.model is not None
    # Were the fit on the GUI thread, the timer could not fire until it returned.
    assert len(ticks_while_busy) >= 3


def test_closing_during_a_fit_asks_cancels_and_keeps_the_old_model(qtbot, make_window, fitted_project, images,
                                                                  tmp_path, answerer):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(fitted_project, folder)
    before = inference.read_manifest(folder)["model_id"]
    w = make_window()
    w.open_project(folder, ask=False)
    wait_idle(qtbot, w)
    w.doc.add_images(images["val"])
    w.doc.dirty = False
    w.teach_panel.fit_button.click()
    assert w.runner.busy
    answerer.answers = [QMessageBox.StandardButton.No]
    w.close()
    assert any("still running" in t for t in answerer.seen)
    assert w.isVisible(), "answering No keeps the window open"
    answerer.answers = [QMessageBox.StandardButton.Yes]
    w.close()
    assert not w.isVisible() and not w.runner.busy
    assert "Cancelled" in w.teach_panel.result_label.text()
    assert inference.read_manifest(folder)["model_id"] == before
