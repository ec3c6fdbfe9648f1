"""Which PCs are connected to the PLC servers (station/line_io/plc_links.py): said as they come and go, over the
real pymodbus and asyncua clients, and a PLC that connects for every request is one link."""

import asyncio
import time

import pytest

pytest.importorskip("pymodbus")
pytest.importorskip("asyncua")
from asyncua import Client
from pymodbus.client import ModbusTcpClient

import station.line_io.plc_links as plc_links
from line_helpers import free_port, wait_until
from station.line_io.modbus import ModbusServer
from station.line_io.opcua import NAMESPACE, OpcUaServer
from station.line_io.plc_links import GONE_AFTER_S, PlcLinks


def test_a_pc_is_connected_while_it_holds_a_connection_and_gone_after_a_pause():
    links = PlcLinks("Modbus TCP")
    assert links.update(["10.0.0.5", "10.0.0.5"], 100.0) == ["Modbus TCP: 10.0.0.5 connected"]
    # a PLC that opens a connection for each request: between two, no connection, and still one link
    assert links.update([], 101.0) == [] and links.update(["10.0.0.5"], 102.0) == []
    assert links.connected == ("10.0.0.5",)
    assert links.update([], 102.0 + GONE_AFTER_S - 0.1) == []
    assert links.update([], 102.0 + GONE_AFTER_S) == ["Modbus TCP: 10.0.0.5 disconnected (connected for 7 s)"]
    assert links.connected == ()
    links.update(["10.0.0.6"], 0.0)
    assert links.update([], 2 * 3600 + 13 * 60) == ["Modbus TCP: 10.0.0.6 disconnected (connected for 2 h 13 min)"]


def test_the_servers_say_when_the_plc_connects_and_goes(monkeypatch):
    monkeypatch.setattr(plc_links, "GONE_AFTER_S", 0.5)
    said = []
    modbus = ModbusServer("127.0.0.1", free_port())
    opcua = OpcUaServer(f"opc.tcp://127.0.0.1:{free_port()}")
    for server in (modbus, opcua):
        server.on_message = said.append
        server.start()
    try:
        plc = ModbusTcpClient("127.0.0.1", port=modbus.port)
        assert plc.connect() and plc.read_coils(0, count=1).bits[0] is False
        wait_until(lambda: modbus.connected == ("127.0.0.1",), "the Modbus PLC seen")

        async def session():
            async with Client(opcua.url) as client:
                await client.get_namespace_index(NAMESPACE)
                deadline = time.monotonic() + 30
                while opcua.connected != ("127.0.0.1",) and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                return opcua.connected

        assert asyncio.run(session()) == ("127.0.0.1",)
        plc.close()
        wait_until(lambda: not modbus.connected and not opcua.connected, "both PLCs gone")
    finally:
        modbus.close()
        opcua.close()
    assert said[:2] == ["Modbus TCP: 127.0.0.1 connected", "OPC UA: 127.0.0.1 connected"]
    assert sorted(line.split(" (")[0] for line in said[2:]) == ["Modbus TCP: 127.0.0.1 disconnected",
                                                                "OPC UA: 127.0.0.1 disconnected"]


def test_the_line_display_shows_the_plcs_link_from_a_real_run(tmp_path):
    """`inspector run --modbus ... --display ...`: the operator's monitor says NO PLC CONNECTED (in the page's
    language) until the PLC connects, then its address."""
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    import httpx

    from line_helpers import make_project
    from page_helpers import element, rendered

    root = Path(__file__).resolve().parents[1]
    _, project = make_project(tmp_path / "proj")
    (tmp_path / "inbox").mkdir()
    modbus_port = free_port()
    env = dict(os.environ, PYTHONPATH=str(root), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "inspector_cli.entry", "run", str(project), "--source",
                             str(tmp_path / "inbox"), "--history", str(tmp_path / "h.sqlite"), "--modbus",
                             f"127.0.0.1:{modbus_port}", "--display", "127.0.0.1:0"],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    plc = ModbusTcpClient("127.0.0.1", port=modbus_port)
    try:
        url = None
        while url is None:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            found = re.search(r"line display: (http://127\.0\.0\.1:\d+)/", line)
            url = found.group(1) if found else None
        assert httpx.get(f"{url}/state", timeout=10).json()["plc"] == []
        spanish = rendered(f"{url}/#lang=es")
        assert plc.connect() and plc.read_coils(0, count=1).bits[0] is False
        wait_until(lambda: httpx.get(f"{url}/state", timeout=10).json()["plc"] == ["127.0.0.1"], "the PLC shown")
        german = rendered(f"{url}/#lang=de")
    finally:
        plc.close()
        proc.terminate()
        out, err = proc.communicate(timeout=60)
    assert element(spanish, "plc").split("</span>")[0].endswith(">NINGÚN PLC CONECTADO")
    assert element(german, "plc").split("</span>")[0].endswith(">SPS 127.0.0.1")
    assert "Modbus TCP: 127.0.0.1 connected" in out + err
