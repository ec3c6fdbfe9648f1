"""`inspector run --modbus-allow`: Modbus has no password, so the server answers only the PCs it names (the PLC);
driven by the real pymodbus client, from a second loopback address (127.0.0.2) as the allowed PLC and from
127.0.0.1 as a PC that is not."""

import logging

import pytest

pytest.importorskip("pymodbus")
from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusIOException
from prometheus_client.parser import text_string_to_metric_families

from inference import InspectorError
from line_helpers import assert_run_refuses, free_port, wait_until
from station.line_io.allowed_peers import LOG_EVERY_S, AllowedPeers
from station.line_io.refusals import MAX_KEYS
from inspector_line.line_args import line_metrics
from station.line_io.modbus import ModbusServer


def test_only_the_allowed_pc_is_answered_and_another_changes_nothing(caplog, tmp_path):
    port = free_port()
    server = ModbusServer("127.0.0.1", port, allowed=AllowedPeers("127.0.0.2"))
    metrics = line_metrics([server])  # as inspector run and the Run view build them
    server.start()
    stranger = ModbusTcpClient("127.0.0.1", port=port, retries=0, timeout=2)
    plc = ModbusTcpClient("127.0.0.1", port=port, source_address=("127.0.0.2", 0), timeout=5)
    try:
        with caplog.at_level(logging.WARNING, logger="station.line_io"):
            assert stranger.connect()  # TCP accepts; the server closes the connection before reading a request
            with pytest.raises((ConnectionException, ModbusIOException, ConnectionError)):  # closed, or reset
                stranger.write_coil(0, True)  # Trigger
        assert server.handshake.state.trigger is False and server.allowed.refused >= 1
        assert "refused 1 connection from 127.0.0.1 (not in --modbus-allow 127.0.0.2)" in caplog.text
        assert plc.connect()
        assert plc.write_coil(0, True).status is not False
        assert server.handshake.state.trigger is True  # the PLC's Trigger
        assert plc.read_coils(0, count=1).bits[0] is True
        wait_until(lambda: server.connected == ("127.0.0.2",), "the PLC connected, the stranger not")
        scraped = {(s.name, tuple(s.labels.items())): s.value for family in
                   text_string_to_metric_families(metrics.exposition()[0].decode()) for s in family.samples}
    finally:
        stranger.close()
        plc.close()
        server.close()
    assert "answering 127.0.0.2 only" in server.describe()
    assert scraped[("inspector_plc_refused_total", (("protocol", "modbus"),))] == server.allowed.refused >= 1
    assert scraped[("inspector_plc_connections", (("protocol", "modbus"),))] == 1  # the PLC, scraped while connected


def test_addresses_networks_and_what_is_refused():
    allowed = AllowedPeers(" 192.168.10.5, 192.168.20.0/28,fd00::/64 ")
    assert allowed.describe() == "192.168.10.5,192.168.20.0/28,fd00::/64"
    assert allowed.allows("192.168.10.5") and allowed.allows("192.168.20.15") and allowed.allows("fd00::7")
    assert allowed.allows("::ffff:192.168.10.5")  # an IPv4 PLC on a dual-stack socket
    assert not allowed.allows("192.168.10.6") and not allowed.allows("192.168.20.16") and not allowed.allows("?")
    for bad, words in (("", "give the PLC's address"), ("plc-1.local", "host names are not resolved"),
                       ("192.168.10.5,10.0.0.x", "'10.0.0.x' is no IP address or network")):
        with pytest.raises(InspectorError, match=words):
            AllowedPeers(bad)


def test_a_scanner_is_logged_once_a_minute_with_its_count(caplog):
    now = [1000.0]
    allowed = AllowedPeers("10.0.0.1", clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="station.line_io"):
        for _ in range(50):
            allowed.refuse("10.9.9.9")
        now[0] += LOG_EVERY_S
        allowed.refuse("10.9.9.9")
        allowed.refuse("10.8.8.8")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["Modbus TCP: refused 1 connection from 10.9.9.9 (not in --modbus-allow 10.0.0.1)",
                     "Modbus TCP: refused 50 connections from 10.9.9.9 (not in --modbus-allow 10.0.0.1)",
                     "Modbus TCP: refused 1 connection from 10.8.8.8 (not in --modbus-allow 10.0.0.1)"]
    assert allowed.refused == 52


def test_a_server_for_other_pcs_without_a_list_says_who_may_write():
    assert "any PC that reaches this port may write Trigger, Ack and Recipe" in ModbusServer("0.0.0.0", 502).describe()
    assert "may write" not in ModbusServer("127.0.0.1", 502).describe()


def test_the_command_line_refuses_a_bad_list_in_one_line(tmp_path, capsys):
    assert_run_refuses(tmp_path, capsys, (
        (["--modbus-allow", "10.0.0.1"], "--modbus-allow goes with --modbus HOST:PORT"),
        (["--modbus", f"127.0.0.1:{free_port()}", "--modbus-allow", "plc.local"],
         "'plc.local' is no IP address or network")))


def test_a_scan_of_many_addresses_is_said_in_one_line_past_the_first_ones(caplog):
    """A scanner walking the network's addresses: the first MAX_KEYS addresses are said one by one, the rest in one
    line a minute; every one is counted, and the memory does not grow with the scan."""
    now = [1000.0]
    allowed = AllowedPeers("10.0.0.1", clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="station.line_io"):
        for i in range(200):
            allowed.refuse(f"10.9.{i // 250}.{i % 250}")
        now[0] += LOG_EVERY_S
        allowed.refuse("10.8.8.8")  # a minute on: the scan's addresses are forgotten, this one is said
    lines = [r.getMessage() for r in caplog.records]
    assert allowed.refused == 201 and len(lines) == MAX_KEYS + 2
    assert lines[MAX_KEYS] == (f"Modbus TCP: 1 more refused, from more than {MAX_KEYS} different PCs or users in a "
                               "minute (a scan of the network?)")
    assert lines[-1] == "Modbus TCP: refused 1 connection from 10.8.8.8 (not in --modbus-allow 10.0.0.1)"
    assert len(allowed.refusals._said_at) <= MAX_KEYS
