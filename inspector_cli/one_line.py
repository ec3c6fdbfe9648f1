"""A fault the user can fix, as the command line says it: one line on stderr, exit 2 (shared by the commands that
parse their own arguments: versions, activate, audit, backup, restore, rescore)."""

from __future__ import annotations

import sys
from typing import Callable

from inference import InspectorError, user_message


def err(message: str) -> None:
    print(f"inspector: error: {' '.join(str(message).split())}", file=sys.stderr)


def run_command(command: Callable[[object], int], args) -> int:
    """`command(args)`; an InspectorError or an OSError (disk full, read-only, permission: in plain words) is
    one line and exit 2."""
    try:
        return command(args)
    except (InspectorError, OSError) as exc:
        err(user_message(exc))
        return 2
