"""File dialogs that open where the user last was, not in the folder the app was started from.

The last folder is kept in the window's QSettings (set by MainWindow with `use`);
before anything was chosen the dialogs open in the project folder, else the home folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QWidget

KEY = "dialogs/last_folder"
_settings: Optional[QSettings] = None
_project_folder: Callable[[], Optional[Path]] = lambda: None


def use(settings: QSettings, project_folder: Callable[[], Optional[Path]]) -> None:
    global _settings, _project_folder
    _settings, _project_folder = settings, project_folder


def start_folder() -> str:
    last = _settings.value(KEY) if _settings is not None else None
    if last and Path(str(last)).is_dir():
        return str(last)
    project = _project_folder()
    if project is not None and Path(project).is_dir():
        return str(project)
    return str(Path.home())


def remember(path: str) -> None:
    if not path or _settings is None:
        return
    p = Path(path)
    _settings.setValue(KEY, str(p if p.is_dir() else p.parent))


def open_files(parent: QWidget, title: str, filter_: str) -> list[str]:
    files, _ = QFileDialog.getOpenFileNames(parent, title, start_folder(), filter_)
    if files:
        remember(files[0])
    return files


def open_file(parent: QWidget, title: str, filter_: str) -> str:
    path, _ = QFileDialog.getOpenFileName(parent, title, start_folder(), filter_)
    remember(path)
    return path


def open_folder(parent: QWidget, title: str) -> str:
    folder = QFileDialog.getExistingDirectory(parent, title, start_folder())
    remember(folder)
    return folder


def save_file(parent: QWidget, title: str, name: str, filter_: str) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, title, str(Path(start_folder()) / name), filter_)
    remember(path)
    return path
