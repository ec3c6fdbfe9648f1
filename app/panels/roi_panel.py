"""ROI tools (draw rect / circle / annulus, delete), numeric editing, and mm per pixel."""

from __future__ import annotations

import math
from typing import Optional

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QInputDialog, QLabel, QPushButton, QToolButton,
    QVBoxLayout, QWidget,
)

import inference

from .. import messages
from ..commands import SetMmPerPxCommand, push_roi
from ..roi_items import shape_from_drag
from .tool_buttons import tool_buttons

FIELDS = {
    "rect": ("cx", "cy", "w", "h", "angle_deg"),
    "circle": ("cx", "cy", "r"),
    "annulus": ("cx", "cy", "r_inner", "r_outer"),
}
LABELS = {"cx": "Centre x (px)", "cy": "Centre y (px)", "w": "Width (px)", "h": "Height (px)",
          "angle_deg": "Angle (°)", "r": "Radius (px)", "r_inner": "Inner radius (px)",
          "r_outer": "Outer radius (px)"}
TOOLS = (("rect", "Rectangle", "R", "Draw a rectangular ROI: drag on the image (R)"),
         ("circle", "Circle", "C", "Draw a circular ROI: drag from the centre outwards (C)"),
         ("annulus", "Annulus", "A", "Draw a ring ROI: drag from the centre to the outer radius (A)"),
         ("line", "Measure", "M", "Draw a line over a feature of known length to set mm per pixel (M)"))


def ask_length_mm(parent: QWidget, length_px: float) -> Optional[float]:
    value, ok = QInputDialog.getDouble(parent, "Known length", f"The line is {length_px:.1f} px long.\n"
                                       "Its real length in mm:", 1.0, 0.0001, 1e6, 4)
    return value if ok else None


