"""Engine settings for the next fit, saved with the project."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QHBoxLayout,
    QLineEdit, QPushButton, QSpinBox, QVBoxLayout, QLabel,
)

import inference

from .. import file_dialogs, messages

WEIGHT_CHOICES = ("auto", "none")


class SettingsDialog(QDialog):
    def __init__(self, config: inference.EngineConfig, parent=None):
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self.config = config

        self.backbone = QComboBox()
        self.backbone.setEditable(True)
        self.backbone.addItems(["auto"] + sorted(inference.PRESETS))
        self.backbone.setCurrentText(config.backbone)
        self.backbone.setToolTip("Feature extractor: auto uses DINOv2 ViT-S/14 when its weights are found, else the "
                                 "built-in efficientnet_lite0 (works offline, lower accuracy); any timm model name "
                                 "also works")
        self.weights = QLineEdit(config.weights)
        self.weights.setObjectName("weightsEdit")
        self.weights.setToolTip("'auto' finds the pretrained file; 'none' = RANDOM weights (tests only); or a path")
        browse = QPushButton("Browse…")
        browse.setToolTip("Choose a weights file (.pth or .safetensors)")
        browse.clicked.connect(self._browse)
        weights_row = QHBoxLayout()
        weights_row.addWidget(self.weights, 1)
        weights_row.addWidget(browse)

        self.coreset = QDoubleSpinBox()
        self.coreset.setObjectName("coresetRatio")
        self.coreset.setRange(0.001, 1.0)
        self.coreset.setDecimals(3)
        self.coreset.setSingleStep(0.005)
        self.coreset.setValue(config.coreset_ratio)
        self.coreset.setToolTip("Share of the good parts' patches kept as the reference memory (the 'coreset'): "
                                "0.01-0.05 is typical; more is slower and uses more memory, rarely more accurate")
        self.input_size = QSpinBox()
        self.input_size.setObjectName("inputSize")
        self.input_size.setRange(56, 1792)
        self.input_size.setSingleStep(14)
        self.input_size.setValue(config.input_size)
        self.input_size.setToolTip("The ROI is resized to this square before feature extraction (multiple of 14)")
        self.score_mode = QComboBox()
        self.score_mode.addItems(inference.SCORE_MODES)
        self.score_mode.setCurrentText(config.score_mode)
        self.score_mode.setToolTip("How one score is made from the heatmap: p99 = the value 99% of the ROI stays "
                                   "below (ignores a few noisy pixels); max = the hottest pixel; topk_mean = the "
                                   "mean of the worst 1% of patches")
        self.distance = QComboBox()
        self.distance.addItems(inference.DISTANCES)
        self.distance.setCurrentText(config.distance)
        self.distance.setToolTip("How a patch is compared with the good ones: l2 = straight-line (Euclidean) "
                                 "distance, the usual choice; cosine = angle only; mahalanobis = scaled by how much "
                                 "good parts vary")
        self.use_gpu = QCheckBox("Use the GPU when there is one")
        self.use_gpu.setObjectName("useGpu")
        self.use_gpu.setChecked(config.use_gpu)
        self.use_gpu.setToolTip("CUDA for features and search; results are the same on CPU, only slower")
        self.augment = QCheckBox("Augment OK images (rotation ±5°, colour jitter)")
        self.augment.setChecked(config.augment)
        self.augment.setToolTip("Teach extra, slightly changed copies of each OK image")
        self.align = QComboBox()
        self.align.setObjectName("align")
        self.align.addItems(inference.ALIGN_MODES)
        self.align.setCurrentText(config.align)
        self.align.setToolTip("Locate the part first: none (ROI fixed in the image), translation (parts shift) "
                              "or rigid (shift and turn); the first OK image is the reference")
        self.align_angle = QDoubleSpinBox()
        self.align_angle.setObjectName("alignMaxAngle")
        self.align_angle.setRange(0.0, 180.0)
        self.align_angle.setDecimals(1)
        self.align_angle.setValue(config.align_max_angle_deg)
        self.align_angle.setToolTip("Rigid: turns searched, ± degrees (180 = any orientation; e.g. 15 in a fixture)")

        form = QFormLayout()
        form.addRow("Backbone", self.backbone)
        form.addRow("Weights", weights_row)
        form.addRow("Reference memory kept", self.coreset)
        form.addRow("Input size (px)", self.input_size)
        form.addRow("Image score from", self.score_mode)
        form.addRow("Patch comparison", self.distance)
        form.addRow("Locate the part", self.align)
        form.addRow("Max turn (± °)", self.align_angle)
        form.addRow("", self.use_gpu)
        form.addRow("", self.augment)
        note = QLabel("Changes apply to the next Fit; the current model is marked stale until then.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        path = file_dialogs.open_file(self, "Weights file", "Weights (*.pth *.pt *.safetensors)")
        if path:
            self.weights.setText(path)

    def edited_config(self) -> inference.EngineConfig:
        """The config as edited; raises ConfigError with a readable message when a value is wrong."""
        data = self.config.to_dict()
        data.update(backbone=self.backbone.currentText().strip(), weights=self.weights.text().strip(),
                    coreset_ratio=self.coreset.value(), input_size=self.input_size.value(),
                    score_mode=self.score_mode.currentText(), distance=self.distance.currentText(),
                    use_gpu=self.use_gpu.isChecked(), augment=self.augment.isChecked(),
                    align=self.align.currentText(), align_max_angle_deg=self.align_angle.value())
        return inference.EngineConfig.from_dict(data)

    def accept(self) -> None:
        try:
            self.config = self.edited_config()
        except inference.InspectorError as exc:
            messages.error(self, "Settings", exc)
            return
        super().accept()
