"""The image canvas: a row-major numpy image, the heatmap overlay, region outlines, drawing tools.

Zoom with the wheel, pan by dragging, fit with `fit()`. While a draw tool is
set, a left drag draws that shape (or a measuring line) instead of panning.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal

import inference

from .roi_items import ZONE_PEN

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)

COLORMAPS = tuple(inference.HEATMAP_COLORMAPS)  # the engine's colour maps, jet first
DRAW_TOOLS = ("rect", "circle", "annulus", "line", "ignore_rect", "ignore_circle", "ignore_polygon", "locate_rect",
              "zone_rect", "zone_circle", "zone_annulus", "zone_polygon")
# Click-by-click tools: each left click adds a point, a double click (or Enter) closes the shape.
CLICK_TOOLS = ("ignore_polygon", "zone_polygon")
PREVIEW_PEN = pg.mkPen((0, 220, 255), width=2, style=Qt.PenStyle.DashLine)
# Regions that made the part NG are drawn strongly; the others (below the area limit, or on an OK part) faintly.
REGION_PEN = pg.mkPen((255, 40, 40), width=3)
FAINT_REGION_PEN = pg.mkPen((255, 170, 170, 150), width=1, style=Qt.PenStyle.DashLine)
MEASURE_PEN = pg.mkPen((255, 230, 0), width=2)
LOCATED_PEN = pg.mkPen((0, 230, 120), width=2, style=Qt.PenStyle.DashDotLine)


def heat_scale(result: inference.InferenceResult, uncalibrated: Optional[float] = None) -> float:
    """The value drawn in the top colour: the engine's scale (2 x threshold); before calibration
    `uncalibrated` (see uncalibrated_scale) when known, else the map's own peak."""
    if not result.threshold and uncalibrated:
        return float(uncalibrated)
    return inference.heatmap_scale(result)


def uncalibrated_scale(model) -> Optional[float]:
    """The heatmap scale of a model without calibration: twice the highest score of its taught images (what
    good parts of the teaching capture score), so a good part is not drawn red because its map's own peak
    sets the scale. None without a model or taught scores."""
    if model is None or model.calibration is not None:
        return None
    taught = [s for s in model.record.taught_scores if math.isfinite(s) and s > 0]
    return 2.0 * max(taught) if taught else None


def region_outlines(result: inference.InferenceResult) -> list[tuple[int, np.ndarray]]:
    """(index into result.regions, closed outline as N x 2 image x, y) for each region the engine found:
    the view draws the result's regions as they are, it never thresholds the map itself."""
    return [(i, r.outline) for i, r in enumerate(result.regions) if r.outline is not None]


TAG_BRUSH = pg.mkBrush(0, 0, 0, 200)


def region_tag(i: int, bbox, image: Optional[np.ndarray]) -> pg.TextItem:
    """The "#n" label of a region: white on a dark box (readable on a red heatmap), above the region's box,
    or below it when the box touches the image's top; kept inside the image on the left and right."""
    x, y, w, h = bbox
    width = image.shape[1] if image is not None else None
    below = y < 24
    tag = pg.TextItem(f"#{i + 1}", color=(255, 255, 255), fill=TAG_BRUSH, border=pg.mkPen(255, 60, 60),
                      anchor=(0, 0) if below else (0, 1))
    tag.setPos(x if width is None else min(max(0, x), max(0, width - 24)), y + h if below else y)
    tag.setZValue(17)
    return tag


