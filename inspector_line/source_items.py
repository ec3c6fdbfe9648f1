"""What every source hands the runner: an Item (one image to inspect), and the error a source cannot be opened
with. Their own module, so that the folder source (sources.py) and the camera source (camera_source.py) share
them without importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np

from inference import InspectorError


class SourceError(InspectorError):
    """A source cannot be opened (missing folder, no camera, unreadable video)."""


@dataclass
class Item:
    """One image to inspect."""

    name: str  # file name or frame name, as shown and recorded
    image: Union[Path, np.ndarray]  # a file, or RGB pixels (camera / video frames)
    key: Optional[str]  # exactly-once key; None for live camera frames
    sha256: Optional[str]
    arrived: float  # time.time() when the image was complete (file written / frame grabbed)
    path: Optional[Path] = None
    extra: dict = field(default_factory=dict)
    # A file's bytes as the source read and hashed them (its sha256, its key): what the run judges and archives, so
    # a file written again since cannot be judged under this key; None where the source did not read it.
    data: Optional[bytes] = None


__all__ = ["Item", "SourceError"]
