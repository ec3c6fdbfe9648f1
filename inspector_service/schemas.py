"""What the service answers, as the OpenAPI document shows it (`/openapi.json`, `/docs`): a model per JSON answer,
and the one error body every failure has.

They document, they do not filter: the routes build their answers as before and the models are given to FastAPI
as `responses=` (never `response_model=`), so no field is ever dropped or a part's answer turned into a 500 by a
schema. `tests/service/test_service_schemas.py` holds the answers to them (every field documented, none missing),
so that a client generated from the document (NSwag, openapi-generator) reads what the line gets.
"""

from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

VerdictName = Literal["OK", "NG", "NOT_FOUND", "NO_VERDICT", "ERROR"]


class Documented(BaseModel):
    # extra="forbid": a field an answer has and its model lacks fails the schema test
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ErrorBody(Documented):
    """Every failure: one line naming the input at fault, and the HTTP status again."""

    error: str = Field(description="one line: what is wrong, naming the field, file or value")
    status: int


class Counts(Documented):
    """The verdicts counted, as every client counts them (master parts' checks left out); `yield` is OK / judged."""

    total: int
    OK: int
    NG: int
    NOT_FOUND: int
    NO_VERDICT: int
    ERROR: int
    judged: int = Field(description="OK + NG + NOT_FOUND")
    yield_: Optional[float] = Field(alias="yield", description="OK / judged, 0-1; null before any part was judged")


class Region(Documented):
    """A connected area of the anomaly map above the threshold, in image pixels."""

    bbox: list[int] = Field(description="x, y, width, height")
    centroid: list[float] = Field(description="x, y")
    area_px: int
    area_mm2: Optional[float] = Field(description="null without the project's mm_per_px")
    length_px: float = Field(description="the longest distance across it")
    length_mm: Optional[float]
    max_score: float
    counts: bool = Field(description="at least the calibrated limits (area, length, zones): it can make the part NG")
    on_edge: bool = Field(description="touches the ROI's border, where the map is least reliable")
    zones: Optional[dict[str, float]] = Field(None, description="with inspection zones: its area in each zone")
    zone_load: Optional[float] = Field(None, description="its share of its zones' limits; it counts at 1 or more")
    zone_index: Optional[int] = None
    zone: Optional[str] = Field(None, description="the zone that weighs most in it ('rest' outside every zone)")


class MasterCheck(Documented):
    expected: VerdictName
    passed: bool


class Inspection(Documented):
    """One inspected image: its verdict and why, the score against the threshold, the regions, its history row."""

    name: str = Field(description="the uploaded file's name")
    verdict: VerdictName = Field(description="only OK passes a part; NO_VERDICT: no usable calibration (the reason "
                                 "says why)")
    reason: str = Field(description="one line: why this verdict, or why there is none")
    score: Optional[float] = Field(description="null when not scored (NOT_FOUND, ERROR)")
    threshold: Optional[float]
    box: list[int] = Field(description="the ROI's box in the image: x0, y0, x1, y1")
    token_shape: list[int]
    regions: list[Region]
    ng_regions: list[int] = Field(description="indices into regions of those that made the part NG")
    seconds: float
    model_version: Optional[str]
    model_id: Optional[str]
    part_id: Optional[str]
    timings: dict[str, float]
    row_id: Optional[int] = Field(description="its row in the project's history (GET .../history)")
    error: Optional[str] = Field(None, description="ERROR: what went wrong with this image")
    error_code: Optional[int] = Field(None, description="ERROR: why, as a number (station.ErrorCode, docs/plc.md): "
                                      "1 image invalid, 2 image check, 3 no image, 4 repeated image, 5 part mismatch, "
                                      "6 unknown recipe, 7 model unusable, 9 other")
    cause: Optional[str] = Field(None, description="ERROR: the same cause by name (image_invalid, image_check, "
                                 "no_image, repeated_image, part_mismatch, unknown_recipe, model_unusable, other)")
    brightness_shift: Optional[float] = None
    image_check: Optional[Literal["dark", "bright", "flat"]] = None
    location: Optional[dict[str, Any]] = Field(None, description="with alignment: where the part was found")
    outline: Optional[list[list[float]]] = None
    heatmap_png_base64: Optional[str] = Field(None, description="with heatmap=true")
    master: Optional[MasterCheck] = Field(None, description="a master part's check, outside the counts")
    resent: Optional[bool] = Field(None, description="true: this line image was sent for this part before, to the "
                                   "same model (a retry); the answer is its first inspection's, the same row_id "
                                   "(without the heatmap), and nothing was recorded, counted or published again")


class InferTimings(Documented):
    decode_s: float
    queue_s: float
    inference_s: float
    total_s: float


class InferAnswer(Documented):
    project: str
    model_id: str
    model_version: Optional[str]
    calibrated: bool
    note: str = Field(description="why there is no verdict, when the model cannot give one")
    results: list[Inspection] = Field(description="one per image, in the order sent")
    counts: Counts
    timings: InferTimings


