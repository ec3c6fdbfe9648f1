"""`inspector run` / `inspector history` end to end: a runner process stopped by SIGTERM, killed with -9,
restarted: every file exactly once. Exit codes and one-line errors for bad input."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from inference import os_user
from inspector_cli.main import main
from station.history import History
from line_helpers import make_project, part, png_bytes

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("line_cli") / "proj")[1]


def _runner(project: Path, inbox: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "inspector_cli.entry", "run", str(project), "--source", str(inbox), "--settle", "0.2",
         "--batch-size", "4", *extra],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_rows(history: Path, at_least: int, proc: subprocess.Popen, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if history.exists():
            with History(history) as h:
                n = h.count()
            if n >= at_least:
                return n
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} rows after {timeout} s")


def test_sigterm_kill9_restart_each_file_exactly_once(project, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    names = [f"p_{s:04d}.png" for s in range(150)]
    for s, name in enumerate(names):
        (inbox / name).write_bytes(png_bytes(part(3000 + s)))
    history = tmp_path / "h.sqlite"
    hist = ["--history", str(history)]

    # 1. SIGTERM: the part in flight finishes, the run stops cleanly with 130.
    proc = _runner(project, inbox, *hist)
    _wait_rows(history, 10, proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "done:" in out and "stopping after the part in flight" in err
    with History(history) as h:
        after_term = h.count()
    assert 10 <= after_term < 150

    # 2. kill -9 half way: at most the parts in flight are lost, nothing is half-recorded.
    proc = _runner(project, inbox, *hist)
    _wait_rows(history, after_term + 20, proc)
    proc.kill()
    proc.communicate(timeout=30)
    with History(history) as h:
        after_kill = h.count()
        rows = h.query()
    assert after_kill < 150, "the run finished before it was killed: the test proves nothing"
    assert len({r.file_name for r in rows}) == after_kill

    # 3. Restart: the rest, none twice, none missed, and the count in the lines goes on from the restart.
    proc = _runner(project, inbox, *hist, "--idle-exit", "1.5")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    with History(history) as h:
        rows = h.query(descending=False)
    counted = Counter(r.file_name for r in rows)
    assert len(rows) == 150 and set(counted) == set(names) and max(counted.values()) == 1
    assert f"{150 - after_kill} inspected" in out and f"{after_kill} already in the history" in out
    assert all(r.verdict == "OK" for r in rows)
    # One line per part with the running count and the yield.
    lines = [line for line in out.splitlines() if "yield" in line and line.strip()[0].isdigit()]
    assert len(lines) == 150 - after_kill and "yield 100.0%" in lines[-1]


def test_history_command_lists_filters_and_exports(project, tmp_path, capsys):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.png").write_bytes(png_bytes(part(1)))
    (inbox / "b.png").write_bytes(png_bytes(part(2, scratch=True)))
    (inbox / "c.png").write_bytes(b"not an image")
    hist = ["--history", str(tmp_path / "h.sqlite")]
    assert main(["run", str(project), "--source", str(inbox), "--idle-exit", "1", "--settle", "0.2",
                 "--error-after", "1", *hist]) == 0
    out = capsys.readouterr().out
    # The one yield: OK / judged parts; the ERROR is counted apart.
    assert "done: 3 inspected; yield 50.0% (1 OK / 2 judged); NG 1, NOT_FOUND 0, NO_VERDICT 0, ERROR 1" in out

    assert main(["history", str(project), *hist]) == 0
    listing = capsys.readouterr().out
    assert "3 rows" in listing and "cannot read image" in listing
    assert main(["history", str(project), "--verdict", "ng", *hist]) == 0
    listing = capsys.readouterr().out
    assert "b.png" in listing and "a.png" not in listing and "1 rows" in listing
    assert main(["history", str(project), "--since", "1h", "--json", str(tmp_path / "x.json"), *hist]) == 0
    data = json.loads((tmp_path / "x.json").read_text())
    assert [d["file_name"] for d in data] == ["a.png", "b.png", "c.png"]
    assert main(["history", str(project), "--since", "2099-01-01", "--csv", str(tmp_path / "x.csv"), *hist]) == 0
    assert (tmp_path / "x.csv").read_text().count("\n") == 1  # header only
    assert main(["history", str(project), "--drift", *hist]) == 0
    assert "over the last 1" in capsys.readouterr().out

    # A reviewer's mark from the command line, as in the window and over HTTP; then only the marked rows.
    ng_id = next(d["id"] for d in data if d["file_name"] == "b.png")
    assert main(["history", str(project), "--mark", str(ng_id), "false_reject", *hist]) == 0
    assert f"inspection {ng_id} (b.png, NG) marked false_reject" in capsys.readouterr().out
    assert main(["history", str(project), "--label", "false_reject", *hist]) == 0
    listing = capsys.readouterr().out
    assert "b.png" in listing and f"[false_reject by {os_user()}]" in listing and "a.png" not in listing and "1 rows" in listing
    assert main(["history", str(project), "--mark", str(ng_id), "none", *hist]) == 0
    assert "mark cleared" in capsys.readouterr().out
    assert main(["history", str(project), "--label", "false_reject", *hist]) == 0
    assert "0 rows" in capsys.readouterr().out
    # Several at once; one id that does not exist marks none of them.
    ok_id = next(d["id"] for d in data if d["file_name"] == "a.png")
    assert main(["history", str(project), "--mark", f"{ok_id},{ng_id},999999", "false_accept", *hist]) == 2
    assert "no inspection with id 999999" in capsys.readouterr().err
    assert main(["history", str(project), "--label", "false_accept", *hist]) == 0
    assert "0 rows" in capsys.readouterr().out
    assert main(["history", str(project), "--mark", f"{ok_id}, {ng_id}", "false_accept", *hist]) == 0
    assert capsys.readouterr().out.count("marked false_accept") == 2


@pytest.mark.parametrize("args, words", [
    (["run", "{p}", "--source", "{t}/missing"], "source not found"),
    (["run", "{p}", "--source", "camera:x"], "camera:N"),
    (["run", "{t}/noproject", "--source", "{t}"], "project"),
    (["run", "{p}", "--source", "{t}", "--move"], "--move needs --archive"),
    (["run", "{p}", "--source", "{t}", "--post", "ftp://x"], "http"),
    (["run", "{p}", "--source", "{t}", "--min-free", "3x"], "--min-free"),
    (["run", "{p}", "--source", "{t}", "--archive-keep-days", "3"], "without --archive"),
    (["run", "{p}", "--source", "{t}", "--archive", "{t}/a", "--archive-keep-days", "0"], "above 0"),
    (["history", "{p}", "--history", "{t}/none.sqlite"], "no inspection history"),
    (["history", "{p}", "--history", "{t}/bad.sqlite"], "damaged"),
    (["history", "{p}", "--history", "{t}/h.sqlite", "--since", "yesterday-ish"], "not a date"),
    (["history", "{p}", "--history", "{t}/h.sqlite", "--mark", "12", "false_reject"], "no inspection with id 12"),
    (["history", "{p}", "--history", "{t}/h.sqlite", "--mark", "12", "maybe"], "label must be one of"),
    (["history", "{p}", "--history", "{t}/h.sqlite", "--mark", "first", "false_reject"], "not an inspection id"),
])
def test_bad_input_exits_2_with_one_line(project, tmp_path, capsys, args, words):
    (tmp_path / "bad.sqlite").write_bytes(b"garbage " * 500)
    History(tmp_path / "h.sqlite").close()
    before = {p.name: p.read_bytes() for p in project.iterdir() if p.is_file()}
    argv = [a.format(p=project, t=tmp_path) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    after = {p.name: p.read_bytes() for p in project.iterdir() if p.is_file()}
    assert {k: v for k, v in after.items() if k in before} == before  # no model file touched
    assert not (tmp_path / "noproject").exists()  # before, a run left a history and its lock file there


@pytest.mark.parametrize("extra, words", [
    (["--alarm-ng", "-1"], "--alarm-ng"), (["--min-free", "lots"], "--min-free"), (["--opcua-users", "u"], "--opcua"),
    (["--modbus", "nohost"], "HOST:PORT"), (["--mqtt", "http://x"], "mqtt://"), (["--recipe", "{t}/none", "--modbus",
                                                                                "127.0.0.1:0"], "no project folder"),
    (["--masters", "{t}/m.txt"], "needs part ids"), (["--master-every", "8h"], "goes with --masters"),
    (["--masters", "{t}/none.txt", "--part-id-pattern", "SN(.+)"], "no such file"),
    (["--masters", "{t}/bad.txt", "--part-id-pattern", "SN(.+)"], "line 2: a master part is expected OK, NG or"),
    (["--masters", "{t}/m.txt", "--part-id-pattern", "SN(.+)", "--master-every", "0h"], "a span above 0"),
    (["--masters", "{t}/m.txt", "--part-id-pattern", "SN(.+)", "--master-every", "soon"], "such as 8h"),
])
def test_bad_line_io_options_create_no_history(project, tmp_path, capsys, extra, words):
    """Refused before anything opens: a bad option used to leave a new, empty history.sqlite in the project."""
    fresh = tmp_path / "fresh"
    shutil.copytree(project, fresh, ignore=shutil.ignore_patterns("history.sqlite*"))
    (tmp_path / "m.txt").write_text("RR-1 NG\n")
    (tmp_path / "bad.txt").write_text("RR-1 NG\nRR-2 maybe\n")
    assert main(["run", str(fresh), "--source", str(tmp_path), *[a.format(t=tmp_path) for a in extra]]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert not list(fresh.glob("history.sqlite*"))
