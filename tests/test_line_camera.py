"""A camera that stops delivering frames (unplugged, a cable, its driver) no longer ends the run: the run says so,
raises its `source` alarm, opens the camera again every REOPEN_S seconds and goes on once frames come back.

No camera is attached to a test machine, so OpenCV's VideoCapture is replaced by a camera that can be unplugged;
the source, the runner, the alarms and the history are the real ones.
"""

import contextlib
import threading
import time

import cv2
import numpy as np
import pytest

from inspector_line import camera_grabber
from inspector_line.runner import RunOptions, Runner
from inspector_line.sources import VideoSource
from line_helpers import wait_until, make_project, part
from station import Station
from station.history import History


class Camera:
    """camera:N as OpenCV shows it: frames while plugged; grab() fails and opening fails while unplugged."""

    plugged = True
    opened = 0

    def __init__(self, index):
        Camera.opened += 1
        self._open = Camera.plugged
        self._n = 0

    def isOpened(self):
        return self._open

    def grab(self):
        time.sleep(0.02)  # 50 frames a second
        if not (self._open and Camera.plugged):
            self._open = False
            return False
        self._n += 1
        return True

    def retrieve(self):
        return True, np.ascontiguousarray(part(600 + self._n % 50)[..., ::-1])

    def release(self):
        self._open = False


@pytest.fixture()
def camera(monkeypatch):
    Camera.plugged, Camera.opened = True, 0
    monkeypatch.setattr(cv2, "VideoCapture", Camera)
    monkeypatch.setattr(camera_grabber, "REOPEN_S", 0.3)
    return Camera



@contextlib.contextmanager
def _camera_run(tmp_path):
    """A run on camera:0 (every 5th frame) on a thread of its own: (runner's thread, parts, messages, history);
    stopped, and its thread ended, when the block ends."""
    engine, project = make_project(tmp_path / "project")
    parts, messages, stop = [], [], threading.Event()
    with History(tmp_path / "h.sqlite") as history:
        runner = Runner(Station(project, engine, history=history), VideoSource("camera:0", every=5), RunOptions(),
                        on_part=parts.append, on_message=messages.append)
        thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
        thread.start()
        try:
            yield runner, thread, parts, messages, history
        finally:
            stop.set()
            thread.join(timeout=30)
        assert not thread.is_alive()


def test_an_unplugged_camera_raises_the_source_alarm_and_the_run_goes_on(camera, tmp_path):
    with _camera_run(tmp_path) as (runner, thread, parts, messages, history):
        wait_until(lambda: len(parts) >= 3, "no parts from the camera")
        camera.plugged = False
        wait_until(lambda: "source" in runner.publisher.alarms.active, f"no source alarm: {messages}")
        opened = camera.opened
        wait_until(lambda: camera.opened >= opened + 2, "the camera is not opened again")  # tried again and again
        assert thread.is_alive()  # the run did not end
        during = len(parts)
        camera.plugged = True
        wait_until(lambda: len(parts) >= during + 3, "no parts after the camera came back")
    with History(tmp_path / "h.sqlite") as history:
        assert history.count() == len(parts)
    assert messages.count("WARNING: camera:0 stopped delivering frames: opened again every 0.3 s") == 1
    assert "camera:0 is delivering frames again" in messages
    assert [m.split(":")[0] for m in messages if m.startswith(("ALARM source", "alarm cleared source"))] == \
        ["ALARM source", "alarm cleared source"]
    assert all(p.verdict.judged for p in parts)  # no ERROR rows for the camera's absence


def test_a_frozen_camera_is_an_error_streak_not_parts_passed(camera, tmp_path, monkeypatch):
    """A driver that hangs hands over its last frame again and again: judged, every part after it would get the
    verdict of the one photographed. Each repeated frame is an ERROR naming the frame it repeats, the alarm says
    so, and parts are judged again once frames change."""
    frozen = {"on": False}
    retrieve = Camera.retrieve

    def retrieve_frozen(self):
        if frozen["on"]:
            return True, np.ascontiguousarray(part(777)[..., ::-1])
        return retrieve(self)

    monkeypatch.setattr(Camera, "retrieve", retrieve_frozen)
    with _camera_run(tmp_path) as (_, _, parts, messages, _):
        wait_until(lambda: len(parts) >= 2, "no parts from the camera")
        frozen["on"] = True
        wait_until(lambda: sum(p.verdict == "ERROR" for p in parts) >= 4, f"no repeated frames: {messages}")
        frozen["on"] = False
        during = len(parts)
        wait_until(lambda: len(parts) >= during + 2, "no parts after the camera thawed")
    errors = [i for i, p in enumerate(parts) if p.verdict == "ERROR"]
    first = parts[errors[0] - 1]  # the frozen frame itself, judged once: it is a capture of a part
    assert first.verdict.judged and errors == list(range(errors[0], errors[-1] + 1))
    assert all(parts[i].reason.startswith(f"the same image as the part before ({first.name}), to the bit")
               for i in errors)  # each names the frozen frame
    assert all(p.verdict.judged for p in parts[errors[-1] + 1:])
    assert any(m.startswith("ALARM error_streak: 3 ERROR in a row (the last: the same image as the part before")
               for m in messages)
