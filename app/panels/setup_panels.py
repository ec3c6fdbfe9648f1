"""The Setup dock: the ROI, ignore regions, inspection zones and the locate region, one above the other in a
scroll area (on a 768 px screen they are taller than the window), their draw tools taking turns."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QScrollArea

from .ignore_panel import IgnorePanel
from .locate_panel import LocatePanel
from .roi_panel import RoiPanel
from .zones_panel import ZonesPanel


def setup_panels(doc, undo_stack, view, overlay):
    """(roi_panel, ignore_panel, zones_panel, locate_panel, the scroll area that holds them all)."""
    roi_panel = RoiPanel(doc, undo_stack, view, overlay)
    ignore_panel = IgnorePanel(doc, undo_stack, view, roi_panel)
    zones_panel = ZonesPanel(doc, undo_stack, view, roi_panel)
    ignore_panel.siblings, zones_panel.siblings = [zones_panel], [ignore_panel]
    locate_panel = LocatePanel(doc, undo_stack, view, roi_panel, (ignore_panel, zones_panel))
    for i, panel in enumerate((ignore_panel, zones_panel, locate_panel)):
        roi_panel.layout().insertWidget(1 + i, panel)
    scroll = QScrollArea()
    scroll.setObjectName("setupScroll")
    scroll.setWidget(roi_panel)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    # As wide as the panels need beside the vertical bar: the dock is never narrower than its content.
    scroll.setMinimumWidth(roi_panel.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
    return roi_panel, ignore_panel, zones_panel, locate_panel, scroll
