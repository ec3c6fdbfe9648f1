"""The use cases of one inspection station on one project, once, for every client.

The window, `inspector` (fit, calibrate, infer, versions, activate, audit), `inspector serve` and
`inspector run` call these and nothing else to teach, calibrate, switch model versions and inspect, so
they count, judge and record the same way:

- teach / add: a new model version; it goes live at once only when the active version gives no verdicts
  (otherwise it is staged and the calibrated version keeps inspecting until the new one is calibrated);
- calibrate: the verdict rule's own FAR / FRR (score and minimum area), warnings, a new version that is
  activated unless asked not to;
- activate: switch to any kept version (a rollback is the same call);
- inspect: one typed Outcome per image (one bad image never fails its neighbours), each a history row
  with the model version and part id;
- review: a reviewer's mark on a history row; teach back the false rejects.

Every change that alters verdicts is one audit row: who (the OS user, or the service token's name), what,
old and new values, an optional note.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, NamedTuple, Optional, Sequence


from inference import (
    Calibration,
    CalibrationSamples,
    CancelToken,
    Engine,
    EngineConfig,
    FitResult,
    ImageError,
    InferenceResult,
    error_result,
    heatmap_thumbnail_png,
    InspectorError,
    Model,
    ProgressFn,
    ProjectError,
    Verdict,
    VersionInfo,
    activate_version,
    active_version,
    append_audit,
    engine_for,
    export_model,
    is_export,
    list_versions,
    model_stamp,
    os_user,
    read_audit,
    read_record,
    sha256_file,
    Zone,
    check_zones_over_roi,
    zones_from_list,
)

from .history import History, HistoryError, default_path
from .masters import Masters
from .outcome import ErrorCode, Outcome
from .review import MarkedImages, marked_images


class KeptLimits(NamedTuple):
    """The acceptance limits a calibration keeps unless given (Station.kept_limits); None: the config's."""

    min_area: Optional[float]
    zones: tuple
    min_length: Optional[float]
    # Not a limit but the OK-only threshold's percentile, kept alike: a recalibration with new OK images is
    # calibrated as the one before was, not with the config's value.
    score_percentile: Optional[float] = None


@dataclass
class CalibrateResult:
    calibration: Calibration
    model: Model  # the calibrated model (its new version)
    version: str
    active: bool

    def to_dict(self) -> dict:
        return {**self.calibration.to_dict(), **self.calibration.rate_bounds(),
                "evidence": self.calibration.errors.evidence, "version": self.version, "active": self.active}


