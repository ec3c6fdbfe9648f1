"""The self-test of an installation without torch (the edge bundle): it inspects an exported model made by the
full install and checks the full install's verdicts and scores, with torch and timm imports blocked."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("openvino")

from inspector_cli.selftest_edge import EXPECTED, MODEL, make  # noqa: E402
from edge_helpers import blocked_env  # noqa: E402


def _edge(tmp_path: Path, module: str, *args: str) -> subprocess.CompletedProcess:
    """`python -m module args` with torch, timm and torchvision imports blocked."""
    env = blocked_env(tmp_path / "blocker")
    return subprocess.run([sys.executable, "-m", module, *args], env=env, capture_output=True, text=True,
                          timeout=240, cwd=tmp_path)


def _selftest(tmp_path: Path, folder: Path) -> subprocess.CompletedProcess:
    return _edge(tmp_path, "inspector_cli.selftest", "--export", str(folder))


def test_the_edge_self_test_passes_without_torch_and_fails_on_other_results(tiny_cnn_config, tmp_path):
    folder = tmp_path / "selftest"
    expected = make(folder, tiny_cnn_config.replace(runtime="openvino", precision="fp32", use_gpu=False))
    assert {r["verdict"] for r in expected["results"]} == {"OK", "NG"}
    assert (folder / MODEL / "export.json").is_file()
    run = _selftest(tmp_path, folder)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASS engine: " in run.stdout and "no torch" in run.stdout
    assert "PASS verdicts: 7 of 7 as the full install" in run.stdout and "self-test PASSED: 5 of 5" in run.stdout
    assert "PASS service: inspector serve" in run.stdout and "as the full install" in run.stdout

    other = {"OK": "NG", "NG": "OK"}
    last = expected["results"][-1]
    last["verdict"], was = other[last["verdict"]], last["verdict"]
    (folder / EXPECTED).write_text(json.dumps(expected))
    run = _selftest(tmp_path, folder)
    assert run.returncode == 1
    assert f"FAIL verdicts: not the full install's verdicts: {last['name']}: {was} not {last['verdict']}" in run.stdout
    assert "self-test FAILED" in run.stdout


def test_teaching_without_torch_says_the_installation_inspects_exported_models_only(tmp_path):
    from inference.synthetic import write_discs

    write_discs(tmp_path / "ok", range(2))
    run = _edge(tmp_path, "inspector_cli.entry", "fit", str(tmp_path / "proj"), "--ok", str(tmp_path / "ok"))
    assert run.returncode == 2
    assert re.fullmatch(r"inspector: error: this installation has no (torch|timm): it inspects exported models "
                        r"only \(inspector export on a full install\); teaching needs the full install",
                        run.stderr.strip()), run.stderr
    assert not (tmp_path / "proj" / "manifest.json").exists()
