"""`inspector backup | restore`: a project as one checked backup file, and back into a new folder (a replacement
PC, a rollback of the whole project). Thin: the station layer does the work (station/backup.py)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Sequence

from inference import InspectorError, user_message

from inspector_line.person_args import add_person_arguments, person

from .one_line import err, run_command

WAIT_DEFAULT = "10m"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="inspector")
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("backup", help="back a project up into one checked .zip file",
                       description="Back a project up into one .zip file: every model version, the active one, the "
                       "calibration, the audit trail and the inspection history (a consistent snapshot, also while "
                       "the line runs). The file is read back and checked before it takes its name.")
    b.add_argument("project", type=Path, help="the project folder (with --all: the folder of projects)")
    b.add_argument("dest", type=Path, help="a .zip file, or a folder that collects backups as PROJECT-DATE-TIME.zip")
    b.add_argument("--all", action="store_true", help="PROJECT is a folder of projects (the service's --projects): "
                   "back up each, into the folder DEST; one that fails is named and the others still backed up")
    b.add_argument("--no-history", action="store_true", help="leave the inspection history out")
    b.add_argument("--keep", type=int, metavar="N", help="in a backup folder, keep this project's newest N backups "
                   "and remove older ones")
    b.add_argument("--wait", default=WAIT_DEFAULT, metavar="SPAN", help="how long to wait for a fit or calibration "
                   f"being saved to finish, e.g. 30s, 10m, 0 (default {WAIT_DEFAULT})")
    r = sub.add_parser("restore", help="restore a backup into a new project folder, every file checked",
                       description="Restore a backup into a new (or empty) folder: every file is checked against "
                       "the backup's checksums and every version against its manifest before the folder takes its "
                       "name. An existing project is never written over. --check only checks the backup.")
    r.add_argument("backup", type=Path)
    r.add_argument("project", type=Path, nargs="?", help="the new project folder (not with --check)")
    r.add_argument("--check", action="store_true", help="check the backup file and say what it holds; change nothing")
    r.add_argument("--note", default="", help="why, for the restored project's audit trail")
    add_person_arguments(r)
    r.add_argument("--config", type=Path, metavar="FILE", help="engine config YAML, to say whether the restored "
                   "project inspects on this machine (default: config.yaml)")
    return p


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    return run_command(_backup if args.command == "backup" else _restore, args)


def _wait_seconds(text: str) -> float:
    from station.history_filters import span_seconds

    seconds = float(text) if re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", text) else span_seconds(text)
    if seconds is None:
        raise InspectorError(f"--wait needs a span such as 30s, 10m or 0, got {text!r}")
    return seconds


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def summary(info) -> str:
    """What a backup holds, in one line: project, active version, versions, history rows, size."""
    rows = info.notes.get("history_rows")
    history = "no history" if rows is None else f"{rows} history row{'s' * (rows != 1)}"
    return (f"{info.project} (active {info.active_version or 'none'}, {len(info.versions)} version"
            f"{'s' * (len(info.versions) != 1)}, {history}), {_size(info.bytes)} of files, taken {info.created} "
            f"from {info.source} by {info.who}")


def _backup(args) -> int:
    from inference import has_model
    from station.backup import SUFFIX, back_up

    if not args.project.is_dir():
        raise InspectorError(f"project folder not found: {args.project}")
    wait_s = _wait_seconds(args.wait)

    def one(project: Path) -> None:
        info = back_up(project, args.dest, history=not args.no_history, keep=args.keep, wait_s=wait_s)
        print(f"backed up {summary(info)}")
        print(f"to {info.path} ({_size(info.path.stat().st_size)}), read back and checked")

    if not args.all:
        one(args.project)
        return 0
    if args.dest.suffix.lower() == SUFFIX:
        raise InspectorError("--all writes a backup per project: DEST must be a folder, not a .zip file")
    if not args.dest.is_dir():  # never made here: an unmounted share's mount point must not fill the local disk
        raise InspectorError(f"the backup folder {args.dest} does not exist: create it or choose another")
    projects = sorted(p for p in args.project.iterdir() if p.is_dir() and has_model(p))
    if not projects:
        raise InspectorError(f"{args.project} holds no project with a model (without --all, name one project)")
    failed = []
    for project in projects:  # a project that cannot be backed up must not cost the others theirs
        try:
            one(project)
        except (InspectorError, OSError) as exc:
            err(f"{project.name}: {user_message(exc)}")
            failed.append(project.name)
    if failed:
        err(f"{len(failed)} of {len(projects)} projects not backed up: {', '.join(failed)}")
        return 2
    return 0


def _restore(args) -> int:
    from inference import check_backup

    if args.check:
        if args.project is not None:
            raise InspectorError("--check only checks the backup: leave out the project folder")
        info = check_backup(args.backup)
        print(f"{args.backup} is whole: {summary(info)}")
        return 0
    if args.project is None:
        raise InspectorError("name the new project folder to restore into: inspector restore BACKUP PROJECT")
    from station.backup import restore

    who = person(args, "teach")  # where a users file is in force: who, before any work
    info = restore(args.backup, args.project, note=args.note, who=who)
    print(f"restored {args.project} from {summary(info)}")
    _say_if_it_inspects(args)
    return 0


def _say_if_it_inspects(args) -> None:
    """A restore onto another PC is only half done when this machine lacks the model's weights: say so now."""
    from inference import EngineConfig, engine_for  # a restored export inspects with its own network
    from station import describe_project

    info = describe_project(args.project, lambda: engine_for(args.project, EngineConfig.load(args.config)).load(
        args.project))
    if info.problems:
        print(f"WARNING: it cannot inspect on this machine yet: {info.problems[0]}")
    elif info.calibration is None:
        print(f"WARNING: it gives no verdicts until calibrated: {info.calibration_note or 'no calibration'}")
    else:
        print("it inspects on this machine with its calibrated active version")
