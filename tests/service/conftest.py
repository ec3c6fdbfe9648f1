"""The service tests' setup: a live server on a fresh projects folder, the images, and the fitted and calibrated
project 'disc'. Module-scoped: each test module here gets its own server.

Tiny random DINOv2 backbone (2 blocks, 112 px) on generated discs, as the CLI tests use.
"""

from __future__ import annotations

import json

import httpx
import pytest

from inference.synthetic import write_discs
from inspector_service.app import create_app
from service_constants import LIMITS, ROI
from service_helpers import LiveServer, files, fit


@pytest.fixture(scope="module")
def images(tmp_path_factory, tiny_config):
    root = tmp_path_factory.mktemp("service_images")
    return {
        "ok": write_discs(root / "ok", range(6)),
        "more": write_discs(root / "more", range(20, 23)),
        "cal": write_discs(root / "cal", range(10, 14)),
        "ng": write_discs(root / "ng", [50, 51], scratch=True),
        "many": write_discs(root / "many", range(100, 160)),
        "root": root,
    }


@pytest.fixture(scope="module")
def live(tmp_path_factory, tiny_config):
    projects = tmp_path_factory.mktemp("service_projects")
    server = LiveServer(create_app(projects, config=tiny_config, limits=LIMITS)).start()
    server.projects = projects
    yield server
    server.stop()


@pytest.fixture
def client(live):
    with httpx.Client(base_url=live.url, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def disc(live, images):
    """A fitted and calibrated project 'disc' (ROI circle, 0.05 mm per px)."""
    with httpx.Client(base_url=live.url, timeout=120) as c:
        job = fit(c, "disc", images["ok"], roi=ROI, mm_per_px="0.05")
        assert job["state"] == "done", job
        # what the fit measured of this machine's low precision, as the manifest keeps it
        manifest = json.loads((live.projects / "disc" / "manifest.json").read_text())
        assert job["result"]["precision_check"] == manifest.get("precision_check", {})
        r = c.post("/projects/disc/calibrate_ng", files=files(images["cal"], "ok") + files(images["ng"], "ng"))
        assert r.status_code == 200, r.text
    return job["result"]["model_id"]
