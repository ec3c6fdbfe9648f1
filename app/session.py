"""The running project: the engine, the document, the loaded model and the job runner.

Each method starts ONE station call (station.Station: the use cases every client
shares) on a job with an immutable snapshot of the document (tuples, frozen ROI
and config) and calls back on the GUI thread. The window's inspections are
history rows like every client's, marked as bench checks.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Optional, Sequence

from PySide6.QtCore import QObject, Signal

import inference

from station import Station

from .access_guard import AccessGuard
from .document import ProjectDocument
from .jobs import JobRunner
from .messages import describe

log = logging.getLogger(__name__)
Callback = Optional[Callable]


class Session(QObject):
    modelChanged = Signal(object)  # inference.Model or None
    modelNote = Signal(str)  # why there is no usable model ("" when there is one)
    failed = Signal(str, object)  # title, exception: the window shows it as a dialog

    def __init__(self, engine: inference.Engine, doc: ProjectDocument, runner: JobRunner,
                 parent: QObject | None = None, access: Optional[AccessGuard] = None):
        super().__init__(parent)
        self.engine, self.doc, self.runner = engine, doc, runner
        # Who works at the window: their name goes into the audit trail, and what they may not do is refused here,
        # where every use case starts, whatever button asked for it.
        self.access = access or AccessGuard(None, self)
        self.model: Optional[inference.Model] = None
        self._station: Optional[Station] = None

    @property
    def station(self) -> Station:
        """The use cases of the open project (one Station per project folder)."""
        folder = self._folder()
        if self._station is None or self._station.project != folder:
            if self._station is not None:
                self._station.close()
            # The window's inspections are bench checks: a history that cannot be written is said in the
            # History view, never fatal to inspecting.
            self._station = Station(folder, self.engine, history_optional=True)
        return self._station

    def _refused(self, title: str, permission: str) -> bool:
        """True, with the window's message saying who may, when the one at the window may not do this."""
        if self.access.may(permission):
            return False
        self.failed.emit(title, inference.InspectorError(self.access.state.refusal(permission)))
        return True

    # -- helpers ---------------------------------------------------------------------------
    def _prepare_engine(self) -> None:
        # Machine settings (GPU on/off, batch size) follow the project's settings; only
        # touched while no job runs, so no worker sees the change half-way.
        if not self.runner.busy:
            self.engine.config = self.doc.config

    def _start(self, name: str, title: str, work, on_success: Callable, on_cancel: Callback = None,
               on_failure: Callback = None):
        self._prepare_engine()

        def failure(exc):
            if on_failure is not None:
                on_failure(exc)
            self.failed.emit(title, exc)

        return self.runner.start(name, work, on_success, failure, on_cancel)

    def set_model(self, model: Optional[inference.Model], note: str = "") -> None:
        self.model = model
        self.modelChanged.emit(model)
        self.modelNote.emit(note)

    def _folder(self) -> Path:
        if self.doc.folder is None:
            raise inference.ProjectError("save the project to a folder first (Project > Save As)")
        return self.doc.folder

    # -- model -----------------------------------------------------------------------------
    def load_model(self, on_done: Callback = None):
        folder = self.doc.folder
        if folder is None or not inference.has_model(folder):
            self.set_model(None, "no model yet: teach OK images and press Fit")
            if on_done:
                on_done(None)
            return None
        engine = self.station.engine  # an exported folder's own (its IR)

        def done(model):
            self.set_model(model)
            if on_done:
                on_done(model)

        def failed(exc):
            self.set_model(None, f"the model cannot be used: {describe(exc)}")

        return self._start("loading the model", "Cannot load the model",
                           lambda progress, cancel: engine.load(folder), done, on_failure=failed)

    def fit(self, on_done: Callback = None, on_cancel: Callback = None, on_failure: Callback = None,
            on_loaded: Callback = None, note: str = ""):
        """Fit in one job; `on_done` gets the FitResult, then `on_loaded` the model it made, now the session's."""
        if self._refused("Cannot fit", "teach"):
            return None
        try:
            self._folder()  # a project folder is needed first
        except inference.InspectorError as exc:
            self.failed.emit("Cannot fit", exc)
            return None
        images, roi, mm, config = tuple(self.doc.ok_images), self.doc.roi, self.doc.mm_per_px, self.doc.config
        ignore = tuple(self.doc.ignore)
        locate_box = self.doc.locate_box if config.align != "none" else None
        station, who = self.station, self.access.who  # who started it, though they sign out before it ends

        def work(progress, cancel):
            return station.teach(images, roi=roi, mm_per_px=mm, progress=progress, cancel=cancel, config=config,
                                 ignore=ignore, locate_box=locate_box, note=note, who=who)

        return self._start("fitting the model", "Fit failed", work,
                           lambda result: self._fitted(result, on_done, on_loaded), on_cancel, on_failure)

    def add(self, images: Sequence[str], on_done: Callback = None, on_cancel: Callback = None,
            on_failure: Callback = None, note: str = ""):
        if self._refused("Cannot add to the model", "teach"):
            return None
        try:
            self._folder()  # a project folder is needed first
        except inference.InspectorError as exc:
            self.failed.emit("Cannot add to the model", exc)
            return None
        images, config = tuple(images), self.doc.config
        station, who = self.station, self.access.who
        version = self.model.version if self.model is not None else None

        def work(progress, cancel):
            # The project's current settings: if they changed what features look like, the engine refuses.
            return station.add(images, version=version, progress=progress, cancel=cancel, config=config, note=note,
                               who=who)

        return self._start("adding images to the model", "Adding to the model failed", work,
                           lambda result: self._fitted(result, on_done), on_cancel, on_failure)

    def _fitted(self, result: inference.FitResult, on_done: Callback, on_loaded: Callback = None) -> None:
        # The fit's own job hands over the ready model (built by the engine from memory, equal to a load):
        # no second job reads the project back. The worker keeps no reference to it once it is sent.
        self.set_model(result.model)
        if on_done:
            on_done(result)
        if on_loaded:
            on_loaded(result.model)

    # -- inspection ----------------------------------------------------------------------------
    def infer(self, path: str, on_done: Callable, on_failure: Callback = None, pixels=None):
        """Inspects one image; calls back with (rgb, result), the pixels the result belongs to.

        The worker decodes the file, once, and sends the pixels with the result for the view. `pixels`: the
        image already decoded for display (not decoded again); it is made read-only, as both threads see it.
        """
        model = self.model
        if model is None:
            self.failed.emit("Cannot inspect", inference.InspectorError("no model loaded: fit the model first"))
            return None
        station = self.station
        if pixels is not None:
            pixels = pixels.view()
            pixels.flags.writeable = False

        def work(progress, cancel):
            try:
                rgb = pixels if pixels is not None else inference.as_rgb8(path)
            except inference.InspectorError as exc:  # unreadable: an ERROR row, then the error as before
                station.error(Path(path).name, str(exc), source=str(Path(path).absolute().parent), purpose="bench")
                raise
            outcome = next(station.inspect([rgb], names=[Path(path).name], model=model,
                                           source=str(Path(path).absolute().parent), purpose="bench",
                                           rows=[{"sha256": _sha256(path)}]))
            if outcome.verdict == "ERROR":
                raise inference.ImageError(outcome.reason)
            return rgb, outcome.result

        return self._start("inspecting the image", "Inspection failed", work, lambda out: on_done(*out),
                           on_failure=on_failure)

    def inspect_many(self, paths: Sequence[str], on_done: Callable, on_cancel: Callback = None):
        """Inspect images; calls back with one InferenceResult, or an error message, per path (each image has
        its own outcome: one unreadable file never fails the others)."""
        model, paths = self.model, tuple(paths)
        if model is None:
            self.failed.emit("Inspection failed", inference.InspectorError("no model loaded: fit the model first"))
            return None
        station = self.station

        def work(progress, cancel):
            outcomes = station.inspect(paths, names=[Path(p).name for p in paths], model=model, purpose="bench",
                                       rows=[{"source": str(Path(p).absolute().parent)} for p in paths],
                                       progress=progress, cancel=cancel)
            return [o.reason if o.verdict == "ERROR" else o.result for o in outcomes]

        return self._start("inspecting the images", "Inspection failed", work, on_done, on_cancel)

    def export(self, out: str, on_done: Callable):
        """Export the project's model into the new or empty folder `out`, for a PC with the edge install."""
        if self._refused("Cannot export the model", "backup"):
            return None
        try:
            station = self.station
        except inference.InspectorError as exc:
            self.failed.emit("Cannot export the model", exc)
            return None
        return self._start("exporting the model", "Cannot export the model",
                           lambda progress, cancel: station.export(out), on_done)

    def backup(self, dest: str, on_done: Callable):
        """Back the saved project up into the .zip file `dest`: every version, the audit trail, the history."""
        from station.backup import back_up

        if self._refused("Cannot back up the project", "backup"):
            return None
        try:
            folder = self._folder()
        except inference.InspectorError as exc:
            self.failed.emit("Cannot back up the project", exc)
            return None
        return self._start("backing up the project", "Cannot back up the project",
                           lambda progress, cancel: back_up(folder, dest), on_done)

    def restore(self, backup: str, target: str, on_done: Callable):
        """Restore the backup `backup` as the new project folder `target`, every file checked."""
        from station.backup import restore

        if self._refused("Cannot restore the project", "teach"):
            return None
        who = self.access.who
        return self._start("restoring the project", "Cannot restore the project",
                           lambda progress, cancel: restore(backup, target, who=who), on_done)

    def activate(self, version: str, note: str, on_done: Callback = None):
        """Make `version` the project's active one (audited); the window then works on it."""
        if self._refused("Cannot activate", "teach"):
            return None
        try:
            station, who = self.station, self.access.who
        except inference.InspectorError as exc:
            self.failed.emit("Cannot activate", exc)
            return None

        def work(progress, cancel):
            station.activate(version, note=note, who=who)
            return station.model()

        def done(model):
            self.set_model(model)
            if on_done:
                on_done(model)

        return self._start("activating a model version", "Cannot activate", work, done)

    def calibration_samples(self, ok: Sequence[str], ng: Sequence[str], on_done: Callable,
                            on_cancel: Callback = None):
        """Score calibration images with the window's model; calls back with (model, CalibrationSamples)."""
        model, ok, ng = self.model, tuple(ok), tuple(ng)
        if model is None:
            self.failed.emit("Scoring failed", inference.InspectorError("no model loaded: fit the model first"))
            return None
        station = self.station

        def work(progress, cancel):
            progress("scoring", 0, len(ok) + len(ng))  # the count from the start, not after the first batch
            return station.calibration_samples(ok, ng, version=model.version, progress=progress, cancel=cancel)

        return self._start("scoring the calibration images", "Scoring failed", work, lambda out: on_done(*out),
                           on_cancel)

    def calibrate(self, ok: Sequence[str], ng: Sequence[str], on_done: Callback = None):
        """Calibrate the window's model with the engine's method and save it as a new, active version."""
        if self._refused("Calibration failed", "teach"):
            return None
        model, ok, ng = self.model, tuple(ok), tuple(ng)
        if model is None:
            self.failed.emit("Calibration failed", inference.InspectorError("no model loaded: fit the model first"))
            return None
        station, who = self.station, self.access.who

        def work(progress, cancel):
            return station.calibrate(ok, ng, version=model.version, progress=progress, cancel=cancel, who=who).model

        def done(saved):
            self.set_model(saved)
            if on_done:
                on_done(saved)

        return self._start("calibrating", "Calibration failed", work, done)

    def save_calibration(self, calibration: inference.Calibration, on_done: Callback = None,
                         model: Optional[inference.Model] = None, note: str = ""):
        """Save `calibration` for `model` (default: the window's) as a new version, activated."""
        if self._refused("Cannot save the calibration", "teach"):
            return None
        model = model or self.model
        if model is None:
            self.failed.emit("Cannot save the calibration", inference.InspectorError("no model loaded"))
            return None
        station, who = self.station, self.access.who

        def work(progress, cancel):
            # The station returns a new Model; the GUI's model is never changed under it.
            return station.save_calibration(model, calibration, note=note, who=who).model

        def done(saved):
            self.set_model(saved)
            if on_done:
                on_done(saved)

        return self._start("saving the calibration", "Cannot save the calibration", work, done)


def _sha256(path) -> Optional[str]:
    """The file's sha256, as the station records a file it is handed (the pixels here come decoded): how a taught
    image is known when its row is marked."""
    try:
        return inference.sha256_file(path)
    except OSError:
        return None
