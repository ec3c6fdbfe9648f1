"""A V4L2 camera sending MJPG is read without decoding every frame (inspector_line/camera_grabber.py): its frames are
held as the JPEG bytes it sent and decoded only for the frame the run takes; a backend whose raw frames are not
JPEG is decoded by OpenCV again; a frame that does not decode is that part's ERROR, never another frame's verdict.

No camera is attached to a test machine: tests/fake_camera.py's BufferingCamera stands in for OpenCV's V4L2 capture
(its raw frames the JPEG bytes V4L2 hands over with CONVERT_RGB off); the grabber, the source and the run are real.
"""

import threading

import cv2
import numpy as np
import pytest

from fake_camera import BufferingCamera, Scene
from inspector_line import camera_grabber
from inspector_line.camera_grabber import FrameGrabber
from inspector_line.runner import RunOptions, Runner
from inspector_line.sources import VideoSource
from line_helpers import make_project, part, wait_until
from station import Station
from station.history import History

MJPG = {"fourcc": "MJPG"}


@pytest.fixture()
def camera(monkeypatch):
    BufferingCamera.scene, BufferingCamera.settings_log = Scene(part(1700)), []
    monkeypatch.setattr(cv2, "VideoCapture", BufferingCamera)
    monkeypatch.setattr(BufferingCamera, "backend", "V4L2")
    monkeypatch.setattr(BufferingCamera, "raw_frames", "jpeg")
    return BufferingCamera


def _frame(settings: dict):
    grabber = FrameGrabber(0, "camera:0", settings)
    grabber.start()
    try:
        first = grabber.newer_than(-1, timeout=5)
        frame = grabber.newer_than(first.seq, timeout=5)  # past the first, which may have found another setting
    finally:
        grabber.stop()
    return grabber, frame


def test_jpeg_frames_are_held_as_sent_and_decoded_only_when_taken(camera):
    grabber, frame = _frame(MJPG)
    assert grabber.compressed and frame.compressed and frame.pixels.shape[0] == 1  # the bytes, as V4L2 gives them
    assert (cv2.CAP_PROP_CONVERT_RGB, 0) in camera.settings_log
    rgb = frame.rgb()
    scene = part(1700)
    assert rgb.shape == scene.shape and np.abs(rgb.astype(int) - scene).mean() < 3  # JPEG at 95: the same picture
    assert frame.pixels.nbytes < rgb.nbytes / 2  # what eight held frames cost, against decoded ones


@pytest.mark.parametrize("backend, settings", [("V4L2", {}), ("FAKE", MJPG)])
def test_other_formats_and_backends_are_decoded_as_they_come(camera, monkeypatch, backend, settings):
    """YUYV, or another backend (whose raw frames differ from V4L2's): OpenCV decodes, nothing is switched."""
    monkeypatch.setattr(BufferingCamera, "backend", backend)
    grabber, frame = _frame(settings)
    assert not grabber.compressed and not frame.compressed and frame.pixels.shape == part(1700).shape
    assert all(prop != cv2.CAP_PROP_CONVERT_RGB for prop, _ in camera.settings_log)


def test_a_backend_whose_raw_frames_are_not_jpeg_is_decoded_by_opencv_again(camera, monkeypatch):
    monkeypatch.setattr(BufferingCamera, "raw_frames", "bgr")  # took CONVERT_RGB off and went on decoding
    grabber, frame = _frame(MJPG)
    assert not grabber.compressed and not frame.compressed
    assert camera.settings_log[-2:] == [(cv2.CAP_PROP_CONVERT_RGB, 0), (cv2.CAP_PROP_CONVERT_RGB, 1)]
    assert np.array_equal(frame.rgb()[1:], part(1700)[1:])  # (row 0 carries the frame's number)


def test_a_frame_that_does_not_decode_is_that_parts_error(camera, monkeypatch, tmp_path):
    monkeypatch.setattr(BufferingCamera, "raw_frames", "garbled")
    monkeypatch.setattr(camera_grabber, "KEEP_FRAMES", 50)
    engine, project = make_project(tmp_path / "project")
    stop = threading.Event()
    with History(tmp_path / "h.sqlite") as history:
        runner = Runner(Station(project, engine, history=history), VideoSource("camera:0?fourcc=MJPG", every=5),
                        RunOptions())
        thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
        thread.start()
        try:
            wait_until(lambda: history.count() >= 2, "no part recorded", timeout=60)
        finally:
            stop.set()
            thread.join(timeout=30)
        rows = history.query()
    assert not thread.is_alive()
    assert {(r.verdict.value, r.error_code) for r in rows} == {("ERROR", 1)}  # image_invalid, as the PLC reads it
    assert "did not decode: its JPEG is damaged" in rows[0].reason and rows[0].score is None