class Station:
    """One project's use cases. Thread-safe for inspection; the engine runs one fit or calibration at a time."""

    def __init__(self, project: str | Path, engine: Optional[Engine] = None, *, config: Optional[EngineConfig] = None,
                 who: Optional[str] = None, history: Optional[History] = None, record: bool = True,
                 history_optional: bool = False, masters: Optional[Masters] = None):
        """`history_optional`: a history that cannot be written (read-only, a folder in its way) leaves the
        outcome's `record_error` set instead of failing the inspection: for bench checks (the window), never
        for the line, where a result owed to the history is never dropped silently. `masters`: the line's master
        parts (station.masters): a line inspection of one is a check of the station, recorded as such."""
        self.project = Path(project)
        # An exported folder inspects with its own network (inference.engine_for), whatever engine came in.
        self._given, self._config = engine, config
        self._export = is_export(self.project)
        self._engine = engine_for(self.project, config, shared=engine)
        self.who = who or os_user()
        self.record = record  # write a history row for every inspection
        self.history_optional = history_optional
        self.masters = masters
        self._history = history
        self._own_history = False
        self._model: Optional[Model] = None
        self._stamp: Optional[tuple] = None  # model_stamp of the loaded model's folder
        self._lock = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        """The engine for what the folder holds now. A project replaced by an export under a running service or
        line (or an export by a project) gets the right one at its next use, not the one chosen at the start."""
        export = is_export(self.project)
        if export != self._export:
            self._export, self._engine = export, engine_for(self.project, self._config, shared=self._given)
        return self._engine

    @property
    def history(self) -> History:
        """The project's inspection history (PROJECT/history.sqlite unless one was handed in)."""
        if self._history is None:
            self._history = History(default_path(self.project))
            self._own_history = True
        return self._history

    def close(self) -> None:
        if self._own_history and self._history is not None:
            self._history.close()
            self._history = None

    def __enter__(self) -> "Station":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _audit(self, action: str, note: str = "", who: Optional[str] = None, **values) -> dict:
        return append_audit(self.project, {"who": who or self.who, "action": action, **values, "note": note or ""})

    def _active_record(self):
        try:
            return read_record(self.project)
        except ProjectError:
            return None

    # -- models and versions ----------------------------------------------------------------------------------
    def model(self, version: Optional[str] = None) -> Model:
        """The active model (or `version`), loaded once and again only when another version became active."""
        if version is not None:
            return self.engine.load(self.project, version)
        with self._lock:
            # Loaded again when another version became active, or the files changed otherwise (an exported
            # folder exported again in place keeps its v1); taken before the load, so a change made during it
            # is loaded next time.
            active, stamp = active_version(self.project), model_stamp(self.project)
            if self._model is None or self._model.version != active or active is None or stamp != self._stamp:
                self._model, self._stamp = self.engine.load(self.project), stamp
            return self._model

    def versions(self) -> list[VersionInfo]:
        return list_versions(self.project)

    def activate(self, version: str, note: str = "", who: Optional[str] = None) -> VersionInfo:
        """Make `version` the active one: what inspects from the next part on. A rollback is the same. `who`
        (here and in every change below): who the audit trail names, when not the station's own user (a service
        names each request's token)."""
        before = activate_version(self.project, version, keep=self.engine.config.versions_kept)
        info = next(v for v in self.versions() if v.version == version)
        if before != version:
            kind = "rollback" if before and _number(version) < _number(before) else "activate"
            self._audit(kind, note, who, version=version, old={"version": before},
                        new={"version": version, "calibration": info.calibration})
        with self._lock:
            self._model = None
        return info

    def audit(self) -> list[dict]:
        return read_audit(self.project)

    def export(self, out: str | Path) -> dict:
        """The active model as a new folder that a PC with the edge install (OpenVINO, no torch) inspects with
        (`inspector infer OUT IMAGES`): export.json's content."""
        return export_model(self.engine, self.project, out)

    # -- teach ------------------------------------------------------------------------------------------------
    def teach(self, ok_images: Sequence, *, roi=None, mm_per_px: Optional[float] = None, ignore: Sequence = (),
              locate_box=None, config: Optional[EngineConfig] = None, progress: Optional[ProgressFn] = None,
              cancel: Optional[CancelToken] = None, note: str = "", activate: Optional[bool] = None,
              who: Optional[str] = None) -> FitResult:
        """A new model from OK images, as a new version (see the module docstring for when it goes live;
        `activate` True makes it active at once, False keeps it staged)."""
        before = self._active_record()
        result = self.engine.fit(self.project, _located(ok_images), roi=roi, mm_per_px=mm_per_px,
                                 progress=progress, cancel=cancel, config=config, ignore=ignore, locate_box=locate_box,
                                 origin={"who": who or self.who, "note": note}, activate=activate)
        self._audit("fit", note, who, version=result.version, active=result.active,
                    old=_geometry(before), new={**_geometry(result.record), "images": result.n_images})
        return result

    def add(self, ok_images: Sequence, *, version: Optional[str] = None, config: Optional[EngineConfig] = None,
            progress: Optional[ProgressFn] = None, cancel: Optional[CancelToken] = None, note: str = "",
            activate: Optional[bool] = None, who: Optional[str] = None) -> FitResult:
        """More OK images taught into the active model (or `version`), as a new version."""
        before = self._active_record()
        result = self.engine.add(self.project, _located(ok_images), progress=progress, cancel=cancel, config=config,
                                 version=version, origin={"who": who or self.who, "note": note}, activate=activate)
        self._audit("add", note, who, version=result.version, active=result.active,
                    old={"images": before.n_images if before else None},
                    new={"images": result.n_images, "added": len(ok_images)})
        return result

    # -- calibrate --------------------------------------------------------------------------------------------
    def calibration_samples(self, ok_images: Sequence, ng_images: Sequence = (), *, version: Optional[str] = None,
                            progress: Optional[ProgressFn] = None,
                            cancel: Optional[CancelToken] = None) -> tuple[Model, CalibrationSamples]:
        """(the model calibrated, its scored calibration images): version `version`, else the one to calibrate
        (`version_to_calibrate`)."""
        model = self.model(version or self.version_to_calibrate())  # None: the active model, as it inspects
        return model, self.engine.calibration_samples(model, _located(ok_images), _located(ng_images), progress,
                                                      cancel)

    def calibration_from(self, model: Model, samples: CalibrationSamples, *, score_percentile: Optional[float] = None,
                         min_area: Optional[float] = None, zones: Optional[Sequence[Zone]] = None,
                         min_length: Optional[float] = None) -> Calibration:
        """The calibration the model's method picks (the engine's `calibration_method`), counted by the verdict
        rule: the dialog's live figures and the CLI's saved ones are this one computation. The acceptance limits
        (`min_area`, `zones`, `min_length`) given as None are kept from the calibration before (kept_limits: a
        recalibration never changes a limit unasked), the config's for a first one; zones () calibrates without
        any. So is `score_percentile`."""
        kept = self.kept_limits(model)
        return self.engine.calibration_from(model, samples,
                                            kept.score_percentile if score_percentile is None else score_percentile,
                                            kept.min_area if min_area is None else min_area,
                                            zones=kept.zones if zones is None else tuple(zones),
                                            min_length=kept.min_length if min_length is None else min_length)

    def kept_limits(self, model: Model) -> KeptLimits:
        """The acceptance limits a calibration keeps where none are given: the model's own calibration's, else the
        active version's (a refit, staged, is calibrated with the limits the line inspects with); none (the
        config's) without either."""
        if model.calibration is not None:
            cal = model.calibration
            return KeptLimits(cal.min_area, cal.zone_list, cal.min_length, cal.score_percentile)
        active = next((v for v in self.versions() if v.active and v.calibration), None)
        if active is None:
            return KeptLimits(None, (), None)
        return KeptLimits(active.calibration.get("min_area"), zones_from_list(active.calibration.get("zones")),
                          active.calibration.get("min_length", 0.0), active.calibration.get("score_percentile"))

    def calibrate(self, ok_images: Sequence, ng_images: Sequence = (), *, version: Optional[str] = None,
                  score_percentile: Optional[float] = None, min_area: Optional[float] = None,
                  zones: Optional[Sequence[Zone]] = None, min_length: Optional[float] = None, activate: bool = True,
                  progress: Optional[ProgressFn] = None, cancel: Optional[CancelToken] = None,
                  note: str = "", who: Optional[str] = None) -> CalibrateResult:
        model = self.model(version or self.version_to_calibrate())
        check_zones_over_roi(zones or (), model.roi)  # before the images are scored: a misdrawn zone is said at once
        samples = self.engine.calibration_samples(model, _located(ok_images), _located(ng_images), progress, cancel)
        cal = self.calibration_from(model, samples, score_percentile=score_percentile, min_area=min_area, zones=zones,
                                    min_length=min_length)
        return self.save_calibration(model, cal, activate=activate, note=note, who=who)

    def save_calibration(self, model: Model, calibration: Calibration, *, activate: bool = True,
                         note: str = "", who: Optional[str] = None) -> CalibrateResult:
        """Seal `calibration` (computed, or a threshold a person dragged) into a new version of `model`."""
        before = next((v for v in self.versions() if v.active), None)
        saved = self.engine.save_calibration(model, calibration, activate=activate,
                                             origin={"who": who or self.who, "note": note})
        cal = saved.calibration
        self._audit("calibrate", note, who, version=saved.version, based_on=model.version, active=activate,
                    old=dict(before.calibration or {}, version=before.version) if before is not None else None,
                    new=_calibration_values(cal))
        with self._lock:
            self._model = None
        return CalibrateResult(cal, saved, saved.version, activate)

    def version_to_calibrate(self) -> Optional[str]:
        """A model taught after the active version and not calibrated yet (a staged fit or add), else None
        (the active version): what `calibrate` calibrates when no version is named."""
        versions = self.versions()
        active = next((v for v in versions if v.active), None)
        newest = versions[-1] if versions else None
        if newest is not None and active is not None and newest.number > active.number \
                and newest.action in ("fit", "add") and newest.calibration is None:
            return newest.version
        return None

    # -- inspect ----------------------------------------------------------------------------------------------
    def inspect(self, images: Sequence, *, part_ids: Optional[Sequence[Optional[str]]] = None,
                names: Optional[Sequence[str]] = None, source: str = "api", purpose: str = "line",
                record: Optional[bool] = None, model: Optional[Model] = None, threshold: Optional[float] = None,
                progress: Optional[ProgressFn] = None, cancel: Optional[CancelToken] = None,
                rows: Optional[Sequence[dict]] = None,
                row_for: Optional[Callable[[int, InferenceResult], dict]] = None) -> Iterator[Outcome]:
        """One Outcome per image, in order, as each batch is done (flat memory over thousands of images).

        `model`: a model in hand (e.g. the window's freshly fitted one); default: the active version.
        `rows`: per image, extra history columns (source, sha256, key, latency, archive_path); `row_for(i,
        result)` gives them once the image is scored (e.g. the latency until now). A recorded row keeps a heatmap
        thumbnail and, for an image file, its absolute path and sha256 unless given. A row's
        `in_transaction(db, row_id, outcome)` runs inside the history row's transaction (History.record's `also`).
        """
        model = model or self.model()
        results = self.engine.iter_score(model, images, progress=progress, cancel=cancel, threshold=threshold,
                                         names=names)
        for i, result in enumerate(results):
            row = dict(rows[i]) if rows else {}
            if _is_file(images[i]):
                if names is None and "file_name" not in row:  # shown as typed, recorded where it is (_located)
                    row["file_name"] = str(_located([images[i]])[0])
                if "sha256" not in row:  # what was inspected: a file overwritten since is not shown or taught for it
                    row["sha256"] = _file_digest(images[i])
            if row_for is not None:
                row.update(row_for(i, result))
            yield self.finish(model, result, part_id=part_ids[i] if part_ids else None, source=source,
                              purpose=purpose, record=record, row=row)

    def finish(self, model: Model, result, *, part_id: Optional[str] = None, source: str = "api",
               purpose: str = "line", record: Optional[bool] = None, row: Optional[dict] = None,
               cause: Optional[ErrorCode] = None) -> Outcome:
        """An engine result as the station's Outcome, recorded in the history (unless record is False). `cause`: an
        ERROR result's, where the caller made it one (a repeated image)."""
        outcome = Outcome.of(result, model.version, model.model_id, part_id)
        outcome.cause = cause
        purpose, outcome.expected = self._master(purpose, part_id)
        if record if record is not None else self.record:
            row = _with_hook(row, outcome)
            if "heatmap" not in row:  # the History view's map, whichever client recorded
                row.update(thumbnail_row(result))
            t0 = time.perf_counter()
            try:
                outcome.row_id = self.history.record_result(
                    result, source=row.pop("source", source), file_name=row.pop("file_name", result.name),
                    model_id=model.model_id, model_version=model.version, part_id=part_id, purpose=purpose,
                    expected=outcome.expected, error_code=_cause_of(outcome), **row)
            except HistoryError as exc:
                if not self.history_optional:
                    raise
                outcome.record_error = str(exc)
            outcome.timings["record"] = time.perf_counter() - t0
        return outcome

    def error(self, name: str, message: str, *, part_id: Optional[str] = None, source: str = "api",
              purpose: str = "line", record: Optional[bool] = None, row: Optional[dict] = None,
              no_model: bool = False, cause: ErrorCode = ErrorCode.IMAGE_INVALID) -> Outcome:
        """An image that never reached the engine (unreadable upload, a file that stayed incomplete), as an
        ERROR outcome with its history row, which names the station's model; `no_model`: none, as when the
        model's files could not be loaded for this part."""
        model = None if no_model else self._model
        result = error_result(name, message)
        version, model_id = (model.version, model.model_id) if model is not None else (None, None)
        outcome = Outcome.of(result, version, model_id, part_id)
        outcome.result, outcome.cause = None, cause
        purpose, outcome.expected = self._master(purpose, part_id)
        if record if record is not None else self.record:
            row = _with_hook(row, outcome)
            try:
                outcome.row_id = self.history.record(
                    source=row.pop("source", source), file_name=row.pop("file_name", name), verdict="ERROR",
                    reason=message, error=message, model_id=model_id, model_version=version, part_id=part_id,
                    purpose=purpose, expected=outcome.expected, error_code=_cause_of(outcome), **row)
            except HistoryError as exc:
                if not self.history_optional:
                    raise
                outcome.record_error = str(exc)
        return outcome

    def _master(self, purpose: str, part_id: Optional[str]) -> tuple[str, Optional[Verdict]]:
        """(the row's purpose, the verdict it must get): a line inspection of a master part is a master check."""
        expected = self.masters.expected(part_id) if self.masters is not None and purpose == "line" else None
        return ("master", expected) if expected is not None else (purpose, None)

    # -- review -----------------------------------------------------------------------------------------------
    def mark(self, row_id: int, label: Optional[str], who: Optional[str] = None) -> None:
        """A reviewer's mark on a history row: false_reject, false_accept, or None to clear; the history's marks
        log keeps who (default: the station's user) and when."""
        self.history.mark(row_id, label, who or self.who)

    def marked(self, label: str, *, untaught: bool = False, version: Optional[str] = None) -> MarkedImages:
        """The images of every history row marked `label` (false_reject, false_accept) (review.marked_images);
        `untaught`: less those the active model (or `version`) taught already, read from its manifest alone: a
        model taught them back, and calibrated with them, would be judged on parts it has seen."""
        taught = read_record(self.project, version).taught_digests if untaught else ()
        return marked_images(self.history, label, taught)

    def teach_back(self, row_ids: Sequence[int], *, progress: Optional[ProgressFn] = None,
                   cancel: Optional[CancelToken] = None, note: str = "") -> FitResult:
        """Teach the images of history rows (false rejects a reviewer marked) into the active model."""
        paths = []
        for row_id in row_ids:
            row = self.history.get(row_id)
            if row is None:
                raise InspectorError(f"no inspection with id {row_id} in {self.history.path}")
            path = row.image_path()
            if path is None:
                raise ImageError(f"the image of inspection {row_id} is no longer at "
                                 f"{row.archive_path or Path(row.source) / row.file_name}: teach it from a copy")
            paths.append(str(path))
        return self.add(paths, progress=progress, cancel=cancel, note=note or f"taught back rows {list(row_ids)}")


