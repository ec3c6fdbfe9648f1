"""The Run view: start on a watched folder, see each part's verdict and counters, warn on drift, stop."""

import functools
import shutil
import socket

import numpy as np
import pytest

import inference
from inference.synthetic import write_discs
from station.history import History, default_path

from conftest import wait_idle


@pytest.fixture(autouse=True)
def quick_error_rows(monkeypatch):
    """An unreadable file becomes its ERROR row after 1 s instead of the product's 10 (ERROR_AFTER_S), so these
    tests do not wait out a writer that cannot exist here; the wait itself is tested in test_line_settle.py."""
    from app import run_worker
    from app.panels import run_panel
    from inspector_line.sources import open_source

    for module in (run_panel, run_worker):  # the check at Start, the run's own
        monkeypatch.setattr(module, "open_source", functools.partial(open_source, error_after_s=1.0))


def _open(qtbot, window, fitted_project, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(fitted_project, project)
    assert window.open_project(project, ask=False)
    wait_idle(qtbot, window)
    return project


def _run_view_on(qtbot, window, fitted_project, tmp_path, good=(), scratched=()):
    """The project opened, a watched folder with discs `good` and `scratched` (in that order), the Run view on it:
    (project, panel)."""
    project = _open(qtbot, window, fitted_project, tmp_path)
    inbox = tmp_path / "inbox"
    write_discs(inbox, good)
    write_discs(inbox, scratched, scratch=True)
    panel = window.open_run_view()
    panel.source_edit.setText(str(inbox))
    return project, panel


def test_run_view_inspects_a_folder_and_stops(qtbot, window, fitted_project, tmp_path, answerer):
    project = _open(qtbot, window, fitted_project, tmp_path)
    inbox = tmp_path / "inbox"
    write_discs(inbox, range(20, 22))
    write_discs(inbox, [60], scratch=True)
    (inbox / "zz_broken.png").write_bytes(b"not an image")
    panel = window.open_run_view()
    assert panel.isVisible() and not panel.running
    panel.source_edit.setText(str(inbox))
    panel.archive_edit.setText(str(tmp_path / "archive"))
    assert panel.start()
    assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()
    qtbot.waitUntil(lambda: panel.last is not None and panel.last.counts.total == 4, timeout=120000)

    verdicts = [panel.table.item(r, 2).text() for r in range(panel.table.rowCount())]
    names = [panel.table.item(r, 1).text() for r in range(panel.table.rowCount())]
    assert sorted(zip(names, verdicts)) == [("ng_060.png", "NG"), ("ok_020.png", "OK"), ("ok_021.png", "OK"),
                                            ("zz_broken.png", "ERROR")]
    assert names[0] == "zz_broken.png"  # newest first; an unreadable file gets its second look last
    assert panel.verdict_label.text() == "ERROR"
    assert panel.counters_label.text() == "Total 4   NG 1   ERROR 1   Yield 66.7%"  # the one yield: OK / judged
    with History(default_path(project)) as history:  # the same history as `inspector run`
        assert sorted((r.file_name, r.verdict) for r in history.query()) == sorted(zip(names, verdicts))
    # The archive's own thread copies each part after its answer: the last may land a moment after its row (this
    # asserted at once, and failed now and then on a loaded machine).
    qtbot.waitUntil(lambda: len(list((tmp_path / "archive").rglob("*.png"))) == 4, timeout=30000)

    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=30000)
    assert panel.start_button.isEnabled() and "4 inspected" in panel.status_label.text()
    assert answerer.seen == []


def test_run_view_shows_the_last_part_with_its_heatmap(qtbot, window, fitted_project, tmp_path):
    _open(qtbot, window, fitted_project, tmp_path)
    inbox = tmp_path / "inbox"
    write_discs(inbox, [61], scratch=True)
    panel = window.open_run_view()
    panel.source_edit.setText(str(inbox))
    assert panel.start()
    qtbot.waitUntil(lambda: panel.last is not None, timeout=120000)
    assert panel.verdict_label.text() == "NG" and "#d93025" in panel.verdict_label.styleSheet()
    assert panel.view.image is not None and panel.view.result is panel.last.result
    assert panel.view.result.ng_regions  # the regions are drawn over the live image
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=30000)


