"""Master parts ("red rabbits", station/masters.py): the file a line engineer writes, the history rows that record
each check, the watch that raises master_failed / master_due and keeps them across a restart, and a run where a
master part is judged as it must be, or not."""

import sqlite3
import time

import pytest

from inference import Verdict
from station import Station
from station.history import History, HistoryError
from station.line_io.alarms import AlarmLimits
from station.line_io.handshake import Handshake
from station.line_io.metrics import LineMetrics
from station.masters import Masters, MastersError, MasterWatch
from inspector_line.runner import RunOptions, Runner
from inspector_line.sources import FolderSource
from line_helpers import make_project, part, png_bytes

HOUR = 3600.0


def _masters(tmp_path, text: str) -> Masters:
    path = tmp_path / "masters.txt"
    path.write_text(text)
    return Masters.read(path)


# -- the file ---------------------------------------------------------------------------------------------------
def test_the_masters_file_with_comments_and_ids_as_part_ids_compare(tmp_path):
    masters = _masters(tmp_path, "# shift start checks\nRR-01 NG   # a scratch\n\n007 ng\nGOLD-1 OK\nEMPTY not_found\n")
    assert len(masters) == 4 and masters.ids == ["RR-01", "007", "GOLD-1", "EMPTY"]
    assert masters.expected("rr-01") is Verdict.NG and masters.expected(" RR-01 ") is Verdict.NG
    assert masters.expected("7") is Verdict.NG and masters.expected("0007") is Verdict.NG  # a PLC's number
    assert masters.expected("gold-1") is Verdict.OK and masters.expected("EMPTY") is Verdict.NOT_FOUND
    assert masters.expected("RR-02") is None and masters.expected(None) is None and masters.expected("") is None
    assert masters.name("rr-01") == "RR-01"


@pytest.mark.parametrize("text, words", [
    ("RR-01\n", "line 1: write the part id and the verdict"),
    ("RR-01 NG\nRR-02 NG extra\n", "line 2: write the part id and the verdict"),
    ("RR-01 BAD\n", "expected OK, NG or NOT_FOUND, got 'BAD'"),
    ("RR-01 ERROR\n", "expected OK, NG or NOT_FOUND, got 'ERROR'"),
    ("RR-01 NG\nrr-01 OK\n", "line 2: part rr-01 is already a master on line 1"),
    ("12 NG\n012 OK\n", "line 2: part 012 is already a master on line 1"),
    ("# nothing yet\n\n", "names no master part"),
    (("X" * 41) + " NG\n", "at most 40 characters"),
])
def test_a_bad_masters_file_is_refused_in_one_line_naming_what_is_wrong(tmp_path, text, words):
    with pytest.raises(MastersError) as err:
        _masters(tmp_path, text)
    assert words in str(err.value) and "\n" not in str(err.value) and "masters.txt" in str(err.value)


def test_a_masters_file_saved_by_windows_notepad_reads_as_typed(tmp_path):
    path = tmp_path / "masters.txt"
    path.write_bytes("\ufeffRR-001 NG\r\nGOLD OK\r\n".encode("utf-8"))  # a byte-order mark and CRLF line ends
    masters = Masters.read(path)
    assert masters.ids == ["RR-001", "GOLD"] and masters.expected("rr-001") is Verdict.NG


def test_a_missing_or_unreadable_masters_file_is_one_line(tmp_path):
    with pytest.raises(MastersError, match="no such file"):
        Masters.read(tmp_path / "nope.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00RR NG")
    with pytest.raises(MastersError, match="cannot be read"):
        Masters.read(tmp_path / "bin.txt")


# -- the history ------------------------------------------------------------------------------------------------
def test_master_rows_carry_their_expected_verdict_stay_out_of_the_yield_and_survive_retention(tmp_path):
    with History(tmp_path / "h.sqlite") as h:
        old = time.time() - 30 * 86400
        h.record(source="s", file_name="a.png", verdict="OK", time=old)
        h.record(source="s", file_name="rr.png", verdict="OK", part_id="RR-1", purpose="master", expected="NG",
                 time=old)
        h.record(source="s", file_name="b.png", verdict="NG")
        h.record(source="s", file_name="rr.png", verdict="NG", part_id="rr-1", purpose="master", expected="NG")
        with pytest.raises(HistoryError, match="expected verdict"):
            h.record(source="s", file_name="c.png", verdict="OK", purpose="master")
        with pytest.raises(HistoryError, match="expected verdict"):
            h.record(source="s", file_name="c.png", verdict="OK", expected="OK")
        counts = h.counts()
        assert (counts.ok, counts.ng, counts.total) == (1, 1, 2)  # the two master checks are not production
        assert h.counts(purpose="master").total == 2
        failed, passed = h.query(purpose="master", order="id", descending=False)
        assert (failed.expected, failed.master_passed, passed.master_passed) == (Verdict.NG, False, True)
        assert h.query(purpose="line")[0].master_passed is None
        assert [(p, e, v) for p, e, v, _ in h.master_rows()] == [("RR-1", "NG", Verdict.OK), ("rr-1", "NG", Verdict.NG)]
        h.record(source="s", file_name="gold.png", verdict="OK", score=9.0, part_id="GOLD", purpose="master",
                 expected="OK")
        assert h.recent_ok_scores() == []  # the OK production rows have no score; the golden part's says nothing
        h.record(source="s", file_name="c.png", verdict="OK", score=1.5)
        assert h.recent_ok_scores() == [1.5]
        assert h.apply_retention(days=7) == 1  # the month-old production row; the month-old master check stays
        assert h.apply_retention(rows=0) == 2
        assert sorted(r.file_name for r in h.query()) == ["gold.png", "rr.png", "rr.png"]


