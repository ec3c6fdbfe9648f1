"""The Run view's line I/O, each against a real client: the PLC over Modbus TCP and OPC UA, recipes, MQTT, the
Outputs… (POST, metrics, OPC UA certificates), and Copy command parsed by inspector run's own parser."""

import shutil
import socket

import pytest

import inference
from inference.synthetic import write_discs
from station.history import History, default_path

from run_view_helpers import open_project, quick_error_rows, run_view_on  # noqa: F401 (an autouse fixture)


def test_run_view_serves_the_plc_which_triggers_each_part(qtbot, window, fitted_project, tmp_path, answerer):
    """The PLC over Modbus TCP from the window (docs/plc.md), driven by the real pymodbus client: nothing is
    inspected before its Trigger; each Trigger gives one part's verdict and ResultReady; Ack ends the cycle; the
    port is closed when the run stops. A bad address, or Free run without a PLC, is a message, not a run. Only the
    PLC's address is answered; another PC's connection is refused and the Run view says so."""
    from pymodbus.client import ModbusTcpClient
    from pymodbus.exceptions import ConnectionException, ModbusIOException

    from line_helpers import free_port

    project, panel = run_view_on(qtbot, window, fitted_project, tmp_path, [20], [60])
    panel.modbus_edit.setText("127.0.0.1")
    assert not panel.start() and "HOST:PORT" in answerer.seen[-1]
    panel.modbus_edit.setText("")
    panel.free_run_check.setChecked(True)
    assert not panel.start() and "Free run goes with a PLC" in answerer.seen[-1]
    panel.free_run_check.setChecked(False)
    port = free_port()
    panel.modbus_edit.setText(f"127.0.0.1:{port}")
    panel.modbus_allow_edit.setText("127.0.0.2")  # the PLC's address; this PC's 127.0.0.1 is refused
    assert panel.start()
    said = []
    panel.worker.message.connect(said.append)
    plc = ModbusTcpClient("127.0.0.1", port=port, source_address=("127.0.0.2", 0))
    qtbot.waitUntil(plc.connect, timeout=30000)
    stranger = ModbusTcpClient("127.0.0.1", port=port, retries=0, timeout=2)
    try:
        stranger.connect()
        with pytest.raises((ConnectionException, ModbusIOException, ConnectionError)):  # closed, or reset
            stranger.read_coils(0, count=1)
    finally:
        stranger.close()
    qtbot.waitUntil(lambda: any("refused 1 connection from 127.0.0.1" in m for m in said), timeout=30000)
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
    project = open_project(qtbot, window, fitted_project, tmp_path)
    (tmp_path / "masters.txt").write_text("RR-1 NG\n")
    panel.source_edit.setText(str(tmp_path / "in box"))  # a space: quoted
    panel.archive_edit.setText(str(tmp_path / "archive"))
    panel.part_id_edit.setText(r"SN(\d+)")
    panel.masters_edit.setText(str(tmp_path / "masters.txt"))
    panel.modbus_edit.setText("0.0.0.0:5020")
    panel.modbus_allow_edit.setText("192.168.10.5, 192.168.20.0/28")
    panel.set_output_values(dict(panel.output_values, modbus_float="CDAB"))  # a Modicon PLC: REALs low word first
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
    assert servers[0].describe().startswith("PLC handshake: Modbus TCP on 0.0.0.0:5020; from other PCs: ")
    assert args.modbus_allow == "192.168.10.5, 192.168.20.0/28" and servers[0].allowed.allows("192.168.20.14")
    assert servers[0].describe().endswith(", answering 192.168.10.5,192.168.20.0/28 only, floats low word first "
                                          "(CDAB) (docs/plc.md)")
    assert args.modbus_float == "CDAB" == servers[0].floats
    assert "OPC UA on opc.tcp://0.0.0.0:4840; from other PCs: opc.tcp://" in servers[1].describe()
    assert "users from --opcua-users (1)" in servers[1].describe() and options.plcs == [servers[0].handshake]
    assert alarm_limits(args) == options.alarm_limits
    assert read_masters(args)[1] == options.master_every_s == 8 * 3600
    assert read_backups(args) == (options.backups, options.backup_every_s) == (tmp_path / "backups", 30 * 3600)


