"""Save As carries the fitted model and its calibration to the new folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

import inference
from gui_helpers import wait_idle


def test_save_as_takes_the_model_along(qtbot, window, fitted_project, images, tmp_path, monkeypatch, answerer):
    source = tmp_path / "source"
    shutil.copytree(fitted_project, source)
    assert window.open_project(source, ask=False)
    wait_idle(qtbot, window)
    window.inspect_panel.open_paths([images["ng"][0]])
    wait_idle(qtbot, window)
    score = window.inspect_panel.current.score

    target = tmp_path / "copy"
    target.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(target)))
    assert window.save_project_as()
    wait_idle(qtbot, window)
    assert window.doc.folder == target and inference.has_model(target)
    assert window.session.model is not None and window.session.model.folder == target
    assert window.session.model.calibration is not None  # same model_id: calibration still valid
    window.inspect_panel.open_paths([images["ng"][0]])
    wait_idle(qtbot, window)
    assert window.inspect_panel.current.score == pytest.approx(score, rel=1e-6)
    assert window.inspect_panel.badge.text() == "NG"
    assert answerer.seen == []


def test_save_as_over_another_model_asks_first(qtbot, window, fitted_project, tmp_path, monkeypatch, answerer):
    from PySide6.QtWidgets import QMessageBox

    source, other = tmp_path / "source", tmp_path / "other"
    shutil.copytree(fitted_project, source)
    shutil.copytree(fitted_project, other)
    before = (other / "manifest.json").read_bytes()
    assert window.open_project(source, ask=False)
    wait_idle(qtbot, window)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(other)))
    answerer.answers = [QMessageBox.StandardButton.No]
    assert not window.save_project_as()
    assert any("already holds a fitted model" in text for text in answerer.seen)
    assert (other / "manifest.json").read_bytes() == before and window.doc.folder == source


def test_opening_a_project_shows_a_taught_image_and_thumbnails_preview(qtbot, window, fitted_project, images):
    import numpy as np

    assert window.open_project(fitted_project, ask=False)
    wait_idle(qtbot, window)
    first = inference.load_image(images["ok"][0])
    assert window.view.image is not None and np.array_equal(window.view.image, first)
    window.teach_panel.list.setCurrentRow(2)
    assert np.array_equal(window.view.image, inference.load_image(images["ok"][2]))
    assert window.view.result is None


def test_the_window_exports_the_model_for_an_edge_pc(qtbot, window, fitted_project, images, tmp_path, monkeypatch,
                                                     answerer):
    """Model > Export for an edge PC writes what `inspector export` writes; the export scores as the window does,
    and a folder inside the project is refused with a message, nothing written."""
    pytest.importorskip("openvino")
    assert window.open_project(fitted_project, ask=False)
    wait_idle(qtbot, window)
    window.inspect_panel.open_paths([images["ng"][0]])
    wait_idle(qtbot, window)
    score = window.inspect_panel.current.score

    before = sorted(p.name for p in fitted_project.iterdir())
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *a, **k: str(fitted_project / "edge")))
    window.export_model()
    wait_idle(qtbot, window)
    assert any("inside the project" in text for text in answerer.seen)
    assert sorted(p.name for p in fitted_project.iterdir()) == before

    out = tmp_path / "edge"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(out)))
    window.export_model()
    wait_idle(qtbot, window)
    version = inference.active_version(fitted_project)
    assert f"active version {version} " in window.statusBar().currentMessage()
    assert f"to {out}" in window.statusBar().currentMessage()
    assert json.loads((out / "export.json").read_text())["version"] == version
    edge = inference.engine_for(out, window.engine.config)
    result = edge.infer(edge.load(out), images["ng"][0])
    assert result.score == pytest.approx(score, rel=1e-3) and result.verdict.value == "NG"


def test_back_up_and_restore_from_the_project_menu(qtbot, window, fitted_project, images, tmp_path, monkeypatch,
                                                   answerer):
    """Project > Back up… writes one checked file; Restore from backup… brings it back into an empty folder and
    opens it, inspecting as the original did."""
    assert window.open_project(fitted_project, ask=False)
    wait_idle(qtbot, window)
    window.inspect_panel.open_paths([images["ng"][0]])
    wait_idle(qtbot, window)
    score = window.inspect_panel.current.score
    chosen = tmp_path / "nightly"  # typed without .zip
    suggested = []

    def save_dialog(parent, title, start, filter_):
        suggested.append(start)
        return str(chosen), filter_

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save_dialog))
    menu_action(window, "&Back up…").trigger()
    wait_idle(qtbot, window)
    made = tmp_path / "nightly.zip"
    assert inference.check_backup(made).active_version == inference.active_version(fitted_project)
    assert Path(suggested[0]).name.startswith(f"{fitted_project.name}-") and suggested[0].endswith(".zip")
    assert str(made) in window.statusBar().currentMessage()

    target = tmp_path / "restored"
    target.mkdir()
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(made), "")))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(target)))
    menu_action(window, "Restore from bac&kup…").trigger()
    wait_idle(qtbot, window)
    assert window.doc.folder == target and inference.read_audit(target)[-1]["action"] == "restore"
    window.inspect_panel.open_paths([images["ng"][0]])
    wait_idle(qtbot, window)
    assert window.inspect_panel.current.score == pytest.approx(score, rel=1e-6)
    menu_action(window, "Restore from bac&kup…").trigger()  # again into the same, now full, folder: refused
    wait_idle(qtbot, window)
    assert any("exists and is not empty" in text for text in answerer.seen)
    assert window.doc.folder == target


def menu_action(window, text):
    from PySide6.QtWidgets import QMenu

    return next(a for menu in window.menuBar().findChildren(QMenu) for a in menu.actions() if a.text() == text)
