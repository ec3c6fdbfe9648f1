"""Ignore regions: draw rect / circle / polygon areas inside the ROI that inspection leaves out."""

from __future__ import annotations

from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QListWidget, QPushButton, QVBoxLayout

import inference

from .. import messages
from ..commands import push_ignore
from ..roi_items import IgnoreOverlay, ignore_shape_from_drag
from .tool_buttons import tool_buttons

TOOLS = (("ignore_rect", "Rect", "Shift+R", "Draw a rectangle to ignore: drag on the image (Shift+R)"),
         ("ignore_circle", "Circle", "Shift+C", "Draw a circle to ignore: drag from the centre outwards (Shift+C)"),
         ("ignore_polygon", "Polygon", "Shift+P",
          "Draw a polygon to ignore: click its corners, double-click (or Close) to finish (Shift+P)"))


def describe(shape) -> str:
    if shape.kind == "rect":
        return f"rect {shape.w:.0f} x {shape.h:.0f} at ({shape.cx:.0f}, {shape.cy:.0f})"
    if shape.kind == "circle":
        return f"circle r {shape.r:.0f} at ({shape.cx:.0f}, {shape.cy:.0f})"
    return f"polygon, {len(shape.points)} corners"


class IgnorePanel(QGroupBox):
    """Ignore regions are drawn on the reference image (the first OK image) and move with the located part."""

    def __init__(self, doc, undo_stack, view, roi_panel, parent=None):
        super().__init__("Ignore regions", parent)
        self.setObjectName("ignorePanel")
        self.doc, self.undo_stack, self.view, self.roi_panel = doc, undo_stack, view, roi_panel
        self.overlay = IgnoreOverlay(view.view_box, doc, undo_stack, self)
        self.tool_actions, self.actions, row = tool_buttons(self, TOOLS, self._tool_toggled)
        self.close_button = QPushButton("Close polygon")
        self.close_button.setObjectName("closePolygon")
        self.close_button.setToolTip("Finish the polygon being clicked (or double-click its last corner); "
                                     "only while the Polygon tool is on")
        self.close_button.setEnabled(False)
        self.close_button.clicked.connect(view.view_box.finish_points)
        row.addWidget(self.close_button)
        self.list = QListWidget()
        self.list.setObjectName("ignoreList")
        self.list.setMaximumHeight(90)
        self.list.itemSelectionChanged.connect(self._enable)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected ignore region (undoable)")
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button = QPushButton("Clear all")
        self.clear_button.clicked.connect(lambda: push_ignore(self.undo_stack, self.doc, (), "clear"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.clear_button)
        hint = QLabel("Left out of the model, the score and the regions (labels, serial numbers, fixture "
                      "edges). Drawn on the first OK image; they move with the located part.")
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        layout.addWidget(hint)
        view.view_box.drawn.connect(self._drawn)
        view.view_box.polygonDrawn.connect(self._polygon_drawn)
        doc.ignoreChanged.connect(self.show_list)
        self.show_list(doc.ignore)

    def _tool_toggled(self) -> None:
        checked = self.tool_actions.checkedAction()
        tool = checked.data() if checked is not None else None
        self.close_button.setEnabled(tool == "ignore_polygon")
        if tool is not None:
            self.roi_panel.cancel_tool()
        self.view.set_tool(tool)
        self.overlay.set_interactive(tool is None)
        self.roi_panel.overlay.set_interactive(tool is None)

    def cancel_tool(self) -> None:
        checked = self.tool_actions.checkedAction()
        if checked is not None:
            checked.setChecked(False)

    def _add(self, shape) -> None:
        if self.doc.roi is not None:
            bx0, by0, bx1, by1 = self.doc.roi.bounds()
            x0, y0, x1, y1 = shape.bounds()
            if x1 <= bx0 or y1 <= by0 or x0 >= bx1 or y0 >= by1:
                messages.error(self, "Ignore region", "The region lies outside the ROI: draw it over the part.")
                return
        push_ignore(self.undo_stack, self.doc, self.doc.ignore + (shape,), "draw")

    def _drawn(self, tool: str, x0: float, y0: float, x1: float, y1: float) -> None:
        if not tool.startswith("ignore_"):
            return
        self.cancel_tool()
        shape = ignore_shape_from_drag(tool, x0, y0, x1, y1)
        if shape is not None:
            self._add(shape)

    def _polygon_drawn(self, tool: str, points) -> None:
        self.cancel_tool()
        try:
            shape = inference.Polygon(tuple(points))
        except inference.RoiError as exc:
            messages.error(self, "Ignore region", exc)
            return
        self._add(shape)

    def remove_selected(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self.doc.ignore):
            shapes = list(self.doc.ignore)
            del shapes[row]
            push_ignore(self.undo_stack, self.doc, shapes, "remove")

    def show_list(self, shapes) -> None:
        self.list.clear()
        for i, shape in enumerate(shapes):
            self.list.addItem(f"{i + 1}. {describe(shape)}")
        self.clear_button.setEnabled(bool(shapes))
        self._enable()

    def _enable(self) -> None:
        self.remove_button.setEnabled(bool(self.list.selectedItems()))
