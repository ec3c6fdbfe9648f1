"""People signed in at the window: who may teach, calibrate, switch versions or mark parts on a shared line PC, and
whose name the audit trail and the review marks record.

A line PC usually runs one OS account for every shift, so the OS user says nothing about who changed a threshold.
A users file lists the people, a line each, `NAME ROLES PASSWORD-HASH`, the roles those of station/access.py (the
service's tokens file uses the same): `engineer` teaches, calibrates and activates, `review` marks inspections,
`backup` backs a project up, `line` runs the line. `inspector users add NAME --roles engineer` writes it. Where a
users file is found, the window starts as the operator (the `line` role: run the line and inspect) and a person
signs in for more; the window signs them out after some minutes without a key or a click. Without one, the window
works as before: everything, under the OS user's name.

The file is `--users FILE`, else $INSPECTOR_USERS, else the machine's own place (`users_file()`), which only an
administrator can write, so that an operator cannot lift the lock by deleting a file. A file named but missing or
unreadable keeps the lock and lets nobody in (the sign-in says why): a slip never opens the station.

Passwords are kept as salted scrypt hashes (hashlib), compared in constant time; five wrong passwords in a row
refuse every sign-in for 30 seconds.

    sign_in = SignIn(users_file(None))
    sign_in.sign_in("ana", password)   # the Caller, or SignInRefused saying why
    sign_in.may("teach"), sign_in.who
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from inference import InspectorError, os_user

from .access import PERMISSIONS, Caller, parse_roles, roles_granting

ENVIRONMENT = "INSPECTOR_USERS"
MIN_PASSWORD = 8
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1  # 16 MB and about 50 ms a try: slow to guess, quick to sign in
TRIES_BEFORE_PAUSE, PAUSE_S = 5, 30.0
OPERATOR = Caller("operator", ("line",))  # nobody signed in, where a users file is in force
# What an unknown name's password is checked against: one scrypt as for a known name (hashing a fresh one first would
# take two), so the time of a refusal does not tell which names exist; an unknown name is refused whatever it matches.
NOBODY_HASH = ("scrypt$16384$8$1$42MuFpojDoefgDIyYTDVzA==$"
               "8vL9mT6QlKZEA/69cOFVzBhcgtDtf/jQ0oCnx4gHYUykXmQvoYt8YFJlwWYPS61rzdOexdetv1qBoidhCXjjlQ==")
HEADER = ("# Inspector users: NAME ROLES PASSWORD-HASH, written by `inspector users` (roles: read, line, review, "
          "backup, engineer)\n")


class SignInRefused(InspectorError):
    """A sign-in refused: wrong name or password, too many tries, or no users file to check against."""


@dataclass(frozen=True)
class User:
    name: str
    roles: tuple[str, ...]
    password_hash: str


def machine_users_file() -> Path:
    """Where a line PC keeps its users file: a folder only an administrator writes."""
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "Inspector" / "users.txt"
    return Path("/etc/inspector/users.txt")


def users_file(explicit: Optional[Path]) -> Optional[Path]:
    """The users file in force: `explicit` (--users), else $INSPECTOR_USERS, else the machine's file where it exists;
    None: no users file, the window works without sign-in. A named file counts even when missing (the lock holds)."""
    if explicit is not None:
        return Path(explicit)
    if os.environ.get(ENVIRONMENT):
        return Path(os.environ[ENVIRONMENT])
    machine = machine_users_file()
    return machine if machine.exists() else None


def hash_password(password: str) -> str:
    """The stored form: scrypt$N$r$p$SALT$HASH (base64), a fresh salt each time."""
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(key)])


def password_matches(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, key = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(key)
        given = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                               dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(given, expected)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def read_users(path: Path) -> dict[str, User]:
    """name -> User; InspectorError naming the file (and the line) that cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InspectorError(f"the users file {path} is not there") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InspectorError(f"cannot read the users file {path}: {exc}") from None
    users: dict[str, User] = {}
    for n, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        where = f"users file {path}, line {n}"
        if len(words) != 3 or not words[2].startswith("scrypt$"):
            raise InspectorError(f"{where}: write NAME ROLES PASSWORD-HASH (inspector users add writes it)")
        name, roles, password_hash = words
        if name in users:
            raise InspectorError(f"{where}: the name {name} is given twice: the audit trail could not tell them apart")
        users[name] = User(name, parse_roles(roles, where), password_hash)
    return users


