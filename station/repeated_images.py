"""A frozen camera: the same image arriving again as the next part is an ERROR that says so, never judged.

A camera whose driver hangs can hand over its last frame again and again, and a camera program can write its last
image again under the next part's name. Judged, each of those parts would get the verdict of the one part that was
photographed: a frozen frame of a good part passes every part after it. No two captures of a real camera are the
same to the bit (sensor noise), so an image identical to the one before is a fault, not a part, unless both name
the same part (a resend of that part's image, e.g. a client's retry). Compared by a digest of the image as it came
(a file's bytes, a frame's pixels), with the image just before only.

`inspector run` checks its folder and live camera (not a video file, whose still scenes decode to identical
frames); the service checks a project's line requests where both images carry part ids (without them a client's
retry and a frozen camera look the same).
"""

from __future__ import annotations

from typing import Optional

from .masters import part_key


class RepeatedImages:
    def __init__(self, only_between_part_ids: bool = False):
        self.only_between_part_ids = only_between_part_ids
        self._last: Optional[tuple[str, str, Optional[str]]] = None  # (digest, name, part id) of the image before

    def problem(self, digest: Optional[str], name: str, part_id: Optional[str] = None) -> Optional[str]:
        """Why this image is not a new capture (the same as the one before), else None. A repeat is not
        remembered in place of the image it repeats, so each repeat names that image, and a resend of a repeat
        under its own part id is a repeat still."""
        if digest is None:  # an image not compared: the next one is compared with nothing
            self._last = None
            return None
        before = self._last
        ids = before is not None and before[2] is not None and part_id is not None
        if before is None or before[0] != digest or (ids and part_key(before[2]) == part_key(part_id)) or (
                self.only_between_part_ids and not ids):
            self._last = (digest, name, part_id)
            return None
        of = f", part {before[2]}" if before[2] is not None else ""
        return (f"the same image as the part before ({before[1]}{of}), to the bit: not judged. A frozen camera, or "
                "the camera program wrote its last image again?")


__all__ = ["RepeatedImages"]
