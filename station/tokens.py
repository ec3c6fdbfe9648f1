"""Callers by token over HTTP: the tokens file, each token's name and roles (station/access.py), read again when it
changes, and the constant-time lookup of a request's token. The service's tokens (`inspector serve --token-file`,
inspector_service/access.py) and the run's line display (`inspector run --display-tokens`) read the same file.

The tokens file holds one token (the earlier form: every permission, named by --token-name) or one line per caller,
`NAME ROLES TOKEN`, ROLES a comma-separated list of the roles (station/access.py); a line starting with `#` is a
comment.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import threading
import time
from pathlib import Path
from typing import Optional

from inference import InspectorError

from .access import Caller, parse_roles

MIN_TOKEN = 16
RELOAD_EVERY_S = 1.0
log = logging.getLogger("inspector.tokens")


def is_loopback(host: str) -> bool:
    """Whether a server bound to `host` is reachable from this PC only (localhost, 127.x, ::1): where a station's
    server may go without tokens or users."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def open_caller(name: str) -> Caller:
    """The caller where no token is asked (a service bound to this PC only): every permission."""
    return Caller(name, ("engineer",))


def read_tokens(path: Path, default_name: str) -> dict[str, Caller]:
    """token -> Caller from a tokens file (see the module docstring); InspectorError naming the file and line."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # utf-8-sig: a Notepad byte-order mark is no part of it
    except (OSError, UnicodeDecodeError) as exc:
        raise InspectorError(f"cannot read the token file {path}: {exc}") from None
    # A line starting with # is a comment (a token may hold a #: the earlier form read the whole line).
    lines = [(n, line.split()) for n, line in enumerate(text.splitlines(), 1) if not line.strip().startswith("#")]
    lines = [(n, words) for n, words in lines if words]
    if len(lines) == 1 and len(lines[0][1]) == 1:  # one token: every permission, named by --token-name
        tokens = {lines[0][1][0]: open_caller(default_name)}
    else:
        tokens = {}
        for n, words in lines:
            where = f"token file {path}, line {n}"
            if len(words) != 3:
                raise InspectorError(f"{where}: write NAME ROLES TOKEN (e.g. line-3 line TOKEN), or the file holds "
                                     "one token alone")
            name, roles, token = words
            roles = parse_roles(roles, where)
            if token in tokens:
                raise InspectorError(f"{where}: the same token as {tokens[token].name}: give each caller its own")
            if any(c.name == name for c in tokens.values()):
                raise InspectorError(f"{where}: the name {name} is given twice: the audit trail could not tell "
                                     "them apart")
            tokens[token] = Caller(name, roles)
    for token in tokens:
        if len(token) < MIN_TOKEN:
            raise InspectorError(f"token file {path}: every token must be at least {MIN_TOKEN} characters long (a "
                                 "guessable token lets anyone on the network in)")
    if not tokens:
        raise InspectorError(f"token file {path} holds no token")
    return tokens


class Tokens:
    """Callers by token, fixed (create_app's `token` / `tokens`)."""

    def __init__(self, tokens: dict[str, Caller]):
        self._callers = _encoded(tokens)

    def callers(self) -> dict[bytes, Caller]:
        return self._callers


class TokenFile(Tokens):
    """The tokens file, read again when it changes (looked at once a second at most), so that a caller is added
    or revoked without stopping the line's service. A file that no longer reads (a typo while editing, removed)
    leaves the tokens read before in force and says why in the log: a slip never locks the line out."""

    def __init__(self, path: Path, default_name: str):
        self.path, self.default_name = Path(path), default_name
        self._stamp = self._stat()
        super().__init__(read_tokens(self.path, default_name))  # a bad file refuses the start, in one line
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    def _stat(self) -> Optional[tuple]:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def callers(self) -> dict[bytes, Caller]:
        if time.monotonic() - self._checked >= RELOAD_EVERY_S:
            with self._lock:
                self._checked = time.monotonic()
                stamp = self._stat()
                if stamp != self._stamp:
                    self._stamp = stamp
                    try:
                        self._callers = _encoded(read_tokens(self.path, self.default_name))
                        log.warning("read the token file %s again: %d callers", self.path, len(self._callers))
                    except InspectorError as exc:
                        log.error("%s; the tokens read before stay in force", exc)
        return self._callers


def _encoded(tokens: dict[str, Caller]) -> dict[bytes, Caller]:
    return {token.encode("utf-8"): caller for token, caller in tokens.items()}


def caller_of(tokens: dict[bytes, Caller], given: bytes) -> Optional[Caller]:
    """The caller whose token was given, compared in constant time with every token (none is found faster)."""
    found = None
    for token, caller in tokens.items():
        if hmac.compare_digest(given, token):
            found = caller
    return found


__all__ = ["MIN_TOKEN", "RELOAD_EVERY_S", "TokenFile", "Tokens", "caller_of", "is_loopback", "open_caller",
           "read_tokens"]
