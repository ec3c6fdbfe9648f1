"""`inspector run`'s line I/O options (issue 20): the outbox, alarms, the PLC handshake (Modbus TCP, OPC UA), MQTT and
Prometheus metrics. Parsed and checked here, so inspector_line/cli.py only calls three functions."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Optional

from inference import InspectorError
from station.line_io.alarms import AlarmLimits
from station.line_io.allowed_peers import AllowedPeers
from station.line_io.disk_space import DEFAULT_MIN_FREE
from station.line_io.modbus import float_order

from .trigger_sync import DEFAULT_TRIGGER_TIMEOUT_S


def add_line_io_arguments(p) -> None:
    g = p.add_argument_group("line I/O (docs/plc.md)")
    g.add_argument("--outbox-max", type=int, default=10000, metavar="N",
                   help="results kept per receiver (--post, --mqtt) while it is down; past N the oldest are dropped, "
                   "with a warning (default 10000)")
    g.add_argument("--modbus", metavar="HOST:PORT",
                   help="serve the PLC handshake over Modbus TCP (register map: docs/plc.md); parts are then "
                   "inspected when the PLC sets Trigger, unless --free-run")
    g.add_argument("--modbus-allow", metavar="ADDRESSES",
                   help="with --modbus: answer only these PCs (the PLC's IP address, or several and networks, comma "
                   "separated: 192.168.10.5,192.168.10.0/28); a connection from any other is closed as it opens. "
                   "Modbus has no password: without this, any PC that reaches the port may write Trigger and Ack")
    g.add_argument("--modbus-float", metavar="ABCD|CDAB",
                   help="with --modbus: the word order of the float32 registers (Score, DefectArea, ...): ABCD high "
                   "word first (the default), CDAB low word first (as Schneider / Modicon PLCs read a REAL)")
    g.add_argument("--opcua", metavar="opc.tcp://HOST:PORT",
                   help="serve the same PLC handshake over OPC UA (object Inspector, namespace urn:inspector:line; "
                   "docs/plc.md); anonymous on a loopback address only")
    g.add_argument("--opcua-users", type=Path, metavar="FILE",
                   help="with --opcua: name:password lines; required on any address but loopback (anonymous "
                   "access is then refused)")
    g.add_argument("--opcua-cert", type=Path, metavar="FILE",
                   help="with --opcua: the server's certificate (DER or PEM, its subjectAltName URI is the "
                   "application URI; `inspector opcua-cert FOLDER` makes one); only signed and encrypted "
                   "endpoints are then offered")
    g.add_argument("--opcua-key", type=Path, metavar="FILE", help="with --opcua-cert: its private key (PEM)")
    g.add_argument("--opcua-trust", type=Path, metavar="FOLDER",
                   help="with --opcua-cert: only clients whose certificate (or its CA) is in FOLDER may connect")
    g.add_argument("--recipe", action="append", type=Path, default=[], metavar="PROJECT",
                   help="with --modbus or --opcua: another project the PLC may select (Recipe: 0 is PROJECT, 1 the "
                   "first --recipe, ...); every recipe records into the same history")
    g.add_argument("--trigger-timeout", type=float, default=DEFAULT_TRIGGER_TIMEOUT_S, metavar="S",
                   help="with --modbus or --opcua: a Trigger that no image answers within S seconds (or while the "
                   "source is gone) is answered ERROR, so that the PLC goes on (0: wait for ever; default "
                   f"{DEFAULT_TRIGGER_TIMEOUT_S:g})")
    g.add_argument("--free-run", action="store_true",
                   help="with --modbus or --opcua: inspect parts as they arrive (no Trigger) and still publish each "
                   "result")
    g.add_argument("--mqtt", metavar="mqtt://HOST:PORT/TOPIC",
                   help="publish each result as JSON to TOPIC (QoS 1, through the outbox) and the alarm state, "
                   "retained, to TOPIC/alarm")
    g.add_argument("--metrics", metavar="HOST:PORT",
                   help="serve Prometheus metrics at http://HOST:PORT/metrics (inspections by verdict, latency, "
                   "queue depth, outbox, alarms, model version; docs/plc.md)")
    g.add_argument("--metrics-tokens", type=Path, metavar="FILE",
                   help="with --metrics: a tokens file (as inspector serve --token-file) whose callers alone read "
                   "the metrics (Prometheus: authorization: {credentials_file: ...} in its scrape config)")
    g.add_argument("--display", metavar="HOST:PORT",
                   help="serve the line display at http://HOST:PORT/, a page for the station's monitor: the last part "
                   "with its heatmap and verdict, this shift's counts and yield, the alarms (read-only; docs/plc.md)")
    g.add_argument("--shifts", metavar="H,H,...",
                   help="with --display: the hours the shifts start at, for its counts (default 6,14,22)")
    g.add_argument("--display-tokens", type=Path, metavar="FILE",
                   help="with --display: a tokens file (as inspector serve --token-file) whose callers alone see the "
                   "display's parts; open it as http://HOST:PORT/#token=TOKEN")
    add_io_arguments(p)
    add_alarm_arguments(g)
    add_master_arguments(g)
    add_backup_arguments(g)


def add_io_arguments(p) -> None:
    """Outputs the station drives itself on a remote I/O module (station/line_io/remote_io.py)."""
    g = p.add_argument_group("outputs on a remote I/O module, for a line without a PLC (docs/plc.md)")
    g.add_argument("--io", metavar="modbus://HOST:PORT[/UNIT]",
                   help="the remote I/O module (Modbus TCP) whose coils the station drives")
    g.add_argument("--io-reject", metavar="COIL[:MS][@AT_MS]",
                   help="pulsed (default 200 ms) for every part that is not OK: NG, NOT_FOUND, ERROR, NO_VERDICT; at "
                   "once, or AT_MS after the part's trigger (a gate downstream: e.g. 0:200@800)")
    g.add_argument("--io-ok", metavar="COIL[:MS][@AT_MS]", help="pulsed for every OK part")
    g.add_argument("--io-alarm", metavar="COIL", help="on while any alarm is active (a tower light)")
    g.add_argument("--io-ready", metavar="COIL", help="on while the run inspects")
    g.add_argument("--io-trigger", metavar="INPUT[:DELAY_MS[:GAP_MS]]",
                   help="a photo-eye on this discrete input triggers the parts: each rising edge is a part, judged on "
                   "the first camera frame that began DELAY_MS after it (default 0); an edge within GAP_MS of the "
                   "last part's is the same part; an image from a folder answers it as a PLC's Trigger's does. Not "
                   "with --modbus / --opcua")


def io_module_of(args):
    """(the --io outputs, the --io-trigger photo-eye) (station.line_io.io_module), checked in one line each; None
    each where not given."""
    from station.line_io.io_module import io_module

    return io_module(args.io, args.io_reject, args.io_ok, args.io_alarm, args.io_ready, args.io_trigger)


def add_master_arguments(g) -> None:
    """Master parts (`inspector run` and `inspector serve`; station/masters.py)."""
    g.add_argument("--masters", type=Path, metavar="FILE",
                   help="master parts run to verify the station: 'PART_ID VERDICT' lines (e.g. 'RR-001 NG'); a part "
                   "with such an id is a check, not production: recorded as such, MasterCheck to the PLC, and the "
                   "master_failed alarm until it passes when it gets another verdict (needs part ids: "
                   "--part-id-pattern or the PLC's PartId)")
    g.add_argument("--master-every", metavar="SPAN",
                   help="with --masters: each master part must pass at least this often (8h, 30m, 1d; a number is "
                   "hours), else the master_due alarm")


def add_backup_arguments(g) -> None:
    """The backup folder the line watches (`inspector run` and `inspector serve`; station/backup_watch.py)."""
    g.add_argument("--backups", type=Path, metavar="DIR",
                   help="the folder inspector backup (the nightly unit) fills: the backup_due alarm while it holds no "
                   "backup of the project younger than --backup-every, or cannot be read")
    g.add_argument("--backup-every", metavar="SPAN",
                   help="with --backups: a backup must be this recent (1d, 36h; a number is hours; default 26h: "
                   "nightly, with two hours' slack)")


def read_backups(args) -> tuple[Optional[Path], Optional[float]]:
    """--backups and --backup-every in seconds, checked in one line each; (None, None) without --backups. A folder
    that is not there is the alarm's, not a refusal: a share mounted late must not keep the line from starting."""
    if args.backup_every is not None and not args.backups:
        raise InspectorError("--backup-every goes with --backups DIR (the folder the backups go to)")
    if not args.backups:
        return None, None
    from station.backup_watch import DEFAULT_EVERY_S

    return args.backups, (parse_span(args.backup_every, "--backup-every") if args.backup_every is not None
                          else DEFAULT_EVERY_S)


