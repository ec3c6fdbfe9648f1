"""The plant's monitoring view (Prometheus, prometheus-client): one set of metric definitions for `inspector run
--metrics HOST:PORT` and `inspector serve`'s `/metrics` alike.

    metrics = LineMetrics()
    metrics.set_model("part1", "v3")                     # the active model version, per project
    metrics.observe("part1", Verdict.NG, 0.042)          # one result: its verdict and its latency (s)
    metrics.observe("part1", Verdict.NG, 0.042, master_passed=True)   # a master part's check
    metrics.set_alarms("part1", {"ng_streak": "..."})    # the alarms active now
    metrics.watch_queue(lambda: source.waiting)          # read at every scrape
    metrics.watch_outboxes(publisher.stats)              # list[OutboxStats], read at every scrape
    metrics.watch_plc_server("modbus", lambda: server.refusals.total, lambda: len(server.connected))  # at every scrape
    body, content_type = metrics.exposition()            # the text a scrape gets
    server = metrics.serve("127.0.0.1", 9108)            # run mode: its own HTTP server (server.close())

Metric names (docs/plc.md, "Metrics"):
- inspector_inspections_total{project, verdict}: results by verdict (OK, NG, NOT_FOUND, NO_VERDICT, ERROR);
- inspector_latency_seconds{project}: histogram, trigger (or image complete; request received for the service)
  to result;
- inspector_queue_depth: parts waiting to be inspected (files complete in the watched folder; images queued for
  the backbone in the service);
- inspector_outbox_sent_total / _pending / _failed_total / _dropped_total {target}: delivery per receiver;
- inspector_alarm_active{project, alarm}: 1 while that alarm is active, else 0; inspector_alarms_active: how many;
- inspector_model_version{project}: the active model version's number (v7 -> 7; 0 unknown);
- inspector_master_checks_total{project, result}: master parts' checks (station.masters), passed / failed; master
  parts are counted here, not in inspector_inspections_total;
- inspector_ng_zone_total{project, zone}: NG production parts by the inspection zone their largest defect weighs
  most in ("rest": outside every zone; "none": a calibration without zones), where the process fails;
- inspector_resent_total{project}: serve: line images sent again for the same part (a client's retry,
  station/resends.py), answered from their first inspection and not counted again;
- inspector_plc_refused_total{protocol}: what a PLC server refused since the run started (modbus: connections from
  PCs not in --modbus-allow; opcua: sessions without a valid user), station/line_io/refusals.py;
- inspector_plc_connections{protocol}: the PCs connected to a PLC server now (the PLC; station/line_io/plc_links.py).
Each LineMetrics has its own registry, so several (tests, a service and a run in one process) never clash.
"""

from __future__ import annotations

import threading
from typing import Callable, Iterable, Optional

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from inference import Verdict

from ..addresses import elsewhere
from ..tokens import is_loopback
from ..outcome import ErrorCode
from .alarms import ALARM_NAMES

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def version_number(version: Optional[str]) -> int:
    """v7 -> 7; anything else -> 0."""
    return int(version[1:]) if version and version[:1] == "v" and version[1:].isdigit() else 0


class _Outboxes:
    """A collector reading the outboxes' counts at scrape time."""

    def __init__(self):
        self.sources: list[Callable[[], Iterable]] = []

    def collect(self):
        sent = CounterMetricFamily("inspector_outbox_sent", "results the receiver acknowledged (this process)",
                                   labels=["target"])
        pending = GaugeMetricFamily("inspector_outbox_pending", "results waiting for the receiver", labels=["target"])
        failed = CounterMetricFamily("inspector_outbox_failed", "results the receiver refused for good",
                                     labels=["target"])
        dropped = CounterMetricFamily("inspector_outbox_dropped", "oldest results dropped because the outbox was "
                                      "full", labels=["target"])
        # Summed per receiver: the service's projects each have their own outbox, and with one --post URL their
        # series would share a label set (a scrape with duplicate series is refused whole).
        totals: dict[str, list[int]] = {}
        for source in self.sources:
            for s in source():
                total = totals.setdefault(s.target, [0, 0, 0, 0])
                for i, value in enumerate((s.sent, s.pending, s.failed, s.dropped)):
                    total[i] += value
        for target, (n_sent, n_pending, n_failed, n_dropped) in totals.items():
            sent.add_metric([target], n_sent)
            pending.add_metric([target], n_pending)
            failed.add_metric([target], n_failed)
            dropped.add_metric([target], n_dropped)
        return [sent, pending, failed, dropped]


class _PlcServers:
    """A collector reading the PLC servers at scrape time: what each refused, and the PCs connected to it."""

    def __init__(self):
        self.sources: list[tuple[str, Callable[[], int], Callable[[], int]]] = []

    def collect(self):
        refused = CounterMetricFamily("inspector_plc_refused", "connections or sessions a PLC server refused (not "
                                      "an allowed PC, no valid user)", labels=["protocol"])
        connected = GaugeMetricFamily("inspector_plc_connections", "the PCs connected to a PLC server (the PLC)",
                                      labels=["protocol"])
        for protocol, n_refused, n_connected in self.sources:
            refused.add_metric([protocol], n_refused())
            connected.add_metric([protocol], n_connected())
        return [refused, connected]


class LineMetrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.inspections = Counter("inspector_inspections", "inspection results by verdict",
                                   ["project", "verdict"], registry=r)
        self.latency = Histogram("inspector_latency_seconds", "trigger (or image complete, or request received) "
                                 "to result, seconds", ["project"], buckets=LATENCY_BUCKETS, registry=r)
        self.queue_depth = Gauge("inspector_queue_depth", "parts waiting to be inspected", registry=r)
        self.alarm_active = Gauge("inspector_alarm_active", "1 while the alarm is active", ["project", "alarm"],
                                  registry=r)
        self.alarms_active = Gauge("inspector_alarms_active", "alarms active now, all projects", registry=r)
        self.model_version = Gauge("inspector_model_version", "the active model version's number (v7 -> 7)",
                                   ["project"], registry=r)
        self.master_checks = Counter("inspector_master_checks", "master parts' checks, passed or failed",
                                     ["project", "result"], registry=r)
        self.ng_zones = Counter("inspector_ng_zone", "NG parts by the inspection zone of their largest defect",
                                ["project", "zone"], registry=r)
        self.error_causes = Counter("inspector_error_cause", "ERROR parts by their cause (the PLC's ErrorCode)",
                                    ["project", "cause"], registry=r)
        self.resent = Counter("inspector_resent", "line images a client sent again for the same part (a retry), "
                              "answered from their first inspection", ["project"], registry=r)
        self._outboxes = _Outboxes()
        r.register(self._outboxes)
        self._plc_servers = _PlcServers()
        r.register(self._plc_servers)
        self._queues: list[Callable[[], int]] = []
        self.queue_depth.set_function(self._queue_total)
        self._active: dict[str, int] = {}
        self._lock = threading.Lock()
        self._known: set[str] = set()

    # -- updates ----------------------------------------------------------------------------------------------
    def _project(self, project: str) -> None:
        """Every verdict and alarm of a project shows from its first sight, at 0 (a rate needs a start)."""
        if project in self._known:
            return
        self._known.add(project)
        for v in Verdict:
            self.inspections.labels(project, v.value)
        for name in ALARM_NAMES:
            self.alarm_active.labels(project, name).set(0)
        for result in ("passed", "failed"):
            self.master_checks.labels(project, result)
        for code in ErrorCode:
            if code is not ErrorCode.NONE:
                self.error_causes.labels(project, code.cause)
        self.latency.labels(project)
        self.resent.labels(project)

    def observe(self, project: str, verdict, latency_s: Optional[float],
                master_passed: Optional[bool] = None, defect=None, cause: Optional[ErrorCode] = None) -> None:
        """One result; `master_passed` True / False: a master part's check (not a production part); `defect`: an
        NG part's largest (Outcome.largest_defect), counted by its zone; `cause`: an ERROR's (Outcome.error_code)."""
        self._project(project)
        if master_passed is None:
            self.inspections.labels(project, Verdict.parse(verdict).value).inc()
            if defect is not None and Verdict.parse(verdict) is Verdict.NG:
                self.ng_zones.labels(project, defect.zone or "none").inc()
            if cause and Verdict.parse(verdict) is Verdict.ERROR:
                self.error_causes.labels(project, ErrorCode(cause).cause).inc()
        else:
            self.master_checks.labels(project, "passed" if master_passed else "failed").inc()
        if latency_s is not None:
            self.latency.labels(project).observe(max(0.0, float(latency_s)))

    def observe_resent(self, project: str) -> None:
        """A client's retry answered from its first inspection (not a result: counted nowhere else)."""
        self._project(project)
        self.resent.labels(project).inc()

    def set_model(self, project: str, version: Optional[str]) -> None:
        self._project(project)
        self.model_version.labels(project).set(version_number(version))

    def set_alarms(self, project: str, active: Iterable[str]) -> None:
        self._project(project)
        names = set(active)
        for name in sorted(set(ALARM_NAMES) | names):
            self.alarm_active.labels(project, name).set(1 if name in names else 0)
        with self._lock:
            self._active[project] = len(names)
            self.alarms_active.set(sum(self._active.values()))

    def watch_queue(self, depth: Callable[[], int]) -> None:
        self._queues.append(depth)

    def watch_outboxes(self, stats: Callable[[], Iterable]) -> None:
        self._outboxes.sources.append(stats)

    def watch_plc_server(self, protocol: str, refused: Callable[[], int], connected: Callable[[], int]) -> None:
        self._plc_servers.sources.append((protocol, refused, connected))

    def _queue_total(self) -> float:
        total = 0
        for depth in self._queues:
            try:
                total += int(depth())
            except Exception:  # a source closing while scraped: count it as empty
                pass
        return total

    # -- reading ----------------------------------------------------------------------------------------------
    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def serve(self, host: str, port: int) -> "MetricsServer":
        return MetricsServer(self, host, port)


class MetricsServer:
    """`inspector run --metrics HOST:PORT`: GET /metrics (any path answers the same) from a daemon thread."""

    def __init__(self, metrics: LineMetrics, host: str, port: int):
        self.metrics, self.host, self.port = metrics, host, port
        self._server = None
        self._thread = None

    def describe(self) -> str:
        open_to = "" if is_loopback(self.host) else \
            "; no --metrics-tokens: any PC that reaches the port reads the line's counts and yield"
        return (f"metrics: http://{self.host}:{self.port}/metrics{elsewhere(self.host, self.port, path='/metrics')} "
                f"(Prometheus{open_to})")

    def start(self) -> None:
        from prometheus_client import start_http_server

        from inference import InspectorError

        try:
            self._server, self._thread = start_http_server(self.port, addr=self.host, registry=self.metrics.registry)
        except OSError as exc:
            raise InspectorError(f"cannot serve metrics on {self.host}:{self.port}: {exc.strerror or exc}") from None
        self.port = self._server.server_address[1]  # port 0: the one the system gave

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None


__all__ = ["CONTENT_TYPE_LATEST", "LATENCY_BUCKETS", "LineMetrics", "MetricsServer", "version_number"]
