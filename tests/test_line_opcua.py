"""The PLC handshake over OPC UA (docs/plc.md), driven by the real asyncua client: part id and recipe written by
the PLC, Trigger, Busy, ResultReady, the result variables, Ack, Alarm and AlarmText; station-owned variables
refuse writes; anonymous access only on loopback, a user list otherwise (and then no anonymous session)."""

import asyncio
import math
import threading
import time

import pytest

pytest.importorskip("asyncua")
from asyncua import Client, ua

from inference import InspectorError
from inspector_line.cli import main as line_main
from inspector_line.runner import RunOptions, Runner
from inspector_line.sources import FolderSource
from line_helpers import free_port, make_project, part, png_bytes
from station import Station
from station.history import History
from station.line_io.alarms import AlarmLimits
from station.line_io.handshake import Handshake
from station.line_io.modbus import ModbusServer, words_float
from station.line_io.opcua import NAMESPACE, OpcUaServer, read_users


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    root = tmp_path_factory.mktemp("opcua")
    engine, cal = make_project(root / "cal")
    _, raw = make_project(root / "raw", calibrated=False)
    return engine, cal, raw


class Plc:
    """The PLC's side: an asyncua client and the Inspector object's variables by name."""

    def __init__(self, client: Client, idx: int):
        self.client, self.idx = client, idx

    def node(self, name):
        return self.client.get_node(ua.NodeId(f"Inspector.{name}", self.idx))

    async def read(self, *names):
        return [await self.node(n).read_value() for n in names]

    async def write(self, name, value, kind):
        await self.node(name).write_value(ua.DataValue(ua.Variant(value, getattr(ua.VariantType, kind))))

    async def wait(self, name, timeout=60.0):
        deadline = time.monotonic() + timeout
        while not await self.node(name).read_value():
            assert time.monotonic() < deadline, f"{name} never set"
            await asyncio.sleep(0.005)


def test_trigger_result_ack_part_id_recipe_and_alarm(projects, tmp_path):
    engine, cal, raw = projects
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, rgb in (("a_ok.png", part(911)), ("b_ng.png", part(912, scratch=True)), ("c_raw.png", part(913)),
                      ("d_recipe5.png", part(914))):
        (inbox / name).write_bytes(png_bytes(rgb))
    url = f"opc.tcp://127.0.0.1:{free_port()}"
    # Modbus and OPC UA over one handshake: a result the OPC UA PLC triggers shows on Modbus too.
    handshake = Handshake()
    server = OpcUaServer(url, handshake)
    server.start()
    history = History(tmp_path / "h.sqlite")
    station = Station(cal, engine, history=history)
    stop = threading.Event()
    runner = Runner(station, FolderSource(inbox, settle_s=0.2),
                    RunOptions(plcs=[handshake], free_run=False,
                               recipes=[station, Station(raw, engine, history=history)],
                               alarm_limits=AlarmLimits(ng_streak=1, yield_min=None, drift_warn_at=None)))
    thread = threading.Thread(target=lambda: runner.run(stop), daemon=True)
    thread.start()

    async def plc_side():
        async with Client(url) as client:
            plc = Plc(client, await client.get_namespace_index(NAMESPACE))
            await asyncio.sleep(1.0)
            assert history.count() == 0  # the files wait: nothing is inspected without a Trigger
            (version,) = await plc.read("ModelVersion")
            assert version == int(station.model().version[1:]) >= 1
            results = []
            for part_id, recipe in (("SN-0001", 0), ("SN-0002", 0), ("SN-0003", 1), ("SN-0004", 5)):
                await plc.write("PartId", part_id, "String")
                await plc.write("Recipe", recipe, "Int32")
                await plc.write("Trigger", True, "Boolean")
                await plc.wait("ResultReady")
                results.append(await plc.read("Verdict", "Score", "Sequence", "Trigger", "Busy", "Alarm",
                                              "AlarmText", "Defects", "DefectArea", "DefectX", "DefectY", "MasterCheck",
                                              "AlarmBits", "ErrorCode", "Cause", "Reason"))
                await plc.write("Ack", True, "Boolean")
                await asyncio.sleep(0.05)
                assert await plc.read("Trigger", "Busy", "ResultReady", "Ack") == [False] * 4
            # Ready while the run inspects; the Heartbeat counts up from the run's own loop.
            ready, beat = await plc.read("Ready", "Heartbeat")
            assert ready is True
            deadline = time.monotonic() + 60
            while (await plc.read("Heartbeat"))[0] < beat + 2:
                assert time.monotonic() < deadline, "the Heartbeat stands still"
                await asyncio.sleep(0.05)
            for name, value, kind in (("Verdict", 1, "Int32"), ("ResultReady", True, "Boolean"),
                                      ("Sequence", 9, "UInt32"), ("Heartbeat", 1, "UInt32")):
                with pytest.raises(ua.UaStatusCodeError):  # station-owned: not writable by the PLC
                    await plc.write(name, value, kind)
            return results

    try:
        results = asyncio.run(plc_side())
    finally:
        stop.set()
        thread.join(timeout=30)
        server.close()
    assert handshake.state.ready is False  # the run stopped
    rows = history.query(descending=False)
    history.close()
    assert [r.part_id for r in rows] == ["SN-0001", "SN-0002", "SN-0003", "SN-0004"]
    assert [r.file_name for r in rows] == ["a_ok.png", "b_ng.png", "c_raw.png", "d_recipe5.png"]  # the oldest each
    # OK, NG, NO_VERDICT from the uncalibrated recipe 1, and ERROR (ErrorCode 6) for recipe 5, not configured
    assert [r[0] for r in results] == [1, 2, 4, 5] and [r[13] for r in results] == [0, 0, 0, 6]
    assert [r[2] for r in results] == [1, 2, 3, 4]  # sequence numbers
    assert all(r[3] and not r[4] for r in results)  # Trigger held until Ack; not Busy once ResultReady
    for r, row in zip(results, rows):
        assert (math.isnan(r[1]) and row.score is None) or math.isclose(r[1], row.score, rel_tol=1e-9)
    assert [r[5] for r in results] == [False, True, False, False]  # Alarm with the NG, cleared after
    assert "ALARM ng_streak: 1 NG in a row" in results[1][6] and results[2][6] == results[3][6] == ""
    # The defects: how many regions count, the largest one's area and centre, as the history row keeps them.
    assert [r[7] for r in results] == [len(row.regions) for row in rows] and results[1][7] >= 1
    for r, row in zip(results, rows):
        if row.regions:
            largest = max(row.regions, key=lambda g: g["area_mm2"] if g["area_mm2"] is not None else g["area_px"])
            assert r[8] == pytest.approx(largest["area_mm2"] or largest["area_px"])
            assert r[9:11] == pytest.approx(largest["centroid"])
        else:
            assert all(math.isnan(v) for v in r[8:11])
    assert [r[11] for r in results] == [0, 0, 0, 0]  # production parts, no master check (tests/test_masters.py)
    assert [r[12] for r in results] == [0, 1, 0, 0]  # AlarmBits: bit 0, ng_streak, with the NG
    # In words for an HMI: the ERROR's cause by name (empty for the others), and each part's reason as its row keeps it.
    assert [r[14] for r in results] == ["", "", "", "unknown_recipe"]
    assert [r[15] for r in results] == [row.reason for row in rows] and all(r[15] for r in results)
    assert "recipe 5" in results[3][15]


