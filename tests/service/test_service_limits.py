"""The service under hostile uploads: pixel limits read from headers before decoding, unknown form fields,
and its API docs served from local files (no CDN). A real uvicorn server on 127.0.0.1, a free port."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from inference import Engine
from inference.synthetic import disc
from inspector_service import uploads
from inspector_service.app import create_app
from service_helpers import LiveServer, snapshot

# 160 x 160 discs (25,600 px) fit; 200 x 200 (40,000 px) is over this limit.
LIMIT_MP = 0.03


@pytest.fixture(scope="module")
def live(tmp_path_factory, tiny_config):
    config = tiny_config.replace(max_image_megapixels=LIMIT_MP)
    projects = tmp_path_factory.mktemp("limit_projects")
    engine = Engine(config)
    engine.fit(projects / "disc", [disc(i)[0] for i in range(4)])
    engine.calibrate(engine.load(projects / "disc"), [disc(10 + i)[0] for i in range(3)])
    server = LiveServer(create_app(projects, engine=engine)).start()
    server.projects = projects
    yield server
    server.stop()


def encoded(fmt: str, size=(200, 200), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, 90).save(buf, format=fmt)
    return buf.getvalue()


def ok_png(seed=0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(disc(seed)[0]).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def decoded(monkeypatch):
    """The names of the uploads the service decoded."""
    names = []
    real = uploads.decode_image

    def spy(data, name="image", *args, **kwargs):
        names.append(name)
        return real(data, name, *args, **kwargs)

    monkeypatch.setattr(uploads, "decode_image", spy)
    return names


@pytest.mark.parametrize("fmt, suffix", [("PNG", "png"), ("JPEG", "jpg"), ("TIFF", "tif"), ("BMP", "bmp")])
def test_an_image_over_the_pixel_limit_is_413_from_its_header_undecoded(client, live, decoded, fmt, suffix):
    saved = snapshot(live.projects / "disc")
    name = f"big.{suffix}"
    r = client.post("/projects/disc/infer", files=[("images", (name, encoded(fmt), "image/" + suffix))])
    assert r.status_code == 413, r.text
    error = r.json()["error"]
    assert f"'{name}'" in error and "200 x 200 px" in error and "max_image_megapixels" in error
    assert decoded == []
    assert snapshot(live.projects / "disc") == saved


def test_a_144_megapixel_png_is_refused_before_any_image_of_the_request_is_decoded(client, decoded):
    huge = encoded("PNG", (12000, 12000), mode="1")  # a few kB on disk, 432 MB once decoded to RGB
    upload = [("images", ("good.png", ok_png(), "image/png")), ("images", ("huge.png", huge, "image/png")),
              ("images", ("huge2.png", huge, "image/png"))]
    r = client.post("/projects/disc/infer", files=upload)
    assert r.status_code == 413 and "'huge.png' is 12000 x 12000 px (144 MP)" in r.json()["error"], r.text
    assert decoded == []  # not even the good one: every header is checked first
    r = client.post("/projects/disc/calibrate_ng", files=[("ok", ("huge.png", huge, "image/png"))])
    assert r.status_code == 413 and "'huge.png'" in r.json()["error"]


def test_fit_ok_checks_every_image_before_it_answers_202(client, live, decoded):
    good = [("images", (f"ok{i}.png", ok_png(i), "image/png")) for i in range(3)]
    r = client.post("/projects/fresh/fit_ok", files=good + [("images", ("last.bmp", encoded("BMP"), "image/bmp"))])
    assert r.status_code == 413 and "'last.bmp'" in r.json()["error"], r.text
    assert not (live.projects / "fresh").exists() and live.app.state.fits.active() == []
    assert decoded == []
    r = client.post("/projects/fresh/fit_ok", files=good)  # the same request without it is taken
    assert r.status_code == 202, r.text


def test_an_image_within_the_limit_is_decoded_and_inspected(client, decoded):
    r = client.post("/projects/disc/infer", files=[("images", ("part.png", ok_png(20), "image/png"))])
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["verdict"] in ("OK", "NG") and decoded == ["'part.png'"]


@pytest.mark.parametrize("path, field, form", [
    ("calibrate_ng", "ok", {"threshold": "nan"}),
    ("calibrate_ng", "ok", {"min_aera": "2"}),
    ("fit_ok", "images", {"mm_per_pixel": "0.05"}),
    ("infer", "images", {"heatmap": "true"}),  # a query parameter, not a form field
])
def test_an_unknown_form_field_is_422_naming_it_and_changes_nothing(client, live, path, field, form):
    saved = snapshot(live.projects / "disc")
    r = client.post(f"/projects/disc/{path}", files=[(field, ("a.png", ok_png(30), "image/png"))], data=form)
    assert r.status_code == 422, r.text
    name = next(iter(form))
    assert f"unknown form field '{name}'" in r.json()["error"]
    assert snapshot(live.projects / "disc") == saved


def test_a_misspelt_file_field_is_named(client):
    r = client.post("/projects/disc/infer", files=[("image", ("a.png", ok_png(31), "image/png"))])
    assert r.status_code == 422 and "unknown form field 'image'" in r.json()["error"], r.text


def test_a_temp_disk_that_fills_while_an_upload_is_received_is_named_not_blamed_on_the_upload(client, live,
                                                                                             monkeypatch):
    """Starlette spools each uploaded file into the temp folder before any route runs; when that disk is full,
    FastAPI answered 400 "There was an error parsing the body", as if the upload were bad. It is a 507 that says
    which disk is full, and nothing saved changes."""
    import errno

    import starlette.formparsers

    class FullDisk(starlette.formparsers.SpooledTemporaryFile):
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(starlette.formparsers, "SpooledTemporaryFile", FullDisk)  # the server runs in this process
    saved = snapshot(live.projects / "disc")
    r = client.post("/projects/disc/fit_ok", files=[("images", ("a.png", ok_png(32), "image/png"))],
                    data={"add": "true"})
    assert r.status_code == 507, r.text
    assert r.json()["error"].startswith("no space left on the disk while trying to keep the upload in ")
    assert snapshot(live.projects / "disc") == saved


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_docs_load_every_asset_from_the_server_itself(client, page):
    r = client.get(page)
    assert r.status_code == 200
    html = r.text
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html) + re.findall(r"""url:\s*'([^']+)'""",
                                                                                          html)
    assert assets, html
    assert not re.search(r"https?://", " ".join(assets)), assets  # nothing from a CDN
    scripts = [a for a in assets if a.endswith(".js")]
    assert scripts
    for asset in assets:
        got = client.get(asset)
        assert got.status_code == 200 and len(got.content) > 100, asset
    big = max(len(client.get(a).content) for a in scripts)
    assert big > 300_000  # the real Swagger UI / ReDoc bundle, not a stub
