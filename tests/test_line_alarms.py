"""Line alarms (issue 20): each condition is raised when it starts, once, and cleared when it ends; a run where
every part goes NG says so on the message path (console / Run view)."""

import json

import numpy as np

from inspector_cli.main import main
from station import Station
from station.history import History
from station.line_io.alarm_log import alarm_events
from station.line_io.alarms import AlarmLimits, Alarms
from inspector_line.runner import RunOptions, Runner
from inspector_line.sources import FolderSource
from line_helpers import make_project, part, png_bytes

OFF = dict(ng_streak=0, not_found_streak=0, error_streak=0, yield_min=None, drift_warn_at=None)


def _feed(alarms, verdicts, score=None):
    return [c for v in verdicts for c in alarms.update(v, score)]


def test_ng_streak_raised_once_and_cleared_by_the_next_good_part():
    alarms = Alarms(AlarmLimits(**{**OFF, "ng_streak": 5}))
    assert _feed(alarms, ["NG"] * 4 + ["OK"] + ["NG"] * 4) == []  # 4 in a row, twice: no alarm
    (raised,) = _feed(alarms, ["NG"])
    assert raised.raised and raised.name == "ng_streak" and "5 NG in a row" in raised.message
    assert _feed(alarms, ["NG"] * 3) == [] and "8 NG in a row" in alarms.text  # still on, raised once
    (cleared,) = _feed(alarms, ["OK"])
    assert not cleared.raised and alarms.active == {} and alarms.raised_total == 1


def test_not_found_and_error_streaks():
    alarms = Alarms(AlarmLimits(**{**OFF, "not_found_streak": 3, "error_streak": 2}))
    assert _feed(alarms, ["NOT_FOUND", "NOT_FOUND", "ERROR"]) == []  # an ERROR breaks the NOT_FOUND streak
    (e,) = _feed(alarms, ["ERROR"])
    assert e.name == "error_streak" and e.raised
    changes = _feed(alarms, ["NOT_FOUND"] * 3)
    assert [(c.name, c.raised) for c in changes] == [("error_streak", False), ("not_found_streak", True)]
    assert [(c.name, c.raised) for c in _feed(alarms, ["OK"])] == [("not_found_streak", False)]


def test_yield_over_the_window_below_the_limit():
    alarms = Alarms(AlarmLimits(**{**OFF, "yield_window": 10, "yield_min": 0.8}))
    # 7 OK of 9 judged: the window is not full yet; NO_VERDICT / ERROR do not count as judged.
    assert _feed(alarms, ["OK"] * 7 + ["NG"] * 2 + ["NO_VERDICT", "ERROR"]) == []
    (raised,) = _feed(alarms, ["NG"])  # 7 / 10 < 80%
    assert raised.name == "yield" and "70.0%" in raised.message
    assert _feed(alarms, ["OK"]) == []  # the oldest OK leaves the window as this one enters: still 70%
    changes = _feed(alarms, ["OK"] * 3)  # the 3 NG are still in the window
    assert changes == [] and "yield" in alarms.active
    changes = _feed(alarms, ["OK"] * 10)
    assert [(c.name, c.raised) for c in changes] == [("yield", False)]


def test_drift_of_all_scores_not_only_ok_ones():
    rng = np.random.default_rng(0)
    reference = list(rng.normal(1.0, 0.05, 200))  # calibration OK scores around 1.0, threshold 2.0
    alarms = Alarms(AlarmLimits(**{**OFF, "drift_window": 20, "drift_warn_at": 0.5, "drift_min_count": 20}),
                    reference=reference, threshold=2.0)
    assert _feed(alarms, ["OK"] * 30, score=1.1) == []
    changes = [c for _ in range(20) for c in alarms.update("NG", 2.5)]  # every part NG: no OK score at all
    assert [(c.name, c.raised) for c in changes] == [("drift", True)]
    assert "OK and NG" in changes[0].message
    changes = [c for _ in range(20) for c in alarms.update("OK", 1.05)]
    assert [(c.name, c.raised) for c in changes] == [("drift", False)]


