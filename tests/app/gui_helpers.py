"""Mouse drags on the image view in image-pixel coordinates, as a user would make them; a model record to compare
the GUI's settings with; the fixtures' ROI and the wait for a job to end (a module of its own, not conftest: a
`from conftest import` finds whichever conftest was imported first when tests of several folders run together)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

import inference

ROI = inference.Circle(80.0, 80.0, 67.0)


def wait_idle(qtbot, window, timeout=60000):
    """Wait until no job runs (its result callbacks have run then)."""
    qtbot.waitUntil(lambda: not window.runner.busy, timeout=timeout)


def record_fitted_with(config: inference.EngineConfig, roi=None, chosen: str = "") -> inference.ModelRecord:
    """The record of a model fitted with `config` (and `roi`, a roi_to_dict), for the stale checks; `chosen`:
    what `backbone: auto` picked."""
    backbone = inference.BackboneRecord(config.backbone, "tf_efficientnet_lite0", "cnn", 320, {"pretrained": True},
                                        chosen)
    return inference.ModelRecord(model_id="m", model_version=inference.MODEL_VERSION, app_version="test",
                                 backbone=backbone, input_size=config.input_size, token_shape=(14, 14),
                                 config=config.to_dict(), roi=roi, mm_per_px=None, n_images=1, images=(),
                                 n_embeddings=196, coreset_size=4)


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
