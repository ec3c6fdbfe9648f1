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


class SetListCommand(QUndoCommand):
    """Replace one of the project's lists of shapes (ignore regions, inspection zones): draw, move, resize, edit,
    delete one, clear. `setter`: the document's set_ignore or set_zones."""

    def __init__(self, setter, old: tuple, new: tuple, text: str):
        super().__init__(text)
        self.setter, self.old, self.new = setter, tuple(old), tuple(new)

    def redo(self) -> None:
        self.setter(self.new)

    def undo(self) -> None:
        self.setter(self.old)


def push_ignore(stack, doc: ProjectDocument, new, verb: str) -> bool:
    """Push an ignore-region edit unless it changes nothing; True when pushed."""
    new = tuple(new)
    if new == doc.ignore:
        return False
    stack.push(SetListCommand(doc.set_ignore, doc.ignore, new, f"{verb} ignore region"))
    return True


def push_zones(stack, doc: ProjectDocument, new, verb: str) -> bool:
    """Push an inspection-zone edit unless it changes nothing; True when pushed."""
    new = tuple(new)
    if new == doc.zones:
        return False
    stack.push(SetListCommand(doc.set_zones, doc.zones, new, f"{verb} zone"))
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
