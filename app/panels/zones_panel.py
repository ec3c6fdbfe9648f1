"""Inspection zones: parts of the ROI with their own minimum defect area (a sealing face where any mark is a
reject, a cosmetic face where only a large one is), drawn as ignore regions are and used by the next calibration."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

import inference

from .. import messages
from ..commands import push_zones
from ..roi_items import ZonesOverlay
from .shape_list_panel import ShapeListPanel, describe

TOOLS = (("zone_rect", "Rect", "", "Draw a rectangular zone: drag on the image"),
         ("zone_circle", "Circle", "", "Draw a circular zone: drag from the centre outwards"),
         ("zone_annulus", "Ring", "", "Draw a ring (a sealing face, a rim): drag from the centre outwards; its "
          "inner edge starts at half the radius, drag its handle to set it"),
         ("zone_polygon", "Polygon", "", "Draw a zone by its corners: click them, double-click (or Close) to finish"))
NAME, AREA, SHAPE = range(3)


class ZonesPanel(ShapeListPanel):
    """The zones the document holds, in a table whose names and minimum areas are edited in place (undoable)."""

    prefix, what, tools, overlay_class = "zone_", "Zone", TOOLS, ZonesOverlay
    hint = ("Parts of the ROI with their own minimum defect area: a region there counts against that zone's "
            "area (a sealing face: 0, any mark; a cosmetic face: a large one); the minimum area of Calibrate holds "
            "elsewhere. Calibrate to use them; they move with the located part.")

    def __init__(self, doc, undo_stack, view, roi_panel, parent=None):
        super().__init__("Inspection zones", doc, undo_stack, view, roi_panel, parent)
        self.setObjectName("zonesPanel")
        self.close_button.setObjectName("closeZonePolygon")
        doc.zonesChanged.connect(self.show_list)
        doc.mmPerPxChanged.connect(lambda _mm: self.show_list(doc.zones))
        self.show_list(doc.zones)

    def make_list(self) -> QTableWidget:
        table = QTableWidget(0, 3)
        table.setObjectName("zonesTable")
        table.setMaximumHeight(120)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(SHAPE, QHeaderView.ResizeMode.Stretch)
        table.setToolTip("Double-click a name or a minimum area to change it")
        table.itemSelectionChanged.connect(self._enable)
        table.itemChanged.connect(self._cell_edited)
        return table

    def current(self) -> tuple:
        return self.doc.zones

    def push(self, entries, verb: str) -> None:
        push_zones(self.undo_stack, self.doc, entries, verb)

    def entry(self, shape) -> inference.Zone:
        taken = {z.name for z in self.doc.zones}
        name = next(f"zone {k}" for k in range(1, len(taken) + 2) if f"zone {k}" not in taken)
        return inference.Zone(name, shape, float(self.doc.config.min_area))

    def show_list(self, zones) -> None:
        unit = "mm²" if self.doc.mm_per_px else "px"
        self.list.blockSignals(True)
        try:
            self.list.setHorizontalHeaderLabels(["Name", f"Min. area ({unit})", "Shape"])
            self.list.setRowCount(len(zones))
            for row, zone in enumerate(zones):
                shape = QTableWidgetItem(describe(zone.shape))
                shape.setFlags(shape.flags() & ~Qt.ItemFlag.ItemIsEditable)
                for column, item in ((NAME, QTableWidgetItem(zone.name)),
                                     (AREA, QTableWidgetItem(f"{zone.min_area:g}")), (SHAPE, shape)):
                    self.list.setItem(row, column, item)
        finally:
            self.list.blockSignals(False)
        self._enable()

    def _cell_edited(self, item: QTableWidgetItem) -> None:
        """A name or a minimum area typed in: checked as a calibration checks zones, else refused and shown back."""
        zones = list(self.doc.zones)
        row, text = item.row(), item.text().strip()
        if not 0 <= row < len(zones):
            return
        listed = inference.zones_to_list(zones)
        try:
            if item.column() == NAME:
                listed[row]["name"] = text
            else:
                listed[row]["min_area"] = float(text.replace(",", "."))
            edited = inference.zones_from_list(listed)
        except (ValueError, inference.InspectorError) as exc:
            shown = f"the minimum area must be a number >= 0, got {text!r}" if isinstance(exc, ValueError) else exc
            messages.error(self, self.what, shown)
            self.show_list(self.doc.zones)
            return
        self.push(edited, "edit")
