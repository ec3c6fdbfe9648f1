"""The line display's server (`inspector run --display HOST:PORT`, the Run view's Outputs…): the page, its state
and the last part's picture (station/line_io/display.py), read-only, from a thread of its own.

    GET /                  the page (a browser on the line's monitor, an HMI panel's browser)
    GET /state             JSON: the station, this shift's counts, the alarms, the last part, the recent ones
    GET /picture/N.jpg     part N's picture, the last part's or the last NG's (404 for any other)

Nothing here can change the station: every route is a GET. With a tokens file (`--display-tokens`, the service's
format: station/tokens.py) the state and the pictures need `Authorization: Bearer TOKEN` of any of its callers (every
role reads); the page itself holds no data and sends the token given after # in its address
(`http://HOST:PORT/#token=...`). The server's socket is bound before the run starts (threaded_server.py), so a port
taken is the run's refusal in one line, not a thread that dies unseen.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response

from station.line_io.display import LineDisplay, picture_gone
from station.line_io.display_page import PAGE
from station.addresses import elsewhere
from station.tokens import is_loopback

from .bearer_token import BearerToken
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
    thread; start() before the run, close() after it. `tokens`: a station.tokens.TokenFile (or Tokens) whose callers
    may read the state and pictures; None: anyone who reaches the port may."""

    def __init__(self, display: LineDisplay, host: str, port: int, tokens=None):
        app = display_app(display)
        if tokens is not None:
            app = BearerToken(app, tokens, public=lambda path: path == "/")
        super().__init__(app, host, port, "the line display")
        self.display, self.tokens = display, tokens

    def describe(self) -> str:
        others = elsewhere(self.host, self.port, path="/")
        if self.tokens is not None:
            return f"line display: {self.url}/#token=TOKEN (a token of the tokens file){others}"
        return f"line display: {self.url}/{others}" + ("" if is_loopback(self.host) else
                                                       " (no --display-tokens: anyone on the network sees the parts)")


__all__ = ["DisplayServer", "display_app"]