def parse_span(text: str, flag: str) -> float:
    """A span as a line engineer writes it, in seconds: 90s, 30m, 8h, 1d, 2w; a bare number is hours."""
    from station.history_filters import span_seconds

    bare = re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", text or "")
    seconds = float(text) * 3600 if bare else span_seconds(text)
    if not (seconds or 0) > 0:
        raise InspectorError(f"{flag} needs a span above 0 such as 8h, 30m or 1d, got {text!r}")
    return seconds


def read_masters(args, part_ids_in_requests: bool = False):
    """The --masters file (station.masters.Masters) and --master-every in seconds, checked in one line each; (None,
    None) without --masters. `part_ids_in_requests`: the service, whose requests carry their part ids."""
    if args.master_every is not None and not args.masters:
        raise InspectorError("--master-every goes with --masters FILE (the master parts that must pass)")
    if not args.masters:
        return None, None
    from station.masters import Masters

    if not (part_ids_in_requests or args.part_id_pattern or args.modbus or args.opcua):
        raise InspectorError("--masters needs part ids to know a master part: give --part-id-pattern REGEX (from the "
                             "file names) or a PLC (--modbus, --opcua) that writes PartId")
    every = parse_span(args.master_every, "--master-every") if args.master_every is not None else None
    return Masters.read(args.masters), every


