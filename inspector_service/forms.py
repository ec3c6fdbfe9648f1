"""Form fields a route does not declare are refused (422 naming them), never silently ignored: a misspelt
`min_aera` or a `threshold` the endpoint has no such setting for would otherwise run with the defaults."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import HTTPException
from fastapi.routing import APIRoute

from .errors import ApiError

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


class CheckedFormRoute(APIRoute):
    """An APIRoute whose handler first compares the request's form field names with the route's own.

    The parsed form is kept on the request (Starlette caches it), so the route reads it once."""

    def get_route_handler(self):
        handler = super().get_route_handler()
        known = frozenset(field.alias for field in self.dependant.body_params)
        if not known:
            return handler

        async def checked(request: Request):
            if request.headers.get("content-type", "").lower().startswith(FORM_TYPES):
                try:
                    form = await request.form()
                except Exception as exc:  # as FastAPI's own parse does; RequestSizeLimit's flag makes it a 413
                    raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc
                unknown = sorted(set(form.keys()) - known)
                if unknown:
                    await form.close()
                    raise ApiError(422, f"unknown form field{'s' if len(unknown) > 1 else ''} "
                                        f"{', '.join(repr(k) for k in unknown)}: this endpoint takes "
                                        f"{', '.join(sorted(known))}")
            return await handler(request)

        return checked
