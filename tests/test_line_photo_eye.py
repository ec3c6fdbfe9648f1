"""A live camera triggered by a photo-eye on the remote I/O module (`inspector run --source camera:0 --io ...
--io-trigger INPUT:DELAY_MS`), and the frame each trigger is judged on.

OpenCV's VideoCapture hands out the oldest frame its driver holds: V4L2 keeps a few and drops new ones while they
are full. A run that read a frame only when a part was triggered judged a picture taken before the part was there.
No camera is attached to a test machine, so VideoCapture is replaced by a camera that exposes a frame every
FRAME_S whatever is read and buffers them as V4L2 does (tests/fake_camera.py); the scene in front of it changes
when a part arrives. The
photo-eye's input is read from a real Modbus TCP server (tests/io_module.py), the reject coil is written to it,
and the grabber, the source, the runner, the engine and the history are the real ones.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
import time

import cv2
import pytest

from inspector_cli.main import main
from inspector_line import camera_grabber
from inspector_line.camera_grabber import FrameGone, FrameGrabber
from inspector_line.runner import RunOptions, Runner
from inspector_line.sources import VideoSource
from fake_camera import FRAME_S, BufferingCamera, Scene
from io_module import IOModule
from line_helpers import wait_until, free_port, make_project, part
from station import Station
from station.history import History
from station.line_io import photo_eye
from station.line_io.io_module import io_module
from station.line_io.photo_eye import Input, PhotoEye, parse_trigger
from station.line_io.remote_io import Output, RemoteIO

@pytest.fixture()
def scene(monkeypatch):
    BufferingCamera.scene = Scene()
    monkeypatch.setattr(cv2, "VideoCapture", BufferingCamera)
    # A second of frames held: on a loaded test machine the run may come to a trigger late, and which frame it
    # takes is what these tests check, not how many are held (but the one that sets 2).
    monkeypatch.setattr(camera_grabber, "KEEP_FRAMES", 50)
    return BufferingCamera.scene


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("photo_eye") / "proj")



@contextlib.contextmanager
def _line(project, tmp_path, delay_s, on_part=None, reject=Output(0, 0.05)):
    """A run on camera:0 triggered by a photo-eye on input 2 of an I/O module whose coil 0 is the reject gate:
    (the module, the parts, the messages, the runner); stopped when the block ends."""
    engine, proj = project
    module = IOModule(free_port()).start()
    address = f"modbus://127.0.0.1:{module.port}"
    eye, io = PhotoEye(address, Input(2, delay_s)), RemoteIO(address, reject=reject)
    parts, messages, stop = [], [], threading.Event()
    with History(tmp_path / "h.sqlite") as history:
        runner = Runner(Station(proj, engine, history=history), VideoSource("camera:0"),
                        RunOptions(free_run=False, photo_eyes=[eye], outputs=[io]),
                        on_part=on_part or parts.append, on_message=messages.append)
        eye.start()
        io.start()
        thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
        thread.start()
        try:
            # The input read low once before a part comes: an input on at the eye's first read is no part.
            wait_until(lambda: module.input_reads >= 2, "the photo-eye's input is not read")
            yield module, parts, messages, runner
        finally:
            stop.set()
            thread.join(timeout=30)
            eye.close()
            io.close()
            module.stop()
        assert not thread.is_alive()


def _part_passes(module, scene, image, delay_s) -> float:
    """A part reaches the photo-eye and the camera's view `delay_s` later: the edge's time. The input stays on until
    two reads saw it, and off until two more did (a part passes the sensor for some tens of ms; a loaded test
    machine may read less often)."""
    scene.part_arrives(image, time.monotonic() + delay_s)
    reads = module.input_reads
    edge = module.set_input(2, True)
    wait_until(lambda: module.input_reads >= reads + 2, "the input is not read")
    time.sleep(0.02)
    reads = module.input_reads
    module.set_input(2, False)
    wait_until(lambda: module.input_reads >= reads + 2, "the input is not read")  # the part has passed
    return edge


def test_each_part_the_photo_eye_sees_is_judged_on_a_frame_taken_after_it_came_into_view(project, tmp_path, scene):
    """A scratched part after the line stood still: its verdict is NG and the reject coil pulses. Judged on the
    frame the driver had kept from before it (the good part before), it would have passed."""
    delay = 0.06
    with _line(project, tmp_path, delay) as (module, parts, messages, runner):
        time.sleep(0.6)  # the line stands: the driver's buffers hold frames of the part before
        assert parts == []  # free of triggers, nothing is inspected
        edge = _part_passes(module, scene, part(1501, scratch=True), delay)
        wait_until(lambda: len(parts) == 1, f"the part was not inspected: {messages}")
        time.sleep(0.4)
        edge2 = _part_passes(module, scene, part(1502), delay)
        wait_until(lambda: len(parts) == 2, f"the second part was not inspected: {messages}")
        time.sleep(0.3)
    exposed = [scene.exposed[hashlib.sha256(p.image.tobytes()).hexdigest()] for p in parts]
    assert exposed[0] >= edge + delay and exposed[1] >= edge2 + delay  # frames of the parts, in view
    assert exposed[0] - (edge + delay) < 0.25  # not some later frame either: one of the first after it
    assert [p.verdict for p in parts] == ["NG", "OK"]
    assert len(module.pulses(0)) == 1  # the scratched part was rejected, the good one was not


def test_a_part_whose_frame_was_dropped_while_the_run_was_busy_is_an_error_and_rejected(project, tmp_path, scene,
                                                                                          monkeypatch):
    """The run holds the camera's newest frames only: a part triggered while the one before still took its time,
    whose frames were all dropped by the time the run came to it, is never judged on a later part's picture."""
    monkeypatch.setattr(camera_grabber, "KEEP_FRAMES", 2)
    parts = []

    def slow(result):  # the first part's result takes the runner's thread 0.8 s (a slow receiver, say)
        parts.append(result)
        if len(parts) == 1:
            time.sleep(0.8)

    with _line(project, tmp_path, 0.0, on_part=slow) as (module, _, messages, _):
        _part_passes(module, scene, part(1503), 0.0)
        wait_until(lambda: len(parts) == 1, f"the first part was not inspected: {messages}")
        _part_passes(module, scene, part(1504), 0.0)  # its frames go while the first part's result is handled
        wait_until(lambda: len(parts) == 2, f"the second part was not answered: {messages}")
        time.sleep(0.3)
    assert parts[0].verdict == "OK"
    assert parts[1].verdict == "ERROR" and "the station is behind its triggers" in parts[1].error
    assert len(module.pulses(0)) == 1  # an ERROR is rejected too


