"""packaging/linux/*.service: the systemd units that start `inspector run` and `inspector serve` at boot, and
the nightly `inspector backup` (a oneshot unit and its timer).

Their command lines, with the example environment files filled in as systemd does, must be what the real
parser accepts; the run unit must count run's clean stop (130 on SIGTERM) as success, or systemd would call
every shutdown a failure; and systemd's own checker must find nothing to say about them where it is installed.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from inspector_cli.backup import build_parser as backup_parser
from inspector_cli.entry import INTERRUPTED
from inspector_line.cli import run_parser
from inspector_service.cli import build_parser as serve_parser

UNITS = Path(__file__).resolve().parents[1] / "packaging" / "linux"


def unit(name: str) -> dict[str, str]:
    """KEY=value lines of a unit or environment file in packaging/linux (comments and [sections] skipped)."""
    keys = {}
    for line in (UNITS / name).read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            keys[key.strip()] = value.strip()
    return keys


def environment(path: str) -> dict[str, str]:
    """The example of the EnvironmentFile a unit names (/etc/inspector/run.env -> packaging/linux/run.env)."""
    return unit(Path(path).name)


def command_line(keys: dict[str, str]) -> list[str]:
    """ExecStart as systemd runs it: ${VAR} is one argument, $VAR splits at white space."""
    env = environment(keys["EnvironmentFile"])
    argv = []
    for word in shlex.split(keys["ExecStart"]):
        whole = re.fullmatch(r"\$\{(\w+)\}", word)
        split = re.fullmatch(r"\$(\w+)", word)
        argv += [env[whole.group(1)]] if whole else env[split.group(1)].split() if split else [word]
    return argv


@pytest.mark.parametrize("name, command", [("inspector-run.service", "run"), ("inspector-serve.service", "serve"),
                                           ("inspector-backup.service", "backup")])
def test_the_units_command_line_is_what_the_cli_accepts(name, command):
    argv = command_line(unit(name))
    assert argv[0].endswith("/inspector") and argv[1] == command
    backups = Path(environment("backup.env")["BACKUP_DIR"])  # the line watches where the nightly backup goes
    # a wrong option is SystemExit here, as on the line PC
    if command == "run":
        args = run_parser().parse_args(argv[2:])
        assert str(args.project).endswith("part1") and args.source.endswith("incoming") and args.modbus
        assert args.backups == backups
    elif command == "serve":
        args = serve_parser().parse_args(argv[2:])
        assert str(args.projects).endswith("projects") and args.host == "127.0.0.1" and args.backups == backups
    else:
        args = backup_parser().parse_args(argv[1:])
        assert str(args.project).endswith("part1") and args.keep >= 1 and not args.no_history


def test_the_run_unit_counts_runs_clean_stop_as_success():
    keys = unit("inspector-run.service")
    assert keys["KillSignal"] == "SIGTERM"
    assert str(INTERRUPTED) in keys["SuccessExitStatus"].split()
    assert keys["Restart"] == "on-failure"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("name", ["inspector-run.service", "inspector-serve.service", "inspector-backup.timer"])
def test_systemd_finds_nothing_to_say_about_the_units(name, tmp_path):
    # verify also checks that the executable exists: the bundle's path is replaced by one that does. A timer is
    # verified with the service it starts.
    names = [name, "inspector-backup.service"] if name.endswith(".timer") else [name]
    for each in names:
        text = (UNITS / each).read_text(encoding="utf-8").replace("/opt/inspector/inspector", sys.executable)
        (tmp_path / each).write_text(text, encoding="utf-8")
    proc = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / each) for each in names)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and not proc.stderr.strip() and not proc.stdout.strip(), proc.stderr + proc.stdout


def test_the_run_tells_systemd_it_is_ready_alive_and_stopping(tmp_path, monkeypatch):
    """Under the unit (Type=notify, WatchdogSec): READY=1 once the run inspects, WATCHDOG=1 every second from the
    run's own loop, STOPPING=1 as it stops; received on a real unix datagram socket, as systemd receives them."""
    import socket

    from inspector_line.runner import RunOptions, Runner
    from inspector_line.sources import FolderSource
    from line_helpers import make_project
    from station import Station
    from station.history import History

    keys = unit("inspector-run.service")
    assert keys["Type"] == "notify" and int(keys["WatchdogSec"]) >= 10
    engine, project = make_project(tmp_path / "project")
    (tmp_path / "inbox").mkdir()
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        with History(tmp_path / "h.sqlite") as history:
            Runner(Station(project, engine, history=history), FolderSource(tmp_path / "inbox"),
                   RunOptions(idle_exit_s=2.5)).run()
        systemd.settimeout(1.0)
        got = []
        while True:
            try:
                got.append(systemd.recv(256).decode())
            except socket.timeout:
                break
    assert got[0] == "READY=1" and got[-1] == "STOPPING=1"
    assert got.count("WATCHDOG=1") >= 2  # a ping a second for 2.5 s