def test_run_view_warns_on_drift(qtbot, window, fitted_project, tmp_path):
    project = _open(qtbot, window, fitted_project, tmp_path)
    model = window.session.model
    cal = model.calibration
    median = float(np.median(cal.ok_scores))
    with History(default_path(project)) as history:  # recent OK parts scoring close to the threshold
        for i in range(30):
            history.record(source="line", file_name=f"{i}.png", verdict="OK",
                           score=median + 0.8 * (cal.threshold - median), model_id=model.model_id)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    panel = window.open_run_view()
    panel.source_edit.setText(str(inbox))
    assert panel.start()
    qtbot.waitUntil(lambda: panel.drift_label.isVisible(), timeout=60000)
    assert panel.drift_label.text().startswith("DRIFT")
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=30000)


def test_run_view_refuses_a_missing_source(qtbot, window, fitted_project, tmp_path, answerer):
    _open(qtbot, window, fitted_project, tmp_path)
    panel = window.open_run_view()
    panel.source_edit.setText(str(tmp_path / "no_such_folder"))
    assert not panel.start()
    assert not panel.running and any("source not found" in text for text in answerer.seen)
    assert inference.has_model(tmp_path / "project")


def test_run_view_shows_the_line_alarms_while_they_are_active(qtbot, window, fitted_project, tmp_path):
    """Issue 23: the alarms of the line (issue 20: raised and cleared by the runner) in the window."""
    _open(qtbot, window, fitted_project, tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(3):  # three unusable images in a row: the ERROR streak alarm (default 3)
        (inbox / f"a_broken_{i}.png").write_bytes(b"not an image")
    panel = window.open_run_view()
    panel.source_edit.setText(str(inbox))
    assert panel.start()
    qtbot.waitUntil(lambda: panel.alarm_label.isVisible(), timeout=120000)
    assert list(panel.alarms) == ["error_streak"] and panel.alarm_label.text().startswith("ALARM error_streak")
    write_discs(inbox, [22])  # a good part ends the streak: the alarm is cleared
    # The runner says "alarm cleared" as it records the part, and the part's result follows as its own signal:
    # under load the test can see the first before the second (a flaky failure, fourteenth session).
    qtbot.waitUntil(lambda: not panel.alarm_label.isVisible() and panel.last.verdict == "OK", timeout=120000)
    assert panel.alarms == {}
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=30000)


def test_run_view_checks_master_parts_apart_and_refuses_masters_without_part_ids(qtbot, window, fitted_project,
                                                                                tmp_path, answerer):
    """A red rabbit the station lets through: the table says so, the counters leave it out, the alarm rises."""
    _open(qtbot, window, fitted_project, tmp_path)
    inbox = tmp_path / "inbox"
    write_discs(inbox, range(20, 22))  # ok_020.png, ok_021.png: production parts
    (tmp_path / "masters.txt").write_text("021 NG\n")  # ok_021.png is a master that must come out NG
    panel = window.open_run_view()
    panel.source_edit.setText(str(inbox))
    panel.masters_edit.setText(str(tmp_path / "masters.txt"))
    assert not panel.start() and "part id" in answerer.seen[-1]  # a master is known by its part id
    panel.part_id_edit.setText(r"ok_(\d+)")
    assert panel.start()
    qtbot.waitUntil(lambda: "master_failed" in panel.alarms and panel.table.rowCount() == 2, timeout=120000)
    shown = {panel.table.item(r, 1).text(): panel.table.item(r, 2).text() for r in range(panel.table.rowCount())}
    assert shown == {"ok_020.png": "OK", "ok_021.png": "OK (master FAILED)"}
    assert panel.counters_label.text().startswith("Total 1 ")  # production parts only
    assert "021 FAILED: expected NG, got OK" in panel.alarm_label.text()
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=30000)


