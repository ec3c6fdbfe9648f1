"""Delivery that survives outages: each receiver's results wait in an outbox table until it acknowledges them.

    box = Outbox(history_path, HttpReceiver(url), max_pending=10000, on_message=print)
    box.start()
    box.put({"id": 17, "verdict": "NG", ...})   # stored first (one transaction), then sent in the background
    box.store(db, payload); ...; box.stored()    # or stored inside the caller's transaction (the history row's)
    box.stats()  -> OutboxStats(target, sent, pending, failed, dropped)
    box.close(flush_s=2.0)                       # sends what it can in flush_s; the rest waits for the next start

The table `outbox` lives in the history database (its own connection; WAL lets both write). A row is deleted
only once the receiver acknowledged it (HTTP 2xx, MQTT PUBACK). Rows go out strictly in order, one at a time:
while the receiver is down the head row is retried with a growing pause (0.2 s doubling to 5 s) and nothing
behind it overtakes it; after an outage or a restart the backlog is resent oldest first. A receiver that
refuses a result for good (HTTP 4xx other than 408/429) marks that row `failed` (kept, counted, skipped).

Bounded: past `max_pending` rows for one receiver the oldest are dropped, with a warning (the first drop, then
every 100th) and the count in `stats().dropped`. Delivery is at least once: a receiver that acknowledges a
result but whose answer is lost gets it again; the payload's `id` (the history row) tells duplicates apart.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional, Protocol, Union

from inference import InspectorError

log = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 10000
BACKOFF_S = (0.2, 5.0)  # first pause after a failed attempt, longest pause
DROP_WARN_EVERY = 100

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    target TEXT NOT NULL,
    payload TEXT NOT NULL,
    created REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending',
    error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_target ON outbox(target, state, id);
"""


class OutboxError(InspectorError):
    """The outbox cannot be opened or written (the history database's faults, in plain words)."""


