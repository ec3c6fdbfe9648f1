"""A panel that draws a list of shapes over the part (ignore regions, inspection zones): its draw tools (rect,
circle, a ring for zones, polygon by clicks), the list, Remove and Clear all, each edit one undo step. Subclasses say which list of
the document it edits, what an entry is and how the list is shown."""

from __future__ import annotations

from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

import inference

from .. import messages
from ..roi_items import shape_from_drag
from .tool_buttons import tool_buttons


def describe(shape) -> str:
    if shape.kind == "rect":
        return f"rect {shape.w:.0f} x {shape.h:.0f} at ({shape.cx:.0f}, {shape.cy:.0f})"
    if shape.kind == "circle":
        return f"circle r {shape.r:.0f} at ({shape.cx:.0f}, {shape.cy:.0f})"
    if shape.kind == "annulus":  # a zone given on the command line: the window draws none
        return f"annulus r {shape.r_inner:.0f}-{shape.r_outer:.0f} at ({shape.cx:.0f}, {shape.cy:.0f})"
    return f"polygon, {len(shape.points)} corners"


class ShapeListPanel(QGroupBox):
    prefix = ""  # the draw tools' names start with it: "ignore_", "zone_"
    what = ""  # a message's title: "Ignore region", "Zone"
    tools: tuple = ()
    overlay_class = None
    hint = ""

    def __init__(self, title: str, doc, undo_stack, view, roi_panel, parent=None):
        super().__init__(title, parent)
        self.doc, self.undo_stack, self.view, self.roi_panel = doc, undo_stack, view, roi_panel
        self.siblings: list["ShapeListPanel"] = []  # the other shape panels: one draw tool is on at a time
        self.overlay = self.overlay_class(view.view_box, doc, undo_stack, self)
        self.tool_actions, self.actions, row = tool_buttons(self, self.tools, self._tool_toggled)
        self.close_button = QPushButton("Close polygon")
        self.close_button.setToolTip("Finish the polygon being clicked (or double-click its last corner); "
                                     "only while the Polygon tool is on")
        self.close_button.setEnabled(False)
        self.close_button.clicked.connect(view.view_box.finish_points)
        row.addWidget(self.close_button)
        self.list = self.make_list()
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip(f"Remove the selected {self.what.lower()} (undoable)")
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button = QPushButton("Clear all")
        self.clear_button.clicked.connect(lambda: self.push((), "clear"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.clear_button)
        hint = QLabel(self.hint)
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        layout.addWidget(hint)
        view.view_box.drawn.connect(self._drawn)
        view.view_box.polygonDrawn.connect(self._polygon_drawn)

    # -- what a subclass says ----------------------------------------------------------------------
    def make_list(self):
        raise NotImplementedError

    def current(self) -> tuple:
        raise NotImplementedError

    def push(self, entries, verb: str) -> None:
        raise NotImplementedError

    def entry(self, shape):
        """A new entry of the list for a shape just drawn."""
        return shape

    def selected_row(self) -> int:
        return self.list.currentRow()

    # -- drawing -----------------------------------------------------------------------------------
    def _tool_toggled(self) -> None:
        checked = self.tool_actions.checkedAction()
        tool = checked.data() if checked is not None else None
        self.close_button.setEnabled(tool == f"{self.prefix}polygon")
        if tool is not None:
            self.roi_panel.cancel_tool()
            for other in self.siblings:
                other.cancel_tool()
        self.view.set_tool(tool)
        for overlay in (self.overlay, self.roi_panel.overlay, *(other.overlay for other in self.siblings)):
            overlay.set_interactive(tool is None)

    def cancel_tool(self) -> None:
        checked = self.tool_actions.checkedAction()
        if checked is not None:
            checked.setChecked(False)

    def _add(self, shape) -> None:
        if self.doc.roi is not None:
            bx0, by0, bx1, by1 = self.doc.roi.bounds()
            x0, y0, x1, y1 = shape.bounds()
            if x1 <= bx0 or y1 <= by0 or x0 >= bx1 or y0 >= by1:
                messages.error(self, self.what, f"The {self.what.lower()} lies outside the ROI: draw it over the part.")
                return
        self.push(self.current() + (self.entry(shape),), "draw")

    def _drawn(self, tool: str, x0: float, y0: float, x1: float, y1: float) -> None:
        if not tool.startswith(self.prefix):
            return
        self.cancel_tool()
        shape = shape_from_drag(tool.removeprefix(self.prefix), x0, y0, x1, y1)
        if shape is not None:
            self._add(shape)

    def _polygon_drawn(self, tool: str, points) -> None:
        if not tool.startswith(self.prefix):
            return
        self.cancel_tool()
        try:
            shape = inference.Polygon(tuple(points))
        except inference.RoiError as exc:
            messages.error(self, self.what, exc)
            return
        self._add(shape)

    def remove_selected(self) -> None:
        row = self.selected_row()
        entries = list(self.current())
        if 0 <= row < len(entries):
            del entries[row]
            self.push(entries, "remove")

    def _enable(self) -> None:
        self.clear_button.setEnabled(bool(self.current()))
        self.remove_button.setEnabled(0 <= self.selected_row() < len(self.current()))