class CanvasViewBox(pg.ViewBox):
    drawn = Signal(str, float, float, float, float)  # tool, x0, y0, x1, y1 in image pixels
    polygonDrawn = Signal(str, object)  # tool, list of (x, y) in image pixels

    def __init__(self):
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self.tool: Optional[str] = None
        self.points: list[tuple[float, float]] = []  # a click tool's points so far
        self.preview = pg.PlotCurveItem(pen=PREVIEW_PEN)
        self.preview.setZValue(30)
        self.addItem(self.preview, ignoreBounds=True)

    def mouseClickEvent(self, ev):
        if self.tool not in CLICK_TOOLS or ev.button() != Qt.MouseButton.LeftButton:
            return super().mouseClickEvent(ev)
        ev.accept()
        p = self.mapSceneToView(ev.scenePos())
        self.points.append((p.x(), p.y()))
        if ev.double():
            self.finish_points()
            return
        xs, ys = zip(*(self.points + self.points[:1]))
        self.preview.setData(list(xs), list(ys))

    def finish_points(self) -> None:
        """Close the shape being clicked (double click or Enter); fewer than 3 distinct points draw nothing."""
        points = list(dict.fromkeys(self.points))
        self.points = []
        self.preview.setData([], [])
        if len(points) >= 3 and self.tool is not None:
            self.polygonDrawn.emit(self.tool, points)

    def mouseDragEvent(self, ev, axis=None):
        if self.tool in CLICK_TOOLS:
            return super().mouseDragEvent(ev, axis)
        if self.tool is None or ev.button() != Qt.MouseButton.LeftButton:
            return super().mouseDragEvent(ev, axis)
        ev.accept()
        start = self.mapSceneToView(ev.buttonDownScenePos())
        end = self.mapSceneToView(ev.scenePos())
        x0, y0, x1, y1 = start.x(), start.y(), end.x(), end.y()
        if ev.isFinish():
            self.preview.setData([], [])
            self.drawn.emit(self.tool, x0, y0, x1, y1)
        else:
            xs, ys = _preview_path(self.tool, x0, y0, x1, y1)
            self.preview.setData(xs, ys)


def _preview_path(tool: str, x0, y0, x1, y1):
    tool = tool.removeprefix("ignore_").removeprefix("locate_").removeprefix("zone_")
    if tool == "rect":
        return [x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0]
    if tool == "line":
        return [x0, x1], [y0, y1]
    r = math.hypot(x1 - x0, y1 - y0)
    t = np.linspace(0, 2 * np.pi, 73)
    xs, ys = list(x0 + r * np.cos(t)), list(y0 + r * np.sin(t))
    if tool == "annulus":
        xs += [np.nan] + list(x0 + r / 2 * np.cos(t))
        ys += [np.nan] + list(y0 + r / 2 * np.sin(t))
    return xs, ys


