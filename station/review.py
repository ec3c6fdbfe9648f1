"""The images of the inspections a reviewer marked, as teaching and calibration take them: the window's *Teach
false rejects* and *Calibrate with marked*, `inspector fit --false-rejects` and `inspector calibrate --marked`
read them here, so every client teaches back the same images."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection

from .history import History


@dataclass
class MarkedImages:
    label: str
    paths: list[Path] = field(default_factory=list)  # the images still found, each once, oldest inspection first
    gone: int = 0  # marked rows whose image is neither archived nor where it was inspected any more
    taught: int = 0  # marked rows whose image the model has taught already (by content)

    def summary(self) -> str:
        """One line: how many images, and what was left out and why."""
        kind = self.label.replace("_", " ")
        left = ([f"{self.taught} taught already"] if self.taught else []) + \
            ([f"{self.gone} no longer on disk"] if self.gone else [])
        return f"{len(self.paths)} image(s) marked {kind}" + (f" ({', '.join(left)})" if left else "")


def marked_images(history: History, label: str, taught: Collection[str] = ()) -> MarkedImages:
    """The images of every row marked `label` (false_reject, false_accept): each row's archived copy, else its
    file while that holds the same bytes (Inspection.image_path). `taught`: sha256 of the images the model was
    taught (ModelRecord.images), which are left out: a false reject taught back twice would only weigh twice."""
    out, seen = MarkedImages(label), set()
    for row in history.query(label=label, descending=False):
        if row.sha256 is not None and row.sha256 in taught:
            out.taught += 1
            continue
        path = row.image_path()
        if path is None:
            out.gone += 1
        elif (row.sha256 or path) not in seen:  # one part inspected and marked twice is one image
            seen.add(row.sha256 or path)
            out.paths.append(path)
    return out
