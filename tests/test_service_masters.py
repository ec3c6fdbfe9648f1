"""`inspector serve --masters FILE`: a line request whose part_id names a master part is a check of the station,
as in the run mode (tests/test_masters.py): its result says whether it passed, the response's counts and the
metrics leave it out of production, and /health carries the project's master_failed alarm until it passes."""

import httpx

from inspector_service.app import create_app
from inspector_service.line import ServiceLine
from line_helpers import make_project, part, png_bytes
from service_helpers import LiveServer
from station.history import History
from station.line_io.metrics import LineMetrics
from station.masters import Masters


def _infer(server, images: list, part_ids: list) -> dict:
    r = httpx.post(f"{server.url}/projects/proj/infer", timeout=120, data={"part_id": part_ids},
                   files=[("images", (f"p{i}.png", png_bytes(rgb), "image/png")) for i, rgb in enumerate(images)])
    assert r.status_code == 200, r.text
    return r.json()


def test_serve_judges_master_parts_as_checks_and_raises_the_alarm_until_one_passes(tmp_path):
    engine, proj = make_project(tmp_path / "projects" / "proj")
    (tmp_path / "masters.txt").write_text("RR-1 NG\n")
    metrics = LineMetrics()
    line = ServiceLine(metrics, masters=Masters.read(tmp_path / "masters.txt"))
    server = LiveServer(create_app(tmp_path / "projects", engine=engine, line=line)).start()
    try:
        # A production part, and the red rabbit that the station lets through: the check fails.
        first = _infer(server, [part(800), part(801)], ["SN-1", "rr-1"])
        health = httpx.get(f"{server.url}/health", timeout=30).json()
        again = _infer(server, [part(802, scratch=True)], ["RR-1"])  # the red rabbit, caught this time
        cleared = httpx.get(f"{server.url}/health", timeout=30).json()
        body = httpx.get(f"{server.url}/metrics", timeout=30).text
    finally:
        server.stop()
    production, master = first["results"]
    assert "master" not in production and master["master"] == {"expected": "NG", "passed": False}
    assert master["verdict"] == "OK" and first["counts"]["total"] == 1  # the master is no production part
    assert "RR-1 FAILED: expected NG, got OK" in health["alarms"]["proj"]["master_failed"]
    assert again["results"][0]["master"] == {"expected": "NG", "passed": True} and again["counts"]["total"] == 0
    assert "proj" not in cleared["alarms"]
    assert 'inspector_master_checks_total{project="proj",result="failed"} 1.0' in body
    assert 'inspector_inspections_total{project="proj",verdict="OK"} 1.0' in body
    with History(proj / "history.sqlite") as history:
        rows = history.query(order="id", descending=False)
    assert [(r.part_id, r.purpose, r.master_passed) for r in rows] == [("SN-1", "line", None), ("rr-1", "master", False),
                                                                     ("RR-1", "master", True)]
