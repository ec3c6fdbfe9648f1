"""Engine errors reach the user as readable dialogs and leave the project as it was."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

import inference
from gui_helpers import wait_idle


@pytest.fixture
def project_copy(fitted_project, tmp_path) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(fitted_project, folder)
    return folder


def test_corrupt_settings_leave_the_open_project_as_it_was(qtbot, window, project_copy, tmp_path, answerer):
    window.open_project(project_copy, ask=False)
    wait_idle(qtbot, window)
    model = window.session.model
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "settings.json").write_text("{ not json")
    assert not window.open_project(broken, ask=False)
    assert any("not valid JSON" in t for t in answerer.seen)
    assert all("Traceback" not in t for t in answerer.seen)
    assert window.doc.folder == project_copy and window.session.model is model


def test_corrupt_model_file_is_reported_and_bannered(qtbot, window, project_copy, answerer):
    # Inspection reads the coreset index (embeddings.npy only matters to add, which checks it then).
    data = (project_copy / "coreset.faiss").read_bytes()
    (project_copy / "coreset.faiss").write_bytes(data[: len(data) // 2])
    window.open_project(project_copy, ask=False)
    wait_idle(qtbot, window)
    assert window.session.model is None
    assert any("corrupt or truncated" in t for t in answerer.seen)
    assert any("cannot be used" in line for line in window.banner_lines())
    assert window.doc.roi is not None, "the project's settings are still open for a refit"


def test_model_version_mismatch_is_explained(qtbot, window, project_copy, answerer):
    import json

    manifest = json.loads((project_copy / "manifest.json").read_text())
    manifest["model_version"] = "1999.1"
    (project_copy / "manifest.json").write_text(json.dumps(manifest))
    window.open_project(project_copy, ask=False)
    wait_idle(qtbot, window)
    assert any("1999.1" in t and "refit" in t for t in answerer.seen)
    assert any("1999.1" in line for line in window.banner_lines())


def test_missing_weights_offer_the_offline_backbone(qtbot, make_window, tiny_config, images, tmp_path, monkeypatch,
                                                    answerer):
    folder = tmp_path / "p"
    folder.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder)))
    w = make_window(tiny_config.replace(weights=str(tmp_path / "missing.pth")))
    assert w.new_project()
    w.doc.add_images(images["ok"][:2])
    answerer.answers = ["Use efficientnet_lite0"]
    w.teach_panel.fit_button.click()
    wait_idle(qtbot, w)
    qtbot.waitUntil(lambda: w.doc.config.backbone == "efficientnet_lite0", timeout=5000)
    assert any("pretrained weights" in t and "not on this machine" in t for t in answerer.seen)
    assert w.doc.config.weights == "auto" and w.doc.config.backbone_kwargs == {}
    assert not inference.has_model(folder), "nothing was written"


def test_located_weights_file_is_installed_where_auto_finds_it(tmp_path, monkeypatch):
    from app.panels.weights_dialog import install_weights_file

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    source = tmp_path / "download" / "my_weights.pth"
    source.parent.mkdir()
    source.write_bytes(b"weights")
    target = install_weights_file(source, "dinov2_vits14")
    assert target == inference.user_models_dir() / "dinov2_vits14_pretrain.pth"
    assert target.read_bytes() == b"weights"
    with pytest.raises(inference.InspectorError, match="expects"):
        install_weights_file(tmp_path / "x.bin", "dinov2_vits14")


def test_settings_dialog_validates_and_marks_the_model_stale(qtbot, window, fitted_project, answerer):
    from app.panels.settings_dialog import SettingsDialog

    window.open_project(fitted_project, ask=False)
    wait_idle(qtbot, window)
    dialog = SettingsDialog(window.doc.config, window)
    dialog.weights.setText("")
    dialog.accept()
    assert any("weights" in t for t in answerer.seen) and dialog.result() == 0
    dialog.weights.setText("none")
    dialog.input_size.setValue(140)
    dialog.use_gpu.setChecked(False)
    dialog.accept()
    assert dialog.result() == 1
    window.doc.set_config(dialog.config)
    assert window.doc.config.input_size == 140 and window.doc.config.use_gpu is False
    assert any("input_size" in line and "stale" in line for line in window.banner_lines())
    assert not any("use_gpu" in line for line in window.banner_lines()), "machine settings never make it stale"


def test_unsaved_changes_prompt_on_close(qtbot, window, answerer):
    import inference as inf

    window.doc.set_roi(inf.Circle(50, 50, 20))
    answerer.answers = [QMessageBox.StandardButton.Cancel]
    window.close()
    assert window.isVisible() and any("unsaved" in t for t in answerer.seen)
    answerer.answers = [QMessageBox.StandardButton.Discard]
    window.close()
    assert not window.isVisible()


def test_about_lists_versions_weights_and_licences(qtbot, window, fitted_project):
    from app.panels.about_dialog import AboutDialog

    window.open_project(fitted_project, ask=False)
    wait_idle(qtbot, window)
    text = AboutDialog(window.engine, window.session.model, window).text.toPlainText()
    import faiss
    import torch

    for needle in (inference.__version__, torch.__version__, "Device in use", "RANDOM", "LGPL-3.0", "pyqtgraph",
                   "DINOv2", "EfficientNet-Lite0 weights", "NumPy"):
        assert needle in text
    assert getattr(faiss, "__version__", "?") in text


def test_each_window_keeps_its_own_messages(qtbot, window, tmp_path, tiny_config, answerer):
    """A --screenshot window (nobody to answer) keeps its messages; an interactive window in the same process
    still shows its own, and neither sees the other's: the mode belongs to the window, not the process."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QDialog

    from app import messages
    from app.main_window import MainWindow

    settings = QSettings(str(tmp_path / "quiet.ini"), QSettings.Format.IniFormat)
    quiet = MainWindow(inference.Engine(tiny_config), settings=settings, interactive=False)
    try:
        quiet.teach_panel.fit()  # no OK images: a message from a panel deep inside the window
        assert quiet.errors == ["Fit: Add at least one OK image first."]
        window.teach_panel.fit()
        qtbot.waitUntil(lambda: "Add at least one OK image first." in answerer.seen, timeout=5000)
        assert window.errors == [] and len(quiet.errors) == 1
        # A dialog of the quiet window keeps its messages there too (a dialog is its own top-level window).
        dialog = QDialog(quiet)
        messages.error(dialog, "Settings", "from a dialog")
        assert quiet.errors[-1] == "Settings: from a dialog" and window.errors == []
        assert answerer.seen.count("Add at least one OK image first.") == 1 and "from a dialog" not in answerer.seen
    finally:
        quiet.close()
        quiet.deleteLater()


def test_a_calibration_with_a_warning_is_bannered_on_every_open(qtbot, window, fitted_project):
    """Said once when it was saved is not enough: whoever opens the project later reads why not to trust it."""
    import inference

    warning = inference.load_calibration(fitted_project, inference.read_record(fitted_project))[0].warning
    assert "Only 3 OK image(s)" in warning  # the fixture calibrates with 3 OK images
    window.open_project(fitted_project, ask=False)
    wait_idle(qtbot, window)
    lines = [line for line in window.banner_lines() if "not to be trusted" in line]
    assert lines == [f"WARNING: its calibration is not to be trusted as it stands: {warning} Calibrate again in "
                     "Model > Calibrate…."]
    assert lines[0] in window.banner.text()
