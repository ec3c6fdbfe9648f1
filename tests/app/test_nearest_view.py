"""The side-by-side view (issue 23): the inspected part next to its nearest taught OK part, the matched patches
marked; checked against a brute-force nearest-part search over the saved bank."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PySide6.QtGui import QColor

import inference
from app.panels.nearest_view import MARK
from gui_helpers import ROI, wait_idle
from inference.synthetic import write_discs
from nearest_brute import brute_nearest


def _open_and_compare(qtbot, window, folder, image):
    window.open_project(folder, ask=False)
    wait_idle(qtbot, window)
    window.inspect_panel.open_paths([image])
    wait_idle(qtbot, window)
    assert window.inspect_panel.current is not None
    window.inspect_panel.nearest.action.trigger()
    nearest = window.inspect_panel.nearest.window
    assert nearest is not None and nearest.isVisible()
    qtbot.waitUntil(lambda: "Finding" not in nearest.note.text(), timeout=60000)
    wait_idle(qtbot, window)
    return nearest


def _marked_pixels(widget) -> int:
    """Pixels of the mark's colour in what the widget draws."""
    image = widget.grab().toImage()
    rgb = image.convertToFormat(image.Format.Format_RGB888)
    arr = np.frombuffer(rgb.constBits(), np.uint8).reshape(rgb.height(), rgb.bytesPerLine())[:, :rgb.width() * 3]
    arr = arr.reshape(rgb.height(), rgb.width(), 3).astype(int)
    mark = QColor(MARK)
    return int((np.abs(arr - [mark.red(), mark.green(), mark.blue()]).sum(axis=2) < 60).sum())


def test_the_view_shows_the_taught_part_a_brute_force_search_finds(qtbot, window, fitted_project, images):
    ng = images["ng"][0]
    nearest = _open_and_compare(qtbot, window, fitted_project, ng)
    model = window.session.model
    want = brute_nearest(model, inference.load_image(ng), fitted_project)
    taught_file = model.record.images[want.winner]["name"]
    assert taught_file in images["ok"]
    assert f"taught image {want.winner + 1}" in nearest.taught_title.text()
    assert Path(taught_file).name in nearest.taught_title.text()
    # The taught picture is that file's, the inspected one the part's; the matched patches are marked on both.
    assert nearest.taught.image is not None and nearest.part.image is not None
    size = (nearest.taught.image.width(), nearest.taught.image.height())
    assert size == inference.load_image(taught_file).shape[1::-1]
    assert f"{want.votes} of the part's {want.considered}" in nearest.note.text()
    assert len(nearest.part.corners) == 4 and len(nearest.taught.corners) == 4
    assert _marked_pixels(nearest.part) > 20 and _marked_pixels(nearest.taught) > 20
    # Another image: the view follows the Inspect tab.
    window.inspect_panel.open_paths([images["val"][0]])
    wait_idle(qtbot, window)
    val = Path(images["val"][0]).name
    qtbot.waitUntil(lambda: val in nearest.part_title.text() and "Finding" not in nearest.note.text(), timeout=60000)
    wait_idle(qtbot, window)
    assert "highest-scoring patches matched" in nearest.note.text()
    # Closing the window unticks the toggle.
    nearest.close()
    assert not window.inspect_panel.nearest.action.isChecked()


def test_an_old_model_says_refit_and_a_missing_taught_file_is_said(qtbot, window, fitted_project, images, tmp_path,
                                                                     tiny_config):
    old = tmp_path / "old"
    shutil.copytree(fitted_project, old)
    # A model saved before provenance was kept: no file, no manifest entry, no versions.
    shutil.rmtree(old / "versions")
    (old / "active_version.json").unlink()
    (old / inference.PROVENANCE_FILE).unlink()
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["files"][inference.PROVENANCE_FILE]
    (old / "manifest.json").write_text(json.dumps(manifest, indent=2))
    nearest = _open_and_compare(qtbot, window, old, images["ng"][0])
    assert nearest.note.text() == inference.NEAREST_NOT_AVAILABLE == "not available for this model: refit to enable"
    assert window.inspect_panel.current.score is not None  # it still inspects
    nearest.close()

    taught = [str(p) for p in write_discs(tmp_path / "ok", range(3))]
    folder = tmp_path / "moved"
    engine = inference.Engine(tiny_config.replace(coreset_ratio=1.0))
    engine.fit(folder, taught, roi=ROI)
    inference.save_settings(folder, {"roi": inference.roi_to_dict(ROI), "mm_per_px": None, "ok_images": taught,
                                     "config": tiny_config.to_dict()})
    want = brute_nearest(engine.load(folder), inference.load_image(taught[1]), folder)
    shutil.copy(taught[1], tmp_path / "part.png")
    (tmp_path / "ok" / "ok_001.png").unlink()
    nearest = _open_and_compare(qtbot, window, folder, str(tmp_path / "part.png"))
    assert want.winner == 1 and "taught image 2" in nearest.taught_title.text()
    assert "The taught image file is missing" in nearest.note.text() and "ok_001.png" in nearest.note.text()
    assert nearest.taught.image is None and nearest.part.image is not None
