"""`inspector users add | remove | list`: the people who sign in at the window (station/sign_in.py). Thin: the
station layer reads and writes the file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from inference import InspectorError

from .one_line import run_command


def build_parser() -> argparse.ArgumentParser:
    from station.sign_in import ENVIRONMENT, MIN_PASSWORD, machine_users_file

    p = argparse.ArgumentParser(
        prog="inspector users",
        description="The people who sign in at the window to teach, calibrate, activate versions or mark parts. "
        "Where a users file is in force, the window starts as the operator (run the line, inspect) and a person "
        "signs in for more; their name goes into the audit trail and the review marks.")
    p.add_argument("--file", type=Path, metavar="FILE",
                   help=f"the users file (default: ${ENVIRONMENT}, else {machine_users_file()}, which needs an "
                   "administrator to write)")
    sub = p.add_subparsers(dest="action", required=True)
    a = sub.add_parser("add", help="add a person, or change their password and roles",
                       description="Add a person, or give one a new password and roles. The password is asked "
                       f"twice (at least {MIN_PASSWORD} characters) and kept as a salted scrypt hash.")
    a.add_argument("name", help="one word, as the audit trail shows it (e.g. ana)")
    a.add_argument("--roles", required=True,
                   help="comma-separated: line (run the line, inspect), review (mark false rejects / accepts), "
                   "backup, read, engineer (everything: teach, calibrate, activate, settings)")
    a.add_argument("--password-stdin", action="store_true", help="read the password from standard input's first "
                   "line instead of asking (for scripts)")
    r = sub.add_parser("remove", help="remove a person")
    r.add_argument("name")
    sub.add_parser("list", help="the people and their roles")
    return p


def main(argv: Sequence[str]) -> int:
    return run_command(_command, build_parser().parse_args(list(argv)))


def _command(args) -> int:
    from station.sign_in import machine_users_file, read_users, remove_user, set_user, users_file

    path = users_file(args.file) or machine_users_file()
    if args.action == "list":
        users = read_users(path)
        for user in users.values():
            print(f"{user.name:<20} {','.join(user.roles)}")
        print(f"{len(users)} user(s) in {path}")
        return 0
    if args.action == "remove":
        print(remove_user(path, args.name))
        return 0
    print(set_user(path, args.name, args.roles, _password(args.password_stdin)))
    return 0


def _password(from_stdin: bool) -> str:
    from inspector_line.person_args import read_password

    if from_stdin:
        return read_password(True)
    first = read_password(False)
    if read_password(False, "again: ") != first:
        raise InspectorError("the two passwords differ: nothing was written")
    return first
