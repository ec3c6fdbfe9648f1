"""Files a line engineer writes by hand on a Windows PC. Notepad saves UTF-8 with a byte-order mark and CRLF line
ends. Before, a ROI file so saved was refused as "not JSON", a token file's token kept the mark (so every request
was refused as unauthorised), and the first OPC UA user's name kept it (so that user could never log in): each
silently, or naming the wrong fault. Now each reads as it was typed (the master parts file too: test_masters.py)."""

from inspector_cli.main import _parse_ignore, _parse_roi
from inspector_service.access import read_tokens
from station.line_io.opcua import read_users

BOM = "\ufeff"


def _notepad(path, text: str):
    path.write_bytes((BOM + text.replace("\n", "\r\n")).encode("utf-8"))
    return path


def test_a_roi_and_ignore_regions_file(tmp_path):
    roi = _notepad(tmp_path / "roi.json", '{"type": "circle", "cx": 64, "cy": 64, "r": 40}\n')
    ignore = _notepad(tmp_path / "ignore.json", '[{"type": "rect", "cx": 60, "cy": 60, "w": 10, "h": 8}]\n')
    assert _parse_roi(str(roi)) == _parse_roi('{"type": "circle", "cx": 64, "cy": 64, "r": 40}')
    assert len(_parse_ignore(str(ignore))) == 1


def test_the_service_token_and_the_opc_ua_users(tmp_path):
    token = "k3y-for-the-line-0123456789"
    assert list(read_tokens(_notepad(tmp_path / "token.txt", token + "\n"), "line")) == [token]
    named = read_tokens(_notepad(tmp_path / "tokens.txt", f"# who\nmes read {token}-mes\n"), "line")
    assert list(named) == [token + "-mes"] and named[token + "-mes"].name == "mes"
    users = read_users(_notepad(tmp_path / "users.txt", "operator:long-enough-1\nplc:long-enough-2\n"))
    assert set(users) == {"operator", "plc"}
