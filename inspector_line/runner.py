"""The run mode: inspect every image a source delivers exactly once, record it, archive it, post it.

The same Runner serves `inspector run` (inspector_line.cli) and the GUI's Run
view (app/panels/run_panel.py); they differ only in what they do with each
`PartResult` (print a line / update the window). Inspection and its history
row are the station layer's (station.Station.inspect), as for every client;
the model is the project's active version, looked up at every batch, so an
activation or rollback takes effect at the next part.

Order of work per part: score -> history row (with the part's exactly-once
key and the result owed to the receivers, one transaction) -> PLC, alarms,
sending (from the outbox) -> archive (in its own thread, archive_queue.py: no PLC
waits for an image's copy, and an archive share that hangs never stops the line).
The archive never fills its disk (its keeper, inspector_line/archive_keeper.py),
and the disk alarm rises while the history's or the archive's disk is short of
the free space kept there. A crash before the row loses only
the part in flight, which is inspected again after a restart; a crash after it
leaves a part that the history already knows, so it is never inspected twice
(its row says whether its image is still owed to the archive: the restart archives it from the folder).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from inference import ImageError, InferenceResult, InspectorError, Model, ProjectError, Verdict, VerdictCounts
from station import ErrorCode, Outcome, PartIdPattern, Station, checked_part_id, model_notice
from station.backup_watch import BackupWatch
from station.drift import Drift
from station.repeated_images import RepeatedImages
from station.masters import Masters, MasterWatch, part_key

from station.line_io.publisher import Publisher, result_payload
from .item_image import ChangedSinceComplete, changed, read_item
from .run_archive import RunArchive
from .runlock import acquire_run_lock
from .sources import Item, file_identity, key_file
from .systemd_notify import notify
from .run_triggers import Triggers
from .trigger_sync import DEFAULT_TRIGGER_TIMEOUT_S, wall_time

RETENTION_EVERY = 1000  # rows between retention passes
MESSAGES_KEPT = 1000  # the newest messages in the run's summary
ALIVE_EVERY_S = 1.0  # the PLC's Heartbeat and systemd's watchdog ping, from the run's loop
KEYS_KEPT_S = 7 * 86400  # exactly-once keys of files gone from the folder are forgotten after this


@dataclass
class RunOptions:
    archive: Optional[Path] = None
    move: bool = False  # move into the archive instead of copying
    post_url: Optional[str] = None
    batch_size: Optional[int] = None  # default: the model's batch_size
    idle_exit_s: Optional[float] = None  # stop after this long with nothing new (batch jobs, tests)
    drift_last: int = 200  # OK scores in the rolling drift view
    drift_every: int = 10  # OK parts between drift checks
    drift_warn_at: float = 0.5
    keep_days: Optional[float] = None  # history retention
    keep_rows: Optional[int] = None
    archive_keep_days: Optional[float] = None  # archived images older than this go (inspector_line/archive_keeper)
    lock: bool = True  # one run per history at a time
    part_id_pattern: Optional[str] = None  # regex: each part's id from its file name (first group)
    # -- line I/O (issue 20): station/line_io/publisher.py --------------------------------------------------
    outbox_max: int = 10000  # results kept per receiver while it is down; past it the oldest are dropped
    alarm_limits: Optional[object] = None  # station.line_io.alarms.AlarmLimits (default limits when None)
    mqtt: Optional[object] = None  # station.line_io.mqtt.MqttReceiver
    plcs: list = field(default_factory=list)  # PLC handshakes (station.line_io.handshake.Handshake, or a server)
    free_run: bool = True  # False: a part is inspected only when a PLC sets Trigger or a photo-eye sees it
    photo_eyes: list = field(default_factory=list)  # station.line_io.photo_eye.PhotoEye (--io-trigger): trigger too
    trigger_timeout_s: Optional[float] = DEFAULT_TRIGGER_TIMEOUT_S  # a Trigger with no image then: ERROR (0: never)
    metrics: Optional[object] = None  # station.line_io.metrics.RunMetrics
    display: Optional[object] = None  # station.line_io.display.LineDisplay: the station's monitor (--display)
    outputs: list = field(default_factory=list)  # outputs the station drives (station.line_io.remote_io, --io)
    recipes: list = field(default_factory=list)  # Stations a PLC selects by recipe index (0: the runner's own)
    masters: Optional[Masters] = None  # master parts (station.masters): checks of the station, not production
    master_every_s: Optional[float] = None  # each master must pass this often (the master_due alarm)
    backups: Optional[Path] = None  # the backup folder watched (station.backup_watch: the backup_due alarm)
    backup_every_s: Optional[float] = None  # how recent each project's newest backup there must be


RunCounts = VerdictCounts  # the one count and yield of every client (inference.VerdictCounts)


@dataclass
class PartResult:
    """One inspected part, as the CLI line and the GUI show it."""

    row_id: int
    name: str
    verdict: Verdict
    score: Optional[float]
    threshold: Optional[float]
    reason: str
    error: Optional[str]
    latency: float  # seconds from image complete to history row
    counts: RunCounts  # a snapshot: the runner's own counts go on changing
    result: Optional[InferenceResult] = None
    image: Optional[np.ndarray] = None  # RGB, for the GUI's live view
    drift: Optional[Drift] = None
    part_id: Optional[str] = None
    model_version: Optional[str] = None
    expected: Optional[Verdict] = None  # a master part's: the verdict it must get (its check: verdict is expected)


@dataclass
class RunSummary:
    counts: RunCounts
    seconds: float
    skipped: int  # already in the history
    interrupted: bool
    drift: Optional[Drift]
    post_failed: int = 0
    messages: list = field(default_factory=list)
    delivery: list = field(default_factory=list)  # station.line_io.outbox.OutboxStats per receiver
    alarms: dict = field(default_factory=dict)  # alarms still active at the end
    master_checks: dict = field(default_factory=dict)  # {"passed": n, "failed": m} with master parts configured
    error_causes: dict = field(default_factory=dict)  # production ERRORs by cause (ErrorCode.cause), most first

    @property
    def causes_text(self) -> str:
        """"ERROR by cause: image_check 2, no_image 1", as the run's end says it."""
        return "ERROR by cause: " + ", ".join(f"{cause} {n}" for cause, n in self.error_causes.items())


