"""Where bundled files (config.yaml, resources/models/...) live, installed or frozen."""

from __future__ import annotations

import sys
from pathlib import Path


def app_root() -> Path:
    """The folder holding config.yaml and resources/: the checkout, or the PyInstaller bundle."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen)
    return Path(__file__).resolve().parent.parent


def resource_path(*parts: str) -> Path:
    return app_root().joinpath(*parts)


def models_dir() -> Path:
    return resource_path("resources", "models")
