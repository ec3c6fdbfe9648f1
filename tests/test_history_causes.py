"""An ERROR's cause in the history: each ERROR row keeps the ErrorCode its receivers got (the PLC's register), so a
technician can count what keeps parts from being judged (`inspector history --by cause`, the service's
/history/causes, the History view's Report…) and list the ERRORs of one cause (`--cause`)."""

import csv
import json
import sqlite3

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from inspector_cli.main import main as cli_main
from inspector_line.runner import RunOptions, Runner
from inspector_line.sources import FolderSource
from line_helpers import make_project, part, png_bytes
from station import ErrorCode, Station
from station.history import History, HistoryError
from station.history_causes import cause_records
from station.line_io.handshake import Handshake
from station.line_io.metrics import LineMetrics


@pytest.fixture(scope="module")
def line(tmp_path_factory):
    """A real run over a folder: good parts, a scratched one, a dark frame (the image check), the same file again
    twice (a frozen camera) and a file that is no image; the PLC's ErrorCode of each part beside its history row."""
    root = tmp_path_factory.mktemp("causes")
    engine, project = make_project(root / "project")
    inbox = root / "inbox"
    inbox.mkdir()
    same = png_bytes(part(61))
    files = {"p1.png": png_bytes(part(60)), "p2.png": same, "p3.png": same, "p4.png": same,
             "p5.png": png_bytes((part(62) * 0.05).astype("uint8")), "p6.png": png_bytes(part(63, scratch=True)),
             "p7.png": b"not a png at all", "p8.png": png_bytes(part(64))}
    for name, data in files.items():
        (inbox / name).write_bytes(data)
    plc, codes, metrics = Handshake(), {}, LineMetrics()
    plc.subscribe(lambda s: s.sequence and codes.setdefault(s.sequence, s.error_code))
    history_path = project / "history.sqlite"
    with History(history_path) as history:
        summary = Runner(Station(project, engine, history=history), FolderSource(inbox, settle_s=0.1, error_after_s=1),
                         RunOptions(idle_exit_s=0.5, plcs=[plc], free_run=True, metrics=metrics)).run()
        rows = sorted(history.query(), key=lambda r: r.id)
    scraped = {s.labels["cause"]: s.value for family in text_string_to_metric_families(
        generate_latest(metrics.registry).decode()) for s in family.samples if s.name == "inspector_error_cause_total"}
    return project, history_path, rows, [codes[n] for n in range(1, len(rows) + 1)], scraped, summary


def test_each_error_row_keeps_the_cause_the_plc_got(line):
    _, history_path, rows, plc_codes, scraped, summary = line
    # (the file that is no image is waited for, as a file still being written, before it is an ERROR: last)
    assert [(r.file_name, r.verdict.value, r.error_code or 0) for r in rows] == [
        ("p1.png", "OK", 0), ("p2.png", "OK", 0), ("p3.png", "ERROR", 4), ("p4.png", "ERROR", 4),
        ("p5.png", "ERROR", 2), ("p6.png", "NG", 0), ("p8.png", "OK", 0), ("p7.png", "ERROR", 1)]
    assert [r.error_code or 0 for r in rows] == plc_codes  # row by row, what the PLC's ErrorCode register said
    # The run's end says them, most first; Prometheus counts them alike, every cause from the start (a rate needs 0)
    assert summary.error_causes == {"repeated_image": 2, "image_check": 1, "image_invalid": 1}
    assert summary.causes_text == "ERROR by cause: repeated_image 2, image_check 1, image_invalid 1"
    assert scraped == {c.cause: {4: 2, 1: 1, 2: 1}.get(int(c), 0) for c in ErrorCode if c is not ErrorCode.NONE}
    assert all(r.error_code is None for r in rows if r.verdict.value != "ERROR")  # a cause is an ERROR's only
    with History(history_path) as history:
        assert history.error_causes() == [(4, 2), (1, 1), (2, 1)]
        assert [r.file_name for r in history.query(error_code=4, descending=False)] == ["p3.png", "p4.png"]
        with pytest.raises(HistoryError, match="only an ERROR has a cause"):
            history.record(source="t", file_name="x.png", verdict="OK", score=1.0, error_code=3)


def test_history_by_cause_prints_and_exports_the_errors_most_first(line, tmp_path, capsys):
    project = line[0]
    assert cli_main(["history", str(project), "--by", "cause"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:4] == ["repeated_image", "4", "2", "50.0%"] and "frozen camera" in lines[1]
    assert [line.split()[:3] for line in lines[2:]] == [["image_invalid", "1", "1"], ["image_check", "2", "1"],
                                                        ["total", "4"]]
    out = tmp_path / "causes.csv"
    assert cli_main(["history", str(project), "--by", "cause", "--csv", str(out)]) == 0
    table = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["error_code"], r["cause"], r["ERROR"], r["share"]) for r in table] == \
        [("4", "repeated_image", "2", "0.5"), ("1", "image_invalid", "1", "0.25"), ("2", "image_check", "1", "0.25")]
    rows = tmp_path / "rows.json"  # the rows' export carries each one's cause, last of its columns
    assert cli_main(["history", str(project), "--cause", "image_check", "--json", str(rows)]) == 0
    exported = json.loads(rows.read_text())
    assert [(r["file_name"], r["error_code"]) for r in exported] == [("p5.png", 2)]
    assert list(exported[0])[-1] == "error_code"
    capsys.readouterr()
    assert cli_main(["history", str(project), "--cause", "4"]) == 0  # the PLC's number does as well
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[4] for line in listed[:-1]] == ["p3.png", "p4.png"] and listed[-1].startswith("2 rows")
    assert all("  repeated_image: the same image as the part before" in line for line in listed[:-1])


