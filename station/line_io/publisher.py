"""Where each result goes besides the history and the archive: the outboxes (POST, MQTT), the alarms, the
PLC handshake (Modbus TCP, OPC UA), the metrics and the line display (the station's monitor). `inspector run`
(inspector_line/runner.py) and `inspector serve` (inspector_service/line.py, one per project) hand every finished
part here (`publish`); nothing here can hold up inspection: outboxes send from their own threads, PLC servers and
the display serve from theirs.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Callable, Optional, Sequence

from inference import Model

from ..backup_watch import BackupWatch
from ..masters import MasterCheck, MasterWatch

from .alarm_log import STOPPED, AlarmLog
from .alarms import AlarmChange, AlarmLimits, Alarms
from .disk_space import DiskWatch, MinFree
from .outbox import HttpReceiver, Outbox, OutboxStats


def result_payload(outcome, now: float, **fields) -> dict:
    """A result as the receivers get it (--post, --mqtt): `result_id` its own id, `id` the history row, the
    outcome's fields, the verdict's code, and the client's own `fields` (source, file name, ...).

    Delivery is at least once (an acknowledgement lost on the way: the result is sent again), so a receiver tells a
    duplicate by `result_id` (HTTP: its Idempotency-Key): made here, once, and stored with the payload, so every
    retry and a restart's delivery send the same. The row id cannot be that key: it is unique within one history
    only, and the service's projects each have their own, a new project's starts at 1 again, and so does another
    station's: a receiver that dropped "duplicates" by it would drop other parts' results."""
    payload = {"result_id": str(uuid.uuid4()), "id": outcome.row_id, "time": now, **fields}
    payload.update(outcome.to_dict())
    payload["verdict_code"] = outcome.verdict.code
    return payload


class Publisher:
    def __init__(self, history_path, *, post_url: Optional[str] = None, mqtt=None, plcs: Sequence = (),
                 metrics=None, alarm_limits: Optional[AlarmLimits] = None, outbox_max: int = 10000,
                 on_message: Optional[Callable[[str], None]] = None,
                 disk_checks: Sequence[Callable[[], Optional[str]]] = (), masters: Optional[MasterWatch] = None,
                 backups: Optional[BackupWatch] = None, project: str = "", display=None, outputs: Sequence = ()):
        """`mqtt`: a station.line_io.mqtt.MqttReceiver (its results go through an outbox, its alarm is retained);
        `plcs`: PLC servers (publish_result / set_alarm / set_model_version / set_ready / beat); `metrics`: a RunMetrics.
        The disk alarm watches the history's disk (below `alarm_limits.min_free`) and `disk_checks`: more of the
        line's disks (the archive's keeper), each None or what is wrong now. `masters`: the master parts' checks
        (station.masters), whose master_failed and master_due alarms it raises; `backups`: the backup folder's
        watch (station.backup_watch), started and closed with the publisher, whose backup_due alarm it raises.
        `project`: the project's name before a model is set (set_model names it then). `display`: a
        station.line_io.display.LineDisplay, given the model, each part with its image, the alarms and the beat.
        `outputs`: outputs the station drives itself (station.line_io.remote_io.RemoteIO: a reject gate), given
        each part, the alarm and ready as the PLC is, and whose trouble is the `io` alarm."""
        self.on_message = on_message or (lambda text: None)
        self.alarms = Alarms(alarm_limits)
        self.history_path = Path(history_path)
        self.alarm_log = AlarmLog(history_path, self.on_message)  # each change, kept with the parts
        self.disk_checks = [DiskWatch("inspection history", history_path,
                                      MinFree.parse(self.alarms.limits.min_free)).problem, *disk_checks]
        self.masters = masters
        self.backups = backups
        self.plcs = list(plcs)
        self.outputs = list(outputs)
        for out in self.outputs:  # a part not rejected is said where the run's messages go
            if getattr(out, "on_message", None) is None:
                out.on_message = self.on_message
        self.metrics = metrics
        self.display = display
        self.mqtt = mqtt
        self.outboxes: list[Outbox] = []
        if post_url:
            self.outboxes.append(Outbox(history_path, HttpReceiver(post_url), max_pending=outbox_max,
                                        on_message=self.on_message))
        if mqtt is not None:
            self.outboxes.append(Outbox(history_path, mqtt, max_pending=outbox_max, on_message=self.on_message))
        self._model_id: Optional[str] = None
        self.project = project  # the project judging now (a metrics label, the alarm history's)
        if metrics is not None:
            metrics.watch_outboxes(self.stats)

    def start(self) -> None:
        for box in self.outboxes:
            box.start()
        for plc in self.plcs + self.outputs:
            plc.set_ready(True)
        if self.mqtt is not None:
            self.mqtt.start()  # TOPIC/status: online, before the first result
        if self.display is not None:
            self.display.start(self.history_path)  # the shift's counts
        if self.backups is not None:
            self.backups.start()  # its first look comes from its thread: a hung share never holds up the start
        # A disk already short, or a master check that failed before a restart, raises its alarm before the first part.
        self._update_alarms(self._check_disks() + self._check_masters())

    def tick(self, source_problem: Optional[str] = None) -> None:
        """The alarms of the line's surroundings while no part arrives (the runner calls it as it waits): the
        disks, and `source_problem`, why no part can arrive now (None: it can)."""
        self._update_alarms(self.alarms.condition("source", source_problem) + self._check_disks() +
                            self._check_masters() + self._check_backups() + self._check_outputs())

    def beat(self) -> None:
        """The PLC's Heartbeat +1: called by the run's own loop every second, so it stands still when that hangs."""
        for plc in self.plcs:
            plc.beat()
        if self.display is not None:
            self.display.beat()

    def _check_disks(self) -> list:
        problems = [p for p in (check() for check in self.disk_checks) if p]
        return self.alarms.condition("disk", "; ".join(problems) if problems else None)

    def _check_masters(self) -> list:
        if self.masters is None:
            return []
        return (self.alarms.condition("master_failed", self.masters.failed()) +
                self.alarms.condition("master_due", self.masters.due()))

    def _check_outputs(self) -> list:
        if not self.outputs:
            return []
        problems = [p for p in (out.problem() for out in self.outputs) if p]
        return self.alarms.condition("io", "; ".join(problems) if problems else None)

    def _check_backups(self) -> list:
        return [] if self.backups is None else self.alarms.condition("backup_due", self.backups.problem())

    def _update_alarms(self, changes: list, text_before: Optional[str] = None) -> None:
        for change in changes:
            self.on_message(change.message)  # the log says when an alarm starts and ends
        if changes or (text_before is not None and self.alarms.text != text_before):
            self._alarm_changed()  # the PLC's AlarmText and the retained MQTT alarm follow it as it grows
            if self.metrics is not None and self.project:
                self.metrics.set_alarms(self.project, self.alarms.active)
            if self.display is not None:
                self.display.set_alarms(self.alarms.active, self.alarms.figures)
        self.alarm_log.record(self.project, changes)  # after the PLC: a busy database never delays its Alarm bit

    def set_model(self, model: Model) -> None:
        """The model judging from now on: the drift alarm's reference, the PLC's model version."""
        if model.model_id == self._model_id:
            return
        self._model_id = model.model_id
        project, self.project = self.project, Path(model.folder).name
        if self.metrics is not None and project and project != self.project:  # a recipe switch: alarms move on
            self.metrics.set_alarms(project, ())
            self.metrics.set_alarms(self.project, self.alarms.active)
        cal = model.calibration
        self.alarms.set_reference(cal.ok_scores if cal is not None else (), cal.threshold if cal is not None else None)
        for plc in self.plcs:
            plc.set_model_version(model.version)
        if self.metrics is not None:
            self.metrics.set_model(self.project, model.version)
        if self.display is not None:
            self.display.set_model(model)

    def store(self, db, payload: dict) -> None:
        """Keep the result for every receiver, inside the caller's transaction (the history row's)."""
        for box in self.outboxes:
            box.store(db, payload)

    def owed_hook(self, payload_of: Callable, keep: dict) -> Optional[Callable]:
        """A history row's `in_transaction` hook (Station.inspect / finish / error rows): the part's result is
        stored for every receiver in the row's own transaction, so a kill between the two cannot lose it.
        `payload_of(outcome)` builds the payload (the outcome's row_id is set); it is kept in keep["payload"]
        for publish(..., stored=True). None when there is no receiver."""
        if not self.outboxes:
            return None

        def owed(db, row_id: int, outcome) -> None:
            outcome.row_id = row_id
            keep["payload"] = payload = payload_of(outcome)
            self.store(db, payload)

        return owed

    def publish(self, payload: dict, outcome, latency: float, stored: bool = False, to_plc: bool = True,
                image=None) -> None:
        """One finished part: the reject gate first (a queue's put: a part moves on while the rest is done), then
        alarms (so the PLC's result and Alarm bit agree), PLC, outboxes, metrics, display.
        `latency`: seconds from the trigger (or the image complete, free-running) to the result. `stored`: the
        payload is in the outboxes already (store(), with the history row); else it is put there now. `to_plc`
        False: a part that answers no Trigger (an image late for a timed-out one) goes to all but the PLC. `image`:
        the RGB pixels judged, for the line display."""
        for out in self.outputs:  # every part passes the gate, one that answers no Trigger too
            out.publish_result(outcome, latency)
        before = self.alarms.text
        expected = getattr(outcome, "expected", None)  # a master part's (station.masters)
        passed = None  # a master part's check: whether it got its verdict
        if expected is None:
            changes = self.alarms.update(outcome.verdict, outcome.score, outcome.reason, int(outcome.error_code))
        else:  # a master part: a check of the station, not a production part (no streak, yield or drift)
            check = MasterCheck(outcome.part_id, expected, outcome.verdict, time.time()) if self.masters is None \
                else self.masters.checked(outcome.part_id, expected, outcome.verdict)
            self.on_message(check.text)
            passed = check.passed
            changes = self._check_masters()
        self._update_alarms(changes + self._check_disks() + self._check_outputs(), before)
        for plc in self.plcs if to_plc else ():
            plc.publish_result(outcome)
        for box in self.outboxes:
            if stored:
                box.stored()
            else:
                box.put(payload)
        if self.metrics is not None:
            self.metrics.observe(self.project, outcome.verdict, latency, passed, outcome.largest_defect,
                                 outcome.error_code)
            self.metrics.set_alarms(self.project, self.alarms.active)
        if self.display is not None:
            self.display.part(outcome, image, latency)

    def _alarm_changed(self) -> None:
        text = self.alarms.text
        for plc in self.plcs + self.outputs:
            plc.set_alarm(bool(self.alarms.active), text, names=sorted(self.alarms.active))
        if self.mqtt is not None:
            self.mqtt.publish_alarm(sorted(self.alarms.active), text)

    def stats(self) -> list[OutboxStats]:
        return [box.stats() for box in self.outboxes]

    def close(self) -> None:
        # The alarm history pairs every raise with its end, here the stop (a restart raises them again).
        self.alarm_log.record(self.project, [AlarmChange(name, False, f"alarm ended {name}: {STOPPED}")
                                             for name in sorted(self.alarms.active)])
        self.alarm_log.close()
        if self.display is not None:
            self.display.stop()
        if self.backups is not None:
            self.backups.close()
        for plc in self.plcs + self.outputs:
            plc.set_ready(False)
        for box in self.outboxes:
            box.close()


__all__ = ["Publisher", "result_payload"]
