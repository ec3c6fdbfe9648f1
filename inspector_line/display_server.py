"""The line display's server (`inspector run --display HOST:PORT`, the Run view's Outputs…): the page, its state
and the last part's picture (station/line_io/display.py), read-only, from a thread of its own.

    GET /                  the page (a browser on the line's monitor, an HMI panel's browser)
    GET /state             JSON: the station, this shift's counts, the alarms, the last part, the recent ones
    GET /picture/N.jpg     part N's picture, the last part's or the last NG's (404 for any other)

Nothing here can change the station: every route is a GET. The server's socket is bound before the run starts
(threaded_server.py), so a port taken is the run's refusal in one line, not a thread that dies unseen.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response

from station.line_io.display import LineDisplay, picture_gone
from station.line_io.display_page import PAGE

from .threaded_server import ThreadedServer

NO_CACHE = {"Cache-Control": "no-store"}


def display_app(display: LineDisplay) -> FastAPI:
    app = FastAPI(title="Inspector line display", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        return HTMLResponse(PAGE, headers=NO_CACHE)

    @app.get("/state")
    def state() -> JSONResponse:
        return JSONResponse(display.state(), headers=NO_CACHE)

    @app.get("/picture/{seq}.jpg")
    def picture(seq: int) -> Response:
        jpeg = display.picture(seq)
        if jpeg is None:
            return JSONResponse({"error": picture_gone(seq)}, status_code=404, headers=NO_CACHE)
        return Response(jpeg, media_type="image/jpeg", headers=NO_CACHE)

    return app


class DisplayServer(ThreadedServer):
    """The page and its state on HOST:PORT (port 0: a free one, read back in `port`), served by uvicorn in a daemon
    thread; start() before the run, close() after it."""

    def __init__(self, display: LineDisplay, host: str, port: int):
        super().__init__(display_app(display), host, port, "the line display")
        self.display = display

    def describe(self) -> str:
        return f"line display: {self.url}/"


__all__ = ["DisplayServer", "display_app"]