def add_alarm_arguments(g) -> None:
    """The alarm limits (`inspector run` and `inspector serve`)."""
    g.add_argument("--alarm-ng", type=int, default=5, metavar="N", help="alarm after N NG in a row (0: off; default 5)")
    g.add_argument("--alarm-streak", type=int, default=3, metavar="N",
                   help="alarm after N NOT_FOUND or N ERROR parts in a row (0: off; default 3)")
    g.add_argument("--alarm-yield", type=float, default=50.0, metavar="PCT",
                   help="alarm when the yield over the last --alarm-window parts falls below PCT (0: off; default 50)")
    g.add_argument("--alarm-window", type=int, default=50, metavar="N", help="parts in the yield alarm's window")
    g.add_argument("--alarm-drift", type=float, default=0.5, metavar="F",
                   help="alarm when the median of all recent scores has moved F of the way from the calibration's "
                   "OK median to the threshold (0: off; default 0.5)")
    g.add_argument("--min-free", default=DEFAULT_MIN_FREE, metavar="SPACE",
                   help="free space kept on the disks the line writes to (the history; the run's archive), e.g. 5%% "
                   "or 20GB: the disk alarm rises below it, and the archive's oldest images are removed before it "
                   f"comes to that (0: off; default {DEFAULT_MIN_FREE.replace('%', '%%')})")


OPCUA_FLAGS = {"opcua": "--opcua", "users": "--opcua-users", "cert": "--opcua-cert", "key": "--opcua-key",
               "trust": "--opcua-trust"}


