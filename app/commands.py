"""Undoable ROI edits. Items push one command when a drag finishes, so one drag is one step."""

from __future__ import annotations

from typing import Optional

from PySide6.QtGui import QUndoCommand

import inference

from .document import ProjectDocument


def describe_roi(roi: Optional[inference.Roi]) -> str:
    return roi.kind if roi is not None else "ROI"


class SetRoiCommand(QUndoCommand):
    """Replace the project's ROI (draw, move, resize, numeric edit, delete)."""

    def __init__(self, doc: ProjectDocument, old: Optional[inference.Roi], new: Optional[inference.Roi],
                 text: str):
        super().__init__(text)
        self.doc, self.old, self.new = doc, old, new

    def redo(self) -> None:
        self.doc.set_roi(self.new)

    def undo(self) -> None:
        self.doc.set_roi(self.old)


class SetMmPerPxCommand(QUndoCommand):
    def __init__(self, doc: ProjectDocument, old: Optional[float], new: Optional[float]):
        super().__init__("set mm per pixel")
        self.doc, self.old, self.new = doc, old, new

    def redo(self) -> None:
        self.doc.set_mm_per_px(self.new)

    def undo(self) -> None:
        self.doc.set_mm_per_px(self.old)


def push_roi(stack, doc: ProjectDocument, new: Optional[inference.Roi], verb: str) -> bool:
    """Push an edit unless it changes nothing; True when pushed."""
    old = doc.roi
    if new == old:
        return False
    stack.push(SetRoiCommand(doc, old, new, f"{verb} {describe_roi(new if new is not None else old)}"))
    return True


class SetIgnoreCommand(QUndoCommand):
    """Replace the project's ignore regions (draw, move, resize, delete one, clear)."""

    def __init__(self, doc: ProjectDocument, old: tuple, new: tuple, text: str):
        super().__init__(text)
        self.doc, self.old, self.new = doc, tuple(old), tuple(new)

    def redo(self) -> None:
        self.doc.set_ignore(self.new)

    def undo(self) -> None:
        self.doc.set_ignore(self.old)


def push_ignore(stack, doc: ProjectDocument, new, verb: str) -> bool:
    """Push an ignore-region edit unless it changes nothing; True when pushed."""
    new = tuple(new)
    if new == doc.ignore:
        return False
    stack.push(SetIgnoreCommand(doc, doc.ignore, new, f"{verb} ignore region"))
    return True


class SetLocateBoxCommand(QUndoCommand):
    """Replace the locate region (draw, move, resize, back to the default)."""

    def __init__(self, doc: ProjectDocument, old, new, text: str):
        super().__init__(text)
        self.doc, self.old, self.new = doc, old, new

    def redo(self) -> None:
        self.doc.set_locate_box(self.new)

    def undo(self) -> None:
        self.doc.set_locate_box(self.old)


def push_locate_box(stack, doc: ProjectDocument, new, verb: str) -> bool:
    """Push a locate-region edit unless it changes nothing; True when pushed."""
    new = tuple(int(round(v)) for v in new) if new is not None else None
    if new == doc.locate_box:
        return False
    stack.push(SetLocateBoxCommand(doc, doc.locate_box, new, f"{verb} locate region"))
    return True
