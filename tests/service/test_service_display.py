"""The service's line display (`GET /projects/NAME/display/`): the page opens without a token, its state and pictures
need the `read` role; each line inspection (not a bench check) is what it shows, with this shift's counts; the page,
rendered by a headless Chromium where one is installed, sends the token given after # itself."""

from __future__ import annotations


import cv2
import httpx
import numpy as np
import pytest

from inference import load_image
from inspector_service.app import create_app
from service_constants import LIMITS
from page_helpers import rendered
from service_helpers import LiveServer, files
from station.access import Caller

READER, LINE, NOBODY = "mes-0123456789abcdef", "line-3-0123456789abcdef", "nobody-0123456789abcdef"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, tiny_config, live, disc):
    """A second server on the same projects folder, behind tokens: one that reads, one that inspects, one with no
    role at all."""
    tokens = {READER: Caller("mes", ("read",)), LINE: Caller("line-3", ("line",)), NOBODY: Caller("nobody", ())}
    server = LiveServer(create_app(live.projects, config=tiny_config, limits=LIMITS, tokens=tokens)).start()
    yield server
    server.stop()


def _as(server, token=None) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=120,
                        headers={"Authorization": f"Bearer {token}"} if token else {})


def test_the_display_shows_each_line_part_with_its_picture_and_the_shift(guarded, images):
    with _as(guarded) as anyone, _as(guarded, READER) as mes, _as(guarded, LINE) as line, \
            _as(guarded, NOBODY) as nobody:
        page = anyone.get("/projects/disc/display/")
        assert page.status_code == 200 and 'fetch("state"' in page.text  # a page without data: no token asked
        assert anyone.get("/projects/disc/display", follow_redirects=True).status_code == 200
        assert anyone.get("/projects/disc/display/state").status_code == 401
        assert nobody.get("/projects/disc/display/state").status_code == 403
        assert mes.get("/projects/nothere/display/state").status_code == 404
        before = mes.get("/projects/disc/display/state").json()
        counted = before["shift"]["counts"]["total"]
        assert before["station"]["running"] and before["station"]["project"] == "disc"
        assert before["station"]["calibrated"]
        r = line.post("/projects/disc/infer", files=files(images["ng"][:1]), data={"part_id": ["SN-77"]})
        assert r.status_code == 200, r.text
        row_id = r.json()["results"][0]["row_id"]
        bench = line.post("/projects/disc/infer", files=files(images["cal"][:1]), data={"bench": "true"})
        assert bench.status_code == 200
        state = mes.get("/projects/disc/display/state").json()
        picture = mes.get(f"/projects/disc/display/{state['part']['picture']}")
        refused = anyone.get(f"/projects/disc/display/{state['part']['picture']}")
    p = state["part"]
    assert (p["verdict"], p["part_id"], p["row_id"]) == ("NG", "SN-77", row_id)  # the bench check is not shown
    assert state["shift"]["counts"]["total"] == counted + 1 and state["station"]["project"] == "disc"
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    shown = cv2.imdecode(np.frombuffer(picture.content, np.uint8), cv2.IMREAD_COLOR)
    assert shown.shape[:2] == load_image(images["ng"][0]).shape[:2]
    assert refused.status_code == 401


def test_the_page_sends_the_token_given_after_the_hash(guarded, images):
    with _as(guarded, LINE) as line:
        assert line.post("/projects/disc/infer", files=files(images["cal"][:1]),
                         data={"part_id": ["SN-78"]}).status_code == 200
    shown = rendered(f"{guarded.url}/projects/disc/display/#token={READER}")
    refused = rendered(f"{guarded.url}/projects/disc/display/")
    assert '<dd id="part">SN-78</dd>' in shown and 'id="verdict" class="OK">OK' in shown
    assert '<div id="stale" class=""></div>' in shown  # answered: nothing greyed out
    assert '<div id="stale" class="on">THE STATION REFUSES THIS PAGE (HTTP 401)' in refused


def test_the_display_beats_with_the_watchdog_not_with_the_port():
    """The page greys out past 5 s without a beat: the service beats only while its inference thread answers, as
    the systemd watchdog's ping does (heartbeat.py), so a service hung in a backbone call is shown as such."""
    import asyncio

    from inspector_service.heartbeat import heartbeat

    beats = {True: 0, False: 0}

    async def run(healthy: bool) -> None:
        task = asyncio.create_task(heartbeat(lambda: True, lambda stuck_s: healthy,
                                             lambda: beats.__setitem__(healthy, beats[healthy] + 1)))
        await asyncio.sleep(1.5)
        task.cancel()

    asyncio.run(run(True))
    asyncio.run(run(False))
    assert beats[True] >= 1 and beats[False] == 0
