"""Outputs the station drives itself on a remote I/O module (`inspector run --io modbus://HOST:PORT`): a real run
writes to a real Modbus TCP server (pymodbus, as an I/O module answers) that records each coil write with its
time: the reject gate pulsed for every part that is not OK, a good-part pulse, the tower light's alarm and ready;
a module that does not answer is the `io` alarm and names each part it could not reject."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from inspector_cli.main import main
from inspector_line.runner import RunOptions, Runner
from inspector_line.sources import FolderSource
from io_module import IOModule
from line_helpers import free_port, make_project, part, png_bytes
from station import Station
from station.history import History
from station.line_io.alarms import AlarmLimits
from station.line_io.remote_io import Output, RemoteIO


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("remote_io") / "proj")


def _inbox(folder: Path, parts: list) -> Path:
    folder.mkdir()
    for i, item in enumerate(parts):
        data = item if isinstance(item, bytes) else png_bytes(part(1300 + i, scratch=item))
        (folder / f"p{i}.png").write_bytes(data)
    return folder


def _run(project, inbox: Path, history: Path, io: RemoteIO, **limits) -> list[str]:
    engine, proj = project
    said: list[str] = []
    io.start()
    try:
        with History(history) as h:
            Runner(Station(proj, engine, history=h), FolderSource(inbox, settle_s=0.2),
                   RunOptions(outputs=[io], idle_exit_s=1.5, alarm_limits=AlarmLimits(
                       yield_min=None, drift_warn_at=None, **limits)), on_message=said.append).run()
    finally:
        io.close()
    return said


def test_the_reject_gate_is_pulsed_for_each_part_that_is_not_ok_and_the_lights_follow(project, tmp_path):
    module = IOModule(free_port()).start()
    try:
        io = RemoteIO(f"modbus://127.0.0.1:{module.port}", reject=Output(0, 0.15), ok=Output(1, 0.05),
                      alarm=Output(2), ready=Output(3))
        inbox = _inbox(tmp_path / "inbox", [False, True, False])  # OK, NG, OK
        _run(project, inbox, tmp_path / "h.sqlite", io, ng_streak=1)
    finally:
        module.stop()
    rejects, goods = module.pulses(0), module.pulses(1)
    assert len(rejects) == 1 and 1 <= len(goods) <= 2  # two OK pulses that overlap on one coil make one
    ready = [v for _, c, v in module.writes if c == 3]
    assert ready[0] is True and ready[-1] is False  # on while it inspected, off once it stopped
    alarm = [v for _, c, v in module.writes if c == 2]
    assert True in alarm and alarm[-1] is False  # the NG raised ng_streak; off at the stop
    assert module.coils == [False] * 16  # nothing left on


def test_every_part_that_is_not_ok_pulses_the_reject_coil(project, tmp_path):
    """One pulse each: the parts come 0.6 s apart, longer than the pulse."""
    module = IOModule(free_port()).start()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    engine, proj = project
    io = RemoteIO(f"modbus://127.0.0.1:{module.port}", reject=Output(0, 0.1))
    io.start()
    verdicts = []
    try:
        with History(tmp_path / "h.sqlite") as h:
            runner = Runner(Station(proj, engine, history=h), FolderSource(inbox, settle_s=0.1, error_after_s=0.2),
                            RunOptions(outputs=[io], idle_exit_s=2.0), on_part=lambda p: verdicts.append(p.verdict))
            thread = threading.Thread(target=runner.run)
            thread.start()
            for i, item in enumerate([True, False, b"garbage", True]):  # NG, OK, ERROR, NG
                data = item if isinstance(item, bytes) else png_bytes(part(1400 + i, scratch=item))
                (inbox / f".q{i}.tmp").write_bytes(data)
                (inbox / f".q{i}.tmp").rename(inbox / f"q{i}.png")
                time.sleep(0.6)
            thread.join(120)
    finally:
        io.close()
        module.stop()
    assert [v.value for v in verdicts] == ["NG", "OK", "ERROR", "NG"]
    assert len(module.pulses(0)) == 3  # the NG, the ERROR, the NG: never a part passed without a verdict


def test_a_module_that_does_not_answer_is_the_io_alarm_and_names_each_part_not_rejected(project, tmp_path):
    engine, proj = project
    io = RemoteIO(f"modbus://127.0.0.1:{free_port()}", reject=Output(0, 0.2))  # nobody listens there
    said: list[str] = []
    inbox = _inbox(tmp_path / "inbox", [True, False])
    io.start()
    try:
        with History(tmp_path / "h.sqlite") as h:
            summary = Runner(Station(proj, engine, history=h), FolderSource(inbox, settle_s=0.2),
                             RunOptions(outputs=[io], idle_exit_s=2.5), on_message=said.append).run()
    finally:
        io.close()
    assert any("p0.png was NOT REJECTED" in line for line in said), said
    assert "io" in summary.alarms and "parts are not rejected" in summary.alarms["io"]
    assert summary.counts.ng == 1 and summary.counts.ok == 1  # the line went on, verdicts as always


@pytest.mark.parametrize("extra, words", [
    (["--io-reject", "0"], "--io-reject goes with --io"),
    (["--io", "http://io:502", "--io-reject", "0"], "modbus://HOST:PORT"),
    (["--io", "modbus://io:502"], "drives nothing: give --io-reject, --io-ok, --io-alarm or --io-ready (or "
                                  "--io-trigger"),
    (["--io", "modbus://io:502", "--io-reject", "0:abc"], "COIL[:MS]"),
    (["--io", "modbus://io:502", "--io-alarm", "2:100"], "COIL, e.g. 3"),
    (["--io", "modbus://io:502", "--io-alarm", "2@100"], "COIL, e.g. 3"),
    (["--io", "modbus://io:502", "--io-reject", "0:200@soon"], "COIL[:MS][@AT_MS]"),
    (["--io", "modbus://io:502", "--io-reject", "0:200@-5"], "COIL[:MS][@AT_MS]"),
    (["--io", "modbus://io:502", "--io-reject", "0", "--io-ok", "0"], "a coil each"),
])
def test_bad_io_options_exit_2_with_one_line(project, tmp_path, capsys, extra, words):
    assert main(["run", str(project[1]), "--source", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err


def test_a_reject_that_would_come_late_is_not_written_and_raises_the_io_alarm_for_a_while():
    """The outputs' thread held up (a module slow to answer): a pulse more than 0.5 s behind its part would push the
    part behind, so it is not written; the part is named, and the io alarm shows it though the module answers."""
    from inference import Verdict
    from station import Outcome

    module = IOModule(free_port()).start()
    said: list[str] = []
    io = RemoteIO(f"modbus://127.0.0.1:{module.port}", reject=Output(0, 0.1), on_message=said.append)
    try:
        io.publish_result(Outcome("late.png", Verdict.NG, "", 9.0, 5.0, "v1", None))  # queued: no thread yet
        time.sleep(0.7)
        io.start()
        deadline = time.monotonic() + 10
        while not said and time.monotonic() < deadline:
            time.sleep(0.05)
        io.publish_result(Outcome("on_time.png", Verdict.NG, "", 9.0, 5.0, "v1", None))
        deadline = time.monotonic() + 10
        while not module.pulses(0) and time.monotonic() < deadline:
            time.sleep(0.05)
        problem = io.problem()
    finally:
        io.close()
        module.stop()
    assert said and "late.png was NOT REJECTED: its pulse would come" in said[0] and "ms late" in said[0]
    assert len(module.pulses(0)) == 1  # the part on time only
    assert problem is not None and "late.png was not rejected" in problem
