"""`--log FILE` for `inspector run` and `inspector serve` (inspector_line/console_log.py): what the console gets,
time-stamped, also in a rotating file, for a line PC without a journal."""

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from inspector_cli.main import main
from inspector_line.console_log import tee_console
from line_helpers import free_port, make_project, part, png_bytes

ROOT = Path(__file__).resolve().parents[1]
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


def test_a_runs_lines_and_its_errors_are_kept_in_the_log_file(tmp_path, capsys):
    _, proj = make_project(tmp_path / "proj")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(4):
        (inbox / f"n{i}.png").write_bytes(png_bytes(part(800 + i, scratch=True)))
    log = tmp_path / "run.log"
    assert main(["run", str(proj), "--source", str(inbox), "--idle-exit", "1", "--settle", "0.2", "--alarm-ng", "3",
                 "--history", str(tmp_path / "h.sqlite"), "--log", str(log)]) == 0
    printed = capsys.readouterr()
    lines = log.read_text().splitlines()
    assert all(STAMP.match(line) for line in lines)
    kept = [STAMP.sub("", line) for line in lines]
    # Every line the console got, stdout's and stderr's, in the order printed.
    assert sorted(kept) == sorted(line for line in (printed.out + printed.err).splitlines() if line.strip())
    assert kept[0].startswith("inspecting ") and any(k.startswith("ALARM ng_streak: 3 NG in a row") for k in kept)
    assert sum(" NG " in k and "n" in k for k in kept) >= 4 and kept[-1].startswith("still active: ALARM")

    # The next start, refused: its one error line goes into the same file, after the first run's.
    assert main(["run", str(proj), "--source", str(tmp_path / "gone"), "--log", str(log)]) == 2
    assert STAMP.sub("", log.read_text().splitlines()[-1]).startswith("inspector: error: source not found")
    assert main(["run", str(proj), "--source", str(inbox), "--log", str(tmp_path / "no" / "run.log")]) == 2
    assert "run.log" in capsys.readouterr().err


def test_lines_printed_from_many_threads_stay_whole(tmp_path, capsys):
    undo = tee_console(tmp_path / "t.log")
    try:
        def speak(n):
            for i in range(200):
                print(f"thread {n} line {i} " + "x" * 40)

        threads = [threading.Thread(target=speak, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        undo()
    capsys.readouterr()
    kept = [STAMP.sub("", line) for line in (tmp_path / "t.log").read_text().splitlines()]
    assert sorted(kept) == sorted(f"thread {n} line {i} " + "x" * 40 for n in range(4) for i in range(200))


def test_the_service_writes_its_log_to_the_file_too(tmp_path):
    projects, log, port = tmp_path / "projects", tmp_path / "serve.log", free_port()
    make_project(projects / "proj")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    server = subprocess.Popen([sys.executable, "-m", "inspector_cli.entry", "serve", "--projects", str(projects),
                               "--port", str(port), "--log", str(log)], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stderr.read()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()["status"] == "ok":
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.3)
    finally:
        server.terminate()
        console = server.communicate(timeout=60)[1]
    text = log.read_text()
    assert "INFO inspector.service: serving " in text and "GET /health 200" in text
    assert [line for line in text.splitlines() if "inspector.service: serving" in line] == \
        [line for line in console.splitlines() if "inspector.service: serving" in line]


def test_a_log_file_that_cannot_be_written_is_said_once_and_the_console_keeps_every_line(tmp_path, capsys):
    undo = tee_console(tmp_path / "t.log")
    try:
        print("before")
        sys.stdout.log.stream.close()  # as a full disk or a share gone: every write to the file fails from now on
        for i in range(3):
            print(f"part {i}")
    finally:
        undo()
    printed = capsys.readouterr()
    assert printed.out.splitlines() == ["before", "part 0", "part 1", "part 2"]
    warnings = printed.err.splitlines()
    assert len(warnings) == 1 and warnings[0].startswith(f"WARNING: the log file {tmp_path / 't.log'} cannot be "
                                                         "written")
    assert STAMP.sub("", (tmp_path / "t.log").read_text().strip()) == "before"
