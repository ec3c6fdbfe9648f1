"""The row of drawing-tool buttons a panel offers (ROI shapes, ignore shapes): checkable actions, at most one on."""

from __future__ import annotations

from typing import Callable, Sequence

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QToolButton, QWidget


def tool_buttons(owner: QWidget, tools: Sequence[tuple[str, str, str, str]], changed: Callable[[], None]
                 ) -> tuple[QActionGroup, dict[str, QAction], QHBoxLayout]:
    """(group, actions by kind, row of buttons) for `tools` ((kind, text, shortcut, tip) each). Each action
    carries its kind as data; `changed()` runs on every toggle and reads the group's checked action."""
    group = QActionGroup(owner)
    group.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)
    actions: dict[str, QAction] = {}
    row = QHBoxLayout()
    for kind, text, key, tip in tools:
        action = QAction(text, owner)
        action.setCheckable(True)
        action.setShortcut(QKeySequence(key))
        action.setToolTip(tip)
        action.setData(kind)
        action.toggled.connect(lambda _on: changed())
        group.addAction(action)
        actions[kind] = action
        button = QToolButton()
        button.setDefaultAction(action)
        button.setObjectName(f"tool_{kind}")
        row.addWidget(button)
    return group, actions, row
