"""ASGI layers around the app: access log, bearer token (inspector_line/bearer_token.py, which the run's line display
shares), request size limit."""

from __future__ import annotations

import logging
import time

from inspector_line.bearer_token import BearerToken, send_error

access_log = logging.getLogger("inspector.access")


class AccessLog:
    """One line per request: client, method, path, status, milliseconds."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = [500]

        async def send_status(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            client = scope.get("client") or ("-", 0)
            access_log.info("%s %s %s %d %.1f ms", client[0], scope["method"], scope["path"], status[0],
                            (time.perf_counter() - t0) * 1000.0)


class BodyTooLarge(Exception):
    pass


# An oversize body up to this size is read and thrown away before the 413 is sent ("lingering close", as
# nginx does): a client still uploading would otherwise see the connection reset, not the answer.
DRAIN_LIMIT = 64 * 1024 * 1024


async def _drain(receive, limit: int = DRAIN_LIMIT) -> None:
    read = 0
    while read <= limit:
        event = await receive()
        if event["type"] != "http.request":
            return
        read += len(event.get("body", b""))
        if not event.get("more_body", False):
            return


class RequestSizeLimit:
    """Refuse a request body over `max_bytes` (413): at once by Content-Length, else while it streams in."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        message = f"request body over the limit of {self.max_bytes} bytes (--max-request-mb)"
        for key, value in scope.get("headers", ()):
            if key == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                if int(value) <= DRAIN_LIMIT:
                    await _drain(receive)
                return await send_error(send, 413, message, [(b"connection", b"close")])
        seen = 0

        async def counted():
            nonlocal seen
            event = await receive()
            if event["type"] == "http.request":
                seen += len(event.get("body", b""))
                if seen > self.max_bytes:
                    if event.get("more_body", False):
                        await _drain(receive, DRAIN_LIMIT - seen)
                    # The body parser turns this into an error response; the handlers read the flag for 413.
                    scope["inspector.too_large"] = message
                    raise BodyTooLarge(message)
            return event

        return await self.app(scope, counted, send)


__all__ = ["AccessLog", "BearerToken", "BodyTooLarge", "RequestSizeLimit"]
