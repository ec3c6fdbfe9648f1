"""Open a fitted project and inspect images through the real widgets."""

from __future__ import annotations

import csv

import numpy as np
from PySide6.QtCore import Qt

from gui_helpers import wait_idle


def test_open_project_and_inspect_defect_shows_ng_overlay(qtbot, window, fitted_project, images, tmp_path):
    assert window.open_project(fitted_project, ask=False)
    wait_idle(qtbot, window)
    assert window.session.model is not None
    assert window.doc.roi.kind == "circle"

    panel = window.inspect_panel
    panel.open_paths([images["ng"][0], images["val"][0]])
    wait_idle(qtbot, window)
    result = panel.current
    assert result is not None and result.verdict == "NG"
    assert panel.badge.text() == "NG"
    assert panel.regions.rowCount() == len(result.regions) > 0
    # The overlay covers the ROI's box and is transparent outside the circle (the shape mask).
    overlay = window.view.overlay_item.image
    x0, y0, x1, y1 = result.box
    assert overlay.shape[:2] == (y1 - y0, x1 - x0)
    assert overlay[0, 0, 3] == 0 and overlay[(y1 - y0) // 2, (x1 - x0) // 2, 3] == 255
    assert window.view.outline_items, "region outlines are drawn"

    # Selecting a region zooms the view onto it.
    before = window.view.view_box.viewRect()
    panel.regions.selectRow(0)
    after = window.view.view_box.viewRect()
    assert after.width() < before.width()
    bx, by, bw, bh = result.regions[0].bbox
    assert after.contains(bx + bw / 2, by + bh / 2)

    # Next image (keyboard shortcut) shows an OK part.
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    wait_idle(qtbot, window)
    assert panel.index == 1
    assert panel.current.verdict == "OK" and panel.badge.text() == "OK"

    # Opacity and colour map change the overlay without re-inferring.
    panel.opacity.setValue(80)
    assert abs(window.view.overlay_item.opacity() - 0.8) < 1e-6
    rgba_jet = window.view.overlay_item.image.copy()
    panel.colormap.setCurrentText("viridis")
    assert not np.array_equal(rgba_jet[..., :3], window.view.overlay_item.image[..., :3])

    # Inspect all, then export the results list.
    panel.inspect_all_button.click()
    wait_idle(qtbot, window)
    verdicts = [panel.results_table.item(i, 2).text() for i in range(panel.results_table.rowCount())]
    assert verdicts == ["NG", "OK"]
    out = tmp_path / "results.csv"
    panel.export_csv(str(out))
    rows = list(csv.DictReader(out.open()))
    assert [r["verdict"] for r in rows] == ["NG", "OK"]
    assert float(rows[0]["score"]) > float(rows[0]["threshold"]) > float(rows[1]["score"])


def test_pixel_under_cursor_in_status_text(qtbot, window, images):
    window.inspect_panel.open_paths([images["ok"][0]])
    img = window.view.image
    text = window.view.pixel_text(10.7, 20.2)
    assert text.startswith("x 10  y 20") and str(int(img[20, 10, 0])) in text
    assert window.view.pixel_text(-1, 5) == ""
