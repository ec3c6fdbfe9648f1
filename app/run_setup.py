"""What the Run view's fields (texts, the Free run box, the Alarms… values) set up: the run's options and PLC
servers for Start (`run_options`), and the `inspector run` command line that runs the same (`run_arguments`, Copy
command), so a setting tried in the window goes into the line PC's service (packaging/linux/run.env) as it is.
Qt-free: each check is an InspectorError naming the field, which the panel shows."""

from __future__ import annotations

import shlex
from pathlib import Path

from inference import InspectorError, has_model
from inspector_line.line_args import check_opcua_files, check_post_url, host_port, line_metrics, plc_servers
from inspector_line.runner import RunOptions
from station import PartIdPattern
from station.line_io.mqtt import MqttReceiver
from station.line_io.io_module import io_module
from station.masters import Masters

from .panels.alarm_limits_dialog import BACKUP_EVERY, BACKUPS, MASTER_EVERY, default_values, limits_of
from .panels.line_outputs_dialog import IO_NAMES, NAMES as OPCUA_NAMES

# The Alarms… dialog's values and the flags that set them (inspector_line/line_args.py).
ALARM_FLAGS = {"ng_streak": "--alarm-ng", "streak": "--alarm-streak", "yield_pct": "--alarm-yield",
               "yield_window": "--alarm-window", "drift": "--alarm-drift", "min_free": "--min-free"}


def recipe_folders(text: str) -> list[Path]:
    """The recipes field: project folders separated by ';' (recipe 1, 2, ...)."""
    return [Path(part.strip()) for part in (text or "").split(";") if part.strip()]


def run_options(fields: dict[str, str], free_run: bool, alarms: dict) -> tuple[RunOptions, list]:
    """(the run's options, the PLC's servers) for the fields (see run_arguments), checked as `inspector run`
    checks its flags: a field that is wrong, or fields that do not go together, are an InspectorError."""
    pattern = fields.get("part_id_pattern") or None
    if pattern is not None:
        PartIdPattern(pattern)  # a bad expression is a message now, not a failed run later
    masters = Masters.read(Path(fields["masters"])) if fields.get("masters") else None
    users, cert, key, trust = (Path(fields[k]) if fields.get(k) else None
                               for k in ("opcua_users", "opcua_cert", "opcua_key", "opcua_trust"))
    check_opcua_files(fields.get("opcua"), users, cert, key, trust, names=OPCUA_NAMES)
    if fields.get("post"):
        check_post_url(fields["post"], "The results' POST address")
    handshake, servers = plc_servers(fields.get("modbus"), fields.get("opcua"), users, cert, key, trust,
                                     modbus_name="The PLC's Modbus address", modbus_allow=fields.get("modbus_allow")
                                     or None, modbus_allow_name="The PCs Modbus answers",
                                     modbus_float=fields.get("modbus_float") or None,
                                     modbus_float_name="The Modbus float word order")
    plc_servers_only = list(servers)  # Modbus TCP, OPC UA
    metrics = None
    tokens = _tokens_file(fields, "metrics", "The metrics' tokens file goes with the metrics address")
    if fields.get("metrics"):  # served while the run goes on, started and closed with the PLC's servers
        from inspector_line.metrics_server import metrics_server

        metrics = line_metrics(plc_servers_only)
        servers.append(metrics_server(metrics, *host_port(fields["metrics"], "The metrics address"), tokens=tokens))
    display = None
    tokens = _tokens_file(fields, "display", "The display's tokens file goes with the line display's address")
    if fields.get("display"):  # the station's monitor, served as `inspector run --display` serves it
        from inspector_line.display_server import DisplayServer
        from station.line_io.display import LineDisplay

        display = LineDisplay()
        display.watch_plc(plc_servers_only)  # the PLC's link
        servers.append(DisplayServer(display, *host_port(fields["display"], "The line display's address"),
                                     tokens=tokens))
    io, eye = io_module(fields.get("io"), fields.get("io_reject"), fields.get("io_ok"), fields.get("io_alarm"),
                        fields.get("io_ready"), fields.get("io_trigger"), names=IO_NAMES)  # messages: the run's log
    servers += [device for device in (io, eye) if device is not None]
    plcs = [handshake] if handshake is not None else []
    if eye is not None and plcs:
        raise InspectorError("The photo-eye input triggers the parts where no PLC does: with a PLC, wire the sensor "
                             "to the PLC and leave the input empty.")
    limits = limits_of(alarms)
    mqtt = MqttReceiver(fields["mqtt"]) if fields.get("mqtt") else None  # a bad URL now; it connects at Start
    if free_run and not plcs:
        raise InspectorError("Free run goes with a PLC: without one every image is inspected as it comes anyway. "
                             "Give the PLC's Modbus TCP address or OPC UA endpoint, or untick Free run.")
    recipes = recipe_folders(fields.get("recipes", ""))
    missing = [str(folder) for folder in recipes if not has_model(folder)]
    if missing:
        raise InspectorError(f"Recipe {missing[0]}: no project with a fitted model there.")
    if recipes and not plcs:
        raise InspectorError("Recipes go with a PLC, which selects the recipe: give the PLC's Modbus TCP address or "
                             "OPC UA endpoint, or leave the recipes empty.")
    if masters is not None and pattern is None:
        raise InspectorError("Master parts are known by their part id: give the part id pattern too (e.g. SN(\\d+) "
                             "for SN000123.png).")
    every_h, backups = alarms[MASTER_EVERY], alarms[BACKUPS]
    archive = fields.get("archive")
    return RunOptions(archive=Path(archive) if archive else None, part_id_pattern=pattern, masters=masters,
                      plcs=plcs, free_run=(free_run or not plcs) and eye is None, alarm_limits=limits, mqtt=mqtt,
                      master_every_s=every_h * 3600 if every_h and masters is not None else None,
                      backups=Path(backups) if backups else None,
                      backup_every_s=alarms[BACKUP_EVERY] * 3600, post_url=fields.get("post") or None,
                      metrics=metrics, display=display, outputs=[io] if io is not None else [],
                      photo_eyes=[eye] if eye is not None else []), servers


