"""The run's Prometheus metrics behind a bearer token (`inspector run --metrics HOST:PORT --metrics-tokens FILE`, the
Run view's Outputs…): GET /metrics (any path answers the same, as prometheus-client's own server does) needs
`Authorization: Bearer TOKEN` of a caller of the tokens file (station/tokens.py; any role reads), as the service's
`GET /metrics` does. Prometheus sends it with `authorization: {credentials_file: ...}` in its scrape config.

Without a tokens file the run serves its metrics with prometheus-client's own server (station.line_io.metrics.
MetricsServer); with one, here, through uvicorn like the line display (threaded_server.py): the station layer holds
no web framework."""

from __future__ import annotations

from station.addresses import elsewhere
from station.line_io.metrics import LineMetrics

from .bearer_token import BearerToken
from .threaded_server import ThreadedServer


def metrics_app(metrics: LineMetrics):
    """A bare ASGI application: every GET answers the exposition, anything else 405."""

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["method"] not in ("GET", "HEAD"):
            status, body, content_type = 405, b"GET /metrics\n", "text/plain"
        else:
            body, content_type = metrics.exposition()
            status = 200
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type.encode("latin-1")),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""})

    return app


class TokenMetricsServer(ThreadedServer):
    """`metrics`' exposition on HOST:PORT for the callers of `tokens` (a station.tokens.TokenFile, read again when it
    changes: a token is revoked without stopping the line)."""

    def __init__(self, metrics: LineMetrics, host: str, port: int, tokens):
        super().__init__(BearerToken(metrics_app(metrics), tokens), host, port, "the metrics server")
        self.metrics, self.tokens = metrics, tokens

    def describe(self) -> str:
        return (f"metrics: {self.url}/metrics{elsewhere(self.host, self.port, path='/metrics')} (Prometheus, with a "
                "bearer token of the tokens file)")


def metrics_server(metrics: LineMetrics, host: str, port: int, tokens=None):
    """The run's metrics server (`inspector run` and the Run view): behind `tokens` when given, else open."""
    return TokenMetricsServer(metrics, host, port, tokens) if tokens is not None else metrics.serve(host, port)


__all__ = ["TokenMetricsServer", "metrics_app", "metrics_server"]
