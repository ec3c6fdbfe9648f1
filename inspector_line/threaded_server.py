"""An ASGI application served by uvicorn from a daemon thread of this process, on HOST:PORT: the line display
(display_server.py) and the self-test's service check (inspector_cli/selftest_service.py).

The socket is bound before the thread starts, so a port taken is an InspectorError naming it, not a thread that dies
unseen (uvicorn would end its own process there); port 0 takes a free one, read back in `port`.
"""

from __future__ import annotations

import socket
import threading
import time

from inference import InspectorError

START_S = 30.0  # the longest a start waits for uvicorn, and a stop for its thread


class ThreadedServer:
    def __init__(self, app, host: str, port: int, what: str):
        """`what`: how messages name the server ("the line display")."""
        self.app, self.host, self.port, self.what = app, host, port, what
        self._server = None
        self._thread = None
        self._sock = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        import uvicorn

        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise InspectorError(f"cannot serve {self.what} on {self.host}:{self.port}: "
                                 f"{exc.strerror or exc}") from None
        self._sock, self.port = sock, sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", access_log=False,
                                                     log_config=None))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True,
                                        name=self.what.replace(" ", "-"))
        self._thread.start()
        deadline = time.monotonic() + START_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.close()
                raise InspectorError(f"{self.what} did not start on {self.host}:{self.port} (see the log above)")
            time.sleep(0.02)

    def close(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=START_S)
            self._server = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None


__all__ = ["START_S", "ThreadedServer"]
