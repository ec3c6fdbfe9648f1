"""The users file and the sign-in behind the window's lock (station/sign_in.py) and `inspector users`: salted scrypt
hashes, one role vocabulary with the service, a file that cannot be read letting nobody in, five wrong passwords
pausing sign-in, and nothing written on bad input."""

from __future__ import annotations

import io

import pytest

from inference import InspectorError
from inspector_cli.main import main as cli
from station.access import ROLES
from station.sign_in import (
    OPERATOR, PAUSE_S, SignIn, SignInRefused, hash_password, machine_users_file, password_matches, read_users,
    remove_user, set_user, users_file,
)


def test_a_password_is_kept_salted_and_checked_exactly():
    first, second = hash_password("a-password"), hash_password("a-password")
    assert first != second and "a-password" not in first  # a fresh salt each time, never the password
    assert password_matches("a-password", first) and password_matches("a-password", second)
    assert not password_matches("a-passworD", first) and not password_matches("", first)
    assert not password_matches("a-password", "scrypt$broken") and not password_matches("x", "plain")


def test_the_users_file_holds_names_roles_and_hashes_only(users):
    text = users.read_text()
    assert "ana-password" not in text and "bo-password" not in text
    read = read_users(users)
    assert list(read) == ["ana", "bo"] and read["bo"].roles == ("line", "review")
    assert users.stat().st_mode & 0o777 == 0o644  # the window's account reads it; only the admin writes it
    assert set_user(users, "bo", "review", "new-password").startswith("changed bo")
    assert read_users(users)["bo"].roles == ("review",) and password_matches("new-password", read_users(users)["bo"]
                                                                             .password_hash)
    assert remove_user(users, "bo") == f"removed bo from {users}" and list(read_users(users)) == ["ana"]


@pytest.mark.parametrize("line, words", [
    ("ana boss scrypt$1$2$3$4$5", "unknown role boss"),
    ("ana engineer", "write NAME ROLES PASSWORD-HASH"),
    ("ana engineer plaintext-password", "write NAME ROLES PASSWORD-HASH"),
])
def test_a_bad_line_names_the_file_and_line(tmp_path, line, words):
    path = tmp_path / "users.txt"
    path.write_text("# people\n" + line + "\n")
    with pytest.raises(InspectorError, match=f"users file {path}, line 2: {words}"):
        read_users(path)


def test_bad_input_writes_nothing(users):
    before = users.read_bytes()
    for name, roles, password in (("ana", "engineer", "short"), ("two words", "engineer", "long-enough"),
                                  ("cy", "boss", "long-enough"), ("cy", "", "long-enough")):
        with pytest.raises(InspectorError):
            set_user(users, name, roles, password)
    with pytest.raises(InspectorError, match="nobody is not in the users file"):
        remove_user(users, "nobody")
    assert users.read_bytes() == before


def test_without_a_users_file_the_window_is_open_under_the_os_user():
    state = SignIn(None)
    assert not state.required and not state.signed_in
    assert all(state.may(p) for p in ("read", "inspect", "review", "backup", "teach"))
    with pytest.raises(SignInRefused, match="no users file"):
        state.sign_in("ana", "ana-password")


def test_a_person_signs_in_for_their_roles_and_out_to_the_operator(users):
    state = SignIn(users)
    assert state.caller is OPERATOR and state.may("inspect") and not state.may("review") and not state.may("teach")
    assert "sign in as a person with the role review, engineer" in state.refusal("review")
    state.sign_in("bo", "bo-password")
    assert state.who == "bo" and state.may("review") and not state.may("teach")
    state.sign_in("ana", "ana-password")
    assert state.who == "ana" and state.may("teach")
    state.sign_out()
    assert state.caller is OPERATOR and not state.may("teach")


