"""`inspector serve` loads the projects' models as it starts: the line's first part does not wait for one to load,
systemd hears READY only once they are loaded, and a project that cannot load is named, not fatal."""

from __future__ import annotations

import shutil
import socket
import threading
import time

import httpx

from inspector_service.app import create_app
from line_helpers import make_project, part, png_bytes
from service_helpers import LiveServer, heard


def test_the_models_are_loaded_before_the_first_request_and_before_ready(tmp_path, monkeypatch):
    engine, project = make_project(tmp_path / "projects" / "proj")
    broken = shutil.copytree(project, tmp_path / "projects" / "broken")
    (broken / "manifest.json").write_text("{ not json")
    (tmp_path / "projects" / "empty").mkdir()  # a folder without a model is no project: nothing to load
    release, loads = threading.Event(), []
    real_load = engine.load

    def slow_load(folder, *args, **kwargs):  # a model that takes a while to load (a big bank, a network compiled)
        loads.append(folder.name)
        release.wait(30)
        return real_load(folder, *args, **kwargs)

    monkeypatch.setattr(engine, "load", slow_load)
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(path))
        systemd.settimeout(0.2)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        server = LiveServer(create_app(tmp_path / "projects", engine=engine)).start()
        try:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                while_loading = heard(systemd, 1.5)
                health = client.get("/health").json()
                assert health["status"] == "starting" and health["loaded_projects"] == []
                assert sorted(health["load_at_start"]["loading"]) == ["broken", "proj"]
                release.set()
                deadline = time.monotonic() + 60
                while (health := client.get("/health").json())["status"] != "ok":
                    assert time.monotonic() < deadline, health
                    time.sleep(0.05)
                after = heard(systemd, 3.0)  # the heartbeat looks once a second
                # loaded with no request for it; the broken one named with why, the others served
                assert [p["name"] for p in health["loaded_projects"]] == ["proj"]
                assert health["loaded_projects"][0]["notice"] == ""  # calibrated, nothing to say
                at_start = health["load_at_start"]
                assert at_start["loading"] == [] and list(at_start["failed"]) == ["broken"]
                assert "manifest" in at_start["failed"]["broken"]
                assert sorted(loads) == ["broken", "proj"]
                image = [("images", ("p.png", png_bytes(part(1)), "image/png"))]
                r = client.post("/projects/proj/infer", files=image)
                assert r.status_code == 200 and r.json()["results"][0]["verdict"] == "OK"
                assert sorted(loads) == ["broken", "proj"], "the request used the model loaded at start"
                r = client.post("/projects/broken/infer", files=image)
                assert r.status_code == 409 and "manifest" in r.json()["error"]
        finally:
            release.set()
            server.stop()
    assert "READY=1" not in while_loading, while_loading
    assert "READY=1" in after


def test_without_loading_at_start_a_model_loads_on_its_first_request(tmp_path, monkeypatch):
    engine, project = make_project(tmp_path / "projects" / "proj")
    loads = []
    real_load = engine.load
    monkeypatch.setattr(engine, "load", lambda folder, *a, **k: loads.append(folder.name) or real_load(folder, *a, **k))
    server = LiveServer(create_app(tmp_path / "projects", engine=engine, warm=False)).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            health = client.get("/health").json()
            assert health["status"] == "ok" and health["loaded_projects"] == [] and loads == []
            r = client.post("/projects/proj/infer", files=[("images", ("p.png", png_bytes(part(1)), "image/png"))])
            assert r.status_code == 200 and loads == ["proj"]
    finally:
        server.stop()
