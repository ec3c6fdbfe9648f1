"""The side-by-side view: the inspected part next to its nearest taught OK part, the matched patches marked.

The engine names the taught image (inference.nearest_taught: the image most of the part's highest-scoring
patches matched in the memory bank) and the pair of patches; this view only draws them. It is a window of its
own, opened from the Inspect tab ("Nearest OK part"), that follows the image shown there. Finding the match
embeds the image once more, as a job of its own, started only when no other job runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QAction, QColor, QImage, QKeySequence, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

import inference

from ..messages import describe
from .table_widgets import button

MARK = QColor(0, 230, 255)  # the matched patch: cyan, seen on grey parts and on red heatmaps alike
FILE_WORDS = {
    "missing": "The taught image file is missing: {name}. It was moved or deleted after teaching; the match "
               "is still the model's, but its picture cannot be shown.",
    "changed": "The taught image file {name} has changed since it was taught: the picture shown may not be "
               "what the model learned.",
    "array": "This image was taught from pixels in memory (no file): its picture cannot be shown.",
}


class MarkedImage(QWidget):
    """An image scaled to fit, aspect kept, with one outlined patch (image pixel corners) and a ring around it."""

    def __init__(self, name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName(name)
        self.setMinimumSize(320, 320)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.image: Optional[QImage] = None
        self.corners: list = []
        self.empty_text = ""

    def show_image(self, rgb: Optional[np.ndarray], corners=(), empty_text: str = "") -> None:
        self.image = None if rgb is None else _qimage(rgb)
        self.corners = list(corners or ())
        self.empty_text = empty_text
        self.update()

    def image_rect(self) -> QRectF:
        if self.image is None:
            return QRectF()
        scale = min(self.width() / self.image.width(), self.height() / self.image.height())
        w, h = self.image.width() * scale, self.image.height() * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event) -> None:  # Qt's name
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(32, 32, 32))
        if self.image is None:
            painter.setPen(QColor(220, 220, 220))
            painter.drawText(self.rect().adjusted(12, 12, -12, -12), Qt.TextFlag.TextWordWrap |
                             Qt.AlignmentFlag.AlignCenter, self.empty_text)
            return
        target = self.image_rect()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(target, self.image)
        if self.corners:
            scale = target.width() / self.image.width()
            points = [QPointF(target.x() + x * scale, target.y() + y * scale) for x, y in self.corners]
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(MARK, 2))
            painter.drawPolygon(QPolygonF(points))
            cx = sum(p.x() for p in points) / len(points)
            cy = sum(p.y() for p in points) / len(points)
            radius = max(14.0, max(abs(p.x() - cx) for p in points) * 2.5)
            painter.setPen(QPen(MARK, 1, Qt.PenStyle.DashLine))
            painter.drawEllipse(QPointF(cx, cy), radius, radius)
        painter.end()


def _qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb[..., :3] if rgb.ndim == 3 else np.repeat(rgb[..., None], 3, axis=2), np.uint8)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class NearestPartWindow(QDialog):
    """Two images side by side (the inspected part, the nearest taught OK part) and what the match means."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("nearestPartWindow")
        self.setWindowTitle("Nearest taught OK part")
        self.setModal(False)
        self.part = MarkedImage("nearestPartImage")
        self.taught = MarkedImage("nearestTaughtImage")
        self.part_title, self.taught_title = QLabel("Inspected part"), QLabel("Nearest taught OK part")
        for label in (self.part_title, self.taught_title):
            label.setWordWrap(True)
        self.note = QLabel()
        self.note.setObjectName("nearestNote")
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        images = QHBoxLayout()
        for title, image in ((self.part_title, self.part), (self.taught_title, self.taught)):
            column = QVBoxLayout()
            column.addWidget(title)
            column.addWidget(image, 1)
            images.addLayout(column, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(images, 1)
        layout.addWidget(self.note)
        self.resize(980, 560)

    def show_waiting(self, name: str, text: str) -> None:
        self.part_title.setText(f"Inspected part: {name}" if name else "Inspected part")
        self.taught_title.setText("Nearest taught OK part")
        self.part.show_image(None, empty_text=text)
        self.taught.show_image(None, empty_text="")
        self.note.setText(text)

    def show_match(self, name: str, pixels, found: inference.NearestTaught, taught_pixels) -> None:
        self.part_title.setText(f"Inspected part: {name}")
        if not found.available:
            self.taught_title.setText("Nearest taught OK part")
            self.part.show_image(pixels)
            self.taught.show_image(None, empty_text=found.note)
            self.note.setText(found.note)
            return
        taught_name = Path(found.name).name if found.name else f"taught image {found.image_index + 1}"
        self.taught_title.setText(f"Nearest taught OK part: {taught_name} (taught image {found.image_index + 1})")
        self.part.show_image(pixels, found.part_patch)
        words = FILE_WORDS.get(found.file_state, "").format(name=found.name)
        self.taught.show_image(taught_pixels if found.file_state in ("ok", "changed") else None,
                               found.taught_patch, words)
        lines = [(f"{found.votes} of the part's {found.considered} highest-scoring patches matched this taught "
                  f"image. Marked: the part's highest-scoring of them (distance {found.distance:.3f}) and the "
                  "taught patch it matched.")]
        if found.augmented:
            lines.append("The match is an augmented copy of this image (turned a few degrees or mirrored): the "
                         "marked place is where that patch lies in the image itself.")
        if not found.taught_patch:
            lines.append("Where the patch lies in the taught image is not known (taught before this model kept it).")
        if words:
            lines.append(words)
        self.note.setText("\n".join(lines))


class NearestPart(QObject):
    """The Inspect tab's "Nearest OK part" toggle and its window, following the image the tab shows."""

    def __init__(self, session, panel, parent: QObject | None = None):
        super().__init__(parent or panel)
        self.session, self.panel = session, panel
        self.window: Optional[NearestPartWindow] = None
        self.action = QAction("Nearest OK part", panel)
        self.action.setObjectName("nearestAction")
        self.action.setCheckable(True)
        self.action.setShortcut(QKeySequence("Ctrl+Shift+N"))
        self.action.setToolTip("Show the inspected part next to its nearest taught OK part, the matched patch "
                               "marked on both (Ctrl+Shift+N)")
        self.action.toggled.connect(self._toggled)
        self.key: Optional[tuple] = None  # (path, model id, version) shown or being found
        self.pending = False
        self.cache: dict[tuple, tuple] = {}
        session.runner.busyChanged.connect(lambda busy: busy or QTimer.singleShot(0, self._start))
        session.modelChanged.connect(lambda _model: self.cache.clear())

    def beside(self, widget: QWidget) -> QHBoxLayout:
        """A row with `widget` and the toggle's button, for the Inspect tab."""
        row = QHBoxLayout()
        row.addWidget(widget, 1)
        row.addWidget(button(self.action, "nearestButton"))
        return row

    def _toggled(self, on: bool) -> None:
        if not on:
            if self.window is not None:
                self.window.hide()
            return
        if self.window is None:
            self.window = NearestPartWindow(self.panel.window())
            self.window.finished.connect(lambda _r: self.action.setChecked(False))
        self.window.show()
        self.window.raise_()
        self.follow()

    def follow(self, *_) -> None:
        """The Inspect tab shows another result: find its nearest taught part (when the window is open)."""
        if not self.action.isChecked() or self.window is None:
            return
        result, shown, model = self.panel.current, self.panel.shown, self.session.model
        if result is None or shown is None or model is None:
            self.key = None
            self.window.show_waiting("", "Inspect an image: its nearest taught OK part is shown here.")
            return
        path = shown[0]
        key = (path, model.model_id, model.version)
        if key == self.key:
            return
        self.key = key
        if key in self.cache:
            self.window.show_match(Path(path).name, shown[1], *self.cache[key])
            return
        self.window.show_waiting(Path(path).name, "Finding the nearest taught OK part…")
        self.pending = True
        self._start()

    def _start(self) -> None:
        # One job at a time, and an image stepped to while a job ran is inspected first.
        if not self.pending or self.session.runner.busy or self.panel.waiting or self.key is None:
            return
        shown, model = self.panel.shown, self.session.model
        if shown is None or model is None or (shown[0], model.model_id, model.version) != self.key:
            self.pending = False
            return
        self.pending = False
        key, (path, pixels) = self.key, shown
        pixels = pixels.view()
        pixels.flags.writeable = False

        def work(progress, cancel):
            found = inference.nearest_taught(model, pixels, name=Path(path).name)
            taught = None
            if found.available and found.file_state in ("ok", "changed"):
                try:
                    taught = inference.load_image(found.name)
                except inference.InspectorError:
                    found.file_state = "missing"
            return found, taught

        self.session.runner.start("finding the nearest taught part", work, lambda out: self._found(key, out),
                                  lambda exc: self._failed(key, exc))

    def _found(self, key, out) -> None:
        self.cache[key] = out
        if key == self.key and self.window is not None and self.panel.shown is not None:
            self.window.show_match(Path(key[0]).name, self.panel.shown[1], *out)

    def _failed(self, key, exc) -> None:
        if key == self.key and self.window is not None:
            self.window.show_waiting(Path(key[0]).name, f"The nearest taught part cannot be found: {describe(exc)}")
