"""Every example in docs/curl_examples.md, run with curl against a live server, so the docs cannot rot."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from inference.synthetic import write_discs
from inspector_service.app import create_app
from service_helpers import LiveServer
from service_constants import TOKEN

DOC = Path(__file__).resolve().parents[1] / "docs" / "curl_examples.md"
BLOCK = re.compile(r"(<!-- server: (?P<server>\w+) -->\n)?```bash\n(?P<code>.*?)```", re.S)
DOC_ADDRESS = "127.0.0.1:8000"


def examples() -> list[tuple[str, str]]:
    """(server kind, bash code) for every ```bash block, in document order."""
    return [(m.group("server") or "plain", m.group("code")) for m in BLOCK.finditer(DOC.read_text())]


def test_the_doc_has_examples_for_every_endpoint():
    text = "\n".join(code for _, code in examples())
    assert len(examples()) >= 8
    for path in ("/health", "/fit_ok", "/jobs/", "/infer", "/calibrate_ng", "add=true", "-X DELETE", "/projects"):
        assert path in text, path


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_every_curl_example_runs(tmp_path, tiny_config):
    work = tmp_path / "qa"
    write_discs(work / "ok", range(6))
    write_discs(work / "cal", range(10, 14))
    write_discs(work / "ng", [50, 51], scratch=True)
    (work / "token.txt").write_text(TOKEN + "\n")
    servers = {
        "plain": LiveServer(create_app(tmp_path / "projects", config=tiny_config)).start(),
        "token": LiveServer(create_app(tmp_path / "projects_token", config=tiny_config, token=TOKEN)).start(),
    }
    try:
        for number, (kind, code) in enumerate(examples(), 1):
            address = servers[kind].url.removeprefix("http://")
            script = code.replace(DOC_ADDRESS, address)
            run = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=work, capture_output=True,
                                 text=True, timeout=120)
            where = f"example {number} in {DOC.name}:\n{code}\nstdout: {run.stdout}\nstderr: {run.stderr}"
            assert run.returncode == 0, where
            for expected in re.findall(r"^# expect: (.+)$", code, re.M):
                assert expected in run.stdout, f"{expected!r} missing from the output of {where}"
    finally:
        for server in servers.values():
            server.stop()