class ImageView(pg.GraphicsView):
    hovered = Signal(str)  # status text for the pixel under the cursor ("" outside the image)
    imageChanged = Signal()  # another image (or none) is shown

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("imageView")
        self.view_box = CanvasViewBox()
        self.setCentralItem(self.view_box)
        self.setBackground((30, 30, 30))
        self.image_item = pg.ImageItem()
        self.overlay_item = pg.ImageItem()
        self.overlay_item.setZValue(10)
        self.view_box.addItem(self.image_item)
        self.view_box.addItem(self.overlay_item)
        self.image: Optional[np.ndarray] = None
        self._last_shape: Optional[tuple] = None
        self.result: Optional[inference.InferenceResult] = None
        self.uncalibrated_scale: Optional[float] = None  # the scale before calibration (uncalibrated_scale)
        self.colormap = "jet"
        self.opacity = 0.5
        self.outline_items: list[pg.PlotCurveItem] = []
        self.located_item = pg.PlotCurveItem(pen=LOCATED_PEN)
        self.located_item.setZValue(16)
        self.located_item.setToolTip("Where the part was located: the ROI placed on it")
        self.view_box.addItem(self.located_item, ignoreBounds=True)
        self.located_zones_item = pg.PlotCurveItem(pen=ZONE_PEN)
        self.located_zones_item.setZValue(16)
        self.located_zones_item.setToolTip("The inspection zones where the part was located")
        self.view_box.addItem(self.located_zones_item, ignoreBounds=True)
        self.not_found_label = pg.TextItem("", color=(255, 170, 0), anchor=(0, 0))
        self.not_found_label.setZValue(40)
        self.view_box.addItem(self.not_found_label, ignoreBounds=True)
        # The last measured line (Measure…), until another tool or image.
        self.measure_item = pg.PlotCurveItem(pen=MEASURE_PEN)
        self.measure_item.setZValue(35)
        self.view_box.addItem(self.measure_item, ignoreBounds=True)
        self.measure_label = pg.TextItem("", color=(255, 255, 255), fill=pg.mkBrush(0, 0, 0, 170), anchor=(0.5, 1))
        self.measure_label.setZValue(36)
        self.measure_label.setVisible(False)  # an empty label still draws its dark box (at the image's corner)
        self.view_box.addItem(self.measure_label, ignoreBounds=True)
        self.scene().sigMouseMoved.connect(self._mouse_moved)
        self.setToolTip("Wheel: zoom; drag: pan (or draw, when a draw tool is active); F: fit to window")

    # -- content ------------------------------------------------------------------------
    def set_image(self, rgb: Optional[np.ndarray], fit: bool = True) -> None:
        """Show `rgb` (None: nothing). `fit`: fit it to the window when its size differs from the last image
        shown, so the zoom stays while stepping through images of one size, even across a blank."""
        same_size = rgb is not None and self._last_shape == rgb.shape
        self.image = rgb
        self.set_result(None)
        self.show_measure()
        if rgb is None:
            self.image_item.clear()
        else:
            self._last_shape = rgb.shape
            self.image_item.setImage(rgb, levels=(0, 255) if rgb.dtype == np.uint8 else None)
            if fit and not same_size:
                self.fit()
        self.imageChanged.emit()

    def set_result(self, result: Optional[inference.InferenceResult]) -> None:
        self.result = result
        for item in self.outline_items:
            self.view_box.removeItem(item)
        self.outline_items = []
        self._show_location(result)
        if result is None:
            self.overlay_item.clear()
            return
        self._draw_overlay()
        strong = set(result.ng_regions)
        labelled = set()
        for i, pts in region_outlines(result):
            item = pg.PlotCurveItem(pts[:, 0], pts[:, 1], pen=REGION_PEN if i in strong else FAINT_REGION_PEN)
            item.setZValue(16 if i in strong else 15)
            self.view_box.addItem(item)
            self.outline_items.append(item)
            if i in strong and i not in labelled:  # named as in the regions table and the reason line
                labelled.add(i)
                tag = region_tag(i, result.regions[i].bbox, self.image)
                self.view_box.addItem(tag)
                self.outline_items.append(tag)

    def mark_boxes(self, boxes) -> None:
        """Outline recorded regions (x, y, w, h) of a past inspection, as the regions that made it NG."""
        for x, y, w, h in boxes:
            item = pg.PlotCurveItem([x, x + w, x + w, x, x], [y, y, y + h, y + h, y], pen=REGION_PEN)
            item.setZValue(16)
            self.view_box.addItem(item)
            self.outline_items.append(item)

    def _show_location(self, result: Optional[inference.InferenceResult]) -> None:
        """The located part's outline; NOT_FOUND written on the image itself, where the operator looks."""
        outline = getattr(result, "outline", None)
        if outline is not None:
            # The ROI placed on the part, and the ignore regions where they moved with it (NaN breaks the line).
            parts = [outline] + [np.vstack([o, [[np.nan, np.nan]]]) for o in result.ignore_outlines]
            pts = np.vstack([np.vstack([q, [[np.nan, np.nan]]]) for q in parts])
            self.located_item.setData(pts[:, 0], pts[:, 1], connect="finite")
        else:
            self.located_item.setData([], [])
        zones = getattr(result, "zone_outlines", None) or []
        pts = np.vstack([np.vstack([z, [[np.nan, np.nan]]]) for z in zones]) if zones else np.zeros((0, 2))
        self.located_zones_item.setData(pts[:, 0], pts[:, 1], connect="finite")
        if result is not None and result.verdict == "NOT_FOUND":
            self.not_found_label.setHtml('<div style="background:#000a; color:#ffaa00; font-size:16pt; '
                                         'font-weight:bold; padding:4px">PART NOT FOUND</div>')
            self.not_found_label.setPos(0, 0)
        else:
            self.not_found_label.setHtml("")

    def _draw_overlay(self) -> None:
        r = self.result
        if r is None:
            return
        x0, y0, x1, y1 = r.box
        self.overlay_item.setImage(inference.heatmap_rgba(r, heat_scale(r, self.uncalibrated_scale),
                                                          colormap=self.colormap), levels=(0, 255))
        self.overlay_item.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.overlay_item.setOpacity(self.opacity)

    def set_masked(self, masked: Optional[np.ndarray], box=None) -> None:
        """A grey veil over what the model does not inspect (its foreground mask left it out: a bool mask over
        `box`, inference.foreground_overlay); None removes it."""
        if masked is None or box is None or not masked.any():
            if hasattr(self, "masked_item"):
                self.masked_item.clear()
            return
        if not hasattr(self, "masked_item"):
            self.masked_item = pg.ImageItem()
            self.masked_item.setZValue(11)
            self.view_box.addItem(self.masked_item)
        x0, y0, x1, y1 = box
        rgba = np.zeros(masked.shape + (4,), np.uint8)
        rgba[masked] = (96, 96, 96, 150)
        self.masked_item.setImage(rgba, levels=(0, 255))
        self.masked_item.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))

    def set_opacity(self, opacity: float) -> None:
        self.opacity = float(opacity)
        self.overlay_item.setOpacity(self.opacity)

    def set_colormap(self, name: str) -> None:
        self.colormap = name
        self._draw_overlay()

    # -- navigation -----------------------------------------------------------------------
    def fit(self) -> None:
        if self.image is not None:
            h, w = self.image.shape[:2]
            self.view_box.setRange(QRectF(0, 0, w, h), padding=0.02)

    def zoom_to(self, x: float, y: float, w: float, h: float) -> None:
        side = max(w, h, 16) * 2.5
        self.view_box.setRange(QRectF(x + w / 2 - side / 2, y + h / 2 - side / 2, side, side), padding=0)

    def show_measure(self, x0=None, y0=None, x1=None, y1=None, text: str = "") -> None:
        """Draw the measured line with its length (no arguments: remove it)."""
        if x0 is None:
            self.measure_item.setData([], [])
            self.measure_label.setText("")
            self.measure_label.setVisible(False)
            return
        self.measure_item.setData([x0, x1], [y0, y1])
        self.measure_label.setText(text)
        self.measure_label.setPos((x0 + x1) / 2, min(y0, y1))
        self.measure_label.setVisible(bool(text))

    def set_tool(self, tool: Optional[str]) -> None:
        if tool is not None:
            self.show_measure()
        self.view_box.points = []
        self.view_box.preview.setData([], [])
        self.view_box.tool = tool
        self.setCursor(Qt.CursorShape.CrossCursor if tool else Qt.CursorShape.ArrowCursor)

    # -- status ---------------------------------------------------------------------------
    def pixel_text(self, x: float, y: float) -> str:
        if self.image is None:
            return ""
        col, row = int(math.floor(x)), int(math.floor(y))
        h, w = self.image.shape[:2]
        if not (0 <= col < w and 0 <= row < h):
            return ""
        value = self.image[row, col]
        shown = ", ".join(str(int(v)) for v in np.atleast_1d(value))
        text = f"x {col}  y {row}   value ({shown})"
        r = self.result
        if r is not None:
            x0, y0, x1, y1 = r.box
            if x0 <= col < x1 and y0 <= row < y1 and r.mask[row - y0, col - x0]:
                text += f"   anomaly {r.anomaly_map[row - y0, col - x0]:.3f}"
        return text

    def leaveEvent(self, event) -> None:
        # The pixel readout describes the pixel under the cursor: none once the cursor is gone.
        self.hovered.emit("")
        super().leaveEvent(event)

    def _mouse_moved(self, scene_pos) -> None:
        p = self.view_box.mapSceneToView(scene_pos)
        self.hovered.emit(self.pixel_text(p.x(), p.y()))
