"""The history per hour, day and shift (station/history_periods.py): what a line lead reads after a shift and an
MES pulls for its reports, from `inspector history --by` and `GET /projects/NAME/history/periods`. Production
parts make the counts and the yield; master parts' checks are counted apart; a night shift runs past midnight."""

import json
from datetime import datetime

import pytest

from inference import VerdictCounts
from station.history import History, HistoryError
from station.history_periods import parse_shifts, periods, total


def _at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()  # local time, as the periods are


@pytest.fixture
def history(tmp_path):
    h = History(tmp_path / "h.sqlite")
    parts = [("2026-12-05 21:10", "OK"), ("2026-12-05 22:05", "OK"), ("2026-12-05 23:40", "NG"),
             ("2026-12-06 01:30", "OK"), ("2026-12-06 05:59", "ERROR"), ("2026-12-06 06:00", "OK"),
             ("2026-12-06 06:45", None), ("2026-12-06 13:20", "NOT_FOUND")]
    for when, verdict in parts:
        h.record(source="s", file_name="p.png", verdict=verdict, time=_at(when))
    h.record(source="gui", file_name="b.png", verdict="NG", time=_at("2026-12-06 06:30"), purpose="bench")
    for when, verdict in (("2026-12-05 22:01", "NG"), ("2026-12-06 06:02", "OK"), ("2026-12-06 06:03", "NG")):
        h.record(source="s", file_name="rr.png", verdict=verdict, part_id="RR-1", purpose="master", expected="NG",
                 time=_at(when))
    yield h
    h.close()


def _table(found):
    return [(p.label, p.counts.ok, p.counts.ng, p.counts.total, p.masters_passed, p.masters_failed) for p in found]


def test_shifts_hours_and_days_in_local_time_with_the_night_shift_past_midnight(history):
    by_shift = periods(history, "shift", shifts=(6, 14, 22))
    assert _table(by_shift) == [("2026-12-05 14:00", 1, 0, 1, 0, 0),
                                ("2026-12-05 22:00", 2, 1, 4, 1, 0),  # 22:05 to 05:59 the next day, its ERROR too
                                ("2026-12-06 06:00", 1, 1, 4, 1, 1)]  # the bench check counts, as in counts()
    assert by_shift[2].counts.no_verdict == 1 and by_shift[1].counts.error == 1
    assert _table(periods(history, "day")) == [("2026-12-05", 2, 1, 3, 1, 0), ("2026-12-06", 2, 1, 6, 1, 1)]
    hours = periods(history, "hour")
    assert [p.label for p in hours] == ["2026-12-05 21:00", "2026-12-05 22:00", "2026-12-05 23:00",
                                        "2026-12-06 01:00", "2026-12-06 05:00", "2026-12-06 06:00",
                                        "2026-12-06 13:00"]
    # The periods add up to what the history counts over the same rows, the yield included.
    whole = total(by_shift)
    assert whole.counts == history.counts() and (whole.masters_passed, whole.masters_failed) == (2, 1)
    assert whole.counts.yield_text() == VerdictCounts(ok=4, ng=2, not_found=1).yield_text()
    # Filters are the history's: a time range, only the line's parts.
    line_only = periods(history, "shift", since=_at("2026-12-06 00:00"), purpose="line")
    assert _table(line_only) == [("2026-12-05 22:00", 1, 0, 2, 0, 0), ("2026-12-06 06:00", 1, 0, 3, 0, 0)]
    assert json.loads(json.dumps(by_shift[1].to_dict()))["counts"]["NG"] == 1


def test_shift_hours_are_checked(history):
    assert parse_shifts("22, 6,14") == (6, 14, 22) and parse_shifts("7") == (7,)
    for bad in ("6,24", "", "six", "6;14"):
        with pytest.raises(HistoryError, match="--shifts: the hours shifts start at"):
            parse_shifts(bad, "--shifts")
    with pytest.raises(HistoryError, match="by: one of hour, day, shift"):
        periods(history, "week")


def test_inspector_history_by_shift_prints_the_table_and_writes_json(history, tmp_path, capsys):
    from inspector_cli.main import main

    args = ["history", str(tmp_path), "--history", str(history.path), "--by", "shift", "--shifts", "6,14,22"]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["shift", "parts", "OK"]
    assert lines[2].split() == ["2026-12-05", "22:00", "4", "2", "1", "0", "0", "1", "66.7%", "1", "passed,", "0",
                                "failed"]
    assert lines[-1].split()[:3] == ["total", "9", "4"]
    assert main([*args, "--json", str(tmp_path / "shifts.json")]) == 0
    written = json.loads((tmp_path / "shifts.json").read_text())
    assert [(r["period"], r["total"], r["masters_failed"]) for r in written] == [
        ("2026-12-05 14:00", 1, 0), ("2026-12-05 22:00", 4, 0), ("2026-12-06 06:00", 4, 1)]
    capsys.readouterr()
    assert main([*args[:-2], "--shifts", "6,25"]) == 2
    assert capsys.readouterr().err.strip().endswith("--shifts: the hours shifts start at, 0-23, e.g. 6,14,22; "
                                                    "got '6,25'")


def test_the_service_answers_the_same_periods(history, tmp_path):
    """GET /projects/NAME/history/periods: the station's periods, and a 422 naming a bad input."""
    import shutil

    from fastapi.testclient import TestClient

    from inspector_service.app import create_app
    from line_helpers import make_project

    engine, proj = make_project(tmp_path / "projects" / "proj")
    history.close()
    shutil.copy(history.path, proj / "history.sqlite")
    with TestClient(create_app(tmp_path / "projects", engine=engine)) as client:
        r = client.get("/projects/proj/history/periods", params={"by": "shift", "since": "2026-12-06T00:00"})
        bad = [client.get("/projects/proj/history/periods", params=p)
               for p in ({"by": "week"}, {"shifts": "6,14,30"}, {"since": "yesterday-ish"}, {"purpose": "master"})]
    assert r.status_code == 200, r.text
    body = r.json()
    with History(proj / "history.sqlite") as h:
        expected = periods(h, "shift", since=_at("2026-12-06 00:00"))
    assert body["periods"] == [p.to_dict() for p in expected] and body["total"] == total(expected).to_dict()
    assert [p["label"] for p in body["periods"]] == ["2026-12-05 22:00", "2026-12-06 06:00"]
    assert [b.status_code for b in bad] == [422] * 4
    assert "by must be one of" in bad[0].json()["error"] and "shifts" in bad[1].json()["error"]
    assert "since: not a date/time or span" in bad[2].json()["error"]