class Runner:
    def __init__(
        self,
        station: Station,
        source,
        options: Optional[RunOptions] = None,
        on_part: Optional[Callable[[PartResult], None]] = None,
        on_message: Optional[Callable[[str], None]] = None,
        model: Optional[Model] = None,
    ):
        """`model`: inspect with this model instead of the project's active version (e.g. the window's)."""
        self.station = station
        self.fixed_model = model
        self.model = model or station.model()
        self.source = source
        self.history = station.history
        self.options = options or RunOptions()
        self.part_ids = PartIdPattern(self.options.part_id_pattern) if self.options.part_id_pattern else None
        self.on_part = on_part
        self.on_message = on_message
        if hasattr(source, "on_message") and source.on_message is None:
            source.on_message = self._say  # the folder's lines about skipped files, with the run's messages
        if hasattr(source, "known"):
            source.known = self._known_key  # a file the history knows is skipped without reading it
        self.counts = RunCounts()  # production parts: master parts are checks of the station (the publisher's watch)
        self.error_causes: Counter = Counter()
        if self.options.masters is not None:
            for each in (station, *self.options.recipes):
                each.masters = self.options.masters  # a master part's row says so (Station.finish)
        self.skipped = 0
        self.drift: Optional[Drift] = None
        self._ok_since_drift = 0
        self._messages: deque[str] = deque(maxlen=MESSAGES_KEPT)  # the summary's; a run of months says many
        self.archive = None if self.options.archive is None else RunArchive(self.options, self.history,
                                                                            self._known_key, self._say)
        self.publisher: Optional[Publisher] = None
        self._owed: dict[int, dict] = {}  # id(item) -> {"payload": ...} once stored with its history row
        self._armed = None  # triggered mode: the Trigger taken (part id, recipe); the next part answers it
        self.triggers = Triggers(self.options.plcs + self.options.photo_eyes, self.options.recipes,
                                 self.options.trigger_timeout_s, self._say)
        self._sync = self.triggers.sync  # which image answers which Trigger
        # A frozen camera's frames are ERRORs, never judged: sources whose every item is a new capture say so
        # (a folder, a live camera; not a video file).
        self._repeats = RepeatedImages() if getattr(source, "fresh_captures", False) else None

    def _known_key(self, where: Path, st) -> Optional[str]:
        return self.history.key_for_file(str(where), file_identity(st))

    # -- messages ---------------------------------------------------------------
    def _say(self, text: str) -> None:
        self._messages.append(text)
        if self.on_message is not None:
            self.on_message(text)

    def _backup_watch(self) -> Optional[BackupWatch]:
        """The backup folder's watch over every project this run can judge with (its own and the recipes')."""
        o = self.options
        if o.backups is None:
            return None
        names = [s.project.resolve().name for s in (o.recipes or [self.station])]
        return BackupWatch(o.backups, names, o.backup_every_s)

    # -- the loop ---------------------------------------------------------------
    def run(self, stop: Optional[threading.Event] = None) -> RunSummary:
        """Inspect until `stop` is set, the source is exhausted, or it stays idle for idle_exit_s."""
        stop = stop or threading.Event()
        lock = self._lock()
        t0 = time.perf_counter()
        try:
            o = self.options
            if self.archive is not None:
                self.archive.open()
            self.publisher = Publisher(self.history.path, post_url=o.post_url, mqtt=o.mqtt, plcs=o.plcs,
                                       metrics=o.metrics, alarm_limits=o.alarm_limits, outbox_max=o.outbox_max,
                                       on_message=self._say,
                                       disk_checks=self.archive.disk_checks() if self.archive else [],
                                       masters=MasterWatch(o.masters, o.master_every_s, self.history)
                                       if o.masters is not None else None, backups=self._backup_watch(),
                                       display=o.display, outputs=o.outputs)
            if self.archive is not None:
                self.archive.start()
            self.publisher.set_model(self.model)
            if o.metrics is not None:
                o.metrics.watch_queue(lambda: getattr(self.source, "waiting", 0))
            self.publisher.start()
            self._retention()
            self._check_drift(force=True)
            self.source.start()
            step = self.options.batch_size or self.model.config.batch_size
            idle_since = time.monotonic()
            notify("READY=1")  # systemd (Type=notify): the run inspects
            alive_at = -float("inf")
            while not stop.is_set():
                self.publisher.tick(self.triggers.problem(getattr(self.source, "problem", None)))  # with no part too
                if time.monotonic() - alive_at >= ALIVE_EVERY_S:  # from this loop: silent when it hangs
                    alive_at = time.monotonic()
                    self.publisher.beat()  # the PLC's Heartbeat
                    notify("WATCHDOG=1")  # systemd's watchdog (WatchdogSec)
                if not self.options.free_run and not self._armed:  # a PLC / photo-eye decides when a part is taken
                    self._armed, self.station = self.triggers.take(self.station)
                    if self._armed is not None and hasattr(self.source, "frame_after"):  # a live camera
                        self.source.frame_after(self._armed.frame_after or self._armed.taken)
                if not self.options.free_run and not self._armed:
                    if self.options.idle_exit_s is not None and \
                            time.monotonic() - idle_since >= self.options.idle_exit_s:
                        break
                    continue
                batch = self.source.next_batch(step if self.options.free_run else 1, timeout=0.2)
                if batch:
                    self._process(batch)
                    idle_since = time.monotonic()
                elif self._armed is not None and self._answer_without_image():
                    idle_since = time.monotonic()
                elif self.source.exhausted:
                    break
                elif self.options.idle_exit_s is not None and time.monotonic() - idle_since >= self.options.idle_exit_s:
                    break
        finally:
            notify("STOPPING=1")
            self.triggers.stopped(self._armed)
            self.source.stop()
            if self.archive is not None:
                self.archive.close()
            if self.publisher is not None:
                self.publisher.close()
            if lock is not None:
                lock.release()
        delivery = self.publisher.stats() if self.publisher else []
        post = next((d for d in delivery if d.target == self.options.post_url), None)
        return RunSummary(self.counts.copy(), time.perf_counter() - t0, self.skipped, stop.is_set(), self.drift,
                          post.failed if post else 0, list(self._messages), delivery,
                          dict(self.publisher.alarms.active) if self.publisher else {},
                          self._master_checks(), dict(self.error_causes.most_common()))

    def _master_checks(self) -> dict:
        """This run's master parts' checks, as its MasterWatch counted them; {} without master parts."""
        watch = self.publisher.masters if self.publisher is not None else None
        return {} if watch is None else {"passed": watch.passed, "failed": watch.failed_count}

    def _lock(self):
        return acquire_run_lock(self.history.path) if self.options.lock else None

    # -- one batch --------------------------------------------------------------
    def _process(self, items: list[Item]) -> None:
        """Score the batch in one station call; finish the parts in arrival order, errors included."""
        todo: list[tuple[Item, Optional[np.ndarray], Optional[str]]] = []  # (item, pixels, why not inspected)
        for item in items:
            if item.key is not None and self.history.seen(item.key):
                self.skipped += 1
                if self.archive is not None:
                    self.archive.leftover(item)
                continue
            if self._armed is not None and self._sync.late(item):
                self._finish_error(item, "this image came after its Trigger had timed out (ERROR answered) and "
                                   "before the next Trigger: recorded, it answers no Trigger", answer=False)
                continue
            if self._armed is not None and self.triggers.unknown_recipe:
                self._finish_error(item, self.triggers.unknown_recipe, cause=ErrorCode.UNKNOWN_RECIPE)
                continue
            if item.image is None:  # a trigger's camera frame that cannot be had, or did not decode (camera_source.py)
                cause = ErrorCode.parse(item.extra.get("cause", "no_image"))
                todo.append((item, None, (item.extra.get("error", "no image"), cause)))
                continue
            mismatch = self._other_part(item)
            if mismatch:
                self._finish_error(item, mismatch, cause=ErrorCode.PART_MISMATCH)
                continue
            try:
                rgb, data = read_item(item)
            except ChangedSinceComplete as exc:
                self._say(str(exc))
                self.source.requeue(item, unreadable=False)
                continue
            except ImageError as exc:
                if changed(item) or (item.path is not None and not item.extra.get("retried")):
                    # Maybe still being written (a writer that stalled): look again once it settles again.
                    self.source.requeue(item)
                    continue
                todo.append((item, None, (str(exc), ErrorCode.IMAGE_INVALID)))
                continue
            if data is not None and getattr(self.source, "reuse_names", False) and not self.options.move:
                item.extra["inspected"] = data  # what the archive keeps: the file may be the next part's by then
            # after the load: a requeued image is no repeat of itself
            repeated = self._repeats.problem(item.sha256, item.name, self._part_id_or_none(item)) \
                if self._repeats else None
            todo.append((item, None, (repeated, ErrorCode.REPEATED_IMAGE)) if repeated else (item, rgb, None))
        try:
            before, self.model = self.model, self.fixed_model or self.station.model()  # an activation: next batch
            if (self.model.folder, self.model.version) != (before.folder, before.version):
                notice = model_notice(self.model)
                self._say(f"now inspecting with {self.model.folder.name} version {self.model.version}"
                          + (f"; {notice}" if notice else ""))
        except ProjectError as exc:
            # The model's files changed and cannot be loaded now (a new export half copied over the folder, a
            # damaged file): every part of this batch is an ERROR naming why, never a verdict from a model the
            # files no longer hold, and the line keeps running; the next batch loads again.
            for item, _, _ in todo:
                self._finish_error(item, f"the model cannot be loaded: {exc}", no_model=True,
                                   cause=ErrorCode.MODEL_UNUSABLE)
            return
        if self.publisher is not None:
            self.publisher.set_model(self.model)
        good = [(item, rgb) for item, rgb, _ in todo if rgb is not None]
        outcomes = iter(self.station.inspect(
            [rgb for _, rgb in good], names=[item.name for item, _ in good], model=self.model,
            part_ids=[self._part_id(item) for item, _ in good], source=self.source.label,
            rows=[{"sha256": item.sha256, "key": item.key, "file_version": _file_version(item),
                   "in_transaction": self._owed_hook(item), **self._archive_mark(item)} for item, _ in good],
            row_for=lambda i, result: {"latency": max(0.0, time.time() - good[i][0].arrived),
                                       "time": time.time()}) if good else [])
        for item, rgb, error in todo:
            if rgb is not None:
                self._finish(item, next(outcomes), rgb)
            else:
                self._finish_error(item, *error)

    def _finish_error(self, item: Item, message: str, cause: ErrorCode = ErrorCode.OTHER, no_model: bool = False,
                      answer: bool = True) -> None:
        """A part that never reached the engine: an ERROR outcome with its history row, sent as any result is
        (`no_model`: the row names no model, none could be loaded for it; `answer` False: a late image, which
        answers no PLC Trigger and is recorded under the timed-out Trigger's part id)."""
        part_id = self._part_id(item) if answer else checked_part_id(self._sync.late_part_id)
        self._finish(item, self.station.error(
            item.name, message, part_id=part_id, source=self.source.label, no_model=no_model, cause=cause,
            row={"sha256": item.sha256, "key": item.key, "file_version": _file_version(item),
                 "latency": max(0.0, time.time() - item.arrived), "in_transaction": self._owed_hook(item),
                 **self._archive_mark(item)}),
            None, answer=answer)

    def _answer_without_image(self) -> bool:
        """Triggered mode, nothing arrived: a Trigger that timed out, or that no image can answer now (the source is
        gone), is answered ERROR so that the PLC goes on (trigger_sync.py). True when it was answered."""
        reason = self._sync.unanswerable(self._armed, getattr(self.source, "problem", None))
        if reason is None:
            return False
        trigger = self._armed
        item = Item("(no image)", None, None, None, wall_time(trigger.taken))
        unknown = self.triggers.unknown_recipe  # the first thing wrong with this Trigger, whether or not its image came
        self._finish_error(item, f"{unknown}; {reason}" if unknown else reason,
                           ErrorCode.UNKNOWN_RECIPE if unknown else ErrorCode.NO_IMAGE)
        self._sync.timed_out(trigger)
        return True

    def _other_part(self, item: Item) -> Optional[str]:
        """With a PLC part id and --part-id-pattern both, an image named for another part is never judged as the
        Trigger's part (images and Triggers out of step: a missed or doubled camera trigger): why, else None."""
        if self._armed is None or not self._armed.part_id or self.part_ids is None:
            return None
        named, wanted = self.part_ids(item.name), self._armed.part_id
        if named is None or part_key(named) == part_key(wanted):  # case and spaces aside, 000123 is 123
            return None
        return (f"the image {item.name} is part {named} (--part-id-pattern) but the PLC's Trigger is for part "
                f"{self._armed.part_id}: not judged, images and Triggers are out of step")

    def _part_id(self, item: Item) -> Optional[str]:
        if self._armed is not None and self._armed.part_id:  # the part id the PLC wrote before Trigger
            return checked_part_id(self._armed.part_id)
        if self.part_ids is None:
            return None
        return checked_part_id(self.part_ids(item.name))

    def _part_id_or_none(self, item: Item) -> Optional[str]:
        try:
            return self._part_id(item)
        except InspectorError:  # refused where the part is recorded; here it only tells repeats apart
            return None

    def _finish(self, item: Item, outcome: Outcome, rgb: Optional[np.ndarray], answer: bool = True) -> None:
        now = time.time()
        latency = max(0.0, now - item.arrived)
        verdict = outcome.verdict
        result = outcome.result
        if outcome.expected is None:
            self.counts.add(verdict)
            if verdict is Verdict.ERROR:
                self.error_causes[outcome.error_code.cause] += 1
        # What the metrics time: from the PLC's Trigger when triggered, else from the image complete.
        waited = latency if self._armed is None or not answer else max(0.0, time.monotonic() - self._armed.taken)
        if answer and self._armed is not None and item.image is not None:
            self._sync.answered(self._armed, item)
        if answer:
            self._armed = None
        if self.publisher is not None:
            payload = self._owed.pop(id(item), {}).get("payload")  # kept in the outbox with the row (one commit)
            stored = payload is not None
            self.publisher.publish(payload if stored else self._payload(item, outcome, now), outcome, waited, stored,
                                   to_plc=answer, image=rgb)
        # Archived by its own thread once the PLC has its answer: a large image, or a network share that is slow
        # or hangs, is no part of the line's response time. A crash before leaves the row owed (run_archive.py).
        if item.image is not None and self.archive is not None:
            self.archive.put(item, verdict, now, outcome.row_id, item.extra.pop("inspected", None))
        if verdict == "OK" and outcome.expected is None:  # a master part says nothing of the line's drift
            self._ok_since_drift += 1
            self._check_drift()
        if outcome.expected is None and self.counts.total % RETENTION_EVERY == 0:
            self._retention()
        if self.on_part is not None:
            self.on_part(PartResult(outcome.row_id, item.name, verdict, outcome.score, outcome.threshold,
                                    outcome.reason, outcome.error, latency, self.counts.copy(), result, rgb,
                                    self.drift, outcome.part_id, outcome.model_version, outcome.expected))

    def _payload(self, item: Item, outcome: Outcome, now: float) -> dict:
        """The result as the receivers get it (--post, --mqtt): the history row's id, the outcome, the source."""
        payload = result_payload(outcome, now, source=self.source.label, file_name=item.name, sha256=item.sha256,
                                 latency=round(max(0.0, now - item.arrived), 4))
        payload["name"] = item.name
        return payload

    def _owed_hook(self, item: Item):
        """The part's history row also stores its result in the outboxes, in the row's own transaction."""
        if self.publisher is None:
            return None
        return self.publisher.owed_hook(lambda outcome: self._payload(item, outcome, time.time()),
                                        self._owed.setdefault(id(item), {}))

    # -- archive, drift, retention ---------------------------------------------------
    def _archive_mark(self, item: Item) -> dict:
        return self.archive.owed_mark(item) if self.archive is not None else {}

    def _check_drift(self, force: bool = False) -> None:
        cal = self.model.calibration
        if cal is None or not cal.ok_scores:
            return
        if not force and self._ok_since_drift < self.options.drift_every:
            return
        self._ok_since_drift = 0
        before = self.drift.warning if self.drift else False
        self.drift = self.history.drift(cal.ok_scores, cal.threshold, model_id=self.model.model_id,
                                        last=self.options.drift_last, warn_at=self.options.drift_warn_at)
        if self.drift.warning and not before:
            self._say(self.drift.message)
        elif before and not self.drift.warning:
            self._say("drift cleared: " + self.drift.message)

    def _retention(self) -> None:
        # The exactly-once keys of files that left the folder a week ago go whatever the rows' retention: a part
        # cannot come back from there, and a run of months would keep them all.
        self.history.prune_keys(time.time() - KEYS_KEPT_S, gone=_file_gone)
        if self.options.keep_days is None and self.options.keep_rows is None:
            return
        self.history.apply_retention(self.options.keep_days, self.options.keep_rows)
        if self.options.keep_days is not None and self.publisher is not None:
            self.publisher.alarm_log.forget_before(time.time() - self.options.keep_days * 86400)


def _file_version(item: Item) -> Optional[tuple[str, str]]:
    """(the file its key names, that file's version) for History.key_for_file; None for frames."""
    path = key_file(item.key) if item.key else None
    version = item.extra.get("file")
    return (str(path), version) if path is not None and version else None


def _file_gone(key: str) -> bool:
    path = key_file(key)
    return path is not None and not path.exists()

