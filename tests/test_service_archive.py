"""`inspector serve --archive DIR`: a line request's images are kept as they came, after its answer, in
DIR/PROJECT/<date>/<verdict>/, each history row says where, and a reviewer's mark can be taught back from there.
Before, the service kept no image: a false reject marked over HTTP could not be looked at or taught back."""

import time
from pathlib import Path

import httpx

from inspector_service.app import create_app
from inspector_service.line import ServiceLine
from line_helpers import make_project, part, png_bytes
from service_helpers import LiveServer, wait_job
from station import Station
from station.history import History
from station.line_io.metrics import LineMetrics


def test_serve_archives_line_images_as_they_came_and_a_marked_one_is_taught_back(tmp_path):
    engine, proj = make_project(tmp_path / "projects" / "proj")
    archive = tmp_path / "archive"
    server = LiveServer(create_app(tmp_path / "projects", engine=engine,
                                   line=ServiceLine(LineMetrics(), archive=archive))).start()
    sent = [png_bytes(part(700 + i, scratch=i == 2)) for i in range(3)]
    try:
        # A vision PC that names every part image.png; then a bench check, which is no line part.
        r = httpx.post(f"{server.url}/projects/proj/infer", timeout=120,
                       files=[("images", ("image.png", data, "image/png")) for data in sent])
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        bench = httpx.post(f"{server.url}/projects/proj/infer", timeout=120, data={"bench": "true"},
                           files=[("images", ("check.png", sent[0], "image/png"))])
        assert bench.status_code == 200
        deadline = time.monotonic() + 30
        with History(proj / "history.sqlite") as history:
            while not all(history.get(x["row_id"]).archive_path for x in results):
                assert time.monotonic() < deadline, "the images were not archived"
                time.sleep(0.05)
            rows = [history.get(x["row_id"]) for x in results]
            assert history.get(bench.json()["results"][0]["row_id"]).archive_path is None
        ng = next(x for x in results if x["verdict"] == "NG")
        marked = httpx.put(f"{server.url}/projects/proj/history/{ng['row_id']}/label", data={"label": "false_reject"})
        assert marked.status_code == 200
    finally:
        server.stop()
    assert [x["verdict"] for x in results] == ["OK", "OK", "NG"]
    paths = [Path(row.archive_path) for row in rows]
    assert [p.read_bytes() for p in paths] == sent  # as they came: the same bytes
    assert [p.relative_to(archive).parts[0] for p in paths] == ["proj"] * 3
    assert [p.parent.name for p in paths] == ["OK", "OK", "NG"]
    assert [p.name for p in paths] == ["image.png", f"image_row{rows[1].id}.png", "image.png"]
    assert len(list(archive.rglob("*.png"))) == 3  # the bench check is not archived
    station = Station(proj, engine)
    try:
        taught = station.teach_back([ng["row_id"]])  # the window's Teach false rejects, from the archived copy
    finally:
        station.close()
    assert taught.n_images == 8 + 1


