"""Draw, move, resize, rotate and delete ROIs with the mouse; numeric edits; undo/redo; mm per pixel."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt

import inference
from app.roi_items import rect_from_state, rect_state
from gui_helpers import drag, handle_position


@pytest.fixture
def canvas(window, images):
    window.inspect_panel.open_paths([images["ok"][0]])  # no model: the image is only shown
    assert window.view.image is not None
    window.tabs.setCurrentWidget(window.teach_panel)  # the ROI is edited in the Teach step
    return window


def test_rect_state_round_trip():
    r = inference.Rect(50.0, 40.0, 30.0, 10.0, 33.0)
    pos, size, angle = rect_state(r)
    back = rect_from_state(pos, size, angle)
    assert back.cx == pytest.approx(50.0) and back.cy == pytest.approx(40.0)
    assert (back.w, back.h, back.angle_deg) == pytest.approx((30.0, 10.0, 33.0))
    # pos is the rotated corner 0 of inference.roi's own corner order.
    assert pos == pytest.approx(tuple(r.corners()[0]))


def test_draw_each_shape_with_the_mouse_and_undo(qtbot, canvas):
    w = canvas
    qtbot.keyClick(w, Qt.Key.Key_R)
    assert w.view.view_box.tool == "rect"
    drag(qtbot, w.view, (20, 30), (100, 90))
    roi = w.doc.roi
    assert isinstance(roi, inference.Rect)
    assert (roi.cx, roi.cy, roi.w, roi.h) == pytest.approx((60, 60, 80, 60), abs=1.5)
    assert w.view.view_box.tool is None, "a draw tool ends after one shape"
    assert w.roi_panel.spins["w"].value() == pytest.approx(roi.w, abs=0.05)

    w.roi_panel.actions["circle"].trigger()
    drag(qtbot, w.view, (80, 80), (80, 140))
    circle = w.doc.roi
    assert isinstance(circle, inference.Circle)
    assert (circle.cx, circle.cy, circle.r) == pytest.approx((80, 80, 60), abs=1.5)

    w.roi_panel.actions["annulus"].trigger()
    drag(qtbot, w.view, (80, 80), (140, 80))
    ring = w.doc.roi
    assert isinstance(ring, inference.Annulus)
    assert ring.r_outer == pytest.approx(60, abs=1.5) and ring.r_inner == pytest.approx(30, abs=1)
    assert w.doc.dirty

    assert w.undo_stack.count() == 3
    w.undo_stack.undo()
    assert w.doc.roi == circle
    w.undo_stack.undo()
    assert w.doc.roi == roi
    w.undo_stack.redo()
    w.undo_stack.redo()
    assert w.doc.roi == ring
    assert isinstance(w.overlay.item.to_shape(), inference.Annulus)


def test_move_and_resize_are_one_undo_step_each(qtbot, canvas):
    w = canvas
    w.doc.set_roi(inference.Circle(80, 80, 40))
    start_count = w.undo_stack.count()
    drag(qtbot, w.view, (70, 80), (90, 95), steps=8)  # on the body, off the handle
    moved = w.doc.roi
    assert (moved.cx, moved.cy, moved.r) == pytest.approx((100, 95, 40), abs=1.5)
    assert w.undo_stack.count() == start_count + 1, "one drag is one undo step"

    hx, hy = handle_position(w.overlay.item, w.overlay.item.handles[0]["item"])
    cx, cy = moved.cx, moved.cy
    grow = 55 / math.hypot(hx - cx, hy - cy)
    drag(qtbot, w.view, (hx, hy), (cx + (hx - cx) * grow, cy + (hy - cy) * grow))  # outwards to radius 55
    assert w.doc.roi.r == pytest.approx(55, abs=1.5)
    assert (w.doc.roi.cx, w.doc.roi.cy) == pytest.approx((moved.cx, moved.cy), abs=0.5)
    assert w.undo_stack.count() == start_count + 2
    w.undo_stack.undo()
    assert w.doc.roi == moved
    w.undo_stack.undo()
    assert w.doc.roi == inference.Circle(80, 80, 40)
    assert w.overlay.item.to_shape() == w.doc.roi, "the item follows undo"


def test_rect_rotation_handle_turns_the_rect(qtbot, canvas):
    w = canvas
    w.doc.set_roi(inference.Rect(80, 80, 60, 40, 0.0))
    item = w.overlay.item
    rotate = next(h["item"] for h in item.handles if h["type"] == "r")
    hx, hy = handle_position(item, rotate)
    # Swing the handle a quarter turn about the centre, clockwise on screen.
    r = math.hypot(hx - 80, hy - 80)
    drag(qtbot, w.view, (hx, hy), (80 + r, 80), steps=8)
    turned = w.doc.roi
    assert abs(turned.angle_deg) == pytest.approx(90, abs=4)
    assert (turned.cx, turned.cy, turned.w, turned.h) == pytest.approx((80, 80, 60, 40), abs=1.0)


def test_annulus_inner_radius_stays_below_outer(qtbot, canvas):
    w = canvas
    w.doc.set_roi(inference.Annulus(80, 80, 20, 50))
    item = w.overlay.item
    hx, hy = handle_position(item, item.inner_handle)
    assert (hx, hy) == pytest.approx((100, 80), abs=0.5)
    drag(qtbot, w.view, (hx, hy), (hx + 10, hy))
    assert w.doc.roi.r_inner == pytest.approx(30, abs=1.5) and w.doc.roi.r_outer == pytest.approx(50)
    hx, hy = handle_position(item, item.inner_handle)
    drag(qtbot, w.view, (hx, hy), (150, 80))  # far past the outer radius
    ring = w.doc.roi
    assert ring.r_inner < ring.r_outer == pytest.approx(50)

    # The outer handle scales the ring about its centre and keeps its proportions.
    hx, hy = handle_position(item, item.outer_handle)
    drag(qtbot, w.view, (hx, hy), (80 + (hx - 80) * 0.8, 80 + (hy - 80) * 0.8))
    smaller = w.doc.roi
    assert smaller.r_outer == pytest.approx(40, abs=1.5) and (smaller.cx, smaller.cy) == pytest.approx((80, 80))
    assert smaller.r_inner / smaller.r_outer == pytest.approx(ring.r_inner / ring.r_outer, rel=1e-6)


def test_numeric_edit_and_invalid_annulus(qtbot, canvas, answerer):
    w = canvas
    w.doc.set_roi(inference.Annulus(80, 80, 20, 50))
    spin = w.roi_panel.spins["r_outer"]
    spin.setValue(60)
    spin.editingFinished.emit()
    assert w.doc.roi == inference.Annulus(80, 80, 20, 60)
    inner = w.roi_panel.spins["r_inner"]
    inner.setValue(70)
    inner.editingFinished.emit()
    assert any("inner radius" in t and "smaller" in t for t in answerer.seen)
    assert w.doc.roi == inference.Annulus(80, 80, 20, 60), "an invalid edit leaves the ROI as it was"
    assert inner.value() == pytest.approx(20)
    w.undo_stack.undo()
    assert w.doc.roi == inference.Annulus(80, 80, 20, 50)


def test_delete_roi_and_undo(qtbot, canvas):
    w = canvas
    w.doc.set_roi(inference.Circle(80, 80, 30))
    w.view.setFocus()
    qtbot.keyClick(w, Qt.Key.Key_Delete)
    assert w.doc.roi is None and w.overlay.item is None
    w.undo_stack.undo()
    assert w.doc.roi == inference.Circle(80, 80, 30)


def test_measure_line_sets_mm_per_px(qtbot, canvas, monkeypatch):
    w = canvas
    asked = []
    monkeypatch.setattr("app.panels.roi_panel.ask_length_mm", lambda parent, px: asked.append(px) or 10.0)
    qtbot.keyClick(w, Qt.Key.Key_M)
    drag(qtbot, w.view, (20, 50), (120, 50))
    assert asked and asked[0] == pytest.approx(100, abs=1.5)
    assert w.doc.mm_per_px == pytest.approx(10.0 / asked[0])
    assert w.roi_panel.mm_spin.value() == pytest.approx(w.doc.mm_per_px, abs=1e-6)
    w.undo_stack.undo()
    assert w.doc.mm_per_px is None