def write_users(path: Path, users: dict[str, User]) -> None:
    """Write the whole file at once (a temporary file renamed over it): a crash leaves the old file or the new."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = HEADER + "".join(f"{u.name} {','.join(u.roles)} {u.password_hash}\n" for u in users.values())
    fd, tmp = tempfile.mkstemp(prefix=".users-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        # Readable by the window's account (mkstemp makes 0600); only its folder's owner may write it.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def set_user(path: Path, name: str, roles: str, password: str) -> str:
    """Add a person, or give one a new password and roles; says which. InspectorError for a bad name, role or
    password (nothing is written then)."""
    if not name or any(c.isspace() for c in name) or name.startswith("#"):
        raise InspectorError(f"a user name is one word without spaces, not starting with #: {name!r}")
    parsed = parse_roles(roles, "--roles")
    if len(password) < MIN_PASSWORD:
        raise InspectorError(f"the password must be at least {MIN_PASSWORD} characters long")
    users = read_users(path) if Path(path).exists() else {}
    changed = name in users
    users[name] = User(name, parsed, hash_password(password))
    write_users(path, users)
    return f"{'changed' if changed else 'added'} {name} ({','.join(parsed)}) in {path}"


def remove_user(path: Path, name: str) -> str:
    users = read_users(path)
    if name not in users:
        raise InspectorError(f"{name} is not in the users file {path}")
    del users[name]
    write_users(path, users)
    return f"removed {name} from {path}" + ("; nobody can sign in now" if not users else "")


def command_line_who(user: Optional[str], password: Callable[[], str], permission: str,
                     path: Optional[Path] = None) -> Optional[str]:
    """Who a command-line change is made by where a users file is in force: `user` (--user), signed in with
    `password()` (asked only then), who must have `permission`; InspectorError saying what is missing, before any
    work. None without a users file: the OS user, as before. The command line answers to the same people as the
    window, so a terminal on the line PC is no way round the window's lock, and the audit trail names them."""
    path = path if path is not None else users_file(None)
    if path is None:
        return None
    if not user:
        raise InspectorError(f"the users file {path} is in force on this PC: give --user NAME (its password is asked) "
                             f"to {PERMISSIONS[permission]}")
    caller = SignIn(path).sign_in(user, password())
    if not caller.may(permission):
        raise InspectorError(f"{caller.name} (roles: {', '.join(caller.roles)}) may not {PERMISSIONS[permission]}: "
                             f"that needs the role {roles_granting(permission)}")
    return caller.name


class SignIn:
    """Who works at the window now (Qt-free; app/sign_in_bar.py shows it). Without a users file: the OS user, with
    every permission. With one: the operator until a person signs in."""

    def __init__(self, path: Optional[Path], clock: Callable[[], float] = time.monotonic):
        self.path = Path(path) if path is not None else None
        self.required = self.path is not None
        self.caller = OPERATOR if self.required else Caller(os_user(), ("engineer",))
        self._clock = clock
        self._wrong = 0
        self._paused_until = 0.0

    @property
    def who(self) -> str:
        """The name the audit trail and the review marks record."""
        return self.caller.name

    @property
    def signed_in(self) -> bool:
        return self.required and self.caller is not OPERATOR

    def may(self, permission: str) -> bool:
        return self.caller.may(permission)

    def refusal(self, permission: str) -> str:
        """Why the one at the window may not do this, and what would let them."""
        return (f"{self.who} may not {PERMISSIONS[permission]}: sign in as a person with the role "
                f"{roles_granting(permission)} (Sign in… in the status bar)")

    def sign_in(self, name: str, password: str) -> Caller:
        """The person's Caller, now the window's; SignInRefused saying why (the one signed in before stays)."""
        now = self._clock()
        if not self.required:
            raise SignInRefused("this station has no users file: everyone works under the OS user's name")
        if now < self._paused_until:
            raise SignInRefused(f"too many wrong passwords: try again in {self._paused_until - now:.0f} s")
        try:
            users = read_users(self.path)  # read at each sign-in: a person added or removed counts at once
        except InspectorError as exc:
            raise SignInRefused(f"{exc}: nobody can sign in until it is fixed") from None
        user = users.get(name.strip())
        matches = password_matches(password, user.password_hash if user else NOBODY_HASH)
        if user is None or not matches:
            self._wrong += 1
            if self._wrong >= TRIES_BEFORE_PAUSE:
                self._wrong, self._paused_until = 0, now + PAUSE_S
                raise SignInRefused(f"wrong name or password, {TRIES_BEFORE_PAUSE} times: sign-in is paused for "
                                    f"{PAUSE_S:.0f} s")
            raise SignInRefused("wrong name or password")
        self._wrong = 0
        self.caller = Caller(user.name, user.roles)
        return self.caller

    def sign_out(self) -> None:
        if self.required:
            self.caller = OPERATOR
