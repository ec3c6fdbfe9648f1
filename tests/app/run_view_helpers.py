"""What the Run view's tests share: the quick ERROR rows every one of them runs with, a fitted project opened in
the window, and the Run view on a watched folder of discs."""

import functools
import shutil

import pytest

from inference.synthetic import write_discs

from gui_helpers import wait_idle


@pytest.fixture(autouse=True)
def quick_error_rows(monkeypatch):
    """An unreadable file becomes its ERROR row after 1 s instead of the product's 10 (ERROR_AFTER_S), so these
    tests do not wait out a writer that cannot exist here; the wait itself is tested in test_line_settle.py."""
    from app import run_worker
    from app.panels import run_panel
    from inspector_line.sources import open_source

    for module in (run_panel, run_worker):  # the check at Start, the run's own
        monkeypatch.setattr(module, "open_source", functools.partial(open_source, error_after_s=1.0))


def open_project(qtbot, window, fitted_project, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(fitted_project, project)
    assert window.open_project(project, ask=False)
    wait_idle(qtbot, window)
    return project


def run_view_on(qtbot, window, fitted_project, tmp_path, good=(), scratched=()):
    """The project opened, a watched folder with discs `good` and `scratched` (in that order), the Run view on it:
    (project, panel)."""
    project = open_project(qtbot, window, fitted_project, tmp_path)
    inbox = tmp_path / "inbox"
    write_discs(inbox, good)
    write_discs(inbox, scratched, scratch=True)
    panel = window.open_run_view()
    panel.source_edit.setText(str(inbox))
    return project, panel
