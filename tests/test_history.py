"""The inspection history: rows, filters, exactly-once keys, labels, retention, export, drift, bad files."""

import csv
import json
import sqlite3
import time

import numpy as np
import pytest

from station.drift import drift_of
from inspector_line.export import export_csv, export_json
from inference import Verdict
from station.history import NO_VERDICT, History, HistoryError


def _fill(h: History) -> list[int]:
    t0 = 1_700_000_000.0
    ids = [
        h.record(source="cam", file_name="a.png", verdict="OK", score=1.0, threshold=2.0, time=t0),
        h.record(source="cam", file_name="b.png", verdict="NG", score=3.0, threshold=2.0, time=t0 + 10,
                 regions=[{"bbox": [1, 2, 3, 4], "counts": True}], heatmap=b"\x89PNG fake"),
        h.record(source="cam", file_name="c.png", verdict="ERROR", error="cannot read image", time=t0 + 20),
        h.record(source="cam", file_name="d.png", verdict=None, score=0.5, reason="no verdict: not calibrated",
                 time=t0 + 30),
        h.record(source="cam", file_name="e.png", verdict="NOT_FOUND", time=t0 + 40),
    ]
    return ids


def test_rows_round_trip_and_filters(tmp_path):
    with History(tmp_path / "h.sqlite") as h:
        ids = _fill(h)
        assert len(set(ids)) == 5
        ng = h.get(ids[1])
        assert (ng.file_name, ng.verdict, ng.score, ng.threshold) == ("b.png", "NG", 3.0, 2.0)
        assert ng.regions == [{"bbox": [1, 2, 3, 4], "counts": True}]
        assert ng.heatmap_png == b"\x89PNG fake"
        assert h.get(9999) is None
        # Newest first by default; ascending on request.
        assert [r.file_name for r in h.query()] == ["e.png", "d.png", "c.png", "b.png", "a.png"]
        assert [r.file_name for r in h.query(descending=False, limit=2)] == ["a.png", "b.png"]
        assert [r.file_name for r in h.query(verdict="NG")] == ["b.png"]
        # No verdict is NULL, selected only by NO_VERDICT, never by "OK".
        assert [r.file_name for r in h.query(verdict=NO_VERDICT)] == ["d.png"]
        assert h.get(ids[3]).verdict == Verdict.NO_VERDICT and h.get(ids[3]).verdict_text == NO_VERDICT
        assert {r.file_name for r in h.query(verdict=["OK", NO_VERDICT])} == {"a.png", "d.png"}
        assert [r.file_name for r in h.query(min_score=0.9, order="score")] == ["b.png", "a.png"]
        assert [r.file_name for r in h.query(max_score=0.9)] == ["d.png"]
        assert [r.file_name for r in h.query(since=1_700_000_015.0, until=1_700_000_035.0)] == ["d.png", "c.png"]
        c = h.counts()
        assert (c.total, c.ok, c.ng, c.error, c.no_verdict, c.not_found) == (5, 1, 1, 1, 1, 1)
        # The one yield: OK / judged parts (OK, NG, NOT_FOUND); NO_VERDICT and ERROR stay out of it.
        assert c.judged == 3 and c.yield_pct == pytest.approx(100 / 3)
        with pytest.raises(HistoryError):
            h.query(order="score; DROP TABLE inspections")
        with pytest.raises(HistoryError):
            h.record(source="x", file_name="y", score=float("nan"))


def test_exactly_once_keys_survive_reopen_and_retention(tmp_path):
    path = tmp_path / "h.sqlite"
    with History(path) as h:
        first = h.record(source="dir", file_name="a.png", verdict="OK", score=1.0, key="dir/a.png#abc")
        again = h.record(source="dir", file_name="a.png", verdict="NG", score=9.0, key="dir/a.png#abc")
        assert again == first
        assert h.count() == 1 and h.get(first).verdict == "OK"
    with History(path) as h:
        assert h.seen("dir/a.png#abc") and not h.seen("dir/b.png#abc")
        assert h.apply_retention(rows=0) == 1
        assert h.count() == 0
        assert h.seen("dir/a.png#abc")  # the key outlives its row
        assert h.record(source="dir", file_name="a.png", key="dir/a.png#abc") == -1
        assert h.count() == 0


def test_retention_by_days_and_rows(tmp_path):
    with History(tmp_path / "h.sqlite") as h:
        now = time.time()
        for i in range(10):
            h.record(source="s", file_name=f"{i}.png", verdict="OK", score=float(i), time=now - (9 - i) * 86400)
        assert h.apply_retention(days=4.5) == 5
        assert sorted(r.file_name for r in h.query()) == ["5.png", "6.png", "7.png", "8.png", "9.png"]
        assert h.apply_retention(rows=2) == 3
        assert [r.file_name for r in h.query()] == ["9.png", "8.png"]
        with pytest.raises(HistoryError):
            h.apply_retention(days=-1)


