"""A frozen camera: the same image arriving again as the next part is an ERROR that says so, never judged.

A camera whose driver hangs can hand over its last frame again and again, and a camera program can write its last
image again under the next part's name. Judged, each of those parts would get the verdict of the one part that was
photographed: a frozen frame of a good part passes every part after it. No two captures of a real camera are the
same to the bit (sensor noise), so an image identical to the one before is a fault, not a part. It is compared by
the digest every source already gives its items (the file's bytes, or the frame's pixels), with the image just
before only; a video file (a recording, where a still scene decodes to identical frames) is not checked.
"""

from __future__ import annotations

from typing import Optional

from .source_items import Item


class RepeatedFrames:
    def __init__(self, source):
        # Sources whose every item is a new capture say so (FolderSource; VideoSource for a live camera).
        self.checked = bool(getattr(source, "fresh_captures", False))
        self._last: Optional[tuple[str, str]] = None  # (digest, name) of the image before

    def problem(self, item: Item) -> Optional[str]:
        """Why `item` is not a new capture (the same image as the one before), else None; remembers it."""
        if not self.checked or item.sha256 is None:
            return None
        before, self._last = self._last, (item.sha256, item.name)
        if before is None or before[0] != item.sha256:
            return None
        return (f"the same image as the part before ({before[1]}), to the bit: not judged. A frozen camera, or the "
                "camera program wrote its last image again?")


__all__ = ["RepeatedFrames"]
