"""pyqtgraph items that draw and edit inference.roi shapes; the shapes themselves stay plain data.

Each item converts to and from its shape (`to_shape`, `set_shape`). RoiOverlay
keeps one item in the view in step with the document and turns a finished
drag into one undo command.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Optional

import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, Qt
from PySide6.QtGui import QPainterPath

import inference

from .commands import push_ignore, push_locate_box, push_roi, push_zones

ROI_PEN = pg.mkPen((255, 200, 0), width=2)
HOVER_PEN = pg.mkPen((255, 255, 120), width=2)
MIN_SIZE = 2.0  # px: smaller shapes are clamped rather than refused mid-drag
MAX_INNER_FRACTION = 0.98  # keeps the annulus' inner radius strictly below the outer one


# -- geometry between shapes and pyqtgraph state (pure) ---------------------------------
def rect_state(r: inference.Rect) -> tuple[tuple[float, float], tuple[float, float], float]:
    """(pos, size, angle) of a pg.ROI: pos is the rotated top-left corner, rotation is about pos."""
    a = math.radians(r.angle_deg)
    px = r.cx - (r.w / 2) * math.cos(a) + (r.h / 2) * math.sin(a)
    py = r.cy - (r.w / 2) * math.sin(a) - (r.h / 2) * math.cos(a)
    return (px, py), (r.w, r.h), r.angle_deg


def rect_from_state(pos, size, angle_deg: float) -> inference.Rect:
    a = math.radians(angle_deg)
    w, h = max(float(size[0]), MIN_SIZE), max(float(size[1]), MIN_SIZE)
    cx = pos[0] + (w / 2) * math.cos(a) - (h / 2) * math.sin(a)
    cy = pos[1] + (w / 2) * math.sin(a) + (h / 2) * math.cos(a)
    angle = (angle_deg + 180.0) % 360.0 - 180.0
    return inference.Rect(cx, cy, w, h, angle)


def shape_from_drag(kind: str, x0: float, y0: float, x1: float, y1: float) -> Optional[inference.Roi]:
    """The shape a mouse drag from (x0, y0) to (x1, y1) draws, or None when it is too small."""
    if kind == "rect":
        w, h = abs(x1 - x0), abs(y1 - y0)
        if w < MIN_SIZE or h < MIN_SIZE:
            return None
        return inference.Rect((x0 + x1) / 2, (y0 + y1) / 2, w, h, 0.0)
    r = math.hypot(x1 - x0, y1 - y0)
    if r < MIN_SIZE:
        return None
    if kind == "circle":
        return inference.Circle(x0, y0, r)
    if kind == "annulus":
        return inference.Annulus(x0, y0, r / 2, r)
    raise ValueError(f"unknown ROI kind {kind!r}")


# -- items -------------------------------------------------------------------------------
class RectItem(pg.ROI):
    def __init__(self, shape: inference.Rect):
        pos, size, angle = rect_state(shape)
        super().__init__(pos, size, angle=angle, pen=ROI_PEN, hoverPen=HOVER_PEN, movable=True,
                         rotatable=True, resizable=True)
        for corner, opposite in (((1, 1), (0, 0)), ((0, 0), (1, 1)), ((1, 0), (0, 1)), ((0, 1), (1, 0))):
            self.addScaleHandle(corner, opposite)
        self.addScaleHandle((1, 0.5), (0, 0.5))
        self.addScaleHandle((0.5, 1), (0.5, 0))
        self.addRotateHandle((0.5, -0.15), (0.5, 0.5))

    def to_shape(self) -> inference.Rect:
        return rect_from_state(self.pos(), self.size(), self.angle())

    def set_shape(self, shape: inference.Rect) -> None:
        pos, size, angle = rect_state(shape)
        self.setPos(pos, update=False)
        self.setSize(size, update=False)
        self.setAngle(angle, update=False)
        self.stateChanged(finish=False)


class CircleItem(pg.CircleROI):
    def __init__(self, shape: inference.Circle):
        super().__init__((shape.cx - shape.r, shape.cy - shape.r), (2 * shape.r, 2 * shape.r), pen=ROI_PEN,
                         hoverPen=HOVER_PEN, rotatable=False)

    def to_shape(self) -> inference.Circle:
        d = max(float(self.size()[0]), 2 * MIN_SIZE)
        return inference.Circle(self.pos()[0] + d / 2, self.pos()[1] + d / 2, d / 2)

    def set_shape(self, shape: inference.Circle) -> None:
        self.setPos((shape.cx - shape.r, shape.cy - shape.r), update=False)
        self.setSize((2 * shape.r, 2 * shape.r), update=False)
        self.stateChanged(finish=False)


class AnnulusItem(pg.ROI):
    """A ring: the outer handle scales it about its centre, the inner handle sets the inner radius.

    The inner radius is kept as a fraction of the outer one, so scaling keeps the
    ring's proportions and the inner radius can never reach the outer one.
    """

    def __init__(self, shape: inference.Annulus):
        d = 2 * shape.r_outer
        super().__init__((shape.cx - shape.r_outer, shape.cy - shape.r_outer), (d, d), pen=ROI_PEN,
                         hoverPen=HOVER_PEN, rotatable=False, aspectLocked=True)
        self.inner_fraction = shape.r_inner / shape.r_outer
        # Diagonal, as in pg.CircleROI: an aspect-locked ROI scales by the handle's y offset.
        diagonal = 0.5 + 0.5 * 2 ** -0.5
        self.outer_handle = self.addScaleHandle((diagonal, diagonal), (0.5, 0.5), lockAspect=True)
        self.inner_handle = self.addFreeHandle((0.5 + 0.5 * self.inner_fraction, 0.5))
        self._place_inner_handle()

    def _place_inner_handle(self) -> None:
        for h in self.handles:
            if h["item"] is self.inner_handle:
                h["pos"] = pg.Point(0.5 + 0.5 * self.inner_fraction, 0.5)
                self.inner_handle.setPos(h["pos"] * self.state["size"])

    def movePoint(self, handle, pos, modifiers=None, finish=True, coords="parent"):
        if handle is not self.inner_handle:
            return super().movePoint(handle, pos, modifiers, finish, coords)
        p = self.mapSceneToParent(pos) if coords == "scene" else pg.Point(pos)
        r_outer = self.state["size"][0] / 2
        centre = self.mapToParent(pg.Point(r_outer, r_outer))
        r = math.hypot(p.x() - centre.x(), p.y() - centre.y())
        self.inner_fraction = min(max(r / r_outer, 0.0), MAX_INNER_FRACTION)
        self._place_inner_handle()
        self.freeHandleMoved = True
        self.update()
        self.stateChanged(finish=finish)

    def to_shape(self) -> inference.Annulus:
        d = max(float(self.size()[0]), 2 * MIN_SIZE)
        r_outer = d / 2
        return inference.Annulus(self.pos()[0] + r_outer, self.pos()[1] + r_outer, r_outer * self.inner_fraction,
                                 r_outer)

    def set_shape(self, shape: inference.Annulus) -> None:
        d = 2 * shape.r_outer
        self.inner_fraction = shape.r_inner / shape.r_outer
        self.setPos((shape.cx - shape.r_outer, shape.cy - shape.r_outer), update=False)
        self.setSize((d, d), update=False)
        self._place_inner_handle()
        self.update()
        self.stateChanged(finish=False)

    def paint(self, p, opt, widget):
        d = self.state["size"][0]
        p.setRenderHint(p.RenderHint.Antialiasing)
        p.setPen(self.currentPen)
        p.drawEllipse(QRectF(0, 0, d, d))
        ri = d / 2 * self.inner_fraction
        if ri > 0:
            p.drawEllipse(QRectF(d / 2 - ri, d / 2 - ri, 2 * ri, 2 * ri))

    def shape(self):
        d = self.state["size"][0]
        ri = d / 2 * self.inner_fraction
        path = QPainterPath()
        path.addEllipse(QRectF(0, 0, d, d))
        inner = QPainterPath()
        inner.addEllipse(QRectF(d / 2 - ri, d / 2 - ri, 2 * ri, 2 * ri))
        return path.subtracted(inner) if ri > 0 else path

    def boundingRect(self):
        return QRectF(0, 0, self.state["size"][0], self.state["size"][1])


class PolygonItem(pg.PolyLineROI):
    """A closed polygon (ignore regions): drag a corner to move it, drag the inside to move it all."""

    def __init__(self, shape: inference.Polygon, pen=None, hover_pen=None):
        super().__init__([list(p) for p in shape.points], closed=True, pen=pen or ROI_PEN,
                         hoverPen=hover_pen or HOVER_PEN, movable=True)

    def to_shape(self) -> inference.Polygon:
        pts = [self.mapToParent(h["item"].pos()) for h in self.handles]
        return inference.Polygon(tuple((p.x(), p.y()) for p in pts))

    def set_shape(self, shape: inference.Polygon) -> None:
        self.setPos((0, 0), update=False)
        self.setPoints([list(p) for p in shape.points], closed=True)


ITEM_TYPES = {"rect": RectItem, "circle": CircleItem, "annulus": AnnulusItem, "polygon": PolygonItem}


def make_item(shape: inference.Roi) -> pg.ROI:
    return ITEM_TYPES[shape.kind](shape)


def ignore_shape_from_drag(tool: str, x0: float, y0: float, x1: float, y1: float):
    """The ignore region an `ignore_rect` / `ignore_circle` drag draws, or None when it is too small."""
    return shape_from_drag(tool.removeprefix("ignore_"), x0, y0, x1, y1)


class RoiOverlay(QObject):
    """Keeps the view's ROI item in step with the document; a finished drag becomes one undo step."""

    def __init__(self, view_box: pg.ViewBox, doc, undo_stack, parent: QObject | None = None):
        super().__init__(parent)
        self.view_box, self.doc, self.undo_stack = view_box, doc, undo_stack
        self.item: Optional[pg.ROI] = None
        self._syncing = False
        self.locked = False
        doc.roiChanged.connect(self.show_shape)

    def show_shape(self, shape: Optional[inference.Roi]) -> None:
        if self.item is not None and shape is not None and type(self.item) is ITEM_TYPES[shape.kind]:
            if self.item.to_shape() != shape:
                self._syncing = True
                try:
                    self.item.set_shape(shape)
                finally:
                    self._syncing = False
            return
        if self.item is not None:
            self.view_box.removeItem(self.item)
            self.item = None
        if shape is not None:
            self.item = make_item(shape)
            self.item.setZValue(20)
            self.item.setToolTip("ROI: drag to move, drag the handles to resize"
                                 + (" or rotate" if shape.kind == "rect" else "")
                                 + "; Delete removes it")
            self.item.sigRegionChangeFinished.connect(self._drag_finished)
            self.view_box.addItem(self.item)
            self._apply_lock()

    def _drag_finished(self, item) -> None:
        if self._syncing or item is not self.item:
            return
        try:
            shape = item.to_shape()
        except inference.RoiError:
            self.show_shape(self.doc.roi)  # snap back: the drag made no valid shape
            return
        push_roi(self.undo_stack, self.doc, shape, "edit")

    def set_interactive(self, on: bool) -> None:
        """Drawing a new shape must not grab the existing one: hide it while a draw tool is active."""
        if self.item is not None:
            self.item.setVisible(on)

    def set_locked(self, locked: bool) -> None:
        """Locked (reviewing): the shape is drawn but takes no mouse input, so a drag pans the image."""
        self.locked = locked
        self._apply_lock()

    def _apply_lock(self) -> None:
        item = self.item
        if item is None:
            return
        item.translatable = not self.locked
        item.setAcceptedMouseButtons(Qt.MouseButton.NoButton if self.locked else Qt.MouseButton.LeftButton)
        item.setAcceptHoverEvents(not self.locked)
        for handle in item.getHandles():
            handle.setVisible(not self.locked)
        item.setToolTip("ROI (locked while inspecting: edit it in the Teach step)" if self.locked
                        else "ROI: drag to move, drag the handles to resize; Delete removes it")

