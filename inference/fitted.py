"""What a fit gives (FitResult) and a model ready to inspect (Model): the engine's results, kept apart from
the engine that makes them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np

from . import knn
from .align import Locator
from .calibration import Calibration
from .config import EngineConfig
from .model_record import ModelRecord
from .roi import Roi

if TYPE_CHECKING:  # torch and timm load with the first backbone: an exported model inspects without them
    from .backbone import Backbone


@dataclass
class FitResult:
    project: Path
    n_images: int
    n_embeddings: int
    coreset_size: int
    seconds: float
    timings: dict
    record: ModelRecord
    # The fitted model, ready to inspect: built from what the fit has in memory, equal to what
    # Engine.load(project, version) gives, so a caller inspects at once without reading the project back.
    model: Optional["Model"] = None
    # The new model version ("v4") and whether it is active: a fit or add onto a calibrated active version
    # stays staged (the line keeps inspecting with the calibrated one) until it is calibrated.
    version: Optional[str] = None
    active: bool = True
    # Said once after a new fit whose taught OK images say something about the declared part symmetry: they lie
    # turned though the model does not know the part turns, mirrored copies are taught of a part that does not
    # look the same mirrored, or (few images, none declared) the part looks the same mirrored and declaring it
    # would help (inference.part_mirror.symmetry_advice); "" otherwise. Not saved: advice for the moment of
    # teaching.
    symmetry_note: str = ""

    @property
    def manifest(self) -> dict:
        """The saved manifest.json as a JSON object."""
        return self.record.to_dict()

    def to_dict(self) -> dict:
        return {
            "project": str(self.project), "n_images": self.n_images, "n_embeddings": self.n_embeddings,
            "coreset_size": self.coreset_size, "seconds": round(self.seconds, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "weights": dict(self.record.backbone.weights),
            "backbone": self.record.backbone.name,
            # Set only when `backbone: auto` chose: which backbone and why, to be shown once.
            "backbone_chosen": self.record.backbone.chosen,
            # Set only when alignment was asked for but the view has nothing to locate (taught without it).
            "align_note": self.record.align.get("note", ""),
            # What the fit measured of this machine's low precision (precision_gate); {} when nothing was checked.
            "precision_check": dict(self.record.precision_check),
            "version": self.version,
            "active": self.active,
            "symmetry_note": self.symmetry_note,
        }


@dataclass
class Model:
    """A loaded project model, ready to inspect images."""

    folder: Path
    record: ModelRecord
    config: EngineConfig
    roi: Roi
    mm_per_px: Optional[float]
    searcher: knn.Searcher
    backbone: Backbone
    calibration: Optional[Calibration]
    calibration_note: str = ""
    ignore: tuple = ()  # ignore regions (inference.roi shapes), in reference-image pixels
    locator: Optional[Locator] = None  # None: align: none, the ROI stays where it was drawn
    version: Optional[str] = None  # the project's model version this is ("v3"); `folder` is the project
    # The part's patches (bool token grid) when the model was fitted with foreground_mask auto and masks;
    # None: every patch is inspected.
    foreground: Optional[np.ndarray] = None
    # The precision check in force here (precision_gate): the fit's, or the one measured when this machine loaded
    # the model because the fit could not measure its low precision; {} when nothing was checked.
    precision_check: dict = field(default_factory=dict)

    @property
    def random_weights(self) -> bool:
        return not self.record.backbone.pretrained

    @property
    def model_id(self) -> str:
        return self.record.model_id

    @property
    def manifest(self) -> dict:
        """The model's manifest.json as a JSON object (a new dict; the record is the model's)."""
        return self.record.to_dict()

    def with_calibration(self, calibration: Calibration, version: Optional[str] = None) -> "Model":
        """This model giving verdicts with `calibration` (a new Model; this one is not changed)."""
        return replace(self, calibration=calibration, calibration_note="", version=version or self.version)