def test_a_history_of_the_previous_version_gains_the_column_and_the_index(tmp_path):
    from station.history_rows import SCHEMA

    path = tmp_path / "h.sqlite"
    db = sqlite3.connect(path)  # the previous version's tables: no expected column, no master index
    lines = [line for line in SCHEMA.splitlines() if not line.strip().startswith(("expected", "error_code"))]
    db.executescript("\n".join(lines).replace("DEFAULT 'line',", "DEFAULT 'line'"))
    db.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    db.execute("INSERT INTO inspections (time, source, file_name, verdict) VALUES (1, 's', 'a.png', 'OK')")
    db.commit()
    assert "expected" not in {r[1] for r in db.execute("PRAGMA table_info(inspections)")}
    db.close()
    with History(path) as h:
        assert h.query()[0].expected is None
        h.record(source="s", file_name="rr.png", verdict="NG", part_id="RR", purpose="master", expected="NG")
        assert h.query(purpose="master")[0].master_passed is True
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone() == ("4",)
    plan = " ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN SELECT part_id, expected, verdict, time FROM "
                                             "inspections WHERE purpose = 'master' ORDER BY time, id"))
    db.close()
    assert "inspections_master" in plan  # a start reads the few master rows, not every part of the years


# -- the watch --------------------------------------------------------------------------------------------------
def test_the_watch_raises_a_failure_until_that_master_passes_again(tmp_path):
    masters = _masters(tmp_path, "RR-1 NG\nRR-2 NG\nGOLD OK\n")
    watch = MasterWatch(masters, started=0.0)
    watch.checked("RR-1", Verdict.NG, Verdict.NG, 10.0)
    assert watch.failed() is None
    watch.checked("rr-2", Verdict.NG, Verdict.OK, 11.0)
    watch.checked("GOLD", Verdict.OK, Verdict.NG, 12.0)
    text = watch.failed()  # each named as the masters file writes it
    assert "RR-2 FAILED: expected NG, got OK" in text and "GOLD FAILED: expected OK, got NG" in text
    watch.checked("RR-1", Verdict.NG, Verdict.NG, 13.0)  # another master passing clears nothing
    assert "RR-2" in watch.failed()
    watch.checked("RR-2", Verdict.NG, Verdict.NG, 14.0)
    watch.checked("gold", Verdict.OK, Verdict.OK, 15.0)
    assert watch.failed() is None and (watch.passed, watch.failed_count) == (4, 2)


def test_masters_fall_due_after_their_interval_and_never_passed_ones_count_from_the_start(tmp_path):
    masters = _masters(tmp_path, "RR-1 NG\nGOLD OK\n")
    assert MasterWatch(masters, None, started=0.0).due(now=1e9) is None  # no interval: never due
    watch = MasterWatch(masters, 8 * HOUR, started=0.0)
    assert watch.due(now=7 * HOUR) is None  # a fresh line gets one interval to pass its masters
    watch.checked("RR-1", Verdict.NG, Verdict.NG, 7 * HOUR)
    due = watch.due(now=8 * HOUR)
    assert due.startswith("master parts due (every 8 h)") and "GOLD (never passed)" in due and "RR-1" not in due
    watch.checked("GOLD", Verdict.OK, Verdict.OK, 8 * HOUR)
    watch.checked("RR-1", Verdict.NG, Verdict.OK, 9 * HOUR)  # a failure is no pass
    assert watch.due(now=14 * HOUR) is None
    assert "RR-1 (last passed 8.0 h ago)" in watch.due(now=15 * HOUR)


