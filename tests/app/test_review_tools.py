"""The review tools of issue 23: the History's trend chart, FAR / FRR as rates, the histogram drill-down."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from app.panels.calibrate_dialog import counts_text
from app.panels.score_histogram import bin_members
from app.panels.trend_chart import NG_BRUSH, OK_BRUSH, UNJUDGED_BRUSH, dot_brushes, trend
from gui_helpers import wait_idle


def row(t, score, verdict, threshold=1.0):
    return SimpleNamespace(time=t, score=score, verdict=verdict, threshold=threshold)


def test_trend_series_yield_per_step_and_threshold_steps():
    rows = [row(0, 0.5, "OK"), row(1, 1.5, "NG"), row(2, 0.4, "OK"), row(3, 0.3, "OK"),
            row(10, 2.0, "NG", threshold=1.2), row(10, None, "ERROR", threshold=None)]
    t = trend(rows, bins=2)
    assert list(t.times) == [0, 1, 2, 3, 10] and list(t.ng) == [False, True, False, False, True]
    # Steps [0, 5) and [5, 10]: 3 of 4 OK, then 0 of 1; the ERROR row is neither OK nor NG.
    assert list(t.yields) == [75.0, 0.0] and list(t.bin_counts) == [4, 1]
    assert list(t.thresholds) == [1.0, 1.0, 1.0, 1.0, 1.2]
    # A score without a verdict (not calibrated) is drawn grey, never in the OK parts' green.
    t = trend(rows + [row(11, 0.2, "NO_VERDICT", threshold=None)], bins=2)
    assert dot_brushes(t) == [OK_BRUSH, NG_BRUSH, OK_BRUSH, OK_BRUSH, NG_BRUSH, UNJUDGED_BRUSH]


def test_the_history_draws_the_trend_of_the_rows_shown(qtbot, window, fitted_project, images, tmp_path):
    folder = tmp_path / "project"
    shutil.copytree(fitted_project, folder)
    window.open_project(folder, ask=False)
    wait_idle(qtbot, window)
    window.inspect_panel.open_paths(images["ng"] + images["val"])
    wait_idle(qtbot, window)
    window.inspect_panel.inspect_all_button.click()
    wait_idle(qtbot, window)
    view = window.history_panel
    window.tabs.setCurrentWidget(view)
    chart = view.trend
    assert chart.isVisible()
    xs, ys = chart.dots.getData()
    n = len(view.rows)
    assert len(xs) == n >= 4
    assert sorted(ys) == pytest.approx(sorted(r.score for r in view.rows))
    threshold = window.session.model.calibration.threshold
    assert set(np.round(chart.threshold.getData()[1], 6)) == {round(threshold, 6)}
    ng = sum(r.verdict == "NG" for r in view.rows)
    assert chart.data.bin_counts.sum() == n
    assert np.average(chart.data.yields, weights=chart.data.bin_counts) == pytest.approx(100 * (n - ng) / n)
    # Inspections seconds apart: the axis spans minutes at least, so pyqtgraph's date axis ticks clock times
    # (HH:MM:SS), not seconds and milliseconds.
    low, high = chart.scores.viewRange()[0]
    assert high - low >= 120 and low < min(xs) and high > max(xs)
    view.verdict.setCurrentText("NG")
    assert len(chart.dots.getData()[0]) == ng
    view.trend_check.setChecked(False)
    assert not chart.isVisible()


def test_counts_are_given_as_rates_too():
    text = counts_text([1.0, 2.0, 3.0], [2.0, 4.0, 5.0, 6.0], 2.5)
    assert "1 of 3 OK (FRR 33.3%)" in text and "1 of 4 NG (FAR 25.0%)" in text
    assert "FAR unknown" in counts_text([1.0], [], 2.0)
    # and what so few images can show: 1 of 3 rejected cannot rule out 90 % (Clopper-Pearson)
    assert text.splitlines()[1].startswith("At 95% confidence, false reject at most 86% and false accept at most 75%")


def test_bin_members_follow_numpys_bins():
    paths, scores = ["a", "b", "c"], [1.0, 2.0, 3.0]
    assert bin_members(paths, scores, 1.0, 2.0) == [("a", 1.0)]
    assert bin_members(paths, scores, 2.0, 3.0, last=True) == [("c", 3.0), ("b", 2.0)]


def test_clicking_a_histogram_bar_lists_its_images(qtbot, window, fitted_project, images, tmp_path, answerer):
    folder = tmp_path / "project"
    shutil.copytree(fitted_project, folder)
    window.open_project(folder, ask=False)
    wait_idle(qtbot, window)
    window.open_calibration()
    dialog = window.calibrate_dialog
    qtbot.waitExposed(dialog)
    dialog.ok_box.add_paths(images["val"])
    dialog.ng_box.add_paths(images["ng"])
    dialog.compute_button.click()
    wait_idle(qtbot, window)
    assert "%" in dialog.counts.text()
    qtbot.wait(50)
    o = dialog.ng_bars.opts
    i = int(np.flatnonzero(np.asarray(o["height"]) > 0)[0])
    box = dialog.plot.getViewBox()
    centre = box.mapViewToScene(QPointF((o["x0"][i] + o["x1"][i]) / 2, o["height"][i] / 2))
    QTest.mouseClick(dialog.plot.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     dialog.plot.mapFromScene(centre))
    qtbot.waitUntil(lambda: dialog.bin_list.list.count() > 0, timeout=3000)
    listed = [dialog.bin_list.list.item(k).data(Qt.ItemDataRole.UserRole)
              for k in range(dialog.bin_list.list.count())]
    lo, hi = o["x0"][i], o["x1"][i]
    ng_scores = dict(zip(dialog.ng_paths, dialog.ng_scores))
    expected_ng = {p for p, s in ng_scores.items() if lo <= s < hi or (i == len(o["x0"]) - 1 and s == hi)}
    assert expected_ng and expected_ng <= set(listed)
    assert len(listed) == o["height"][i] + dialog.ok_bars.opts["height"][i]
    dialog.reject()
