"""`inspector serve`: start the inspection service under uvicorn.

Exit codes: 0 stopped with Ctrl+C (SIGTERM: the signal's own status, 143); 2 bad arguments (one line on stderr), e.g. a
non-loopback --host without --token-file; 3 the server could not start (port
in use, ...); 130 Ctrl+C before it was up.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

from inference import EngineConfig, InspectorError, __version__

from station.addresses import elsewhere
from station.tokens import TokenFile, is_loopback
from .uploads import Limits

PROG = "inspector serve"


class _OneLineParser(argparse.ArgumentParser):
    """Bad arguments are one line on stderr and exit 2, like every other bad input of the command line."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _OneLineParser(
        prog=PROG,
        description="The inspection service over HTTP: POST /projects/NAME/fit_ok, /infer, /calibrate_ng. "
        "OpenAPI docs at http://HOST:PORT/docs; reference in docs/api.md.",
    )
    p.add_argument("--projects", type=Path, default=Path("projects"), metavar="DIR",
                   help="folder holding one subfolder per project (created if missing; default ./projects)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; any other needs --token-file)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--token-file", type=Path, metavar="FILE",
                   help="the bearer tokens every request must send one of (Authorization: Bearer TOKEN): one token "
                   "alone (every permission), or a line per caller, NAME ROLES TOKEN, with the roles read, line, "
                   "review, backup, engineer (docs/api.md); read again when it changes")
    p.add_argument("--token-name", default="service", metavar="NAME",
                   help="who the audit trail names for changes made through the service (default 'service'): "
                   "without a token, or with one token alone; a token file with names names each caller")
    p.add_argument("--config", type=Path, metavar="FILE", help="engine config YAML (default: config.yaml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting over the config file and PATCHCORE_ variables (repeatable), e.g. --set "
                   "runtime=torch")
    p.add_argument("--max-image-mb", type=float, default=50.0, help="largest uploaded image, MB (default 50)")
    p.add_argument("--max-request-mb", type=float, default=512.0, help="largest request body, MB (default 512)")
    p.add_argument("--max-images", type=int, default=1000, help="most files in one request (default 1000)")
    p.add_argument("--max-loaded", type=int, default=8,
                   help="projects kept loaded in memory, the most recently used loaded as the service starts "
                        "(default 8)")
    p.add_argument("--share-batch", type=int, default=0, metavar="N",
                   help="most images from separate requests scored in one backbone batch "
                   "(default 0 = auto: the config's batch_size on a GPU, 1 on a CPU)")
    g = p.add_argument_group("line I/O for line inspections (docs/plc.md)")
    g.add_argument("--post", metavar="URL", help="POST each line inspection's result as JSON to URL, through the "
                   "project's outbox (kept until the receiver answers 2xx, resent in order after an outage)")
    g.add_argument("--mqtt", metavar="mqtt://HOST:PORT/TOPIC",
                   help="publish each line inspection's result to TOPIC/PROJECT (QoS 1, through the outbox) and the "
                   "project's alarms, retained, to TOPIC/PROJECT/alarm")
    g.add_argument("--outbox-max", type=int, default=10000, metavar="N",
                   help="results kept per receiver and project while it is down (default 10000)")
    from inspector_line.line_args import (  # the run's
        add_alarm_arguments, add_archive_arguments, add_backup_arguments, add_master_arguments,
    )

    add_archive_arguments(g, "keep each line inspection's image as it came, in DIR/PROJECT/<date>/OK|NG|ERROR|"
                          "NO_VERDICT/, after its answer (the disk never fills: --min-free)")
    add_alarm_arguments(g)
    add_master_arguments(g)  # a line request's part_id names a master part
    add_backup_arguments(g)  # each project that had line inspections is watched
    g.add_argument("--shifts", default="6,14,22", metavar="H,H,...",
                   help="the hours the shifts start at, for the line display's counts (/projects/NAME/display/; "
                   "default 6,14,22)")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.add_argument("--log", type=Path, metavar="FILE",
                   help="also write the log, time-stamped, to FILE (rotated at 10 MB, 5 kept): for a PC without a "
                   "journal (Windows); --log-level warning keeps it to warnings and errors")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help / --version (0) or an argparse error (2, its line already printed)
        return int(exc.code or 0)
    try:
        settings = _check(args)
    except InspectorError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    return _serve(args, *settings)


