"""The History's trend: each inspection's score over time with the threshold it was judged against, and the
yield (OK share of the parts judged) per time step, for the rows the History shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

OK_BRUSH = pg.mkBrush(30, 142, 62, 200)
NG_BRUSH = pg.mkBrush(217, 48, 37, 220)
UNJUDGED_BRUSH = pg.mkBrush(128, 128, 128, 200)  # scored, neither OK nor NG (no verdict, part not found): never green
THRESHOLD_PEN = pg.mkPen((20, 20, 200), width=2, style=Qt.PenStyle.DashLine)
YIELD_PEN = pg.mkPen((30, 100, 160), width=2)
BINS = 20
MIN_PAD_S = 60.0  # seconds shown before the first inspection and after the last, at least


@dataclass(frozen=True)
class Trend:
    times: np.ndarray  # seconds since the epoch, of the rows with a score, oldest first
    scores: np.ndarray
    ng: np.ndarray  # bool: judged NG
    ok: np.ndarray  # bool: judged OK (a row neither OK nor NG has a score and no verdict)
    threshold_times: np.ndarray  # the threshold each judged row was judged against (a step line)
    thresholds: np.ndarray
    bin_times: np.ndarray  # the middle of each time step with judged parts
    yields: np.ndarray  # OK / (OK + NG) of that step, in percent
    bin_counts: np.ndarray  # judged parts in that step


def trend(rows: Sequence, bins: int = BINS) -> Trend:
    """The chart's series from history rows (any order; each has time, score, verdict, threshold)."""
    rows = sorted(rows, key=lambda r: r.time)
    scored = [r for r in rows if r.score is not None and np.isfinite(r.score)]
    judged = [r for r in rows if r.verdict in ("OK", "NG")]
    with_thr = [r for r in judged if r.threshold is not None]
    bin_times, yields, counts = [], [], []
    if judged:
        t0, t1 = judged[0].time, judged[-1].time
        edges = np.linspace(t0, t1 if t1 > t0 else t0 + 1.0, bins + 1)
        times = np.array([r.time for r in judged])
        ok = np.array([r.verdict == "OK" for r in judged])
        which = np.clip(np.searchsorted(edges, times, side="right") - 1, 0, bins - 1)
        for b in range(bins):
            n = int((which == b).sum())
            if n:
                bin_times.append((edges[b] + edges[b + 1]) / 2)
                yields.append(100.0 * ok[which == b].sum() / n)
                counts.append(n)
    return Trend(np.array([r.time for r in scored], dtype=np.float64),
                 np.array([r.score for r in scored], dtype=np.float64),
                 np.array([r.verdict == "NG" for r in scored], dtype=bool),
                 np.array([r.verdict == "OK" for r in scored], dtype=bool),
                 np.array([r.time for r in with_thr], dtype=np.float64),
                 np.array([r.threshold for r in with_thr], dtype=np.float64),
                 np.array(bin_times, dtype=np.float64), np.array(yields, dtype=np.float64),
                 np.array(counts, dtype=np.int64))


def dot_brushes(t: Trend) -> list:
    """Green OK, red NG, grey for a score without a verdict (drawn green before: read as passed)."""
    return [NG_BRUSH if ng else OK_BRUSH if ok else UNJUDGED_BRUSH for ng, ok in zip(t.ng, t.ok)]


class TrendChart(QWidget):
    """Score (dots, green OK, red NG, grey without a verdict) and threshold (dashed) over time above, yield per
    time step below."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("historyTrend")
        self.scores = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem()})
        self.scores.setObjectName("trendScores")
        self.scores.setBackground("w")
        self.scores.setLabel("left", "score")
        self.scores.addLegend(offset=(5, 5))
        self.scores.setToolTip("Each inspection's score over time; the dashed line is the threshold it was judged "
                               "against (it steps where a new calibration was saved)")
        self.dots = pg.ScatterPlotItem(size=6, pen=None, name="inspections")
        self.threshold = pg.PlotCurveItem(pen=THRESHOLD_PEN, stepMode=None, name="threshold")
        self.scores.addItem(self.dots)
        self.scores.addItem(self.threshold)
        self.yields = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem()})
        self.yields.setObjectName("trendYield")
        self.yields.setBackground("w")
        self.yields.setLabel("left", "yield %")
        self.yields.setYRange(0, 105, padding=0)
        self.yields.setXLink(self.scores)
        self.yields.setToolTip(f"Yield per time step (the shown period in {BINS} steps): OK parts out of the "
                               "parts judged OK or NG")
        self.yield_curve = pg.PlotDataItem(pen=YIELD_PEN, symbol="o", symbolSize=5,
                                           symbolBrush=pg.mkBrush(30, 100, 160))
        self.yields.addItem(self.yield_curve)
        self.note = QLabel()
        self.note.setObjectName("trendNote")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scores, 3)
        layout.addWidget(self.yields, 2)
        layout.addWidget(self.note)
        self.data = trend([])

    def set_rows(self, rows: Sequence) -> None:
        t = self.data = trend(rows)
        self.dots.setData(t.times, t.scores, brush=dot_brushes(t))
        if t.thresholds.size:
            # A step line: each threshold holds until the next one (the latest to the last inspection).
            xs = np.repeat(t.threshold_times, 2)[1:]
            ys = np.repeat(t.thresholds, 2)[:-1]
            self.threshold.setData(xs, ys)
        else:
            self.threshold.setData([], [])
        self.yield_curve.setData(t.bin_times, t.yields)
        if t.times.size:
            # At least a minute each side: inspections a few seconds apart (or one alone) drew an axis of seconds
            # and milliseconds ("27.500") instead of the clock time a technician reads.
            pad = max(MIN_PAD_S, 0.02 * (t.times.max() - t.times.min()))
            self.scores.setXRange(t.times.min() - pad, t.times.max() + pad, padding=0)
            self.note.setText(f"{t.times.size} scored inspection(s); yield in {t.bin_counts.size} time step(s) "
                              f"of {int(t.bin_counts.sum())} judged part(s)")
        else:
            self.note.setText("No scored inspections in this period.")
