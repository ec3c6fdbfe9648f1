"""`inspector serve`'s line I/O: each project's line inspections (purpose `line`) go through the station layer's
Publisher, as `inspector run`'s parts do: the alarms (ng_streak, yield, drift, ... per project), the metrics, and,
with `--post URL` / `--mqtt mqtt://HOST:PORT/TOPIC`, the outbox in the project's history database (the result
stored in the same transaction as its history row). MQTT topics are per project: TOPIC/NAME for results and
TOPIC/NAME/alarm (retained) for its alarms. With `--archive DIR` each line request's images are kept as they came,
in DIR/NAME/<date>/<verdict>/, by the run mode's archive, its keeper (the disk never fills; a reviewer's marked
images stay) and its thread (no request waits for the archive), and each history row says where. With `--masters
FILE` a line request whose part_id is a master part's is a check of the station (station/masters.py): its row
says so, and the project's master_failed / master_due alarms follow it. A line image sent again for the same part
(a client's retry) is answered from its first inspection (station/resends.py). Each project's publisher also feeds
its line display (station/line_io/display.py; the page at /projects/NAME/display/: inspector_service/display.py)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Optional, Sequence

from inference import error_result
from inspector_line.archive_keeper import ArchiveKeeper
from inspector_line.archive_queue import ArchiveQueue
from inspector_line.sinks import Archiver

from station.history_periods import DEFAULT_SHIFTS
from station.line_io.alarms import AlarmLimits
from station.line_io.display import LineDisplay
from station.backup_watch import BackupWatch
from station.masters import Masters, MasterWatch
from station import ErrorCode
from station.repeated_images import RepeatedImages
from station.resends import Resends
from station.line_io.metrics import LineMetrics
from station.line_io.publisher import Publisher, result_payload
from station.station import thumbnail_row

log = logging.getLogger("inspector.service")


class ServiceLine:
    def __init__(self, metrics: LineMetrics, post_url: Optional[str] = None, mqtt_url: Optional[str] = None,
                 alarm_limits: Optional[AlarmLimits] = None, outbox_max: int = 10000,
                 archive: Optional[Path] = None, archive_keep_days: Optional[float] = None,
                 masters: Optional[Masters] = None, master_every_s: Optional[float] = None,
                 backups: Optional[Path] = None, backup_every_s: Optional[float] = None,
                 shifts: Sequence[int] = DEFAULT_SHIFTS):
        """`masters`: the line's master parts (the service's Stations are given them: Projects), each project's
        checks watched by its publisher, every `master_every_s` at least. `backups`: the backup folder, where each
        project's publisher looks for a backup of it younger than `backup_every_s` (the backup_due alarm). `shifts`:
        the hours the shifts start at, which each project's line display counts."""
        self.metrics = metrics
        self.masters, self.master_every_s = masters, master_every_s
        self.backups, self.backup_every_s = backups, backup_every_s
        self.post_url, self.mqtt_url = post_url, mqtt_url
        self.alarm_limits, self.outbox_max = alarm_limits, outbox_max
        self.shifts = tuple(shifts)
        self.archive_root, self.archive_keep_days = archive, archive_keep_days
        self._publishers: dict[str, Publisher] = {}
        self._displays: dict[str, LineDisplay] = {}  # opened by a page before the first line part, or by that part
        self._archivers: dict[str, ArchiveQueue] = {}
        # Per project: the same image sent for another part is a frozen camera's (station/repeated_images.py)
        self._repeats: dict[str, RepeatedImages] = {}
        # Per project: the answers a client's retry gets again (station/resends.py)
        self._resends: dict[str, Resends] = {}
        self._lock = threading.Lock()

    @property
    def archiving(self) -> bool:
        return self.archive_root is not None

    def _archiver(self, name: str, station) -> Optional[ArchiveQueue]:
        """The project's archive, its keeper and its thread (an archive share that hangs never holds up a
        request), started with the project's first line inspection."""
        if self.archive_root is None:
            return None
        archiving = self._archivers.get(name)
        if archiving is None:
            say = _teller(name)
            keeper = ArchiveKeeper(self.archive_root / name, keep_days=self.archive_keep_days,
                                   min_free=(self.alarm_limits or AlarmLimits()).min_free, on_message=say,
                                   marked=station.history.marked_archive_paths)
            archiving = self._archivers[name] = ArchiveQueue(Archiver(self.archive_root / name, keeper=keeper),
                                                             record=station.history.set_archive_path, on_message=say)
            keeper.start()
        return archiving

    def publisher(self, name: str, station) -> Publisher:
        """The project's publisher, started at its first line inspection."""
        with self._lock:
            publisher = self._publishers.get(name)
            if publisher is None:
                mqtt = None
                if self.mqtt_url:
                    from station.line_io.mqtt import MqttReceiver

                    mqtt = MqttReceiver(f"{self.mqtt_url.rstrip('/')}/{name}")
                archiving = self._archiver(name, station)
                publisher = Publisher(station.history.path, post_url=self.post_url, mqtt=mqtt, metrics=self.metrics,
                                      alarm_limits=self.alarm_limits, outbox_max=self.outbox_max,
                                      on_message=_teller(name),
                                      disk_checks=[archiving.archiver.keeper.problem, archiving.problem]
                                      if archiving else [],
                                      masters=MasterWatch(self.masters, self.master_every_s, station.history)
                                      if self.masters is not None else None,
                                      backups=BackupWatch(self.backups, [name], self.backup_every_s)
                                      if self.backups is not None else None, project=name,
                                      display=self._display_of(name, station))
                publisher.start()
                self._publishers[name] = publisher
            return publisher

    def display(self, name: str, station, model=None) -> LineDisplay:
        """The project's line display; `model`: the one its next part is judged with, which it names before any part
        came. A page asks for it: that starts nothing else of the line (no MQTT, no backup watch: those start with
        the first line part, whose publisher then feeds this display)."""
        with self._lock:
            display = self._display_of(name, station)
        if model is not None:
            display.set_model(model)
        return display

    def _display_of(self, name: str, station) -> LineDisplay:
        """The project's display, made and counting from its history at the first ask (under self._lock)."""
        display = self._displays.get(name)
        if display is None:
            display = self._displays[name] = LineDisplay(self.shifts)
            display.start(station.history.path)
        return display

    def beat(self) -> None:
        """The line is alive (the service's watchdog: the inference thread answers): each display's beat."""
        with self._lock:
            displays = list(self._displays.values())
        for display in displays:
            display.beat()

    def finish(self, name: str, station, model, result, *, part_id: Optional[str], started: float,
               digest: Optional[str] = None, image=None) -> tuple:
        """One scored image of a line request: its history row (and the result owed to the receivers, in the same
        transaction), then alarms, metrics, delivery and the line display; (its outcome, None). `started`:
        perf_counter when the request arrived. `digest`: the upload's sha256, kept in the row; the same image as
        the project's line image before, for another part, is an ERROR saying so, not that part's verdict; sent
        again for the same part to the same model (a client's retry: station/resends.py), it is (None, what its
        first inspection answered), and nothing is recorded or published again. `image`: its RGB pixels, which
        the display shows."""
        publisher = self.publisher(name, station)
        thumbnail = thumbnail_row(result)  # outside the lock: the other requests' parts need not wait for it
        with self._lock:  # one request's parts at a time per service: alarms see the parts in row order
            resends = self._resends.setdefault(name, Resends())
            earlier = resends.answered(digest, part_id, model.model_id)  # a retry that came while its first ran
            if earlier is not None:
                return None, earlier
            repeated = self._repeats.setdefault(name, RepeatedImages(only_between_part_ids=True)).problem(
                digest, result.name, part_id)
            if repeated:
                result = error_result(result.name, repeated, result.token_shape, result.threshold)
                thumbnail = {}  # an ERROR row: no map of the image it repeats
            publisher.set_model(model)
            keep: dict = {}
            hook = publisher.owed_hook(lambda outcome: result_payload(outcome, time.time(), source="http",
                                                                      project=name, file_name=result.name), keep)
            outcome = station.finish(model, result, part_id=part_id, source="http", purpose="line",
                                     row={"sha256": digest, **thumbnail, **({"in_transaction": hook} if hook else {})},
                                     cause=ErrorCode.REPEATED_IMAGE if repeated else None)
            payload = keep.get("payload")
            publisher.publish(payload or result_payload(outcome, time.time(), source="http", project=name,
                                                        file_name=result.name),
                              outcome, time.perf_counter() - started, stored=payload is not None,
                              image=image)
            resends.remember(digest, part_id, outcome)
        return outcome, None

    def answered(self, name: str, digest: Optional[str], part_id: Optional[str], model_id: Optional[str]):
        """What a line image got when it was sent for this part before, to this model (a client's retry,
        station/resends.py: an Answer); None: inspect it. Asked before scoring, so a retry costs the backbone
        nothing (the retries of a service too slow to answer in time would make it slower still); `finish` asks
        again for a retry that came while its first was being inspected."""
        with self._lock:
            resends = self._resends.get(name)
            return resends.answered(digest, part_id, model_id) if resends is not None else None

    def resent(self, name: str, earlier, file_name: str) -> None:
        """A retry answered with `earlier` (an Answer): said in the log and counted in the metrics, nothing else."""
        _teller(name)(f"part {earlier.part_id}: {file_name} sent again, the same image (a client's retry?): answered "
                      f"from its inspection in history row {earlier.row_id}, not inspected or counted again")
        self.metrics.observe_resent(name)

    def archive(self, name: str, data: bytes, file_name: str, outcome) -> None:
        """Hand a line request's image, as it came, to the project's archive thread, which records where in its
        history row. Returns at once; a failure is logged (the verdict was given and recorded)."""
        with self._lock:
            archiving = self._archivers.get(name)
        if archiving is not None and outcome.row_id is not None:
            archiving.put(data, file_name, outcome.verdict, time.time(), outcome.row_id)

    def alarms(self) -> dict:
        """The line alarms active now, per project that had line inspections: {name: {alarm: message}}. The disk
        is looked at again here, so a client polling /health sees a disk that filled since the last part."""
        with self._lock:
            for publisher in self._publishers.values():
                publisher.tick()
            return {name: dict(p.alarms.active) for name, p in self._publishers.items() if p.alarms.active}

    def stats(self) -> dict:
        with self._lock:
            return {name: [s.to_dict() for s in p.stats()] for name, p in self._publishers.items()}

    def close(self) -> None:
        with self._lock:
            publishers, self._publishers = list(self._publishers.values()), {}
            displays, self._displays = list(self._displays.values()), {}
            archivers, self._archivers = list(self._archivers.values()), {}
        for publisher in publishers:
            publisher.close()
        for display in displays:  # those no line part came to (a publisher stops its own as well)
            display.stop()
        for archiving in archivers:
            archiving.close()
            archiving.archiver.keeper.close()


def _teller(name: str):
    """Where a project's line messages go (its publisher's, its archive's): the service's log, named."""
    return lambda text: log.warning("%s: %s", name, text)


__all__ = ["ServiceLine"]