def test_the_watch_reads_its_state_back_from_the_history(tmp_path):
    masters = _masters(tmp_path, "RR-1 NG\nRR-2 NG\n")
    now = time.time()
    with History(tmp_path / "h.sqlite") as h:
        for part_id, verdict, ago in (("RR-1", "OK", 3), ("RR-1", "NG", 2),  # failed, then passed: fine
                                      ("RR-2", "NG", 3), ("RR-2", "OK", 1),  # passed, then failed: failed
                                      ("RR-9", "OK", 1)):  # no longer a master: says nothing
            h.record(source="s", file_name="m.png", verdict=verdict, part_id=part_id, purpose="master",
                     expected="NG", time=now - ago * HOUR)
        watch = MasterWatch(masters, 2.5 * HOUR, h, started=now)
    assert "RR-2 FAILED" in watch.failed() and "RR-1" not in watch.failed() and "RR-9" not in watch.failed()
    due = watch.due(now=now)
    assert "RR-2 (last passed 3.0 h ago)" in due and "RR-1" not in due


# -- a run ------------------------------------------------------------------------------------------------------
def test_a_run_judges_master_parts_as_checks_tells_the_plc_and_keeps_the_failure_across_a_restart(tmp_path):
    engine, proj = make_project(tmp_path / "proj")
    masters = _masters(tmp_path, "RR-1 NG\nRR-2 NG\nGOLD OK\n")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, image in (("SN0001.png", part(300)), ("SNRR-1.png", part(400, scratch=True)),
                        ("SNRR-2.png", part(401)),  # a red rabbit that the station passes: the check fails
                        ("SNGOLD.png", part(402)), ("SN0002.png", part(301))):
        (inbox / name).write_bytes(png_bytes(image))
        time.sleep(0.02)  # arrival order
    handshake, states = Handshake(), []
    handshake.subscribe(lambda s: states.append(s) if s.sequence > len(states) else None)  # each result, as written
    metrics, messages = LineMetrics(), []
    options = RunOptions(idle_exit_s=0.8, part_id_pattern=r"SN([\w-]+)", masters=masters, master_every_s=8 * HOUR,
                         plcs=[handshake], free_run=True, metrics=metrics,
                         alarm_limits=AlarmLimits(ng_streak=1, yield_min=None, drift_warn_at=None))
    with History(tmp_path / "h.sqlite") as history:
        station = Station(proj, engine, history=history)
        parts = []
        summary = Runner(station, FolderSource(inbox, settle_s=0.2), options, on_part=parts.append,
                         on_message=messages.append).run()
        rows = {r.file_name: r for r in history.query()}
    assert [(p.name, p.expected) for p in parts] == [("SN0001.png", None), ("SNRR-1.png", Verdict.NG),
                                                   ("SNRR-2.png", Verdict.NG), ("SNGOLD.png", Verdict.OK),
                                                   ("SN0002.png", None)]
    assert [p.verdict for p in parts] == [Verdict.OK, Verdict.NG, Verdict.OK, Verdict.OK, Verdict.OK]
    # The production parts alone make the counts; a red rabbit's NG raises no NG streak.
    assert (summary.counts.total, summary.counts.ok) == (2, 2)
    assert summary.master_checks == {"passed": 2, "failed": 1}
    assert not any("ng_streak" in m for m in messages)
    assert rows["SNRR-1.png"].purpose == "master" and rows["SNRR-1.png"].master_passed is True
    assert rows["SNRR-2.png"].master_passed is False and rows["SN0001.png"].purpose == "line"
    # The PLC's MasterCheck beside each verdict, and the alarm up from the failed check on.
    assert [(s.verdict, s.master_check) for s in states] == [(1, 0), (2, 1), (1, 2), (1, 1), (1, 0)]
    assert [s.alarm for s in states] == [False, False, True, True, True]
    assert set(summary.alarms) == {"master_failed"} and "RR-2 FAILED: expected NG, got OK" in summary.alarms[
        "master_failed"]
    body = metrics.exposition()[0].decode()
    assert 'inspector_master_checks_total{project="proj",result="failed"} 1.0' in body
    assert 'inspector_inspections_total{project="proj",verdict="OK"} 2.0' in body

    # A restart does not clear it; RR-2 passing again does.
    (inbox / "SNRR-2.again.png").write_bytes(png_bytes(part(403, scratch=True)))
    messages.clear()
    with History(tmp_path / "h.sqlite") as history:
        summary = Runner(Station(proj, engine, history=history), FolderSource(inbox, settle_s=0.2), options,
                         on_message=messages.append).run()
    order = [m.split(":")[0] for m in messages if "master" in m]
    assert order == ["ALARM master_failed", "master part RR-2 passed", "alarm cleared master_failed"]
    assert summary.master_checks == {"passed": 1, "failed": 0} and summary.alarms == {}
