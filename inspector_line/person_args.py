"""Who makes a change from the command line, where a users file is in force (station/sign_in.py): `--user NAME`
and its password, for the commands that change verdicts (fit, calibrate, activate, restore, history --mark).
Without a users file they are not asked and the OS user is recorded, as before."""

from __future__ import annotations

import getpass
import sys
import warnings
from typing import Optional

from inference import InspectorError


def add_person_arguments(p) -> None:
    p.add_argument("--user", metavar="NAME",
                   help="where a users file is in force (inspector users): who makes this change, as the audit "
                   "trail names them; the password is asked")
    p.add_argument("--password-stdin", action="store_true",
                   help="with --user: read the password from standard input's first line (for scripts)")


def read_password(from_stdin: bool, prompt: str = "password: ") -> str:
    """A password from standard input's first line, or asked on the terminal; InspectorError when none can come."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    with warnings.catch_warnings():
        # No terminal (a service, a script): getpass would read standard input aloud, or end in a traceback.
        warnings.simplefilter("error", getpass.GetPassWarning)
        try:
            return getpass.getpass(prompt)
        except (EOFError, getpass.GetPassWarning):
            raise InspectorError("no terminal to ask the password on: type the command at a terminal, or pass the "
                                 "password with --password-stdin") from None


def person(args, permission: str) -> Optional[str]:
    """The name the change is recorded under (None: the OS user, no users file); InspectorError before any work
    when a users file is in force and --user is missing, the password wrong, or the role short."""
    from station.sign_in import command_line_who

    user = getattr(args, "user", None)
    return command_line_who(user, lambda: read_password(args.password_stdin, f"password for {user}: "), permission)