def test_wrong_passwords_refuse_alike_and_five_pause_sign_in(users):
    now = [1000.0]
    state = SignIn(users, clock=lambda: now[0])
    state.sign_in("ana", "ana-password")
    for name, password in (("ana", "wrong-one"), ("nobody", "ana-password"), ("ana", ""), ("bo", "ana-password")):
        with pytest.raises(SignInRefused, match="^wrong name or password$"):  # the same words: no name is told
            state.sign_in(name, password)
        assert state.who == "ana", "a refused sign-in leaves the one signed in before"
    with pytest.raises(SignInRefused, match="5 times: sign-in is paused"):
        state.sign_in("ana", "still-wrong")
    with pytest.raises(SignInRefused, match="too many wrong passwords"):
        state.sign_in("ana", "ana-password")  # the right one too, while paused
    now[0] += PAUSE_S + 1
    assert state.sign_in("ana", "ana-password").name == "ana"


def test_the_file_is_read_at_each_sign_in_and_a_missing_one_lets_nobody_in(users, tmp_path):
    state = SignIn(users)
    remove_user(users, "bo")
    with pytest.raises(SignInRefused, match="wrong name or password"):
        state.sign_in("bo", "bo-password")  # removed a moment ago: refused at once
    missing = SignIn(tmp_path / "typo.txt")
    assert missing.required and missing.caller is OPERATOR  # a named file holds the lock even when missing
    with pytest.raises(SignInRefused, match="typo.txt is not there: nobody can sign in until it is fixed"):
        missing.sign_in("ana", "ana-password")


def test_the_users_file_in_force(tmp_path, monkeypatch):
    monkeypatch.delenv("INSPECTOR_USERS", raising=False)
    assert users_file(tmp_path / "given.txt") == tmp_path / "given.txt"
    assert users_file(None) == (machine_users_file() if machine_users_file().exists() else None)
    monkeypatch.setenv("INSPECTOR_USERS", str(tmp_path / "env.txt"))
    assert users_file(None) == tmp_path / "env.txt"  # named, so in force even before it exists
    assert users_file(tmp_path / "given.txt") == tmp_path / "given.txt"


def test_the_service_and_the_window_share_the_roles():
    from inspector_service import access as service
    from station import access as station

    assert service.PERMISSIONS is station.PERMISSIONS and service.Caller is station.Caller
    assert ROLES["engineer"] >= ROLES["line"] | ROLES["review"] | ROLES["backup"]


def test_inspector_users_adds_lists_and_removes(tmp_path, monkeypatch, capsys):
    path = tmp_path / "users.txt"
    monkeypatch.setattr("sys.stdin", io.StringIO("ana-password\n"))
    assert cli(["users", "--file", str(path), "add", "ana", "--roles", "engineer", "--password-stdin"]) == 0
    assert password_matches("ana-password", read_users(path)["ana"].password_hash)
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    before = path.read_bytes()
    assert cli(["users", "--file", str(path), "add", "bo", "--roles", "review", "--password-stdin"]) == 2
    assert "at least 8 characters" in capsys.readouterr().err and path.read_bytes() == before
    assert cli(["users", "--file", str(path), "list"]) == 0
    assert "ana" in capsys.readouterr().out
    assert cli(["users", "--file", str(path), "remove", "ana"]) == 0
    assert "nobody can sign in now" in capsys.readouterr().out and read_users(path) == {}
    assert cli(["users", "--file", str(tmp_path / "none.txt"), "list"]) == 2
    assert "is not there" in capsys.readouterr().err


