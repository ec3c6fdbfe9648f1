"""`inspector run`, `inspector history` (history_cli.py), `inspector opcua-cert` and `inspector capture`
(capture.py) (forwarded here by inspector_cli.main with argv[0] the command).

Exit codes: 0 done; 2 bad input (one line on stderr, nothing saved changed);
130 stopped by Ctrl+C or SIGTERM (the part in flight finished or dropped, the
history consistent).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Sequence

from inference import (
    IMAGE_SUFFIXES,
    Engine,
    EngineConfig,
    InspectorError,
    read_record,
    user_message,
)
from station import PartIdPattern, Station, model_notice
from station.history import History, default_path

from .runlock import acquire_run_lock
from .sources import ERROR_AFTER_S

PROG = "inspector"
KNOWN_VERDICTS = ("OK", "NG", "ERROR", "NOT_FOUND")


def main(argv: Sequence[str]) -> int:
    argv = list(argv)
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    if command == "run":
        parser, func = run_parser(), cmd_run
    elif command == "history":
        from .history_cli import cmd_history, history_parser

        parser, func = history_parser(), cmd_history
    elif command == "opcua-cert":
        parser, func = opcua_cert_parser(), cmd_opcua_cert
    elif command == "capture":
        from .capture import capture_parser, cmd_capture

        parser, func = capture_parser(), cmd_capture
    else:
        _err("expected 'run', 'history', 'opcua-cert' or 'capture'")
        return 2
    args = parser.parse_args(rest)
    undo = None
    try:
        if getattr(args, "log", None) is not None:  # run --log: from the first line on, its errors too
            from .console_log import tee_console

            undo = tee_console(args.log)
        return func(args)
    except KeyboardInterrupt:
        _err("stopped; the history holds every part finished so far")
        return 130
    except (InspectorError, OSError) as exc:  # OS faults in plain words, as the main command line says them
        _err(user_message(exc))
        return 2
    except Exception as exc:  # a bug, not bad input: still one line, details on request
        if isinstance(exc, ModuleNotFoundError) and user_message(exc):  # a package this installation lacks
            _err(user_message(exc))
            return 2
        if os.environ.get("INSPECTOR_DEBUG"):
            raise
        _err(f"internal error ({type(exc).__name__}: {exc}); set INSPECTOR_DEBUG=1 for details")
        return 1
    finally:
        if undo is not None:
            undo()


def _err(message: str) -> None:
    if sys.stderr is not None:
        print(f"{PROG}: error: {message}", file=sys.stderr)


# -- inspector opcua-cert -------------------------------------------------------------
def opcua_cert_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"{PROG} opcua-cert",
        description="Write a self-signed OPC UA server certificate and its private key for `inspector run --opcua "
        "... --opcua-cert ... --opcua-key ...` (a plant PKI's certificate works as well; docs/plc.md). Existing "
        "files are never replaced.",
    )
    p.add_argument("folder", type=Path, help="where to write inspector_opcua_cert.der and inspector_opcua_key.pem")
    p.add_argument("--host", help="the name PLCs reach this PC by (default: this PC's host name)")
    return p


def cmd_opcua_cert(args) -> int:
    from station.line_io.opcua_security import load_security, make_self_signed

    cert, key = make_self_signed(args.folder, args.host)
    checked = load_security(cert, key)
    print(f"wrote {cert} (application URI {checked.application_uri}, valid until {checked.not_after:%Y-%m-%d}) "
          f"and {key} (keep it private)")
    print(f"give the PLC {cert} to trust; start with --opcua-cert {cert} --opcua-key {key}")
    return 0


# -- inspector run --------------------------------------------------------------------
def run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"{PROG} run",
        description="Inspect every new image from a watched folder, a camera or a video exactly once, in arrival "
        "order; record each result in the project's inspection history. Stop with Ctrl+C.",
    )
    from .line_args import add_archive_arguments, add_line_io_arguments  # issue 20: outbox, alarms, PLC, MQTT, ...

    p.add_argument("project", type=Path, help="project folder with a fitted (and calibrated) model")
    p.add_argument("--source", required=True, metavar="DIR|camera:N|VIDEO",
                   help="a folder a camera program writes images into, a camera (camera:0) or a video file")
    add_archive_arguments(p, "copy each image to DIR/<date>/OK|NG|ERROR|NO_VERDICT/")
    p.add_argument("--move", action="store_true", help="with --archive: move images out of the source folder")
    p.add_argument("--post", metavar="URL", help="POST each result as JSON to URL; results wait in the history's "
                   "outbox until the receiver answers 2xx, and are resent in order after an outage or a restart")
    p.add_argument("--config", type=Path, metavar="FILE", help="engine config YAML (default: config.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting over the config file and PATCHCORE_ variables (repeatable), e.g. --set "
                   "runtime=torch")
    p.add_argument("--history", type=Path, metavar="FILE", help="history database (default: PROJECT/history.sqlite)")
    p.add_argument("--every", type=int, default=1, metavar="N",
                   help="video: inspect every N-th frame; a live camera: its newest frame, N or more after the last")
    p.add_argument("--trigger", type=Path, metavar="FILE",
                   help="camera/video: inspect the next frame whenever FILE appears (it is then deleted; a live "
                   "camera's first frame that began after it)")
    p.add_argument("--settle", type=float, default=0.5, metavar="S",
                   help="folder: a file is complete when renamed into place, closed by its writer (Linux) or "
                        "unchanged for S seconds (default 0.5)")
    p.add_argument("--error-after", type=float, default=ERROR_AFTER_S, metavar="S",
                   help="folder: a file that still cannot be read after S seconds of looking is an ERROR row "
                        f"(before, its writer may still be busy; default {ERROR_AFTER_S:g})")
    p.add_argument("--extensions", default=",".join(sorted(IMAGE_SUFFIXES)), metavar="LIST",
                   help="folder: the file extensions inspected, e.g. .png,.jpg (others get a line saying they are "
                        "skipped; default: every image type read)")
    p.add_argument("--batch-size", type=int, metavar="N", help="images scored together at most (default: config)")
    p.add_argument("--idle-exit", type=float, metavar="S", help="stop after S seconds with nothing new")
    p.add_argument("--keep-days", type=float, metavar="D",
                   help="history retention: drop rows (and alarm events) older than D days")
    p.add_argument("--keep-rows", type=int, metavar="N", help="history retention: keep the newest N rows")
    p.add_argument("--drift-last", type=int, default=200, metavar="N", help="OK scores in the drift view (default 200)")
    p.add_argument("--part-id-pattern", metavar="REGEX",
                   help="take each part's id from its file name: the regex's first group, e.g. 'SN(\\d+)'")
    p.add_argument("--quiet", action="store_true", help="no line per part (warnings and the summary only)")
    p.add_argument("--log", type=Path, metavar="FILE",
                   help="also write every line printed, time-stamped, to FILE (rotated at 10 MB, 5 kept): for a "
                   "PC without a journal (Windows); with --quiet, the messages without a line per part")
    add_line_io_arguments(p)
    return p


def cmd_run(args) -> int:
    for name in ("batch_size", "keep_rows", "drift_last"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "keep_rows" else 1):
            raise InspectorError(f"--{name.replace('_', '-')} must be a positive number, got {value}")
    from .line_args import check_archive_arguments, check_line_io_arguments, check_post_url

    check_archive_arguments(args)
    if args.post:
        check_post_url(args.post)
    if args.part_id_pattern is not None:
        PartIdPattern(args.part_id_pattern)  # a bad pattern is refused before anything starts
    check_line_io_arguments(args)  # so are bad line I/O options: no history is created for them
    read_record(args.project)  # and a folder that holds no model: no history or lock file is left in it
    engine = Engine(EngineConfig.load(args.config, settings=args.set))
    history_path = args.history or default_path(args.project)
    lock = acquire_run_lock(history_path)  # a second run is refused before it prints anything
    try:
        return _run(args, engine, history_path)
    finally:
        lock.release()


def _run(args, engine, history_path) -> int:
    from .runner import RunOptions, Runner
    from .sources import open_source, parse_extensions

    source = open_source(args.source, settle_s=args.settle, every=args.every, trigger=args.trigger,
                         error_after_s=args.error_after, extensions=parse_extensions(args.extensions),
                         reuse_names=args.archive is not None)  # a bad source is refused before the history opens
    history = History(history_path)
    station = Station(args.project, engine, history=history)
    model = station.model()
    options = RunOptions(archive=args.archive, move=args.move, post_url=args.post, batch_size=args.batch_size,
                         idle_exit_s=args.idle_exit, drift_last=args.drift_last, keep_days=args.keep_days,
                         keep_rows=args.keep_rows, part_id_pattern=args.part_id_pattern, lock=False,
                         archive_keep_days=args.archive_keep_days)
    from .line_args import LineIO  # issue 20: outbox, alarms, PLC, MQTT, metrics

    line_io = LineIO(args, options, station)
    notice = model_notice(model)  # no verdicts, or a calibration with a warning: said before the first part
    if notice:
        print(notice, flush=True)
    print(f"inspecting {source.label} with {args.project} version {model.version} (history {history.path}); "
          "Ctrl+C stops", flush=True)

    def on_part(part) -> None:
        if not args.quiet:
            print(part_line(part), flush=True)

    def on_message(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    runner = Runner(station, source, options, on_part=on_part, on_message=on_message)
    stop = threading.Event()
    restore = _stop_on_signals(stop)
    try:
        line_io.start(on_message)
        summary = runner.run(stop)
    finally:
        restore()
        line_io.close()
        history.close()
    c = summary.counts
    print(f"done: {c.total} inspected; {c.summary()}; {summary.skipped} already in the history, "
          f"{summary.seconds:.1f} s", flush=True)
    if summary.error_causes:  # what kept parts from being judged, as `inspector history --by cause` counts them
        print(summary.causes_text, flush=True)
    if summary.drift is not None and summary.drift.warning:
        print(summary.drift.message, file=sys.stderr)
    line_io.print_summary(summary)
    return 130 if summary.interrupted else 0


def part_line(part) -> str:
    """One terminal line per part: running count, verdict, score, name, yield, latency."""
    c = part.counts
    score = f"{part.score:10.4f}" if part.score is not None else " " * 10
    thr = f" thr {part.threshold:.4f}" if part.threshold is not None else ""
    yield_text = f"{c.yield_pct:5.1f}%" if c.yield_pct is not None else "    -"
    tail = f"  {part.reason}" if part.error or part.verdict in ("NOT_FOUND", "NO_VERDICT") else ""
    part_id = f"  part {part.part_id}" if part.part_id else ""
    if part.expected is not None:  # a master part: a check of the station, outside the counts
        result = "passed" if part.verdict is part.expected else "FAILED"
        return (f"{'master':>6}  {part.verdict:10} {score}{thr}  {part.name}{part_id}  master check {result} "
                f"(expected {part.expected.value})  {1000 * part.latency:.0f} ms{tail}")
    return (f"{c.total:6d}  {part.verdict:10} {score}{thr}  {part.name}{part_id}  yield {yield_text} (NG {c.ng}, "
            f"ERROR {c.error})  {1000 * part.latency:.0f} ms{tail}")


def _stop_on_signals(stop: threading.Event):
    """Ctrl+C / SIGTERM finish the part in flight and stop; a second one stops at once."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {}

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        print("stopping after the part in flight (Ctrl+C again to stop at once)", file=sys.stderr, flush=True)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    return lambda: [signal.signal(s, h) for s, h in previous.items()]


# -- inspector history ----------------------------------------------------------------


__all__ = ["main", "part_line"]