def test_run_view_serves_the_plc_which_triggers_each_part(qtbot, window, fitted_project, tmp_path, answerer):
    """The PLC over Modbus TCP from the window (docs/plc.md), driven by the real pymodbus client: nothing is
    inspected before its Trigger; each Trigger gives one part's verdict and ResultReady; Ack ends the cycle; the
    port is closed when the run stops. A bad address, or Free run without a PLC, is a message, not a run."""
    from pymodbus.client import ModbusTcpClient

    from line_helpers import free_port

    project, panel = _run_view_on(qtbot, window, fitted_project, tmp_path, [20], [60])
    panel.modbus_edit.setText("127.0.0.1")
    assert not panel.start() and "HOST:PORT" in answerer.seen[-1]
    panel.modbus_edit.setText("")
    panel.free_run_check.setChecked(True)
    assert not panel.start() and "Free run goes with a PLC" in answerer.seen[-1]
    panel.free_run_check.setChecked(False)
    port = free_port()
    panel.modbus_edit.setText(f"127.0.0.1:{port}")
    assert panel.start()
    plc = ModbusTcpClient("127.0.0.1", port=port)
    qtbot.waitUntil(plc.connect, timeout=30000)
    try:
        qtbot.wait(1000)
        assert panel.last is None  # two images wait for their Trigger
        codes = []
        for _ in range(2):
            assert plc.write_coil(0, True).status  # Trigger
            qtbot.waitUntil(lambda: plc.read_coils(0, count=3).bits[2], timeout=60000)  # ResultReady
            codes.append(plc.read_holding_registers(0, count=1).registers[0])  # the verdict
            assert plc.write_coil(3, True).status  # Ack
            qtbot.waitUntil(lambda: not plc.read_coils(0, count=3).bits[2], timeout=30000)
    finally:
        plc.close()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=30000)
    with History(default_path(project)) as history:
        rows = history.query(descending=False)
    assert [r.verdict for r in rows] and codes == [inference.Verdict(r.verdict).code for r in rows]
    assert sorted(r.verdict for r in rows) == ["NG", "OK"]
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=30000)
    assert not ModbusTcpClient("127.0.0.1", port=port).connect()  # the run's server is closed

    with socket.socket() as taken:  # another program holds the port: the run stops at once and says so
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        panel.modbus_edit.setText(f"127.0.0.1:{taken.getsockname()[1]}")
        assert panel.start()
        qtbot.waitUntil(lambda: not panel.running, timeout=30000)
    assert "cannot serve Modbus TCP on 127.0.0.1" in answerer.seen[-1] and panel.table.rowCount() == 0


def test_run_view_recalls_the_fields_of_the_last_run_started(qtbot, make_window, fitted_project, tmp_path):
    """The station's folder, archive, part id pattern, masters file and PLC address are the same from one day to
    the next: a window opened again shows those of the last run started (the window's QSettings)."""
    window = make_window()
    _open(qtbot, window, fitted_project, tmp_path)
    inbox = tmp_path / "inbox"
    write_discs(inbox, [20])
    (tmp_path / "masters.txt").write_text("999 NG\n")
    panel = window.open_run_view()
    fields = {"source_edit": str(inbox), "archive_edit": str(tmp_path / "archive"), "part_id_edit": r"ok_(\d+)",
              "masters_edit": str(tmp_path / "masters.txt")}
    for name, text in fields.items():
        getattr(panel, name).setText(text)
    assert panel.start()
    qtbot.waitUntil(lambda: panel.last is not None, timeout=120000)
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=30000)
    panel.source_edit.setText("typed, never started")  # only a run started is remembered
    window.close()

    again = make_window().open_run_view()
    assert {name: getattr(again, name).text() for name in fields} == fields
    assert again.modbus_edit.text() == "" and not again.free_run_check.isChecked()


