"""One pass through the data in the window: a fit is one job and hands over its model; an inspected image is
decoded once, in the worker; the view draws the engine's heatmap and the result's own regions."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtWidgets import QFileDialog

import inference
from gui_helpers import ROI, wait_idle


@pytest.fixture
def jobs(window):
    """The names of the jobs the window starts, in order."""
    started: list[str] = []
    window.runner.started.connect(started.append)
    return started


@pytest.fixture
def decodes(monkeypatch):
    """(image file name, thread name) for every image file decoded: by the GUI or by a worker."""
    seen: list[tuple[str, str]] = []
    preprocess_load = inference.preprocess.load_image

    def counting(path, *args, **kwargs):
        seen.append((str(path).rsplit("/", 1)[-1], threading.current_thread().name))
        return preprocess_load(path, *args, **kwargs)

    monkeypatch.setattr(inference.preprocess, "load_image", counting)  # what a worker's as_rgb8 calls
    monkeypatch.setattr(inference, "load_image", counting)  # what the GUI calls
    return seen


def _new_project(window, folder, images, monkeypatch):
    folder.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder)))
    assert window.new_project()
    window.doc.set_roi(ROI)
    window.doc.add_images(images["ok"][:3])


def test_fit_then_inspect_is_one_job_each(qtbot, window, jobs, images, tmp_path, monkeypatch, answerer):
    folder = tmp_path / "project"
    _new_project(window, folder, images, monkeypatch)
    jobs.clear()
    window.teach_panel.fit_button.click()
    wait_idle(qtbot, window)
    assert jobs == ["fitting the model"], "the fit's own job hands over the model: no second job loads it"
    model = window.session.model
    assert model is not None and model.model_id == inference.read_manifest(folder)["model_id"]
    assert "patches kept as reference" in window.teach_panel.result_label.text()
    assert window.teach_panel.add_button.isEnabled()

    # Inspect right after: one job, and the result is what a model loaded from the project gives.
    window.inspect_panel.open_paths([images["ng"][0]])
    wait_idle(qtbot, window)
    assert jobs == ["fitting the model", "inspecting the image"]
    shown = window.inspect_panel.current
    engine = inference.Engine(window.engine.config)
    expected = engine.infer(engine.load(folder), images["ng"][0])
    assert shown is not None and shown.score == expected.score
    assert np.array_equal(shown.anomaly_map, expected.anomaly_map)

    # Add to model: one job too, and the window holds the extended model at once.
    window.doc.add_images([images["ok"][3]])
    window.teach_panel.add_button.click()
    wait_idle(qtbot, window)
    assert jobs[2:] == ["adding images to the model"]
    assert window.session.model.manifest["n_images"] == 4
    assert window.session.model.model_id == inference.read_manifest(folder)["model_id"] != model.model_id
    assert answerer.seen == []


def test_an_inspected_image_is_decoded_once_in_the_worker(qtbot, window, fitted_project, images, decodes):
    assert window.open_project(fitted_project, ask=False)
    wait_idle(qtbot, window)
    panel = window.inspect_panel
    decodes.clear()
    panel.open_paths([images["ng"][0], images["val"][0]])
    wait_idle(qtbot, window)
    ng_name = images["ng"][0].rsplit("/", 1)[-1]
    assert [name for name, _ in decodes] == [ng_name], "decoded once"
    assert decodes[0][1] != threading.main_thread().name, "by the worker, not the GUI thread"
    # The pixels came with the result: the view shows exactly the decoded image.
    assert np.array_equal(window.view.image, inference.load_image(images["ng"][0]))
    assert panel.current is not None and panel.current.verdict == "NG"

    # Shown without inspecting (Inspect on open off), then inspected: the shown pixels are used, not decoded again.
    panel.auto_check.setChecked(False)
    decodes.clear()
    panel.go(1)
    assert len(decodes) == 1 and panel.current is None
    shown = window.view.image
    panel.inspect_current()
    wait_idle(qtbot, window)
    assert len(decodes) == 1 and panel.current is not None and panel.current.verdict == "OK"
    assert np.shares_memory(window.view.image, shown), "the result came with the very pixels shown"
    assert not window.view.image.flags.writeable, "pixels two threads saw are read-only"

    # A result already in the list is shown from the file, with no new inspection.
    decodes.clear()
    panel.go(0)
    assert [name for name, _ in decodes] == [ng_name] and not window.runner.busy


def test_the_view_draws_the_engines_heatmap_and_the_results_regions(qtbot, window, fitted_project, images):
    assert window.open_project(fitted_project, ask=False)
    wait_idle(qtbot, window)
    window.inspect_panel.open_paths([images["ng"][0]])
    wait_idle(qtbot, window)
    view, result = window.view, window.inspect_panel.current
    assert result.verdict == "NG" and result.regions
    for name in inference.HEATMAP_COLORMAPS:
        window.inspect_panel.colormap.setCurrentText(name)
        assert np.array_equal(view.overlay_item.image, inference.heatmap_rgba(result, colormap=name))
    # One outline per region the engine found, exactly its outline.
    curves = [item for item in view.outline_items if hasattr(item, "getData")]
    assert len(curves) == len(result.regions)
    for curve, region in zip(curves, result.regions):
        xs, ys = curve.getData()
        assert np.array_equal(np.column_stack([xs, ys]), region.outline)

    # The view does not threshold the map itself: a result whose regions were taken away draws none,
    # though its map is as high as before.
    view.set_result(replace(result, regions=[]))
    assert view.outline_items == []
    assert np.array_equal(view.overlay_item.image, inference.heatmap_rgba(result, colormap=name))
