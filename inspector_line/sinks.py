"""Where images go besides the history: an archive sorted by verdict.

Archive: archive/<date>/OK|NG|ERROR|NO_VERDICT/<name>. A part without a verdict
(uncalibrated model) goes to NO_VERDICT, never to OK. Files are copied, or moved
with `move=True`; frames (pixels) are written as PNG. A name already taken gets
the part's history row id (`image_row1234.png`), so nothing in the archive is
overwritten, and a camera that names every part `image.bmp` costs one look per
part, not one per earlier copy. With a keeper
(inspector_line/archive_keeper.py) the archive never fills its disk: an image is
not archived while the keeper finds no room for it, and a copy cut short by a full
disk is removed, not left half written.

Results sent to receivers (HTTP POST, MQTT) go through station.line_io.outbox (kept until acknowledged).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Optional, Union

import numpy as np

from inference import InspectorError, sha256_file

from .archive_keeper import ArchiveKeeper, archive_date

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
    def __init__(self, root: Union[str, Path], move: bool = False, keeper: Optional[ArchiveKeeper] = None):
        # Absolute: the rows' archive paths are read from other working directories (the window, the service).
        self.root = Path(root).absolute()
        self.move = move
        self.keeper = keeper
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"cannot create the archive folder {self.root}: {exc.strerror or exc}") from None

    def target(self, name: str, verdict: Optional[str], when: float, row_id: Optional[int] = None) -> Path:
        folder = self.root / archive_date(when) / verdict_folder(verdict)
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / name
        if row_id is not None and row_id > 0 and dest.exists():
            # Row ids are never reused, so this name is free (counting up _1, _2, ... looked at every earlier copy
            # of a name the source reuses: 65 ms a part after 5,000 parts named image.png).
            dest = folder / f"{Path(name).stem}_row{row_id}{Path(name).suffix}"
        n = 1
        while dest.exists():
            dest = folder / f"{Path(name).stem}_{n}{Path(name).suffix}"
            n += 1
        return dest

    def put(self, image: Union[Path, np.ndarray, bytes], name: str, verdict: Optional[str], when: float,
            row_id: Optional[int] = None, sha256: Optional[str] = None) -> Optional[Path]:
        """Archive one image (of the history row `row_id`): a file (copied or moved), pixels (written as PNG) or
        an encoded file's bytes (an upload, written as they came). Where it went, None when the keeper has no
        room for it now (it says so). Raises SinkError with a plain message (disk full, permission). `sha256`: a
        file's content as it was inspected; a file written again since is not archived (SinkError): the archive
        would hold another part's image under this part's row, and a move would take the next part away."""
        if self.keeper is not None and not self.keeper.room(_size(image)):
            return None
        dest = None
        try:
            if isinstance(image, (bytes, bytearray)):
                base = Path(name.replace("\\", "/")).name  # never a folder of the sender's
                dest = self.target(base if base not in ("", ".", "..") else "image", verdict, when, row_id)
                dest.write_bytes(image)
                return dest
            if isinstance(image, np.ndarray):
                dest = self.target(Path(name).stem + ".png", verdict, when, row_id)
                dest.write_bytes(png_of(image, name))
                return dest
            if self.move and sha256 is not None and sha256_file(image) != sha256:
                raise SinkError(_rewritten(name))
            dest = self.target(Path(image).name, verdict, when, row_id)
            if self.move:
                shutil.move(str(image), str(dest))
            else:
                shutil.copy2(str(image), str(dest))
                if sha256 is not None and sha256_file(dest) != sha256:
                    dest.unlink(missing_ok=True)
                    raise SinkError(_rewritten(name))
            return dest
        except OSError as exc:
            # A copy cut short (disk full) is not an archived image; a move that failed left its source in place.
            if dest is not None and (isinstance(image, (np.ndarray, bytes, bytearray)) or not self.move
                                     or Path(image).exists()):
                dest.unlink(missing_ok=True)
            raise SinkError(f"cannot archive {name} into {self.root}: {exc.strerror or exc}") from None


def _rewritten(name: str) -> str:
    return (f"{name} was written again after it was inspected and before it was archived: not archived (the archive "
            "would hold another image under this part's row)")


def png_of(rgb: np.ndarray, name: str) -> bytes:
    """A frame's RGB pixels as PNG bytes. Encoded here, written by Python: cv2.imwrite says only False, where a full
    disk or a missing permission must be named, and on Windows it cannot write to a path with non-ASCII letters."""
    import cv2

    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise SinkError(f"cannot encode {name} as PNG ({rgb.shape}, {rgb.dtype})")
    return png.tobytes()


def held_bytes(image) -> int:
    """What an image to archive holds in memory: a frame's pixels, an upload's bytes; a file, nothing."""
    if isinstance(image, (bytes, bytearray)):
        return len(image)
    if isinstance(image, np.ndarray):
        return int(image.nbytes)
    return 0


def _size(image) -> int:
    """The bytes an image will take in the archive, at most (pixels: their raw size, more than the PNG)."""
    if isinstance(image, (bytes, bytearray, np.ndarray)):
        return held_bytes(image)
    try:
        return Path(image).stat().st_size
    except OSError:
        return 0
