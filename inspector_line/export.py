"""The inspection history as CSV or JSON files (`inspector history --csv/--json`, the History view's Export)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Sequence, Union

from inference import atomic_write

from station.history import HistoryError, Inspection

EXPORT_FIELDS = ("id", "time", "source", "file_name", "sha256", "model_id", "score", "threshold", "verdict",
                 "reason", "regions", "latency", "heatmap_path", "error", "label", "model_version", "part_id",
                 "archive_path", "purpose")


def export_csv(path: Union[str, Path], rows: Sequence[Inspection]) -> None:
    """Rows as CSV (UTF-8, header; regions as JSON; verdicts by name, NO_VERDICT included), written atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EXPORT_FIELDS)
    for r in rows:
        d = r.to_dict()
        d["regions"] = json.dumps(r.regions)
        writer.writerow(["" if d[f] is None else d[f] for f in EXPORT_FIELDS])
    _write(Path(path), buf.getvalue().encode("utf-8"))


def export_json(path: Union[str, Path], rows: Sequence[Inspection]) -> None:
    """Rows as a JSON list of objects, written atomically."""
    data = [{f: r.to_dict()[f] for f in EXPORT_FIELDS} for r in rows]
    _write(Path(path), (json.dumps(data, indent=1) + "\n").encode("utf-8"))


def _write(path: Path, data: bytes) -> None:
    try:
        atomic_write(path, data)
    except OSError as exc:
        raise HistoryError(f"cannot write {path}: {exc.strerror or exc}") from None
