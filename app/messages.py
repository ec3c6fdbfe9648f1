"""Message boxes shown to the user: readable text, never a traceback."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

import inference

log = logging.getLogger(__name__)


class MessageSink:
    """Where one window's error messages go: a message box, or, where nobody can answer one (--screenshot,
    interactive False), the log and `unanswered`. Each MainWindow has its own (`message_sink`), so one window's
    mode never changes another's."""

    def __init__(self, interactive: bool = True):
        self.interactive = interactive
        self.unanswered: list[str] = []


def sink_of(widget: QWidget | None) -> MessageSink | None:
    """The sink of the window `widget` belongs to: the nearest `message_sink` up its parents (a panel's
    window, a dialog's parent window), or None outside any window that has one."""
    while widget is not None:
        sink = getattr(widget, "message_sink", None)
        if isinstance(sink, MessageSink):
            return sink
        widget = widget.parentWidget()
    return None


def describe(exc: BaseException) -> str:
    """One readable message for an exception; unexpected ones say so and point at the log."""
    if isinstance(exc, inference.InspectorError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "Out of memory: try fewer or smaller images, or a smaller input size in Settings."
    return f"Unexpected error ({type(exc).__name__}): {exc}\n\nDetails are in the log file."


def error(parent: QWidget | None, title: str, exc_or_text: BaseException | str) -> None:
    text = exc_or_text if isinstance(exc_or_text, str) else describe(exc_or_text)
    _warn(parent, title, text, "errorBox", modal=True)


def notice(parent: QWidget | None, title: str, text: str) -> None:
    """A warning that needs no answer (e.g. a saved calibration's warning): shown without blocking the window."""
    _warn(parent, title, text, "noticeBox", modal=False)


def _warn(parent: QWidget | None, title: str, text: str, name: str, modal: bool) -> None:
    log.warning("%s: %s", title, text)
    sink = sink_of(parent)
    if sink is not None and not sink.interactive:
        sink.unanswered.append(f"{title}: {text}")
        return
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName(name)
    if modal:
        box.exec()
    else:
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()


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
