"""Mouse drags on the image view in image-pixel coordinates, as a user would make them."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest


def to_widget(view, x: float, y: float):
    scene = view.view_box.mapViewToScene(QPointF(x, y))
    return view.mapFromScene(scene)


def drag(qtbot, view, start, end, steps: int = 6) -> None:
    """Press at `start`, move in steps, release at `end` (image pixel coordinates)."""
    viewport = view.viewport()
    p0 = to_widget(view, *start)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p0)
    for i in range(1, steps + 1):
        t = i / steps
        p = to_widget(view, start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t)
        # pyqtgraph drops mouse moves that come faster than its refresh rate.
        qtbot.wait(25)
        QTest.mouseMove(viewport, p)
    qtbot.wait(25)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, to_widget(view, *end))
    qtbot.wait(10)


def handle_position(item, handle) -> tuple[float, float]:
    """Where a ROI handle sits, in image coordinates."""
    p = item.mapToParent(handle.pos())
    return p.x(), p.y()