def test_run_view_alarm_limits_are_the_runs_and_recalled(qtbot, make_window, fitted_project, tmp_path, answerer):
    """The Alarms… dialog sets when the line's alarms rise, as inspector run's --alarm-* flags do: two NG in a
    row raise ng_streak where the default waits for five; a backup folder with no backup raises backup_due. A free
    space that is no space is a message and the dialog stays; the limits of the last run started come back with the
    window."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QDialogButtonBox

    from app.panels.alarm_limits_dialog import AlarmLimitsDialog

    window = make_window()
    _open(qtbot, window, fitted_project, tmp_path)
    inbox = tmp_path / "inbox"
    write_discs(inbox, [60, 61], scratch=True)
    panel = window.open_run_view()
    assert "NG in a row: 5" in panel.alarm_button.toolTip()  # the run's defaults
    still_open = []
    backups = tmp_path / "backups"
    backups.mkdir()

    def fill():
        dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, AlarmLimitsDialog) and w.isVisible())
        ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        dialog.ng.setValue(2)
        dialog.min_free.setText("lots")
        ok.click()  # the message box is answered (answerer) before click() returns
        still_open.append(dialog.isVisible())
        dialog.min_free.setText("1GB")
        dialog.backups.setText(str(backups))
        ok.click()

    QTimer.singleShot(0, fill)
    assert panel.edit_alarm_limits()
    assert still_open == [True] and "Free space kept needs a percentage of the disk or a size" in answerer.seen[-1]
    assert "NG in a row: 2" in panel.alarm_button.toolTip() and "free space kept: 1GB" in panel.alarm_button.toolTip()

    panel.source_edit.setText(str(inbox))
    assert panel.start()
    assert not panel.alarm_button.isEnabled()  # the limits are the run's from its start
    qtbot.waitUntil(lambda: "ng_streak" in panel.alarms and "backup_due" in panel.alarms, timeout=120000)
    assert "2 NG in a row" in panel.alarm_label.text()
    assert f"no backup of project in {backups}; backups are due every 26.0 h" in panel.alarm_label.text()
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=30000)
    assert panel.alarm_button.isEnabled()
    window.close()

    again = make_window().open_run_view()
    assert again.alarm_values["ng_streak"] == 2 and again.alarm_values["min_free"] == "1GB"
    assert again.alarm_values["backups"] == str(backups) and again.alarm_values["backup_every_h"] == 26.0
    assert again.alarm_values["yield_pct"] == 50.0  # the others as they were


def test_copy_command_gives_the_inspector_run_that_runs_what_start_runs(qtbot, window, fitted_project, tmp_path,
                                                                       answerer):
    """A setting tried in the window goes into the line PC's run.env as it is: the copied command line, parsed by
    inspector run's own parser, gives the options Start would run with; defaults are left out."""
    import shlex

    from PySide6.QtWidgets import QApplication

    from app.panels.alarm_limits_dialog import default_values
    from inspector_line.cli import run_parser
    from inspector_line.line_args import alarm_limits, check_line_io_arguments, read_backups, read_masters

    panel = window.open_run_view()
    assert panel.copy_command() is None and "Open a project" in answerer.seen[-1]
    project = _open(qtbot, window, fitted_project, tmp_path)
    (tmp_path / "masters.txt").write_text("RR-1 NG\n")
    panel.source_edit.setText(str(tmp_path / "in box"))  # a space: quoted
    panel.archive_edit.setText(str(tmp_path / "archive"))
    panel.part_id_edit.setText(r"SN(\d+)")
    panel.masters_edit.setText(str(tmp_path / "masters.txt"))
    panel.modbus_edit.setText("0.0.0.0:5020")
    panel.free_run_check.setChecked(True)
    panel.mqtt_edit.setText("mqtt://broker.plant:1883/line3")
    (tmp_path / "plc-users.txt").write_text("plc1:correct-horse\n")
    panel.opcua_edit.setText("opc.tcp://0.0.0.0:4840")
    panel.opcua_users_edit.setText(str(tmp_path / "plc-users.txt"))
    panel.set_alarm_values(dict(default_values(), ng_streak=2, yield_pct=80.0, min_free="20GB", master_every_h=8.0,
                                backups=str(tmp_path / "backups"), backup_every_h=30.0))
    text = panel.copy_command()
    assert QApplication.clipboard().text() == text and text in panel.status_label.text()

    argv = shlex.split(text)
    assert argv[:2] == ["inspector", "run"] and "--alarm-streak" not in argv and "--alarm-drift" not in argv
    args = run_parser().parse_args(argv[2:])
    check_line_io_arguments(args)  # the command inspector run accepts
    options, servers = panel.line_setup()
    assert args.project == project.absolute() and args.source == str(tmp_path / "in box")
    assert (args.archive, args.part_id_pattern, args.modbus, args.free_run) == \
        (options.archive, options.part_id_pattern, "0.0.0.0:5020", True)
    assert args.mqtt == "mqtt://broker.plant:1883/line3" == options.mqtt.target
    assert (args.opcua, args.opcua_users) == ("opc.tcp://0.0.0.0:4840", tmp_path / "plc-users.txt")
    assert [s.describe() for s in servers] == ["PLC handshake: Modbus TCP on 0.0.0.0:5020 (docs/plc.md)",
                                               servers[1].describe()] and "OPC UA" in servers[1].describe()
    assert "users from --opcua-users (1)" in servers[1].describe() and options.plcs == [servers[0].handshake]
    assert alarm_limits(args) == options.alarm_limits
    assert read_masters(args)[1] == options.master_every_s == 8 * 3600
    assert read_backups(args) == (options.backups, options.backup_every_s) == (tmp_path / "backups", 30 * 3600)


