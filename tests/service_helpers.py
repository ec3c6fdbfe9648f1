"""A real HTTP server for the service tests, and the small request helpers they share."""

from __future__ import annotations

import time
from pathlib import Path

from inspector_line.threaded_server import ThreadedServer


class LiveServer(ThreadedServer):
    """A real uvicorn server for `app` on a free 127.0.0.1 port, run in a thread (the product's own
    inspector_line.threaded_server), stopped by stop()."""

    def __init__(self, app):
        super().__init__(app, "127.0.0.1", 0, "the test server")

    def start(self) -> "LiveServer":
        super().start()
        return self

    def stop(self) -> None:
        self.close()


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

