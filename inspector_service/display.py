"""The line display of a project's line inspections (`GET /projects/NAME/display/`): the page `inspector run
--display` serves (station/line_io/display_page.py), its state and the last part's picture, fed by the project's
publisher as the run's is (inspector_service/line.py).

The page holds no data, so a browser opens it without a token (`BearerToken`'s `public`); it then asks for the state
and the pictures with the token given after # in its address (`/projects/line1/display/#token=...`), which need the
`read` role like every other look at the line. The line proves alive with the service's watchdog: while the
inference thread answers (heartbeat.py), not merely while the port does.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from inference import InspectorError
from inspector_line.display_server import NO_CACHE
from station.line_io.display import picture_gone
from station.line_io.display_page import PAGE

from . import schemas
from .access import require
from .errors import ApiError
from .schemas import answer

router = APIRouter(prefix="/projects/{name}/display", tags=["line display"])
PAGE_PATH = re.compile(r"/projects/[^/]+/display/?")  # without the slash: redirected to it


def is_page(path: str) -> bool:
    """The page's address: the one route a browser opens without a token (it holds no data)."""
    return PAGE_PATH.fullmatch(path) is not None


@router.get("/", include_in_schema=False, response_class=HTMLResponse)
def page(name: str) -> HTMLResponse:
    return HTMLResponse(PAGE, headers=NO_CACHE)


@router.get("/state", summary="What the line display shows: the project's last line part, this shift's counts, the "
            "alarms", dependencies=[require("read")], responses=answer(schemas.DisplayState))
def state(name: str, request: Request) -> JSONResponse:
    return JSONResponse(_display(request, name).state(), headers=NO_CACHE)


@router.get("/picture/{seq}.jpg", summary="The last line part's picture: its image, heatmap and defects (JPEG)",
            dependencies=[require("read")], response_class=Response)
def picture(name: str, seq: int, request: Request) -> Response:
    jpeg = _display(request, name).picture(seq)
    if jpeg is None:
        raise ApiError(404, picture_gone(seq))
    return Response(jpeg, media_type="image/jpeg", headers=NO_CACHE)


def _display(request: Request, name: str):
    app = request.app.state
    station = app.projects.station(name)  # a 404 for a project that is not there
    try:
        model = app.projects.model(name)  # named by the page before any part came, and after an activation
    except InspectorError:
        model = None  # its parts say why they get no verdict
    return app.line.display(name, station, model)
