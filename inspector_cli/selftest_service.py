"""The self-test's `service` check: `inspector serve`'s application on a free loopback port, asked over real HTTP.

A bundle can hold every module and still not serve: the API pages' files left out stopped `inspector serve` at
start. So the check starts the same application (uvicorn, in a thread), asks /health and /docs with its
files, inspects one image through POST /projects/NAME/infer, as the line's software would, and asks the project's
line display for that part, its picture and its page.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path

class ServiceCheckFailed(Exception):
    pass


def file_request(url: str, field: str, path: Path) -> urllib.request.Request:
    """POST URL with the file `path` as the one file field `field` (multipart/form-data, which the standard library
    does not write)."""
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{path.name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode()
    body = head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return urllib.request.Request(url, method="POST", data=body,
                                  headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})


def infer_request(base: str, project: str, image: Path) -> urllib.request.Request:
    """POST BASE/projects/PROJECT/infer with `image` as the one `images` file field."""
    return file_request(f"{base}/projects/{project}/infer", "images", image)


def _get(url: "str | urllib.request.Request") -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read()
    except urllib.error.HTTPError as exc:  # the service's one-line JSON error says why
        raise ServiceCheckFailed(f"{exc.code} from {exc.url}: {exc.read().decode(errors='replace')[:300]}") from None


def serve_and_inspect(projects_dir: Path, engine, project: str, image: Path) -> tuple[str, dict]:
    """Start the service on 127.0.0.1 (a free port), check /health and /docs, inspect `image` with `project`;
    the service is stopped before returning. Returns the address it listened on and the image's result."""
    from inference import InspectorError
    from inspector_line.threaded_server import ThreadedServer
    from inspector_service.app import create_app

    server = ThreadedServer(create_app(projects_dir, engine=engine), "127.0.0.1", 0, "the service")
    try:
        server.start()
    except InspectorError as exc:
        raise ServiceCheckFailed(str(exc)) from None
    try:
        base = server.url
        if json.loads(_get(base + "/health")).get("status") != "ok":
            raise ServiceCheckFailed("/health did not answer status ok")
        if b"swagger" not in _get(base + "/docs").lower() or not _get(base + "/docs-assets/swagger-ui-bundle.js"):
            raise ServiceCheckFailed("/docs or its files did not load")
        result = json.loads(_get(infer_request(base, project, image)))["results"][0]
        display = f"{base}/projects/{project}/display/"
        shown = json.loads(_get(display + "state"))["part"] or {}
        if shown.get("verdict") != result["verdict"] or not shown.get("picture") or not _get(display + shown["picture"]):
            raise ServiceCheckFailed("the line display did not show the part inspected, or not its picture")
        if b'fetch("state"' not in _get(display):
            raise ServiceCheckFailed("the line display's page did not load")
        return f"127.0.0.1:{server.port}", result
    finally:
        server.close()
