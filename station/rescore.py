"""Re-score an image archive with model versions on a Ray cluster: what a new version would have done to the
parts already inspected, before it goes live (issue 22, docs/scale.md).

    images = archive_images([folder])            # or history_images(project, since=...)
    summary = rescore(project, ["v1", "v2"], images, out, config=EngineConfig.load())

Ray Data reads the image list, `map_batches` runs `VersionScorer` (a callable class: each actor builds the
engine and loads every version once, then inspects through the station's inspect use case, so a score equals
`inspector infer`'s) on an actor pool sized from the cluster's resources (or `workers`), with one GPU per
actor when the cluster has GPUs. The driver writes the rows it gets back as Parquet files under `out/rows/`
(one row per image and version: path, part id, verdict, score, threshold, regions that count, model version,
error), each file written whole and renamed into place. A file that cannot be inspected is an ERROR row, never
a failed job. Every image has a key (its path, size and modification time): a job started again with the same
`out` skips the images whose rows are there, so an interrupted job goes on where it stopped.

Ray is optional (`pip install -e '.[scale]'`) and imported only here, when a job runs; the engine core never
imports it. `score_items` is the same computation without Ray (one process), for the benchmark's baseline.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

from inference import (IMAGE_SUFFIXES, EngineConfig, InspectorError, atomic_write, engine_for, list_versions,
                       load_image, reusing_features)

from .history import History, default_path
from .history_rows import jsonable
from .station import Station

RAY_MISSING = "inspector rescore needs Ray: pip install -e '.[scale]' (or pip install 'ray[data]' pyarrow)"
# Ray starts its workers as Python processes, which a frozen app cannot be: the installer bundle leaves Ray out.
RAY_NOT_IN_BUNDLE = ("inspector rescore runs on Ray, which the installer bundle does not carry: run it from a Python "
                     "install of the project, pip install -e '.[scale]' (docs/scale.md)")
ROWS = "rows"
JOB_FILE = "job.json"
FLUSH_ROWS = 2000  # rows the driver holds before it writes a Parquet file
FLUSH_SECONDS = 20.0  # ... or seconds since the last file: at most this much work is redone after a kill -9
COLUMNS = ("key", "path", "part_id", "version", "model_id", "verdict", "score", "threshold", "regions", "reason",
           "error", "seconds", "scored_at")


@dataclass(frozen=True)
class Item:
    """One image to re-score: its path, its key (path, size, modification time) and its part id if known."""

    path: str
    key: str
    part_id: Optional[str] = None


def image_key(path: str | Path) -> str:
    """The image's key: a rewritten file (new size or time) is a new image; a file that is missing keeps a key
    of its own, so it is retried once it is there."""
    p = Path(path).absolute()
    try:
        st = p.stat()
        stamp = f"{st.st_size}|{st.st_mtime_ns}"
    except OSError:
        stamp = "missing"
    return hashlib.sha1(f"{p}|{stamp}".encode("utf-8", "surrogateescape")).hexdigest()


def archive_images(folders: Iterable[str | Path]) -> list[Item]:
    """The image files (by suffix) in the folders and their subfolders (the run mode's archive is
    DIR/<date>/OK|NG|.../), sorted; hidden names are skipped. A folder that is missing is bad input."""
    items: list[Item] = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise InspectorError(f"--archive {folder}: no such folder")
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                    path = str(Path(root, name).absolute())
                    items.append(Item(path, image_key(path)))
    return items


def history_images(project: str | Path, since: Optional[float] = None, until: Optional[float] = None,
                   note: Optional[Callable[[str], None]] = None) -> list[Item]:
    """The archived images of the project's history (rows with an archive path, inspected since `since`), with
    their part ids; an image inspected twice is re-scored once (its newest row's part id). Images no longer in the
    archive (its keeper removed the oldest to keep the disk free, or someone deleted them) are left out, and
    `note` is told how many."""
    path = default_path(project)
    if not path.is_file():
        raise InspectorError(f"no inspection history at {path}: nothing has been inspected in {project} yet")
    with History(path) as history:
        rows = history.query(since=since, until=until, order="time", descending=False)
    latest: dict[str, Optional[str]] = {}
    for row in rows:
        if row.archive_path:
            latest[str(Path(row.archive_path).absolute())] = row.part_id
    here = {p: part_id for p, part_id in latest.items() if Path(p).is_file()}
    if len(here) < len(latest) and note is not None:
        note(f"{len(latest) - len(here)} of the history's {len(latest)} archived images are no longer in the archive "
             "(removed to keep its disk free, or deleted): left out")
    return [Item(p, image_key(p), part_id) for p, part_id in here.items()]


# -- scoring (in each Ray actor, or in one process) -------------------------------------------------------------
def rows_of(station: Station, models: dict, items: Sequence[Item]) -> list[dict]:
    """One row per image and version, inspected by the station's inspect use case (never recorded in the
    history). Each file is decoded once for all versions (the engine's own decoding: the pixels `inspector infer`
    inspects); one that cannot be read or inspected is an ERROR row."""
    limit = min(m.config.max_image_megapixels for m in models.values())
    pixels, failed = [], {}
    for i, item in enumerate(items):
        try:
            pixels.append(load_image(item.path, limit))
        except (InspectorError, OSError, ValueError) as exc:
            failed[i] = str(exc) if isinstance(exc, InspectorError) else f"cannot read image {item.path}: {exc}"
    readable = [it for i, it in enumerate(items) if i not in failed]
    rows = []
    # Versions that share the feature definition (the same backbone) and the crop (ROI, placement) embed each
    # image once: the usual case, a new calibration or a refit with more images (docs/scale.md).
    with reusing_features():
        for version, model in models.items():
            scored = iter(_inspected(station, model, pixels, readable))
            done_at = time.time()
            for i, item in enumerate(items):
                outcome = station.error(item.path, failed[i], record=False) if i in failed else next(scored)
                result = outcome.result
                regions = [r.to_dict() for r in result.regions if r.counts] if result is not None else []
                rows.append({
                    "key": item.key, "path": item.path, "part_id": item.part_id, "version": version,
                    "model_id": model.model_id, "verdict": outcome.verdict.value, "score": outcome.score,
                    "threshold": outcome.threshold if outcome.threshold is not None else (
                        model.calibration.threshold if model.calibration else None),
                    "regions": json.dumps([jsonable(r) for r in regions]), "reason": outcome.reason,
                    "error": outcome.error, "seconds": float(outcome.timings.get("inspect", 0.0)),
                    "scored_at": done_at,
                })
    return rows


def _inspected(station: Station, model, pixels: list, readable: Sequence[Item]) -> list:
    """The outcomes of one version over the readable images; a batch that fails as a whole gives ERROR outcomes
    (the job goes on)."""
    try:
        return list(station.inspect(pixels, names=[it.path for it in readable], record=False, model=model))
    except Exception as exc:  # noqa: BLE001 - the reason goes into every row of the batch
        message = f"{type(exc).__name__}: {exc}"
        return [station.error(it.path, message, record=False) for it in readable]


def load_models(project: str | Path, versions: Sequence[str], config: EngineConfig) -> tuple[Station, dict]:
    """The station of `project` (the engine `inspector infer` would use: an exported folder's OpenVINO engine,
    else the plain one) and each version's model, loaded once."""
    station = Station(project, engine_for(project, config), record=False)
    return station, {v: station.model(v) for v in versions}


