"""`GET /metrics`: the service's figures in Prometheus' text format (station.line_io.metrics, the same
definitions as `inspector run --metrics`): results by verdict and latency (request received to result) per
project, images queued for the backbone, active model versions, alarms, outboxes. Behind the bearer token like
every route when the service has one (Prometheus sends it with `authorization: {credentials: TOKEN}`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from .access import require

router = APIRouter(tags=["monitoring"])


@router.get("/metrics", summary="Prometheus metrics: inspections by verdict, latency, queue depth, model versions, "
            "alarms, outboxes", response_class=Response, dependencies=[require("read")])
def metrics(request: Request):
    body, content_type = request.app.state.metrics.exposition()
    return Response(body, media_type=content_type)
