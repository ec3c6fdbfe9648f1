"""A server bound to every address names where other PCs reach it (station/addresses.py): the PC's name and its
network addresses, never loopback or link-local; a server bound to one address adds nothing."""

import ipaddress
import socket

from inspector_line.display_server import DisplayServer
from station.addresses import elsewhere, is_wildcard, this_pc_addresses
from station.line_io.display import LineDisplay
from station.line_io.modbus import ModbusServer


def test_wildcards_name_this_pc_and_one_address_adds_nothing():
    assert is_wildcard("0.0.0.0") and is_wildcard("::") and is_wildcard("[::]") and is_wildcard("")
    assert not is_wildcard("127.0.0.1") and not is_wildcard("192.168.10.21") and not is_wildcard("panel-7")
    assert elsewhere("192.168.10.21", 8080) == elsewhere("127.0.0.1", 502, scheme="") == ""
    name = socket.gethostname()
    assert elsewhere("0.0.0.0", 8080, path="/", addresses=["192.168.10.21"]) == (
        f"; from other PCs: http://{name}:8080/ or http://192.168.10.21:8080/")
    assert elsewhere("::", 4840, "opc.tcp", addresses=["fd00::2"]) == (
        f"; from other PCs: opc.tcp://{name}:4840 or opc.tcp://[fd00::2]:4840")
    assert elsewhere("0.0.0.0", 502, scheme="", addresses=[]) == f"; from other PCs: {name}:502"
    many = [f"10.0.0.{i}" for i in range(1, 8)]
    assert elsewhere("0.0.0.0", 80, addresses=many).endswith("http://10.0.0.4:80 (and 3 more addresses)")


def test_this_pcs_addresses_are_the_ones_other_pcs_reach():
    found = this_pc_addresses(ipv6=True)
    assert len(found) == len(set(found))
    for text in found:
        ip = ipaddress.ip_address(text)
        assert not (ip.is_loopback or ip.is_link_local or ip.is_unspecified)
    assert all(ipaddress.ip_address(a).version == 4 for a in this_pc_addresses())
    # every address named is this PC's own: a socket binds to it
    for text in this_pc_addresses():
        with socket.socket() as sock:
            sock.bind((text, 0))


def test_start_lines_of_servers_bound_to_every_address():
    name = socket.gethostname()
    display = DisplayServer(LineDisplay(), "0.0.0.0", 8080).describe()
    assert f"from other PCs: http://{name}:8080/" in display and display.endswith("anyone on the network sees the parts)")
    assert "from other PCs" not in DisplayServer(LineDisplay(), "127.0.0.1", 8080).describe()
    assert f"from other PCs: {name}:1502" in ModbusServer("0.0.0.0", 1502).describe()
