"""Prometheus metrics of the run mode (issue 20): a real HTTP scrape of `--metrics`, parsed with
prometheus_client's own parser: inspections by verdict, the latency histogram, queue depth, the outbox, alarms,
the active model version. (The service's /metrics: tests/service/test_service_records.py.)"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from station import Station
from station.history import History
from station.line_io.alarms import AlarmLimits
from station.line_io.metrics import LineMetrics
from inspector_line.runner import RunOptions, Runner
from inspector_line.sources import FolderSource
from line_helpers import Receiver, free_port, make_project, part, png_bytes

ROOT = Path(__file__).resolve().parents[1]


def scrape(url: str, token: str = "") -> dict:
    r = httpx.get(url, timeout=10, headers={"Authorization": f"Bearer {token}"} if token else {})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def _dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}/results"  # nobody listens there: the receiver is down


def test_run_metrics_by_verdict_latency_outbox_alarm_and_version(tmp_path):
    engine, proj = make_project(tmp_path / "proj")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(5):
        (inbox / f"p{i}.png").write_bytes(png_bytes(part(970 + i, scratch=i >= 3)))  # 3 OK then 2 NG
    metrics = LineMetrics()
    server = metrics.serve("127.0.0.1", 0)
    server.start()
    url = f"http://127.0.0.1:{server.port}/metrics"
    dead = _dead_url()
    try:
        with History(tmp_path / "h.sqlite") as history:
            station = Station(proj, engine, history=history)
            version = int(station.model().version[1:])
            summary = Runner(station, FolderSource(inbox, settle_s=0.2),
                             RunOptions(metrics=metrics, post_url=dead, idle_exit_s=0.5,
                                        alarm_limits=AlarmLimits(ng_streak=2, yield_min=None,
                                                                 drift_warn_at=None))).run()
            rows = history.query(descending=False)
        m = scrape(url)
    finally:
        server.close()
    assert [r.verdict for r in rows] == ["OK"] * 3 + ["NG"] * 2
    p = ("project", "proj")
    assert m[("inspector_inspections_total", (p, ("verdict", "OK")))] == 3
    assert m[("inspector_inspections_total", (p, ("verdict", "NG")))] == 2
    assert m[("inspector_inspections_total", (p, ("verdict", "ERROR")))] == 0
    assert m[("inspector_ng_zone_total", (p, ("zone", "none")))] == 2  # NG parts, calibrated without zones
    assert m[("inspector_latency_seconds_count", (p,))] == 5
    assert 0 < m[("inspector_latency_seconds_sum", (p,))] < 5 * 60
    assert m[("inspector_latency_seconds_bucket", (("le", "+Inf"), p))] == 5
    assert m[("inspector_model_version", (p,))] == version
    assert m[("inspector_queue_depth", ())] == 0
    assert m[("inspector_alarm_active", (("alarm", "ng_streak"), p))] == 1
    assert m[("inspector_alarm_active", (("alarm", "yield"), p))] == 0 and m[("inspector_alarms_active", ())] == 1
    (stats,) = summary.delivery
    t = ("target", dead)
    assert m[("inspector_outbox_pending", (t,))] == stats.pending == 5  # nobody listens: all 5 kept
    assert m[("inspector_outbox_sent_total", (t,))] == 0 and m[("inspector_outbox_failed_total", (t,))] == 0


def test_cli_run_serves_metrics_while_it_runs(tmp_path):
    """With --metrics-tokens: Prometheus' bearer token reads them, a scrape without one is refused. A PC the Modbus
    server does not answer (--modbus-allow) is counted there."""
    from pymodbus.client import ModbusTcpClient

    engine, proj = make_project(tmp_path / "proj")
    (tmp_path / "tokens.txt").write_text("prometheus read prom-0123456789abcdef\n")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(3):
        (inbox / f"p{i}.png").write_bytes(png_bytes(part(980 + i)))
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    modbus_port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "inspector_cli.entry", "run", str(proj), "--source", str(inbox),
                             "--settle", "0.2", "--history", str(tmp_path / "h.sqlite"), "--metrics", "127.0.0.1:0",
                             "--metrics-tokens", str(tmp_path / "tokens.txt"), "--modbus", f"127.0.0.1:{modbus_port}",
                             "--modbus-allow", "127.0.0.2", "--free-run"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url, lines = None, []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line)
            found = re.search(r"metrics: (http://127\.0\.0\.1:\d+/metrics)", line)
            url = url or (found.group(1) if found else None)
            if url and sum(" OK " in x for x in lines) == 3:
                break
        stranger = ModbusTcpClient("127.0.0.1", port=modbus_port, retries=0, timeout=2)
        assert stranger.connect()  # accepted, then closed before a request is read
        try:
            stranger.read_coils(0, count=1)
        except Exception:  # the connection closed or reset: what a PC that is not the PLC gets
            pass
        stranger.close()
        deadline = time.monotonic() + 30
        while (m := scrape(url, "prom-0123456789abcdef")).get(
                ("inspector_plc_refused_total", (("protocol", "modbus"),)), 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        refused = httpx.get(url, timeout=10)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert m[("inspector_inspections_total", (("project", "proj"), ("verdict", "OK")))] == 3
    assert m[("inspector_latency_seconds_count", (("project", "proj"),))] == 3
    assert m[("inspector_plc_refused_total", (("protocol", "modbus"),))] >= 1  # the stranger, as the run counted it
    assert refused.status_code == 401 and "bearer token" in refused.json()["error"]
    assert any("(Prometheus, with a bearer token of the tokens file)" in line for line in lines)


def test_metrics_behind_a_token_refuse_any_other_and_follow_the_file(tmp_path):
    from station.tokens import RELOAD_EVERY_S, TokenFile
    from inspector_line.metrics_server import TokenMetricsServer

    tokens = tmp_path / "tokens.txt"
    tokens.write_text("prometheus read prom-0123456789abcdef\nlead line lead-0123456789abcdef\n")
    metrics = LineMetrics()
    server = TokenMetricsServer(metrics, "127.0.0.1", 0, TokenFile(tokens, "metrics"))
    server.start()
    url = f"http://127.0.0.1:{server.port}/metrics"
    try:
        answers = [httpx.get(url, headers=h, timeout=10).status_code for h in (
            {}, {"Authorization": "Bearer " + "x" * 21}, {"Authorization": "Basic prom-0123456789abcdef"})]
        m = scrape(url, "lead-0123456789abcdef")  # any role reads
        post = httpx.post(url, headers={"Authorization": "Bearer prom-0123456789abcdef"}, timeout=10)
        tokens.write_text("lead line lead-0123456789abcdef\n")  # Prometheus' token revoked, the run goes on
        time.sleep(RELOAD_EVERY_S + 0.2)
        revoked = httpx.get(url, headers={"Authorization": "Bearer prom-0123456789abcdef"}, timeout=10)
    finally:
        server.close()
    assert answers == [401, 401, 401] and post.status_code == 405 and revoked.status_code == 401
    assert m[("inspector_queue_depth", ())] == 0
    assert "bearer token" in server.describe() and "reads the line's counts" not in server.describe()
    assert "no --metrics-tokens: any PC that reaches the port reads" in metrics.serve("0.0.0.0", 9100).describe()
    assert "no --metrics-tokens" not in metrics.serve("127.0.0.1", 9100).describe()


def test_serve_line_inspections_raise_alarms_and_go_through_the_outbox(tmp_path):
    """`inspector serve` hands line inspections to the run mode's publisher: the project's alarms show in
    /metrics, and --post results wait in the project's outbox while the receiver is down, then arrive in order."""
    from inspector_service.app import create_app
    from inspector_service.line import ServiceLine
    from service_helpers import LiveServer

    engine, proj = make_project(tmp_path / "projects" / "proj")
    make_project(tmp_path / "projects" / "other")
    receiver = Receiver(free_port())
    line = ServiceLine(LineMetrics(), post_url=receiver.url,
                       alarm_limits=AlarmLimits(ng_streak=2, yield_min=None, drift_warn_at=None))
    server = LiveServer(create_app(tmp_path / "projects", engine=engine, line=line)).start()
    images = [(f"s{i}.png", png_bytes(part(990 + i, scratch=i >= 3))) for i in range(5)]  # 3 OK then 2 NG
    try:
        r = httpx.post(f"{server.url}/projects/proj/infer", timeout=120,
                       files=[("images", (n, b, "image/png")) for n, b in images])
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        other = httpx.post(f"{server.url}/projects/other/infer", timeout=120,
                           files=[("images", ("o.png", png_bytes(part(999)), "image/png"))]).json()["results"]
        m = scrape(f"{server.url}/metrics")
        p = ("project", "proj")
        assert m[("inspector_alarm_active", (("alarm", "ng_streak"), p))] == 1
        alarms = httpx.get(f"{server.url}/health").json()["alarms"]  # the line's software without Prometheus
        assert list(alarms) == ["proj"] and alarms["proj"]["ng_streak"] == "ALARM ng_streak: 2 NG in a row"
        # nobody listens yet: both projects' results wait, one series per receiver (never a duplicate series)
        assert m[("inspector_outbox_pending", (("target", receiver.url),))] == 6
        assert m[("inspector_inspections_total", (p, ("verdict", "NG")))] == 2
        receiver.start()
        deadline = time.monotonic() + 30
        while len(receiver.received) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # anything sent twice would arrive now
    finally:
        server.stop()
        receiver.stop()
    assert [x["verdict"] for x in results] == ["OK"] * 3 + ["NG"] * 2
    got = [p for p in receiver.received if p["project"] == "proj"]
    assert [p["id"] for p in got] == [x["row_id"] for x in results]  # all, in order, once
    assert {p["project"] for p in receiver.received} == {"proj", "other"} and receiver.received[0]["source"] == "http"
    # Each project's history numbers its rows from 1: the receiver tells results apart by their own id (the
    # Idempotency-Key), never by the row id, or it would drop the other project's part as a duplicate.
    (theirs,) = [p for p in receiver.received if p["project"] == "other"]
    assert theirs["id"] == other[0]["row_id"] == got[0]["id"] == 1
    assert receiver.keys == [p["result_id"] for p in receiver.received] and len(set(receiver.keys)) == 6


