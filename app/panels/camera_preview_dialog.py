"""Camera… (the Run view): the camera's live picture, to aim, focus and set its exposure by before a run, with what
each frame says of the setup: size, sharpness (the largest seen is the focus), brightness, the clipped and dark
shares (inspector_line/frame_quality.py). It opens the source as the run will, with its settings
(`camera:0?width=1920&exposure=50`), so a setting not taken is said here first. The camera is free again when the
dialog closes."""

from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from .. import messages
from ..camera_preview import CameraPreviewWorker
from ..image_view import ImageView


class CameraPreviewDialog(QDialog):
    def __init__(self, spec: str, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("cameraPreviewDialog")
        self.setWindowTitle(f"Camera — {spec}")
        self.resize(900, 700)
        self.frames = 0
        self.best_sharpness = 0.0
        self.view = ImageView()
        self.quality_label = QLabel("Waiting for the camera's first frame…")
        self.quality_label.setObjectName("cameraQuality")
        self.quality_label.setWordWrap(True)
        self.focus_label = QLabel("")
        self.focus_label.setObjectName("cameraFocus")
        self.message_label = QLabel("")
        self.message_label.setObjectName("cameraMessage")
        self.message_label.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        for label in (self.quality_label, self.focus_label, self.message_label):
            layout.addWidget(label)
        layout.addWidget(buttons)
        self.worker = CameraPreviewWorker(spec, self)
        self.worker.frame.connect(self._on_frame)
        self.worker.message.connect(self.message_label.setText)
        self.worker.failed.connect(self._on_failed)
        self.worker.start()

    def _on_frame(self, rgb, quality) -> None:
        self.frames += 1
        self.view.set_image(rgb, fit=self.frames == 1)
        self.best_sharpness = max(self.best_sharpness, quality.sharpness)
        self.quality_label.setText(quality.text())
        share = quality.sharpness / self.best_sharpness if self.best_sharpness else 0.0
        self.focus_label.setText(f"Focus: {100 * share:.0f} % of the sharpest frame seen ({self.best_sharpness:.0f});"
                                 " turn the lens for the largest")

    def _on_failed(self, exc: BaseException) -> None:
        self.quality_label.setText(f"No picture: {messages.describe(exc)}")

    def done(self, result: int) -> None:
        self.worker.stop()
        self.worker.wait(10000)  # the camera released before the run may open it
        super().done(result)


__all__ = ["CameraPreviewDialog"]