IGNORE_PEN = pg.mkPen((255, 0, 255), width=2, style=Qt.PenStyle.DashLine)
IGNORE_HOVER_PEN = pg.mkPen((255, 140, 255), width=2)


class ShapeListOverlay(QObject):
    """One editable item per shape of a list the document holds (ignore regions, inspection zones), in step with
    it; a finished drag is one undo step. Subclasses say which list, how it is drawn and how an edit is pushed."""

    pen, hover_pen = IGNORE_PEN, IGNORE_HOVER_PEN

    def __init__(self, view_box: pg.ViewBox, doc, undo_stack, parent: QObject | None = None):
        super().__init__(parent)
        self.view_box, self.doc, self.undo_stack = view_box, doc, undo_stack
        self.items: list[pg.ROI] = []

    def current(self) -> tuple:
        raise NotImplementedError

    def shape_of(self, entry):
        return entry

    def tip(self, index: int, entry) -> str:
        raise NotImplementedError

    def edited(self, index: int, shape) -> None:
        raise NotImplementedError

    def show_shapes(self, entries) -> None:
        for item in self.items:
            self.view_box.removeItem(item)
        self.items = []
        for i, entry in enumerate(entries):
            shape = self.shape_of(entry)
            if shape.kind == "polygon":
                item = PolygonItem(shape, self.pen, self.hover_pen)
            else:
                item = make_item(shape)
                item.setPen(self.pen)
                item.hoverPen = self.hover_pen
            item.setZValue(21)  # above the ROI item: these lie inside it
            item.setToolTip(self.tip(i, entry))
            item.sigRegionChangeFinished.connect(lambda it, index=i: self._drag_finished(index, it))
            self.view_box.addItem(item)
            self.items.append(item)

    def _drag_finished(self, index: int, item) -> None:
        if index >= len(self.items) or item is not self.items[index]:
            return
        try:
            shape = item.to_shape()
        except inference.RoiError:
            self.show_shapes(self.current())  # snap back: the drag made no valid shape
            return
        self.edited(index, shape)

    def set_interactive(self, on: bool) -> None:
        for item in self.items:
            item.setVisible(on)


