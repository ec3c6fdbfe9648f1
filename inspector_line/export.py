"""The inspection history as CSV or JSON files (`inspector history --csv/--json`, the History view's Export), row
by row, per period (`--by hour|day|shift`: station/history_periods.py), NG parts per inspection zone (`--by
zone`) or ERRORs per cause (`--by cause`)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import IO, Sequence, Union

from inference import atomic_write

from station.history import HistoryError, Inspection
from station.history_causes import cause_records
from station.history_zones import zone_records

EXPORT_FIELDS = ("id", "time", "source", "file_name", "sha256", "model_id", "score", "threshold", "verdict",
                 "reason", "regions", "latency", "heatmap_path", "error", "label", "model_version", "part_id",
                 "archive_path", "purpose", "expected", "marked_by", "marked_at",
                 "error_code")  # new columns go last: MES parsers


def export_csv(path: Union[str, Path, IO[str]], rows: Sequence[Inspection]) -> None:
    """Rows as CSV (UTF-8, header; regions as JSON; verdicts by name, NO_VERDICT included), written atomically (or
    to an open text stream such as standard output)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EXPORT_FIELDS)
    for r in rows:
        d = r.to_dict()
        d["regions"] = json.dumps(r.regions)
        writer.writerow(["" if d[f] is None else d[f] for f in EXPORT_FIELDS])
    _write(path, buf.getvalue())


def export_json(path: Union[str, Path, IO[str]], rows: Sequence[Inspection]) -> None:
    """Rows as a JSON list of objects, written atomically (or to an open text stream)."""
    data = [{f: r.to_dict()[f] for f in EXPORT_FIELDS} for r in rows]
    _write(path, json.dumps(data, indent=1) + "\n")


PERIOD_FIELDS = ("period", "start", "total", "OK", "NG", "NOT_FOUND", "NO_VERDICT", "ERROR", "judged", "yield",
                 "masters_passed", "masters_failed")


def period_records(periods: Sequence) -> list[dict]:
    """Periods (station.history_periods.Period) as flat records: one per period, the counts as columns."""
    out = []
    for p in periods:
        d = p.to_dict()
        out.append({"period": d["label"], "start": d["start"], **d["counts"],
                    "masters_passed": p.masters_passed, "masters_failed": p.masters_failed})
    return out


def export_periods_csv(path: Union[str, Path, IO[str]], periods: Sequence) -> None:
    _records_csv(path, PERIOD_FIELDS, period_records(periods))


def export_periods_json(path: Union[str, Path, IO[str]], periods: Sequence) -> None:
    _write(path, json.dumps(period_records(periods), indent=1) + "\n")


ZONE_FIELDS = ("zone", "NG", "share")


def export_zones_csv(path: Union[str, Path, IO[str]], zones: Sequence[tuple]) -> None:
    _records_csv(path, ZONE_FIELDS, zone_records(zones))


def export_zones_json(path: Union[str, Path, IO[str]], zones: Sequence[tuple]) -> None:
    _write(path, json.dumps(zone_records(zones), indent=1) + "\n")


CAUSE_FIELDS = ("error_code", "cause", "description", "ERROR", "share")


def export_causes_csv(path: Union[str, Path, IO[str]], causes: Sequence[tuple]) -> None:
    _records_csv(path, CAUSE_FIELDS, cause_records(causes))


def export_causes_json(path: Union[str, Path, IO[str]], causes: Sequence[tuple]) -> None:
    _write(path, json.dumps(cause_records(causes), indent=1) + "\n")


ALARM_FIELDS = ("id", "time", "project", "name", "raised", "message")


def export_alarms_csv(path: Union[str, Path, IO[str]], events: Sequence) -> None:
    _records_csv(path, ALARM_FIELDS, [e.to_dict() for e in events])


def export_alarms_json(path: Union[str, Path, IO[str]], events: Sequence) -> None:
    _write(path, json.dumps([e.to_dict() for e in events], indent=1) + "\n")


def _records_csv(path, fields: Sequence[str], records: Sequence[dict]) -> None:
    """Flat records as CSV, a header of `fields` first; None as an empty cell."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(fields)
    for record in records:
        writer.writerow(["" if record[f] is None else record[f] for f in fields])
    _write(path, buf.getvalue())


def _write(path, text: str) -> None:
    if hasattr(path, "write"):
        path.write(text)
        return
    path = Path(path)
    if not path.parent.is_dir():  # never make folders for an export: a typo would vanish into a new one
        raise HistoryError(f"cannot write {path}: the folder {path.parent} does not exist")
    data = text.encode("utf-8")
    try:
        atomic_write(path, data)
    except OSError as exc:
        raise HistoryError(f"cannot write {path}: {exc.strerror or exc}") from None