class VersionScorer:
    """Ray Data's callable class: built once per actor (the engine and every version's model), then called with
    batches of the image list (a pyarrow table: path, key, part_id) and answering their rows."""

    def __init__(self, project: str, versions: Sequence[str], config: EngineConfig):
        self.station, self.models = load_models(project, versions, config)

    def __call__(self, batch):
        items = [Item(p, k, i) for p, k, i in zip(batch.column("path").to_pylist(), batch.column("key").to_pylist(),
                                                  batch.column("part_id").to_pylist())]
        return rows_table(rows_of(self.station, self.models, items))


def score_items(project: str | Path, versions: Sequence[str], items: Sequence[Item], config: EngineConfig,
                batch: int = 32) -> list[dict]:
    """The same rows in this process, without Ray (the benchmark's baseline)."""
    station, models = load_models(project, versions, config)
    rows: list[dict] = []
    for start in range(0, len(items), batch):
        rows.extend(rows_of(station, models, items[start:start + batch]))
    return rows


def rows_schema():
    import pyarrow as pa

    return pa.schema([("key", pa.string()), ("path", pa.string()), ("part_id", pa.string()),
                      ("version", pa.string()), ("model_id", pa.string()), ("verdict", pa.string()),
                      ("score", pa.float64()), ("threshold", pa.float64()), ("regions", pa.string()),
                      ("reason", pa.string()), ("error", pa.string()), ("seconds", pa.float64()),
                      ("scored_at", pa.float64())])


def rows_table(rows: Sequence[dict]):
    import pyarrow as pa

    return pa.Table.from_pylist(list(rows), schema=rows_schema())


