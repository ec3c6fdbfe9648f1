"""The `inspector run` command line that runs what the Run view's Start runs: a setting tried in the window goes
into the line PC's service (packaging/linux/run.env) as it is, not retyped flag by flag. Only what differs from
the run's defaults is written."""

from __future__ import annotations

import shlex
from pathlib import Path

from .panels.alarm_limits_dialog import BACKUP_EVERY, BACKUPS, MASTER_EVERY, default_values

# The Alarms… dialog's values and the flags that set them (inspector_line/line_args.py).
ALARM_FLAGS = {"ng_streak": "--alarm-ng", "streak": "--alarm-streak", "yield_pct": "--alarm-yield",
               "yield_window": "--alarm-window", "drift": "--alarm-drift", "min_free": "--min-free"}


def _hours(value: float) -> str:
    return f"{value:g}h"


def run_arguments(project: Path, fields: dict[str, str], free_run: bool, alarms: dict) -> list[str]:
    """`inspector run`'s arguments for the Run view's `fields` (source, archive, part_id_pattern, masters,
    modbus, opcua, opcua_users, mqtt: text, "" when empty), its Free run box and its Alarms… values."""
    argv = ["inspector", "run", str(Path(project).absolute()), "--source", fields["source"]]
    for key, flag in (("archive", "--archive"), ("part_id_pattern", "--part-id-pattern"), ("masters", "--masters"),
                      ("modbus", "--modbus"), ("opcua", "--opcua"), ("opcua_users", "--opcua-users"),
                      ("mqtt", "--mqtt")):
        if fields.get(key) and (key != "opcua_users" or fields.get("opcua")):  # the users go with an endpoint
            argv += [flag, fields[key]]
    if free_run and (fields.get("modbus") or fields.get("opcua")):
        argv.append("--free-run")
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
