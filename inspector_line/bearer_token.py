"""The bearer token every request to a station's HTTP server must carry where a tokens file is in force
(station/tokens.py): the service (`inspector serve --token-file`) and the run's line display (`inspector run
--display-tokens`). A raw ASGI layer, so that neither needs the other's framework setup."""

from __future__ import annotations

import json
from typing import Optional

from station.tokens import caller_of


async def send_error(send, status: int, message: str, headers: Optional[list] = None) -> None:
    body = json.dumps({"error": message, "status": status}).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class BearerToken:
    """Every request must carry `Authorization: Bearer <token>` of one of the tokens (station/tokens.py: each names its
    caller and roles), compared in constant time; the request's state then names its caller. `public(path)`: a GET
    that needs none, a page that holds no data (the line display's, which a browser opens by its address and which
    then sends the token itself)."""

    def __init__(self, app, tokens, public=None):
        self.app = app
        self.tokens = tokens  # station.tokens.Tokens, or the TokenFile read again when it changes
        self.public = public or (lambda path: False)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["method"] in ("GET", "HEAD") and self.public(scope["path"]):
            return await self.app(scope, receive, send)
        given = b""
        for key, value in scope.get("headers", ()):
            if key == b"authorization":
                scheme, _, rest = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    given = rest.strip()
        caller = caller_of(self.tokens.callers(), given)
        if caller is None:
            return await send_error(send, 401, "missing or wrong bearer token (Authorization: Bearer <token>)",
                                     [(b"www-authenticate", b"Bearer")])
        scope.setdefault("state", {})["caller"] = caller
        return await self.app(scope, receive, send)


__all__ = ["BearerToken", "send_error"]
