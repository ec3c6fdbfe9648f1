"""The locate region in the window: shown only when the settings align, drawn and dragged with undo, saved
with the project, a change stales the model, and the fit uses it."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

import inference
from app.document import read_project, stale_reasons
from gui_helpers import wait_idle
from gui_helpers import drag, record_fitted_with

ROI = inference.Circle(80.0, 80.0, 40.0)


@pytest.fixture
def canvas(window, images):
    window.inspect_panel.open_paths([images["ok"][0]])
    window.tabs.setCurrentWidget(window.teach_panel)
    window.doc.set_roi(ROI)
    return window


def aligns(window, mode="rigid"):
    window.doc.set_config(window.doc.config.replace(align=mode))


def test_the_region_is_shown_only_when_the_settings_align(qtbot, canvas):
    w = canvas
    panel = w.locate_panel
    assert w.doc.config.align == "none"
    assert panel.isHidden() and panel.overlay.item is None
    aligns(w)
    assert not panel.isHidden()
    # Not drawn yet: the engine's default, the ROI's box (40..120) grown by 25% on each side, dotted.
    assert w.doc.locate_box is None
    assert panel.overlay.item.to_box() == (20, 20, 140, 140) == inference.default_locate_box(ROI, 160, 160)
    assert "Default" in panel.label.text()
    # It follows the ROI while it is the default.
    w.doc.set_roi(inference.Circle(70.0, 80.0, 40.0))
    assert panel.overlay.item.to_box() == (10, 20, 130, 140)
    aligns(w, "none")
    assert panel.isHidden() and panel.overlay.item is None


def test_draw_the_region_then_undo_redo_and_back_to_default(qtbot, canvas):
    w = canvas
    aligns(w)
    w.locate_panel.draw_action.trigger()
    assert w.view.view_box.tool == "locate_rect"
    drag(qtbot, w.view, (10, 15), (150, 140))
    assert w.view.view_box.tool is None
    box = w.doc.locate_box
    assert box == pytest.approx((10, 15, 150, 140), abs=1)
    assert w.doc.roi == ROI and w.doc.ignore == (), "drawing the locate region leaves the ROI and ignore alone"
    assert w.locate_panel.overlay.item.to_box() == box
    assert f"x {box[0]}–{box[2]}" in w.locate_panel.label.text()
    w.undo_stack.undo()
    assert w.doc.locate_box is None and w.locate_panel.overlay.item.to_box() == (20, 20, 140, 140)
    w.undo_stack.redo()
    assert w.doc.locate_box == box
    w.locate_panel.default_button.click()
    assert w.doc.locate_box is None
    w.undo_stack.undo()
    assert w.doc.locate_box == box
    # A drag too small to hold a part draws nothing.
    w.locate_panel.draw_action.trigger()
    drag(qtbot, w.view, (30, 30), (35, 36))
    assert w.doc.locate_box == box


def test_drag_the_region_to_move_it_in_one_undo_step(qtbot, canvas):
    w = canvas
    aligns(w)
    w.doc.set_locate_box((10, 15, 150, 140))
    count = w.undo_stack.count()
    drag(qtbot, w.view, (30, 128), (40, 123))  # inside the region, outside the ROI circle
    assert w.doc.locate_box == pytest.approx((20, 10, 160, 135), abs=1)
    assert w.undo_stack.count() == count + 1
    w.undo_stack.undo()
    assert w.doc.locate_box == (10, 15, 150, 140)


def test_the_region_is_locked_outside_the_teach_step(qtbot, canvas):
    w = canvas
    aligns(w)
    w.doc.set_locate_box((10, 15, 150, 140))
    w.tabs.setCurrentWidget(w.inspect_panel)
    assert not w.locate_panel.draw_action.isEnabled()
    drag(qtbot, w.view, (30, 128), (40, 123))
    assert w.doc.locate_box == (10, 15, 150, 140)
    w.tabs.setCurrentWidget(w.teach_panel)
    assert w.locate_panel.draw_action.isEnabled()


def test_the_region_is_saved_read_back_and_a_change_stales_the_model(canvas, tmp_path):
    w = canvas
    aligns(w)
    w.doc.set_locate_box((10, 15, 150, 140))
    w.doc.save(tmp_path / "project")
    assert json.loads((tmp_path / "project" / "settings.json").read_text())["locate_box"] == [10, 15, 150, 140]
    assert read_project(tmp_path / "project", w.doc.config)["locate_box"] == (10, 15, 150, 140)
    manifest = replace(record_fitted_with(w.doc.config, inference.roi_to_dict(ROI)),
                       align={"mode": "rigid", "locate_box": [20, 20, 140, 140], "reference_size": [160, 160]})
    changed = "the locate region changed since the fit"
    assert changed in stale_reasons(ROI, w.doc.config, manifest, (), (10, 15, 150, 140))
    assert stale_reasons(ROI, w.doc.config, manifest, (), (20, 20, 140, 140)) == []
    # The default region (None) is the fitted one here; outside the image it is cut to the image.
    assert stale_reasons(ROI, w.doc.config, manifest, (), None) == []
    wide = replace(manifest, align=dict(manifest.align, locate_box=[20, 20, 160, 140]))
    assert stale_reasons(ROI, w.doc.config, wide, (), (20, 20, 170, 140)) == []
    # A bad region in settings.json is refused, naming the key.
    settings = json.loads((tmp_path / "project" / "settings.json").read_text())
    settings["locate_box"] = [50, 50, 40, 90]
    (tmp_path / "project" / "settings.json").write_text(json.dumps(settings))
    with pytest.raises(inference.ProjectError, match="locate_box"):
        read_project(tmp_path / "project", w.doc.config)


def test_fit_uses_the_drawn_region(qtbot, canvas, images, tmp_path):
    w = canvas
    aligns(w)
    w.doc.folder = tmp_path / "p"
    w.doc.add_images(images["ok"][:3])
    w.doc.set_locate_box((12, 14, 150, 148))
    w.teach_panel.fit_button.click()
    wait_idle(qtbot, w)
    assert w.session.model is not None
    assert w.session.model.manifest["align"]["locate_box"] == [12, 14, 150, 148]
    assert not any("locate region" in line for line in w.banner_lines())
    w.doc.set_locate_box((10, 14, 150, 148))
    assert any("locate region changed" in line for line in w.banner_lines())
