"""When the backbone's pretrained weights are missing: say so plainly and offer a way out."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

from PySide6.QtWidgets import QMessageBox

import inference

from .. import file_dialogs, messages

OFFLINE_BACKBONE = "efficientnet_lite0"


def install_weights_file(source: Path, backbone: str) -> Path:
    """Copy a located weights file into the user's models folder under the name 'weights: auto' looks for.

    Copying (not just remembering the path) lets every project with this backbone,
    and loading a model fitted with 'auto', find the file from now on.
    """
    preset = inference.PRESETS.get(backbone)
    names = preset.filenames if preset is not None else (f"{backbone}{source.suffix}",)
    same_kind = [n for n in names if Path(n).suffix == source.suffix]
    if not same_kind:
        raise inference.InspectorError(
            f"{source.name} is a {source.suffix} file; backbone '{backbone}' expects " + " or ".join(names))
    target = inference.user_models_dir() / same_kind[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(source, target)
    except OSError as exc:
        raise inference.InspectorError(f"cannot copy {source} to {target}: {exc.strerror or exc}") from None
    return target


def resolve_missing_weights(window, exc: inference.WeightsError) -> Optional[str]:
    """Ask what to do; returns 'located', 'offline' or None. The project's config changes accordingly."""
    backbone = window.doc.config.backbone
    box = QMessageBox(QMessageBox.Icon.Warning, "Pretrained weights missing",
                      f"The pretrained weights for the '{backbone}' backbone are not on this machine, so the model "
                      "cannot be built.\n\nYou can locate the weights file (it is copied to your models folder, "
                      f"where it is found from then on), or use the built-in {OFFLINE_BACKBONE} backbone: lower "
                      "accuracy, works offline; the model must then be fitted again.", QMessageBox.StandardButton.Cancel, window)
    box.setObjectName("weightsMissingBox")
    box.setDetailedText(str(exc))
    locate = box.addButton("Locate weights file…", QMessageBox.ButtonRole.AcceptRole)
    offline = box.addButton(f"Use {OFFLINE_BACKBONE}", QMessageBox.ButtonRole.ActionRole)
    box.exec()
    clicked = box.clickedButton()
    if clicked is locate:
        path = file_dialogs.open_file(window, "Locate the weights file", "Weights (*.pth *.pt *.safetensors)")
        if not path:
            return None
        try:
            target = install_weights_file(Path(path), backbone)
        except inference.InspectorError as err:
            messages.error(window, "Weights", err)
            return None
        if window.doc.config.weights not in ("auto",):
            window.doc.set_config(window.doc.config.replace(weights="auto"))
        window.show_status(f"Weights installed as {target}")
        window.session.load_model()
        return "located"
    if clicked is offline:
        window.doc.set_config(window.doc.config.replace(backbone=OFFLINE_BACKBONE, weights="auto",
                                                        backbone_kwargs={}))
        window.show_status(f"Backbone set to {OFFLINE_BACKBONE}: press Fit to teach the model again")
        return "offline"
    return None
