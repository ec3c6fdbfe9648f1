"""The Run view's worker: the very same code as `inspector run` (inspector_line.Runner) on a QThread, each part
back as a queued signal carrying a snapshot (PartResult), so the window never shares mutable state with it."""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path
from typing import Sequence

from PySide6.QtCore import QThread, Signal

import inference
from inspector_line.line_args import start_server
from inspector_line.runner import RunOptions, Runner
from inspector_line.sources import open_source
from station import Station
from station.history import History, default_path

log = logging.getLogger(__name__)


class RunWorker(QThread):
    """Loads the model and runs the Runner until stopped; everything comes back as signals."""

    part = Signal(object)  # PartResult
    message = Signal(str)
    serving = Signal(str)  # a server's start line (where the PLC, the display, Prometheus reach it)
    failed = Signal(object)  # the exception
    done = Signal(object)  # RunSummary

    def __init__(self, engine: inference.Engine, project: Path, spec: str, options: RunOptions,
                 servers: Sequence = (), recipes: Sequence[Path] = (), parent=None):
        """`servers`: the PLC's servers (Modbus TCP, OPC UA: inspector_line.line_args.plc_servers), started here
        before the first part and closed when the run ends; `options.plcs` holds the handshake they speak.
        `recipes`: the other projects the PLC selects as recipe 1, 2, ... (recipe 0 is `project`), recording into
        the same history, as `inspector run --recipe` does."""
        super().__init__(parent)
        self.engine, self.project, self.spec, self.options = engine, project, spec, options
        self.servers, self.recipes = list(servers), list(recipes)
        self.stop_event = threading.Event()

    def stop(self) -> None:
        self.stop_event.set()

    def run(self) -> None:
        servers = self.servers
        try:
            for server in servers:
                # a port taken is the run's failure, said before any part; a PLC server's lines: the view's
                start_server(server, self.message.emit)
                self.serving.emit(server.describe())
            # as `inspector run` opens it: with an archive, a name the camera writes again is a new part
            source = open_source(self.spec, reuse_names=self.options.archive is not None)
            with History(default_path(self.project)) as history:
                station = Station(self.project, self.engine, history=history)
                options = self.options
                if self.recipes:
                    options = dataclasses.replace(options, recipes=[station] + [
                        Station(folder, self.engine, history=history) for folder in self.recipes])
                runner = Runner(station, source, options, on_part=self.part.emit, on_message=self.message.emit)
                summary = runner.run(self.stop_event)
        except Exception as exc:  # noqa: BLE001 - any failure must reach the operator as a message
            if not isinstance(exc, inference.InspectorError):
                log.exception("the run crashed")
            self.failed.emit(exc)
            return
        finally:
            for server in servers:
                server.close()
        self.done.emit(summary)