def check_opcua_files(opcua, users, cert, key, trust, names: dict = OPCUA_FLAGS) -> None:
    """The OPC UA endpoint's files go together (InspectorError naming them by `names`: the flags, or the Run
    view's fields): users and a certificate with an endpoint, a certificate with its key, a trust folder with a
    certificate."""
    for what, value in (("users", users), ("cert", cert)):
        if value and not opcua:
            raise InspectorError(f"{names[what]} goes with {names['opcua']}")
    if bool(cert) != bool(key):
        raise InspectorError(f"{names['cert']} and {names['key']} go together (the certificate and its private key)")
    if trust and not cert:
        raise InspectorError(f"{names['trust']} goes with {names['cert']} (client certificates need a secured "
                             "endpoint)")


def check_post_url(url: str, flag: str = "--post") -> None:
    if not url.startswith(("http://", "https://")):
        raise InspectorError(f"{flag} needs an http:// or https:// URL, got {url!r}")


def host_port(text: str, flag: str) -> tuple[str, int]:
    host, sep, port = (text or "").rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InspectorError(f"{flag} needs HOST:PORT (e.g. 127.0.0.1:5020), got {text!r}")
    return host.strip("[]"), int(port)


def alarm_limits(args) -> AlarmLimits:
    for flag, value in (("--alarm-ng", args.alarm_ng), ("--alarm-streak", args.alarm_streak),
                        ("--alarm-window", args.alarm_window)):
        if value < 0:
            raise InspectorError(f"{flag} must be 0 or more, got {value}")
    if not 0 <= args.alarm_yield <= 100:
        raise InspectorError(f"--alarm-yield is a percentage 0..100, got {args.alarm_yield}")
    if args.alarm_drift < 0:
        raise InspectorError(f"--alarm-drift must be 0 or more, got {args.alarm_drift}")
    return AlarmLimits.as_set(args.alarm_ng, args.alarm_streak, args.alarm_yield, args.alarm_window, args.alarm_drift,
                              args.min_free)


def add_archive_arguments(p, what: str) -> None:
    """--archive DIR and --archive-keep-days D (`inspector run` and `inspector serve`); `what`: --archive's help."""
    p.add_argument("--archive", type=Path, metavar="DIR", help=what)
    p.add_argument("--archive-keep-days", type=float, metavar="D",
                   help="with --archive: remove archived images older than D days (images a reviewer marked stay)")


def check_archive_arguments(args) -> None:
    """Refuse archive options that do not go together, in one line, before anything is written."""
    if getattr(args, "move", False) and not args.archive:
        raise InspectorError("--move needs --archive DIR (where the images go)")
    if args.archive_keep_days is not None and (not args.archive or not args.archive_keep_days > 0):
        raise InspectorError("--archive-keep-days needs --archive DIR and a number of days above 0, got "
                             f"{args.archive_keep_days:g}" + ("" if args.archive else " without --archive"))


def check_line_io_arguments(args) -> None:
    """Refuse bad line I/O options with one line (InspectorError), before anything opens or writes a file."""
    if args.outbox_max < 1:
        raise InspectorError(f"--outbox-max must be at least 1, got {args.outbox_max}")
    plc = bool(args.modbus or args.opcua)
    if args.free_run and not plc:
        raise InspectorError("--free-run goes with --modbus or --opcua (without a PLC every part is inspected as "
                             "it arrives)")
    if args.modbus_allow is not None:
        if not args.modbus:
            raise InspectorError("--modbus-allow goes with --modbus HOST:PORT (the PCs its server answers)")
        AllowedPeers(args.modbus_allow)
    if args.modbus_float is not None:
        if not args.modbus:
            raise InspectorError("--modbus-float goes with --modbus HOST:PORT (the word order of its float registers)")
        float_order(args.modbus_float)
    if args.io_trigger and getattr(args, "trigger", None):
        raise InspectorError("--trigger goes without --io-trigger: the photo-eye triggers the parts")
    if args.io_trigger and plc:
        raise InspectorError("--io-trigger goes without --modbus / --opcua: the photo-eye triggers the parts where "
                             "no PLC does (with a PLC, wire the sensor to the PLC)")
    check_opcua_files(args.opcua, args.opcua_users, args.opcua_cert, args.opcua_key, args.opcua_trust)
    if not args.trigger_timeout >= 0:
        raise InspectorError(f"--trigger-timeout must be 0 (wait for ever) or more seconds, got {args.trigger_timeout}")
    if args.recipe and not plc:
        raise InspectorError("--recipe goes with --modbus or --opcua (the PLC selects the recipe)")
    for folder in args.recipe:
        if not folder.is_dir():
            raise InspectorError(f"--recipe: no project folder at {folder}")
    for flag, value in (("--modbus", args.modbus), ("--metrics", args.metrics), ("--display", args.display)):
        if value:
            host_port(value, flag)
    display_shifts(args)
    display_tokens(args)
    metrics_tokens(args)
    if args.mqtt:
        from station.line_io.mqtt import MqttReceiver

        MqttReceiver(args.mqtt)  # a bad URL is refused now (connecting waits for start)
    alarm_limits(args)
    read_masters(args)
    read_backups(args)
    io_module_of(args)