def test_the_reviewers_loop_over_http_teaches_and_calibrates_with_the_marked_images(tmp_path):
    """A web HMI on the line marks rows, then teaches the false rejects back and calibrates with the marks, as
    `inspector fit --false-rejects` / `calibrate --marked` and the window's History tab do (station/review.py)."""
    engine, proj = make_project(tmp_path / "projects" / "proj")
    server = LiveServer(create_app(tmp_path / "projects", engine=engine,
                                   line=ServiceLine(LineMetrics(), archive=tmp_path / "archive"))).start()
    good, scratched = png_bytes(part(720)), png_bytes(part(721, scratch=True))
    cal = [("ok", (f"c{i}.png", png_bytes(part(730 + i)), "image/png")) for i in range(4)]
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            assert client.post("/projects/proj/fit_ok", data={"false_rejects": "true"}).status_code == 422
            r = client.post("/projects/proj/infer", data={"part_id": ["A", "B"]},
                            files=[("images", ("a.png", good, "image/png")), ("images", ("b.png", scratched,
                                                                                         "image/png"))])
            ok_row, ng_row = (x["row_id"] for x in r.json()["results"])
            assert [x["verdict"] for x in r.json()["results"]] == ["OK", "NG"]
            deadline = time.monotonic() + 30
            with History(proj / "history.sqlite") as history:
                while not history.get(ng_row).archive_path:
                    assert time.monotonic() < deadline, "not archived"
                    time.sleep(0.05)
            # The HMI shows the technician the part before the mark: the image as it came, from the archive.
            with History(proj / "history.sqlite") as history:  # and the window's History view, its heatmap
                assert history.get(ng_row).heatmap_png[:8] == b"\x89PNG\r\n\x1a\n"
            image = client.get(f"/projects/proj/history/{ng_row}/image")
            assert image.status_code == 200 and image.content == scratched
            bench = client.post("/projects/proj/infer", data={"bench": "true"},
                                files=[("images", ("check.png", good, "image/png"))]).json()["results"][0]["row_id"]
            for missing in (bench + 1000, bench):  # no such row; a bench check, never archived
                gone = client.get(f"/projects/proj/history/{missing}/image")
                assert gone.status_code == 404 and str(missing) in gone.json()["error"]
            for row, label in ((ng_row, "false_reject"), (ok_row, "false_accept")):
                assert client.put(f"/projects/proj/history/{row}/label", data={"label": label}).status_code == 200
            taught = client.post("/projects/proj/fit_ok", data={"false_rejects": "true"})
            assert taught.status_code == 202, taught.text  # the active model has not taught it: queued
            job = wait_job(client, taught.json()["job_id"])
            assert job["state"] == "done" and (job["n_uploaded"], job["n_marked"]) == (0, 1)
            assert job["result"]["n_images"] == 8 + 1
            calibrated = client.post("/projects/proj/calibrate_ng", files=cal, data={"marked": "true"})
            assert calibrated.status_code == 200, calibrated.text
            # The version calibrated taught the false reject: no OK image of its calibration; the false accept
            # is an NG one.
            assert (calibrated.json()["n_ok"], calibrated.json()["n_ng"]) == (4, 1)
            again = client.post("/projects/proj/fit_ok", data={"false_rejects": "true"})
            assert again.status_code == 422 and "1 taught already" in again.json()["error"]
    finally:
        server.stop()


def test_the_services_line_alarms_are_kept_and_served(tmp_path):
    """`inspector serve`'s line alarms go into the project's alarm history, as the run's do, and are read back
    over HTTP (GET /projects/{name}/history/alarms, newest first)."""
    from station.line_io.alarms import AlarmLimits

    engine, proj = make_project(tmp_path / "projects" / "proj")
    limits = AlarmLimits(ng_streak=1, yield_min=None, drift_warn_at=None)
    server = LiveServer(create_app(tmp_path / "projects", engine=engine,
                                   line=ServiceLine(LineMetrics(), alarm_limits=limits))).start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            for seed, scratch in ((740, True), (741, False)):
                r = client.post("/projects/proj/infer", files=[("images", ("p.png", png_bytes(part(seed, scratch)),
                                                                           "image/png"))])
                assert r.json()["results"][0]["verdict"] == ("NG" if scratch else "OK")
            events = client.get("/projects/proj/history/alarms").json()["events"]
            assert [(e["project"], e["name"], e["raised"]) for e in events] == [("proj", "ng_streak", False),
                                                                                ("proj", "ng_streak", True)]
            assert events[1]["message"] == "ALARM ng_streak: 1 NG in a row" and events[1]["time"].endswith("+00:00")
            (total,) = client.get("/projects/proj/history/alarms").json()["totals"]
            assert (total["name"], total["raised"], total["active"]) == ("ng_streak", 1, False)
            assert total["text"].startswith("ng_streak (proj): raised 1x, on 0:00:0")
            assert client.get("/projects/proj/history/alarms", params={"since": "2099-01-01"}).json()["events"] == []
            assert client.get("/projects/proj/history/alarms", params={"since": "soon"}).status_code == 422
    finally:
        server.stop()