def _check(args):
    if not 0 < args.port < 65536:
        raise InspectorError(f"--port must be 1-65535, got {args.port}")
    if not is_loopback(args.host) and args.token_file is None:
        raise InspectorError(f"--host {args.host} is reachable from other machines: give --token-file FILE "
                             "(every request then needs Authorization: Bearer TOKEN), or bind 127.0.0.1")
    tokens = TokenFile(args.token_file, args.token_name) if args.token_file is not None else None
    for name in ("max_image_mb", "max_request_mb"):
        if not getattr(args, name) > 0:
            raise InspectorError(f"--{name.replace('_', '-')} must be positive")
    if args.max_images < 1 or args.max_loaded < 1 or args.share_batch < 0:
        raise InspectorError("--max-images and --max-loaded must be at least 1, --share-batch at least 0")
    limits = Limits(int(args.max_image_mb * 1024 * 1024), int(args.max_request_mb * 1024 * 1024), args.max_images)
    line = _line(args)
    config = EngineConfig.load(args.config, settings=args.set)
    try:
        args.projects.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InspectorError(f"cannot create the projects folder {args.projects}: {exc.strerror}") from None
    if not args.projects.is_dir():
        raise InspectorError(f"--projects {args.projects} is not a folder")
    if args.log is not None:
        from inspector_line.console_log import log_file

        return config, tokens, limits, line, log_file(args.log)  # a file that cannot be opened: said now
    return config, tokens, limits, line


def _line(args):
    """Alarms, metrics and the --post / --mqtt outboxes of line inspections (checked before anything starts)."""
    from inspector_line.line_args import alarm_limits, check_archive_arguments, read_backups, read_masters
    from station.history_periods import parse_shifts
    from station.line_io.metrics import LineMetrics

    from .line import ServiceLine

    if args.post and not args.post.startswith(("http://", "https://")):
        raise InspectorError(f"--post needs an http:// or https:// URL, got {args.post!r}")
    if args.outbox_max < 1:
        raise InspectorError(f"--outbox-max must be at least 1, got {args.outbox_max}")
    if args.mqtt:
        from station.line_io.mqtt import MqttReceiver

        MqttReceiver(args.mqtt)  # a bad URL is refused now
    check_archive_arguments(args)
    if args.archive is not None:
        from inspector_line.sinks import Archiver

        Archiver(args.archive)  # a folder that cannot be created is refused now, as the run mode refuses it
    masters, master_every_s = read_masters(args, part_ids_in_requests=True)
    backups, backup_every_s = read_backups(args)
    return ServiceLine(LineMetrics(), post_url=args.post, mqtt_url=args.mqtt, alarm_limits=alarm_limits(args),
                       outbox_max=args.outbox_max, archive=args.archive, archive_keep_days=args.archive_keep_days,
                       masters=masters, master_every_s=master_every_s, backups=backups, backup_every_s=backup_every_s,
                       shifts=parse_shifts(args.shifts, "--shifts"))


def _serve(args, config: EngineConfig, tokens: Optional[TokenFile], limits: Limits, line=None, log=None) -> int:
    import uvicorn

    from .app import create_app

    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=args.log_level.upper(), format=fmt)
    if log is not None:  # what the console gets, also in a rotating file (no journal on Windows)
        log.setFormatter(logging.Formatter(fmt))
        logging.getLogger().addHandler(log)
    app = create_app(args.projects, config=config, tokens=tokens, limits=limits, max_loaded=args.max_loaded,
                     share_batch=args.share_batch or None, who=args.token_name, line=line)
    server = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.port, access_log=False,
                                           log_level=args.log_level, log_config=None))
    app.state.serving = lambda: server.started  # systemd hears READY=1 once the port listens
    logging.getLogger("inspector.service").info(
        "serving %s on http://%s:%d%s (docs at /docs)%s", args.projects.resolve(), args.host, args.port,
        elsewhere(args.host, args.port),
        f", a bearer token required ({len(tokens.callers())} callers; {tokens.path} is read again when it changes)"
        if tokens else "")
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl+C after its clean shutdown
        return 0 if server.started else 130
    return 0 if server.started else 3
