"""`inspector rescore`: re-score archived images with two model versions on Ray and report what the second would
change (docs/scale.md). Thin: station/rescore.py runs the job, station/rescore_report.py writes the report."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Sequence

from inference import EngineConfig, InspectorError, user_message

from .one_line import err as _err


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="inspector rescore",
        description="Score archived images with two model versions (the one in use first) on a Ray cluster, "
        "write one Parquet row per image and version, and a report of the verdict changes, the parts a "
        "reviewer marked and the score histograms. Started again with the same --out, it skips what is done.")
    p.add_argument("project", type=Path)
    p.add_argument("--versions", required=True, metavar="VA,VB", help="the two versions to compare, e.g. v3,v4")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--archive", nargs="+", type=Path, metavar="DIR",
                     help="folders of images (with their subfolders, e.g. inspector run's --archive DIR)")
    src.add_argument("--history", action="store_true",
                     help="the images the project's history archived (inspector run --archive)")
    p.add_argument("--since", metavar="T", help="with --history: inspected since T (2026-11-24, or 30m / 8h / 30d ago)")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="where the rows and the report go (default: PROJECT/rescore/VA-VB)")
    p.add_argument("--ray-address", metavar="auto|ADDRESS",
                   help="run on this Ray cluster ('auto': the one `ray start` began on this machine); "
                   "default: a local Ray with this machine's cores")
    p.add_argument("--workers", type=int, metavar="N", help="actors (default: from the cluster's CPUs and GPUs)")
    p.add_argument("--batch-size", type=int, metavar="N", help="images per batch (default: the engine's batch_size)")
    p.add_argument("--config", type=Path, metavar="FILE", help="engine config YAML (default: config.yaml)")
    p.add_argument("--json", action="store_true", help="print the report's summary as JSON")
    return p


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    try:
        return _rescore(args)
    except KeyboardInterrupt:
        _err("interrupted: the rows written so far are kept; run the same command again to go on")
        return 130
    except (InspectorError, OSError) as exc:
        _err(user_message(exc))
        return 2


def _rescore(args) -> int:
    from station.rescore import archive_images, check_versions, history_images, ray_module, rescore
    from station.rescore_report import default_out, write_report

    if not args.project.is_dir():
        raise InspectorError(f"project folder not found: {args.project}")
    versions = [v.strip() for v in args.versions.split(",") if v.strip()]
    check_versions(args.project, versions)
    if args.since and not args.history:
        raise InspectorError("--since goes with --history")
    for name in ("workers", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise InspectorError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    ray_module()  # before any work: the one line saying what to install
    config = EngineConfig.load(args.config)
    if args.history:
        from inspector_line.history_cli import parse_time

        items = history_images(args.project, since=parse_time(args.since),
                               note=lambda line: print(f"rescore: {line}", file=sys.stderr, flush=True))
    else:
        items = archive_images(args.archive)
    if not items:
        raise InspectorError("no images to rescore: " + ("the history has no archived images"
                                                         + (f" since {args.since}" if args.since else "")
                                                         if args.history else "the --archive folders hold none"))
    out = args.out or default_out(args.project, versions)
    # stdout carries the report alone (--json is read by programs): Ray prints its notices ("a worker died …")
    # to stdout from a thread of its own even with log_to_driver off, so they go to stderr while it runs.
    with contextlib.redirect_stdout(sys.stderr):
        done = rescore(args.project, versions, items, out, config=config, address=args.ray_address,
                       workers=args.workers, batch_size=args.batch_size,
                       note=lambda line: print(f"rescore: {line}", file=sys.stderr, flush=True))
        report = write_report(args.project, out)
    report.pop("scores")
    if args.json:
        print(json.dumps({"job": done.to_dict(), **report}, indent=2))
        return 0
    va, vb = versions
    print(f"rescored {done.images} images with {va} and {vb} ({done.skipped} done before, {done.scored} now, "
          f"{done.seconds:.1f} s, {done.workers} worker(s))")
    for v in versions:
        print(f"  {v}: {report['summary'][v]}")
    changes = ", ".join(f"{k} {len(items)}" for k, items in report["changes"].items()) or "none"
    print(f"verdict changes {va} -> {vb}: {changes}")
    if report["marked"]:
        print(f"parts a reviewer marked: {len(report['marked'])}; marked defects {vb} would pass: "
              f"{len(report['escapes'])}; marked good parts {vb} still rejects: {len(report['still_rejected'])}")
    if report["masters"]:
        print(f"master parts' checks archived: {len(report['masters'])}; " +
              ", ".join(f"{v} would fail {len(report['master_misses'][v])}" for v in versions))
    print(f"report: {Path(out) / 'report.md'}")
    return 0