def plc_servers(modbus: Optional[str] = None, opcua: Optional[str] = None, opcua_users: Optional[Path] = None,
                opcua_cert: Optional[Path] = None, opcua_key: Optional[Path] = None,
                opcua_trust: Optional[Path] = None, modbus_name: str = "--modbus", modbus_allow: Optional[str] = None,
                modbus_allow_name: str = "--modbus-allow", modbus_float: Optional[str] = None,
                modbus_float_name: str = "--modbus-float") -> tuple[Optional[object], list]:
    """The PLC handshake (one state machine, station.line_io.handshake) and a server per protocol speaking it:
    Modbus TCP at `modbus` (HOST:PORT, answering the PCs of `modbus_allow` only, when given; its float registers in
    the word order `modbus_float`, ABCD by default), OPC UA at `opcua`
    (opc.tcp://HOST:PORT, with its users file and certificates); (None, []) with neither. A bad address or file
    is an InspectorError now; each server listens once started. `inspector run` and the window's Run view both
    build their PLC here."""
    if not (modbus or opcua):
        return None, []
    from station.line_io.handshake import Handshake

    handshake, servers = Handshake(), []
    if modbus:
        from station.line_io.modbus import ModbusServer

        allowed = AllowedPeers(modbus_allow, modbus_allow_name) if modbus_allow is not None else None
        servers.append(ModbusServer(*host_port(modbus, modbus_name), handshake, allowed,
                                    float_order(modbus_float, modbus_float_name)))
    if opcua:
        from station.line_io.opcua import OpcUaServer, read_users
        from station.line_io.opcua_security import load_security

        users = read_users(opcua_users) if opcua_users else None
        security = load_security(opcua_cert, opcua_key, opcua_trust) if opcua_cert else None
        servers.append(OpcUaServer(opcua, handshake, users, security))
    return handshake, servers


def line_metrics(plc_servers: list):
    """The run's metrics (station.line_io.metrics.LineMetrics), with what each PLC server refused and the PCs
    connected to it (inspector_plc_refused_total, inspector_plc_connections). `inspector run` and the window's Run
    view both build them here."""
    from station.line_io.metrics import LineMetrics

    metrics = LineMetrics()
    for server in plc_servers:
        refusals = getattr(server, "refusals", None)
        if refusals is not None:
            metrics.watch_plc_server(server.protocol, lambda r=refusals: r.total,
                                     lambda s=server: len(s.connected))
    return metrics


def start_server(server, on_message=None) -> None:
    """Start one of the run's servers (`inspector run`'s and the Run view's); a PLC server's warnings and lines (a
    write refused, a PC refused, a PC connected) go to `on_message` unless it has a listener already (the I/O
    module's go through the run's publisher)."""
    from station.line_io.handshake import HandshakeAdapter

    if on_message is not None and isinstance(server, HandshakeAdapter) and server.on_message is None:
        server.on_message = on_message
    server.start()


def display_shifts(args) -> tuple[int, ...]:
    """--shifts, for --display's counts (checked in one line; the default shifts without it)."""
    from station.history_periods import DEFAULT_SHIFTS, parse_shifts

    if args.shifts is not None and not args.display:
        raise InspectorError("--shifts goes with --display HOST:PORT (the display counts the parts of this shift)")
    return parse_shifts(args.shifts, "--shifts") if args.shifts is not None else DEFAULT_SHIFTS


