"""The command line entry: --screenshot renders and exits 0; errors exit 2 without a traceback; logging."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import cv2

from gui_helpers import wait_idle

ROOT = Path(__file__).resolve().parents[2]


def run_app(*args, tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CONFIG_HOME=str(tmp_path / "config"), HOME=str(tmp_path))
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=240)


def test_screenshot_of_an_inspected_defect(fitted_project, images, tmp_path):
    out = tmp_path / "shot.png"
    proc = run_app(fitted_project, "--screenshot", out, "--image", images["ng"][0], tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    shot = cv2.imread(str(out))
    assert shot is not None and shot.shape[0] > 400 and shot.shape[1] > 800
    # The NG badge is drawn in its red somewhere in the window.
    red = (shot[..., 2] > 200) & (shot[..., 1] < 70) & (shot[..., 0] < 70)
    assert red.sum() > 500
    logs = list((tmp_path / "data").rglob("inspector.log"))
    assert logs and "screenshot saved" in logs[0].read_text()


def test_screenshot_of_a_missing_project_fails_readably(tmp_path):
    proc = run_app(tmp_path / "nope", "--screenshot", tmp_path / "x.png", tmp_path=tmp_path)
    assert proc.returncode == 2
    assert "project folder not found" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.png").exists()


def test_logging_works_without_console_streams(tmp_path, monkeypatch):
    from app import __main__ as entry

    monkeypatch.setattr(sys, "stderr", None)
    monkeypatch.setattr(sys, "stdout", None)
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        path = entry.setup_logging(tmp_path / "logs")
        entry._say("no console: must not raise")
        logging.getLogger("app.test").warning("hello log")
        for h in root.handlers:
            h.flush()
        assert path is not None and "hello log" in path.read_text()
    finally:
        for h in list(root.handlers):
            if h not in before:
                root.removeHandler(h)
                h.close()


def test_the_window_fits_a_line_pcs_1280_px_screen_with_every_tab(qtbot, window, fitted_project):
    """Line PCs and panel PCs have 1280 x 1024 or 1366 x 768 screens. The window was at least 1,571 px wide (the
    Teach tab's two settings side by side, the History tab's filters and actions in one row each)."""
    from PySide6.QtWidgets import QTabWidget

    assert window.open_project(fitted_project, ask=False)
    wait_idle(qtbot, window)
    (tabs,) = [t for t in window.findChildren(QTabWidget) if t.count() == 4]
    for i in range(tabs.count()):
        tabs.setCurrentIndex(i)
        qtbot.wait(10)
        assert window.minimumSizeHint().width() <= 1280, tabs.tabText(i)
        assert window.minimumSizeHint().height() <= 768, tabs.tabText(i)
    window.resize(1280, 760)
    qtbot.waitUntil(lambda: window.width() == 1280)
    run_view = window.open_run_view()
    assert run_view.minimumSizeHint().width() <= 1280 and run_view.minimumSizeHint().height() <= 768
    run_view.close()