class DeliveryError(Exception):
    """A receiver did not acknowledge a result. `permanent`: it refused this result; retrying will not help."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class Receiver(Protocol):
    target: str  # how the receiver is named in messages, and the outbox's key for its rows

    def send(self, payload: dict) -> None:
        """Return once the receiver acknowledged `payload`; raise DeliveryError otherwise."""

    def close(self) -> None: ...


@dataclass
class OutboxStats:
    target: str
    sent: int  # acknowledged during this run
    pending: int  # waiting (also those left by earlier runs)
    failed: int  # refused for good by the receiver (kept in the outbox as 'failed')
    dropped: int  # oldest dropped because the outbox was full

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        text = f"{self.target}: {self.sent} sent, {self.pending} pending, {self.failed} failed"
        return text + (f", {self.dropped} dropped (outbox full)" if self.dropped else "")


class HttpReceiver:
    """POST the JSON to a URL; any 2xx answer is the acknowledgement."""

    def __init__(self, url: str, timeout_s: float = 5.0):
        if not url.startswith(("http://", "https://")):
            raise OutboxError(f"--post needs an http:// or https:// URL, got {url!r}")
        self.target = url
        self.timeout_s = timeout_s

    def send(self, payload: dict) -> None:
        data = json.dumps(payload).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        # the result's own id (publisher.result_payload); a result stored before results had one: its row id
        key = payload.get("result_id", payload.get("id"))
        if key is not None:
            headers["Idempotency-Key"] = str(key)
        request = urllib.request.Request(self.target, data=data, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
            raise DeliveryError(f"HTTP {exc.code}", permanent=permanent) from None
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryError(str(getattr(exc, "reason", exc))) from None

    def close(self) -> None:
        pass


class Outbox:
    """One receiver's outbox in the history database, and the thread that empties it in order."""

    def __init__(self, db_path: Union[str, Path], receiver: Receiver, *, max_pending: int = DEFAULT_MAX_PENDING,
                 on_message: Optional[Callable[[str], None]] = None, backoff_s: tuple = BACKOFF_S):
        if max_pending < 1:
            raise OutboxError(f"the outbox must hold at least 1 result, got {max_pending}")
        self.path = Path(db_path)
        self.receiver = receiver
        self.target = receiver.target
        self.max_pending = max_pending
        self.on_message = on_message
        self.backoff_s = backoff_s
        self.sent = self.failed = self.dropped = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()  # a result was put (or close was called)
        self._stop = threading.Event()  # close was called: cut a pause short
        self._closing = False
        self._flush_until = 0.0
        self._thread: Optional[threading.Thread] = None
        self._outage: Optional[str] = None  # the error while the receiver is unreachable
        try:
            self._db = sqlite3.connect(str(self.path), timeout=10.0, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout = 10000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.executescript(_SCHEMA)
            self._pending = self._db.execute("SELECT COUNT(*) FROM outbox WHERE target = ? AND state = 'pending'",
                                             (self.target,)).fetchone()[0]
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open the outbox in {self.path}: {exc}") from None

    # -- the inspecting side --------------------------------------------------------------------------------
    def put(self, payload: dict) -> None:
        """Store the result (committed before this returns), then wake the sender."""
        with self._lock:
            try:
                self.store(self._db, payload)
            except sqlite3.Error as exc:
                raise OutboxError(f"cannot keep a result for {self.target} in {self.path}: {exc}") from None
        self.stored()

    def store(self, db: sqlite3.Connection, payload: dict) -> None:
        """Insert the result with `db`, inside the caller's transaction: the run mode stores it in the same
        transaction as the part's history row, so a kill can never leave a row whose result is owed but not
        kept. Call stored() once that transaction committed."""
        db.execute("INSERT INTO outbox (target, payload, created) VALUES (?, ?, ?)",
                   (self.target, json.dumps(payload), time.time()))

    def stored(self, n: int = 1) -> None:
        """`n` results were committed to this outbox: count them, keep the bound, wake the sender."""
        with self._lock:
            self._pending += n
            over = self._pending - self.max_pending
            if over > 0:
                try:
                    self._db.execute(
                        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE target = ? AND state = 'pending' "
                        "ORDER BY id LIMIT ?)", (self.target, over))
                except sqlite3.Error as exc:
                    raise OutboxError(f"cannot drop the oldest results for {self.target} in {self.path}: {exc}") \
                        from None
                self._pending -= over
        if over > 0:
            before = self.dropped
            self.dropped += over
            if before == 0 or before // DROP_WARN_EVERY != self.dropped // DROP_WARN_EVERY:
                self._say(f"WARNING: the outbox for {self.target} is full ({self.max_pending} results waiting): "
                          f"dropped the oldest; {self.dropped} dropped so far")
        self._wake.set()

    def stats(self) -> OutboxStats:
        with self._lock:
            pending = max(0, self._pending)  # a row sent before stored() counted it: never shown below 0
        return OutboxStats(self.target, self.sent, pending, self.failed, self.dropped)

    # -- the sending side -----------------------------------------------------------------------------------
    def start(self) -> None:
        if self._pending:
            self._say(f"{self._pending} results for {self.target} left by an earlier run: sending them first")
        self._thread = threading.Thread(target=self._loop, name=f"outbox {self.target}", daemon=True)
        self._thread.start()

    def close(self, flush_s: float = 2.0) -> None:
        """Send for up to `flush_s` more (not while the receiver is down), then stop; the rest stays stored."""
        self._flush_until = time.monotonic() + flush_s
        self._closing = True
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=flush_s + 10.0)
        try:
            self.receiver.close()
        finally:
            with self._lock:
                self._db.close()

    def _head(self) -> Optional[tuple[int, str]]:
        with self._lock:
            return self._db.execute("SELECT id, payload FROM outbox WHERE target = ? AND state = 'pending' "
                                    "ORDER BY id LIMIT 1", (self.target,)).fetchone()

    def _loop(self) -> None:
        pause = self.backoff_s[0]
        while True:
            if self._closing and (self._outage is not None or time.monotonic() >= self._flush_until):
                return
            try:
                head = self._head()
            except sqlite3.Error as exc:
                self._say(f"WARNING: outbox for {self.target}: {exc}")
                return
            if head is None:
                if self._closing:
                    return
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            row_id, text = head
            try:
                self.receiver.send(json.loads(text))
            except DeliveryError as exc:
                if exc.permanent:
                    self._settle(row_id, failed=str(exc))
                    self._say(f"WARNING: {self.target} refused result {json.loads(text).get('id')}: {exc} "
                              "(kept in the outbox as failed)")
                    continue
                with self._lock:
                    self._db.execute("UPDATE outbox SET attempts = attempts + 1, error = ? WHERE id = ?",
                                     (str(exc), row_id))
                if self._outage is None:
                    self._say(f"WARNING: cannot deliver to {self.target}: {exc}; results are kept and resent in "
                              "order when it is back")
                self._outage = str(exc)
                if self._closing:
                    return
                self._stop.wait(pause)  # the sender holds no lock while it waits
                pause = min(pause * 2, self.backoff_s[1])
                continue
            except Exception as exc:  # a receiver's bug must not end delivery silently
                log.exception("outbox %s", self.target)
                self._outage = f"{type(exc).__name__}: {exc}"
                self._stop.wait(pause)
                pause = min(pause * 2, self.backoff_s[1])
                continue
            self._settle(row_id)
            pause = self.backoff_s[0]
            if self._outage is not None:
                self._outage = None
                self._say(f"{self.target} is back: delivering the backlog in order ({self.stats().pending} left)")

    def _settle(self, row_id: int, failed: Optional[str] = None) -> None:
        with self._lock:
            if failed is None:
                cur = self._db.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
            else:
                cur = self._db.execute("UPDATE outbox SET state = 'failed', error = ? WHERE id = ?", (failed, row_id))
            if cur.rowcount == 1:  # not dropped (outbox full) while it was being sent
                self._pending -= 1
        if failed is None:
            self.sent += 1
        else:
            self.failed += 1

    def _say(self, text: str) -> None:
        log.warning(text)
        if self.on_message is not None:
            self.on_message(text)


__all__ = ["DEFAULT_MAX_PENDING", "DeliveryError", "HttpReceiver", "Outbox", "OutboxError", "OutboxStats", "Receiver"]
