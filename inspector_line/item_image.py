"""A part's image as the run reads it: a frame's pixels, or a file's pixels and the bytes they were decoded from.
The folder source hands the bytes it read to hash the file (Item.data): those are judged, so the key names what was
judged even when the camera has written the next image over the file since. A file the source did not read (its key
from the history, sources.py) is read now and checked against its key: written again in between (a writer that
paused), it is looked at again once it settles, never judged under another image's key. For a source whose camera
reuses its file names, the bytes judged are what the archive keeps (the file may already hold the next part's image
when the archive's thread gets to it)."""

from __future__ import annotations

import hashlib
from typing import Optional

import numpy as np

from inference import read_image_file

from .source_items import Item


class ChangedSinceComplete(Exception):
    """The file's content is not the one its item was handed out with."""


def read_item(item: Item) -> tuple[np.ndarray, Optional[bytes]]:
    """(RGB pixels, the file's bytes; None for a frame). ImageError for a file that is no image;
    ChangedSinceComplete when the bytes read are not those the source saw complete."""
    if isinstance(item.image, np.ndarray):
        return item.image, None
    if item.data is not None:  # the bytes the source hashed: those the key names, whatever the file holds now
        return read_image_file(item.image, data=item.data)
    rgb, data = read_image_file(item.image)
    if item.sha256 and hashlib.sha256(data).hexdigest() != item.sha256:
        raise ChangedSinceComplete(f"{item.name} changed after it was complete: looked at again once it settles "
                                   "(an image written over before the station read it is never inspected)")
    return rgb, data


def changed(item: Item) -> bool:
    """Whether a file differs from when it was judged complete (its writer was not done after all)."""
    if item.path is None or "size" not in item.extra:
        return False
    try:
        st = item.path.stat()
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns) != (item.extra["size"], item.extra["mtime_ns"])


__all__ = ["ChangedSinceComplete", "changed", "read_item"]