def test_run_view_outputs_post_each_result_serve_metrics_and_secure_opc_ua(qtbot, window, fitted_project, tmp_path,
                                                                          answerer):
    """Outputs…: each result POSTed to the line's software and the line's metrics served while the run goes on, as
    inspector run's --post and --metrics; the OPC UA certificate, key and trust folder in the copied command and
    the server Start builds; files that do not go together are a message naming them, not a run."""
    import json
    import shlex
    import threading
    import urllib.request
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from inspector_line.cli import run_parser
    from inspector_line.line_args import check_line_io_arguments
    from line_helpers import free_port
    from station.line_io.opcua_security import make_self_signed

    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    project, panel = _run_view_on(qtbot, window, fitted_project, tmp_path, scratched=[61])
    metrics = f"127.0.0.1:{free_port()}"
    panel.set_output_values(dict(post="ftp://mes.local/results", metrics=metrics, opcua_cert="", opcua_key="",
                                 opcua_trust=""))
    assert not panel.start() and "The results' POST address needs an http:// or https:// URL" in answerer.seen[-1]
    panel.set_output_values(dict(panel.output_values, post=f"http://127.0.0.1:{http.server_port}/results"))
    assert "results POSTed to http://127.0.0.1" in panel.outputs_button.toolTip()
    try:
        assert panel.start() and not panel.outputs_button.isEnabled()
        qtbot.waitUntil(lambda: len(received) == 1, timeout=60000)
        with urllib.request.urlopen(f"http://{metrics}/metrics", timeout=10) as reply:
            served = reply.read().decode()
    finally:
        panel.stop()
        qtbot.waitUntil(lambda: not panel.running, timeout=30000)
        http.shutdown()
    assert received[0]["verdict"] == "NG" and received[0]["file_name"] == "ng_061.png"
    assert 'inspector_inspections_total{' in served and 'verdict="NG"} 1.0' in served

    cert, key = make_self_signed(tmp_path / "pki", host="line3-pc")
    (tmp_path / "trusted").mkdir()
    plc_cert, _ = make_self_signed(tmp_path / "plc", host="plc-a")  # the one PLC trusted
    shutil.copy(plc_cert, tmp_path / "trusted" / "plc-a.der")
    (tmp_path / "plc-users.txt").write_text("plc1:correct-horse\n")
    panel.opcua_edit.setText(f"opc.tcp://127.0.0.1:{free_port()}")
    panel.opcua_users_edit.setText(str(tmp_path / "plc-users.txt"))
    panel.set_output_values(dict(panel.output_values, opcua_cert=str(cert)))
    assert not panel.start() and "The OPC UA certificate and The OPC UA key go together" in answerer.seen[-1]
    panel.set_output_values(dict(panel.output_values, opcua_key=str(key), opcua_trust=str(tmp_path / "trusted")))
    options, servers = panel.line_setup()
    assert "signed and encrypted" in servers[0].describe() and options.post_url == panel.output_values["post"]
    args = run_parser().parse_args(shlex.split(panel.copy_command())[2:])
    check_line_io_arguments(args)  # the command inspector run accepts
    assert (args.post, args.metrics) == (panel.output_values["post"], metrics)
    assert (args.opcua_cert, args.opcua_key, args.opcua_trust) == (cert, key, tmp_path / "trusted")