def test_the_service_tells_systemd_it_is_ready_and_pings_only_while_it_can_answer(tmp_path, monkeypatch):
    """Under its unit (Type=notify, WatchdogSec): READY=1 once it serves, WATCHDOG=1 each second from the loop that
    answers requests, none while the inference thread is stuck in one batch past the watchdog's interval (systemd
    then restarts it), pings again once it is free, STOPPING=1 as it stops."""
    import socket
    import threading

    import httpx

    from inspector_service.app import create_app
    from line_helpers import make_project, part, png_bytes
    from service_helpers import LiveServer, heard

    keys = unit("inspector-serve.service")
    assert keys["Type"] == "notify" and int(keys["WatchdogSec"]) >= 10
    engine, project = make_project(tmp_path / "projects" / "proj")
    path = tmp_path / "notify.sock"
    release = threading.Event()
    real = engine.score_many

    def hung(*args, **kwargs):  # a backbone call that does not come back until released
        release.wait(30)
        return real(*args, **kwargs)

    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(path))
        systemd.settimeout(0.2)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.setenv("WATCHDOG_USEC", "1500000")  # 1.5 s
        server = LiveServer(create_app(tmp_path / "projects", engine=engine)).start()

        try:
            first = heard(systemd, 2.5)
            monkeypatch.setattr(engine, "score_many", hung)
            request = threading.Thread(target=httpx.post, args=(f"{server.url}/projects/proj/infer",),
                                       kwargs={"files": [("images", ("p.png", png_bytes(part(1)), "image/png"))],
                                               "timeout": 60})
            request.start()
            heard(systemd, 1.8)  # the batch starts; within the interval the pings go on
            stuck = heard(systemd, 2.0)
            release.set()
            request.join(60)
            after = heard(systemd, 2.0)
        finally:
            release.set()
            server.stop()
        last = heard(systemd, 0.5)
    assert first[0] == "READY=1" and first.count("WATCHDOG=1") >= 1
    assert "WATCHDOG=1" not in stuck, stuck
    assert after.count("WATCHDOG=1") >= 1
    assert "STOPPING=1" in last


def test_run_envs_camera_and_photo_eye_example_is_what_the_cli_accepts():
    """The commented example of a line without a PLC: a camera with its settings, a photo-eye and a timed reject."""
    from inspector_line.line_args import check_line_io_arguments

    example = {}
    for line in (UNITS / "run.env").read_text(encoding="utf-8").splitlines():
        found = re.fullmatch(r"#\s+(SOURCE|RUN_ARGS)=(.*)", line)
        if found:
            example[found.group(1)] = found.group(2).strip()
    args = run_parser().parse_args(["/srv/inspector/projects/part1", "--source", example["SOURCE"],
                                    *example["RUN_ARGS"].split()])
    check_line_io_arguments(args)  # refused options would be one line and exit 2 on the line PC
    assert args.source.startswith("camera:0?") and args.io_trigger and "@" in args.io_reject
    from inspector_line.camera_settings import parse_camera

    assert parse_camera(args.source)[1] == {"fourcc": "MJPG", "width": 1920, "height": 1080, "fps": 30}