def test_run_view_outputs_post_each_result_serve_metrics_and_secure_opc_ua(qtbot, window, fitted_project, tmp_path,
                                                                          answerer):
    """Outputs…: each result POSTed to the line's software, the line's metrics and the line display served while the
    run goes on, as inspector run's --post, --metrics and --display; the OPC UA certificate, key and trust folder in the copied command and
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
    project, panel = run_view_on(qtbot, window, fitted_project, tmp_path, scratched=[61])
    metrics, display = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    tokens = tmp_path / "display-tokens.txt"  # the display's parts for the HMI's token only
    tokens.write_text("hmi read hmi-0123456789abcdef\nprometheus read prom-0123456789abcdef\n")
    panel.set_output_values(dict(post="ftp://mes.local/results", metrics="", metrics_tokens=str(tokens), display="",
                                 display_tokens=str(tokens), opcua_cert="", opcua_key="", opcua_trust=""))
    assert not panel.start() and "The results' POST address needs an http:// or https:// URL" in answerer.seen[-1]
    panel.set_output_values(dict(panel.output_values, post=f"http://127.0.0.1:{http.server_port}/results"))
    assert not panel.start() and "The metrics' tokens file goes with the metrics address" in answerer.seen[-1]
    panel.set_output_values(dict(panel.output_values, metrics=metrics))
    assert not panel.start() and "The display's tokens file goes with the line display's address" in answerer.seen[-1]
    panel.set_output_values(dict(panel.output_values, display=display))
    assert "results POSTed to http://127.0.0.1" in panel.outputs_button.toolTip()
    try:
        assert panel.start() and not panel.outputs_button.isEnabled()
        qtbot.waitUntil(lambda: len(received) == 1, timeout=60000)
        serving = panel.results.serving_label  # where the line reaches the servers, kept in view while they serve
        assert serving.isVisible() and f"metrics: http://{metrics}/metrics (Prometheus, with a bearer token" in \
            serving.text() and f"line display: http://{display}/#token=TOKEN" in serving.text()
        scrape = urllib.request.Request(f"http://{metrics}/metrics",
                                        headers={"Authorization": "Bearer prom-0123456789abcdef"})
        with urllib.request.urlopen(scrape, timeout=10) as reply:
            served = reply.read().decode()
        with pytest.raises(urllib.error.HTTPError, match="401"):
            urllib.request.urlopen(f"http://{metrics}/metrics", timeout=10)
        asked = urllib.request.Request(f"http://{display}/state",
                                       headers={"Authorization": "Bearer hmi-0123456789abcdef"})
        with urllib.request.urlopen(asked, timeout=10) as reply:
            shown = json.loads(reply.read())
        with pytest.raises(urllib.error.HTTPError, match="401"):
            urllib.request.urlopen(f"http://{display}/state", timeout=10)
    finally:
        panel.stop()
        qtbot.waitUntil(lambda: not panel.running, timeout=30000)
        http.shutdown()
    assert not serving.isVisible() and serving.text() == ""  # closed with the run
    assert received[0]["verdict"] == "NG" and received[0]["file_name"] == "ng_061.png"
    assert 'inspector_inspections_total{' in served and 'verdict="NG"} 1.0' in served
    assert (shown["part"]["verdict"], shown["part"]["name"]) == ("NG", "ng_061.png")

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
    assert (args.post, args.metrics, args.display) == (panel.output_values["post"], metrics, display)
    assert args.display_tokens == args.metrics_tokens == tokens
    assert (args.opcua_cert, args.opcua_key, args.opcua_trust) == (cert, key, tmp_path / "trusted")


def test_run_view_publishes_each_result_to_the_plants_mqtt_broker(qtbot, window, fitted_project, tmp_path, broker,
                                                                  answerer):
    """Against a real broker (mosquitto): each part's result on the topic in row order, the station online while
    it runs and offline once stopped (retained); a URL that is no MQTT topic is a message, not a run."""
    from mqtt_helpers import retained_messages, subscriber

    project, panel = run_view_on(qtbot, window, fitted_project, tmp_path, [20], [60])
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

    project, panel = run_view_on(qtbot, window, fitted_project, tmp_path, scratched=[60])
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

    project = open_project(qtbot, window, fitted_project, tmp_path)
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


def test_run_view_drives_a_remote_io_modules_reject_coil(qtbot, window, fitted_project, tmp_path, answerer):
    """Outputs…'s remote I/O fields: the reject coil pulsed for the scratched part and the ready coil on while the
    run goes on, on a real Modbus TCP server; a bad coil is a message naming the field; the copied command holds
    inspector run's --io flags."""
    import shlex

    from inspector_line.cli import run_parser
    from inspector_line.line_args import check_line_io_arguments
    from io_module import IOModule
    from line_helpers import free_port

    module = IOModule(free_port()).start()
    address = f"modbus://127.0.0.1:{module.port}"
    project, panel = run_view_on(qtbot, window, fitted_project, tmp_path, scratched=[61])
    try:
        panel.set_output_values(dict(panel.output_values, io=address, io_reject="5:abc"))
        assert not panel.start() and "The reject coil needs COIL[:MS]" in answerer.seen[-1]
        panel.set_output_values(dict(panel.output_values, io_reject="5:100", io_ready="6"))
        assert "outputs on modbus://" in panel.outputs_button.toolTip()
        assert panel.start()
        qtbot.waitUntil(lambda: len(module.pulses(5)) == 1, timeout=60000)
    finally:
        panel.stop()
        qtbot.waitUntil(lambda: not panel.running, timeout=30000)
        module.stop()
    ready = [value for _, coil, value in module.writes if coil == 6]
    assert ready[0] is True and ready[-1] is False
    args = run_parser().parse_args(shlex.split(panel.copy_command())[2:])
    check_line_io_arguments(args)  # the command inspector run accepts
    assert (args.io, args.io_reject, args.io_ready) == (address, "5:100", "6")


