"""The OpenAPI document says what the service answers: every JSON answer of every route is checked against the
model the document gives for that route and status (inspector_service/schemas.py, no field missing from it, none
it names absent), and every failure against the one error body. Before, every answer was documented as `{}` and
every failure as FastAPI's validation error, which the service never sends: a client generated from the document
(NSwag, openapi-generator) could read nothing."""

from __future__ import annotations

import re

import pytest

from inspector_service import schemas
from service_constants import ROI
from service_helpers import files, wait_job


@pytest.fixture(scope="module")
def document(live):
    import httpx

    return httpx.get(f"{live.url}/openapi.json").json()


def checked(document, response, method: str, route: str):
    """The answer, validated with the model the document gives for this route and its status; returns its JSON."""
    answers = document["paths"][route][method.lower()]["responses"]
    status = str(response.status_code)
    assert status in answers, f"{method} {route} answered {status}, which its document does not list"
    ref = answers[status]["content"]["application/json"]["schema"]["$ref"]
    model = getattr(schemas, ref.rsplit("/", 1)[-1])
    model.model_validate(response.json())  # extra="forbid": every field documented; required ones present
    return response.json()


def test_every_json_route_documents_its_answer_and_its_errors(document):
    binary = {("get", "/metrics"), ("get", "/projects/{name}/backup"), ("get", "/projects/{name}/history/{row_id}/image"),
              ("get", "/projects/{name}/display/picture/{seq}.jpg")}
    for route, operations in document["paths"].items():
        for method, operation in operations.items():
            answers = operation["responses"]
            for status in ("401", "403", "404", "409", "422", "500", "507"):
                assert answers[status]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody"), \
                    (method, route, status)
            if (method, route) in binary:
                continue
            (ok,) = [s for s in answers if s.startswith("2")]
            assert answers[ok]["content"]["application/json"]["schema"]["$ref"], (method, route)
    assert "HTTPValidationError" not in document["components"]["schemas"], "the service never sends it"


def test_the_answers_are_what_the_document_says(client, images, disc, document):
    check = lambda r, method, route: checked(document, r, method, route)  # noqa: E731
    check(client.get("/health"), "GET", "/health")
    assert "disc" in check(client.get("/projects"), "GET", "/projects")["projects"]
    assert check(client.get("/projects/disc"), "GET", "/projects/{name}")["usable"]

    sent = files(images["ng"][:1] + images["cal"][:1])
    body = check(client.post("/projects/disc/infer", params={"heatmap": "true"}, files=sent,
                             data={"part_id": ["SN-9", "SN-10"]}), "POST", "/projects/{name}/infer")
    assert [r["verdict"] for r in body["results"]] == ["NG", "OK"] and body["counts"]["yield"] == 0.5
    assert body["results"][0]["regions"] and body["results"][0]["heatmap_png_base64"]

    rows = check(client.get("/projects/disc/history", params={"heatmap": "true", "limit": 5}), "GET",
                 "/projects/{name}/history")["rows"]
    row_id = next(r["id"] for r in rows if r["verdict"] == "NG")
    check(client.put(f"/projects/disc/history/{row_id}/label", data={"label": "false_reject"}), "PUT",
          "/projects/{name}/history/{row_id}/label")
    for route in ("versions", "audit", "history/periods", "history/zones", "history/causes", "history/alarms",
                  "display/state"):
        check(client.get(f"/projects/disc/{route}"), "GET", f"/projects/{{name}}/{route}")

    accepted = check(client.post("/projects/schemas/fit_ok", files=files(images["ok"]), data={"roi": ROI}), "POST",
                     "/projects/{name}/fit_ok")
    job = wait_job(client, accepted["job_id"])
    assert job["state"] == "done", job
    check(client.get(f"/jobs/{accepted['job_id']}"), "GET", "/jobs/{job_id}")
    calibrated = check(client.post("/projects/schemas/calibrate_ng", files=files(images["cal"], "ok")
                                   + files(images["ng"], "ng")), "POST", "/projects/{name}/calibrate_ng")
    assert calibrated["active"] and calibrated["version"] == "v2"
    check(client.post("/projects/schemas/activate", data={"version": "v1", "note": "schemas"}), "POST",
          "/projects/{name}/activate")
    backup = client.get("/projects/schemas/backup")
    assert backup.status_code == 200
    restored = check(client.post("/projects/schemas-copy/restore", files=[("backup", ("b.zip", backup.content))]),
                     "POST", "/projects/{name}/restore")
    assert restored["project"] == "schemas-copy"


@pytest.mark.parametrize("method, path, route, send", [
    ("GET", "/projects/nope", "/projects/{name}", {}),
    ("GET", "/jobs/nope", "/jobs/{job_id}", {}),
    ("POST", "/projects/disc/infer", "/projects/{name}/infer", {}),
    ("POST", "/projects/disc/infer", "/projects/{name}/infer", {"data": {"part_id": ["only", "two"]}}),
    ("GET", "/projects/disc/history", "/projects/{name}/history", {"params": {"verdict": "FOO"}}),
    ("PUT", "/projects/disc/history/1/label", "/projects/{name}/history/{row_id}/label", {"data": {"label": "x"}}),
    ("POST", "/projects/disc/activate", "/projects/{name}/activate", {"data": {"version": "v99"}}),
])
def test_failures_have_the_documented_error_body(client, images, disc, document, method, path, route, send):
    if route.endswith("/infer") and "data" in send:
        send = {**send, "files": files(images["cal"][:1])}
    response = client.request(method, path, **send)
    assert 400 <= response.status_code < 500
    body = checked(document, response, method, route)
    assert body["status"] == response.status_code and not re.search(r"\n", body["error"])