def test_a_timed_reject_starts_its_time_after_the_parts_trigger_whatever_the_inspection_took(project, tmp_path,
                                                                                             scene):
    """A gate 0.3 s downstream of the photo-eye (`--io-reject 0:50@300`): the pulse starts 0.3 s after the edge, not
    when the result came (the inspection's time varies; the part's travel does not)."""
    with _line(project, tmp_path, 0.04, reject=Output(0, 0.3, at_s=0.3)) as (module, parts, messages, _):
        edge = _part_passes(module, scene, part(1505, scratch=True), 0.04)
        wait_until(lambda: len(parts) == 1, f"the part was not inspected: {messages}")
        time.sleep(0.5)
    assert parts[0].verdict == "NG"
    ons = [when for when, coil, value in module.writes if coil == 0 and value]
    # Never before its time; within half the pulse after it or not at all (the edge is seen within a read).
    assert len(ons) == 1 and 0.3 <= ons[0] - edge < 0.3 + 0.15 + 0.05


def test_a_result_that_comes_after_its_gate_time_is_not_rejected_and_said(project, tmp_path, scene):
    """The gate 50 ms after the edge, the camera's view 60 ms after it: the result can only come after the part
    passed the gate. Pulsed then, the gate would push the part behind; it says NOT REJECTED and raises the io
    alarm instead."""
    with _line(project, tmp_path, 0.06, reject=Output(0, 0.05, at_s=0.05)) as (module, parts, messages, runner):
        _part_passes(module, scene, part(1506, scratch=True), 0.06)
        wait_until(lambda: len(parts) == 1, f"the part was not inspected: {messages}")
        wait_until(lambda: "io" in runner.publisher.alarms.active, f"no io alarm: {messages}", timeout=5)
    assert parts[0].verdict == "NG" and module.pulses(0) == []
    assert any("was NOT REJECTED: its pulse would come" in m for m in messages)


