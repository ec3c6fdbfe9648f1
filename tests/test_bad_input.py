"""Every kind of bad input to fit, infer, calibrate and info: exit 2, one line, no saved file changed (issue 8)."""

import contextlib
import os

import pytest

from bad_input_cases import CASES, prepare
from inspector_cli.main import main


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return prepare(tmp_path_factory.mktemp("bad_input"))


def tree(root):
    """Every file's bytes and every folder under root (the writer's .lock file holds nothing). The inspection
    history is a log, not a saved model: an image `infer` could not inspect is its ERROR row there, as in
    every client (tests/test_station.py checks those rows)."""
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else "dir")
            for p in sorted(root.rglob("*")) if p.name != ".lock" and not p.name.startswith("history.sqlite")}


def test_there_are_at_least_60_kinds():
    assert len(CASES) >= 60 and len({c.name for c in CASES}) == len(CASES)
    assert {c.name.split(":")[0].split(" ")[0] for c in CASES} == {"fit", "infer", "calibrate", "info"}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_exits_2_with_one_line_and_changes_nothing(root, case, capsys, monkeypatch):
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    argv = case.argv(root)
    before = tree(root)
    capsys.readouterr()
    with (case.around(root) if case.around else contextlib.nullcontext()):
        rc = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert rc == 2, f"exit {rc}: {err}"
    assert len(lines) == 1 and lines[0].startswith("inspector: error: "), err
    assert "internal error" not in err and "Traceback" not in err and "Warning" not in err
    for word in case.says(root) if case.says else ():
        assert word in lines[0], (word, lines[0])
    assert tree(root) == before, "a saved file changed"
    assert not [p for p in root.rglob(".*.tmp")], "temp files left behind"
    assert os.environ.get("PATCHCORE_MAX_IMAGE_MEGAPIXELS") == case.env.get("PATCHCORE_MAX_IMAGE_MEGAPIXELS")
