"""Inspection zones in the window: drawn in Setup, named and given a minimum area in their table (undoable),
saved with the project, used by Calibrate; the banner says when they differ from the line's."""

from __future__ import annotations

import json

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

import inference
from app.document import read_project
from gui_helpers import wait_idle
from gui_helpers import drag, to_widget


def _cell(w, row, column):
    return w.zones_panel.list.item(row, column)


def test_draw_name_and_limit_zones_with_undo_and_save_them(qtbot, window, images, tmp_path, answerer):
    w = window
    w.inspect_panel.open_paths([images["ok"][0]])
    w.doc.set_roi(inference.Circle(80.0, 80.0, 67.0))
    w.zones_panel.actions["zone_rect"].trigger()
    assert w.view.view_box.tool == "zone_rect"
    drag(qtbot, w.view, (50, 60), (100, 95))
    (zone,) = w.doc.zones
    assert zone.name == "zone 1" and zone.min_area == w.doc.config.min_area and w.doc.ignore == ()
    assert (zone.shape.cx, zone.shape.cy, zone.shape.w, zone.shape.h) == pytest.approx((75, 77.5, 50, 35), abs=1.5)
    assert w.view.view_box.tool is None and len(w.zones_panel.overlay.items) == 1
    # A polygon by clicks: the second zone gets the next free name.
    w.zones_panel.actions["zone_polygon"].trigger()
    for x, y in ((100, 110), (130, 112), (115, 135)):
        QTest.mouseClick(w.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         to_widget(w.view, x, y))
        qtbot.wait(20)
    w.zones_panel.close_button.click()
    assert [z.name for z in w.doc.zones] == ["zone 1", "zone 2"] and w.doc.zones[1].shape.kind == "polygon"
    # Named and limited in the table, each edit one undo step.
    _cell(w, 0, 0).setText("seal")
    _cell(w, 0, 1).setText("0,05")  # a decimal comma is read as a point
    assert (w.doc.zones[0].name, w.doc.zones[0].min_area) == ("seal", 0.05)
    w.undo_stack.undo()
    assert (w.doc.zones[0].name, w.doc.zones[0].min_area) == ("seal", w.doc.config.min_area)
    w.undo_stack.redo()
    # A bad value is refused in a message and shown back; nothing changes.
    before = w.doc.zones
    for column, text, said in ((1, "abc", "must be a number"), (1, "-1", "finite number >= 0"),
                               (0, "zone 2", "named twice"), (0, "rest", "outside every zone")):
        _cell(w, 0, column).setText(text)
        assert w.doc.zones == before and any(said in s for s in answerer.seen), (text, answerer.seen)
    assert _cell(w, 0, 0).text() == "seal" and _cell(w, 0, 1).text() == "0.05"
    # The drawing tools of the other panels leave this one's, and this one's leaves theirs.
    w.zones_panel.actions["zone_circle"].trigger()
    w.ignore_panel.actions["ignore_rect"].trigger()
    assert w.view.view_box.tool == "ignore_rect" and w.zones_panel.tool_actions.checkedAction() is None
    w.stop_drawing()
    # Saved with the project, read back as they were.
    w.doc.save(tmp_path / "project")
    assert json.loads((tmp_path / "project" / "settings.json").read_text())["zones"][0]["name"] == "seal"
    assert read_project(tmp_path / "project", w.doc.config)["zones"] == w.doc.zones
    w.zones_panel.list.selectRow(1)
    w.zones_panel.remove_button.click()
    assert [z.name for z in w.doc.zones] == ["seal"]
    # A ring (a sealing face, a rim): dragged from the centre, its inner edge at half the radius.
    w.zones_panel.actions["zone_annulus"].trigger()
    drag(qtbot, w.view, (80, 80), (120, 80))
    ring = w.doc.zones[1]
    assert ring.shape.kind == "annulus" and ring.name == "zone 1"  # the first free name
    assert (ring.shape.cx, ring.shape.r_outer, ring.shape.r_inner) == pytest.approx((80, 40, 20), abs=1.5)
    assert _cell(w, 1, 2).text().startswith("annulus r 20-40 at (80, 80)") and len(w.zones_panel.overlay.items) == 2


def test_calibrate_uses_the_zones_drawn_and_the_banner_says_when_they_differ(qtbot, make_window, fitted_project,
                                                                             images, answerer):
    """The fitted project was calibrated without zones. With the rest's minimum area above any region, a zone over
    the scratch with a limit of 0 makes the scratched part NG there; editing it afterwards is said in the banner
    until the next calibration, and a project reopened takes the calibration's zones."""
    settings = json.loads((fitted_project / "settings.json").read_text())
    assert "zones" not in settings
    w = make_window()
    assert w.open_project(fitted_project, ask=False)
    wait_idle(qtbot, w)
    assert w.doc.zones == () and not any("zones" in line for line in w.banner_lines())
    seal = inference.zones_from_list([{"name": "seal", "min_area": 0, "shape": {
        "type": "rect", "cx": 76, "cy": 77, "w": 60, "h": 46}}])
    w.doc.set_zones(seal)
    assert any("zones drawn differ" in line for line in w.banner_lines())
    w.open_calibration()
    dialog = w.calibrate_dialog
    assert dialog.zones.text() == "seal: 0 px"
    dialog.ok_box.add_paths(images["val"])
    dialog.ng_box.add_paths(images["ng"])
    dialog.area.setValue(1e6)
    dialog.compute_button.click()
    qtbot.waitUntil(lambda: dialog.save_button.isEnabled(), timeout=60000)
    assert dialog.suggested.zones == inference.zones_to_list(seal) and dialog.suggested.far == 0.0
    # The minimum length (0: none) moves the levels as the area does; the dialog's suggestion follows it.
    assert dialog.length.text() == "none" and dialog.length.suffix() == " px"
    dialog.length.setValue(12.5)
    assert dialog.suggested.min_length == 12.5
    dialog.length.setValue(0)
    assert dialog.suggested.min_length == 0.0
    dialog.save_button.click()
    wait_idle(qtbot, w)
    assert w.session.model.calibration.zone_list == seal
    assert not any("zones drawn differ" in line for line in w.banner_lines())
    w.inspect_panel.open_paths([images["ng"][0]])
    wait_idle(qtbot, w)
    assert w.inspect_panel.badge.text() == "NG" and "area limits of its zones" in w.inspect_panel.reason_label.text()
    made_ng = [w.inspect_panel.regions.item(row, 5).text() for row in range(w.inspect_panel.regions.rowCount())]
    assert any(text.startswith("yes · ") and "seal" in text for text in made_ng), made_ng
    # Opened again, Calibrate leaves no earlier dialog behind (each holds the scored images' maps); the new one
    # starts from the line's limits.
    first = w.calibrate_dialog
    w.open_calibration()
    qtbot.waitUntil(lambda: not shiboken6.isValid(first), timeout=5000)
    assert w.calibrate_dialog.area.value() == 1e6 and w.calibrate_dialog.zones.text() == "seal: 0 px"
    w.calibrate_dialog.reject()
    # Reopened without zones in its settings.json, the project starts from the calibration's.
    assert read_project(fitted_project, w.doc.config)["zones"] == seal