def test_parts_triggered_and_not_inspected_when_the_run_stops_are_said(project, tmp_path, scene):
    """No verdict and no reject will come for them: the run says how many, never drops them silently."""
    with _line(project, tmp_path, 5.0) as (module, parts, messages, _):  # their frames would come 5 s after
        _part_passes(module, scene, part(1507), 5.0)  # taken by the run, waiting for its frame
        _part_passes(module, scene, part(1508), 5.0)  # waiting at the photo-eye
    assert parts == []
    assert "WARNING: 2 parts triggered were not inspected: the run stopped (no verdict, no reject for them)" \
        in messages


def test_a_timed_reject_still_due_when_the_run_stops_is_said(project, tmp_path, scene):
    with _line(project, tmp_path, 0.0, reject=Output(0, 0.1, at_s=5.0)) as (module, parts, messages, _):
        _part_passes(module, scene, part(1509, scratch=True), 0.0)
        wait_until(lambda: len(parts) == 1, f"the part was not inspected: {messages}")
    assert parts[0].verdict == "NG" and module.pulses(0) == []
    assert any(m.startswith(f"WARNING: {parts[0].name} was NOT REJECTED: the run stopped before its part reached "
                            "the gate") for m in messages)


def test_parts_past_the_queue_are_dropped_said_and_the_source_alarm(project, tmp_path, scene, monkeypatch):
    """The line faster than the station: past QUEUE_MAX parts waiting the oldest goes uninspected (no verdict, no
    reject), said at once, and the source alarm stays up for a minute so that the line sees it."""
    monkeypatch.setattr(photo_eye, "QUEUE_MAX", 2)
    parts, release = [], threading.Event()

    def stuck(result):  # the first part's result holds the runner's thread until released
        parts.append(result)
        release.wait(30)

    with _line(project, tmp_path, 0.0, on_part=stuck) as (module, _, messages, runner):
        _part_passes(module, scene, part(1511), 0.0)
        wait_until(lambda: len(parts) == 1, f"the first part was not inspected: {messages}")
        for i in range(4):  # two wait, two are dropped
            _part_passes(module, scene, part(1512 + i), 0.0)
        wait_until(lambda: sum("was dropped uninspected" in m for m in messages) == 2, f"not said: {messages}")
        release.set()
        wait_until(lambda: "dropped uninspected" in runner.publisher.alarms.active.get("source", ""),
                   f"no source alarm: {messages}", timeout=10)


def test_the_grabber_hands_over_the_first_frame_that_began_after_a_trigger(scene):
    grabber = FrameGrabber(0, "camera:0", keep=3)
    grabber.start()
    try:
        time.sleep(0.3)
        with pytest.raises(FrameGone, match="behind its triggers"):
            grabber.began_after(time.monotonic() - 0.25, timeout=0.1)  # long gone with three frames held
        t = time.monotonic()
        frame = grabber.began_after(t, timeout=1)
        assert frame.began >= t and frame.done - t < 3 * FRAME_S
        newest = grabber.newer_than(frame.seq, timeout=1)
        assert newest.seq > frame.seq
        assert grabber.began_after(time.monotonic() + 5, timeout=0.05) is None  # not yet
    finally:
        grabber.stop()


def test_a_photo_eye_that_cannot_be_read_is_the_source_alarm(project, tmp_path, scene):
    engine, proj = project
    held = socket.socket()  # bound and not listening: a connection is refused, and no other test can take the port
    held.bind(("127.0.0.1", 0))
    eye = PhotoEye(f"modbus://127.0.0.1:{held.getsockname()[1]}", Input(0))  # no module answers there
    messages, stop = [], threading.Event()
    with held, History(tmp_path / "h.sqlite") as history:
        runner = Runner(Station(proj, engine, history=history), VideoSource("camera:0"),
                        RunOptions(free_run=False, photo_eyes=[eye], idle_exit_s=2.5), on_message=messages.append)
        eye.start()
        try:
            summary = runner.run(stop)
        finally:
            eye.close()
    assert "cannot be read" in summary.alarms.get("source", "") and "parts pass unseen" in summary.alarms["source"]
    assert sum("WARNING: the photo-eye's input 0" in m for m in messages) == 1  # said once
    assert summary.counts.total == 0


