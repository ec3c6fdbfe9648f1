"""A live camera's settings in its source (`--source "camera:0?width=1920&height=1080&fps=30&fourcc=MJPG"`): applied
each time the camera is opened, in the order a driver needs (format, size, rate, exposure), read back, and one the
camera did not take said in one line; a bad one refused before anything opens (exit 2).

No camera is attached to a test machine: tests/fake_camera.py's takes settings as a UVC driver does (a size it
does not offer clamped, a control it does not have refused); the source, the grabber and the run are the real ones.
"""

from __future__ import annotations

import cv2
import pytest

from fake_camera import BufferingCamera, Scene
from inspector_cli.main import main
from inspector_line.camera_settings import parse_camera
from inspector_line.sources import SourceError, VideoSource, open_source
from line_helpers import make_project


@pytest.fixture()
def camera(monkeypatch):
    BufferingCamera.scene, BufferingCamera.settings_log = Scene(), []
    monkeypatch.setattr(cv2, "VideoCapture", BufferingCamera)
    return BufferingCamera


def test_settings_are_applied_in_order_and_one_the_camera_did_not_take_is_said(camera):
    source = open_source("camera:0?exposure=50&fps=30&height=720&width=1920&fourcc=mjpg&auto_exposure=1&gain=4")
    assert isinstance(source, VideoSource) and source.label == "camera:0"  # the history's source: the camera
    said = []
    source.on_message = said.append
    source.start()
    try:
        assert source.next_batch(1, timeout=2)  # frames come
    finally:
        source.stop()
    names = {cv2.CAP_PROP_FOURCC: "fourcc", cv2.CAP_PROP_FRAME_WIDTH: "width", cv2.CAP_PROP_FRAME_HEIGHT: "height",
             cv2.CAP_PROP_FPS: "fps", cv2.CAP_PROP_AUTO_EXPOSURE: "auto_exposure", cv2.CAP_PROP_EXPOSURE: "exposure",
             cv2.CAP_PROP_GAIN: "gain"}
    assert [names[prop] for prop, _ in camera.settings_log] == \
        ["fourcc", "width", "height", "fps", "auto_exposure", "exposure", "gain"]
    assert camera.settings_log[0][1] == cv2.VideoWriter_fourcc(*"MJPG")
    assert said == ["WARNING: camera:0 did not take width=1920 (gives 1280), gain=4 (gives 0): its pictures may not "
                    "be like the taught ones"]


def test_a_camera_that_takes_every_setting_says_nothing(camera):
    source = VideoSource("camera:0?width=1280&height=720&fps=50")
    said = []
    source.on_message = said.append
    source.start()
    try:
        assert source.next_batch(1, timeout=2)
    finally:
        source.stop()
    assert said == []


@pytest.mark.parametrize("spec, words", [
    ("camera:0?zoom=2", "unknown camera setting 'zoom'"),
    ("camera:0?width=wide", "width needs a number"),
    ("camera:0?fps=0", "fps must be more than 0"),
    ("camera:0?fourcc=H264X", "fourcc needs 4 letters"),
    ("camera:x", "camera:N with N a number"),
])
def test_a_bad_setting_is_refused_naming_it(spec, words):
    with pytest.raises(SourceError, match=words):
        parse_camera(spec)


def test_a_bad_setting_exits_2_with_one_line_before_the_camera_opens(camera, tmp_path, capsys):
    _, project = make_project(tmp_path / "proj")
    assert main(["run", str(project), "--source", "camera:0?width=wide"]) == 2
    err = capsys.readouterr().err.strip()
    assert "width needs a number" in err and len(err.splitlines()) == 1
    assert camera.settings_log == [] and not (project / "history.sqlite").exists()