def test_run_view_publishes_each_result_to_the_plants_mqtt_broker(qtbot, window, fitted_project, tmp_path, broker,
                                                                  answerer):
    """Against a real broker (mosquitto): each part's result on the topic in row order, the station online while
    it runs and offline once stopped (retained); a URL that is no MQTT topic is a message, not a run."""
    from mqtt_helpers import retained_messages, subscriber

    project, panel = _run_view_on(qtbot, window, fitted_project, tmp_path, [20], [60])
    panel.mqtt_edit.setText("http://broker/line3")
    assert not panel.start() and "mqtt://HOST:PORT/TOPIC" in answerer.seen[-1]
    panel.mqtt_edit.setText(f"mqtt://127.0.0.1:{broker}/line3")
    client, got = subscriber(broker, ["line3", "line3/status"])
    try:
        assert panel.start()
        qtbot.waitUntil(lambda: len([t for t, _, _ in got if t == "line3"]) == 2, timeout=120000)
        assert ("line3/status", {"online": True}, False) in got or \
            ("line3/status", {"online": True}, True) in got
        panel.stop()
        qtbot.waitUntil(lambda: not panel.running, timeout=30000)
    finally:
        client.loop_stop()
        client.disconnect()
    results = [payload for topic, payload, _ in got if topic == "line3"]
    with History(default_path(project)) as history:
        rows = history.query(descending=False)
    assert [(p["id"], p["file_name"], p["verdict"]) for p in results] == [(r.id, r.file_name, r.verdict)
                                                                          for r in rows]
    assert sorted(p["verdict"] for p in results) == ["NG", "OK"]
    assert retained_messages(broker, "line3/status")[0][1] == {"online": False}


def test_run_view_serves_the_plc_over_opc_ua_with_the_modbus_handshake(qtbot, window, fitted_project, tmp_path,
                                                                       answerer):
    """OPC UA from the window (a Siemens S7-1500's client), driven by the real asyncua client: a Trigger written
    over OPC UA gives the part's verdict in the Verdict variable, and Modbus TCP serves the same handshake. An
    open address without a users file is a message naming it, not a run."""
    import asyncio

    from asyncua import Client, ua
    from pymodbus.client import ModbusTcpClient

    from line_helpers import free_port
    from station.line_io.opcua import NAMESPACE

    project, panel = _run_view_on(qtbot, window, fitted_project, tmp_path, scratched=[60])
    panel.opcua_edit.setText("opc.tcp://0.0.0.0:4840")
    assert not panel.start() and "--opcua-users" in answerer.seen[-1]
    url, mb_port = f"opc.tcp://127.0.0.1:{free_port()}", free_port()
    panel.opcua_edit.setText(url)
    panel.modbus_edit.setText(f"127.0.0.1:{mb_port}")
    assert panel.start()

    async def trigger_and_read():
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            try:
                client = Client(url)
                await client.connect()
                break
            except (OSError, asyncio.TimeoutError):
                assert asyncio.get_running_loop().time() < deadline, "the OPC UA server never answered"
                await asyncio.sleep(0.2)
        try:
            idx = await client.get_namespace_index(NAMESPACE)
            node = lambda name: client.get_node(ua.NodeId(f"Inspector.{name}", idx))  # noqa: E731
            await node("Trigger").write_value(ua.DataValue(ua.Variant(True, ua.VariantType.Boolean)))
            while not await node("ResultReady").read_value():
                assert asyncio.get_running_loop().time() < deadline, "no ResultReady"
                await asyncio.sleep(0.02)
            verdict = await node("Verdict").read_value()
            modbus = ModbusTcpClient("127.0.0.1", port=mb_port)
            assert modbus.connect()
            seen_over_modbus = modbus.read_holding_registers(0, count=1).registers[0]
            modbus.close()
            await node("Ack").write_value(ua.DataValue(ua.Variant(True, ua.VariantType.Boolean)))
            return verdict, seen_over_modbus
        finally:
            await client.disconnect()

    try:
        verdict, seen_over_modbus = asyncio.run(trigger_and_read())
    finally:
        panel.stop()
        qtbot.waitUntil(lambda: not panel.running, timeout=30000)
    with History(default_path(project)) as history:
        (row,) = history.query()
    assert row.verdict == "NG" and verdict == seen_over_modbus == inference.Verdict.NG.code


