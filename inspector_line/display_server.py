"""The line display's server (`inspector run --display HOST:PORT`, the Run view's Outputs…): the page, its state
and the last part's picture (station/line_io/display.py), read-only, from a thread of its own.

    GET /                  the page (a browser on the line's monitor, an HMI panel's browser)
    GET /state             JSON: the station, this shift's counts, the alarms, the last part, the recent ones
    GET /picture/N.jpg     part N's picture, the last part's or the last NG's (404 for any other)

Nothing here can change the station: every route is a GET. The server's socket is bound before the run starts,
so a port taken is the run's refusal in one line, not a thread that dies unseen.
"""

from __future__ import annotations

import socket
import threading
import time

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, Response

from inference import InspectorError
from station.line_io.display import LineDisplay, picture_gone
from station.line_io.display_page import PAGE

START_S = 30
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


class DisplayServer:
    """The page and its state on HOST:PORT (port 0: a free one, read back in `port`), served by uvicorn in a daemon
    thread; start() before the run, close() after it."""

    def __init__(self, display: LineDisplay, host: str, port: int):
        self.display, self.host, self.port = display, host, port
        self._server = None
        self._thread = None
        self._sock = None

    def describe(self) -> str:
        return f"line display: http://{_url_host(self.host)}:{self.port}/"

    def start(self) -> None:
        import uvicorn

        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise InspectorError(f"cannot serve the line display on {self.host}:{self.port}: "
                                 f"{exc.strerror or exc}") from None
        self._sock, self.port = sock, sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(display_app(self.display), log_level="warning",
                                                     access_log=False, log_config=None))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="line-display", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.close()
                raise InspectorError(f"the line display did not start on {self.host}:{self.port}")
            time.sleep(0.02)

    def close(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=START_S)
            self._server = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


__all__ = ["DisplayServer", "display_app"]
