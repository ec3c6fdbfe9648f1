"""Fixtures for the GUI tests: a tiny fitted project, an isolated window, and a message-box answerer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

import inference
from inference.synthetic import write_discs

from gui_helpers import ROI



@pytest.fixture(scope="session", autouse=True)
def garbage_collected_on_the_gui_thread(qapp):
    """As in the window's process (app/__main__.py): no collection runs on a worker thread. Python collects by
    itself again after the GUI tests."""
    from app.garbage import collect_on_gui_thread

    stop = collect_on_gui_thread()
    yield
    stop()


@pytest.fixture(scope="session")
def images(tmp_path_factory) -> dict:
    """Small synthetic disc images: ok (teach), val (OK, unseen), ng (scratched)."""
    root = tmp_path_factory.mktemp("images")
    return {
        "ok": [str(p) for p in write_discs(root / "ok", range(4))],
        "val": [str(p) for p in write_discs(root / "val", range(10, 13))],
        "ng": [str(p) for p in write_discs(root / "ng", range(50, 52), scratch=True)],
    }


@pytest.fixture(scope="session")
def fitted_master(tmp_path_factory, tiny_config, images) -> Path:
    """A project folder with a fitted, calibrated tiny model and settings.json, fitted once per session."""
    folder = tmp_path_factory.mktemp("fitted") / "project"
    engine = inference.Engine(tiny_config)
    engine.fit(folder, images["ok"], roi=ROI)
    engine.calibrate(engine.load(folder), images["val"], images["ng"])
    inference.save_settings(folder, {"roi": inference.roi_to_dict(ROI), "mm_per_px": None,
                                     "ok_images": images["ok"], "config": tiny_config.to_dict()})
    return folder


@pytest.fixture
def fitted_project(fitted_master, tmp_path) -> Path:
    """A copy of the fitted project for this test: inspecting in the window writes to the project
    (its inspection history), so no test may share the folder with another."""
    folder = tmp_path / "fitted" / "project"
    shutil.copytree(fitted_master, folder)
    return folder


@pytest.fixture
def make_window(qtbot, tmp_path, tiny_config):
    """MainWindow factory with its own QSettings file; jobs are cancelled and joined at teardown."""
    from app.main_window import MainWindow

    windows = []

    def make(config: inference.EngineConfig = tiny_config, sign_in=None):
        settings = QSettings(str(tmp_path / "qsettings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(inference.Engine(config), settings=settings, sign_in=sign_in)
        # Not qtbot.addWidget: qtbot closes its widgets before fixture teardown, and closing a
        # window with unsaved changes would wait for an answer.
        window.resize(1200, 800)
        window.show()
        with qtbot.waitActive(window):  # keyboard shortcuts only reach the active window
            window.activateWindow()
        windows.append(window)
        return window

    yield make
    for w in windows:
        # The test is over: a job that ends now (e.g. an image opened last that cannot be read) must not open a
        # modal box nobody answers; its message goes to the log.
        w.message_sink.interactive = False
        w.runner.cancel_and_wait()
        w.doc.dirty = False
        w.close()
        w.deleteLater()


@pytest.fixture
def window(make_window):
    return make_window()


class Answerer:
    """Answers message boxes as they appear (they run their own event loop) and records their text."""

    def __init__(self):
        self.seen: list[str] = []
        # What to click, in order: a QMessageBox.StandardButton or a button's text; default: the box's default.
        self.answers: list = []
        self.timer = QTimer()
        self.timer.setInterval(20)
        self.timer.timeout.connect(self._poll)
        self.timer.start()

    def _poll(self):
        for w in QApplication.topLevelWidgets():
            if isinstance(w, QMessageBox) and w.isVisible():
                self.seen.append(w.text())
                if self.answers:
                    answer = self.answers.pop(0)
                    if isinstance(answer, str):
                        next(b for b in w.buttons() if b.text() == answer).click()
                    else:
                        w.button(answer).click()
                elif w.defaultButton() is not None:
                    w.defaultButton().click()
                else:
                    w.accept()

    def stop(self):
        self.timer.stop()


@pytest.fixture
def answerer():
    a = Answerer()
    yield a
    a.stop()


