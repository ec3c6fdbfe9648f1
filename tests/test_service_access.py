"""`inspector serve --token-file` with a token per caller: each route asks for a permission, each token's roles
grant some, a refusal is a 403 that changes nothing and says which role would do, and every change is audited under
the name of the token that made it (before, every change through the service was "service")."""

from __future__ import annotations

import httpx
import pytest

from inference import InspectorError, active_version, list_versions, read_audit
from inspector_service import cli
from inspector_service.access import read_tokens
from station.access import PERMISSIONS, Caller
from inspector_service.app import create_app
from line_helpers import make_project, part, png_bytes
from service_helpers import LiveServer

TOKENS = """# who, roles, token
ana engineer ana-0123456789abcdef
line-3 line line-3-0123456789abcdef
rework review rework-0123456789abcdef
mes read mes-0123456789abcdef
it backup it-0123456789abcdef
"""


def test_every_route_asks_for_a_permission(tmp_path, tiny_config):
    """A route added without one would be open to every token (the MES could teach): a token without any
    permission is refused by every route of the API's schema, before any work. (The docs pages are open to every
    token.)"""
    nobody = "nobody-0123456789abcdef"
    server = LiveServer(create_app(tmp_path, config=tiny_config, tokens={nobody: Caller("nobody", ())})).start()
    try:
        with _client(server, nobody) as c:
            paths = c.get("/openapi.json").json()["paths"]
            asked = {}
            for path, methods in paths.items():
                url = path.format(name="proj", job_id="j1", row_id=1, seq=1)
                for method in methods:
                    r = c.request(method.upper(), url)
                    assert r.status_code == 403, (method, path, r.text)
                    asked[(method, path)] = r.json()["error"]
    finally:
        server.stop()
    assert len(asked) >= 15 and not (tmp_path / "proj").exists()
    assert "may not inspect images" in asked[("post", "/projects/{name}/infer")]
    assert "may not download a project's backup" in asked[("get", "/projects/{name}/backup")]
    assert "may not teach" in asked[("post", "/projects/{name}/activate")]
    assert {text.split("may not ")[1].split(":")[0] for text in asked.values()} == set(PERMISSIONS.values())


def _client(server, token):
    return httpx.Client(base_url=server.url, timeout=120, headers={"Authorization": f"Bearer {token}"})


def test_each_token_does_what_its_roles_allow_and_changes_are_audited_by_name(tmp_path):
    engine, proj = make_project(tmp_path / "projects" / "proj")
    (tmp_path / "tokens.txt").write_text(TOKENS)
    tokens = read_tokens(tmp_path / "tokens.txt", "service")
    server = LiveServer(create_app(tmp_path / "projects", engine=engine, tokens=tokens)).start()
    image = [("images", ("p.png", png_bytes(part(300)), "image/png"))]
    try:
        with _client(server, "line-3-0123456789abcdef") as line:
            inspected = line.post("/projects/proj/infer", files=image, data={"part_id": ["SN-1"]})
            assert inspected.status_code == 200, inspected.text
            row_id = inspected.json()["results"][0]["row_id"]
            assert line.get("/projects/proj/history").status_code == 200
            refused = line.post("/projects/proj/activate", data={"version": "v1"})
            assert refused.status_code == 403
            assert refused.json()["error"] == ("the token of line-3 (roles: line) may not teach, calibrate, switch "
                                               "versions, restore a backup as a new project or cancel fit jobs: "
                                               "that needs a token with the role engineer")
            restoring = line.post("/projects/proj-2/restore", files={"backup": ("proj.zip", b"PK")})
            assert restoring.status_code == 403 and not (proj.parent / "proj-2").exists()
            assert line.put(f"/projects/proj/history/{row_id}/label", data={"label": "false_reject"}).status_code \
                == 403
            assert line.get("/projects/proj/backup").status_code == 403
        assert active_version(proj) == "v2"  # the refusal changed nothing
        with _client(server, "mes-0123456789abcdef") as mes:
            assert mes.get("/projects/proj/history/periods").status_code == 200
            assert mes.get("/metrics").status_code == 200
            no = mes.post("/projects/proj/infer", files=image)
            assert no.status_code == 403 and "role line, engineer" in no.json()["error"]
        with _client(server, "rework-0123456789abcdef") as rework:
            marked = rework.put(f"/projects/proj/history/{row_id}/label", data={"label": "false_reject"})
            assert marked.status_code == 200 and marked.json()["row"]["label"] == "false_reject"
            assert marked.json()["row"]["marked_by"] == "rework"  # who decided the NG part was good
        with _client(server, "it-0123456789abcdef") as it:
            assert it.get("/projects/proj/backup").status_code == 200
            assert it.post("/projects/proj/fit_ok", files=image).status_code == 403
        with _client(server, "ana-0123456789abcdef") as ana:
            assert ana.post("/projects/proj/activate", data={"version": "v1", "note": "test"}).status_code == 200
            ok = [("ok", (f"o{i}.png", png_bytes(part(100 + i)), "image/png")) for i in range(6)]
            ng = [("ng", (f"n{i}.png", png_bytes(part(200 + i, True)), "image/png")) for i in range(3)]
            assert ana.post("/projects/proj/calibrate_ng", files=ok + ng).status_code == 200
            assert ana.get("/projects/proj/audit").json()["chain"] == {"intact": True, "problems": []}
        assert httpx.get(f"{server.url}/health", timeout=30).status_code == 401
    finally:
        server.stop()
    audit = read_audit(proj)
    assert [(row["action"], row["who"]) for row in audit[-2:]] == [("rollback", "ana"), ("calibrate", "ana")]
    assert list_versions(proj)[-1].who == "ana"