def test_run_view_photo_eye_field_triggers_the_parts_as_inspector_run_io_trigger_does(tmp_path):
    """Outputs…'s photo-eye input: the run is triggered by it (not free-running), a bad value or a PLC beside it is
    a message naming the field, and the copied command holds --io-trigger, which inspector run accepts."""
    import pytest

    from app.panels.alarm_limits_dialog import default_values
    from app.run_setup import run_arguments, run_options
    from inference import InspectorError
    from inspector_line.cli import run_parser
    from inspector_line.line_args import check_line_io_arguments

    fields = {"source": "camera:0", "io": "modbus://10.0.0.20:502", "io_reject": "0:200", "io_trigger": "2:40"}
    options, servers = run_options(fields, False, default_values())
    assert not options.free_run and [eye.input.number for eye in options.photo_eyes] == [2]
    assert options.photo_eyes[0] in servers and options.outputs[0] in servers  # started and closed with the run
    argv = run_arguments(tmp_path, fields, False, default_values())
    assert argv[argv.index("--io-trigger") + 1] == "2:40"
    check_line_io_arguments(run_parser().parse_args(argv[2:]))
    with pytest.raises(InspectorError, match="The photo-eye input needs INPUT"):
        run_options(dict(fields, io_trigger="two"), False, default_values())
    with pytest.raises(InspectorError, match="The photo-eye input triggers the parts where no PLC does"):
        run_options(dict(fields, modbus="127.0.0.1:5020"), False, default_values())


def test_run_view_judges_the_live_camera_frame_of_each_part_its_photo_eye_sees(qtbot, window, fitted_project,
                                                                              tmp_path, answerer, monkeypatch):
    """The Run view on camera:0 with Outputs…'s photo-eye input and reject coil: nothing is inspected until the
    sensor sees a part; the scratched part that comes into view then is judged on its own frame and rejected. No
    camera is attached to a test machine: tests/fake_camera.py's buffers frames as V4L2 does."""
    import time

    import cv2

    from fake_camera import BufferingCamera, Scene
    from inference.synthetic import disc
    from inspector_line import camera_grabber
    from io_module import IOModule
    from line_helpers import free_port

    scene = BufferingCamera.scene = Scene(disc(70)[0])
    monkeypatch.setattr(cv2, "VideoCapture", BufferingCamera)
    monkeypatch.setattr(camera_grabber, "KEEP_FRAMES", 50)  # a loaded test machine may come to the part late
    module = IOModule(free_port()).start()
    project, panel = run_view_on(qtbot, window, fitted_project, tmp_path)
    panel.source_edit.setText("camera:0")
    panel.set_output_values(dict(panel.output_values, io=f"modbus://127.0.0.1:{module.port}", io_reject="4:100",
                                 io_trigger="2:40"))
    try:
        assert panel.start()
        assert "parts triggered by the photo-eye on input 2" in panel.status_label.text()
        qtbot.waitUntil(lambda: module.input_reads >= 2, timeout=30000)  # read low before the part
        qtbot.wait(500)
        assert panel.table.rowCount() == 0  # the camera's frames come, but no part was seen
        scene.part_arrives(disc(61, scratch=True)[0], time.monotonic() + 0.04)
        reads = module.input_reads
        module.set_input(2, True)
        qtbot.waitUntil(lambda: module.input_reads >= reads + 2, timeout=30000)
        module.set_input(2, False)
        qtbot.waitUntil(lambda: len(module.pulses(4)) == 1, timeout=60000)
    finally:
        panel.stop()
        qtbot.waitUntil(lambda: not panel.running, timeout=30000)
        module.stop()
    assert panel.table.rowCount() == 1
    with History(default_path(project)) as history:
        rows = history.query(descending=False)
    assert [r.verdict for r in rows] == ["NG"] and rows[0].source == "camera:0"