class RoiPanel(QWidget):
    def __init__(self, doc, undo_stack, view, overlay, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc, self.undo_stack, self.view, self.overlay = doc, undo_stack, view, overlay
        self.tool_actions, self.actions, tools_row = tool_buttons(self, TOOLS, self._tool_toggled)
        self.delete_action = QAction("Delete ROI", self)
        self.delete_action.setShortcut(QKeySequence.StandardKey.Delete)
        self.delete_action.setToolTip("Remove the ROI: the whole image is inspected (Del)")
        self.delete_action.triggered.connect(self.delete_roi)
        delete_button = QToolButton()
        delete_button.setDefaultAction(self.delete_action)
        tools_row.addWidget(delete_button)

        self.kind_label = QLabel("No ROI: the whole image is used")
        self.form = QFormLayout()
        self.spins: dict[str, QDoubleSpinBox] = {}
        for name, label in LABELS.items():
            spin = QDoubleSpinBox()
            spin.setObjectName(f"roi_{name}")
            spin.setDecimals(1)
            spin.setRange(-360.0, 360.0) if name == "angle_deg" else spin.setRange(0.0, 100000.0)
            spin.setKeyboardTracking(False)
            spin.setToolTip(f"{label} of the ROI; press Enter to apply (undoable)")
            spin.editingFinished.connect(self._numeric_edit)
            self.spins[name] = spin
            self.form.addRow(label, spin)

        roi_box = QGroupBox("Region of interest")
        roi_layout = QVBoxLayout(roi_box)
        roi_layout.addLayout(tools_row)
        roi_layout.addWidget(self.kind_label)
        roi_layout.addLayout(self.form)

        self.mm_spin = QDoubleSpinBox()
        self.mm_spin.setObjectName("mmPerPx")
        self.mm_spin.setDecimals(6)
        self.mm_spin.setRange(0.0, 1000.0)
        self.mm_spin.setSingleStep(0.001)
        self.mm_spin.setSpecialValueText("unknown")
        self.mm_spin.setKeyboardTracking(False)
        self.mm_spin.setToolTip("Size of one pixel in mm (0 = unknown: areas are given in px only)")
        self.mm_spin.editingFinished.connect(self._mm_edited)
        measure = QPushButton("Measure…")
        measure.setToolTip("Draw a line over a feature of known length, then type its length in mm (M)")
        measure.clicked.connect(lambda: self.actions["line"].setChecked(True))
        scale_box = QGroupBox("Scale")
        scale_row = QHBoxLayout(scale_box)
        scale_row.addWidget(QLabel("mm per pixel"))
        scale_row.addWidget(self.mm_spin)
        scale_row.addWidget(measure)

        layout = QVBoxLayout(self)
        layout.addWidget(roi_box)
        layout.addWidget(scale_box)
        layout.addStretch(1)

        self.locked = False  # outside the Teach step: see set_locked
        doc.roiChanged.connect(self.show_roi)
        doc.mmPerPxChanged.connect(self.show_mm)
        view.view_box.drawn.connect(self._drawn)
        self.show_roi(doc.roi)
        self.show_mm(doc.mm_per_px)

    # -- tools ---------------------------------------------------------------------------------
    def _tool_toggled(self) -> None:
        checked = self.tool_actions.checkedAction()
        tool = checked.data() if checked is not None else None
        self.view.set_tool(tool)
        if tool == "line":
            # A length is measured along the part, often over the ROI: it stays in sight, without taking the drag.
            self.overlay.set_interactive(True)
            self.overlay.set_locked(True)
        else:
            self.overlay.set_locked(self.locked)
            self.overlay.set_interactive(tool is None)

    def cancel_tool(self) -> None:
        checked = self.tool_actions.checkedAction()
        if checked is not None:
            checked.setChecked(False)

    def _drawn(self, tool: str, x0: float, y0: float, x1: float, y1: float) -> None:
        if tool.startswith(("ignore_", "locate_", "zone_")):
            return  # an ignore region, a zone or the locate region: their panels
        self.cancel_tool()
        if tool == "line":
            length = math.hypot(x1 - x0, y1 - y0)
            if length < 1:
                messages.error(self, "Measure", "The line is shorter than one pixel: draw it over the whole feature.")
                return
            self.view.show_measure(x0, y0, x1, y1, f"{length:.1f} px")  # in sight while its length is asked
            mm = ask_length_mm(self, length)
            if mm is not None and mm > 0:
                self.view.show_measure(x0, y0, x1, y1, f"{length:.1f} px = {mm:g} mm")
                self.undo_stack.push(SetMmPerPxCommand(self.doc, self.doc.mm_per_px, mm / length))
            else:
                self.view.show_measure()
            return
        shape = shape_from_drag(tool, x0, y0, x1, y1)
        if shape is not None:
            push_roi(self.undo_stack, self.doc, shape, "draw")

    def set_locked(self, locked: bool) -> None:
        """Outside the Teach step the ROI is shown, not edited; a draw tool switches back to Teach."""
        for spin in self.spins.values():
            spin.setEnabled(not locked)
        self.locked = locked
        self.delete_action.setEnabled(not locked and self.doc.roi is not None)
        if locked:
            self.cancel_tool()  # a draw tool left on would draw over the image being reviewed

    def delete_roi(self) -> None:
        push_roi(self.undo_stack, self.doc, None, "delete")

    # -- numeric editing ------------------------------------------------------------------------
    def show_roi(self, roi) -> None:
        kind = roi.kind if roi is not None else None
        self.kind_label.setText(f"{kind.capitalize()} ROI" if kind else "No ROI: the whole image is used")
        visible = set(FIELDS.get(kind, ()))
        for name, spin in self.spins.items():
            self.form.setRowVisible(spin, name in visible)
            if name in visible:
                spin.blockSignals(True)
                spin.setValue(getattr(roi, name))
                spin.blockSignals(False)
        self.delete_action.setEnabled(roi is not None and not self.locked)

    def _numeric_edit(self) -> None:
        roi = self.doc.roi
        if roi is None:
            return
        values = {name: self.spins[name].value() for name in FIELDS[roi.kind]}
        if roi.kind == "annulus" and values["r_inner"] >= values["r_outer"]:
            messages.error(self, "ROI", f"The inner radius ({values['r_inner']:g}) must be smaller than the "
                           f"outer radius ({values['r_outer']:g}).")
            self.show_roi(roi)
            return
        try:
            shape = type(roi)(**values)
        except inference.RoiError as exc:
            messages.error(self, "ROI", exc)
            self.show_roi(roi)
            return
        push_roi(self.undo_stack, self.doc, shape, "edit")

    def show_mm(self, value) -> None:
        self.mm_spin.blockSignals(True)
        self.mm_spin.setValue(value or 0.0)
        self.mm_spin.blockSignals(False)

    def _mm_edited(self) -> None:
        value = self.mm_spin.value() or None
        current = self.doc.mm_per_px
        # The box shows a rounded value: leaving it untouched must not replace a measured scale.
        if value is not None and current is not None and abs(value - current) < 0.6 * 10 ** -self.mm_spin.decimals():
            return
        if value != current:
            self.undo_stack.push(SetMmPerPxCommand(self.doc, self.doc.mm_per_px, value))