def display_tokens(args):
    """--display-tokens: the tokens file the display asks for (station.tokens.TokenFile, read again when it changes);
    None without it. A file that cannot be read, or given without --display, is an InspectorError naming it."""
    return _tokens_file(args.display_tokens, args.display, "display", "the tokens its page asks for")


def metrics_tokens(args):
    """--metrics-tokens: the tokens file the metrics server asks for, as display_tokens."""
    return _tokens_file(args.metrics_tokens, args.metrics, "metrics", "the tokens Prometheus must send")


def _tokens_file(path: Optional[Path], address: Optional[str], server: str, what: str):
    if path is None:
        return None
    if not address:
        raise InspectorError(f"--{server}-tokens goes with --{server} HOST:PORT ({what})")
    from station.tokens import TokenFile

    return TokenFile(path, server)


class LineIO:
    """The servers and receivers of one `inspector run`, set into its RunOptions; started and stopped by cmd_run.
    `args` were checked by check_line_io_arguments first (cmd_run does, before the history opens)."""

    def __init__(self, args, options, station):
        options.outbox_max = args.outbox_max
        options.alarm_limits = alarm_limits(args)
        options.trigger_timeout_s = args.trigger_timeout
        options.masters, options.master_every_s = read_masters(args)
        options.backups, options.backup_every_s = read_backups(args)
        handshake, self.servers = plc_servers(args.modbus, args.opcua, args.opcua_users, args.opcua_cert,
                                              args.opcua_key, args.opcua_trust, modbus_allow=args.modbus_allow,
                                              modbus_float=args.modbus_float)
        self.servers_of_plc = list(self.servers)  # Modbus TCP, OPC UA
        if handshake is not None:
            options.plcs.append(handshake)
            options.free_run = bool(args.free_run)
        if args.recipe:
            from station import Station

            options.recipes = [station] + [Station(folder, station.engine, history=station.history)
                                           for folder in args.recipe]
        if args.mqtt:
            from station.line_io.mqtt import MqttReceiver

            options.mqtt = MqttReceiver(args.mqtt)
        if args.metrics:
            from .metrics_server import metrics_server

            options.metrics = line_metrics(self.servers_of_plc)
            self.servers.append(metrics_server(options.metrics, *host_port(args.metrics, "--metrics"),
                                               tokens=metrics_tokens(args)))
        if args.display:
            from station.line_io.display import LineDisplay

            from .display_server import DisplayServer

            options.display = LineDisplay(display_shifts(args))
            options.display.watch_plc(list(self.servers_of_plc))
            self.servers.append(DisplayServer(options.display, *host_port(args.display, "--display"),
                                              tokens=display_tokens(args)))
        io, eye = io_module_of(args)  # their messages go with the run's (the Publisher's, the Runner's)
        if io is not None:
            options.outputs.append(io)
            self.servers.append(io)  # started before the run, every output off after it
        if eye is not None:
            options.photo_eyes.append(eye)
            options.free_run = False  # a part is inspected when the photo-eye sees it
            self.servers.append(eye)
        self.options = options

    def start(self, on_message=None) -> None:
        """Start each server; `on_message`: where the PLC servers' warnings go."""
        for server in self.servers:
            start_server(server, on_message)
            print(f"{server.describe()}", flush=True)

    def close(self) -> None:
        for server in self.servers:
            server.close()

    def print_summary(self, summary) -> None:
        for d in summary.delivery:
            line = "results to " + d.summary()
            if d.pending:
                line += " (resent at the next run)"
            print(line, flush=True)
        if summary.master_checks:
            print(f"master parts: {summary.master_checks['passed']} passed, {summary.master_checks['failed']} failed",
                  flush=True)
        for message in summary.alarms.values():
            print(f"still active: {message}", file=sys.stderr, flush=True)
