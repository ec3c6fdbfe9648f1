"""The inspection service over real HTTP: a uvicorn server on 127.0.0.1 (free port) in a thread, httpx clients.

Tiny random DINOv2 backbone (2 blocks, 112 px) on generated discs, as the CLI tests use.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

import inference
from inspector_service import cli
from inspector_service.app import create_app
from service_constants import LIMITS, ROI, TOKEN
from service_helpers import LiveServer, files, fit, snapshot, wait_job


def test_fit_infer_calibrate_infer(client, images, live, tiny_config):
    job = fit(client, "flow", images["ok"], roi=ROI, mm_per_px="0.05")
    assert job["state"] == "done" and job["stage"] == "saved"
    result = job["result"]
    assert result["n_images"] == 6 and result["coreset_size"] > 0
    assert result["n_embeddings"] >= result["coreset_size"]
    model_id = result["model_id"]
    assert "flow" in client.get("/projects").json()["projects"]
    info = client.get("/projects/flow").json()
    assert info["manifest"]["model_id"] == model_id and info["calibration"] is None
    # The same answer as `inspector info --json` (station.describe_project): checks, and the index searched.
    assert info["usable"] and info["problems"] == [] and info["index"] == "flat" and info["ivf_lists"] is None
    here = inference.Engine(tiny_config).load(live.projects / "flow").backbone  # the server's settings on this machine
    assert info["compute"] == {"runtime": here.runtime, "precision": here.precision_name, "int8_cosine": None}

    # Uncalibrated: scores, but no verdict, with the reason; never "OK".
    r = client.post("/projects/flow/infer", files=files(images["cal"][:1] + images["ng"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_id"] == model_id and body["calibrated"] is False
    assert [x["name"] for x in body["results"]] == ["ok_010.png", "ng_050.png", "ng_051.png"]
    for x in body["results"]:
        assert x["verdict"] == "NO_VERDICT" and "not calibrated" in x["reason"] and x["score"] > 0
        assert x["token_shape"] == [8, 8]
    ok_score, ng_scores = body["results"][0]["score"], [x["score"] for x in body["results"][1:]]
    assert min(ng_scores) > ok_score  # the scratch is found

    r = client.post("/projects/flow/calibrate_ng", files=files(images["cal"], "ok") + files(images["ng"], "ng"),
                    data={"min_area": "0.5"})
    assert r.status_code == 200, r.text
    cal = r.json()
    assert cal["method"] == "ok_ng" and cal["n_ok"] == 4 and cal["n_ng"] == 2
    assert cal["far"] == 0.0 and cal["frr"] == 0.0 and cal["margin"] > 0 and cal["model_id"] == model_id
    # 0 of 4 OK and 0 of 2 NG rule out little: 1 - 0.05^(1/n) is the highest rate they cannot exclude
    assert cal["frr_upper_95"] == pytest.approx(1 - 0.05 ** (1 / 4)) and cal["far_upper_95"] == pytest.approx(
        1 - 0.05 ** (1 / 2))
    assert cal["evidence"].startswith("At 95% confidence, false reject at most 53% and false accept at most 78%")
    saved = json.loads((live.projects / "flow" / "calibration.json").read_text())
    assert saved["threshold"] == cal["threshold"] and saved["min_area"] == 0.5 == cal["min_area"]
    assert saved["min_area_unit"] == cal["min_area_unit"] == inference.area_unit(
        inference.read_manifest(live.projects / "flow")["mm_per_px"])

    r = client.post("/projects/flow/infer", params={"heatmap": "true"},
                    files=files(images["cal"][:1] + images["ng"]))
    body = r.json()
    assert body["model_id"] == model_id and body["calibrated"] is True
    verdicts = {x["name"]: x["verdict"] for x in body["results"]}
    assert verdicts == {"ok_010.png": "OK", "ng_050.png": "NG", "ng_051.png": "NG"}
    ng = body["results"][1]
    assert ng["threshold"] == cal["threshold"] and ng["ng_regions"]
    region = ng["regions"][ng["ng_regions"][0]]
    assert region["counts"] is True and region["area_mm2"] >= 0.5 and region["area_px"] > 0
    assert len(region["bbox"]) == 4
    import base64

    assert base64.b64decode(ng["heatmap_png_base64"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(body["timings"]) == {"decode_s", "queue_s", "inference_s", "total_s"}

    health = client.get("/health").json()
    assert health["device"] == "cpu" and health["backbone"] == "dinov2_vits14" and health["weights"] == "none"
    flow = next(p for p in health["loaded_projects"] if p["name"] == "flow")
    assert flow.pop("notice").startswith("WARNING: its calibration is not to be trusted as it stands: Only 4 OK image")
    assert flow == {"name": "flow", "model_id": model_id, "model_version": "v2", "backbone": "dinov2_vits14",
                    "calibrated": True}


def test_add_teaches_more_images(client, images, disc):
    before = client.get("/projects/disc").json()["manifest"]
    job = fit(client, "disc", images["more"], add="true")
    assert job["state"] == "done", job
    assert job["result"]["n_images"] == before["n_images"] + 3
    assert job["result"]["n_embeddings"] > before["n_embeddings"]
    new_id = job["result"]["model_id"]
    assert new_id != before["model_id"]
    after = client.get("/projects/disc").json()["manifest"]
    assert after["roi"] == before["roi"] and after["mm_per_px"] == 0.05
    # The new version is staged: the calibrated one keeps inspecting, with verdicts, until it is calibrated.
    assert job["result"]["active"] is False
    r = client.post("/projects/disc/infer", files=files(images["cal"][:1]))
    body = r.json()
    assert body["model_id"] == before["model_id"] and body["results"][0]["verdict"] in ("OK", "NG")
    r = client.post("/projects/disc/calibrate_ng", files=files(images["cal"], "ok") + files(images["ng"], "ng"))
    assert r.status_code == 200 and r.json()["active"] is True and r.json()["model_id"] == new_id
    assert client.post("/projects/disc/infer", files=files(images["cal"][:1])).json()["model_id"] == new_id
    # Adding with a new ROI is refused: add keeps the fitted ROI.
    r = client.post("/projects/disc/fit_ok", files=files(images["more"][:1]), data={"add": "true", "roi": ROI})
    assert r.status_code == 422 and "add" in r.json()["error"]
    r = client.post("/projects/never-fitted/fit_ok", files=files(images["more"][:1]), data={"add": "true"})
    assert r.status_code == 404


def test_cancel_keeps_the_old_model(client, images, live):
    job = fit(client, "cancel-me", images["ok"])
    old_id = job["result"]["model_id"]
    folder = live.projects / "cancel-me"
    saved = snapshot(folder)

    # A queued job is cancelled at once; a running one at the engine's next check.
    running = client.post("/projects/cancel-me/fit_ok", files=files(images["many"])).json()["job_id"]
    queued = client.post("/projects/cancel-me/fit_ok", files=files(images["many"][:5])).json()["job_id"]
    r = client.delete(f"/jobs/{queued}")
    assert r.status_code == 202
    assert client.get(f"/jobs/{queued}").json()["state"] == "cancelled"
    deadline = time.monotonic() + 60
    while client.get(f"/jobs/{running}").json()["state"] == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    r = client.delete(f"/jobs/{running}")
    assert r.status_code == 202 and r.json()["state"] == "running"
    job = wait_job(client, running)
    assert job["state"] == "cancelled" and job["result"] is None and "unchanged" in job["error"]
    assert client.delete(f"/jobs/{running}").status_code == 409  # already ended
    assert client.get("/jobs/no-such-job").status_code == 404

    assert snapshot(folder) == saved
    r = client.post("/projects/cancel-me/infer", files=files(images["cal"][:1]))
    assert r.status_code == 200 and r.json()["model_id"] == old_id


def test_four_clients_infer_while_a_fit_runs(images, live, disc):
    with httpx.Client(base_url=live.url, timeout=120) as c:
        current = c.post("/projects/disc/infer", files=files(images["cal"][:1])).json()["model_id"]
        r = c.post("/projects/busy/fit_ok", files=files(images["many"]))
        job_id = r.json()["job_id"]

    def one_client(k: int) -> list[tuple[int, str, str]]:
        out = []
        with httpx.Client(base_url=live.url, timeout=120) as c:
            for i in range(6):
                r = c.post("/projects/disc/infer", files=files([images["cal"][(k + i) % 4], images["ng"][k % 2]]))
                state = c.get(f"/jobs/{job_id}").json()["state"]
                out.append((r.status_code, r.json().get("model_id"), state))
                assert [x["name"] for x in r.json()["results"]] == [images["cal"][(k + i) % 4].name,
                                                                     images["ng"][k % 2].name]
        return out

    with ThreadPoolExecutor(4) as pool:
        answers = [a for part in pool.map(one_client, range(4)) for a in part]
    assert len(answers) == 24
    assert all(status == 200 and model_id == current for status, model_id, _ in answers)
    # The fit was still running while clients were being answered: inference did not wait for it.
    assert any(state == "running" for _, _, state in answers)
    with httpx.Client(base_url=live.url, timeout=120) as c:
        assert wait_job(c, job_id)["state"] == "done"


def test_a_refit_is_staged_until_activated_and_a_rollback_returns(client, images, disc):
    """A refit onto a calibrated project does not stop the line's verdicts: it is staged; activating it (or
    rolling back) switches the model the next request gets, and the audit trail names both."""
    r = client.post("/projects/disc/infer", files=files(images["cal"][:1]))
    old_id, old_version = r.json()["model_id"], r.json()["model_version"]
    job = fit(client, "disc", images["ok"], roi=ROI, mm_per_px="0.05", note="new light")
    new_version = job["result"]["version"]
    assert job["result"]["active"] is False
    r = client.post("/projects/disc/infer", files=files(images["cal"][:1]))
    assert r.json()["model_id"] == old_id and r.json()["results"][0]["verdict"] in ("OK", "NG")
    listed = client.get("/projects/disc/versions").json()["versions"]
    assert [v["version"] for v in listed if v["active"]] == [old_version] and listed[-1]["note"] == "new light"
    r = client.post("/projects/disc/activate", data={"version": new_version, "note": "try it"})
    assert r.status_code == 200 and "not calibrated" in r.json()["warning"]
    r = client.post("/projects/disc/infer", files=files(images["cal"][:1]))
    assert r.json()["model_id"] == job["result"]["model_id"] != old_id
    assert r.json()["results"][0]["verdict"] == "NO_VERDICT"
    r = client.post("/projects/disc/activate", data={"version": old_version, "note": "back"})
    assert client.post("/projects/disc/infer", files=files(images["cal"][:1])).json()["model_id"] == old_id
    audit = client.get("/projects/disc/audit").json()["audit"]
    assert [a["action"] for a in audit[-3:]] == ["fit", "activate", "rollback"]
    assert audit[-1]["who"] == "service" and audit[-1]["note"] == "back"
    assert client.post("/projects/disc/activate", data={"version": "v99"}).status_code == 404


def test_token_rule_on_a_non_loopback_bind(tmp_path, capsys):
    projects = tmp_path / "p"
    assert cli.main(["--host", "0.0.0.0", "--projects", str(projects)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--token-file" in err
    short = tmp_path / "short.txt"
    short.write_text("abc\n")
    assert cli.main(["--host", "0.0.0.0", "--token-file", str(short), "--projects", str(projects)]) == 2
    assert "at least 16" in capsys.readouterr().err
    assert cli.main(["--host", "0.0.0.0", "--token-file", str(tmp_path / "missing"), "--projects",
                     str(projects)]) == 2
    assert "cannot read the token file" in capsys.readouterr().err
    assert cli.main(["--port", "70000"]) == 2
    capsys.readouterr()
    assert cli.main(["--no-such-option"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--no-such-option" in err
    assert cli.is_loopback("127.0.0.1") and cli.is_loopback("::1") and cli.is_loopback("localhost")
    assert not cli.is_loopback("0.0.0.0") and not cli.is_loopback("192.168.1.10")


def test_token_required_on_every_request(tmp_path, tiny_config):
    server = LiveServer(create_app(tmp_path, config=tiny_config, token=TOKEN)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            for path in ("/health", "/projects", "/docs"):
                r = c.get(path)
                assert r.status_code == 401 and "bearer token" in r.json()["error"]
            assert c.get("/health", headers={"Authorization": "Bearer " + TOKEN[:-1] + "X"}).status_code == 401
            assert c.get("/health", headers={"Authorization": "Basic " + TOKEN}).status_code == 401
            assert c.get("/health", headers={"Authorization": "Bearer " + TOKEN}).status_code == 200
            r = c.post("/projects/x/infer", files=[("images", ("a.png", b"x", "image/png"))])
            assert r.status_code == 401
    finally:
        server.stop()


def test_bad_inputs_answer_4xx_and_change_no_file(client, images, live, disc, tmp_path):
    folder = live.projects / "disc"
    saved = snapshot(folder)
    listing = sorted(p.name for p in live.projects.iterdir())

    for name in ("a..b", ".hidden", "-dash", "x" * 65, "%2E%2E", "a%20b", "a%5Cb"):
        r = client.post(f"/projects/{name}/infer", files=files(images["cal"][:1]))
        assert r.status_code == 400, (name, r.text)
        assert "bad project name" in r.json()["error"]
        r = client.post(f"/projects/{name}/fit_ok", files=files(images["ok"]))
        assert r.status_code == 400, name
    assert client.get("/projects/%2E%2E").status_code == 400
    assert client.get("/projects/..%2F..%2Fetc").status_code in (400, 404)

    r = client.post("/projects/nope/infer", files=files(images["cal"][:1]))
    assert r.status_code == 404 and "unknown project 'nope'" in r.json()["error"]
    assert client.get("/projects/nope").status_code == 404
    assert client.post("/projects/nope/calibrate_ng", files=files(images["cal"], "ok")).status_code == 404

    text = [("images", ("notes.txt", b"this is not an image", "text/plain"))]
    r = client.post("/projects/disc/infer", files=text)
    assert r.status_code == 415 and "notes.txt" in r.json()["error"]
    png = images["cal"][0].read_bytes()
    corrupt = [("images", ("cut.png", png[: len(png) // 2], "image/png"))]
    r = client.post("/projects/disc/infer", files=corrupt)
    assert r.status_code in (415, 422) and "cut.png" in r.json()["error"]
    r = client.post("/projects/disc/fit_ok", files=files(images["ok"]) + text)
    assert r.status_code == 415 and "notes.txt" in r.json()["error"]
    r = client.post("/projects/fresh/fit_ok", files=text)  # a new project: not even its folder is made
    assert r.status_code == 415
    r = client.post("/projects/disc/infer", files=[("images", ("empty.png", b"", "image/png"))])
    assert r.status_code in (415, 422) and "empty.png" in r.json()["error"]
    assert client.post("/projects/disc/infer").status_code == 422  # no images at all

    big = [("images", ("huge.png", b"\x89PNG" + bytes(LIMITS.max_image_bytes), "image/png"))]
    r = client.post("/projects/disc/infer", files=big)
    assert r.status_code == 413 and "huge.png" in r.json()["error"]
    many = [("images", (f"p{i}.png", bytes(150_000), "image/png")) for i in range(25)]  # 3.75 MB > 3 MB
    r = client.post("/projects/disc/infer", files=many)
    assert r.status_code == 413 and "request body" in r.json()["error"]
    # The same without Content-Length (chunked): refused while it streams in.
    request = httpx.Request("POST", "/", files=many)
    encoded = request.read()
    chunks = (encoded[i:i + 65536] for i in range(0, len(encoded), 65536))
    r = client.post("/projects/disc/infer", content=chunks, headers={"content-type": request.headers["content-type"]})
    assert r.status_code == 413 and "request body" in r.json()["error"]

    for form, word in (({"score_percentile": "150"}, "percentile"), ({"score_percentile": "nan"}, "score_percentile"),
                       ({"min_area": "-1"}, "area"), ({"min_area": "abc"}, "min_area"),
                       ({"min_area": "inf"}, "min_area"), ({"area_mm2_thr": "-1"}, "area"),
                       ({"area_mm2_thr": "abc"}, "area_mm2_thr"), ({"min_area": "1", "area_mm2_thr": "2"}, "not both")):
        r = client.post("/projects/disc/calibrate_ng", files=files(images["cal"], "ok"), data=form)
        assert r.status_code == 422, (form, r.text)
        assert word in r.json()["error"]
    for form in ({"roi": "{not json"}, {"roi": '{"type": "hexagon"}'}, {"mm_per_px": "-2"},
                 {"mm_per_px": "zero"}, {"add": "maybe"}):
        r = client.post("/projects/disc/fit_ok", files=files(images["ok"]), data=form)
        assert r.status_code == 422, (form, r.text)
    # Images that do not fit the ROI are refused before any work, naming the file.
    outside = json.dumps({"type": "rect", "cx": 400, "cy": 400, "w": 50, "h": 50})
    r = client.post("/projects/disc/fit_ok", files=files(images["ok"]), data={"roi": outside})
    assert r.status_code == 422 and "'ok_000.png'" in r.json()["error"] and "outside" in r.json()["error"]
    import cv2

    small = cv2.imencode(".png", cv2.imread(str(images["cal"][0]))[:40, :40])[1].tobytes()
    for path, field in (("infer", "images"), ("calibrate_ng", "ok")):
        r = client.post(f"/projects/disc/{path}", files=[(field, ("small.png", small, "image/png"))])
        assert r.status_code == 422 and "'small.png'" in r.json()["error"], r.text
    r = client.post("/projects/disc/fit_ok", files=[("images", ("small.png", small, "image/png"))],
                    data={"add": "true"})
    assert r.status_code == 422 and "'small.png'" in r.json()["error"]
    # Without a ROI the whole image is inspected, so all images must be one size.
    r = client.post("/projects/whole/fit_ok", files=files(images["ok"][:2]) + [("images", ("small.png", small,
                                                                                        "image/png"))])
    assert r.status_code == 422 and "'small.png' is 40 x 40 px" in r.json()["error"]
    r = client.post("/projects/disc/infer", params={"heatmap": "sometimes"}, files=files(images["cal"][:1]))
    assert r.status_code == 422 and "heatmap" in r.json()["error"]

    assert snapshot(folder) == saved
    assert sorted(p.name for p in live.projects.iterdir()) == listing
    # Every error is one line of JSON.
    for r in (client.get("/projects/nope"), client.get("/no/such/endpoint")):
        assert "\n" not in r.json()["error"]


def test_internal_error_is_one_line_500_and_the_server_goes_on(client, images, live, disc, monkeypatch):
    engine = live.app.state.engine

    def broken(*args, **kwargs):
        raise RuntimeError("simulated fault\nwith a second line")

    monkeypatch.setattr(engine, "score_many", broken)
    r = client.post("/projects/disc/infer", files=files(images["cal"][:1]))
    assert r.status_code == 500
    assert r.json()["error"].startswith("internal error (RuntimeError: simulated fault with a second line)")
    monkeypatch.undo()
    r = client.post("/projects/disc/infer", files=files(images["cal"][:1]))
    assert r.status_code == 200 and r.json()["results"][0]["score"] > 0


def test_access_log_names_method_path_status(client, images, disc, caplog):
    with caplog.at_level(logging.INFO, logger="inspector.access"):
        client.get("/health")
        client.get("/projects/nope")
        deadline = time.monotonic() + 5
        while len([r for r in caplog.records if r.name == "inspector.access"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    lines = [r.getMessage() for r in caplog.records if r.name == "inspector.access"]
    assert any(" GET /health 200 " in line and line.endswith(" ms") for line in lines), lines
    assert any(" GET /projects/nope 404 " in line for line in lines), lines


def test_openapi_lists_the_endpoints(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/health", "/projects", "/projects/{name}", "/projects/{name}/fit_ok", "/projects/{name}/infer",
                 "/projects/{name}/calibrate_ng", "/jobs/{job_id}"):
        assert path in paths
    assert client.get("/docs").status_code == 200


def test_requests_that_arrive_together_share_a_batch(live, images, disc):
    """While the inference thread is busy, queued requests are scored in one call; results stay per request."""
    from inference import load_image

    engine, batcher = live.app.state.engine, live.app.state.batcher
    model = live.app.state.projects.model("disc")
    arrays = [load_image(p) for p in images["cal"]]
    alone = [r.score for r in engine.score_many(model, arrays)]
    real = engine.score_many
    calls, release = [], threading.Event()

    def spy(m, imgs, *args, **kwargs):
        calls.append(len(imgs))
        if len(calls) == 1:
            release.wait(30)  # hold the thread until the others are queued
        return real(m, imgs, *args, **kwargs)

    engine.score_many = spy
    shared, batcher.max_images = batcher.max_images, 8  # the GPU default; on a CPU it is 1
    try:
        tiny = load_image(images["cal"][0])[:40, :40]  # the ROI does not fit: this request alone fails
        with ThreadPoolExecutor(5) as pool:
            first = pool.submit(batcher.score, model, arrays[:1])
            while not calls:
                time.sleep(0.01)
            rest = [pool.submit(batcher.score, model, [a]) for a in arrays[1:]]
            bad = pool.submit(batcher.score, model, [tiny])
            while batcher._queue.qsize() < 4:
                time.sleep(0.01)
            release.set()
            scores = [f.result()[0][0].score for f in [first, *rest]]
            bad_result = bad.result()[0][0]
    finally:
        del engine.score_many
        batcher.max_images = shared
    # The bad image is an ERROR outcome of its own; the four queued requests went in as one batch and
    # nothing was scored twice.
    assert bad_result.verdict == "ERROR" and bad_result.score is None and "ROI" in bad_result.reason
    assert calls == [1, 4]
    assert scores == pytest.approx(alone, rel=1e-4)


def test_a_fit_job_says_when_the_ok_images_lie_turned(client, tmp_path):
    """The fit job's result carries the turn note a new fit gives (inference.part_turns), as `inspector fit`
    prints it; the model is fitted as declared."""
    import cv2

    from inference.synthetic import moved_part

    paths = []
    for i, angle in enumerate([0, 150, -100]):
        paths.append(tmp_path / f"part_{i}.png")
        cv2.imwrite(str(paths[-1]), cv2.cvtColor(moved_part(i, 0, 0, angle, size=320)[0], cv2.COLOR_RGB2BGR))
    job = fit(client, "turned", paths)
    assert job["state"] == "done", job
    assert "2 of 2 OK images lie turned" in job["result"]["symmetry_note"]
    plain = fit(client, "upright", paths[:1] * 2)
    assert plain["state"] == "done" and plain["result"]["symmetry_note"] == ""
