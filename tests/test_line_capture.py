"""`inspector capture`: a camera's frames saved as PNG files to teach with, taken as `inspector run` takes them (the
same source settings, the same photo-eye trigger and delay). No camera is attached to a test machine:
tests/fake_camera.py's buffers frames as V4L2 does; the photo-eye's input is a real Modbus TCP server's
(tests/io_module.py); the command, the grabber and the photo-eye are the real ones."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from fake_camera import BufferingCamera, Scene
from inference import load_image
from inspector_cli.main import main
from inspector_line import camera_grabber
from io_module import IOModule
from line_helpers import free_port, part, wait_until


@pytest.fixture()
def scene(monkeypatch):
    BufferingCamera.scene = Scene()
    monkeypatch.setattr(cv2, "VideoCapture", BufferingCamera)
    monkeypatch.setattr(camera_grabber, "KEEP_FRAMES", 50)  # a loaded test machine may come to a part late
    return BufferingCamera.scene


def test_capture_saves_the_frame_of_each_part_the_photo_eye_sees(scene, tmp_path, capsys):
    module = IOModule(free_port()).start()
    out, codes, parts = tmp_path / "ok", [], [part(1700 + i) for i in range(2)]

    def line():  # two parts pass the photo-eye once it is read, each in the camera's view 50 ms after its edge
        wait_until(lambda: module.input_reads >= 2, "the input is not read")
        for image in parts:
            scene.part_arrives(image, time.monotonic() + 0.05)
            for level in (True, False):
                reads = module.input_reads
                module.set_input(3, level)
                wait_until(lambda: module.input_reads >= reads + 2, "the input is not read")
            time.sleep(0.3)

    passing = threading.Thread(target=line, daemon=True)
    passing.start()
    try:
        codes.append(main(["capture", "--source", "camera:0", "--out", str(out), "--count", "2",
                           "--io", f"modbus://127.0.0.1:{module.port}", "--io-trigger", "3:50"]))
    finally:
        passing.join(30)
        module.stop()
    assert codes == [0]
    files = sorted(out.glob("*.png"))
    assert len(files) == 2 and not list(out.glob(".*"))  # whole files only
    for file, image in zip(files, parts):  # each the part's own picture (the frames differ in one pixel)
        saved = load_image(file)
        assert saved.shape == image.shape and np.abs(saved.astype(int) - image).sum() < 256
    out = capsys.readouterr().out
    assert "teach with `inspector fit PROJECT" in out
    assert "1/2 camera0_frame" in out and "sharpness" in out  # each saved frame's quality, to set the camera by


def test_capture_free_running_saves_a_frame_every_interval(scene, tmp_path):
    out = tmp_path / "ok"
    t0 = time.monotonic()
    assert main(["capture", "--source", "camera:0?width=640", "--out", str(out), "--count", "3",
                 "--interval", "0.2"]) == 0
    assert len(list(out.glob("*.png"))) == 3 and time.monotonic() - t0 >= 0.4  # three, 0.2 s apart at least


@pytest.mark.parametrize("extra, words", [
    (["--source", "DIR"], "--source must be camera:N or a video file"),
    (["--source", "camera:0", "--count", "0"], "--count must be at least 1"),
    (["--source", "camera:0", "--io-trigger", "3"], "--io-trigger goes with --io"),
    (["--source", "camera:0", "--io", "modbus://io:502", "--io-trigger", "3", "--interval", "1"],
     "--io-trigger goes without --trigger and --interval"),
    (["--source", "camera:0?zoom=2"], "unknown camera setting 'zoom'"),
])
def test_bad_capture_options_exit_2_with_one_line(scene, tmp_path, capsys, extra, words):
    extra = [str(tmp_path) if value == "DIR" else value for value in extra]
    assert main(["capture", "--out", str(tmp_path / "ok"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1
    assert not (tmp_path / "ok").exists()  # nothing made for a refused command


def test_frame_quality_ranks_focus_and_sees_clipping():
    from inspector_line.frame_quality import frame_quality

    sharp = part(1710)
    blurred = cv2.GaussianBlur(sharp, (0, 0), 2.0)  # the lens turned off focus
    assert frame_quality(sharp).sharpness > 2 * frame_quality(blurred).sharpness
    white = np.full_like(sharp, 255)
    q = frame_quality(white)
    assert (q.median, q.clipped_pct, q.dark_pct, q.width, q.height) == (255, 100.0, 0.0, 64, 64)
    assert q.text().startswith("64 x 64, sharpness 0, brightness 255/255, clipped 100.0 %")
