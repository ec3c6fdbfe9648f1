"""The calibration histogram: OK and NG score bars, the draggable threshold line, a legend that never covers a
bar, and a click on a bar that says which score range (and so which images) it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

OK_BRUSH = (30, 142, 62, 150)
NG_BRUSH = (217, 48, 37, 150)
HEADROOM = 1.5  # the y range is at least this x the tallest bar: the legend sits in the room above the bars


def bin_members(paths: Sequence[str], scores: Sequence[float], lo: float, hi: float,
                last: bool = False) -> list[tuple[str, float]]:
    """(path, score) of the images whose score falls in the bin [lo, hi) ([lo, hi] for the last bin, as
    numpy's histogram counts), highest score first."""
    inside = [(p, float(s)) for p, s in zip(paths, scores) if lo <= s < hi or (last and s == hi)]
    return sorted(inside, key=lambda ps: -ps[1])


class ScoreHistogram(pg.PlotWidget):
    binClicked = Signal(int)  # the index of the bin clicked (into `edges`)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("histogram")
        self.setBackground("w")
        self.setLabel("bottom", "score")
        self.setLabel("left", "images")
        self.legend = self.addLegend(offset=(10, 5))
        self.setToolTip("Score distributions of the OK (green) and NG (red) images; drag the line to set the "
                        "threshold; click a bar to list its images")
        self.ok_bars = pg.BarGraphItem(x0=[], x1=[], height=[], brush=OK_BRUSH, name="OK")
        self.ng_bars = pg.BarGraphItem(x0=[], x1=[], height=[], brush=NG_BRUSH, name="NG")
        self.addItem(self.ok_bars)
        self.addItem(self.ng_bars)
        self.line = pg.InfiniteLine(pos=0, angle=90, movable=True, pen=pg.mkPen((20, 20, 200), width=3),
                                    label="threshold {value:.3f}", labelOpts={"position": 0.9, "color": (20, 20, 200)})
        self.line.setVisible(False)
        self.addItem(self.line)
        self.edges: Optional[np.ndarray] = None
        self.tallest = 0
        self.scene().sigMouseClicked.connect(self._clicked)

    def show_counts(self, edges: np.ndarray, ok_counts, ng_counts) -> None:
        self.edges = np.asarray(edges, dtype=np.float64)
        self.ok_bars.setOpts(x0=edges[:-1], x1=edges[1:], height=ok_counts)
        self.ng_bars.setOpts(x0=edges[:-1], x1=edges[1:], height=ng_counts)
        self.tallest = int(max(np.max(ok_counts, initial=0), np.max(ng_counts, initial=0)))
        self.line.setVisible(True)
        self.setXRange(edges[0], edges[-1])
        self._make_room()

    def _make_room(self) -> None:
        """Set the y range so the tallest bar ends below the legend (which sits at the top of the plot)."""
        if getattr(self, "edges", None) is None:  # resizeEvent comes during construction
            return
        box = self.getViewBox()
        height = box.sceneBoundingRect().height()
        legend = self.legend.sceneBoundingRect().height() + 15 if self.legend is not None else 0
        # A short plot still keeps its bars under the legend: they get what room the legend leaves, at least 10%.
        free = max(1.0 - legend / height, 0.1) if height > 0 else 1.0 / HEADROOM
        top = max(1.0, self.tallest) / min(free, 1.0 / HEADROOM)
        box.setYRange(0, top, padding=0)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._make_room()

    def _clicked(self, event) -> None:
        if self.edges is None or event.button() != Qt.MouseButton.LeftButton:
            return
        box = self.getViewBox()
        if not box.sceneBoundingRect().contains(event.scenePos()):
            return
        x = box.mapSceneToView(event.scenePos()).x()
        i = int(np.searchsorted(self.edges, x, side="right")) - 1
        if 0 <= i < len(self.edges) - 1:
            self.binClicked.emit(i)


class BinList(QWidget):
    """The images of the histogram bar last clicked, OK and NG, highest score first."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QLabel("Click a bar of the histogram to list its images.")
        self.title.setObjectName("binTitle")
        self.list = QListWidget()
        self.list.setObjectName("binList")
        self.list.setMaximumHeight(110)
        self.list.setToolTip("The images in the bar clicked, highest score first (hover for the full path)")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.list)

    def show_bin(self, lo: float, hi: float, ok: list[tuple[str, float]], ng: list[tuple[str, float]],
                 known: bool = True) -> None:
        self.list.clear()
        if not known:
            self.title.setText(f"Scores {lo:.3f} to {hi:.3f}: press Compute scores to see which images these are "
                               "(the saved calibration keeps the scores only).")
            return
        self.title.setText(f"Scores {lo:.3f} to {hi:.3f}: {len(ok)} OK, {len(ng)} NG image(s)")
        for kind, members in (("OK", ok), ("NG", ng)):
            for path, score in members:
                item = QListWidgetItem(f"{kind}  {score:.3f}  {Path(path).name}")
                item.setData(Qt.ItemDataRole.UserRole, path)
                item.setToolTip(path)
                self.list.addItem(item)