class JobAccepted(Documented):
    job_id: str
    state: str
    status_url: str


class JobProgress(Documented):
    done: int
    total: int


class Job(Documented):
    job_id: str
    project: str
    kind: Literal["fit", "add"]
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    stage: Optional[str]
    progress: JobProgress
    n_uploaded: int
    n_marked: int = Field(description="images a reviewer marked false_reject, taught with false_rejects=true")
    result: Optional[dict[str, Any]] = Field(description="when done: the fit's summary (model_id, version, ...)")
    error: Optional[str]
    error_status: Optional[int] = Field(description="the HTTP status the failure would have had")
    created: Optional[float]
    started: Optional[float]
    finished: Optional[float]


class Limits(Documented):
    max_image_bytes: int
    max_request_bytes: int
    max_images: int


class LoadedProject(Documented):
    name: str
    model_id: str
    model_version: Optional[str]
    backbone: str
    calibrated: bool
    notice: str = Field(description="what the line is told of this model: no verdicts, or its calibration's warning")


class Health(Documented):
    status: Literal["ok", "starting"] = Field(description="starting: the models are still being loaded")
    load_at_start: dict[str, Any]
    version: str
    device: str
    backbone: str
    weights: str
    input_size: int
    loaded_projects: list[LoadedProject]
    jobs: list[dict[str, Any]]
    limits: Limits
    share_batch: int
    alarms: dict[str, Any] = Field(description="the line alarms active, per project")


class ProjectList(Documented):
    projects: list[str]


class ProjectInfo(Documented):
    """What `inspector info --json` gives: whether it can inspect here and why not, its manifest and calibration."""

    manifest: dict[str, Any]
    usable: bool = Field(description="false: it cannot inspect on this machine; problems say why")
    problems: list[str]
    calibration: Optional[dict[str, Any]] = Field(description="null: no verdicts until calibrated")
    calibration_note: str
    index: Optional[str]
    ivf_lists: Optional[dict[str, int]]
    compute: Optional[dict[str, Any]] = Field(description="runtime, precision and int8's gate cosine on this machine")
    export: Optional[dict[str, Any]]


class Calibrated(Documented):
    """The calibration saved (a new version): the threshold and limits, the rates by the verdict rule, the rates
    so few images cannot rule out, and its warning when it should not be trusted as it stands."""

    model_config = ConfigDict(extra="allow")  # the calibration's own fields (calibration.json), as they grow
    project: str
    model_id: str
    version: str
    active: bool
    threshold: float
    warning: Optional[str] = None


class HistoryRow(Documented):
    id: int
    time: str
    source: Optional[str]
    file_name: Optional[str]
    sha256: Optional[str]
    model_id: Optional[str]
    model_version: Optional[str]
    score: Optional[float]
    threshold: Optional[float]
    verdict: VerdictName
    reason: Optional[str]
    regions: list[dict[str, Any]]
    latency: Optional[float]
    heatmap_path: Optional[str]
    error: Optional[str]
    label: Optional[Literal["false_reject", "false_accept"]] = Field(description="a reviewer's mark")
    key: Optional[str] = Field(description="inspector run's exactly-once key of the file or frame")
    part_id: Optional[str]
    archive_path: Optional[str]
    purpose: Literal["line", "bench", "master"]
    expected: Optional[VerdictName] = Field(description="a master part's expected verdict")
    marked_by: Optional[str]
    marked_at: Optional[str]
    error_code: Optional[int] = Field(None, description="an ERROR's cause (the PLC's ErrorCode, docs/plc.md); null "
                                      "for any other verdict, or a row written before the history kept it")
    heatmap_png_base64: Optional[str] = Field(None, description="with heatmap=true: the kept thumbnail")


class History(Documented):
    project: str
    counts: Counts
    rows: list[HistoryRow] = Field(description="newest first")


class MarkedRow(Documented):
    project: str
    row: HistoryRow


class VersionList(Documented):
    project: str
    versions: list[dict[str, Any]]


class Activated(Documented):
    project: str
    active: dict[str, Any]
    warning: Optional[str] = Field(None, description="the version activated is not calibrated: no verdicts")


class AuditChain(Documented):
    intact: bool = Field(description="false: rows were edited, removed or put in by hand since they were written")
    problems: list[str]


class AuditTrail(Documented):
    project: str
    audit: list[dict[str, Any]] = Field(description="oldest first: time, who, action, version, old, new, note")
    chain: AuditChain


class Periods(Documented):
    project: str
    by: Literal["hour", "day", "shift"]
    periods: list[dict[str, Any]]
    total: dict[str, Any]


class Zones(Documented):
    project: str
    zones: list[dict[str, Any]]


