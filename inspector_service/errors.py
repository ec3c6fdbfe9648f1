"""Every failure as a one-line JSON error with the right HTTP status; never a 500 for a user's mistake."""

from __future__ import annotations

import logging
import tempfile
from typing import Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from inference import InspectorError, plain_os_error

log = logging.getLogger("inspector.service")

# By class name, most specific first along the exception's MRO, so that subclasses the engine
# adds later (e.g. a project-lock error under ProjectError) get their parent's status.
STATUS_BY_ERROR = {
    "ProjectBusyError": 409,  # another process is saving the project
    "Cancelled": 409,
    "CalibrationError": 422,
    "ImageError": 422,
    "RoiError": 422,
    "ConfigError": 422,
    "ProjectError": 409,  # the project on disk is corrupt or from another version: refit/repair, not retry
    "WeightsError": 503,  # the server's installation lacks the weights
    "StorageError": 507,  # disk full, read-only, permission
}


class ApiError(Exception):
    """A request the service refuses, with its status and a one-line message naming the input."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def status_for(exc: InspectorError) -> int:
    for cls in type(exc).__mro__:
        if cls.__name__ in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls.__name__]
    text = str(exc)
    if "busy" in text or "being saved by another process" in text:
        return 409
    return 422


def os_fault(exc: Optional[BaseException]) -> Optional[OSError]:
    """The OS fault (disk full, read-only, permissions) behind `exc`, following its causes; None when none."""
    while exc is not None:
        if isinstance(exc, OSError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": one_line(message), "status": status}, status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError):
        return error_response(exc.status, exc.message)

    @app.exception_handler(InspectorError)
    async def _engine(request: Request, exc: InspectorError):
        return error_response(status_for(exc), str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if request.scope.get("inspector.too_large"):
            return error_response(413, request.scope["inspector.too_large"])
        fault = os_fault(exc.__cause__)
        if fault is not None:  # FastAPI's "error parsing the body" over a temp disk that filled while it spooled
            storage = plain_os_error(fault, tempfile.gettempdir(), "keep the upload in")
            return error_response(status_for(storage), str(storage))
        if exc.status_code == 404 and exc.detail == "Not Found":
            return error_response(404, f"no such endpoint: {request.method} {request.url.path}")
        return error_response(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        if request.scope.get("inspector.too_large"):
            return error_response(413, request.scope["inspector.too_large"])
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
            parts.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
        return error_response(422, "; ".join(parts) or "invalid request")


class InternalErrors:
    """ASGI layer: an unexpected exception (a bug) becomes a one-line 500 and the server goes on.

    Starlette's own last-resort handler re-raises to the server after answering,
    which can cut the answer off; this layer answers and stops the exception here,
    logging its traceback.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def send_tracked(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception as exc:
            log.error("internal error on %s %s", scope.get("method"), scope.get("path"), exc_info=exc)
            if started:
                raise  # too late for a clean answer; the server closes the connection
            response = error_response(500, f"internal error ({type(exc).__name__}: {exc}); see the server log")
            await response(scope, receive, send)
