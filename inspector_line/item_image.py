"""A part's image as the run reads it: a frame's pixels, or a file's pixels and the bytes they were decoded from,
read once. The bytes are checked against the content the folder source saw complete (its sha256, the history row's
key): a file written again in between (a writer that paused, a camera that writes each image under one name faster
than the station reads) is looked at again once it settles, never judged under another image's key. For a source
whose camera reuses its file names, the bytes read are what the archive keeps (the file may already hold the next
part's image when the archive's thread gets to it)."""

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
