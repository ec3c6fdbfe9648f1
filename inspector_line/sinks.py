"""Where results go besides the history: an archive of sorted images, and an HTTP endpoint.

Archive: archive/<date>/OK|NG|ERROR|NO_VERDICT/<name>. A part without a verdict
(uncalibrated model) goes to NO_VERDICT, never to OK. Files are copied, or moved
with `move=True`; frames (pixels) are written as PNG. A name already taken gets
a numbered suffix, so nothing in the archive is overwritten.

Poster: the result JSON is POSTed from a background thread with a bounded queue
and bounded retries, so a slow or absent receiver never holds up inspection.
"""

from __future__ import annotations

import json
import logging
import queue
import shutil
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np

from inference import InspectorError

log = logging.getLogger(__name__)

NO_VERDICT_FOLDER = "NO_VERDICT"


class SinkError(InspectorError):
    """An archive folder or URL is unusable."""


def verdict_folder(verdict: Optional[str]) -> str:
    if verdict is None:
        return NO_VERDICT_FOLDER
    safe = "".join(c for c in verdict if c.isalnum() or c in "_-")
    return safe or NO_VERDICT_FOLDER


class Archiver:
    def __init__(self, root: Union[str, Path], move: bool = False):
        self.root = Path(root)
        self.move = move
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"cannot create the archive folder {self.root}: {exc.strerror or exc}") from None

    def target(self, name: str, verdict: Optional[str], when: float) -> Path:
        folder = self.root / datetime.fromtimestamp(when).strftime("%Y-%m-%d") / verdict_folder(verdict)
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / name
        n = 1
        while dest.exists():
            dest = folder / f"{Path(name).stem}_{n}{Path(name).suffix}"
            n += 1
        return dest

    def put(self, image: Union[Path, np.ndarray], name: str, verdict: Optional[str], when: float) -> Path:
        """Archive one image; raises SinkError with a plain message (disk full, permission)."""
        try:
            if isinstance(image, np.ndarray):
                import cv2

                dest = self.target(Path(name).stem + ".png", verdict, when)
                if not cv2.imwrite(str(dest), np.ascontiguousarray(image[..., ::-1])):
                    raise SinkError(f"cannot write {dest}")
                return dest
            dest = self.target(Path(image).name, verdict, when)
            if self.move:
                shutil.move(str(image), str(dest))
            else:
                shutil.copy2(str(image), str(dest))
            return dest
        except OSError as exc:
            raise SinkError(f"cannot archive {name} into {self.root}: {exc.strerror or exc}") from None


class Poster:
    """POSTs JSON payloads to `url` in the background: bounded queue, bounded retries, never blocks."""

    def __init__(self, url: str, retries: int = 3, backoff_s: float = 0.5, timeout_s: float = 5.0,
                 max_queue: int = 1000, on_failure: Optional[Callable[[str], None]] = None):
        if not url.startswith(("http://", "https://")):
            raise SinkError(f"--post needs an http:// or https:// URL, got {url!r}")
        self.url = url
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.on_failure = on_failure
        self._queue: "queue.Queue[Optional[dict]]" = queue.Queue(maxsize=max_queue)
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._thread = threading.Thread(target=self._loop, name="inspector-post", daemon=True)
        self._thread.start()

    def submit(self, payload: dict) -> None:
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            self.dropped += 1  # the receiver is far behind; the history still has every result

    def close(self, wait_s: float = 5.0) -> None:
        """Send what is queued (up to `wait_s`), then stop."""
        try:
            self._queue.put(None, timeout=wait_s)
        except queue.Full:
            pass
        self._thread.join(timeout=wait_s)

    def _loop(self) -> None:
        while True:
            payload = self._queue.get()
            if payload is None:
                return
            self._send(payload)

    def _send(self, payload: dict) -> None:
        data = json.dumps(payload).encode("utf-8")
        error = ""
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.url, data=data, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    response.read()
                self.sent += 1
                return
            except urllib.error.HTTPError as exc:
                error = f"HTTP {exc.code}"
                if 400 <= exc.code < 500 and exc.code not in (408, 429):
                    break  # the receiver refuses this payload; retrying will not help
            except (urllib.error.URLError, OSError) as exc:
                error = str(getattr(exc, "reason", exc))
            if attempt < self.retries:
                time.sleep(self.backoff_s * 2 ** attempt)
        self.failed += 1
        message = f"could not post {payload.get('file_name', 'a result')} to {self.url}: {error}"
        log.warning(message)
        if self.on_failure is not None:
            self.on_failure(message)