def test_serve_refuses_bad_line_io_options_before_anything_starts(tmp_path, capsys):
    from inspector_service import cli

    for argv, named in ((["--post", "ftp://host/x"], "--post"), (["--mqtt", "http://host/topic"], "--mqtt"),
                        (["--alarm-yield", "150"], "--alarm-yield"), (["--outbox-max", "0"], "--outbox-max"),
                        (["--archive-keep-days", "3"], "without --archive"),
                        (["--masters", str(tmp_path / "none.txt")], "no such file"),
                        (["--master-every", "8h"], "goes with --masters")):
        code = cli.main(["--projects", str(tmp_path / "projects"), *argv])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and named in err, (argv, err)
    assert not (tmp_path / "projects").exists()  # nothing was created


def test_bad_metrics_options_exit_2_with_one_line(tmp_path, capsys):
    from inspector_cli.main import main

    _, proj = make_project(tmp_path / "proj")
    for extra, words in ((["--metrics-tokens", "tokens.txt"], "--metrics-tokens goes with --metrics HOST:PORT"),
                         (["--metrics", "127.0.0.1:0", "--metrics-tokens", str(tmp_path / "missing.txt")],
                          "cannot read the token file")):
        assert main(["run", str(proj), "--source", str(tmp_path), *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], err
