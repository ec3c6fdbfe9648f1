"""The project's records over HTTP: model versions (list, activate = rollback), the audit trail, the
inspection history with the same counts and yield as every client, and the project as a backup file and back
(a restore into a new project). Thin: the station layer does the work."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from inference import InspectorError, Verdict, plain_os_error, verify_audit

from station import ErrorCode, describe_project
from station.backup import back_up, restore
from station.history import LABELS, PURPOSES, parse_label
from station.history_causes import cause_records
from station.history_filters import parse_time
from station.history_periods import PERIODS, parse_shifts, periods, total
from station.history_zones import zone_records

from . import schemas
from .access import Caller, require
from .errors import ApiError, status_for
from .schemas import answer
from .uploads import parse_bool

router = APIRouter(prefix="/projects/{name}", tags=["versions, audit, history, backup"])


def _projects(request: Request):
    return request.app.state.projects


def time_window(name: str, request: Request,
                since: Optional[str] = Query(None, description="from: 2026-11-24T06:00, or a span ago: 8h, 7d"),
                until: Optional[str] = Query(None, description="before (the same forms)")) -> dict:
    """The history routes' time window as since / until epochs, for a project that exists (a 404 first); a time that
    cannot be read is a HistoryError naming it: a 422 (errors.py)."""
    _projects(request).existing(name)
    return {"since": parse_time(since, "since"), "until": parse_time(until, "until")}


@router.get("/versions", summary="The model versions: when, what, images, threshold, FAR/FRR, which is active",
            dependencies=[require("read")], responses=answer(schemas.VersionList))
def versions(name: str, request: Request):
    station = _projects(request).station(name)
    _projects(request).existing(name)
    from station.rescore_report import latest_report  # the newest `inspector rescore` report on each version

    return {"project": name, "versions": [dict(v.to_dict(), rescore=latest_report(station.project, v.version))
                                          for v in station.versions()]}


@router.post("/activate", summary="Make a kept version the active one (a rollback is the same); audited",
             responses=answer(schemas.Activated))
def activate(name: str, request: Request, version: str = Form(..., description="e.g. v3"),
             note: str = Form("", description="why, for the audit trail"), caller: Caller = require("teach")):
    projects = _projects(request)
    projects.existing(name)
    station = projects.station(name)
    if version not in {v.version for v in station.versions()}:
        raise ApiError(404, f"project {name!r} has no version {version!r}; GET /projects/{name}/versions lists them")
    info = station.activate(version, note=note, who=caller.name)
    projects.put(name, station.model())  # the next inspection uses it, without waiting for a reload
    out = {"project": name, "active": info.to_dict()}
    if info.calibration is None:
        out["warning"] = f"{version} is not calibrated: inspections give no verdict until it is"
    return out


@router.get("/audit", summary="Every change that altered verdicts, oldest first", dependencies=[require("read")],
            responses=answer(schemas.AuditTrail))
def audit(name: str, request: Request):
    folder = _projects(request).existing(name)
    problems = verify_audit(folder)  # rows edited, removed or put in by hand since they were written
    return {"project": name, "audit": _projects(request).station(name).audit(),
            "chain": {"intact": not problems, "problems": problems}}


@router.get("/history", summary="Inspection history rows (newest first) and the counts and yield over them",
            dependencies=[require("read")], responses=answer(schemas.History))
def history(name: str, request: Request, window: dict = Depends(time_window),
            limit: int = Query(100, ge=1, le=10000, description="most rows returned"),
            verdict: Optional[str] = Query(None, description="only this verdict (OK, NG, NOT_FOUND, NO_VERDICT, "
                                           "ERROR)"),
            purpose: Optional[str] = Query(None, description="line, bench or master (master parts' checks, which "
                                           "the counts leave out unless asked for)"),
            part_id: Optional[str] = Query(None, description="only this part"),
            cause: Optional[str] = Query(None, description="only the ERRORs of this cause: its name (no_image) or "
                                         "number (3), as GET .../history/causes gives them"),
            label: Optional[str] = Query(None, description="only rows a reviewer marked so (false_reject, "
                                         "false_accept)"),
            heatmap: Optional[str] = Query(None, description="true: each row's heatmap thumbnail (128 px) as a "
                                           "base64 PNG, heatmap_png_base64")):
    thumbnails = parse_bool("heatmap", heatmap)
    if label is not None and label not in LABELS:
        raise ApiError(422, f"label must be one of {', '.join(LABELS)}, got {label!r}")
    if verdict is not None:
        try:
            verdict = Verdict.parse(verdict).value
        except ValueError as exc:
            raise ApiError(422, f"verdict: {exc}") from None
    if purpose is not None and purpose not in PURPOSES:
        raise ApiError(422, f"purpose must be one of {', '.join(PURPOSES)}, got {purpose!r}")
    if cause is not None:
        try:
            window["error_code"] = int(ErrorCode.parse(cause))
        except ValueError as exc:
            raise ApiError(422, f"cause: {exc}") from None
    h = _projects(request).station(name).history
    rows = h.query(verdict=verdict, purpose=purpose, part_id=part_id, label=label, limit=limit, **window)
    counts = h.counts(verdict=verdict, purpose=purpose, part_id=part_id, label=label, **window)
    return {"project": name, "counts": counts.to_dict(), "rows": [r.to_dict(with_heatmap=thumbnails) for r in rows]}


@router.get("/history/periods", summary="The counts and yield per hour, day or shift (local time), master parts' "
            "checks apart: what an MES pulls for its shift reports", dependencies=[require("read")],
            responses=answer(schemas.Periods))
def history_periods(name: str, request: Request, window: dict = Depends(time_window),
                    by: str = Query("hour", description="hour, day or shift"),
                    shifts: str = Query("6,14,22", description="with by=shift: the hours the shifts start at"),
                    purpose: Optional[str] = Query(None, description="line or bench only")):
    if by not in PERIODS:
        raise ApiError(422, f"by must be one of {', '.join(PERIODS)}, got {by!r}")
    if purpose not in (None, "line", "bench"):
        raise ApiError(422, f"purpose must be line or bench (master parts' checks are counted apart), got {purpose!r}")
    # A time or shift list that cannot be read is a HistoryError naming it: a 422 (errors.py).
    found = periods(_projects(request).station(name).history, by, shifts=parse_shifts(shifts), purpose=purpose,
                    **window)
    return {"project": name, "by": by, "periods": [p.to_dict() for p in found], "total": total(found).to_dict()}


@router.get("/history/zones", summary="The NG parts per inspection zone of their largest defect, most first: where "
            "the process fails (zone null: inspected without zones)", dependencies=[require("read")],
            responses=answer(schemas.Zones))
def history_zones(name: str, request: Request, window: dict = Depends(time_window)):
    found = _projects(request).station(name).history.ng_zones(**window)
    return {"project": name, "zones": zone_records(found)}


@router.get("/history/causes", summary="The ERRORs per cause (the PLC's ErrorCode), most first: what keeps parts "
            "from being judged (cause not_recorded: rows written before the history kept it)",
            dependencies=[require("read")], responses=answer(schemas.Causes))
def history_causes(name: str, request: Request, window: dict = Depends(time_window)):
    found = _projects(request).station(name).history.error_causes(**window)
    return {"project": name, "causes": cause_records(found)}


@router.get("/history/alarms", summary="The alarm history: each line alarm raised and cleared (or ended by a stop), "
            "newest first", dependencies=[require("read")], responses=answer(schemas.Alarms))
def history_alarms(name: str, request: Request, window: dict = Depends(time_window),
                   limit: int = Query(100, ge=1, description="the newest this many events")):
    from station.line_io.alarm_log import alarm_events, alarm_totals

    path = _projects(request).station(name).history.path
    events = alarm_events(path, window["since"], window["until"], limit=limit)
    return {"project": name, "events": [e.to_dict() for e in events],
            "totals": [t.to_dict() for t in alarm_totals(events[::-1])]}


@router.put("/history/{row_id}/label", summary="A reviewer's mark on an inspection: false_reject (an NG that was a "
            "good part), false_accept, or none to clear it; a marked row and its archived image are kept; the row "
            "says who marked it last (marked_by, marked_at)", responses=answer(schemas.MarkedRow))
def mark(name: str, row_id: int, request: Request,
         label: str = Form(..., description="false_reject, false_accept, or none to clear the mark"),
         caller: Caller = require("review")):
    _projects(request).existing(name)
    value = parse_label(label)  # 422 naming the labels for anything else
    station = _projects(request).station(name)
    _row(request, name, row_id)
    station.mark(row_id, value, who=caller.name)
    return {"project": name, "row": station.history.get(row_id).to_dict()}


@router.get("/history/{row_id}/image", response_class=FileResponse,
            summary="An inspection's image as it was inspected: its archived copy (--archive), else its file while "
            "that still holds the bytes inspected; 404 when neither is left", dependencies=[require("read")])
def history_image(name: str, row_id: int, request: Request):
    _projects(request).existing(name)
    row = _row(request, name, row_id)
    where = row.image_path()
    # A file outside the archive is served only when its bytes are known to be the ones inspected (the row's
    # sha256): never a file a row merely names.
    if where is None or (str(where) != (row.archive_path or "") and row.sha256 is None):
        raise ApiError(404, f"the image of inspection {row_id} ({row.file_name}) is not kept: it was not archived "
                            "(inspector serve / run --archive) and its file is gone or changed")
    return FileResponse(where, filename=where.name)


def _row(request: Request, name: str, row_id: int):
    row = _projects(request).station(name).history.get(row_id)
    if row is None:
        raise ApiError(404, f"project {name!r} has no inspection with id {row_id} (GET /projects/{name}/history "
                            "lists them; retention may have removed it)")
    return row


@router.get("/backup", response_class=FileResponse, responses={200: {"content": {"application/zip": {}}}},
            summary="The project as one backup file (.zip, read back and checked): every model version, the active "
            "one, the audit trail and the inspection history; `inspector restore BACKUP PROJECT` restores it",
            dependencies=[require("backup")])
def backup(name: str, request: Request,
           history: bool = Query(True, description="false: leave the inspection history out"),
           wait: float = Query(0, ge=0, le=600, description="seconds to wait for a fit or calibration being saved "
                               "(0: answer 409 at once)")):
    folder = _projects(request).existing(name)
    scratch = Path(tempfile.mkdtemp(prefix="inspector-backup-"))
    try:
        info = back_up(folder, scratch, history=history, wait_s=wait)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return FileResponse(info.path, media_type="application/zip", filename=info.path.name,
                        background=BackgroundTask(shutil.rmtree, scratch, ignore_errors=True))


@router.post("/restore", status_code=201, responses=answer(schemas.Restored, 201),
             summary="Restore a backup file (GET /projects/{name}/backup, inspector backup) as the new project NAME: "
             "every file checked against the backup and every version against its manifest before the project "
             "appears; never over a project that exists; audited under the caller's name")
def restore_project(name: str, request: Request,
                    backup: UploadFile = File(..., description="the backup file (.zip)"),
                    note: str = Form("", description="why, for the restored project's audit trail"),
                    caller: Caller = require("teach")):
    projects = _projects(request)
    folder = projects.folder(name)
    # restore_backup refuses such a target too (a 422 here); asked first, it is a 409 before the upload is copied.
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ApiError(409, f"project {name!r} exists: a restore never writes over a project; restore it under a "
                            f"new name, or activate an older version of it (POST /projects/{name}/activate)")
    # The upload is copied beside the projects, on the disk the restore writes to, so a full disk is said before the
    # restore starts; the file is removed whatever happens.
    upload: Optional[Path] = None
    given = f"the uploaded file {backup.filename or 'backup'!r}"
    try:
        try:
            projects.root.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=".restore-upload-", suffix=".zip", dir=projects.root)
            upload = Path(temp)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(backup.file, out, 1 << 20)
        except OSError as exc:  # the projects' disk full, read-only: said in plain words (507)
            raise plain_os_error(exc, projects.root, "keep the uploaded backup in") from None
        info = restore(upload, folder, who=caller.name, note=note)
    except InspectorError as exc:  # a damaged or foreign file names the upload, not the service's temp copy
        raise ApiError(status_for(exc), str(exc).replace(str(upload), given)) from None
    finally:
        if upload is not None:
            upload.unlink(missing_ok=True)
    described = describe_project(folder, lambda: projects.model(name))
    out = {"project": name, "backup": {k: v for k, v in info.to_dict().items() if k != "files"},
           "inspects": described.usable and described.calibration is not None}
    if described.problems:
        out["warning"] = f"it cannot inspect on this machine yet: {described.problems[0]}"
    elif described.calibration is None:
        out["warning"] = f"it gives no verdicts until calibrated: {described.calibration_note or 'no calibration'}"
    return out