def test_an_input_already_on_at_the_start_is_no_part_and_each_edge_is_one(tmp_path):
    module = IOModule(free_port()).start()
    module.set_input(1, True)  # a part standing in front of the sensor when the station starts
    eye = PhotoEye(f"modbus://127.0.0.1:{module.port}", Input(1, 0.04))
    eye.start()
    try:
        wait_until(lambda: module.input_reads >= 5, "the input is not read")
        assert eye.take_trigger() is None
        edges = []

        def seen_twice():  # each level stays until two reads saw it, however loaded the machine
            reads = module.input_reads
            wait_until(lambda: module.input_reads >= reads + 2, "the input is not read")

        for _ in range(3):
            module.set_input(1, False)
            seen_twice()
            edges.append(module.set_input(1, True))
            seen_twice()
        triggers = [eye.take_trigger() for _ in range(4)]
    finally:
        eye.close()
        module.stop()
    assert triggers[3] is None and all(t is not None for t in triggers[:3])
    for trigger, edge in zip(triggers, edges):
        assert edge <= trigger.taken < edge + 0.25  # the read that saw it: never before the edge
        assert trigger.frame_after == pytest.approx(trigger.taken + 0.04)
        assert trigger.origin == "the photo-eye"


def test_edges_within_the_gap_of_a_parts_are_the_same_part():
    """A part with holes, or a bouncing contact, makes several edges: those within GAP_MS of the last part's are
    that part (`--io-trigger 1:0:400`); the next part's, after the gap, is a part again."""
    module = IOModule(free_port()).start()
    eye = PhotoEye(f"modbus://127.0.0.1:{module.port}", parse_trigger("1:0:400", "--io-trigger"))
    eye.start()

    def level(on):  # each level held until two reads saw it
        reads = module.input_reads
        module.set_input(1, on)
        wait_until(lambda: module.input_reads >= reads + 2, "the input is not read")

    try:
        wait_until(lambda: module.input_reads >= 2, "the input is not read")
        start = time.monotonic()
        for on in (True, False, True, False, True, False):  # one part, three edges
            level(on)
        assert time.monotonic() - start < 0.4, "the machine is too slow for this test's gap"
        time.sleep(max(0.0, start + 0.45 - time.monotonic()))
        level(True)  # the next part
        level(False)
        triggers = [eye.take_trigger() for _ in range(3)]
    finally:
        eye.close()
        module.stop()
    assert [t is not None for t in triggers] == [True, True, False]
    assert triggers[1].taken - triggers[0].taken >= 0.4


@pytest.mark.parametrize("extra, words", [
    (["--io-trigger", "0"], "--io-trigger goes with --io"),
    (["--io", "modbus://io:502", "--io-trigger", "0:abc"], "INPUT[:DELAY_MS[:GAP_MS]]"),
    (["--io", "modbus://io:502", "--io-trigger", "-1"], "INPUT[:DELAY_MS[:GAP_MS]]"),
    (["--io", "modbus://io:502", "--io-trigger", "0:40:-5"], "INPUT[:DELAY_MS[:GAP_MS]]"),
    (["--io", "modbus://io:502", "--io-trigger", "0", "--modbus", "127.0.0.1:5020"], "goes without --modbus"),
    (["--io", "modbus://io:502", "--io-trigger", "0", "--trigger", "part.flag"], "--trigger goes without --io-trigger"),
])
def test_bad_photo_eye_options_exit_2_with_one_line(project, tmp_path, capsys, extra, words):
    assert main(["run", str(project[1]), "--source", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1


def test_a_photo_eye_alone_needs_no_outputs():
    io, eye = io_module("modbus://10.0.0.20:502", trigger="3:40")
    assert io is None and eye.input == Input(3, 0.04)
    assert "input 3" in eye.describe() and "40 ms" in eye.describe()
