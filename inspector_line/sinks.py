"""Where images go besides the history: an archive sorted by verdict.

Archive: archive/<date>/OK|NG|ERROR|NO_VERDICT/<name>. A part without a verdict
(uncalibrated model) goes to NO_VERDICT, never to OK. Files are copied, or moved
with `move=True`; frames (pixels) are written as PNG. A name already taken gets
a numbered suffix, so nothing in the archive is overwritten.

Results sent to receivers (HTTP POST, MQTT) go through station.line_io.outbox (kept until acknowledged).
"""

from __future__ import annotations

import logging
import shutil
from datetime import datetime
from pathlib import Path
from typing import Optional, Union

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
