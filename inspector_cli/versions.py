"""`inspector versions | activate | audit`: a project's model versions, switching between them, and the
audit trail of every change that altered verdicts. Thin: the station layer does the work."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Optional, Sequence

from inference import InspectorError

from inspector_line.person_args import add_person_arguments, person

from .one_line import err, run_command


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="inspector")
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("versions", help="list the model versions (every fit, add and calibration is one)",
                       description="List a project's model versions: when, what, images, threshold, FAR/FRR, "
                       "which is active.")
    v.add_argument("project", type=Path)
    v.add_argument("--json", action="store_true", help="print them as JSON")
    a = sub.add_parser("activate", help="make a version the active one (a rollback is the same)",
                       description="Make a kept model version the one that inspects from the next part on.")
    a.add_argument("project", type=Path)
    a.add_argument("version", help="e.g. v3 (inspector versions lists them)")
    a.add_argument("--note", default="", help="why, for the audit trail")
    a.add_argument("--config", type=Path, metavar="FILE", help="engine config YAML (default: config.yaml)")
    add_person_arguments(a)
    u = sub.add_parser("audit", help="every change that altered verdicts, oldest first",
                       description="The project's audit trail: when, who, what, old and new values, note.")
    u.add_argument("project", type=Path)
    u.add_argument("--json", action="store_true", help="print the rows as JSON")
    u.add_argument("--verify", action="store_true", help="check that no row was edited, removed or put in by hand "
                   "since it was written (the rows' hash chain); exit 2 naming each row that was")
    return p


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    return run_command(_command, args)


def _command(args) -> int:
    if not args.project.is_dir():
        raise InspectorError(f"project folder not found: {args.project}")
    return {"versions": _versions, "activate": _activate, "audit": _audit}[args.command](args)


def _station(args, config: Optional[Path] = None):
    from inference import Engine, EngineConfig
    from station import Station

    return Station(args.project, Engine(EngineConfig.load(config)), record=False)


def _versions(args) -> int:
    from inference import list_versions
    from station.rescore_report import latest_report, report_line

    versions = list_versions(args.project)
    reports = {v.version: latest_report(args.project, v.version) for v in versions}
    if args.json:
        print(json.dumps([dict(v.to_dict(), rescore=reports[v.version]) for v in versions], indent=2))
        return 0
    if not versions:
        print(f"{args.project} holds no model yet: run inspector fit")
        return 0
    print(f"{'':2}{'version':8}{'created':27}{'action':11}{'images':>7}  {'threshold':>10}  {'FAR':>6}  "
          f"{'FRR':>6}  note")
    for v in versions:
        cal = v.calibration or {}
        far = "-" if cal.get("far") is None else f"{cal['far']:.1%}"
        frr = "-" if not cal else f"{cal['frr']:.1%}"
        thr = "-" if not cal else f"{cal['threshold']:.4g}"
        what = v.action + (f" {v.based_on}" if v.based_on else "")
        warned = "!" if cal.get("warning") else " "
        print(f"{'*' if v.active else ' ':2}{v.version:8}{v.created:27}{what:11}{v.n_images:>7}  {thr:>10}{warned} "
              f"{far:>6}  {frr:>6}  {v.note}")
    print("* active. Uncalibrated versions give no verdict: calibrate them before activating.")
    if any((v.calibration or {}).get("warning") for v in versions):
        print("! its calibration carries a warning (why: inspector versions --json, or inspector info once active)")
    for v in versions:  # what a version would change, from the newest `inspector rescore` on it
        if reports[v.version]:
            print(report_line(reports[v.version]))
    return 0


def _activate(args) -> int:
    who = person(args, "teach")  # where a users file is in force: who, before any work
    station = _station(args, args.config)
    before = next((v.version for v in station.versions() if v.active), None)
    info = station.activate(args.version, note=args.note, who=who)
    if before == info.version:
        print(f"{info.version} is already the active version of {args.project}")
        return 0
    print(f"{info.version} is now active in {args.project} (was {before})")
    if info.calibration is None:
        print(f"WARNING: {info.version} is not calibrated: the line gets no verdicts until it is "
              f"(inspector calibrate {args.project} --ok ...)")
    elif info.calibration.get("warning"):
        print(f"WARNING: {info.calibration['warning']}")
    return 0


def _audit(args) -> int:
    from inference import read_audit, verify_audit

    if args.verify:
        problems = verify_audit(args.project)
        for problem in problems:
            err(problem)
        if problems:
            return 2
        print(f"the audit trail of {args.project} is intact: {len(read_audit(args.project))} rows, none edited, "
              "removed or put in between by hand")
        return 0
    rows = read_audit(args.project)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(audit_line(row))
    if not rows:
        print("no changes recorded yet")
    return 0


def audit_line(row: dict) -> str:
    """One audit row as a line: time, who, action, version, old -> new, note."""
    def short(values) -> str:
        if not values:
            return "-"
        return ", ".join(f"{k}={_fmt(v)}" for k, v in values.items() if v is not None and k != "warning")

    text = f"{row.get('time', '')}  {row.get('who', '')}  {row.get('action', '')} {row.get('version', '')}"
    text += f"  {short(row.get('old'))} -> {short(row.get('new'))}"
    return text + (f"  ({row['note']})" if row.get("note") else "")


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
