"""Helpers for the run-mode tests (tests/test_line*.py, the Run view): a tiny calibrated project, 64 x 64 part
images, a free port on 127.0.0.1 and an HTTP receiver that can start late."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

from inference import Engine, EngineConfig
from inference.synthetic import disc

SIZE = 64


def tiny_line_config() -> EngineConfig:
    """efficientnet_lite0 architecture with random weights at 64 px (64 px images): fast enough for hundreds of parts."""
    return EngineConfig(backbone="efficientnet_lite0", weights="none", input_size=64, coreset_ratio=0.5,
                        batch_size=16)


def part(seed: int, scratch: bool = False) -> np.ndarray:
    return disc(seed, scratch, size=SIZE)[0]


def png_bytes(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    assert ok
    return buf.tobytes()


def make_project(folder: Path, calibrated: bool = True) -> tuple[Engine, Path]:
    """Fit on 8 OK discs; calibrate on 6 more OK and 4 scratched (threshold between them)."""
    engine = Engine(tiny_line_config())
    engine.fit(folder, [part(s) for s in range(8)], roi=None)
    if calibrated:
        model = engine.load(folder)
        engine.calibrate(model, [part(s) for s in range(100, 106)], [part(s, True) for s in range(200, 204)])
    return engine, folder


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (the servers under test bind it themselves)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Receiver:
    """An HTTP receiver on 127.0.0.1 that can be started late (the outage) and records what it got."""

    def __init__(self, port: int):
        self.port, self.received, self.server, self.thread = port, [], None, None
        self.keys = []  # each request's Idempotency-Key
        self.url = f"http://127.0.0.1:{port}/results"

    def start(self):
        received, keys = self.received, self.keys

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                keys.append(self.headers.get("Idempotency-Key"))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=5)


def wait_until(condition, what: str, timeout: float = 30) -> None:
    """Until condition() is true; fails naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def assert_run_refuses(folder: Path, capsys, cases) -> None:
    """`inspector run` on a fresh project in `folder` refuses each (extra arguments, words the error holds): exit 2,
    one line on stderr, before its history opens."""
    from inspector_cli.main import main

    _, project = make_project(folder / "proj")
    inbox = folder / "inbox"
    inbox.mkdir()
    for extra, words in cases:
        assert main(["run", str(project), "--source", str(inbox), *extra]) == 2
        err = capsys.readouterr().err
        assert words in err and len(err.strip().splitlines()) == 1
    assert not (project / "history.sqlite").exists()  # refused before the history opens
