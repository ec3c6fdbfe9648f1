"""About: versions, the device in use, the model's weights provenance, third-party licences."""

from __future__ import annotations

import html

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

import inference

LICENCES = (
    ("Qt for Python (PySide6)", "LGPL-3.0", "https://www.qt.io/licensing"),
    ("pyqtgraph", "MIT", "https://github.com/pyqtgraph/pyqtgraph"),
    ("PyTorch", "BSD-3-Clause", "https://github.com/pytorch/pytorch"),
    ("timm", "Apache-2.0", "https://github.com/huggingface/pytorch-image-models"),
    ("DINOv2 code and weights (Meta)", "Apache-2.0", "https://github.com/facebookresearch/dinov2"),
    ("faiss", "MIT", "https://github.com/facebookresearch/faiss"),
    ("OpenCV", "Apache-2.0", "https://opencv.org/license/"),
    ("EfficientNet-Lite0 weights", "Apache-2.0", "https://github.com/tensorflow/tpu"),
    ("NumPy", "BSD-3-Clause", "https://numpy.org/license/"),
)


def runtime_facts(engine: inference.Engine) -> dict:
    import faiss
    import torch
    import PySide6
    import pyqtgraph

    cuda = torch.cuda.is_available()
    use = cuda and engine.config.use_gpu
    device = torch.cuda.get_device_name(0) if use else "CPU"
    return {
        "Inspector": inference.__version__,
        "Model version": inference.MODEL_VERSION,
        "PyTorch": torch.__version__,
        "CUDA": (torch.version.cuda or "not built with CUDA") + ("" if cuda else " (no GPU found)"),
        "faiss": getattr(faiss, "__version__", "?"),
        "PySide6 / Qt": PySide6.__version__,
        "pyqtgraph": pyqtgraph.__version__,
        "Device in use": device,
    }


def weights_facts(model) -> dict:
    if model is None:
        return {"Model": "none loaded"}
    w = model.record.backbone.weights
    return {
        "Backbone": model.record.backbone.name,
        "Weights source": w.get("source", "?") + ("" if w.get("pretrained") else "  (RANDOM: test only)"),
        "Weights file": w.get("path") or "—",
        "Weights sha256": w.get("sha256") or "—",
        "Description": w.get("description") or "—",
        # What the model computes in here: precision auto falls back to fp32 where bf16 moved its features.
        "Computes in": inference.describe_compute(model.backbone.runtime, model.backbone.precision_name) + (
            f" ({inference.describe_int8(cosine)})" if (cosine := model.backbone.int8_cosine)
            else f" ({inference.describe_precision_check(model.precision_check)})" if model.precision_check
            else ""),
    }


def backbone_in_use(engine, model) -> str:
    """The loaded model's backbone; without a model, the one the next fit would use."""
    if model is not None:
        return model.record.backbone.name or model.config.backbone
    if engine.config.backbone.strip().lower() == "auto":
        # "auto" is a rule, not a backbone: say what it picks when a model is fitted.
        return ("the backbone the next fit picks (auto: DINOv2 ViT-S/14 when its weights are on this machine, "
                "else the built-in EfficientNet-Lite0)")
    return engine.config.backbone


def about_html(engine, model) -> str:
    def table(facts: dict) -> str:
        rows = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(str(v))}</td></tr>"
                       for k, v in facts.items())
        return f"<table cellspacing='4'>{rows}</table>"

    lic = "".join(f"<li>{html.escape(n)}: {html.escape(l)} (<a href='{u}'>{html.escape(u)}</a>)</li>"
                  for n, l, u in LICENCES)
    return (f"<h2>Inspector {html.escape(inference.__version__)}</h2>"
            f"<p>Visual inspection: PatchCore on {html.escape(backbone_in_use(engine, model))} patch features.</p>"
            f"<h3>Runtime</h3>{table(runtime_facts(engine))}"
            f"<h3>Loaded model</h3>{table(weights_facts(model))}"
            f"<h3>Third-party software</h3><ul>{lic}</ul>"
            "<p>Qt is used under the LGPL-3.0: you may replace the Qt libraries of this application with your "
            "own build.</p>")


class AboutDialog(QDialog):
    def __init__(self, engine, model, parent=None):
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About Inspector")
        self.resize(640, 620)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)
        self.text.setHtml(about_html(engine, model))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