def test_retention_keeps_the_marked_rows_and_names_their_archived_images(tmp_path):
    """A reviewer's mark is the evidence teaching and calibration take back: neither rule of retention removes a
    marked row until its mark is cleared, and the archive's keeper asks where their images are."""
    with History(tmp_path / "h.sqlite") as h:
        now = time.time()
        ids = [h.record(source="s", file_name=f"{i}.png", verdict="NG" if i % 3 == 0 else "OK", score=float(i),
                        time=now - (9 - i) * 86400) for i in range(10)]
        h.set_archive_path(ids[0], "archive/2026-11-27/NG/0.png")
        h.mark(ids[0], "false_reject")
        h.mark(ids[4], "false_accept")  # marked, but never archived
        h.mark(ids[8], "false_accept")
        assert sorted(h.marked_archive_paths()) == ["archive/2026-11-27/NG/0.png"]
        assert h.apply_retention(days=4.5) == 3  # 1-3; 0 and 4 are marked
        assert sorted(r.file_name for r in h.query()) == ["0.png", "4.png", "5.png", "6.png", "7.png", "8.png",
                                                          "9.png"]
        assert h.apply_retention(rows=2) == 3  # 5-7: the newest two (8, 9) and the marked ones stay
        assert sorted(r.file_name for r in h.query()) == ["0.png", "4.png", "8.png", "9.png"]
        h.mark(ids[0], None)
        assert h.marked_archive_paths() == []
        assert h.apply_retention(rows=2) == 1 and h.get(ids[0]) is None


