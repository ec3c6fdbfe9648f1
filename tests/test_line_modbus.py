"""The PLC handshake over Modbus TCP (docs/plc.md), driven by the real pymodbus client: part id and recipe
written by the PLC, Trigger, Busy, ResultReady, the result registers, Ack, the Alarm coil; and --free-run."""

import math
import threading
import time

import pytest

pytest.importorskip("pymodbus")
from pymodbus.client import ModbusTcpClient

from station import Station
from station.history import History
from station.line_io.alarms import ALARM_NAMES, AlarmLimits
from station.line_io.modbus import ModbusServer, ascii_words, words_float
from inspector_line.runner import RunOptions, Runner
from inspector_line.sources import FolderSource
from line_helpers import assert_run_refuses, free_port, make_project, part, png_bytes


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    root = tmp_path_factory.mktemp("modbus")
    engine, cal = make_project(root / "cal")
    _, raw = make_project(root / "raw", calibrated=False)
    return engine, cal, raw


def _wait(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.005)
    raise AssertionError("timed out")


def _coils(client):
    return client.read_coils(0, count=5).bits[:5]  # Trigger, Busy, ResultReady, Ack, Alarm


def test_trigger_result_ack_part_id_recipe_and_alarm(projects, tmp_path):
    engine, cal, raw = projects
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    files = [("a_ok.png", part(901)), ("b_ng.png", part(902, scratch=True)), ("c_raw.png", part(903)),
             ("d_recipe7.png", part(904))]
    for name, rgb in files:
        (inbox / name).write_bytes(png_bytes(rgb))
    port = free_port()
    plc_server = ModbusServer("127.0.0.1", port)
    plc_server.start()
    history = History(tmp_path / "h.sqlite")
    station = Station(cal, engine, history=history)
    recipes = [station, Station(raw, engine, history=history)]
    stop = threading.Event()
    runner = Runner(station, FolderSource(inbox, settle_s=0.2),
                    RunOptions(plcs=[plc_server], free_run=False, recipes=recipes,
                               alarm_limits=AlarmLimits(ng_streak=1, yield_min=None, drift_warn_at=None)))
    thread = threading.Thread(target=lambda: setattr(runner, "summary", runner.run(stop)), daemon=True)
    thread.start()
    plc = ModbusTcpClient("127.0.0.1", port=port)
    assert plc.connect()
    try:
        time.sleep(1.0)
        assert history.count() == 0  # the files wait: nothing is inspected without a Trigger
        version = int(station.model().version[1:])
        assert version >= 1 and plc.read_holding_registers(4, count=1).registers == [version]  # active version
        results = []
        for part_id, recipe in (("SN-0001", 0), ("SN-0002", 0), ("SN-0003", 1), ("SN-0004", 7)):
            assert plc.write_registers(10, ascii_words(part_id)).status
            assert plc.write_register(5, recipe).status
            assert plc.write_coil(0, True).status
            _wait(lambda: _coils(plc)[2])  # ResultReady
            coils = _coils(plc)
            regs = plc.read_holding_registers(0, count=10).registers + plc.read_holding_registers(30, count=4).registers \
                + plc.read_holding_registers(39, count=1).registers
            results.append((regs, coils))
            # The same bits and registers read as discrete inputs and input registers (a PLC's function block that
            # reads 1xxxx / 3xxxx addresses); all but the Heartbeat (6), which may tick between the two reads.
            held, inputs = (plc.read_holding_registers(0, count=40).registers,
                            plc.read_input_registers(0, count=40).registers)
            assert inputs[:6] + inputs[7:] == held[:6] + held[7:] and inputs[0] == regs[0]
            assert plc.read_discrete_inputs(0, count=6).bits[:6] == plc.read_coils(0, count=6).bits[:6]
            assert coils[0] and not coils[1]  # Trigger still set until Ack; not Busy
            assert plc.write_coil(3, True).status  # Ack
            assert _coils(plc)[:4] == [False, False, False, False]  # ResultReady, Trigger and Ack cleared
        # A station-owned coil or register cannot be written by the PLC.
        assert plc.write_coil(2, True).isError() and plc.write_register(0, 7).isError()
        # Ready while the run inspects; the Heartbeat counts up from the run's own loop.
        assert plc.read_coils(5, count=1).bits[0]
        beat = plc.read_holding_registers(6, count=1).registers[0]
        _wait(lambda: plc.read_holding_registers(6, count=1).registers[0] >= beat + 2)
    finally:
        stop.set()
        thread.join(timeout=30)
        ready_after = plc.read_coils(5, count=1).bits[0]
        plc.close()
        plc_server.close()
    assert not ready_after  # the run stopped: not Ready, though the server still answered
    rows = history.query(descending=False)
    history.close()
    assert [r.part_id for r in rows] == ["SN-0001", "SN-0002", "SN-0003", "SN-0004"]
    assert [r.file_name for r in rows] == ["a_ok.png", "b_ng.png", "c_raw.png", "d_recipe7.png"]  # the oldest each
    codes = [regs[0] for regs, _ in results]
    # OK, NG, NO_VERDICT from the uncalibrated recipe 1, and ERROR for recipe 7, which this station does not have:
    # never judged with recipe 0's or 1's model. ErrorCode (register 39) says why: 6, unknown recipe.
    assert codes == [1, 2, 4, 5] and [regs[14] for regs, _ in results] == [0, 0, 0, 6]
    assert rows[3].verdict == "ERROR" and "recipe 7" in rows[3].reason and rows[3].score is None
    assert [regs[3] for regs, _ in results] == [1, 2, 3, 4]  # sequence numbers
    for (regs, _), row in zip(results[:3], rows):
        assert math.isclose(words_float(regs[1], regs[2]), row.score, rel_tol=1e-6)
    assert math.isnan(words_float(*results[3][0][1:3]))  # the ERROR part: not scored
    assert [coils[4] for _, coils in results] == [False, True, False, False]  # Alarm with the NG, cleared after
    # The defects: how many regions count, the largest one's area and centre, as the history row keeps them.
    assert [regs[7] for regs, _ in results][::2] == [0, 0] and results[1][0][7] >= 1
    for (regs, _), row in zip(results, rows):
        area, x, y = words_float(*regs[8:10]), words_float(*regs[10:12]), words_float(*regs[12:14])
        assert regs[7] == len(row.regions)
        if row.regions:
            largest = max(row.regions, key=lambda r: r["area_mm2"] if r["area_mm2"] is not None else r["area_px"])
            assert math.isclose(area, largest["area_mm2"] or largest["area_px"], rel_tol=1e-6)
            assert math.isclose(x, largest["centroid"][0], rel_tol=1e-6)
            assert math.isclose(y, largest["centroid"][1], rel_tol=1e-6)
        else:
            assert math.isnan(area) and math.isnan(x) and math.isnan(y)