def test_a_run_where_every_part_goes_ng_raises_the_alarm_on_the_message_path(tmp_path, capsys):
    engine, proj = make_project(tmp_path / "proj")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(6):
        (inbox / f"n{i}.png").write_bytes(png_bytes(part(700 + i, scratch=True)))
    messages = []
    with History(tmp_path / "h.sqlite") as history:
        runner = Runner(Station(proj, engine, history=history), FolderSource(inbox, settle_s=0.2),
                        RunOptions(idle_exit_s=0.5, alarm_limits=AlarmLimits(ng_streak=5, yield_min=None)),
                        on_message=messages.append)
        summary = runner.run()
    assert summary.counts.ng == 6
    assert [m for m in messages if m.startswith("ALARM")] == ["ALARM ng_streak: 5 NG in a row"]
    assert summary.alarms == {"ng_streak": "ALARM ng_streak: 6 NG in a row"}
    # The alarm history kept it, and its end when the run stopped with it still on (station/line_io/alarm_log.py).
    events = alarm_events(tmp_path / "h.sqlite")[::-1]
    assert [(e.project, e.name, e.raised) for e in events] == [("proj", "ng_streak", True),
                                                               ("proj", "ng_streak", False)]
    assert events[0].message == "ALARM ng_streak: 5 NG in a row" and events[0].time <= events[1].time
    assert events[1].message == "alarm ended ng_streak: the line stopped while it was active"
    # ... which the shift lead reads the next morning, in words or as JSON.
    assert main(["history", str(proj), "--history", str(tmp_path / "h.sqlite"), "--alarms"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("  proj              ALARM ng_streak: 5 NG in a row")
    minutes, seconds = divmod(round(events[1].time - events[0].time), 60)
    assert out[-2:] == ["2 alarm events", f"  ng_streak (proj): raised 1x, on {minutes // 60}:{minutes % 60:02d}:"
                                          f"{seconds:02d}"]
    assert main(["history", str(proj), "--history", str(tmp_path / "h.sqlite"), "--alarms", "--json", "-"]) == 0
    assert [e["raised"] for e in json.loads(capsys.readouterr().out)] == [True, False]


def test_a_light_gone_off_is_an_error_streak_that_says_so_not_ng_parts(tmp_path):
    """The image check on the line: frames taken in the dark are ERRORs, not NG parts, and the alarm's text says
    what to look at; the good part before them is judged as usual."""
    engine, proj = make_project(tmp_path / "proj")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a0.png").write_bytes(png_bytes(part(300)))
    for i in range(1, 4):
        (inbox / f"a{i}.png").write_bytes(png_bytes((part(300 + i) * 0.1).astype(np.uint8)))
    messages = []
    with History(tmp_path / "h.sqlite") as history:
        runner = Runner(Station(proj, engine, history=history), FolderSource(inbox, settle_s=0.2),
                        RunOptions(idle_exit_s=0.5, alarm_limits=AlarmLimits(yield_min=None)),
                        on_message=messages.append)
        summary = runner.run()
        rows = history.query()
    assert (summary.counts.ok, summary.counts.ng, summary.counts.error) == (1, 0, 3)
    alarms = [m for m in messages if m.startswith("ALARM")]
    assert alarms == [alarms[0]] and alarms[0].startswith("ALARM error_streak: 3 ERROR in a row (the last: too "
                                                          "dark to inspect: median brightness")
    assert sorted(r.verdict for r in rows) == ["ERROR", "ERROR", "ERROR", "OK"]
    assert all("too dark" in r.reason for r in rows if r.verdict == "ERROR")


def test_the_plc_alarm_text_follows_a_growing_streak_and_the_log_speaks_only_at_its_start_and_end(tmp_path):
    from types import SimpleNamespace

    from station.line_io.publisher import Publisher

    class RecordingPlc:  # what a PLC server is handed (publish_result / set_alarm)
        def __init__(self):
            self.alarms = []

        def publish_result(self, outcome):
            pass

        def set_alarm(self, on, text, names=()):
            self.alarms.append((on, text))
            self.names = list(names)

        def set_ready(self, ready):
            pass

    plc, log = RecordingPlc(), []
    publisher = Publisher(tmp_path / "h.sqlite", plcs=[plc], on_message=log.append,
                          alarm_limits=AlarmLimits(**{**OFF, "ng_streak": 2}))
    for verdict in ["NG", "NG", "NG", "NG", "OK"]:
        publisher.publish({}, SimpleNamespace(verdict=verdict, score=1.0, reason="", error_code=0), 0.01)
    assert plc.alarms == [(True, "ALARM ng_streak: 2 NG in a row"), (True, "ALARM ng_streak: 3 NG in a row"),
                          (True, "ALARM ng_streak: 4 NG in a row"), (False, "")]
    assert len(log) == 2 and "2 NG in a row" in log[0] and "cleared" in log[1]
    publisher.close()
    assert [(e.raised, e.message) for e in alarm_events(tmp_path / "h.sqlite")[::-1]] == [
        (True, "ALARM ng_streak: 2 NG in a row"), (False, "alarm cleared ng_streak: NG streak ended")]


def test_alarm_totals_say_how_often_and_how_long_each_alarm_was_on():
    from station.line_io.alarm_log import AlarmEvent, alarm_totals

    def e(t, name, raised, project="p"):
        return AlarmEvent(0, t, project, name, raised, "")

    events = [e(100, "disk", False),  # on before the window began: counted from its first event
              e(110, "ng_streak", True), e(140, "ng_streak", False), e(200, "ng_streak", True),
              e(205, "yield", True, "q"), e(260, "ng_streak", False), e(300, "drift", True)]
    totals = {(t.project, t.name): (t.raised, t.seconds, t.active) for t in alarm_totals(events)}
    assert totals == {("p", "ng_streak"): (2, 90.0, False), ("q", "yield"): (1, 95.0, True),
                      ("p", "disk"): (0, 0.0, False), ("p", "drift"): (1, 0.0, True)}
    assert [t.name for t in alarm_totals(events)][:2] == ["yield", "ng_streak"] and alarm_totals([]) == []


def test_an_alarm_history_that_cannot_be_written_never_holds_up_a_part(tmp_path):
    """A history database that is not one (or a locked or full one): the alarm still reaches the PLC path and
    the log, and the failure is said once, not at every part."""
    from types import SimpleNamespace

    from station.line_io.publisher import Publisher

    broken = tmp_path / "h.sqlite"
    broken.write_bytes(b"not a database " * 100)
    log = []
    publisher = Publisher(broken, on_message=log.append, alarm_limits=AlarmLimits(**{**OFF, "ng_streak": 1}))
    for verdict in ["NG", "OK", "NG", "OK"]:
        publisher.publish({}, SimpleNamespace(verdict=verdict, score=1.0, reason="", error_code=0), 0.01)
    publisher.close()
    warnings = [m for m in log if "not kept in the alarm history" in m]
    assert len(warnings) == 1 and "they still reach the PLC" in warnings[0]
    assert [m for m in log if m.startswith("ALARM")] == ["ALARM ng_streak: 1 NG in a row"] * 2


def test_the_history_retention_holds_for_the_alarm_history_too(tmp_path):
    """`--keep-days D` drops the alarm events older than D days with the rows (before, alarms were kept by count
    only, whatever the plant's retention said)."""
    import time

    from station.line_io.alarm_log import AlarmLog
    from station.line_io.alarms import AlarmChange

    engine, proj = make_project(tmp_path / "proj")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "ok.png").write_bytes(png_bytes(part(1)))
    log = AlarmLog(tmp_path / "h.sqlite")
    now = time.time()
    log.record("proj", [AlarmChange("disk", True, "ALARM disk: 40 days ago")], when=now - 40 * 86400)
    log.record("proj", [AlarmChange("disk", False, "alarm cleared disk")], when=now - 40 * 86400 + 60)
    log.record("proj", [AlarmChange("ng_streak", True, "ALARM ng_streak: 2 days ago")], when=now - 2 * 86400)
    log.close()
    with History(tmp_path / "h.sqlite") as history:
        Runner(Station(proj, engine, history=history), FolderSource(inbox, settle_s=0.2),
               RunOptions(idle_exit_s=0.5, keep_days=30)).run()
    assert [e.message for e in alarm_events(tmp_path / "h.sqlite")] == ["ALARM ng_streak: 2 days ago"]
