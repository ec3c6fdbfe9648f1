"""The service's records of line inspections over real HTTP: history rows with part ids, a reviewer's marks set
by the line's software, and the Prometheus metrics."""

from __future__ import annotations

import base64

from service_helpers import files


def test_http_inspections_are_history_rows_with_part_ids(client, images, disc):
    r = client.post("/projects/disc/infer", files=files(images["cal"][:2]), data={"part_id": ["SN-1", "SN-2"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["part_id"] for x in body["results"]] == ["SN-1", "SN-2"] and all(x["row_id"] for x in body["results"])
    assert body["counts"]["total"] == 2 and body["model_version"] == body["results"][0]["model_version"]
    history = client.get("/projects/disc/history", params={"part_id": "SN-2"}).json()
    (row,) = history["rows"]
    assert row["verdict"] == body["results"][1]["verdict"] and row["source"] == "http" and row["purpose"] == "line"
    assert row["model_version"] == body["model_version"] and history["counts"]["total"] == 1
    bad = client.post("/projects/disc/infer", files=files(images["cal"][:2]), data={"part_id": ["only-one"]})
    assert bad.status_code == 422 and "part_id" in bad.json()["error"]
    bad = client.get("/projects/disc/history", params={"verdict": "FOO"})
    assert bad.status_code == 422 and "verdict" in bad.json()["error"]
    # An MES pulling what came since its last look: a time window, as the periods and zones take.
    recent = client.get("/projects/disc/history", params={"part_id": "SN-2", "since": "1h"}).json()
    assert [r["id"] for r in recent["rows"]] == [row["id"]] and recent["counts"]["total"] == 1
    assert "heatmap_png_base64" not in recent["rows"][0]
    # An HMI's list with each part's map: the thumbnail the station kept with the row.
    shown = client.get("/projects/disc/history", params={"part_id": "SN-2", "heatmap": "true"}).json()["rows"][0]
    assert base64.b64decode(shown["heatmap_png_base64"])[:8] == b"\x89PNG\r\n\x1a\n"
    later = client.get("/projects/disc/history", params={"part_id": "SN-2", "since": "2099-01-01"}).json()
    assert later["rows"] == [] and later["counts"]["total"] == 0
    assert client.get("/projects/disc/history", params={"until": "yesterday-ish"}).status_code == 422


def test_the_same_image_sent_for_the_next_part_is_an_error_and_a_retry_of_a_part_is_answered_once(client, images,
                                                                                                   disc):
    """A line whose camera froze sends its last image again for each new part: with part ids, the repeat is an
    ERROR naming the image it repeats (never that part's verdict); a retry of the same part's request gets its
    first answer, one history row (station/resends.py), and without part ids nothing is checked (a retry and a
    frozen camera look the same)."""
    first, second = images["many"][50], images["many"][51]

    def send(path, part_id=None):
        r = client.post("/projects/disc/infer", files=files([path]),
                        data={"part_id": [part_id]} if part_id else None)
        assert r.status_code == 200, r.text
        return r.json()["results"][0]

    judged = send(first, "SN-500")
    assert judged["verdict"] in ("OK", "NG") and "resent" not in judged
    retry = send(first, " sn-500 ")  # the client's retry of that part (its id as the PLC may pad it)
    assert retry["resent"] is True and {k: retry[k] for k in judged} == judged  # the same answer, the same row
    body = client.post("/projects/disc/infer", files=files([first]), data={"part_id": ["SN-500"]},
                       params={"heatmap": "true"}).json()
    assert body["results"][0]["row_id"] == judged["row_id"] and body["results"][0]["resent"] is True
    assert "heatmap_png_base64" not in body["results"][0]  # the map is not kept for a retry (the row's thumbnail is)
    assert body["timings"]["inference_s"] == 0 and body["timings"]["queue_s"] == 0  # no backbone for a retry
    frozen = send(first, "SN-501")
    assert (frozen["verdict"], frozen["score"], frozen["error_code"], frozen["cause"]) == \
        ("ERROR", None, 4, "repeated_image")  # as the PLC's register says it
    assert frozen["reason"].startswith(f"the same image as the part before ({first.name}, part SN-500), to the bit")
    again = send(first, "SN-501")  # retried, the frozen frame is still not SN-501's image: the same answer
    assert (again["verdict"], again["row_id"], again["resent"]) == ("ERROR", frozen["row_id"], True)
    assert send(second, "SN-501")["verdict"] in ("OK", "NG")
    unnamed = send(first), send(first)  # without part ids: each judged, and recorded
    assert all(x["verdict"] in ("OK", "NG") and "resent" not in x for x in unnamed)
    assert unnamed[0]["row_id"] != unnamed[1]["row_id"]
    assert send(second, "SN-502")["verdict"] in ("OK", "NG")  # SN-501's image, but another image came between
    assert client.get("/projects/disc/history", params={"part_id": "SN-500"}).json()["counts"]["total"] == 1
    assert _scrape(client)[("inspector_resent_total", (("project", "disc"),))] == 3  # the line's network, watched
    row = client.get("/projects/disc/history", params={"part_id": "SN-501", "verdict": "ERROR", "heatmap": "true"}
                     ).json()["rows"]
    assert len(row) == 1 and "frozen camera" in row[0]["reason"] and row[0]["error_code"] == 4
    assert "heatmap_png_base64" not in row[0]  # not judged: no map of the image it repeats
    # What keeps parts from being judged, for the line's software: the ERRORs by cause, and those of one cause.
    causes = client.get("/projects/disc/history/causes").json()["causes"]
    assert causes[0] == {"error_code": 4, "cause": "repeated_image", "ERROR": 1, "share": 1.0,
                         "description": "the same image as the part before (a frozen camera)"}
    frozen_rows = client.get("/projects/disc/history", params={"cause": "repeated_image"}).json()
    assert [r["part_id"] for r in frozen_rows["rows"]] == ["SN-501"] and frozen_rows["counts"]["ERROR"] == 1
    bad = client.get("/projects/disc/history", params={"cause": "dust"})
    assert bad.status_code == 422 and "cause: 'dust' is not an ERROR's cause" in bad.json()["error"]
    missing = client.get("/projects/nope/history/causes", params={"since": "whenever"})
    assert missing.status_code == 404 and "nope" in missing.json()["error"]  # the project first, then its times


def test_a_retry_sent_while_its_first_request_is_inspected_is_still_one_part(live, images, disc):
    """The client gave up waiting and sent again while the service was still inspecting: whichever request is
    recorded first, the other gets its answer, and the part is one history row."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    def send(_):
        with httpx.Client(base_url=live.url, timeout=120) as c:
            r = c.post("/projects/disc/infer", files=files([images["many"][40]]), data={"part_id": ["SN-900"]})
            assert r.status_code == 200, r.text
            return r.json()["results"][0]

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(send, range(2)))
    assert answers[0]["row_id"] == answers[1]["row_id"] and sorted(bool(a.get("resent")) for a in answers) == \
        [False, True]
    with httpx.Client(base_url=live.url, timeout=120) as c:
        assert c.get("/projects/disc/history", params={"part_id": "SN-900"}).json()["counts"]["total"] == 1


def test_the_lines_software_marks_a_false_reject_and_finds_the_marked_rows(client, images, disc):
    """A rework station found the part good: it marks the row over HTTP, as a technician does in the window; the
    mark is in the history (kept by retention, its image by the archive), and a wrong input is a 4xx naming it."""
    r = client.post("/projects/disc/infer", files=files(images["cal"][:1]), data={"part_id": ["SN-77"]})
    row_id = r.json()["results"][0]["row_id"]
    marked = client.put(f"/projects/disc/history/{row_id}/label", data={"label": "false_reject"})
    assert marked.status_code == 200, marked.text
    assert marked.json()["row"]["label"] == "false_reject" and marked.json()["row"]["part_id"] == "SN-77"
    listed = client.get("/projects/disc/history", params={"label": "false_reject"}).json()
    assert [row["id"] for row in listed["rows"]] == [row_id] and listed["counts"]["total"] == 1
    assert client.put(f"/projects/disc/history/{row_id}/label", data={"label": "none"}).json()["row"]["label"] is None
    assert client.get("/projects/disc/history", params={"label": "false_reject"}).json()["rows"] == []
    bad = client.put(f"/projects/disc/history/{row_id}/label", data={"label": "maybe"})
    assert bad.status_code == 422 and "label" in bad.json()["error"]
    gone = client.put("/projects/disc/history/987654/label", data={"label": "false_accept"})
    assert gone.status_code == 404 and "987654" in gone.json()["error"]
    assert client.get("/projects/disc/history", params={"label": "good"}).status_code == 422


def _scrape(client) -> dict:
    """GET /metrics parsed with prometheus_client's own parser: {(name, labels...): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def test_metrics_count_inspections_by_verdict_latency_and_model_version(client, images, disc):
    before = _scrape(client)
    r = client.post("/projects/disc/infer", files=files(images["cal"][:2] + images["ng"][:1]))
    assert r.status_code == 200, r.text
    body = r.json()
    after = _scrape(client)

    def delta(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0) - before.get(key, 0)

    verdicts = [x["verdict"] for x in body["results"]]
    for v in ("OK", "NG", "NOT_FOUND", "NO_VERDICT", "ERROR"):
        assert delta("inspector_inspections_total", project="disc", verdict=v) == verdicts.count(v)
    assert delta("inspector_latency_seconds_count", project="disc") == 3
    assert delta("inspector_latency_seconds_bucket", project="disc", le="+Inf") == 3
    assert after[("inspector_model_version", (("project", "disc"),))] == int(body["model_version"][1:])
    assert after[("inspector_queue_depth", ())] == 0
    assert after[("inspector_alarm_active", (("alarm", "ng_streak"), ("project", "disc")))] == 0


def test_it_pulls_a_checked_backup_that_restores_the_project(client, images, disc, tmp_path):
    """IT's nightly job pulls each project's backup over HTTP; it restores with `inspector restore` on a new PC."""
    from inference import check_backup, list_versions
    from station.backup import restore

    client.post("/projects/disc/infer", files=files(images["cal"][:1]), data={"part_id": ["SN-B"]})
    r = client.get("/projects/disc/backup")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip" and "disc-" in r.headers["content-disposition"]
    pulled = tmp_path / "pulled.zip"
    pulled.write_bytes(r.content)
    info = check_backup(pulled)
    assert info.project == "disc" and info.notes["history_rows"] >= 1
    restore(pulled, tmp_path / "disc")
    versions = client.get("/projects/disc/versions").json()["versions"]
    assert [v.version for v in list_versions(tmp_path / "disc")] == [v["version"] for v in versions]
    lean = client.get("/projects/disc/backup", params={"history": "false"})
    assert lean.status_code == 200 and len(lean.content) < len(r.content)
    pulled.write_bytes(lean.content)
    assert check_backup(pulled).notes["history_rows"] is None
    missing = client.get("/projects/nope/backup")
    assert missing.status_code == 404 and "nope" in missing.json()["error"]
    bad = client.get("/projects/disc/backup", params={"wait": "-1"})
    assert bad.status_code == 422 and "wait" in bad.text


def test_a_backup_uploaded_restores_as_a_new_project_that_inspects_alike(client, live, images, disc):
    """A replacement line PC gets its project over HTTP: the backup of one project, uploaded, is a new project
    that gives the same scores; never over a project; a damaged upload is named as the upload and leaves nothing."""
    from inference import read_audit

    backup = client.get("/projects/disc/backup", params={"history": "false"}).content
    assert client.get("/projects/disc-b/versions").status_code == 404  # asking first creates nothing
    r = client.post("/projects/disc-b/restore", files={"backup": ("disc.zip", backup, "application/zip")},
                    data={"note": "PC 3 replaced"})
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["project"] == "disc-b" and out["backup"]["project"] == "disc" and out["inspects"] is True
    assert "warning" not in out and "files" not in out["backup"]
    scored = [client.post(f"/projects/{p}/infer", files=files(images["ng"][:1])).json()["results"][0]
              for p in ("disc", "disc-b")]
    assert scored[0]["score"] == scored[1]["score"] and scored[0]["verdict"] == scored[1]["verdict"] == "NG"
    row = read_audit(live.projects / "disc-b")[-1]
    assert (row["action"], row["note"]) == ("restore", "PC 3 replaced")

    again = client.post("/projects/disc-b/restore", files={"backup": ("disc.zip", backup, "application/zip")})
    assert again.status_code == 409 and "never writes over a project" in again.json()["error"]
    assert "(POST /projects/disc-b/activate)" in again.json()["error"]
    damaged = bytearray(backup)
    damaged[len(damaged) // 2] ^= 0xFF
    bad = client.post("/projects/disc-c/restore", files={"backup": ("nightly.zip", bytes(damaged), "application/zip")})
    assert bad.status_code == 422 and "the uploaded file 'nightly.zip' is a damaged" in bad.json()["error"]
    plain = client.post("/projects/disc-c/restore", files={"backup": ("notes.txt", b"hello", "text/plain")})
    assert plain.status_code == 422 and "'notes.txt'" in plain.json()["error"]
    assert client.post("/projects/bad name/restore", files={"backup": ("disc.zip", backup)}).status_code == 400
    import errno
    import shutil

    from inspector_service import records

    def disk_full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    real, records.shutil.copyfileobj = shutil.copyfileobj, disk_full  # the service runs in this process
    try:
        full = client.post("/projects/disc-c/restore", files={"backup": ("disc.zip", backup, "application/zip")})
    finally:
        records.shutil.copyfileobj = real
    assert full.status_code == 507 and "no space left on the disk" in full.json()["error"]
    assert not (live.projects / "disc-c").exists()
    assert sorted(p.name for p in live.projects.iterdir() if p.name.startswith(".")) == []  # no upload, no temp


def test_calibration_zones_over_http(client, images, live):
    """calibrate_ng's `zones` and `min_length` fields: a zone over the scratch with its own minimum area catches a scratch that the
    rest's minimum area lets through; results say each region's area per zone; the version list shows them; a bad
    zones field, or a zone off the ROI, is a 422 naming it and saves nothing."""
    import json

    from service_constants import ROI
    from service_helpers import fit, snapshot

    assert fit(client, "zoned", images["ok"], roi=ROI, mm_per_px="0.05")["state"] == "done"
    seal = {"name": "seal", "min_area": 0.01, "shape": {"type": "rect", "cx": 76, "cy": 77, "w": 60, "h": 46}}
    form = {"min_area": "1000", "zones": json.dumps([seal]), "min_length": "40"}
    r = client.post("/projects/zoned/calibrate_ng", files=files(images["cal"], "ok") + files(images["ng"], "ng"),
                    data=form)
    assert r.status_code == 200, r.text
    cal = r.json()
    assert cal["zones"][0]["name"] == "seal" and cal["min_area_unit"] == "mm2" and cal["far"] == 0.0
    assert cal["min_length"] == 40.0
    body = client.post("/projects/zoned/infer", files=files(images["ng"][:1])).json()["results"][0]
    assert body["verdict"] == "NG", body["reason"]
    counted = body["regions"][body["ng_regions"][0]]
    assert counted["zones"]["seal"] > 0.01 and "in seal (limit 0.01)" in body["reason"]
    assert client.get("/projects/zoned/history/zones").json()["zones"] == [{"zone": "seal", "NG": 1, "share": 1.0}]
    assert 'inspector_ng_zone_total{project="zoned",zone="seal"} 1.0' in client.get("/metrics").text
    versions = client.get("/projects/zoned/versions").json()["versions"]
    assert next(v for v in versions if v["active"])["calibration"]["zones"] == cal["zones"]
    before = snapshot(live.projects / "zoned")
    off = dict(seal, shape={"type": "circle", "cx": 3, "cy": 3, "r": 2})
    for zones, word in (("[{", "must be a JSON list of zones"), (json.dumps([dict(seal, min_area=-1)]), "'seal'"),
                        (json.dumps([off]), "cover no pixel of the ROI")):
        r = client.post("/projects/zoned/calibrate_ng", files=files(images["cal"], "ok"), data={"zones": zones})
        assert r.status_code == 422 and word in r.json()["error"] and "zone" in r.json()["error"], r.text
    for length, word in (("-1", "minimum length"), ("abc", "'min_length'"), ("inf", "'min_length'")):
        r = client.post("/projects/zoned/calibrate_ng", files=files(images["cal"], "ok"), data={"min_length": length})
        assert r.status_code == 422 and word in r.json()["error"], r.text
    assert snapshot(live.projects / "zoned") == before


def test_a_request_sent_again_with_its_idempotency_key_gets_its_first_answer(client, images, disc):
    """A client that keys its requests (the IETF's Idempotency-Key) and sends one again when the answer was lost
    gets the first answer, part ids or not: one history row per image, nothing counted twice; the key with another
    request, or a key that is no key, is a 422 naming the header."""
    before = client.get("/projects/disc/history").json()["counts"]["total"]
    two = files([images["many"][30], images["many"][31]])
    first = client.post("/projects/disc/infer", files=two, headers={"Idempotency-Key": "req-7f3a"})
    assert first.status_code == 200, first.text
    again = client.post("/projects/disc/infer", files=files([images["many"][30], images["many"][31]]),
                        headers={"Idempotency-Key": "req-7f3a"})
    assert again.status_code == 200, again.text
    a, b = first.json(), again.json()
    assert [r["row_id"] for r in b["results"]] == [r["row_id"] for r in a["results"]]
    assert all(r["resent"] is True for r in b["results"]) and not any("resent" in r for r in a["results"])
    assert b["counts"] == a["counts"] and b["timings"]["inference_s"] == 0
    assert client.get("/projects/disc/history").json()["counts"]["total"] == before + 2
    other = client.post("/projects/disc/infer", files=files([images["many"][32]]),
                        headers={"Idempotency-Key": "req-7f3a"})
    assert other.status_code == 422 and "Idempotency-Key: this key came with another request" in other.json()["error"]
    bad = client.post("/projects/disc/infer", files=files([images["many"][32]]), headers={"Idempotency-Key": "x" * 300})
    assert bad.status_code == 422 and bad.json()["error"].startswith("Idempotency-Key:")
    assert client.get("/projects/disc/history").json()["counts"]["total"] == before + 2  # neither was inspected
