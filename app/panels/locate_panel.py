"""The locate region: where the part is looked for in the first OK image when the settings align."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout

from ..commands import push_locate_box
from ..roi_items import LocateOverlay, box_from_drag


class LocatePanel(QGroupBox):
    """Shown only when `align` is not none. Without a drawn region the engine uses the ROI's box grown by
    a margin (drawn dotted); drawing or dragging it makes it the project's own, undoable like the ROI."""

    def __init__(self, doc, undo_stack, view, roi_panel, shape_panels, parent=None):
        """`shape_panels`: the ignore-region and zone panels, whose draw tools this one's leaves and is left by."""
        super().__init__("Locate region", parent)
        self.setObjectName("locatePanel")
        self.doc, self.undo_stack, self.view = doc, undo_stack, view
        self.roi_panel, self.shape_panels = roi_panel, tuple(shape_panels)
        self.overlay = LocateOverlay(view, doc, undo_stack, self)
        self.draw_action = QAction("Draw", self)
        self.draw_action.setCheckable(True)
        self.draw_action.setShortcut(QKeySequence("Shift+L"))
        self.draw_action.setToolTip("Draw the region the part is looked for in: drag a box over the part and a "
                                    "margin around it, on the first OK image (Shift+L)")
        self.draw_action.toggled.connect(self._tool_toggled)
        draw_button = QToolButton()
        draw_button.setDefaultAction(self.draw_action)
        draw_button.setObjectName("tool_locate_rect")
        self.default_button = QPushButton("Default")
        self.default_button.setToolTip("Back to the default: the ROI's box grown by a margin (undoable)")
        self.default_button.clicked.connect(lambda: push_locate_box(self.undo_stack, self.doc, None, "reset"))
        row = QHBoxLayout()
        row.addWidget(draw_button)
        row.addWidget(self.default_button)
        row.addStretch(1)
        self.label = QLabel()
        self.label.setObjectName("locateLabel")
        self.label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.label)
        view.view_box.drawn.connect(self._drawn)
        view.imageChanged.connect(self.overlay.refresh)
        for signal in (doc.locateBoxChanged, doc.configChanged):
            signal.connect(self.show_state)
        # The other draw tools leave this one, and this one leaves them.
        for group in (roi_panel.tool_actions, *(panel.tool_actions for panel in self.shape_panels)):
            for action in group.actions():
                action.toggled.connect(self._other_tool)
        self.show_state()

    def _other_tool(self, on: bool) -> None:
        if on:
            self.cancel_tool()
        # While any draw tool is on, the region is hidden so that it does not take the drag.
        self.overlay.set_interactive(self.view.view_box.tool is None)

    def _tool_toggled(self, on: bool) -> None:
        if on:
            for panel in (self.roi_panel, *self.shape_panels):
                panel.cancel_tool()
            self.view.set_tool("locate_rect")
        elif self.view.view_box.tool == "locate_rect":
            self.view.set_tool(None)
        for overlay in (self.overlay, self.roi_panel.overlay, *(panel.overlay for panel in self.shape_panels)):
            overlay.set_interactive(not on)

    def cancel_tool(self) -> None:
        if self.draw_action.isChecked():
            self.draw_action.setChecked(False)

    def _drawn(self, tool: str, x0: float, y0: float, x1: float, y1: float) -> None:
        if tool != "locate_rect":
            return
        self.cancel_tool()
        box = box_from_drag(x0, y0, x1, y1)
        if box is not None:
            push_locate_box(self.undo_stack, self.doc, box, "draw")

    def set_locked(self, locked: bool) -> None:
        self.draw_action.setEnabled(not locked)
        self.default_button.setEnabled(not locked and self.doc.locate_box is not None)
        if locked:
            self.cancel_tool()
        self.overlay.set_locked(locked)

    def show_state(self, *_) -> None:
        aligns = self.doc.config.align != "none"
        self.setVisible(aligns)
        if not aligns:
            self.cancel_tool()
        box = self.doc.locate_box
        self.default_button.setEnabled(box is not None and self.draw_action.isEnabled())
        self.label.setText(f"x {box[0]}–{box[2]}, y {box[1]}–{box[3]} px" if box is not None
                           else "Default: the ROI's box grown by a margin (dotted). Draw or drag it to change it.")
