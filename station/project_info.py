"""What a project holds, whether it can inspect, and why not: one answer for `inspector info` and the service's
GET /projects/{name}."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from inference import (Calibration, InspectorError, Model, ModelRecord, index_kind, ivf_lists_scanned,
                       load_calibration, read_export, read_record, verify_project)


@dataclass
class ProjectInfo:
    record: ModelRecord
    problems: list[str]  # empty when the project can inspect
    calibration: Optional[Calibration]
    calibration_note: str  # why there is no usable calibration
    index: Optional[str] = None  # what the coreset is searched with (index: auto picks by its size)
    ivf_lists: Optional[tuple[int, int]] = None  # ivf: (lists scanned per search, lists)
    # What computes the features on this machine, with its settings: runtime, precision, int8's gate cosine.
    compute: Optional[dict] = None
    export: Optional[dict] = None  # an exported folder's export.json: where it came from, its network

    @property
    def usable(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"manifest": self.record.to_dict(), "usable": self.usable, "problems": self.problems,
                "calibration": {**self.calibration.to_dict(), **self.calibration.rate_bounds()} if self.calibration
                else None,
                "calibration_note": self.calibration_note, "index": self.index,
                "ivf_lists": {"scanned": self.ivf_lists[0], "lists": self.ivf_lists[1]} if self.ivf_lists else None,
                "compute": self.compute, "export": self.export}


def describe(project: str | Path, load: Callable[[], Model]) -> ProjectInfo:
    """The project's manifest, every check `infer` makes (its data files, then `load()`: the config, backbone and
    weights the model names), its calibration and its index. A client passes its own way to load the model (the
    service its warm one); ProjectError when there is no model to describe."""
    record = read_record(project)
    problems = verify_project(project)
    index = lists = compute = None
    if not problems:
        try:
            model = load()
            searched = model.searcher.cpu_index
            index, lists = index_kind(searched), ivf_lists_scanned(searched)
            compute = {"runtime": model.backbone.runtime, "precision": model.backbone.precision_name,
                       "int8_cosine": model.backbone.int8_cosine}
        except InspectorError as exc:
            problems = [str(exc)]
    calibration, note = (None, "") if problems else load_calibration(project, record)
    return ProjectInfo(record, problems, calibration, note, index, lists, compute, read_export(project))


def model_notice(model: Model) -> str:
    """What the line's console must say of a model it starts (or goes on) inspecting with, or "": its parts get
    no verdict (not calibrated, a calibration it cannot use), or its calibration carries a warning."""
    if model.calibration is None:
        return (f"note: {model.calibration_note or 'not calibrated'}: parts get no verdict (never OK); "
                "run 'inspector calibrate'")
    if model.calibration.warning:
        return f"WARNING: its calibration is not to be trusted as it stands: {model.calibration.warning}"
    return ""