def test_a_history_of_an_earlier_version_gains_the_index_of_marks(tmp_path):
    path = tmp_path / "h.sqlite"
    with History(path) as h:
        h.record(source="s", file_name="a.png", verdict="OK", score=1.0)
        h._db.execute("DROP INDEX inspections_marked")  # as the last version wrote it
    with History(path) as h:
        plan = h._db.execute("EXPLAIN QUERY PLAN SELECT archive_path FROM inspections WHERE label IS NOT NULL "
                             "AND archive_path IS NOT NULL").fetchall()
        assert "inspections_marked" in str(plan)
        h._db.execute("DROP INDEX inspections_marked")
    writer = sqlite3.connect(str(path), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a run in the middle of writing a row: the index cannot be made now
    try:
        with History(path, busy_timeout=0.2) as h:  # opens all the same, and reads without the index
            assert h.count() == 1 and h.marked_archive_paths() == []
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_every_mark_says_who_and_when_and_an_earlier_history_gains_the_log(tmp_path):
    """A reviewer's decision that an NG part was good is what lets it ship: the history keeps who made each mark
    and when, set and cleared, in the same transaction as the label."""
    path = tmp_path / "h.sqlite"
    with History(path) as h:
        row = h.record(source="s", file_name="a.png", verdict="NG", score=3.0)
        other = h.record(source="s", file_name="b.png", verdict="OK", score=1.0)
        h._db.execute("DROP TABLE marks")  # as an earlier version wrote it
    with History(path) as h:
        before = time.time()
        h.mark(row, "false_reject", who="rework")
        h.mark(row, None, who="ana")
        h.mark(row, "false_reject", who="ana")
        assert [(m["label"], m["who"]) for m in h.marks(row)] == [("false_reject", "rework"), (None, "ana"),
                                                                  ("false_reject", "ana")]
        marked = h.get(row)
        assert marked.marked_by == "ana" and before <= marked.marked_at <= time.time()
        assert marked.to_dict()["marked_at"].endswith("+00:00")
        listed = {r.id: r for r in h.query()}
        assert listed[row].marked_by == "ana" and listed[other].marked_by is None and h.marks(other) == []
        export_csv(tmp_path / "rows.csv", h.query())  # the MES's export says who, in columns of their own, last
        exported = {r["id"]: r for r in csv.DictReader(open(tmp_path / "rows.csv", encoding="utf-8"))}
        assert exported[str(row)]["marked_by"] == "ana" and list(exported[str(row)])[-3:] == \
            ["marked_by", "marked_at", "error_code"]  # each column added since goes after the ones before
        with pytest.raises(HistoryError, match="no inspection with id 999"):
            h.mark(999, "false_accept", who="ana")
        assert len(h.marks(999)) == 0 and h.get(row).label == "false_reject"  # nothing half-done


def test_labels(tmp_path):
    with History(tmp_path / "h.sqlite") as h:
        ids = _fill(h)
        h.mark(ids[1], "false_reject")
        assert h.get(ids[1]).label == "false_reject"
        assert [r.id for r in h.query(label="false_reject")] == [ids[1]]
        h.mark(ids[1], None)
        assert h.get(ids[1]).label is None
        with pytest.raises(HistoryError, match="label"):
            h.mark(ids[1], "maybe")
        with pytest.raises(HistoryError, match="no inspection"):
            h.mark(12345, "false_accept")


def test_export_csv_and_json(tmp_path):
    with History(tmp_path / "h.sqlite") as h:
        _fill(h)
        rows = h.query(descending=False)
    export_csv(tmp_path / "out.csv", rows)
    export_json(tmp_path / "out.json", rows)
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert [r["file_name"] for r in table] == ["a.png", "b.png", "c.png", "d.png", "e.png"]
    assert table[1]["verdict"] == "NG" and json.loads(table[1]["regions"])[0]["bbox"] == [1, 2, 3, 4]
    assert table[3]["verdict"] == "NO_VERDICT"  # never "OK"
    data = json.loads((tmp_path / "out.json").read_text())
    assert [d["verdict"] for d in data] == ["OK", "NG", "ERROR", "NO_VERDICT", "NOT_FOUND"]
    assert data[2]["error"] == "cannot read image"
    assert data[0]["time"].startswith("2023-11-14T22:13:20")


def test_corrupt_and_locked_history_are_plain_errors(tmp_path):
    bad = tmp_path / "history.sqlite"
    bad.write_bytes(b"this is not a database at all, just some bytes" * 100)
    with pytest.raises(HistoryError, match="damaged"):
        History(bad)
    assert bad.read_bytes().startswith(b"this is not a database")  # left as it was

    good = tmp_path / "locked.sqlite"
    History(good).close()
    holder = sqlite3.connect(str(good), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        h = History(good, busy_timeout=0.2)
        with pytest.raises(HistoryError, match="locked"):
            h.record(source="s", file_name="x.png", verdict="OK", score=1.0)
        h.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with pytest.raises(HistoryError, match="folder"):
        History(tmp_path)


def test_drift_warns_when_ok_scores_move_toward_the_threshold(tmp_path):
    rng = np.random.default_rng(0)
    reference = list(rng.normal(1.0, 0.05, 50))
    threshold = 2.0
    steady = drift_of(rng.normal(1.0, 0.05, 100), reference, threshold)
    assert not steady.warning and abs(steady.shift) < 0.1
    drifted = drift_of(rng.normal(1.7, 0.05, 100), reference, threshold)
    assert drifted.warning and drifted.shift == pytest.approx(0.7, abs=0.05)
    assert drifted.message.startswith("DRIFT")
    few = drift_of(rng.normal(1.7, 0.05, 5), reference, threshold)
    assert not few.warning and "too few" in few.message
    assert not drift_of([1.0], [], None).warning

    with History(tmp_path / "h.sqlite") as h:
        for s in rng.normal(1.0, 0.05, 30):
            h.record(source="s", file_name="x", verdict="OK", score=float(s), model_id="m1")
        for s in rng.normal(1.8, 0.05, 30):  # newer parts score higher
            h.record(source="s", file_name="x", verdict="OK", score=float(s), model_id="m1")
        h.record(source="s", file_name="x", verdict="NG", score=5.0, model_id="m1")  # NG rows do not count
        assert not h.drift(reference, threshold, model_id="m1", last=60).warning
        assert h.drift(reference, threshold, model_id="m1", last=30).warning
        assert h.drift(reference, threshold, model_id="other", last=30).n_recent == 0


def test_prune_keys_forgets_only_old_keys_of_files_that_left(tmp_path):
    """Old and gone: forgotten. Recent, still there, or no file key (a video frame): kept. The rows all stay."""
    from inspector_line.runner import _file_gone

    there = tmp_path / "there.png"
    there.write_bytes(b"x")
    gone = tmp_path / "gone.png"
    sha = "ab" * 32
    week = 7 * 86400
    now = time.time()
    keys = {"old gone": (f"{gone}#{sha}", now - 2 * week), "old there": (f"{there}#{sha}", now - 2 * week),
            "old video": (f"{tmp_path}/line.avi#12-34#frame7", now - 2 * week),
            "new gone": (f"{tmp_path}/gone2.png#{sha}", now)}
    with History(tmp_path / "h.sqlite") as h:
        for name, (key, when) in keys.items():
            path = key.rpartition("#")[0]
            h.record(source="cam", file_name=name, verdict="OK", key=key, time=when, file_version=(path, "3:1:7"))
        assert h.key_for_file(str(gone), "3:1:7") == keys["old gone"][0]
        assert h.key_for_file(str(gone), "3:2:7") is None  # another version of the file: not known
        assert h.prune_keys(now - week, gone=_file_gone) == 1
        assert {name for name, (key, _) in keys.items() if h.seen(key)} == {"old there", "old video", "new gone"}
        assert h.key_for_file(str(gone), "3:1:7") is None and h.key_for_file(str(there), "3:1:7")
        assert h.count() == 4
        assert h.prune_keys(now - week, gone=_file_gone) == 0  # each key is looked at once


def test_keys_recorded_after_a_pass_that_forgot_every_key_are_looked_at_too(tmp_path):
    """A line stopped for a week: its first pass forgets every key, SQLite then numbers the next keys from 1 again,
    and the history went on from the last number it had looked at, so it never looked at those keys: the history
    grew by a key a part again until a restart."""
    with History(tmp_path / "h.sqlite") as h:
        for i in range(10):
            h.record(source="s", file_name=f"{i}.png", verdict="OK", key=f"/gone/{i}.png#{i}", time=time.time() - 60)
        assert h.prune_keys(time.time(), gone=lambda key: True) == 10
        for i in range(10, 15):
            h.record(source="s", file_name=f"{i}.png", verdict="OK", key=f"/gone/{i}.png#{i}", time=time.time() - 60)
        assert h.prune_keys(time.time(), gone=lambda key: True) == 5
        assert h.count() == 15  # the rows stay


def test_a_rows_image_is_its_archived_copy_or_its_unchanged_file_and_never_another_parts(tmp_path):
    """Where the window shows a past part from, and teaches a false reject back from. A camera that names every
    part image.png overwrites the file: the row's sha256 tells the file no longer holds its part."""
    import hashlib

    folder = tmp_path / "inbox"
    folder.mkdir()
    image = folder / "image.png"
    image.write_bytes(b"part one")
    sha = hashlib.sha256(b"part one").hexdigest()
    with History(tmp_path / "h.sqlite") as h:
        row_id = h.record(source=str(folder), file_name="image.png", sha256=sha, verdict="NG", score=3.0)
        frame = h.record(source="camera:0", file_name="camera0_frame000001", sha256="cd" * 32, verdict="OK")
        assert h.get(row_id).image_path() == image
        image.write_bytes(b"part two")  # the next part, under the same name
        assert h.get(row_id).image_path() is None
        copy = tmp_path / "archive" / "2026-12-06" / "NG" / "image.png"
        copy.parent.mkdir(parents=True)
        copy.write_bytes(b"part one")
        h.set_archive_path(row_id, copy)
        assert h.get(row_id).image_path() == copy
        assert h.get(frame).image_path() is None


def test_ng_parts_by_the_zone_of_their_largest_defect(tmp_path):
    """History.ng_zones: the NG parts by the zone their largest counted region weighs most in, most first; parts
    inspected without zones under None; OK parts and master parts' checks left out; --by zone prints and exports
    the same."""
    from inspector_cli.main import main as cli_main

    def region(zone, area):
        return {"area_px": area, "counts": True, **({"zones": {zone: area}, "zone": zone} if zone else {})}

    with History(tmp_path / "h.sqlite") as h:
        for i, regions in enumerate([[region("seal", 40), region("rest", 5)], [region("rest", 90)],
                                     [region("seal", 12)], [region(None, 30)]]):
            h.record(source="t", file_name=f"ng{i}.png", verdict="NG", score=2.0, threshold=1.0, regions=regions)
        h.record(source="t", file_name="ok.png", verdict="OK", score=0.5, threshold=1.0)
        h.record(source="t", file_name="rr.png", verdict="NG", score=2.0, threshold=1.0, regions=[region("rest", 9)],
                 purpose="master", expected="NG", part_id="RR-1")
        assert h.ng_zones() == [("seal", 2), (None, 1), ("rest", 1)]
        assert h.ng_zones(verdict="OK") == h.ng_zones()  # the verdict is NG, whatever is asked
        assert h.ng_zones(purpose="master") == [("rest", 1)]
    out = tmp_path / "zones.csv"
    assert cli_main(["history", str(tmp_path), "--history", str(tmp_path / "h.sqlite"), "--by", "zone",
                     "--csv", str(out)]) == 0
    assert list(csv.reader(out.open())) == [["zone", "NG", "share"], ["seal", "2", "0.5"], ["", "1", "0.25"],
                                            ["rest", "1", "0.25"]]
