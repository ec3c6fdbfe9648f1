"""The heatmap's colour scale, with the threshold marked on it."""

from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

import inference


class ColourBar(QWidget):
    """A horizontal bar from 0 to `vmax` in the view's colour map; a black and white mark at the threshold."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("colourBar")
        self.setMinimumHeight(46)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.colormap = "jet"
        self.vmax: Optional[float] = None
        self.threshold: Optional[float] = None
        self.setToolTip("Heatmap scale: how far each spot is from the good parts taught. At or above the "
                        "threshold mark a spot counts as a defect.")

    def set_scale(self, vmax: Optional[float], threshold: Optional[float]) -> None:
        self.vmax, self.threshold = vmax, threshold
        self.update()

    def set_colormap(self, name: str) -> None:
        self.colormap = name
        self.update()

    def threshold_x(self) -> Optional[float]:
        """Where the threshold mark sits, in widget x (None without a threshold or scale)."""
        if self.vmax is None or self.threshold is None or self.vmax <= 0:
            return None
        left, width = 6.0, self.width() - 12.0
        return left + width * min(max(self.threshold / self.vmax, 0.0), 1.0)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        left, width, top, height = 6.0, self.width() - 12.0, 4.0, 14.0
        if self.vmax is None:
            p.setPen(self.palette().color(self.foregroundRole()))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "heatmap scale: inspect an image")
            return
        lut = np.ascontiguousarray(inference.heatmap_colours(self.colormap)[None, :, :])
        image = QImage(lut.data, 256, 1, 3 * 256, QImage.Format.Format_RGB888)
        p.drawImage(QRectF(left, top, width, height), image)
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        p.setFont(font)
        p.setPen(self.palette().color(self.foregroundRole()))
        baseline = top + height + 14
        p.drawText(QRectF(left, top + height + 2, 80, 14), Qt.AlignmentFlag.AlignLeft, "0")
        p.drawText(QRectF(left + width - 80, top + height + 2, 80, 14), Qt.AlignmentFlag.AlignRight,
                   f"{self.vmax:.3g}")
        x = self.threshold_x()
        if x is not None:
            p.setPen(QPen(QColor(0, 0, 0), 3))
            p.drawLine(int(x), int(top - 3), int(x), int(top + height + 3))
            p.setPen(QPen(QColor(255, 255, 255), 1))
            p.drawLine(int(x), int(top - 3), int(x), int(top + height + 3))
            p.setPen(self.palette().color(self.foregroundRole()))
            p.drawText(QRectF(x - 70, baseline - 12, 140, 14), Qt.AlignmentFlag.AlignHCenter,
                       f"threshold {self.threshold:.3g}")
        p.end()
