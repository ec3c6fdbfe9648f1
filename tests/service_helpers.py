"""A real HTTP server for the service tests, and the small request helpers they share."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import uvicorn


class LiveServer:
    """A real uvicorn server for `app` on a free 127.0.0.1 port, run in a thread, stopped by stop()."""

    def __init__(self, app):
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))  # port 0: the OS picks a free one, held by this socket
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


def files(paths, field="images"):
    return [(field, (Path(p).name, Path(p).read_bytes(), "image/png")) for p in paths]


def wait_job(client, job_id, timeout=120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/jobs/{job_id}").json()
        if job["state"] not in ("queued", "running"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['state']}"
        time.sleep(0.05)


def fit(client, project, paths, **form) -> dict:
    r = client.post(f"/projects/{project}/fit_ok", files=files(paths), data=form)
    assert r.status_code == 202, r.text
    return wait_job(client, r.json()["job_id"])


def snapshot(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def heard(systemd, seconds: float) -> list[str]:
    """What a service told the NOTIFY_SOCKET bound by `systemd` (a datagram socket with a timeout) for `seconds`."""
    import socket

    got, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            got.append(systemd.recv(256).decode())
        except socket.timeout:
            pass
    return got