def test_the_command_line_answers_to_the_same_people_where_a_users_file_is_in_force(users, tmp_path, monkeypatch,
                                                                                   capsys):
    """A terminal on the line PC is no way round the window's lock: fit, calibrate, activate, restore and history
    --mark ask for --user and its password, refuse a short role before any work, and the audit trail and the marks
    name the person. Without a users file nothing is asked (the other CLI tests)."""
    from inference import active_version, read_audit
    from line_helpers import make_project, part, png_bytes
    from station.history import History, default_path

    _, project = make_project(tmp_path / "proj")
    images = tmp_path / "cal"
    images.mkdir()
    for n in range(6):
        (images / f"ok{n}.png").write_bytes(png_bytes(part(300 + n)))
    monkeypatch.setenv("INSPECTOR_USERS", str(users))
    audit = read_audit(project)

    def cli_as(password, *argv):
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
        return cli(list(argv))

    assert cli(["activate", str(project), "v1"]) == 2
    assert "is in force on this PC: give --user NAME" in capsys.readouterr().err
    assert cli_as("bo-password", "activate", str(project), "v1", "--user", "bo", "--password-stdin") == 2
    assert "bo (roles: line, review) may not teach" in capsys.readouterr().err
    assert cli_as("not-hers", "activate", str(project), "v1", "--user", "ana", "--password-stdin") == 2
    assert "wrong name or password" in capsys.readouterr().err
    assert read_audit(project) == audit and active_version(project) == "v2", "nothing changed"

    assert cli_as("ana-password", "activate", str(project), "v1", "--user", "ana", "--password-stdin",
                  "--note", "try v1") == 0
    assert (read_audit(project)[-1]["who"], active_version(project)) == ("ana", "v1")
    assert cli_as("ana-password", "calibrate", str(project), "--ok", str(images), "--user", "ana",
                  "--password-stdin") == 0
    assert read_audit(project)[-1]["action"] == "calibrate" and read_audit(project)[-1]["who"] == "ana"

    assert cli(["infer", str(project), str(images / "ok0.png")]) == 0  # inspecting asks nobody
    capsys.readouterr()
    assert cli(["history", str(project), "--mark", "1", "false_accept"]) == 2
    assert cli_as("bo-password", "history", str(project), "--mark", "1", "false_accept", "--user", "bo",
                  "--password-stdin") == 0
    with History(default_path(project)) as history:
        assert history.get(1).label == "false_accept" and history.get(1).marked_by == "bo"
    assert cli(["backup", str(project), str(tmp_path / "b.zip")]) == 0  # a backup changes no verdict: nobody asked
    assert cli(["restore", str(tmp_path / "b.zip"), str(tmp_path / "copy")]) == 2 and not (tmp_path / "copy").exists()
    assert cli_as("ana-password", "restore", str(tmp_path / "b.zip"), str(tmp_path / "copy"), "--user", "ana",
                  "--password-stdin") == 0
    assert read_audit(tmp_path / "copy")[-1]["action"] == "restore" and read_audit(tmp_path / "copy")[-1]["who"] == "ana"


def test_a_password_that_cannot_be_asked_is_one_line_not_a_traceback(users, tmp_path, monkeypatch, capsys):
    """A service or a script without a terminal: getpass has nothing to read (EOFError, or its warning that it would
    echo standard input); said in one line, exit 2, nothing changed."""
    import getpass
    import warnings

    def no_terminal(prompt=""):
        warnings.warn("Can not control echo on the terminal.", getpass.GetPassWarning)
        raise EOFError

    monkeypatch.setattr(getpass, "getpass", no_terminal)
    monkeypatch.setenv("INSPECTOR_USERS", str(users))
    assert cli(["activate", str(tmp_path), "v1", "--user", "ana"]) == 2
    assert "no terminal to ask the password on" in capsys.readouterr().err
    before = users.read_bytes()
    assert cli(["users", "--file", str(users), "add", "cy", "--roles", "line"]) == 2
    assert "no terminal to ask the password on" in capsys.readouterr().err and users.read_bytes() == before


def test_an_unknown_name_costs_the_same_one_hash_as_a_wrong_password(users, monkeypatch):
    """The refusal's time must not tell which names exist: one scrypt either way (before, an unknown name hashed a
    fresh password first, then checked against it: two)."""
    import hashlib

    calls = []
    real = hashlib.scrypt
    monkeypatch.setattr(hashlib, "scrypt", lambda *a, **k: calls.append(1) or real(*a, **k))
    state = SignIn(users)
    for name in ("ana", "nobody"):
        calls.clear()
        with pytest.raises(SignInRefused, match="^wrong name or password$"):
            state.sign_in(name, "not-the-password")
        assert len(calls) == 1, name
