"""Project names -> folders under the projects root, and the warm cache of loaded models (loaded as the service
starts, so the line's first part is not the one that waits for a model to load)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Optional

from inference import Engine, Model, has_model, model_stamp
from station import Station, model_notice

from .errors import ApiError

log = logging.getLogger("inspector.service")

# Letters, digits, dot, dash, underscore; starts with a letter or digit: no '..', no separators, no hidden files.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name) or ".." in name:
        raise ApiError(400, f"bad project name {name!r}: use 1-64 letters, digits, '.', '-', '_' "
                            "(starting with a letter or digit, no '..')")
    return name


class Projects:
    """The projects folder: every path the service touches is a direct child of it."""

    def __init__(self, root: Path, engine: Engine, max_loaded: int = 8, who: str = "service", masters=None):
        self.root = Path(root).resolve()
        self.masters = masters  # the line's master parts (station.masters), given to every project's Station
        self.engine = engine
        self.who = who  # who the audit trail names for changes made through the service
        self._stations: dict[str, Station] = {}
        self.max_loaded = max(1, int(max_loaded))
        self._models: OrderedDict[str, tuple[tuple, Model]] = OrderedDict()
        self._lock = threading.Lock()
        self._load_locks: dict[str, threading.Lock] = {}
        # The start's loading (warm): the projects still to load, those that could not be, and whether it is over.
        self._warming: list[str] = []
        self._warm_failed: dict[str, str] = {}
        self._warmed = threading.Event()

    def folder(self, name: str) -> Path:
        folder = self.root / check_name(name)
        # A symlink that leads out of the projects folder is not followed.
        if folder.exists() and self.root not in folder.resolve().parents:
            raise ApiError(400, f"project {name!r} points outside the projects folder; refused")
        return folder

    def existing(self, name: str) -> Path:
        folder = self.folder(name)
        if not (folder.is_dir() and has_model(folder)):
            raise ApiError(404, f"unknown project {name!r}: fit it first (POST /projects/{name}/fit_ok)")
        return folder

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        out = []
        for entry in sorted(self.root.iterdir()):
            if NAME_PATTERN.fullmatch(entry.name) and ".." not in entry.name and entry.is_dir():
                if self.root in entry.resolve().parents and has_model(entry):
                    out.append(entry.name)
        return out

    def station(self, name: str) -> Station:
        """The project's use cases (teach, calibrate, activate, inspect), one Station per project."""
        folder = self.folder(name)
        with self._lock:
            if name not in self._stations:
                self._stations[name] = Station(folder, self.engine, who=self.who, masters=self.masters)
            return self._stations[name]

    def close(self) -> None:
        with self._lock:
            for station in self._stations.values():
                station.close()
            self._stations.clear()

    # -- the warm models -------------------------------------------------------
    def model(self, name: str) -> Model:
        """The project's model, loaded once and reloaded only when its files change on disk."""
        folder = self.existing(name)
        stamp = model_stamp(folder)
        with self._lock:
            cached = self._models.get(name)
            if cached is not None and cached[0] == stamp:
                self._models.move_to_end(name)
                return cached[1]
            load_lock = self._load_locks.setdefault(name, threading.Lock())
        with load_lock:  # one load per project at a time; other projects are served meanwhile
            with self._lock:
                cached = self._models.get(name)
            if cached is not None and cached[0] == model_stamp(folder):
                return cached[1]
            stamp = model_stamp(folder)
            model = self.station(name).engine.load(folder)  # an exported folder's own engine (its IR)
            self.put(name, model, stamp)
            return model

    def put(self, name: str, model: Model, stamp: Optional[tuple] = None) -> None:
        """Swap in a model (e.g. after a fit saved it): requests already running keep the one they hold."""
        stamp = stamp if stamp is not None else model_stamp(model.folder)
        with self._lock:
            self._models[name] = (stamp, model)
            self._models.move_to_end(name)
            self._warm_failed.pop(name, None)  # loaded since: no longer a failure to show
            while len(self._models) > self.max_loaded:
                self._models.popitem(last=False)

    def loaded(self) -> list[dict]:
        with self._lock:
            items = list(self._models.items())
        return [{"name": n, "model_id": m.model_id, "model_version": m.version, "backbone": m.record.backbone.name,
                 "calibrated": m.calibration is not None, "notice": model_notice(m)} for n, (_, m) in items]

    # -- loading at start ------------------------------------------------------
    def warm(self, stop: Optional[threading.Event] = None) -> None:
        """Load the models the line will ask for before it asks: the projects most recently used first (their
        history's last write, else their model's), at most max_loaded (the cache holds no more). Until this is
        done the service answers, but /health says "starting" and systemd has not heard READY. A project that
        cannot be loaded is logged and named in /health; its requests get their error as they would have."""
        try:
            names = sorted(self.names(), key=self._last_used, reverse=True)[: self.max_loaded]
            with self._lock:
                self._warming = list(names)
            for name in names:
                if stop is not None and stop.is_set():
                    break
                started = time.perf_counter()
                try:
                    model = self.model(name)
                    log.info("loaded %s (%s) in %.1f s", name, model.version, time.perf_counter() - started)
                except Exception as exc:  # noqa: BLE001 - a project that cannot load must not stop the others
                    reason = exc.message if isinstance(exc, ApiError) else str(exc) or type(exc).__name__
                    with self._lock:
                        self._warm_failed[name] = reason
                    log.warning("could not load %s: %s", name, reason)
                finally:
                    with self._lock:
                        self._warming.remove(name)
        finally:
            self._warmed.set()

    def warm_skipped(self) -> None:
        """No loading at start (create_app(warm=False)): each model loads on its first request."""
        self._warmed.set()

    def warm_state(self) -> dict:
        """{"warmed": the start's loading is over, "loading": projects still to load, "failed": name -> why}."""
        with self._lock:
            return {"warmed": self._warmed.is_set(), "loading": list(self._warming),
                    "failed": dict(self._warm_failed)}

    @property
    def warmed(self) -> bool:
        return self._warmed.is_set()

    def _last_used(self, name: str) -> float:
        folder = self.root / name
        times = []
        for file in ("history.sqlite-wal", "history.sqlite", "manifest.json"):
            try:
                times.append((folder / file).stat().st_mtime)
            except OSError:
                pass
        return max(times, default=0.0)

