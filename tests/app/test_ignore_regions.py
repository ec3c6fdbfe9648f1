"""Ignore regions in the window: draw (rect, circle, polygon), move, remove, undo; saved with the project;
the located part's outline and NOT FOUND on inspected images."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

import inference
from app.document import read_project
from gui_helpers import drag, record_fitted_with, to_widget
from inference.synthetic import moved_part


@pytest.fixture
def canvas(window, images):
    window.inspect_panel.open_paths([images["ok"][0]])
    window.doc.set_roi(inference.Circle(80.0, 80.0, 67.0))
    return window


def click(view, x, y, double=False):
    p = to_widget(view, x, y)
    if double:
        QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p)
    else:
        QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p)


def test_draw_rect_and_circle_ignore_regions_with_undo(qtbot, canvas):
    w = canvas
    w.ignore_panel.actions["ignore_rect"].trigger()
    assert w.view.view_box.tool == "ignore_rect"
    drag(qtbot, w.view, (50, 60), (90, 80))
    assert w.doc.roi == inference.Circle(80.0, 80.0, 67.0), "drawing an ignore region leaves the ROI alone"
    (rect,) = w.doc.ignore
    assert isinstance(rect, inference.Rect)
    assert (rect.cx, rect.cy, rect.w, rect.h) == pytest.approx((70, 70, 40, 20), abs=1.5)
    assert w.view.view_box.tool is None
    w.ignore_panel.actions["ignore_circle"].trigger()
    drag(qtbot, w.view, (100, 100), (110, 100))
    assert len(w.doc.ignore) == 2 and w.doc.ignore[1].r == pytest.approx(10, abs=1)
    assert w.ignore_panel.list.count() == 2
    w.undo_stack.undo()
    assert w.doc.ignore == (rect,)
    w.undo_stack.redo()
    assert len(w.doc.ignore) == 2
    # Remove the first one, then undo it back.
    w.ignore_panel.list.setCurrentRow(0)
    w.ignore_panel.remove_button.click()
    assert len(w.doc.ignore) == 1 and isinstance(w.doc.ignore[0], inference.Circle)
    w.undo_stack.undo()
    assert w.doc.ignore[0] == rect


def test_draw_a_polygon_by_clicks_and_move_it(qtbot, canvas):
    w = canvas
    w.ignore_panel.actions["ignore_polygon"].trigger()
    for x, y in ((40, 40), (90, 45), (70, 90)):
        click(w.view, x, y)
        qtbot.wait(20)
    assert w.doc.ignore == ()
    w.ignore_panel.close_button.click()
    (poly,) = w.doc.ignore
    assert isinstance(poly, inference.Polygon) and len(poly.points) == 3
    assert np.allclose(poly.points, ((40, 40), (90, 45), (70, 90)), atol=1.5)
    # Drag the polygon's inside: it moves as a whole, one undo step.
    drag(qtbot, w.view, (67, 58), (77, 68))
    moved = w.doc.ignore[0]
    assert np.allclose(np.array(moved.points) - np.array(poly.points), 10, atol=1.5)
    w.undo_stack.undo()
    assert w.doc.ignore[0] == poly


def test_an_ignore_region_outside_the_roi_is_refused(qtbot, canvas, answerer):
    w = canvas
    w.doc.set_roi(inference.Circle(40.0, 40.0, 20.0))
    w.ignore_panel.actions["ignore_rect"].trigger()
    drag(qtbot, w.view, (120, 120), (150, 150))
    assert w.doc.ignore == ()
    assert any("outside the ROI" in text for text in answerer.seen)


def test_ignore_regions_are_saved_with_the_project_and_stale_the_model(qtbot, canvas, tmp_path):
    w = canvas
    shapes = (inference.Rect(70, 70, 20, 10), inference.Polygon(((40, 40), (60, 40), (50, 60))))
    w.doc.set_ignore(shapes)
    w.doc.save(tmp_path / "project")
    back = read_project(tmp_path / "project", w.doc.config)
    assert back["ignore"] == shapes
    record = record_fitted_with(w.doc.config, roi=inference.roi_to_dict(w.doc.roi))
    from app.document import stale_reasons

    assert "the ignore regions changed since the fit" in stale_reasons(w.doc.roi, w.doc.config, record, shapes)
    assert stale_reasons(w.doc.roi, w.doc.config, record, ()) == []


def test_located_outline_and_not_found_are_shown(qtbot, window, tmp_path, tiny_cnn_config):
    roi = inference.Rect(160, 160, 236, 166)
    engine = inference.Engine(tiny_cnn_config.replace(align="rigid"))
    engine.fit(tmp_path / "p", [moved_part(0)[0], moved_part(1, 10, 5, 30)[0]], roi=roi)
    model = engine.load(tmp_path / "p")
    moved, _ = moved_part(2, 40, 0, 90)
    found = engine.infer(model, moved)
    window.view.set_image(moved)
    window.inspect_panel.show_result(found)
    xs, ys = window.view.located_item.getData()
    assert np.isfinite(xs).sum() == 5  # the turned ROI's four corners, closed (no ignore regions here)
    assert np.mean(xs[:4]) == pytest.approx(200, abs=2) and np.mean(ys[:4]) == pytest.approx(160, abs=2)
    shown = window.inspect_panel.score_label.text()
    assert float(shown.split("located ")[1].split("°")[0]) == pytest.approx(90, abs=1.5)
    # A calibration's inspection zones are drawn where the part lies too: a square drawn at the reference's centre
    # (160, 160) lies at the moved centre (200, 160), its four corners closed.
    samples = engine.calibration_samples(model, [moved_part(4, 5, 5, 10)[0]])
    square = inference.zones_from_list([{"name": "z", "min_area": 0, "shape": {"type": "rect", "cx": 160, "cy": 160,
                                                                            "w": 20, "h": 20}}])
    zoned = model.with_calibration(engine.calibration_from(model, samples, zones=square))
    window.inspect_panel.show_result(engine.infer(zoned, moved))
    xs, ys = window.view.located_zones_item.getData()
    assert np.isfinite(xs).sum() == 5 and np.mean(xs[:4]) == pytest.approx(200, abs=2)
    assert np.mean(ys[:4]) == pytest.approx(160, abs=2)

    empty, _ = moved_part(3, present=False)
    missing = engine.infer(model, empty)
    window.view.set_image(empty)
    window.inspect_panel.show_result(missing)
    assert window.inspect_panel.badge.text() == "NOT FOUND"
    assert "part not found" in window.inspect_panel.score_label.text()
    assert "NOT FOUND" in window.view.not_found_label.textItem.toHtml()
    xs, _ = window.view.located_item.getData()
    assert xs is None or len(xs) == 0
    xs, _ = window.view.located_zones_item.getData()
    assert xs is None or len(xs) == 0
