"""`Idempotency-Key` on `POST /projects/{name}/infer` (the IETF's Idempotency-Key header field): a client that sends
each request with a key of its own (a UUID) and sends it again, with the same key, when the answer was lost gets the
first request's answer, not a second inspection; nothing is recorded, counted or published twice. It needs no part
ids (station/resends.py, which catches the retries of a client without keys, does).

A key is remembered for KEEP_S with its request's fingerprint (the project, bench or line, each image's sha256 and
part id): the same key with another request is refused (422), and while its first request is still being inspected
a retry is told to wait (409) rather than inspecting the part twice. A request that failed (a 4xx, a fault) leaves
its key free. At most KEEP keys are kept, the oldest going first; each answer is kept without its heatmaps (a
camera-sized map is tens of MB)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Optional

from .errors import ApiError

KEEP = 1024  # keys remembered, all projects
KEEP_S = 600.0  # a retry comes within seconds; a key is not kept past ten minutes
MAX_LENGTH = 255
IN_FLIGHT = object()


def checked_key(text: Optional[str]) -> Optional[str]:
    """The header's key, or None without one; a 422 naming the header for one that is empty, too long or not
    printable ASCII."""
    if text is None:
        return None
    key = text.strip()
    if not key or len(key) > MAX_LENGTH or not all(" " < c < "\x7f" for c in key):
        raise ApiError(422, f"Idempotency-Key: give 1 to {MAX_LENGTH} printable ASCII characters without spaces (a "
                            f"UUID per request), got {text[:40]!r}")
    return key


class RequestKeys:
    def __init__(self, keep: int = KEEP, keep_s: float = KEEP_S, clock: Callable[[], float] = time.monotonic):
        self.keep, self.keep_s, self._clock = keep, keep_s, clock
        self._keys: OrderedDict[str, tuple[float, tuple, object]] = OrderedDict()  # key -> (time, fingerprint, answer)
        self._lock = threading.Lock()

    def begin(self, key: str, fingerprint: tuple) -> Optional[dict]:
        """The answer the request with `key` got (a retry: give it again); None: a new request, now in flight,
        which `finish` or `abandon` ends. ApiError 409 while the first is in flight, 422 for another request."""
        with self._lock:
            now = self._clock()
            while self._keys and now - next(iter(self._keys.values()))[0] > self.keep_s:
                self._keys.popitem(last=False)
            kept = self._keys.get(key)
            if kept is None:
                self._keys[key] = (now, fingerprint, IN_FLIGHT)
                while len(self._keys) > self.keep:
                    self._keys.popitem(last=False)
                return None
        if kept[1] != fingerprint:
            raise ApiError(422, "Idempotency-Key: this key came with another request (other images, part ids or "
                                "project) within the last 10 minutes: give each request a key of its own")
        if kept[2] is IN_FLIGHT:
            raise ApiError(409, "Idempotency-Key: the request with this key is still being inspected: send it again "
                                "in a moment for its answer")
        return kept[2]

    def finish(self, key: str, answer: dict) -> None:
        with self._lock:
            kept = self._keys.get(key)
            if kept is not None:
                self._keys[key] = (kept[0], kept[1], answer)

    def abandon(self, key: str) -> None:
        with self._lock:
            kept = self._keys.get(key)
            if kept is not None and kept[2] is IN_FLIGHT:
                del self._keys[key]


__all__ = ["KEEP", "KEEP_S", "RequestKeys", "checked_key"]