class IgnoreOverlay(ShapeListOverlay):
    def __init__(self, view_box: pg.ViewBox, doc, undo_stack, parent: QObject | None = None):
        super().__init__(view_box, doc, undo_stack, parent)
        doc.ignoreChanged.connect(self.show_shapes)

    def current(self) -> tuple:
        return self.doc.ignore

    def tip(self, index: int, entry) -> str:
        return f"Ignore region {index + 1}: left out of the model, the score and the regions; drag to move or reshape"

    def edited(self, index: int, shape) -> None:
        shapes = list(self.doc.ignore)
        shapes[index] = shape
        push_ignore(self.undo_stack, self.doc, shapes, "edit")


ZONE_PEN = pg.mkPen((60, 140, 255), width=2, style=Qt.PenStyle.DashDotLine)
ZONE_HOVER_PEN = pg.mkPen((140, 190, 255), width=2)


class ZonesOverlay(ShapeListOverlay):
    """Inspection zones (each with its own minimum area), drawn on the reference image as ignore regions are."""

    pen, hover_pen = ZONE_PEN, ZONE_HOVER_PEN

    def __init__(self, view_box: pg.ViewBox, doc, undo_stack, parent: QObject | None = None):
        super().__init__(view_box, doc, undo_stack, parent)
        doc.zonesChanged.connect(self.show_shapes)

    def current(self) -> tuple:
        return self.doc.zones

    def shape_of(self, entry):
        return entry.shape

    def tip(self, index: int, entry) -> str:
        return (f"Zone {entry.name!r}: regions here are weighed against its minimum area {entry.min_area:g}; "
                "drag to move or reshape")

    def edited(self, index: int, shape) -> None:
        zones = list(self.doc.zones)
        zones[index] = replace(zones[index], shape=shape)
        push_zones(self.undo_stack, self.doc, zones, "edit")