class Cause(Documented):
    error_code: Optional[int] = Field(description="the PLC's ErrorCode (docs/plc.md); null: not recorded")
    cause: str = Field(description="its name: image_invalid, image_check, no_image, repeated_image, part_mismatch, "
                       "unknown_recipe, model_unusable, other; not_recorded")
    description: str
    ERROR: int = Field(description="ERROR production parts of this cause")
    share: float = Field(description="of the ERRORs")


class Causes(Documented):
    project: str
    causes: list[Cause] = Field(description="most first")


class Alarms(Documented):
    project: str
    events: list[dict[str, Any]]
    totals: list[dict[str, Any]]


class Restored(Documented):
    project: str
    backup: dict[str, Any]
    inspects: bool
    warning: Optional[str] = None


class DisplayStation(Documented):
    project: Optional[str] = Field(description="null before a model judged a part or the display was opened")
    version: Optional[str]
    threshold: Optional[float]
    calibrated: bool = Field(description="false: no verdicts (the page says so)")
    running: bool
    started: Optional[float] = Field(description="epoch seconds")


class DisplayShift(Documented):
    label: str = Field(description="its start, local time: 2026-12-07 14:00")
    start: float = Field(description="epoch seconds")
    counts: Optional[Counts] = Field(description="its production parts; null when the history cannot be read")


class DisplayAlarm(Documented):
    name: str
    text: str
    details: str = Field(description="the text after 'ALARM name: '")
    figures: Optional[dict[str, Any]] = Field(
        description="the streaks', the yield's and the drift's figures, which the page words in its language "
                    "(n, reason, and an error streak's cause: the last ERROR's ErrorCode; yield, n, limit; n, "
                    "share); null for the alarms of the surroundings (disk, source, ...)")


class DisplayDefect(Documented):
    area: float
    unit: Literal["mm²", "px"]
    zone: Optional[str] = Field(description="with inspection zones, the zone that weighs most in it ('rest': outside "
                                            "every zone); null without zones")


class DisplayPart(Documented):
    seq: int = Field(description="counts the parts shown; the picture's number")
    row_id: Optional[int]
    name: str
    part_id: Optional[str]
    verdict: VerdictName
    score: Optional[float]
    threshold: Optional[float]
    reason: str
    why: Optional[Literal["below", "small", "defects", "edge", "not_found", "no_verdict"]] = Field(
        description="what decided the part's verdict (the page words it in its language): below the threshold, no "
                    "defect that counts, defects that count, those only on the ROI's edge, not found, no usable "
                    "calibration; null for an ERROR (its error_code)")
    error_code: int = Field(description="an ERROR's cause (docs/plc.md), else 0")
    time: float = Field(description="epoch seconds")
    latency_ms: Optional[float]
    model_version: Optional[str]
    defects: int = Field(description="the regions that count")
    largest: Optional[DisplayDefect]
    master: Optional[dict[str, Any]] = Field(description="a master part's check: expected, passed")
    picture: Optional[str] = Field(description="its picture, relative to the display's address; null: no image")


class DisplayRecentPart(Documented):
    seq: int
    verdict: VerdictName
    name: str
    part_id: Optional[str]
    score: Optional[float]
    ratio: Optional[float] = Field(description="score / its threshold (1: at the threshold); null unscored")
    time: float
    master: bool


class DisplayState(Documented):
    """What the line display shows (docs/plc.md, "The line display")."""

    station: DisplayStation
    now: float
    loop_age_s: float = Field(description="seconds since the line last proved alive (the page greys out past 5)")
    plc: Optional[list[str]] = Field(None, description="the PCs connected to the run's PLC servers (inspector run's "
                                     "display); null where no PLC is served (the service)")
    shift: DisplayShift
    alarms: list[DisplayAlarm]
    part: Optional[DisplayPart] = Field(description="the last part; null before the first")
    last_ng: Optional[DisplayPart] = Field(description="the last NG production part, held while good parts pass")
    recent: list[DisplayRecentPart] = Field(description="the last 60 parts, newest first (the page's trend)")


# Every route may answer these, each with ErrorBody (errors.py): given app-wide, and in place of FastAPI's own 422.
ERRORS = {
    400: "a bad project name",
    401: "no or a wrong bearer token (--token-file)",
    403: "the token's roles do not allow this",
    404: "no such project, version, row, job or endpoint",
    409: "the project is busy or exists, the job has ended",
    413: "the request, an image or the image count is over the service's limits",
    422: "an input is invalid: the message names it",
    500: "a fault of the service (logged); the request changed nothing it reports",
    503: "the server's installation lacks what this needs (weights)",
    507: "the disk is full, read-only or not permitted: said in plain words",
}
ERROR_RESPONSES = {status: {"model": ErrorBody, "description": text} for status, text in ERRORS.items()}


def answer(model: type[BaseModel], status: int = 200) -> dict:
    """A route's `responses=`: its JSON answer documented as `model`."""
    return {status: {"model": model}}