def _tokens_file(fields: dict[str, str], server: str, refusal: str):
    """The tokens file of the server `server` ("metrics", "display": its address field) as a station.tokens.TokenFile,
    None without one; one given without the server's address is `refusal`, an InspectorError."""
    if not fields.get(f"{server}_tokens"):
        return None
    if not fields.get(server):
        raise InspectorError(f"{refusal}: give both, or leave the tokens file empty.")
    from station.tokens import TokenFile

    return TokenFile(Path(fields[f"{server}_tokens"]), server)


def _hours(value: float) -> str:
    return f"{value:g}h"


def run_arguments(project: Path, fields: dict[str, str], free_run: bool, alarms: dict) -> list[str]:
    """`inspector run`'s arguments for the Run view's `fields` (source, archive, part_id_pattern, masters, modbus,
    modbus_allow (with modbus only, as the OPC UA files go with opcua), opcua, opcua_users, recipes (folders
    separated by ;), mqtt; the Outputs… dialog's modbus_float, post, metrics, metrics_tokens, display, display_tokens,
    opcua_cert, opcua_key, opcua_trust, io, io_reject, io_ok, io_alarm, io_ready, io_trigger: text, "" when empty),
    its Free run box and its Alarms… values."""
    argv = ["inspector", "run", str(Path(project).absolute()), "--source", fields["source"]]
    for key, flag in (("archive", "--archive"), ("part_id_pattern", "--part-id-pattern"), ("masters", "--masters"),
                      ("modbus", "--modbus"), ("modbus_allow", "--modbus-allow"), ("modbus_float", "--modbus-float"),
                      ("opcua", "--opcua"),
                      ("opcua_users", "--opcua-users"),
                      ("mqtt", "--mqtt"), ("post", "--post"), ("metrics", "--metrics"),
                      ("metrics_tokens", "--metrics-tokens"), ("display", "--display"),
                      ("display_tokens", "--display-tokens"),
                      ("opcua_cert", "--opcua-cert"), ("opcua_key", "--opcua-key"), ("opcua_trust", "--opcua-trust"),
                      ("io", "--io"), ("io_reject", "--io-reject"), ("io_ok", "--io-ok"), ("io_alarm", "--io-alarm"),
                      ("io_ready", "--io-ready"), ("io_trigger", "--io-trigger")):
        if fields.get(key) and (not key.startswith(("opcua_", "modbus_")) or fields.get(key.split("_")[0])):
            # the OPC UA files and the PCs Modbus answers go with their endpoint
            argv += [flag, fields[key]]
    if free_run and (fields.get("modbus") or fields.get("opcua")):
        argv.append("--free-run")
    for folder in recipe_folders(fields.get("recipes", "")):
        argv += ["--recipe", str(folder.absolute())]
    defaults = default_values()
    for key, flag in ALARM_FLAGS.items():
        if str(alarms[key]) != str(defaults[key]):
            argv += [flag, f"{alarms[key]:g}" if isinstance(alarms[key], float) else str(alarms[key])]
    if alarms[MASTER_EVERY] and fields.get("masters"):
        argv += ["--master-every", _hours(alarms[MASTER_EVERY])]
    if alarms[BACKUPS]:
        argv += ["--backups", alarms[BACKUPS]]
        if alarms[BACKUP_EVERY] != defaults[BACKUP_EVERY]:
            argv += ["--backup-every", _hours(alarms[BACKUP_EVERY])]
    return argv


def command_text(argv: list[str]) -> str:
    """One line for a shell or a systemd EnvironmentFile's RUN_ARGS (quoted where a value needs it)."""
    return shlex.join(argv)