LOCATE_PEN = pg.mkPen((0, 200, 255), width=2, style=Qt.PenStyle.DashLine)
LOCATE_DEFAULT_PEN = pg.mkPen((0, 200, 255, 150), width=1, style=Qt.PenStyle.DotLine)
LOCATE_HOVER_PEN = pg.mkPen((120, 230, 255), width=2)


def box_from_drag(x0: float, y0: float, x1: float, y1: float) -> Optional[tuple[int, int, int, int]]:
    """The locate region a drag draws (whole pixels), or None when it is too small to hold a part."""
    box = (round(min(x0, x1)), round(min(y0, y1)), round(max(x0, x1)), round(max(y0, y1)))
    return box if box[2] - box[0] >= 16 and box[3] - box[1] >= 16 else None


class LocateBoxItem(pg.ROI):
    """The locate region: an upright box, moved and resized by its corners and sides."""

    def __init__(self, box: tuple[int, int, int, int]):
        x0, y0, x1, y1 = box
        super().__init__((x0, y0), (x1 - x0, y1 - y0), pen=LOCATE_PEN, hoverPen=LOCATE_HOVER_PEN, movable=True,
                         rotatable=False, resizable=True)
        for corner, opposite in (((1, 1), (0, 0)), ((0, 0), (1, 1)), ((1, 0), (0, 1)), ((0, 1), (1, 0))):
            self.addScaleHandle(corner, opposite)

    def to_box(self) -> tuple[int, int, int, int]:
        (x, y), (w, h) = self.pos(), self.size()
        return round(x), round(y), round(x + w), round(y + h)

    def set_box(self, box: tuple[int, int, int, int]) -> None:
        x0, y0, x1, y1 = box
        self.setPos((x0, y0), update=False)
        self.setSize((x1 - x0, y1 - y0), update=False)
        self.stateChanged(finish=False)


