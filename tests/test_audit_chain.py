"""The audit trail as a hash chain (inference/audit_chain.py): a row edited, removed or put in between by hand after
it was written is named; rows of an earlier version are taken as they are; and a row torn by a power cut while it
was appended no longer breaks the trail for good."""

from __future__ import annotations

import json

import pytest

from inference import Engine, append_audit, read_audit, verify_audit
from inference.synthetic import disc
from inspector_cli.main import main
from station import Station


@pytest.fixture(scope="module")
def audited(tiny_config, tmp_path_factory):
    """A project whose trail holds a fit, a calibration and a rollback."""
    folder = tmp_path_factory.mktemp("audit") / "p"
    with Station(folder, Engine(tiny_config), who="ana") as st:
        st.teach([disc(i)[0] for i in range(4)])
        st.calibrate([disc(20 + i)[0] for i in range(5)], note="first")
        st.activate("v1", note="back")
    return folder


def _lines(folder) -> list[bytes]:
    return (folder / "audit.jsonl").read_bytes().splitlines(keepends=True)


def _write(folder, lines) -> None:
    (folder / "audit.jsonl").write_bytes(b"".join(lines))


def test_an_untouched_trail_is_intact_and_each_hand_edit_is_named(audited, tmp_path):
    assert [r["action"] for r in read_audit(audited)] == ["fit", "calibrate", "rollback"]
    assert verify_audit(audited) == []
    original = _lines(audited)
    try:
        row = json.loads(original[1])
        row["who"] = "somebody else"  # the classic: who dragged that threshold?
        _write(audited, [original[0], (json.dumps(row) + "\n").encode(), original[2]])
        (problem,) = verify_audit(audited)
        assert "row 2 (" in problem and "calibrate" in problem and "was changed after it was written" in problem
        _write(audited, [original[0], original[2]])  # the calibration removed
        (problem,) = verify_audit(audited)
        assert "row 2" in problem and "does not follow the row before it" in problem
        forged = json.dumps({"time": "2026-12-06T00:00:00+00:00", "who": "x", "action": "calibrate"}) + "\n"
        _write(audited, [original[0], forged.encode(), *original[1:]])  # a row put in, unchained
        problems = verify_audit(audited)
        assert "row 2" in problems[0] and "put in by hand" in problems[0]
    finally:
        _write(audited, original)
    assert verify_audit(audited) == []


def test_an_earlier_versions_rows_are_taken_as_they_are_and_the_chain_starts_after_them(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    old = [{"time": "2026-11-01T08:00:00+00:00", "who": "bob", "action": "fit", "version": "v1", "note": ""},
           {"time": "2026-11-02T08:00:00+00:00", "who": "bob", "action": "calibrate", "version": "v2", "note": ""}]
    (folder / "audit.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old))
    append_audit(folder, {"action": "activate", "version": "v1"})
    append_audit(folder, {"action": "activate", "version": "v2"})
    rows = read_audit(folder)
    assert [r["version"] for r in rows] == ["v1", "v2", "v1", "v2"] and "hash" in rows[2] and "hash" not in rows[1]
    assert verify_audit(folder) == []


def test_a_row_torn_by_a_power_cut_is_cut_off_by_the_next_append(tmp_path):
    """Before, the next row was appended to the torn bytes: a damaged line in the middle, and the trail could no
    longer be read at all ("edited by hand")."""
    folder = tmp_path / "p"
    folder.mkdir()
    append_audit(folder, {"action": "fit", "version": "v1"})
    whole = (folder / "audit.jsonl").read_bytes()
    (folder / "audit.jsonl").write_bytes(whole + b'{"time": "2026-12-06T10:0')  # the power went here
    assert [r["action"] for r in read_audit(folder)] == ["fit"] and verify_audit(folder) == []
    append_audit(folder, {"action": "calibrate", "version": "v2"})
    assert [r["action"] for r in read_audit(folder)] == ["fit", "calibrate"]
    assert verify_audit(folder) == [] and (folder / "audit.jsonl").read_bytes().startswith(whole)


def test_cli_verify_says_intact_or_names_the_rows_with_exit_2(audited, tmp_path, capsys):
    assert main(["audit", str(audited), "--verify"]) == 0
    assert "is intact: 3 rows" in capsys.readouterr().out
    original = _lines(audited)
    try:
        _write(audited, [original[0], original[2]])
        assert main(["audit", str(audited), "--verify"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "does not follow the row before it" in err
    finally:
        _write(audited, original)