def test_one_handshake_two_protocols(tmp_path):
    """A Trigger written over OPC UA is the Modbus Trigger too (one state machine under both adapters)."""
    from pymodbus.client import ModbusTcpClient

    handshake = Handshake()
    url, mb_port = f"opc.tcp://127.0.0.1:{free_port()}", free_port()
    opc, mb = OpcUaServer(url, handshake), ModbusServer("127.0.0.1", mb_port, handshake)
    opc.start()
    mb.start()
    modbus = ModbusTcpClient("127.0.0.1", port=mb_port)
    try:
        assert modbus.connect()

        async def trigger():
            async with Client(url) as client:
                plc = Plc(client, await client.get_namespace_index(NAMESPACE))
                await plc.write("PartId", "AB-12", "String")
                await plc.write("Trigger", True, "Boolean")

        asyncio.run(trigger())
        assert modbus.read_coils(0, count=1).bits[0]  # Trigger, seen over Modbus
        taken = handshake.take_trigger()
        assert taken.part_id == "AB-12" and modbus.read_coils(1, count=1).bits[0]  # Busy
        assert modbus.write_coil(0, False).status  # withdrawn over Modbus: OPC UA sees it

        async def read_trigger():
            async with Client(url) as client:
                plc = Plc(client, await client.get_namespace_index(NAMESPACE))
                return await plc.read("Trigger", "Busy")

        assert asyncio.run(read_trigger()) == [False, True]

        # The result, with a defect in the second inspection zone: DefectZone 2 and its length over both protocols.
        handshake.publish_result(_zoned_outcome())

        async def read_defect():
            async with Client(url) as client:
                plc = Plc(client, await client.get_namespace_index(NAMESPACE))
                return await plc.read("Verdict", "Defects", "DefectZone", "DefectLength")

        # The blob is 10 x 10 px: its corners' pixel centres lie 9 * sqrt(2) apart, plus one pixel.
        assert asyncio.run(read_defect()) == [2, 1, 2, pytest.approx(9 * 2 ** 0.5 + 1)]
        regs = modbus.read_holding_registers(36, count=3).registers
        assert regs[0] == 2 and words_float(regs[1], regs[2]) == pytest.approx(9 * 2 ** 0.5 + 1, rel=1e-6)
    finally:
        modbus.close()
        mb.close()
        opc.close()