def thumbnail_row(result: InferenceResult) -> dict:
    """A history row's heatmap thumbnail ({} for a result without a map): made by `finish` unless a client made it
    already, e.g. the service before it takes its lock (a 5 MP map's takes a few ms)."""
    return {"heatmap": heatmap_thumbnail_png(result)} if result.error is None and result.score is not None else {}


def _is_file(image) -> bool:
    return isinstance(image, (str, os.PathLike))


def _file_digest(path) -> Optional[str]:
    try:
        return sha256_file(path)
    except OSError:  # unreadable: its ERROR row says why
        return None


def _located(images: Sequence) -> list:
    """Image files by absolute path, pixels as they are. A model's taught names and a history row's file name are
    read later from another working directory (the window started from a desktop, the service's own): a path
    relative to where a command was typed would find nothing there (a marked false reject could not be shown or
    taught back, the nearest taught patch's image not opened)."""
    return [Path(p).absolute() if _is_file(p) else p for p in images]


def _with_hook(row: Optional[dict], outcome: Outcome) -> dict:
    """The history columns, with a row's `in_transaction(db, row_id, outcome)` bound to its outcome."""
    row = dict(row or {})
    hook = row.pop("in_transaction", None)
    if hook is not None:
        row["also"] = lambda db, row_id: hook(db, row_id, outcome)
    return row


def _cause_of(outcome: Outcome) -> Optional[int]:
    """The history's error_code: an ERROR's cause, as the PLC and the receivers got it; None for any other verdict."""
    return int(outcome.error_code) if outcome.verdict is Verdict.ERROR else None


def _number(version: str) -> int:
    return int(version[1:])


def _geometry(record) -> dict:
    if record is None:
        return {}
    return {"roi": record.roi, "ignore": list(record.ignore), "mm_per_px": record.mm_per_px,
            "images": record.n_images}


def _calibration_values(cal: Optional[Calibration]) -> Optional[dict]:
    if cal is None:
        return None
    return {"threshold": cal.threshold, "min_area": cal.min_area, "min_area_unit": cal.min_area_unit,
            "zones": cal.zones, "min_length": cal.min_length, "method": cal.method,
            "score_percentile": cal.score_percentile, "far": cal.far, "frr": cal.frr, "margin": cal.margin}


