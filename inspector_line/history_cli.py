"""`inspector history`: the inspection history's rows, its reports (per period, NG per zone, ERRORs per cause,
drift, the alarms) and a reviewer's marks, on the terminal or as CSV / JSON (export.py). inspector_line.cli's
main() runs it (exit codes there)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from inference import InspectorError, Verdict, VerdictCounts, load_calibration, read_record
from station import ErrorCode
from station.history import LABELS, NO_VERDICT, PURPOSES, History, default_path, parse_label
from station.history_filters import local_time, parse_time as history_time

from .export import (export_causes_csv, export_causes_json, export_csv, export_json, export_periods_csv,
                     export_periods_json, export_zones_csv, export_zones_json)
from .person_args import add_person_arguments, person

PROG = "inspector"


def history_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"{PROG} history",
        description="List or export the inspection history of a project, or show how its OK scores drift.",
    )
    p.add_argument("project", type=Path, help="project folder")
    p.add_argument("--history", type=Path, metavar="FILE", help="history database (default: PROJECT/history.sqlite)")
    p.add_argument("--since", metavar="T", help="from T: 2026-11-24, 2026-11-24T08:00, or 30m / 8h / 7d ago")
    p.add_argument("--until", metavar="T", help="before T (same forms as --since)")
    p.add_argument("--verdict", metavar="V", help="OK, NG, NOT_FOUND, NO_VERDICT (or none), ERROR")
    p.add_argument("--part-id", metavar="ID", help="only this part")
    p.add_argument("--cause", metavar="CAUSE", help="only the ERRORs of this cause: image_invalid, image_check, "
                   "no_image, repeated_image, part_mismatch, unknown_recipe, model_unusable, other (or its number, "
                   "the PLC's ErrorCode)")
    p.add_argument("--purpose", choices=PURPOSES,
                   help="only line inspections, bench checks, or master parts' checks (--masters); the yield never "
                   "counts master parts unless they are asked for")
    p.add_argument("--label", choices=LABELS, help="only the rows a reviewer marked so")
    p.add_argument("--mark", nargs=2, metavar=("ID", "LABEL"),
                   help="mark inspection ID (several: 12,15,18) false_reject (an NG that was a good part) or "
                        "false_accept, or none to clear; a marked row and its archived image are kept until the mark "
                        "is cleared")
    add_person_arguments(p)  # --user: who marks, where a users file is in force
    p.add_argument("--min-score", type=float, metavar="X")
    p.add_argument("--max-score", type=float, metavar="X")
    p.add_argument("--limit", type=int, metavar="N", help="the newest N rows only")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--csv", type=Path, metavar="OUT", help="export the rows as CSV (- : standard output)")
    out.add_argument("--json", type=Path, metavar="OUT", help="export the rows as JSON (- : standard output)")
    p.add_argument("--by", choices=("hour", "day", "shift", "zone", "cause"),
                   help="the counts and yield per hour, day or shift (local time), master parts' checks apart; the "
                   "NG parts per inspection zone of their largest defect (where the process fails); or the ERRORs per "
                   "cause (what keeps parts from being judged); with --csv / --json, those are written")
    p.add_argument("--shifts", default="6,14,22", metavar="HOURS",
                   help="with --by shift: the hours the shifts start at (default 6,14,22)")
    p.add_argument("--drift", action="store_true",
                   help="compare the recent OK scores with the calibration's (median, p99)")
    p.add_argument("--alarms", action="store_true",
                   help="the alarm history instead: each line alarm raised and cleared (inspector run, serve, the "
                   "window's Run view), with --since / --until / --limit; with --csv / --json, written")
    p.add_argument("--drift-last", type=int, default=200, metavar="N", help="OK scores in the drift view (default 200)")
    return p


def parse_time(text: Optional[str]) -> Optional[float]:
    """--since / --until: an ISO date/time (local time unless it names a zone), "today", or a span ago (8h, 7d)."""
    return history_time(text, "--since/--until")


def cmd_history(args) -> int:
    path = args.history or default_path(args.project)
    if not path.is_file():
        raise InspectorError(f"no inspection history at {path}: nothing has been inspected in {args.project} yet")
    if args.mark is not None:
        return _mark(path, *args.mark, who=person(args, "review"))
    if args.limit is not None and args.limit < 1:
        raise InspectorError(f"--limit must be at least 1, got {args.limit}")
    for name in ("csv", "json"):
        out = getattr(args, name)
        if out is not None and str(out) != "-" and not out.parent.is_dir():
            raise InspectorError(f"--{name} {out}: the folder {out.parent} does not exist; create it or write "
                                 "somewhere else")
    verdict = None
    if args.verdict is not None:
        v = args.verdict.strip()
        try:
            verdict = NO_VERDICT if v.lower() in ("none", "no verdict", "-") else Verdict.parse(v).value
        except ValueError:
            raise InspectorError(f"--verdict {v!r}: not a verdict; use OK, NG, NOT_FOUND, NO_VERDICT (or none) or "
                                 "ERROR") from None
    filters = {"since": parse_time(args.since), "until": parse_time(args.until), "verdict": verdict,
               "min_score": args.min_score, "max_score": args.max_score, "part_id": args.part_id,
               "purpose": args.purpose, "label": args.label, "error_code": _cause(args.cause, verdict)}
    if args.alarms:
        return _print_alarms(args, path, filters)
    with History(path) as history:
        if args.drift:
            return _print_drift(args, history)
        if args.by == "zone":
            return _print_zones(args, history, filters)
        if args.by == "cause":
            return _print_causes(args, history, filters)
        if args.by:
            return _print_periods(args, history, filters)
        rows = history.query(limit=args.limit, **filters)
        counts = history.counts(**filters) if args.limit is None else \
            VerdictCounts.of(r.verdict for r in rows if r.expected is None)
    rows.reverse()  # oldest first for reading and exporting
    if _export(args, rows, "rows", export_csv, export_json):
        return 0
    for r in rows:
        score = f"{r.score:10.4f}" if r.score is not None else " " * 10
        local = local_time(r.time)
        label = f"  [{r.label}{f' by {r.marked_by}' if r.marked_by else ''}]" if r.label else ""
        cause = ErrorCode.known(r.error_code)
        error = f"  {cause.cause + ': ' if cause else ''}{r.error}" if r.error else ""
        part = f"  part {r.part_id}" if r.part_id else ""
        version = f" {r.model_version}" if r.model_version else ""
        note = f" ({r.purpose_note})" if r.purpose_note else ""
        print(f"{r.id:7d}  {local}  {r.verdict:10} {score}  {r.file_name}{part}{version}{note}{label}{error}")
    checks = [r.master_passed for r in rows if r.expected is not None]
    masters = f"master parts: {sum(checks)} passed, {len(checks) - sum(checks)} failed"
    print(f"{len(rows)} rows; " + (masters if args.purpose == "master" else
                                   counts.summary() + (f"; {masters}" if checks else "")))
    return 0


def _cause(text: Optional[str], verdict: Optional[str]) -> Optional[int]:
    """--cause: the ErrorCode it names (with --verdict, only ERROR); None without it."""
    if text is None:
        return None
    if verdict not in (None, "ERROR"):
        raise InspectorError(f"--cause {text} with --verdict {verdict}: only an ERROR has a cause")
    try:
        return int(ErrorCode.parse(text))
    except ValueError as exc:
        raise InspectorError(f"--cause: {exc}") from None


def _mark(path: Path, row_ids: str, label: str, who: Optional[str] = None) -> int:
    ids = [i.strip() for i in row_ids.split(",")]
    if not all(i.isdigit() for i in ids):
        raise InspectorError(f"--mark {row_ids}: not an inspection id (the first column of inspector history; "
                             "several: 12,15,18)")
    value = parse_label(label)  # refuses an unknown label in one line
    with History(path) as history:
        unknown = [i for i in ids if history.get(int(i)) is None]
        if unknown:  # every id checked before any is marked: a typo marks nothing
            raise InspectorError(f"--mark: no inspection with id {', '.join(unknown)} in {path}")
        for i in ids:
            history.mark(int(i), value, who=who or "")
            row = history.get(int(i))
            print(f"inspection {row.id} ({row.file_name}, {row.verdict.value}) " +
                  (f"marked {value}" if value else "mark cleared"))
    return 0


def _export(args, items: list, noun: str, to_csv, to_json) -> bool:
    """--csv / --json OUT: write `items` there (- : standard output, the count then on stderr); False for neither."""
    for out, export in ((args.csv, to_csv), (args.json, to_json)):
        if out is None:
            continue
        if str(out) == "-":  # standard output, for a pipe; the count goes to stderr
            export(sys.stdout, items)
            sys.stdout.flush()
            print(f"wrote {len(items)} {noun} to standard output", file=sys.stderr)
        else:
            export(out, items)
            print(f"wrote {len(items)} {noun} to {out}")
        return True
    return False


def _print_periods(args, history: History, filters: dict) -> int:
    """--by hour|day|shift: the counts and yield of each period, its master checks apart; or --csv / --json."""
    from station.history_periods import parse_shifts, periods, total

    found = periods(history, args.by, shifts=parse_shifts(args.shifts, "--shifts"), **filters)
    if _export(args, found, "periods", export_periods_csv, export_periods_json):
        return 0
    if not found:
        print("no inspection in that time")
        return 0
    print(f"{args.by:16}  {'parts':>6}  {'OK':>6}  {'NG':>5}  {'NOT_FOUND':>9}  {'NO_VERDICT':>10}  {'ERROR':>5}  "
          f"{'yield':>6}  masters")
    for p in [*found, total(found)]:
        c = p.counts
        print(f"{p.label:16}  {c.total:6d}  {c.ok:6d}  {c.ng:5d}  {c.not_found:9d}  {c.no_verdict:10d}  {c.error:5d}  "
              f"{c.yield_text():>6}  {p.masters_text}".rstrip())
    return 0


def _print_zones(args, history: History, filters: dict) -> int:
    """--by zone: the NG parts per inspection zone of their largest defect, most first; or --csv / --json."""
    found = history.ng_zones(**filters)
    if _export(args, found, "zones", export_zones_csv, export_zones_json):
        return 0
    if not found:
        print("no NG part in that time")
        return 0
    total = sum(n for _, n in found)
    print(f"{'zone':24}  {'NG':>6}  share")
    for zone, n in found:
        print(f"{zone if zone is not None else '(no zones)':24}  {n:6d}  {n / total:6.1%}")
    print(f"{'total':24}  {total:6d}")
    return 0


def _print_causes(args, history: History, filters: dict) -> int:
    """--by cause: the ERRORs per cause, most first; or --csv / --json."""
    from station.history_causes import cause_records

    found = history.error_causes(**filters)
    if _export(args, found, "causes", export_causes_csv, export_causes_json):
        return 0
    if not found:
        print("no ERROR in that time")
        return 0
    print(f"{'cause':16}  {'code':>4}  {'ERROR':>6}  {'share':>6}  what it means")
    for r in cause_records(found):
        code = "-" if r["error_code"] is None else str(r["error_code"])
        print(f"{r['cause']:16}  {code:>4}  {r['ERROR']:6d}  {r['share']:6.1%}  {r['description']}")
    print(f"{'total':16}  {'':>4}  {sum(n for _, n in found):6d}")
    return 0


def _print_alarms(args, path: Path, filters: dict) -> int:
    """--alarms: the alarm history, oldest first (station/line_io/alarm_log.py); or --csv / --json."""
    from station.line_io.alarm_log import alarm_events, alarm_totals, total_text

    from .export import export_alarms_csv, export_alarms_json

    events = alarm_events(path, filters["since"], filters["until"], limit=args.limit)[::-1]
    if _export(args, events, "alarm events", export_alarms_csv, export_alarms_json):
        return 0
    for e in events:
        print(f"{local_time(e.time)}  {e.project:16}  {e.message}")
    print(f"{len(events)} alarm events")
    for t in alarm_totals(events):  # what the shift lead asks first: which alarm, how often, how long
        print(f"  {total_text(t)}")
    return 0


def _print_drift(args, history: History) -> int:
    record = read_record(args.project)
    calibration, note = load_calibration(args.project, record)
    if calibration is None or not calibration.ok_scores:
        raise InspectorError(f"no drift view: {note or 'the calibration holds no OK scores'}; run 'inspector calibrate'")
    drift = history.drift(calibration.ok_scores, calibration.threshold, model_id=record.model_id,
                          last=args.drift_last)
    print(drift.message)
    return 0


__all__ = ["cmd_history", "history_parser", "parse_time"]