def _zoned_outcome():
    """An NG outcome whose one region lies mostly in the second of two zones (a 10 x 10 px blob: 30 px in zone
    'a', limit 100, 70 px in zone 'b', limit 50: b weighs most)."""
    from types import SimpleNamespace

    import numpy as np

    from inference import Verdict, zones_from_list
    from inference.scoring import find_regions, judge
    from inference.zones import zone_map
    from station.outcome import Outcome

    m = np.zeros((20, 30), np.float32)
    m[5:15, 10:20] = 1.0
    zones = zones_from_list([{"name": "a", "min_area": 100, "shape": {"type": "rect", "cx": 11.5, "cy": 10, "w": 3,
                                                                      "h": 20}},
                             {"name": "b", "min_area": 50, "shape": {"type": "rect", "cx": 20, "cy": 10, "w": 14,
                                                                     "h": 20}}])
    zmap = zone_map(zones, 1000.0, (0, 0, 30, 20), m.shape, None)
    verdict, regions, _ = judge(1.0, find_regions(m, np.ones_like(m, bool), 0.5, (0, 0, 30, 20), None, zmap), 0.5,
                                1000.0, zmap)
    assert verdict == "NG" and regions[0].zones == {"a": 30, "b": 70} and regions[0].zone_index == 2
    return Outcome("blob.png", Verdict.NG, "", 1.0, 0.5, "v1", "m", result=SimpleNamespace(regions=regions))


def test_access_anonymous_on_loopback_only_users_otherwise(tmp_path):
    with pytest.raises(InspectorError, match="--opcua-users"):
        OpcUaServer("opc.tcp://0.0.0.0:4840")  # refused before anything binds
    with pytest.raises(InspectorError, match="opc.tcp://HOST:PORT"):
        OpcUaServer("http://127.0.0.1:4840")
    users_file = tmp_path / "users.txt"
    users_file.write_text("# line PLC\nplc1:correct-horse\n")
    url = f"opc.tcp://127.0.0.1:{free_port()}"
    server = OpcUaServer(url, users=read_users(users_file))
    server.start()

    async def connect(user=None, password=None):
        client = Client(url)
        if user:
            client.set_user(user)
            client.set_password(password)
        async with client:
            return await client.get_namespace_index(NAMESPACE)

    said = []
    server.on_message = said.append  # the run's messages
    try:
        assert asyncio.run(connect("plc1", "correct-horse")) == server.namespace_index
        for user, password in ((None, None), ("plc1", "wrong-password"), ("other", "correct-horse"),
                               ("plc1", "wrong-password")):
            with pytest.raises(ua.UaStatusCodeError):  # BadIdentityTokenRejected / BadUserAccessDenied
                asyncio.run(connect(user, password))
    finally:
        server.close()
    # Each refusal of a user is counted (the metrics); who and why is said once a minute each, never the password
    # given. (The anonymous session is refused by asyncua, as no endpoint offers it: the client is told so.)
    assert server.refusals.total == 3
    assert said == ["OPC UA: refused 1 session of user 'plc1' (wrong password)",
                    "OPC UA: refused 1 session of user 'other' (no such user in --opcua-users)"]


def test_cli_refuses_opcua_on_an_open_address_without_users(projects, tmp_path, capsys):
    engine, cal, _ = projects
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    code = line_main(["run", str(cal), "--source", str(inbox), "--history", str(tmp_path / "h.sqlite"),
                      "--opcua", "opc.tcp://0.0.0.0:4840", "--idle-exit", "0.1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--opcua-users" in err and "0.0.0.0" in err


def test_reason_and_cause_in_words_for_the_hmi():
    """Cause names only an ERROR's ErrorCode; a reason longer than an HMI's string field is cut, marked so."""
    from inference import Verdict
    from station import ErrorCode, Outcome
    from station.line_io.handshake import REASON_MAX

    handshake = Handshake()
    handshake.publish_result(Outcome("a.png", Verdict.ERROR, "no image for the Trigger in 2.0 s", None, None,
                                     "v1", "m", cause=ErrorCode.NO_IMAGE))
    state = handshake.state
    assert (state.error_code, state.cause, state.reason) == (3, "no_image", "no image for the Trigger in 2.0 s")
    long_reason = "score 0.9 >= 0.5; " + "zone seal: 12 mm2 over its limit; " * 40
    handshake.publish_result(Outcome("b.png", Verdict.NG, long_reason, 0.9, 0.5, "v1", "m"))
    state = handshake.state
    assert (state.error_code, state.cause) == (0, "")
    assert len(state.reason) == REASON_MAX and state.reason.endswith("...")
    assert state.reason[:-3] == long_reason[:REASON_MAX - 3]
