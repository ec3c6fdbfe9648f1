"""`inspector history` exports to standard output or an existing folder only, unknown verdicts refused, and a
second `inspector run` on a busy history refused before it prints anything."""

import csv
import io
import json
import subprocess
import sys

import pytest

from inspector_cli.main import main
from line_helpers import make_project, part, png_bytes


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A project and a history with an OK, an NG and an ERROR row."""
    root = tmp_path_factory.mktemp("exports")
    project = make_project(root / "proj")[1]
    inbox = root / "inbox"
    inbox.mkdir()
    (inbox / "a.png").write_bytes(png_bytes(part(1)))
    (inbox / "b.png").write_bytes(png_bytes(part(2, scratch=True)))
    (inbox / "c.png").write_bytes(b"not an image")
    history = root / "h.sqlite"
    assert main(["run", str(project), "--source", str(inbox), "--idle-exit", "1", "--settle", "0.2",
                 "--history", str(history), "--quiet", "--error-after", "0.5"]) == 0
    return project, history


def test_dash_exports_to_standard_output(recorded, tmp_path, monkeypatch, capsys):
    project, history = recorded
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["history", str(project), "--history", str(history), "--csv", "-"]) == 0
    out, err = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["file_name"] for r in rows] == ["a.png", "b.png", "c.png"]
    assert [r["verdict"] for r in rows] == ["OK", "NG", "ERROR"]
    assert "3 rows" in err
    assert main(["history", str(project), "--history", str(history), "--json", "-", "--verdict", "NG"]) == 0
    assert [d["file_name"] for d in json.loads(capsys.readouterr().out)] == ["b.png"]
    assert list(tmp_path.iterdir()) == []  # no file named "-"


@pytest.mark.parametrize("flag", ["--csv", "--json"])
def test_an_export_into_a_missing_folder_is_exit_2_naming_it(recorded, tmp_path, capsys, flag):
    project, history = recorded
    target = tmp_path / "missing" / "dir" / "x.out"
    assert main(["history", str(project), "--history", str(history), flag, str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(tmp_path / "missing" / "dir") in err[0] and "does not exist" in err[0], err
    assert not (tmp_path / "missing").exists()


def test_an_unknown_verdict_is_exit_2(recorded, capsys):
    project, history = recorded
    assert main(["history", str(project), "--history", str(history), "--verdict", "FOO"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'FOO'" in err[0] and "not a verdict" in err[0], err
    for known in ("ok", "not_found", "none"):  # known verdicts, recorded or not, list rows (maybe none)
        assert main(["history", str(project), "--history", str(history), "--verdict", known]) == 0


def test_a_second_run_on_a_busy_history_is_refused_before_any_banner(recorded, tmp_path, capsys):
    project, history = recorded
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from filelock import FileLock; lock = FileLock(sys.argv[1]); "
         "lock.acquire(); print('held', flush=True); sys.stdin.read()", str(history) + ".lock"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        inbox = tmp_path / "inbox"
        inbox.mkdir()
        capsys.readouterr()
        assert main(["run", str(project), "--source", str(inbox), "--history", str(history), "--idle-exit", "1"]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert len(err.strip().splitlines()) == 1 and "another run is already recording" in err
    finally:
        holder.communicate("", timeout=30)