def test_master_check_register_and_the_alarm_a_failed_master_keeps_up(projects, tmp_path):
    """Register 34: 0 a production part, 1 a master part that got its verdict, 2 one that did not; a failed master
    keeps the Alarm coil up over the production parts after it (they judge nothing about it)."""
    from station.masters import Masters

    engine, cal, _ = projects
    (tmp_path / "masters.txt").write_text("RR-1 NG\nRR-2 NG\n")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name, rgb in (("a.png", part(911, scratch=True)), ("b.png", part(912)), ("c.png", part(913))):
        (inbox / name).write_bytes(png_bytes(rgb))
        time.sleep(0.02)
    port = free_port()
    plc_server = ModbusServer("127.0.0.1", port)
    plc_server.start()
    history = History(tmp_path / "h.sqlite")
    stop = threading.Event()
    runner = Runner(Station(cal, engine, history=history), FolderSource(inbox, settle_s=0.2),
                    RunOptions(plcs=[plc_server], free_run=False, masters=Masters.read(tmp_path / "masters.txt")))
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    plc = ModbusTcpClient("127.0.0.1", port=port)
    assert plc.connect()
    seen = []
    try:
        for part_id in ("rr-1", "RR-2", "SN-7"):  # a scratched red rabbit, one the station passes, a production part
            assert plc.write_registers(10, ascii_words(part_id)).status
            assert plc.write_coil(0, True).status
            _wait(lambda: _coils(plc)[2])
            seen.append((plc.read_holding_registers(0, count=1).registers[0],
                         *plc.read_holding_registers(34, count=2).registers, _coils(plc)[4]))
            assert plc.write_coil(3, True).status
    finally:
        stop.set()
        thread.join(timeout=30)
        plc.close()
        plc_server.close()
    history.close()
    # (Verdict, MasterCheck, AlarmBits, Alarm): which alarm, for an HMI that reads no text: bit 7 master_failed.
    assert ALARM_NAMES.index("master_failed") == 7
    assert seen == [(2, 1, 0, False), (1, 2, 128, True), (1, 0, 128, True)]


