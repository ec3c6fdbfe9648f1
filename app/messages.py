"""Message boxes shown to the user: readable text, never a traceback."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QMessageBox, QWidget

import inference

log = logging.getLogger(__name__)

# False in --screenshot mode, where nobody can answer a dialog: messages are logged and kept instead.
interactive = True
unanswered: list[str] = []


def describe(exc: BaseException) -> str:
    """One readable message for an exception; unexpected ones say so and point at the log."""
    if isinstance(exc, inference.InspectorError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "Out of memory: try fewer or smaller images, or a smaller input size in Settings."
    return f"Unexpected error ({type(exc).__name__}): {exc}\n\nDetails are in the log file."


def error(parent: QWidget | None, title: str, exc_or_text: BaseException | str) -> None:
    text = exc_or_text if isinstance(exc_or_text, str) else describe(exc_or_text)
    log.warning("%s: %s", title, text)
    if not interactive:
        unanswered.append(f"{title}: {text}")
        return
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorBox")
    box.exec()


def confirm(parent: QWidget | None, title: str, text: str) -> bool:
    box = QMessageBox(QMessageBox.Icon.Question, title, text,
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    return box.exec() == QMessageBox.StandardButton.Yes


def save_discard_cancel(parent: QWidget | None, title: str, text: str) -> str:
    """'save', 'discard' or 'cancel'."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text,
                      QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                      | QMessageBox.StandardButton.Cancel, parent)
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    answer = box.exec()
    if answer == QMessageBox.StandardButton.Save:
        return "save"
    if answer == QMessageBox.StandardButton.Discard:
        return "discard"
    return "cancel"
