"""Explainable verdicts, the colour bar, the start page and "Try an example"."""

from __future__ import annotations

import shutil

import pytest

import inference
from gui_helpers import wait_idle


@pytest.fixture
def project(fitted_project, tmp_path):
    folder = tmp_path / "project"
    shutil.copytree(fitted_project, folder)
    return folder


def pens(view):
    """The pen width of each region outline drawn (text tags have no pen)."""
    return [item.opts["pen"].width() for item in view.outline_items if hasattr(item, "opts") and "pen" in item.opts]


def test_an_ng_verdict_names_its_regions_and_draws_them_strongly(qtbot, window, project, images):
    window.open_project(project, ask=False)
    wait_idle(qtbot, window)
    panel = window.inspect_panel
    panel.open_paths([images["ng"][0]])
    wait_idle(qtbot, window)
    result = panel.current
    assert result.verdict == "NG" and result.ng_regions
    first = result.ng_regions[0] + 1
    assert f"#{first}" in panel.reason_label.text() and "NG" in panel.reason_label.text()
    assert panel.regions.item(result.ng_regions[0], 5).text() == "yes"
    assert panel.regions.item(result.ng_regions[0], 0).font().bold()
    assert 3 in pens(window.view), "the regions that make it NG are drawn strongly"
    # The colour bar's scale is the heatmap's: 0 .. 2 x threshold, the threshold mark mid-bar.
    bar = panel.colour_bar
    assert bar.vmax == pytest.approx(2 * result.threshold) and bar.threshold == pytest.approx(result.threshold)
    assert bar.threshold_x() == pytest.approx(bar.width() / 2, abs=1)

    # With an area limit no region reaches, the same part is OK and its regions are only drawn faintly.
    window.open_calibration()
    dialog = window.calibrate_dialog
    dialog.area.setValue(1e5)
    # A new area limit moves every image's verdict level: Save scores the calibration images first.
    dialog.ok_box.add_paths(images["val"])
    dialog.ng_box.add_paths(images["ng"])
    dialog.save_button.click()
    qtbot.waitUntil(lambda: window.session.model.calibration.min_area == 1e5, timeout=60000)
    wait_idle(qtbot, window)
    assert window.session.model.calibration.min_area == 1e5
    panel.open_paths([images["ng"][0]])
    wait_idle(qtbot, window)
    assert panel.current.verdict == "OK" and panel.current.regions
    assert panel.badge.text() == "OK"
    assert "smaller than the area limit" in panel.reason_label.text()
    assert pens(window.view) and 3 not in pens(window.view), "no strong outline on a part judged OK"
    assert {panel.regions.item(i, 5).text() for i in range(panel.regions.rowCount())} == {"too small"}


def test_an_uncalibrated_result_has_no_threshold_mark(qtbot, window, project, images):
    (project / "calibration.json").unlink()
    window.open_project(project, ask=False)
    wait_idle(qtbot, window)
    window.inspect_panel.open_paths([images["ng"][0]])
    wait_idle(qtbot, window)
    panel = window.inspect_panel
    assert panel.current.verdict == "NO_VERDICT" and panel.badge.text() == "—"
    assert panel.colour_bar.threshold_x() is None and panel.colour_bar.vmax > 0
    assert "not calibrated" in panel.reason_label.text()
    assert not window.view.outline_items


def test_start_page_opens_recent_projects(qtbot, make_window, project):
    w = make_window()
    assert w.centre.currentWidget() is w.start_page
    w._remember(project)
    assert w.start_page.recent.count() == 1
    w.start_page.recent.itemActivated.emit(w.start_page.recent.item(0))
    wait_idle(qtbot, w)
    assert w.doc.folder == project and w.centre.currentWidget() is not w.start_page
    w.show_start()
    assert w.centre.currentWidget() is w.start_page


def test_a_project_opened_by_a_relative_path_is_remembered_by_where_it_is(qtbot, make_window, project,
                                                                        monkeypatch):
    monkeypatch.chdir(project.parent)  # `inspector gui proj` typed in the folder above
    w = make_window()
    assert w.open_project(project.name, ask=False)
    wait_idle(qtbot, w)
    monkeypatch.chdir("/")  # the next start, from a desktop shortcut: the project is still in Recent
    assert w.forget_missing() == [] and w.recent_projects() == [str(project)]


def test_a_project_taught_on_the_command_line_opens_with_its_taught_images(qtbot, make_window, tmp_path):
    """No settings.json (taught with `inspector fit`, or over HTTP): the Teach list holds the taught images still
    on disk, and the first is drawn, instead of an empty canvas; none is new to the model."""
    from inference.synthetic import write_discs
    from inspector_cli.main import main
    from tiny_project import TINY_YAML

    (tmp_path / "tiny.yaml").write_text(TINY_YAML)
    taught = write_discs(tmp_path / "ok", range(4))
    assert main(["fit", str(tmp_path / "proj"), "--ok", str(tmp_path / "ok"), "--config",
                 str(tmp_path / "tiny.yaml")]) == 0
    taught[1].unlink()  # moved away since: not listed
    w = make_window()
    assert w.open_project(tmp_path / "proj", ask=False)
    wait_idle(qtbot, w)
    assert w.doc.ok_images == [str(p) for p in taught if p.exists()] and not w.teach_panel._new_images()
    assert w.view.image is not None and w.view.image.shape[:2] == inference.load_image(taught[0]).shape[:2]
    # `inspector infer` records a file by its whole path; the History list shows its name, the detail the path.
    assert main(["infer", str(tmp_path / "proj"), str(taught[2]), "--config", str(tmp_path / "tiny.yaml")]) == 0
    w.tabs.setCurrentWidget(w.history_panel)
    w.history_panel.refresh()
    assert w.history_panel.table.item(0, 1).text() == taught[2].name
    w.history_panel.table.selectRow(0)
    assert str(taught[2]) in w.history_panel.detail.text()


def test_try_an_example_goes_through_teach_calibrate_inspect(qtbot, window, tiny_config, tmp_path):
    folder = tmp_path / "example"
    assert window.try_example(folder, tiny_config)
    qtbot.waitUntil(lambda: window.example.finished and not window.runner.busy, timeout=120000)
    model = window.session.model
    assert model is not None and model.calibration is not None and model.calibration.n_ng == 3
    assert inference.has_model(folder) and (folder / "calibration.json").is_file()
    panel = window.inspect_panel
    assert panel.current is not None and panel.current.verdict == "NG", "the first shown part is a scratched one"
    assert window.doc.folder == folder and not window.doc.dirty
    assert "step 3 of 3" in window.start_page.progress_label.text()
