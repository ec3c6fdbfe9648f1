"""Ignore regions: draw rect / circle / polygon areas inside the ROI that inspection leaves out."""

from __future__ import annotations

from PySide6.QtWidgets import QListWidget

from ..commands import push_ignore
from ..roi_items import IgnoreOverlay
from .shape_list_panel import ShapeListPanel, describe

TOOLS = (("ignore_rect", "Rect", "Shift+R", "Draw a rectangle to ignore: drag on the image (Shift+R)"),
         ("ignore_circle", "Circle", "Shift+C", "Draw a circle to ignore: drag from the centre outwards (Shift+C)"),
         ("ignore_polygon", "Polygon", "Shift+P",
          "Draw a polygon to ignore: click its corners, double-click (or Close) to finish (Shift+P)"))


class IgnorePanel(ShapeListPanel):
    """Ignore regions are drawn on the reference image (the first OK image) and move with the located part."""

    prefix, what, tools, overlay_class = "ignore_", "Ignore region", TOOLS, IgnoreOverlay
    hint = ("Left out of the model, the score and the regions (labels, serial numbers, fixture edges). Drawn on "
            "the first OK image; they move with the located part.")

    def __init__(self, doc, undo_stack, view, roi_panel, parent=None):
        super().__init__("Ignore regions", doc, undo_stack, view, roi_panel, parent)
        self.setObjectName("ignorePanel")
        self.close_button.setObjectName("closePolygon")
        doc.ignoreChanged.connect(self.show_list)
        self.show_list(doc.ignore)

    def make_list(self) -> QListWidget:
        shown = QListWidget()
        shown.setObjectName("ignoreList")
        shown.setMaximumHeight(90)
        shown.itemSelectionChanged.connect(self._enable)
        return shown

    def current(self) -> tuple:
        return self.doc.ignore

    def push(self, entries, verb: str) -> None:
        push_ignore(self.undo_stack, self.doc, entries, verb)

    def show_list(self, shapes) -> None:
        self.list.clear()
        for i, shape in enumerate(shapes):
            self.list.addItem(f"{i + 1}. {describe(shape)}")
        self._enable()
