"""Results over MQTT against a real broker (mosquitto on 127.0.0.1, a free port, started and stopped here):
one JSON message per result with QoS 1, in order, through the outbox; the alarm retained on TOPIC/alarm; the
station's liveness retained on TOPIC/status (its last will when killed)."""

import subprocess
import time

import pytest

pytest.importorskip("paho.mqtt")

from station import Station
from station.history import History
from station.line_io.alarms import AlarmLimits
from station.line_io.mqtt import MqttReceiver
from inspector_line.runner import RunOptions, Runner
from inspector_line.sources import FolderSource
from line_helpers import make_project, part, png_bytes
from mqtt_helpers import retained_messages, subscriber


def test_results_qos1_in_order_and_retained_alarm(broker, tmp_path):
    engine, proj = make_project(tmp_path / "proj")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    names = [f"p{i}.png" for i in range(5)]
    for i, name in enumerate(names):
        (inbox / name).write_bytes(png_bytes(part(960 + i, scratch=i >= 3)))  # 3 OK then 2 NG
    client, got = subscriber(broker, ["line1/insp"])
    try:
        with History(tmp_path / "h.sqlite") as history:
            summary = Runner(Station(proj, engine, history=history), FolderSource(inbox, settle_s=0.2),
                             RunOptions(mqtt=MqttReceiver(f"mqtt://127.0.0.1:{broker}/line1/insp"), idle_exit_s=1.0,
                                        alarm_limits=AlarmLimits(ng_streak=2, yield_min=None,
                                                                 drift_warn_at=None))).run()
            rows = history.query(descending=False)
        deadline = time.monotonic() + 10
        while len(got) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.loop_stop()
        client.disconnect()
    assert [p["id"] for _, p, _ in got] == [r.id for r in rows] and [p["file_name"] for _, p, _ in got] == names
    assert [p["verdict"] for _, p, _ in got] == ["OK"] * 3 + ["NG"] * 2
    (stats,) = summary.delivery
    assert (stats.sent, stats.pending, stats.failed) == (5, 0, 0)
    # A client connecting afterwards still gets the alarm state: retained.
    ((topic, state, retained),) = retained_messages(broker, "line1/insp/alarm")
    assert retained and state["active"] == ["ng_streak"] and "2 NG in a row" in state["text"]


def test_serve_sends_each_line_inspection_to_the_project_topic_with_its_alarmretained_messages(broker, tmp_path):
    """`inspector serve --mqtt mqtt://HOST:PORT/TOPIC`: each project's HTTP line inspections go to TOPIC/NAME
    through the outbox, one QoS 1 message per part in row order; the alarm retained on TOPIC/NAME/alarm."""
    import httpx

    from inspector_service.app import create_app
    from inspector_service.line import ServiceLine
    from service_helpers import LiveServer
    from station.line_io.metrics import LineMetrics

    engine, _ = make_project(tmp_path / "projects" / "proj")
    line = ServiceLine(LineMetrics(), mqtt_url=f"mqtt://127.0.0.1:{broker}/line2",
                       alarm_limits=AlarmLimits(ng_streak=2, yield_min=None, drift_warn_at=None))
    server = LiveServer(create_app(tmp_path / "projects", engine=engine, line=line)).start()
    client, got = subscriber(broker, ["line2/proj"])
    images = [(f"s{i}.png", png_bytes(part(970 + i, scratch=i >= 2))) for i in range(4)]  # 2 OK then 2 NG
    ids = [f"A-{i}" for i in range(4)]
    try:
        r = httpx.post(f"{server.url}/projects/proj/infer", timeout=120, data={"part_id": ids},
                       files=[("images", (n, b, "image/png")) for n, b in images])
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        deadline = time.monotonic() + 15
        while len(got) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # anything sent twice would arrive now
    finally:
        client.loop_stop()
        client.disconnect()
        server.stop()
        line.close()
    assert [x["verdict"] for x in results] == ["OK"] * 2 + ["NG"] * 2
    assert [p["id"] for _, p, _ in got] == [x["row_id"] for x in results]  # every part, in order, once
    assert {p["project"] for _, p, _ in got} == {"proj"} and {p["source"] for _, p, _ in got} == {"http"}
    assert [p["file_name"] for _, p, _ in got] == [n for n, _ in images]
    assert [p["part_id"] for _, p, _ in got] == ids
    ((_, state, retained),) = retained_messages(broker, "line2/proj/alarm")
    assert retained and state["active"] == ["ng_streak"]


def _wait_for(got, predicate, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not any(predicate(m) for m in got):
        assert time.monotonic() < deadline, f"{what}: {got}"
        time.sleep(0.05)


def test_the_station_says_online_and_offline_and_the_broker_says_it_for_a_station_killed(broker, tmp_path):
    """TOPIC/status, retained: online from the run's start, offline when it stops; killed with -9, the broker
    publishes the station's last will (offline) within 1.5 keep-alives, so a SCADA never takes a dead station
    for a quiet one."""
    import os
    import signal
    import sys
    from pathlib import Path

    from station.line_io.mqtt import KEEPALIVE_S

    engine, proj = make_project(tmp_path / "proj")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    status = "line3/insp/status"
    watcher, got = subscriber(broker, [status])
    try:
        # In the run's own process: online, then offline on a clean stop.
        with History(tmp_path / "h.sqlite") as history:
            Runner(Station(proj, engine, history=history), FolderSource(inbox, settle_s=0.1),
                   RunOptions(mqtt=MqttReceiver(f"mqtt://127.0.0.1:{broker}/line3/insp"), idle_exit_s=1.0)).run()
        _wait_for(got, lambda m: m[1] == {"online": False}, "no offline after a clean stop")
        assert [m[1]["online"] for m in got if not m[2]] == [True, False]
        # `inspector run` killed with -9: no word from the station; the broker sends its will.
        got.clear()
        root = Path(__file__).resolve().parents[1]
        proc = subprocess.Popen(
            [sys.executable, "-m", "inspector_cli.entry", "run", str(proj), "--source", str(inbox),
             "--history", str(tmp_path / "h2.sqlite"), "--mqtt", f"mqtt://127.0.0.1:{broker}/line3/insp"],
            cwd=root, env=dict(os.environ, PYTHONPATH=str(root)), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_for(got, lambda m: m[1] == {"online": True}, "the station never said online", timeout=120)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            _wait_for(got, lambda m: m[1] == {"online": False}, "the broker sent no will",
                      timeout=2 * KEEPALIVE_S + 10)
        finally:
            if proc.poll() is None:
                proc.kill()
    finally:
        watcher.loop_stop()
        watcher.disconnect()
    ((_, state, retained),) = retained_messages(broker, status)
    assert retained and state == {"online": False}
