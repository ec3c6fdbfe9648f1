"""The start page (no project open): its texts are shown whole at the window sizes a line PC has."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel


@pytest.mark.parametrize("size", [(1200, 800), (1600, 1000), (1920, 1080)])
def test_every_step_of_how_it_works_is_shown_whole(qtbot, make_window, size):
    """At 1600 x 1000 the four steps had 90 px of width beside the recent list and each lost its last lines."""
    w = make_window()
    w.resize(*size)
    qtbot.wait(50)
    assert w.centre.currentWidget() is w.start_page
    steps = [label for label in w.start_page.findChildren(QLabel) if label.text().startswith("<b>")]
    assert len(steps) == 4
    for label in steps:
        needed = label.heightForWidth(label.width())
        assert label.height() >= needed, (label.text()[:30], label.width(), label.height(), needed)
        assert label.width() >= 200, (label.text()[:30], label.width())  # a readable column, not a word a line
