"""Engine facade: fit / add / load / infer / score_many / calibrate, one job at a time."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Optional, Sequence

import numpy as np

from . import brightness, image_check, int8_model, knn, part_mirror, placement, precision_gate, project, taught_samples
from .calibration import Calibration, area_unit, usable_with
from .calibration_warnings import calibration_warnings, capture_shift_warning, join_warnings
from .calibration_samples import CalibrationSamples, calibration_of
from .config import EngineConfig, config_keys
from .fitted import FitResult, Model
from .errors import Cancelled, ConfigError, InspectorError, ProjectError, missing_package
from . import foreground
from .features import coreset_ratio, embed_taught
from .heap import release_free_memory
from .model_checks import index_problem
from .model_record import ModelRecord
from .preprocess import ImageInput, image_digest, image_name
from .progress import CancelToken, ProgressFn, check, report
from .roi import Roi, roi_from_dict, roi_to_dict
from .inspection import score_prepared
from .scoring import InferenceResult
from .zones import Zone

if TYPE_CHECKING:  # torch and timm load with the first backbone: an exported model inspects without them
    from .backbone import Backbone

# What a backbone is built from: the settings that shape features, the weights file, and how it runs.
_BACKBONE_KEYS = (*config_keys("feature", "weights"), "use_gpu", "precision", "compile_backbone", "runtime",
                  "seed")
# Taught images scored by their own model at fit (a few ms each): the scores of the teaching capture.
TAUGHT_REFERENCE_IMAGES = 8


class Engine:
    def __init__(self, config: Optional[EngineConfig] = None):
        self.config = config or EngineConfig.load()
        self._backbones: dict[tuple, Backbone] = {}
        self._int8: dict[tuple, Backbone] = {}  # precision int8: (backbone key, calibration digest) -> its twin
        self._backbone_lock = threading.Lock()
        self._lock = threading.Lock()

    # -- backbones ------------------------------------------------------------
    def backbone(self, config: EngineConfig) -> Backbone:
        key = self._backbone_key(config)
        # One build at a time: two threads (the service's fit and inference) must not build the same backbone
        # twice, nor interleave torch.manual_seed and give a random backbone other weights.
        with self._backbone_lock:
            if key not in self._backbones:
                at = _BACKBONE_KEYS.index("precision")
                twin = next((b for k, b in self._backbones.items() if k[:at] + k[at + 1:] == key[:at] + key[at + 1:]),
                            None)
                if twin is not None:  # the same network in another precision: no second build
                    self._backbones[key] = twin.with_precision(config.precision)
                else:
                    import torch

                    Backbone = _full_install().Backbone

                    torch.manual_seed(config.seed)  # a random backbone must be the same on every load
                    self._backbones[key] = Backbone(config)
            return self._backbones[key]

    def _backbone_key(self, config: EngineConfig) -> tuple:
        return tuple(repr(getattr(config, k)) for k in _BACKBONE_KEYS)

    def model_backbone(self, config: EngineConfig, inputs=None) -> Backbone:
        """The backbone a model inspects with: the shared one, or with precision int8 its twin quantised on
        the model's calibration images `inputs` (int8_model), built once per engine and images."""
        backbone = self.backbone(config)
        if config.precision != int8_model.INT8:
            return backbone
        if inputs is None:
            raise InspectorError("precision int8 needs the taught OK images to calibrate the quantisation")
        key = (self._backbone_key(config), project.sha256_bytes(np.ascontiguousarray(inputs).tobytes()))
        with self._backbone_lock:
            if key not in self._int8:
                self._int8[key] = backbone.quantized(inputs)
            return self._int8[key]

    def _run_alone(self):
        if not self._lock.acquire(blocking=False):
            raise InspectorError("the engine is busy with another job; wait for it or cancel it")
        return self._lock

    # -- fit ------------------------------------------------------------------
    def fit(
        self,
        folder: str | Path,
        ok_images: Sequence[ImageInput],
        roi: Optional[Roi] = None,
        mm_per_px: Optional[float] = None,
        progress: Optional[ProgressFn] = None,
        cancel: Optional[CancelToken] = None,
        config: Optional[EngineConfig] = None,
        ignore: Sequence = (),
        locate_box: Optional[Sequence[int]] = None,
        activate: Optional[bool] = None,
        origin: Optional[dict] = None,
    ) -> FitResult:
        """Teach a new model from OK images; replaces the project's model only on success.

        `ignore`: regions (Rect, Circle, Polygon) left out of the memory bank, the scores and the regions.
        `locate_box` (x0, y0, x1, y1): where the part is looked for in the first OK image when the config aligns
        (default: the ROI's box grown by a margin). The model is saved as a new version: `activate` True / False
        / None (auto: active unless the active version gives verdicts); `origin` (who, note) goes into version.json.
        """
        lock = self._run_alone()
        try:
            with project.writing(Path(folder)):  # a second writer is refused now, not after minutes of work
                return self._fit(Path(folder), ok_images, roi, mm_per_px, config or self.config, None, progress,
                                 cancel, (tuple(ignore), locate_box), (activate, {"action": "fit", **(origin or {})}))
        finally:
            lock.release()

    def add(
        self,
        folder: str | Path,
        ok_images: Sequence[ImageInput],
        progress: Optional[ProgressFn] = None,
        cancel: Optional[CancelToken] = None,
        config: Optional[EngineConfig] = None,
        activate: Optional[bool] = None,
        origin: Optional[dict] = None,
        version: Optional[str] = None,
    ) -> FitResult:
        """Teach more OK images into an existing model without re-embedding the old ones.

        The model keeps the settings it was fitted with. `config`, when given, is what the caller means to use
        (e.g. the GUI's current settings): if its feature settings differ from the model's, adding would mix two
        kinds of features, so it is refused with a request to refit. `version`: the version to extend (default:
        the active one); the result is a new version (see fit for `activate` and `origin`).
        """
        lock = self._run_alone()
        try:
            with project.writing(Path(folder)):
                # The active model is what inspects: the project's top level (a named version: its own folder).
                base = version or project.active_version(Path(folder))
                stored = project.load_model(project.version_folder(Path(folder), version) if version else Path(folder))
                record = stored.record
                if config is not None:
                    record.check_extendable(config)
                # The same checks as load (model version, backbone, weights sha256, index): a model that
                # inspection refuses is never extended and stamped as current.
                config, _ = self._verified(stored, config)
                roi = roi_from_dict(record.roi)
                return self._fit(Path(folder), ok_images, roi, record.mm_per_px, config, stored, progress,
                                 cancel, placement.stored_geometry(record),
                                 (activate, {"action": "add", "based_on": base, **(origin or {})}))
        finally:
            lock.release()

    def _fit(self, folder, ok_images, roi, mm_per_px, config, previous, progress, cancel, geometry,
             saving) -> FitResult:
        fit_precision, resolve_auto = _full_install().fit_precision, _full_install().resolve_auto
        from . import fit_memory
        from .memory import PatchMemory, low_precision
        from .provenance import PROVENANCE_FILE, ProvenanceRecorder, read_provenance

        if not ok_images:
            raise InspectorError("no OK images given: teach at least one image of a good part")
        if mm_per_px is not None and not (mm_per_px > 0 and np.isfinite(mm_per_px)):
            raise InspectorError(f"mm per pixel must be a positive number, got {mm_per_px}")
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        config, backbone_note = resolve_auto(config)  # the manifest keeps the backbone `auto` picked
        if previous is not None and not backbone_note:  # add: the model keeps what `auto` chose at its fit
            backbone_note = previous.record.backbone.chosen
        whole_image = roi is None if previous is None else previous.record.roi_is_whole_image
        same_size = previous.record.same_size if previous is not None else None
        ignore, locate_box = geometry
        prepared, roi, locator, align_note = placement.prepare_teaching(folder, ok_images, roi, same_size, config,
                                                                        previous, locate_box)
        placement.check_ignore(roi, ignore)
        symmetry_note = (part_mirror.symmetry_advice(config, [p.crop.pixels for p in prepared])
                         if previous is None else "")
        # The image check's reference, and every taught image checked against it (add: the model's), before
        # lighting compensation would hide a taught image's dark or saturated capture.
        exposure = image_check.taught(prepared, roi, ignore, config.image_check,
                                      previous.record.exposure if previous is not None else None)
        # Lighting compensation: the levels are decided at fit from the taught crops; add keeps the model's.
        levels = (previous.record.brightness if previous is not None else
                  brightness.target(prepared, config.brightness, roi, ignore))
        prepared = brightness.compensate(prepared, levels, roi, ignore)
        report(progress, "loading", len(prepared), len(prepared))
        # precision int8 (the fit's or this machine's): the quantised twin must be possible (OpenVINO) before
        # minutes of embedding; it is calibrated and gated on the taught images before anything is saved.
        int8_config = None
        if int8_model.wanted(config, self.config):
            int8_config = config.replace(precision=int8_model.INT8)
            self.backbone(int8_config)
        backbone = self.backbone(config.replace(precision=fit_precision(config.precision, config.use_gpu)))
        timings["load"] = time.perf_counter() - t0

        t = time.perf_counter()
        masks = [placement.bank_mask(roi, ignore, p, backbone.token_shape) for p in prepared]
        # The coreset's bulk update in bf16 where native, never with precision fp32 (full precision everywhere):
        # decided once, for the memory check and the coreset alike.
        bulk_bf16 = config.precision != "fp32" and low_precision(backbone.device)
        fit_memory.check_fit(masks, config, backbone, bulk_bf16, len(previous.embeddings) if previous else 0)
        # The foreground is decided once, at fit, from the taught images; add keeps the model's.
        taught = embed_taught(backbone, prepared, masks, config,
                              None if previous is None else previous.record.foreground, progress, cancel,
                              max(TAUGHT_REFERENCE_IMAGES, precision_gate.GATE_IMAGES))
        memory = PatchMemory(previous.embeddings if previous is not None else None, dim=backbone.feature_dim)
        origins = ProvenanceRecorder(backbone.token_shape, len(memory), len(previous.record.images) if previous else 0,
                                     read_provenance(previous.folder, previous.record) if previous else None,
                                     config.augment_copies if config.augment else 0, config.augment and config.augment_flips)
        origins.add_images(prepared)
        for chunk, (image, copy, positions, transform) in zip(taught.features, taught.origins):
            memory.update(chunk)
            origins.record(image, copy, positions, transform)
        fg_record, reference = taught.foreground, taught.reference
        del taught
        # Does the low precision `auto` picks on this machine (bf16 on a CPU that has it) keep the features?
        # Decided once, here, and obeyed wherever the model is loaded with precision auto (precision_gate).
        precision_check = {}
        if int8_config is None:  # against the fit's own features of the first taught crops, embedded above
            precision_check = precision_gate.measure(backbone, self.backbone(config.replace(precision="auto")),
                                                     reference)
            if previous is not None:
                precision_check = precision_gate.combined(previous.record.precision_check, precision_check)
        timings["embedding"] = time.perf_counter() - t

        t = time.perf_counter()
        features = memory.features
        transform = knn.metric_transform(features, config.distance)
        space = knn.apply_transform(transform, features) if transform is not None else None
        idx = memory.build_coreset(coreset_ratio(config), backbone.device, progress, cancel, config.seed, space, bulk_bf16)
        del space  # a copy of the bank in the metric's space: not kept through the save
        timings["coreset"] = time.perf_counter() - t

        t = time.perf_counter()
        index = knn.build_index(features[np.sort(idx)], transform, config.index)
        coreset_blob = knn.serialize(index)
        timings["index"] = time.perf_counter() - t
        check(cancel)  # last chance: after this the new model is written as one unit

        t = time.perf_counter()
        images_meta = (list(previous.record.images) if previous is not None else []) + [
            {"name": p.name, "sha256": image_digest(img)} for p, img in zip(prepared, ok_images)
        ]
        ignore_json, align, extra_files = placement.geometry_record(ignore, locator, previous, prepared, align_note)
        extra_files[PROVENANCE_FILE] = origins.finish(np.sort(idx)).to_bytes()  # each bank row's taught image
        # The taught samples: int8 quantises on them, and a machine the fit could not check checks on them.
        earlier = taught_samples.stored(previous.folder, previous.record) if previous is not None else None
        samples = taught_samples.inputs([p.crop.pixels for p in prepared], config.input_size, earlier)
        extra_files[taught_samples.SAMPLES_FILE] = taught_samples.to_bytes(samples)
        if int8_config is not None:
            self.model_backbone(int8_config, samples)  # InspectorError below the cosine gate: nothing saved
        record = ModelRecord.fitted(
            config, backbone, roi_to_dict(roi), mm_per_px, images_meta, len(features), len(idx),
            previous.record if previous is not None else None, chosen=backbone_note,
            # A whole-image box is the image itself: (0, 0, width, height).
            image_size=(same_size or list(prepared[0].crop.box[2:])) if whole_image else None,
            ignore=ignore_json, align=align, foreground=fg_record, brightness=levels,
            exposure=exposure, precision_check=precision_check)
        # One searcher for the fitted model, built once: its IVF twin costs up to a few hundred ms on large banks.
        searcher = knn.Searcher(index, self.config.use_gpu, self.config.faiss_fp16)
        record = replace(record, taught_scores=self._taught_scores(folder, record, config, roi, mm_per_px, searcher,
                                                                   ignore, locator,
                                                                   reference[:TAUGHT_REFERENCE_IMAGES]))
        activate, origin = saving
        saved = project.save_model(folder, record, features, coreset_blob, extra_files=extra_files,
                                    activate=activate, origin=origin, keep=self.config.versions_kept)
        record = saved.record
        timings["save"] = time.perf_counter() - t
        model = self._fitted_model(folder, record, searcher, locator, saved.version, samples)
        report(progress, "saved", 1, 1)
        return FitResult(folder, len(images_meta), len(features), len(idx), time.perf_counter() - t0, timings,
                         record, model, saved.version, saved.active, symmetry_note)

    def _taught_scores(self, folder, record, config, roi, mm_per_px, searcher, ignore, locator, reference):
        """The image scores of the first taught images by the model just built: what images of the teaching
        capture score, the reference calibrate() compares its OK images with (capture_shift_warning). Searched
        on the CPU, as a model loaded without a GPU would score them."""
        if searcher.on_gpu:
            searcher = knn.Searcher(searcher.cpu_index, False, False)
        probe = Model(folder, record, config, roi, mm_per_px, searcher, None, None,
                      ignore=tuple(ignore), locator=locator, foreground=foreground.from_record(record.foreground))
        return tuple(round(float(score_prepared(probe, p, f, None).score), 6) for p, f in reference)

    def _fitted_model(self, folder, record: ModelRecord, searcher: knn.Searcher, locator, version: str,
                      samples=None) -> "Model":
        """The model just saved, as load(folder, version) would give it, built from memory: no model file is
        read back or hashed (a new version has no calibration yet, unless Save As copied one)."""
        config = record.engine_config(self.config)  # the machine settings of this engine, as load takes them
        calibration, note = project.load_calibration(project.version_folder(folder, version), record)
        if locator is not None:  # load builds it from the record's angle and the model config's confidence
            locator = replace(locator, max_angle_deg=float(record.align["max_angle_deg"]),
                              min_confidence=config.align_min_confidence)
        ignore = placement.stored_geometry(record)[0]
        config, backbone, check = self._inspecting(config, folder, record, version, samples)
        calibration, note = usable_with(calibration, note, backbone.precision_name)
        return Model(folder, record, config, roi_from_dict(record.roi), record.mm_per_px,
                     searcher, backbone, calibration, note, ignore=ignore, locator=locator, version=version,
                     foreground=foreground.from_record(record.foreground), precision_check=check)

    # -- load -----------------------------------------------------------------
    def _verified(self, stored: project.StoredModel, runtime: Optional[EngineConfig] = None):
        """(config, searcher) for a stored model after every compatibility check; ProjectError otherwise."""
        record = stored.record
        if record.version_problem():
            raise ProjectError(record.version_problem(stored.folder))
        config = record.engine_config(runtime or self.config)
        record.check_backbone(self.backbone(config))
        index = knn.deserialize(stored.coreset_bytes)
        problem = index_problem(stored, index)
        if problem:
            raise ProjectError(problem)
        return config, knn.Searcher(index, config.use_gpu, config.faiss_fp16)

    def load(self, folder: str | Path, version: Optional[str] = None) -> Model:
        """The project's active model (or `version` of it), ready to inspect; reads only what inspection
        needs and changes nothing."""
        folder = Path(folder)
        if version is None:
            source, version = folder, project.active_version(folder)
        else:
            source = project.version_folder(folder, version)
        stored = project.load_model(source, with_embeddings=False)
        config, searcher = self._verified(stored)
        record = stored.record
        ignore, locator = placement.load_geometry(source, record, config)
        config, backbone, check = self._inspecting(config, source, record)
        return Model(folder, record, config, roi_from_dict(record.roi), record.mm_per_px, searcher,
                     backbone, *usable_with(stored.calibration, stored.calibration_note, backbone.precision_name),
                     ignore=ignore, locator=locator, version=version,
                     foreground=foreground.from_record(record.foreground), precision_check=check)

    def _inspecting(self, config: EngineConfig, folder: Path, record: ModelRecord, version: Optional[str] = None,
                    samples=None) -> tuple[EngineConfig, Backbone, dict]:
        """(config, backbone, precision check in force) that inspect the model in `folder` (a project, or with
        `version` its version); with precision int8 the backbone quantised on the model's taught samples
        (`samples` when already in memory)."""
        source = project.version_folder(folder, version) if version else folder
        if config.precision == int8_model.INT8:
            inputs = samples if samples is not None else int8_model.stored_inputs(source, record)
            return config, self.model_backbone(config, inputs), {}
        return self._precision_checked(config, self.backbone(config), source, record, samples)

    def _precision_checked(self, config: EngineConfig, backbone, source: Path, record: ModelRecord,
                           samples=None) -> tuple[EngineConfig, Backbone, dict]:
        """precision auto where the fit did not measure this machine's low precision: measured now, on the model's
        taught samples (precision_gate.at_load)."""
        return precision_gate.at_load(config, backbone, record, self.backbone, repr(self._backbone_key(config)),
                                      lambda: samples if samples is not None else taught_samples.stored(source, record))

    # -- inference --------------------------------------------------------------
    def infer(self, model: Model, image: ImageInput, name: Optional[str] = None) -> InferenceResult:
        result = self.score_many(model, [image])[0]
        if name is not None:
            result.name = name
        return result

    def score_many(
        self,
        model: Model,
        images: Sequence[ImageInput],
        progress: Optional[ProgressFn] = None,
        cancel: Optional[CancelToken] = None,
        threshold: Optional[float] = None,
    ) -> list[InferenceResult]:
        """Inspect images in batches. `threshold` overrides the calibrated one (e.g. a dialog preview)."""
        return list(self.iter_score(model, images, progress, cancel, threshold))

    def iter_score(
        self,
        model: Model,
        images: Sequence[ImageInput],
        progress: Optional[ProgressFn] = None,
        cancel: Optional[CancelToken] = None,
        threshold: Optional[float] = None,
        names: Optional[Sequence[str]] = None,
    ) -> Iterator[InferenceResult]:
        """Results one by one as each batch is done, so a caller that keeps only what it needs of each
        (the CLI over thousands of images) stays at flat memory.

        Images are read one batch at a time. Each image gets its own result: one that cannot be read or
        inspected (unreadable, wrong size) is an ERROR result with the reason, and its neighbours in the
        batch are inspected as usual. `seconds` per result covers reading, embedding (its share of the
        batch) and scoring. `names`: what each image is called in its result and messages (default: its path,
        or "<array i>").
        """
        same_size = model.record.same_size
        step = model.config.batch_size
        for start in range(0, len(images), step):
            check(cancel)
            t0 = time.perf_counter()
            prepared, failed = [], {}
            for i, image in enumerate(images[start:start + step], start):
                name = str(names[i]) if names is not None else image_name(image, i)
                try:
                    prepared.append(placement.prepare_inspection(model, [image], same_size, i, [name])[0])
                except Cancelled:
                    raise
                except InspectorError as exc:
                    failed[i - start] = placement.error_of(model, name, exc)
            feats = iter(placement.embed_found(model.backbone, prepared))
            count = len(prepared) + len(failed)
            shared = (time.perf_counter() - t0) / count
            batch = []
            found = iter(prepared)
            for j in range(count):
                t = time.perf_counter()
                if j in failed:
                    batch.append(failed[j])
                else:
                    p = next(found)
                    batch.append(score_prepared(model, p, next(feats), threshold) if not p.not_found
                                 else placement.not_found_result(model, p))
                batch[-1].seconds = shared + time.perf_counter() - t
            del prepared, feats, found
            report(progress, "inspecting", start + len(batch), len(images))
            yield from batch
            del batch
            release_free_memory()  # the batch's buffers, freed now: back to the OS, so RSS stays flat

    # -- calibration ------------------------------------------------------------
    def calibrate(
        self,
        model: Model,
        ok_images: Sequence[ImageInput],
        ng_images: Sequence[ImageInput] = (),
        score_percentile: Optional[float] = None,
        min_area: Optional[float] = None,
        progress: Optional[ProgressFn] = None,
        cancel: Optional[CancelToken] = None,
    ) -> Calibration:
        """Score OK (and NG) images, pick the threshold, save calibration.json, return it."""
        samples = self.calibration_samples(model, ok_images, ng_images, progress, cancel)
        cal = self.calibration_from(model, samples, score_percentile, min_area)
        check(cancel)
        return self.save_calibration(model, cal).calibration

    def calibration_samples(self, model: Model, ok_images: Sequence[ImageInput], ng_images: Sequence[ImageInput] = (),
                            progress: Optional[ProgressFn] = None,
                            cancel: Optional[CancelToken] = None) -> "CalibrationSamples":
        """The OK and NG images scored for calibration, their maps kept so that the verdict level of any
        minimum area can be taken (a dialog's area field), and the OK images that were also taught."""
        if not ok_images:
            raise InspectorError("calibration needs at least one OK image")
        ok = self.score_many(model, ok_images, _staged(progress, "scoring OK"), cancel)
        placement.found_scores(ok, "OK")
        ng = self.score_many(model, list(ng_images), _staged(progress, "scoring NG"), cancel)
        placement.found_scores(ng, "NG")
        taught = model.record.taught_digests
        also_taught = [r.name for r, image in zip(ok, ok_images) if image_digest(image) in taught]
        return CalibrationSamples(ok, ng, also_taught, model.mm_per_px)

    def calibration_from(self, model: Model, samples: "CalibrationSamples", score_percentile: Optional[float] = None,
                         min_area: Optional[float] = None, method: Optional[str] = None,
                         zones: Sequence[Zone] = (), min_length: Optional[float] = None) -> Calibration:
        """The calibration the model's method (or `method`) picks from scored samples (calibration_of): the one
        computation behind every client's calibrate."""
        return calibration_of(model, samples, score_percentile, min_area, method, zones, min_length)

    def save_calibration(self, model: Model, calibration: Calibration, activate: bool = True,
                         origin: Optional[dict] = None) -> Model:
        """Seal `calibration` into a new version of the model's project (the model's version with it), active
        unless `activate` is False; returns the model with it (`model` is not changed). The calibration's
        minimum area takes the model's unit (mm2 with mm_per_px, else px)."""
        unit = area_unit(model.mm_per_px)
        if calibration.min_area_unit not in ("", unit):
            raise InspectorError(f"this calibration's minimum area is in {calibration.min_area_unit}; the model "
                                 f"measures regions in {unit}: calibrate this model")
        # OK images that score unlike the taught ones most likely come from another capture: say so.
        calibration = replace(calibration, model_id=model.model_id, min_area_unit=unit)
        warnings = [capture_shift_warning(model.record.taught_scores, calibration.ok_scores)]
        calibration = replace(calibration, warning=join_warnings(warnings + calibration_warnings(calibration)))
        saved = project.save_calibration(model.folder, calibration, model.version, activate, origin,
                                         keep=self.config.versions_kept)
        return model.with_calibration(calibration, saved.version)


def _full_install():
    """inference.backbone (torch, timm): ConfigError in plain words where they are not installed (the edge
    install inspects exported models only)."""
    try:
        from . import backbone
    except ModuleNotFoundError as exc:
        raise ConfigError(missing_package(exc) or str(exc)) from None
    return backbone


def _staged(progress: Optional[ProgressFn], stage: str) -> Optional[ProgressFn]:
    if progress is None:
        return None
    return lambda _stage, done, total: progress(stage, done, total)