def test_run_view_recipes_are_the_projects_the_plc_selects(qtbot, window, fitted_project, tmp_path, answerer):
    """A line with two product variants: the PLC writes the recipe number before its Trigger, and the part is
    judged by that recipe's project (recipe 1: a copy whose active version is uncalibrated, so NO_VERDICT), into
    the one history, as `inspector run --recipe` does. Recipes without a PLC, or a folder with no project, are a
    message; Copy command carries them."""
    import shlex

    from pymodbus.client import ModbusTcpClient

    from inspector_line.cli import run_parser
    from line_helpers import free_port
    from station import Station

    project = _open(qtbot, window, fitted_project, tmp_path)
    variant = tmp_path / "variant"
    shutil.copytree(fitted_project, variant)
    with Station(variant, window.engine) as station:
        station.activate("v1", note="the variant's fit, not calibrated")
    inbox = tmp_path / "inbox"
    write_discs(inbox, [20, 21])
    panel = window.open_run_view()
    panel.source_edit.setText(str(inbox))
    panel.recipes_edit.setText(str(variant))
    assert not panel.start() and "Recipes go with a PLC" in answerer.seen[-1]
    port = free_port()
    panel.modbus_edit.setText(f"127.0.0.1:{port}")
    panel.recipes_edit.setText(f"{variant}; {tmp_path / 'nowhere'}")
    assert not panel.start() and f"Recipe {tmp_path / 'nowhere'}: no project" in answerer.seen[-1]
    panel.recipes_edit.setText(str(variant))
    args = run_parser().parse_args(shlex.split(panel.copy_command())[2:])
    assert args.recipe == [variant.absolute()]
    assert panel.start()
    plc = ModbusTcpClient("127.0.0.1", port=port)
    qtbot.waitUntil(plc.connect, timeout=30000)
    codes = []
    try:
        for recipe in (0, 1):
            assert plc.write_register(5, recipe).status  # the recipe, before the Trigger
            assert plc.write_coil(0, True).status
            qtbot.waitUntil(lambda: plc.read_coils(0, count=3).bits[2], timeout=60000)  # ResultReady
            codes.append(plc.read_holding_registers(0, count=1).registers[0])
            assert plc.write_coil(3, True).status  # Ack
            qtbot.waitUntil(lambda: not plc.read_coils(0, count=3).bits[2], timeout=30000)
    finally:
        plc.close()
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=30000)
    assert codes == [inference.Verdict.OK.code, inference.Verdict.NO_VERDICT.code]
    with History(default_path(project)) as history:
        rows = history.query(descending=False)
    assert [(r.verdict, r.model_version) for r in rows] == [("OK", "v2"), ("NO_VERDICT", "v1")]
