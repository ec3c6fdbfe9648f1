"""The Inspect tab's results list: one row per opened image (name, score, verdict), found by path.

Rows keep the order the images were opened in until the user clicks a header; the verdict filter hides
rows without removing them. Qt-only: the panel owns the results and tells the list what to show.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

from ..result_text import score_text
from .table_widgets import ScoreItem

# The list's words for a verdict (the filter matches them).
VERDICT_WORDS = {"NO_VERDICT": "no verdict"}
UNREADABLE = "unreadable"
FILTERS = ("All", "NG", "OK", "No verdict", UNREADABLE.capitalize())
PATH_ROLE = Qt.ItemDataRole.UserRole
SCORE_ROLE = Qt.ItemDataRole.UserRole + 1


class ResultsList:
    """Rows of a three-column QTableWidget (image, score, verdict), each row holding its image's path."""

    def __init__(self, table: QTableWidget):
        self.table = table
        self.unsorted()

    def unsorted(self) -> None:
        """Rows in the order the images were opened until the user clicks a header."""
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)

    def reset(self, paths: list[str]) -> None:
        """One empty row per path, in that order."""
        self.table.setSortingEnabled(False)
        self.table.setRowCount(0)
        for path in paths:
            row = self.table.rowCount()
            self.table.insertRow(row)
            self._fill(row, path, None, None)
        self.unsorted()

    def row_of(self, path: str) -> int:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.data(PATH_ROLE) == path:
                return row
        return -1

    def show(self, path: str, result, error: Optional[str] = None) -> None:
        """The row of `path` shows `result` (None: not inspected), or that the file could not be read."""
        row = self.row_of(path)
        if row >= 0:
            sorting = self.table.isSortingEnabled()
            self.table.setSortingEnabled(False)  # the row must not move while its cells are set
            self._fill(row, path, result, error)
            self.table.setSortingEnabled(sorting)

    def _fill(self, row: int, path: str, result, error: Optional[str]) -> None:
        verdict = UNREADABLE if error else ("" if result is None else VERDICT_WORDS.get(result.verdict, result.verdict))
        cells = [Path(path).name, "" if result is None else score_text(result.score), verdict]
        for j, text in enumerate(cells):
            item = ScoreItem(text) if j == 1 else QTableWidgetItem(text)
            item.setToolTip(error or path)
            if j == 0:
                item.setData(PATH_ROLE, path)
            if j == 1:
                finite = result is not None and result.score is not None and math.isfinite(result.score)
                item.setData(SCORE_ROLE, float(result.score) if finite else None)
            if j == 2 and (verdict == "NG" or error):
                item.setForeground(Qt.GlobalColor.red)
            elif j == 2 and verdict == "NOT_FOUND":
                item.setForeground(Qt.GlobalColor.darkYellow)
            self.table.setItem(row, j, item)

    def select(self, path: str) -> None:
        """Select the row of `path` without announcing it (the panel is already showing that image)."""
        row = self.row_of(path)
        self.table.blockSignals(True)
        if row >= 0:
            self.table.selectRow(row)
        self.table.blockSignals(False)

    def selected_path(self) -> Optional[str]:
        rows = self.table.selectionModel().selectedRows()
        return self.table.item(rows[0].row(), 0).data(PATH_ROLE) if rows else None

    def apply_filter(self, wanted: str) -> None:
        for row in range(self.table.rowCount()):
            verdict = self.table.item(row, 2).text()
            shown = (wanted == "All" or verdict == wanted or (wanted == "No verdict" and verdict == "no verdict")
                     or (wanted == UNREADABLE.capitalize() and verdict == UNREADABLE))
            self.table.setRowHidden(row, not shown)