class LocateOverlay(QObject):
    """The locate region, drawn only when the settings align: the drawn box, or the default (the ROI's box
    grown by a margin, dotted) until the user moves it; a finished drag is one undo step."""

    def __init__(self, view, doc, undo_stack, parent: QObject | None = None):
        super().__init__(parent)
        self.view, self.doc, self.undo_stack = view, doc, undo_stack
        self.item: Optional[LocateBoxItem] = None
        self.visible = True
        self.locked = False
        for signal in (doc.locateBoxChanged, doc.roiChanged, doc.configChanged):
            signal.connect(self.refresh)

    def shown_box(self) -> Optional[tuple[int, int, int, int]]:
        """The region the next fit looks for the part in, or None when the settings do not align."""
        if self.doc.config.align == "none":
            return None
        if self.doc.locate_box is not None:
            return self.doc.locate_box
        image = self.view.image
        if image is None:
            return None
        h, w = image.shape[:2]
        roi = self.doc.roi if self.doc.roi is not None else inference.full_image_roi(w, h)
        return inference.default_locate_box(roi, w, h)

    def refresh(self, *_) -> None:
        box = self.shown_box()
        if box is None:
            if self.item is not None:
                self.view.view_box.removeItem(self.item)
                self.item = None
            return
        if self.item is None:
            self.item = LocateBoxItem(box)
            self.item.setZValue(19)  # under the ROI: the ROI is edited more often
            self.item.sigRegionChangeFinished.connect(self._drag_finished)
            self.view.view_box.addItem(self.item)
        elif self.item.to_box() != box:
            self._syncing = True
            try:
                self.item.set_box(box)
            finally:
                self._syncing = False
        drawn = self.doc.locate_box is not None
        self.item.setPen(LOCATE_PEN if drawn else LOCATE_DEFAULT_PEN)
        self.item.setToolTip("Locate region: where the part is looked for in the first OK image"
                             + ("" if drawn else " (default: the ROI's box grown by a margin)")
                             + ("; edit it in the Teach step" if self.locked else "; drag to move or resize"))
        self.item.setVisible(self.visible)
        self._apply_lock()

    _syncing = False

    def _drag_finished(self, item) -> None:
        if self._syncing or item is not self.item:
            return
        box = item.to_box()
        if box[2] - box[0] < 16 or box[3] - box[1] < 16:
            self.refresh()  # snap back: too small to hold a part
            return
        push_locate_box(self.undo_stack, self.doc, box, "edit")

    def set_interactive(self, on: bool) -> None:
        self.visible = on
        if self.item is not None:
            self.item.setVisible(on)

    def set_locked(self, locked: bool) -> None:
        self.locked = locked
        self.refresh()

    def _apply_lock(self) -> None:
        item = self.item
        item.translatable = not self.locked
        item.setAcceptedMouseButtons(Qt.MouseButton.NoButton if self.locked else Qt.MouseButton.LeftButton)
        item.setAcceptHoverEvents(not self.locked)
        for handle in item.getHandles():
            handle.setVisible(not self.locked)