# -- the output folder ----------------------------------------------------------------------------------------
def read_rows(out: str | Path):
    """Every row written under `out/rows/` (a pyarrow table), one per (key, version): the last written wins."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for f in sorted((Path(out) / ROWS).glob("part-*.parquet")):
        try:
            tables.append(pq.read_table(f, schema=rows_schema()))
        except (OSError, pa.ArrowException) as exc:
            logging.getLogger(__name__).warning("skipping unreadable rows file %s (%s): its images are redone", f, exc)
    if not tables:
        return rows_table([])
    table = pa.concat_tables(tables)
    seen: dict = {}
    for i, (k, v) in enumerate(zip(table.column("key").to_pylist(), table.column("version").to_pylist())):
        seen[(k, v)] = i
    if len(seen) == table.num_rows:
        return table
    return table.take(sorted(seen.values()))


def done_keys(out: str | Path, versions: Sequence[str]) -> set[str]:
    """The keys of images that have a row for every version under `out` (skipped when a job starts again)."""
    table = read_rows(out)
    have: dict[str, set] = {}
    for k, v in zip(table.column("key").to_pylist(), table.column("version").to_pylist()):
        have.setdefault(k, set()).add(v)
    return {k for k, vs in have.items() if set(versions) <= vs}


def _write_rows(out: Path, tables: list, job_id: str, n: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    final = out / ROWS / f"part-{job_id}-{n:06d}.parquet"
    tmp = final.with_name(f".{final.name}.tmp")
    pq.write_table(pa.concat_tables(tables), tmp)
    os.replace(tmp, final)


def _check_out(out: Path, project: Path, versions: Sequence[str]) -> None:
    """`out` is new, or holds a job of the same project and versions (then it goes on)."""
    if out.exists() and not out.is_dir():
        raise InspectorError(f"--out {out} is a file: give a folder")
    job = out / JOB_FILE
    if job.is_file():
        try:
            before = json.loads(job.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InspectorError(f"--out {out}: cannot read {job} ({exc}); give another folder") from None
        if before.get("project") != str(project.absolute()) or before.get("versions") != list(versions):
            raise InspectorError(f"--out {out} holds a rescore of {before.get('project')} "
                                 f"{','.join(before.get('versions') or [])}: give another folder")
    elif out.is_dir() and any(out.iterdir()):
        raise InspectorError(f"--out {out} is not empty and holds no rescore job: give a new or empty folder")


def check_versions(project: str | Path, versions: Sequence[str]) -> None:
    """Two distinct versions the project keeps, the one in use first (bad input otherwise, before any work)."""
    if len(versions) != 2 or len(set(versions)) != len(versions):
        raise InspectorError(f"--versions needs two different versions, e.g. v1,v2; got {','.join(versions)}")
    kept = [v.version for v in list_versions(project)]
    missing = [v for v in versions if v not in kept]
    if missing:
        raise InspectorError(f"{project} has no version {missing[0]} (it keeps {', '.join(kept) or 'none'}): "
                             "inspector versions lists them")


# -- the job ----------------------------------------------------------------------------------------------------
@dataclass
class RescoreSummary:
    out: Path
    images: int  # in the list
    skipped: int  # done by an earlier run of the same job
    scored: int  # scored by this run
    seconds: float
    workers: int
    gpus: int
    # Seconds from the start until the first rows came back (Ray's start-up and the actors' model loading), and
    # how many images they held: the rest is the steady rate.
    first_rows_seconds: Optional[float] = None
    first_rows_images: int = 0

    def to_dict(self) -> dict:
        return {"out": str(self.out), "images": self.images, "skipped": self.skipped, "scored": self.scored,
                "seconds": round(self.seconds, 3), "workers": self.workers, "gpus": self.gpus,
                "first_rows_seconds": self.first_rows_seconds, "first_rows_images": self.first_rows_images}


def ray_module():
    """Ray, or the one line saying what to install."""
    try:
        import pyarrow  # noqa: F401
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise InspectorError(RAY_NOT_IN_BUNDLE if getattr(sys, "frozen", False) else RAY_MISSING) from None
    return ray


def connect(address: Optional[str] = None, cpus: Optional[int] = None) -> bool:
    """Join the cluster at `address` ("auto": the one started on this machine with `ray start`), or start a
    local Ray with this machine's cores (no dashboard). True when this call started or joined it (the caller
    then shuts it down); False when Ray was already initialised in this process."""
    ray = ray_module()
    if ray.is_initialized():
        return False
    # Ray's own notices (token auth on a local cluster) stay in its log files; a failed job raises with its reason.
    quiet = dict(logging_level=logging.ERROR, log_to_driver=False)
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=cpus or os.cpu_count() or 1, include_dashboard=False, **quiet)
    except ConnectionError as exc:
        raise InspectorError(f"--ray-address {address}: no Ray cluster there ({exc})") from None
    return True


def pool_size(workers: Optional[int] = None) -> tuple[int, float, int]:
    """(actors, CPUs per actor, GPUs per actor) from the cluster's resources: one actor per GPU on a cluster with
    GPUs; otherwise one per core on small nodes and one per 4 cores on nodes of 8 or more (each actor holds a
    backbone and the models), unless `workers` is given (then the CPUs are shared among them)."""
    import ray

    nodes = [n for n in ray.nodes() if n.get("Alive")]
    cpus = [int(n["Resources"].get("CPU", 0)) for n in nodes]
    gpus = sum(int(n["Resources"].get("GPU", 0)) for n in nodes)
    if gpus:
        return (workers or gpus), 1.0, 1
    if workers:  # the cores shared among them, as long as one actor's share fits on a node
        share = max(1, sum(cpus) // workers)
        return workers, float(share if share <= max(cpus or [1]) else 1), 0
    per = 4 if min(cpus or [1]) >= 8 else 1
    return max(1, sum(c // per for c in cpus)), float(per), 0


def rescore(project: str | Path, versions: Sequence[str], items: Sequence[Item], out: str | Path, *,
            config: EngineConfig, address: Optional[str] = None, workers: Optional[int] = None,
            batch_size: Optional[int] = None, note: Callable[[str], None] = lambda line: None) -> RescoreSummary:
    """Score `items` with both versions on Ray and write the rows under `out` (see the module docstring).
    `note` gets a progress line now and then."""
    project, out = Path(project), Path(out)
    check_versions(project, versions)
    if workers is not None and workers < 1:
        raise InspectorError(f"--workers must be at least 1, got {workers}")
    _check_out(out, project, versions)
    ray = ray_module()
    t0 = time.perf_counter()
    (out / ROWS).mkdir(parents=True, exist_ok=True)
    job = out / JOB_FILE
    if not job.is_file():
        atomic_write(job, json.dumps({"project": str(project.absolute()), "versions": list(versions),
                                      "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=2).encode())
    done = done_keys(out, versions)
    todo = [it for it in items if it.key not in done]
    ours = connect(address) if todo else False
    first: dict = {}
    try:
        size, cpus, gpus = pool_size(workers) if todo else (0, 0.0, 0)
        if todo:
            note(f"{len(todo)} image(s) to score with {', '.join(versions)} ({len(items) - len(todo)} done "
                 f"before); {size} worker(s){f', {gpus} GPU each' if gpus else ''}")
            size = _run(ray, project, versions, todo, out, config, size, cpus, gpus, batch_size, note,
                        lambda n: first.setdefault("at", (time.perf_counter() - t0, n)))
    finally:
        if ours:
            ray.shutdown()
    at, n = first.get("at", (None, 0))
    return RescoreSummary(out, len(items), len(items) - len(todo), len(todo), time.perf_counter() - t0, size, gpus,
                          at, n)


def _run(ray, project: Path, versions, todo: Sequence[Item], out: Path, config: EngineConfig, size: int,
         cpus: float, gpus: int, batch_size: Optional[int], note, arrived=lambda n: None) -> int:
    """Run the job; returns the number of actors."""
    import pyarrow as pa

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    # Blocks of a few batches, at least two per actor, so the work spreads over the pool; each block is one
    # table of the list (no split task, which would wait for a CPU the actors hold).
    batch = batch_size or max(1, min(config.batch_size, -(-len(todo) // (2 * size))))
    blocks = min(-(-len(todo) // batch), max(2 * size, -(-len(todo) // (4 * batch))))
    size = min(size, blocks)
    step = -(-len(todo) // blocks)
    ds = ray.data.from_arrow([pa.table({"path": [it.path for it in chunk], "key": [it.key for it in chunk],
                                        "part_id": pa.array([it.part_id for it in chunk], pa.string())})
                              for chunk in (todo[i:i + step] for i in range(0, len(todo), step))])
    # (Ray's core worker logs one line per job that the actors' constructor arguments sit in its object store:
    # Ray Data's own actor wrapper does that, whatever the arguments.)
    scored = ds.map_batches(VersionScorer, fn_constructor_kwargs={"project": str(project.absolute()),
                                                                  "versions": list(versions), "config": config},
                            batch_size=batch, batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=size),
                            num_cpus=cpus, num_gpus=gpus or None)
    job_id = f"{int(time.time())}-{os.getpid()}"
    pending, n_rows, files, images = [], 0, 0, 0
    last = t0 = time.perf_counter()
    try:
        for table in scored.iter_batches(batch_size=None, batch_format="pyarrow"):
            pending.append(table)
            n_rows += table.num_rows
            arrived(table.num_rows // len(versions))
            if n_rows >= FLUSH_ROWS or time.perf_counter() - last >= FLUSH_SECONDS:
                _write_rows(out, pending, job_id, files)
                files += 1
                images += n_rows // len(versions)
                pending, n_rows, last = [], 0, time.perf_counter()
                note(f"{images}/{len(todo)} images scored, {images / (last - t0):.1f} images/s")
    except ray.exceptions.RayError as exc:
        raise InspectorError(f"the Ray job failed: {str(exc).strip().splitlines()[-1][:300]}") from None
    finally:  # what was scored before an interruption is kept: a job started again skips it
        if pending:
            _write_rows(out, pending, job_id, files)
    return size
