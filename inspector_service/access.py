"""Who may do what over HTTP: the tokens file, each token's name and roles, and the permission every route asks for.

A plant gives each caller its own token: the line's software inspects, a rework station marks false rejects, the
MES and Prometheus read, IT pulls backups, and only engineers teach, calibrate and switch versions. Each change is
audited under the name of the token that made it, so the audit trail says who, not "the service".

The tokens file and its reading are station/tokens.py's (the run's line display reads the same file); here, what
each route asks of its caller.
"""

from __future__ import annotations

from fastapi import Depends, Request

from station.access import PERMISSIONS, Caller, roles_granting
from station.tokens import (MIN_TOKEN, RELOAD_EVERY_S, TokenFile, Tokens, caller_of, open_caller,
                            read_tokens)

from .errors import ApiError


def require(permission: str):
    """A route's dependency: the request's Caller, or 403 naming what the caller may not do and which roles may."""
    assert permission in PERMISSIONS, permission

    def check(request: Request) -> Caller:
        caller = getattr(request.state, "caller", None) or request.app.state.open_caller
        if permission not in caller.permissions:
            raise ApiError(403, f"the token of {caller.name} (roles: {', '.join(caller.roles)}) may not "
                                f"{PERMISSIONS[permission]}: that needs a token with the role "
                                f"{roles_granting(permission)}")
        return caller

    return Depends(check)


__all__ = ["MIN_TOKEN", "RELOAD_EVERY_S", "TokenFile", "Tokens", "caller_of", "open_caller", "read_tokens", "require"]
