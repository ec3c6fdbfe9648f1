"""Project > Back up… and Restore from backup…: the dialogs around the station's backup and restore, which run as
one job each (Session.backup / Session.restore)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import inference
from station.backup import SUFFIX, backup_path

from . import file_dialogs, messages

if TYPE_CHECKING:
    from .main_window import MainWindow

FILTER = f"Inspector backups (*{SUFFIX})"


def back_up(window: MainWindow) -> None:
    folder = window.doc.folder
    if folder is None or not inference.has_model(folder):
        messages.error(window, "Back up", "There is no saved model to back up: fit one first.")
        return
    path = file_dialogs.save_file(window, "Back the project up to", backup_path(folder, ".").name, FILTER)
    if not path:
        return
    if not path.lower().endswith(SUFFIX):
        path += SUFFIX

    def done(info) -> None:
        versions = f"{len(info.versions)} version{'s' * (len(info.versions) != 1)}"
        window.statusBar().showMessage(f"Backed up {folder.name} as saved (active {info.active_version}, {versions}"
                                       f", the history) to {path}; read back and checked")

    window.session.backup(path, done)


def restore(window: MainWindow) -> None:
    backup = file_dialogs.open_file(window, "Restore a project from a backup", FILTER)
    if not backup:
        return
    target = file_dialogs.open_folder(window, "Restore into a new, empty folder")
    if not target:
        return

    def done(info) -> None:
        window.statusBar().showMessage(f"Restored {target} from the backup taken {info.created} from {info.source}; "
                                       "every file checked")
        window.open_project(Path(target))

    window.session.restore(backup, target, done)