def test_free_run_publishes_every_result(projects, tmp_path):
    engine, cal, _ = projects
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(4):
        (inbox / f"p{i}.png").write_bytes(png_bytes(part(950 + i)))
    port = free_port()
    plc_server = ModbusServer("127.0.0.1", port)
    plc_server.start()
    try:
        with History(tmp_path / "h.sqlite") as history:
            Runner(Station(cal, engine, history=history), FolderSource(inbox, settle_s=0.2),
                   RunOptions(plcs=[plc_server], free_run=True, idle_exit_s=0.5)).run()
            assert history.count() == 4
        plc = ModbusTcpClient("127.0.0.1", port=port)
        assert plc.connect()
        regs = plc.read_holding_registers(0, count=6).registers
        coils = _coils(plc)
        plc.close()
    finally:
        plc_server.close()
    assert regs[0] == 1 and regs[3] == 4 and coils[2]  # the last result, sequence 4, ready


def test_float_registers_low_word_first_for_a_plc_that_reads_them_so():
    """`--modbus-float CDAB`: a Schneider / Modicon PLC reads a REAL low word first; every float32 register
    (Score, DefectArea, DefectX, DefectY, DefectLength) is written so, the other registers as before."""
    from types import SimpleNamespace

    from inference import Region, Verdict
    from station import Outcome

    defect = Region((10, 10, 8, 8), (14.5, 17.25), 64, 2.5, 0.9, counts=True, length_px=11.0, length_mm=0.75)
    outcome = Outcome("p.png", Verdict.NG, "score 3.25 >= threshold 2", 3.25, 2.0, "v2", None,
                      result=SimpleNamespace(regions=[defect]))
    read = {}
    for order in ("ABCD", "CDAB"):
        port = free_port()
        server = ModbusServer("127.0.0.1", port, floats=order)
        server.start()
        server.handshake.publish_result(outcome)
        plc = ModbusTcpClient("127.0.0.1", port=port)
        try:
            assert plc.connect()
            read[order] = plc.read_holding_registers(0, count=40).registers
        finally:
            plc.close()
            server.close()
    plain, swapped = read["ABCD"], read["CDAB"]
    for at, value in ((1, 3.25), (8, 2.5), (30, 14.5), (32, 17.25), (37, 0.75)):
        assert words_float(plain[at], plain[at + 1]) == value
        assert swapped[at:at + 2] == [plain[at + 1], plain[at]]  # the same float, low word first
    floats = {1, 2, 8, 9, 30, 31, 32, 33, 37, 38}
    assert [w for i, w in enumerate(swapped) if i not in floats] == [w for i, w in enumerate(plain) if i not in floats]
    assert "floats low word first (CDAB)" in ModbusServer("127.0.0.1", 502, floats="cdab").describe()


def test_a_bad_float_order_is_one_line(tmp_path, capsys):
    assert_run_refuses(tmp_path, capsys, (
        (["--modbus-float", "CDAB"], "--modbus-float goes with --modbus HOST:PORT"),
        (["--modbus", f"127.0.0.1:{free_port()}", "--modbus-float", "BADC"],
         "--modbus-float: 'BADC' is no float word order: ABCD")))