@pytest.mark.parametrize("extra, words", [
    (["--cause", "dust"], "'dust' is not an ERROR's cause; use one of image_invalid (1), image_check (2)"),
    (["--cause", "no_image", "--verdict", "NG"], "only an ERROR has a cause"),
])
def test_a_cause_that_is_none_is_one_line_and_exit_2(line, capsys, extra, words):
    project = line[0]
    assert cli_main(["history", str(project), *extra]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1


def test_errors_of_a_history_written_before_the_cause_was_kept_are_not_recorded(tmp_path):
    """An earlier version's history gains the column; its ERRORs say their cause was not kept, never a guess."""
    from station.history_rows import SCHEMA

    path = tmp_path / "h.sqlite"
    db = sqlite3.connect(path)
    lines = [line for line in SCHEMA.splitlines() if not line.strip().startswith("error_code")]
    db.executescript("\n".join(lines).replace("expected TEXT,", "expected TEXT"))
    db.execute("INSERT INTO meta VALUES ('schema_version', '3')")
    db.execute("INSERT INTO inspections (time, source, file_name, verdict, reason) VALUES (1, 's', 'a.png', 'ERROR', "
               "'no image came for the Trigger within 5 s')")
    db.commit()
    db.close()
    with History(path) as h:
        h.record(source="s", file_name="b.png", verdict="ERROR", reason="dark", error_code=int(ErrorCode.IMAGE_CHECK))
        h.record(source="s", file_name="c.png", verdict="ERROR", reason="dark", error_code=int(ErrorCode.IMAGE_CHECK))
        found = h.error_causes()
        assert h.query(descending=False)[0].error_code is None
    assert found == [(2, 2), (None, 1)]
    assert [(r["cause"], r["ERROR"]) for r in cause_records(found)] == [("image_check", 2), ("not_recorded", 1)]
    assert cause_records([(42, 1)])[0]["cause"] == "code_42"  # a newer version's cause, named by its number


def test_every_cause_has_a_name_words_and_a_word_on_each_display_language():
    from station.line_io.display_words import WORDS

    causes = [c for c in ErrorCode if c is not ErrorCode.NONE]
    assert [ErrorCode.parse(c.cause) for c in causes] == causes == [ErrorCode.parse(str(int(c))) for c in causes]
    assert ErrorCode.parse(" No-Image ") is ErrorCode.NO_IMAGE
    for lang, words in WORDS.items():
        assert all(words[f"cause_{int(c)}"] for c in causes), lang
    with pytest.raises(ValueError):
        ErrorCode.parse("0")  # "not an ERROR" is no cause to ask for


def test_the_runs_end_says_its_errors_by_cause(line, tmp_path, capsys):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "good.png").write_bytes(png_bytes(part(70)))
    (inbox / "broken.png").write_bytes(b"\x89PNG but cut off")
    assert cli_main(["run", str(line[0]), "--source", str(inbox), "--history", str(tmp_path / "h.sqlite"),
                     "--settle", "0.1", "--error-after", "0.5", "--idle-exit", "1", "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "ERROR by cause: image_invalid 1" and out[-2].startswith("done: 2 inspected")


def test_two_programs_opening_an_earlier_history_at_once_both_open_it(tmp_path):
    """After an update the run (at boot) and the window may open the previous version's history together: the one
    that waits for the other's upgrade finds the column there and opens, instead of failing on a duplicate
    column."""
    import threading
    import time

    from station.history_rows import SCHEMA

    path = tmp_path / "h.sqlite"
    first = sqlite3.connect(path, isolation_level=None)
    lines = [line for line in SCHEMA.splitlines() if not line.strip().startswith("error_code")]
    first.executescript("\n".join(lines).replace("expected TEXT,", "expected TEXT"))
    first.execute("PRAGMA journal_mode = WAL")
    first.execute("INSERT INTO meta VALUES ('schema_version', '3')")
    first.execute("BEGIN IMMEDIATE")  # the first program's upgrade, under way
    first.execute("ALTER TABLE inspections ADD COLUMN error_code INTEGER")
    first.execute("UPDATE meta SET value = '4' WHERE name = 'schema_version'")
    opened = []

    def second():
        try:
            with History(path) as h:
                opened.append(h.count())
        except HistoryError as exc:
            opened.append(str(exc))

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.5)  # the second program waits for the lock the first holds
    first.execute("COMMIT")
    thread.join(timeout=30)
    first.close()
    assert opened == [0]
