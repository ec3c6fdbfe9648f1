"""The ASGI app: fit_ok / infer / calibrate_ng and friends over HTTP, one engine per process."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Optional

from fastapi import FastAPI, File, Form, Header, Query, UploadFile
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from inference import (
    Engine,
    EngineConfig,
    VerdictCounts,
    __version__,
    check_values,
    device_name,
    read_record,
    roi_from_dict,
)
from station import describe_project
from station.line_io.metrics import LineMetrics

from . import errors, schemas
from .batching import InferenceBatcher
from .access import Caller, Tokens, open_caller, require
from .errors import ApiError
from .forms import CheckedFormRoute
from .heartbeat import heartbeat, notify
from .idempotency import RequestKeys, checked_key
from .jobs import FitJob, FitQueue
from .line import ServiceLine
from .middleware import AccessLog, BearerToken, RequestSizeLimit
from .projects import Projects
from .schemas import answer
from .display import is_page as is_display_page, router as display_router
from .metrics import router as metrics_router
from .records import router as records_router
from .uploads import (Limits, check_fit, parse_bool, parse_number, parse_roi, parse_zones, read_images,
                      read_part_ids)

log = logging.getLogger("inspector.service")

# How long a stop waits for a model being loaded at start (one project's load; then it stops regardless).
LOAD_JOIN_S = 30.0

DESCRIPTION = """Visual inspection for the line's software: teach OK parts (`fit_ok`), calibrate the OK/NG
threshold (`calibrate_ng`), inspect images (`infer`). Images are multipart file fields; answers are JSON;
errors are `{"error": "<one line>", "status": <code>}`. See docs/api.md."""


def create_app(
    projects_dir: str | Path,
    config: Optional[EngineConfig] = None,
    engine: Optional[Engine] = None,
    token: Optional[str] = None,
    tokens=None,
    limits: Limits = Limits(),
    max_loaded: int = 8,
    share_batch: Optional[int] = None,
    who: str = "service",
    line: Optional[ServiceLine] = None,
    warm: bool = True,
) -> FastAPI:
    """`share_batch`: most images from separate requests scored in one backbone call; None: the engine's
    batch size on a GPU, 1 on a CPU, where one batch of 8 took longer per image than 8 batches of 1
    (docs/benchmarks.md). `token`: the one token every request must send (every permission, named `who`);
    `tokens`: token -> access.Caller, each with its name and roles, or an access.TokenFile (`inspector serve
    --token-file`: read again when it changes); neither: no
    token asked (bind this PC only). `who`: the name the audit trail gives changes made without a named token.
    `line`: where line inspections go besides the history (alarms, metrics, --post / --mqtt
    outboxes; default: alarms and metrics only). `warm`: load the projects' models as the service starts
    (Projects.warm), READY to systemd once they are; False: each on its first request."""
    engine = engine or Engine(config)
    line = line or ServiceLine(LineMetrics())
    if limits.max_megapixels is None:
        limits = replace(limits, max_megapixels=engine.config.max_image_megapixels)
    projects = Projects(Path(projects_dir), engine, max_loaded, who=who, masters=line.masters)
    if share_batch is None:
        share_batch = engine.config.batch_size if device_name(engine.config.use_gpu) == "cuda" else 1
    batcher = InferenceBatcher(engine, max_images=share_batch)
    request_keys = RequestKeys()  # Idempotency-Key: a client's retry gets its first answer
    # The fit's own model goes into the warm cache: nothing is read back from disk.
    fits = FitQueue(engine, on_saved=lambda name, model: projects.put(name, model), stations=projects.station)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stop = threading.Event()
        loading = threading.Thread(target=projects.warm, args=(stop,), name="load-models", daemon=True)
        if warm:
            loading.start()
        else:
            projects.warm_skipped()
        # systemd's READY / WATCHDOG (heartbeat.py): `serving` is uvicorn's started flag where the CLI set it; READY
        # waits for the models too, so a line started after the service finds them loaded.
        beat = asyncio.create_task(heartbeat(lambda: app.state.serving() and projects.warmed, batcher.healthy,
                                             line.beat))
        yield
        notify("STOPPING=1")
        stop.set()
        beat.cancel()
        line.close()
        fits.close()
        if loading.is_alive():  # a model being loaded at start: its Station must not be closed under it
            loading.join(timeout=LOAD_JOIN_S)
        batcher.close()
        projects.close()

    app = FastAPIOffline(title="Inspector", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                         static_url="/docs-assets",  # /docs and /redoc from files in the package, no CDN
                         responses=schemas.ERROR_RESPONSES)  # every route's failures: the one error body
    app.router.route_class = CheckedFormRoute  # unknown form fields: 422 naming them
    app.state.engine, app.state.projects, app.state.batcher, app.state.fits = engine, projects, batcher, fits
    app.state.line = line
    # Who calls: with tokens, the token's caller (access.py); without (this PC only), one caller with every
    # permission, named `who`. A single `token` is such a caller too (the earlier form).
    app.state.open_caller = open_caller(who)
    app.state.serving = lambda: True  # `inspector serve` sets uvicorn's own: READY=1 once it listens
    if token is not None:
        tokens = {token: open_caller(who), **(tokens or {})}
    if isinstance(tokens, dict):
        tokens = Tokens(tokens) if tokens else None
    errors.install(app)
    # Added innermost first: the access log sees every request, refused ones included.
    app.add_middleware(errors.InternalErrors)
    app.add_middleware(RequestSizeLimit, max_bytes=limits.max_request_bytes)
    if tokens is not None:
        app.add_middleware(BearerToken, tokens=tokens, public=is_display_page)  # the page sends the token itself
    app.add_middleware(AccessLog)
    app.include_router(records_router)
    app.include_router(metrics_router)
    app.include_router(display_router)
    metrics = app.state.metrics = line.metrics
    metrics.watch_queue(batcher.waiting)

    @app.get("/health", summary="Version, device, backbone and weights in use, loaded projects, running jobs, "
             "the line alarms active per project", dependencies=[require("read")], responses=answer(schemas.Health))
    def health():
        cfg = engine.config
        loading = projects.warm_state()
        return {
            # "starting" while the models are being loaded at start (a request meanwhile loads its own)
            "status": "ok" if loading.pop("warmed") else "starting", "load_at_start": loading,
            "version": __version__, "device": device_name(cfg.use_gpu),
            "backbone": cfg.backbone, "weights": cfg.weights, "input_size": cfg.input_size,
            "loaded_projects": projects.loaded(), "jobs": fits.active(),
            "limits": {"max_image_bytes": limits.max_image_bytes, "max_request_bytes": limits.max_request_bytes,
                       "max_images": limits.max_images},
            "share_batch": batcher.max_images,
            "alarms": line.alarms(),
        }

    @app.get("/projects", summary="The fitted projects in the projects folder", dependencies=[require("read")],
             responses=answer(schemas.ProjectList))
    def list_projects():
        return {"projects": projects.names()}

    @app.get("/projects/{name}", summary="What `inspector info --json` gives: manifest, checks, calibration, index",
             dependencies=[require("read")], responses=answer(schemas.ProjectInfo))
    def project_info(name: str):
        return describe_project(projects.existing(name), lambda: projects.model(name)).to_dict()

    @app.post("/projects/{name}/fit_ok", status_code=202, responses=answer(schemas.JobAccepted, 202),
              summary="Teach a model from OK images (or more images with add=true); answers a job to poll")
    def fit_ok(
        name: str,
        images: list[UploadFile] = File([], description="OK images (repeat the field for each); none needed with "
                                        "false_rejects=true"),
        roi: Optional[str] = Form(None, description='ROI JSON, e.g. {"type": "circle", "cx": 80, "cy": 80, "r": 60}'),
        mm_per_px: Optional[str] = Form(None, description="pixel size in mm, for region areas in mm^2"),
        add: Optional[str] = Form(None, description="true: teach into the existing model"),
        false_rejects: Optional[str] = Form(None, description="true: also teach the image of every inspection a "
                                            "reviewer marked false_reject (PUT .../history/{id}/label), less those "
                                            "the active model taught already; implies add=true"),
        note: str = Form("", description="a note for the version list and the audit trail"),
        caller: Caller = require("teach"),
    ):
        folder = projects.folder(name)
        teach_marked = parse_bool("false_rejects", false_rejects)
        adding = parse_bool("add", add) or teach_marked
        if adding:
            projects.existing(name)
            if roi or mm_per_px:
                raise ApiError(422, "add=true keeps the fitted ROI and mm per pixel; fit without add to change them")
        roi_value = parse_roi(roi)
        mm = parse_number("mm_per_px", mm_per_px, positive=True)
        names, arrays = read_images(images, "images", limits, required=not teach_marked)
        if adding:
            record = read_record(folder)
            check_fit("images", names, arrays, roi_from_dict(record.roi), record.same_size)
        else:
            first = (arrays[0].shape[1], arrays[0].shape[0])
            check_fit("images", names, arrays, roi_value, None if roi_value is not None else first)
        marked = []
        if teach_marked:  # the reviewer's loop, as `inspector fit --false-rejects` and the window's History tab
            found = projects.station(name).marked("false_reject", untaught=True)
            if not found.paths and not arrays:
                raise ApiError(422, f"false_rejects: nothing to teach: {found.summary()}")
            marked = found.paths
        job = fits.submit(FitJob(name, folder, arrays + marked, adding, roi_value, mm, note=note, who=caller.name,
                                 n_marked=len(marked)))
        return JSONResponse({"job_id": job.id, "state": job.state, "status_url": f"/jobs/{job.id}"},
                            status_code=202)

    @app.get("/jobs/{job_id}", summary="A fit job's state, stage, progress and, when done, its result",
             dependencies=[require("read")], responses=answer(schemas.Job))
    def job_status(job_id: str):
        return _job(job_id).to_dict()

    @app.delete("/jobs/{job_id}", status_code=202, summary="Cancel a fit job; the saved model stays as it was",
                dependencies=[require("teach")], responses=answer(schemas.Job, 202))
    def job_cancel(job_id: str):
        job = _job(job_id)
        if job.state in ("done", "failed", "cancelled"):
            raise ApiError(409, f"job {job_id} has already ended ({job.state})")
        fits.cancel(job)
        return JSONResponse(job.to_dict(), status_code=202)

    def _job(job_id: str) -> FitJob:
        job = fits.get(job_id)
        if job is None:
            raise ApiError(404, f"unknown job {job_id!r} (finished jobs are kept for a while, not forever)")
        return job

    @app.post("/projects/{name}/infer", summary="Inspect images: verdict, score, regions (and heatmaps); each "
              "inspection is a history row", dependencies=[require("inspect")], responses=answer(schemas.InferAnswer))
    def infer(
        name: str,
        images: list[UploadFile] = File(..., description="images to inspect (repeat the field for each)"),
        heatmap: Optional[str] = Query(None, description="true: add each heatmap as a base64 PNG"),
        part_id: list[str] = Form([], description="the part's id or serial number, one per image, in order"),
        bench: Optional[str] = Form(None, description="true: record as bench checks, apart from the line's"),
        idempotency_key: Optional[str] = Header(None, alias="Idempotency-Key", description="a key of this request's "
                                                "own (a UUID): sent again with it, the request gets its first answer"),
    ):
        t0 = time.perf_counter()
        key = checked_key(idempotency_key)
        with_heatmap = parse_bool("heatmap", heatmap)
        purpose = "bench" if parse_bool("bench", bench) else "line"
        station = projects.station(name)
        model = projects.model(name)
        metrics.set_model(name, model.version)
        names, arrays = read_images(images, "images", limits)
        part_ids = read_part_ids(part_id, len(names))
        _check_model_fit(model, "images", names, arrays)
        datas = []  # each image as it came: its digest in the row, the archive's copy
        for upload in images:
            upload.file.seek(0)
            datas.append(upload.file.read())
        digests = [hashlib.sha256(data).hexdigest() for data in datas]
        if key is not None:
            first = request_keys.begin(key, (name, purpose, tuple(digests), tuple(part_ids)))
            if first is not None:  # the same request sent again: its first answer, nothing inspected or recorded
                log.warning("%s: a request sent again with its Idempotency-Key %s: answered from history rows %s, "
                            "not inspected or counted again", name, key, [r["row_id"] for r in first["results"]])
                for _ in first["results"]:
                    metrics.observe_resent(name)
                return first | {"results": [r | {"resent": True} for r in first["results"]],
                                "timings": {"decode_s": 0.0, "queue_s": 0.0, "inference_s": 0.0,
                                            "total_s": round(time.perf_counter() - t0, 4)}}
        try:
            answer = _inspect(name, station, model, purpose, names, arrays, part_ids, datas, digests, with_heatmap, t0)
        except BaseException:
            if key is not None:
                request_keys.abandon(key)  # failed: the key may come again, with the request or another
            raise
        if key is not None:
            request_keys.finish(key, answer | {"results": [{k: v for k, v in r.items() if k != "heatmap_png_base64"}
                                                           for r in answer["results"]]})
        return answer

    def _inspect(name, station, model, purpose, names, arrays, part_ids, datas, digests, with_heatmap, t0) -> dict:
        """The infer route's inspection of checked images: each result finished, recorded and published."""
        # a client's retry of a line part is answered from its first inspection, without the backbone
        earlier = [line.answered(name, digests[i], part_ids[i], model.model_id) if purpose == "line" else None
                   for i in range(len(names))]
        todo = [i for i, e in enumerate(earlier) if e is None]
        t1 = time.perf_counter()
        scored, waited = batcher.score(model, [arrays[i] for i in todo]) if todo else ([], 0.0)
        results = dict(zip(todo, scored))
        t2 = time.perf_counter()
        out, counts = [], VerdictCounts()
        for i, file_name in enumerate(names):
            data, digest, result, answered = datas[i], digests[i], results.get(i), earlier[i]
            if answered is None and purpose == "line":  # alarms, metrics, outboxes: the run mode's publisher
                result.name = file_name
                outcome, answered = line.finish(name, station, model, result, part_id=part_ids[i], started=t0,
                                                digest=digest, image=arrays[i])
                if outcome is not None and line.archiving:  # kept by the archive's own thread
                    line.archive(name, data, file_name, outcome)
            elif answered is None:
                result.name = file_name
                outcome = station.finish(model, result, part_id=part_ids[i], source="http", purpose=purpose,
                                         row={"sha256": digest})
                metrics.observe(name, outcome.verdict, time.perf_counter() - t0, defect=outcome.largest_defect,
                                cause=outcome.error_code)
            if answered is not None:  # a client's retry: its first answer, without the heatmap
                line.resent(name, answered, file_name)
                if answered.production:
                    counts.add(answered.verdict)
                out.append(answered.result | {"resent": True})
                continue
            if outcome.expected is None:  # a master part is a check of the station, outside the counts
                counts.add(outcome.verdict)
            out.append(outcome.to_dict(with_heatmap=with_heatmap))
        return {
            "project": name, "model_id": model.model_id, "model_version": model.version,
            "calibrated": model.calibration is not None, "note": model.calibration_note, "results": out,
            "counts": counts.to_dict(),
            "timings": {"decode_s": round(t1 - t0, 4), "queue_s": round(waited, 4),
                        "inference_s": round(t2 - t1 - waited, 4), "total_s": round(time.perf_counter() - t0, 4)},
        }

    @app.post("/projects/{name}/calibrate_ng", responses=answer(schemas.Calibrated),
              summary="Set the OK/NG threshold from OK (and NG) images; saves calibration.json")
    def calibrate_ng(
        name: str,
        ok: list[UploadFile] = File(..., description="OK images not used for fitting"),
        ng: list[UploadFile] = File([], description="defective images (optional)"),
        score_percentile: Optional[str] = Form(None, description="OK-only threshold: this percentile of OK scores"),
        min_area: Optional[str] = Form(None, description="minimum region area: regions smaller than this do not "
                                       "make a part NG (mm², or px when the project has no mm_per_px; default: the "
                                       "calibration before's)"),
        area_mm2_thr: Optional[str] = Form(None, description="the earlier name of min_area", deprecated=True),
        min_length: Optional[str] = Form(None, description="minimum region length: a region at least this long "
                                         "makes a part NG whatever its area (mm, or px without mm_per_px; 0: none; "
                                         "default: the calibration before's)"),
        zones: Optional[str] = Form(None, description="inspection zones, a JSON list of {name, min_area, shape}: "
                                    "parts of the ROI with their own minimum area, min_area holding outside them "
                                    "(default: the zones of the calibration before; []: none)"),
        version: Optional[str] = Form(None, description="the model version to calibrate (default: a model taught "
                                      "since the active version and not calibrated yet, else the active one)"),
        activate: Optional[str] = Form(None, description="false: keep the calibrated version staged"),
        marked: Optional[str] = Form(None, description="true: also the images a reviewer marked: false rejects "
                                     "(less those the calibrated version taught) as OK, false accepts as NG"),
        note: str = Form("", description="a note for the version list and the audit trail"),
        caller: Caller = require("teach"),
    ):
        station = projects.station(name)
        model = projects.model(name) if version is None else station.model(version)
        activating = parse_bool("activate", activate) if activate is not None else True
        percentile = parse_number("score_percentile", score_percentile)
        if min_area is not None and area_mm2_thr is not None:
            raise ApiError(422, "give min_area or its earlier name area_mm2_thr, not both")
        area = parse_number("min_area", min_area) if area_mm2_thr is None else \
            parse_number("area_mm2_thr", area_mm2_thr)
        length = parse_number("min_length", min_length)
        # before any work: a bad value saves nothing
        check_values(score_percentile=percentile, min_area=area, min_length=length)
        zone_list = parse_zones(zones)
        ok_names, ok_arrays = read_images(ok, "ok", limits)
        ng_names, ng_arrays = read_images(ng, "ng", limits, required=False)
        _check_model_fit(model, "ok", ok_names, ok_arrays)
        _check_model_fit(model, "ng", ng_names, ng_arrays)
        ok_marked, ng_marked = [], []
        if parse_bool("marked", marked):
            ok_marked = station.marked("false_reject", untaught=True,
                                       version=version or station.version_to_calibrate()).paths
            ng_marked = station.marked("false_accept").paths
        # The station's calibration: the engine's calibration_method, rates by the verdict rule, warnings.
        done = station.calibrate(ok_arrays + ok_marked, ng_arrays + ng_marked, version=version,
                                 score_percentile=percentile, min_area=area, zones=zone_list, min_length=length,
                                 activate=activating, note=note, who=caller.name)
        if done.active:
            projects.put(name, done.model)  # the calibrated model, without a reload
        return {"project": name, "model_id": done.model.model_id, **done.to_dict()}

    return app


def _check_model_fit(model, field, names, arrays) -> None:
    check_fit(field, names, arrays, model.roi, model.record.same_size)
