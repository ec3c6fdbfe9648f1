"""A progress bar with stage, ETA and a Cancel button for the job runner."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from ..jobs import JobRunner


# The engine's stage names, in the words the progress line shows.
STAGE_WORDS = {
    "loading": "reading the images",
    "embedding": "computing the image features",
    "coreset": "choosing the reference patches",
    "saved": "saving the model",
    "inspecting": "inspecting",
    "scoring OK": "scoring the OK images",
    "scoring NG": "scoring the NG images",
}


# What runs after a stage reports its last step, before the next stage's first report (the engine reports
# after each batch: with one batch, a finished stage would otherwise sit at 100% for the whole next one).
NEXT_STAGE = {"loading": "embedding", "embedding": "coreset"}


def stage_words(stage: str) -> str:
    return STAGE_WORDS.get(stage, stage)


def format_eta(seconds: float) -> str:
    if seconds < 0:
        return "ETA …"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"ETA {seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"ETA {seconds // 60} min {seconds % 60:02d} s"
    return f"ETA {seconds} s"


class ProgressStrip(QWidget):
    def __init__(self, runner: JobRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.runner = runner
        self.stage = QLabel()
        self.bar = QProgressBar()
        self.bar.setMinimumWidth(180)
        self.bar.setToolTip("Progress of the running job")
        self.eta = QLabel()
        self.eta.setToolTip("Estimated time left in this stage")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelJob")
        self.cancel_button.setToolTip("Cancel the running job (Esc); a cancelled fit leaves the saved model as it was")
        self.cancel_button.clicked.connect(self._cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.stage, self.bar, self.eta, self.cancel_button):
            layout.addWidget(w)
        runner.started.connect(self._started)
        runner.progressed.connect(self._progressed)
        runner.finished.connect(self._finished)
        self.setVisible(False)

    def _started(self, name: str) -> None:
        self.stage.setText(name)
        self.bar.setRange(0, 0)
        self.eta.setText("")
        self.cancel_button.setEnabled(True)
        self.setVisible(True)

    def _progressed(self, stage: str, done: int, total: int, eta: float) -> None:
        if total > 0 and done >= total and stage in NEXT_STAGE:
            self.stage.setText(stage_words(NEXT_STAGE[stage]) + "…")
            self.bar.setRange(0, 0)  # busy: the next stage has not reported yet
            self.eta.setText("")
            return
        self.stage.setText(stage_words(stage))
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        self.eta.setText(format_eta(eta))

    def _finished(self, name: str, outcome: str) -> None:
        self.setVisible(False)

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.stage.setText("cancelling…")
        self.runner.cancel()