def test_a_tokens_file_is_checked_line_by_line(tmp_path):
    def refused(text: str, match: str) -> None:
        (tmp_path / "t.txt").write_text(text)
        with pytest.raises(InspectorError, match=match):
            read_tokens(tmp_path / "t.txt", "service")

    refused("ana operator ana-0123456789abcdef\n", r"line 1: unknown role operator; roles are read, line")
    refused("ana engineer\n", "line 1: write NAME ROLES TOKEN")
    refused("ana engineer ana-0123456789abcdef\nbob line ana-0123456789abcdef\n", "line 2: the same token as ana")
    refused("ana engineer ana-0123456789abcdef\nana line bob-0123456789abcdef\n", "line 2: the name ana is given twice")
    refused("ana engineer short\n", "at least 16 characters")
    refused("# nobody yet\n", "holds no token")
    single = tmp_path / "one.txt"
    single.write_text("# the line's token\njust-one#token-0123456789\n")  # a # inside a token is the token's
    assert list(read_tokens(single, "line-1")) == ["just-one#token-0123456789"]
    (caller,) = read_tokens(single, "line-1").values()
    assert caller.name == "line-1" and caller.permissions == frozenset(PERMISSIONS)
    (tmp_path / "roles.txt").write_text("rework-pc line,review rework-pc-0123456789abcdef\n")
    (station,) = read_tokens(tmp_path / "roles.txt", "x").values()
    assert station.permissions == {"read", "inspect", "review"}


def test_serve_refuses_a_bad_tokens_file_in_one_line(tmp_path, capsys):
    (tmp_path / "t.txt").write_text("ana boss ana-0123456789abcdef\n")
    assert cli.main(["--projects", str(tmp_path / "p"), "--token-file", str(tmp_path / "t.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown role boss" in err


def test_a_caller_is_added_or_revoked_by_editing_the_file_without_stopping_the_service(tmp_path, caplog):
    """A technician leaves the plant: their token must stop working now, not at the next stop of the line. A typo
    while editing must not lock the line out: the tokens read before stay in force, and the log says why."""
    import time

    from inspector_service.access import RELOAD_EVERY_S, TokenFile

    engine, _ = make_project(tmp_path / "projects" / "proj")
    path = tmp_path / "tokens.txt"
    path.write_text(TOKENS)
    server = LiveServer(create_app(tmp_path / "projects", engine=engine, tokens=TokenFile(path, "service"))).start()

    def status(token: str) -> int:
        return httpx.get(f"{server.url}/projects", timeout=30, headers={"Authorization": f"Bearer {token}"}).status_code

    def after_reload() -> None:
        time.sleep(RELOAD_EVERY_S + 0.2)

    try:
        assert status("mes-0123456789abcdef") == 200 and status("new-0123456789abcdef") == 401
        path.write_text(TOKENS.replace("mes read mes-0123456789abcdef\n", "") + "new read new-0123456789abcdef\n")
        after_reload()
        assert status("new-0123456789abcdef") == 200 and status("mes-0123456789abcdef") == 401  # revoked
        path.write_text(TOKENS + "oops line\n")  # a slip while editing
        after_reload()
        assert status("new-0123456789abcdef") == 200 and status("line-3-0123456789abcdef") == 200
        assert any("line 7: write NAME ROLES TOKEN" in r.getMessage() and "stay in force" in r.getMessage()
                   for r in caplog.records)
    finally:
        server.stop()
