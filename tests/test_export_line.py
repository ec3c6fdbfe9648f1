"""An exported model on the line: `inspector run` and `inspector serve` inspect it with its own network, in a
Python where torch and timm cannot be imported (the edge install), with the full install's verdicts and scores;
teaching it is refused in plain words; a package the edge install lacks is named in one line."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("openvino")

import httpx  # noqa: E402

from edge_helpers import blocked_env, make_export  # noqa: E402
from inference import Engine, EngineConfig  # noqa: E402
from inference.edge import EdgeEngine  # noqa: E402
from inspector_cli.main import main  # noqa: E402
from line_helpers import free_port  # noqa: E402
from station import Station  # noqa: E402

ENTRY = ("import sys; from inspector_cli.entry import main; rc = main(sys.argv[1:]); "
         "assert not [m for m in sys.modules if m.split('.')[0] in ('torch', 'timm')]; sys.exit(rc)")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export_line")
    cfg = make_export(root)
    full = root / "full.json"  # what the full install gives inspecting the project (torch, fp32)
    assert main(["infer", str(root / "proj"), str(root / "ng"), str(root / "cal"), "--json", str(full), *cfg]) == 0
    want = {Path(r["name"]).name: (r["verdict"], r["score"]) for r in json.loads(full.read_text())["results"]}
    assert {v for v, _ in want.values()} == {"OK", "NG"}
    return root, cfg, want


def _edge(tmp_path: Path, *args: str, blocked=("torch", "timm", "torchvision"), timeout=240):
    env = {**blocked_env(tmp_path / "blocker", blocked), "PATCHCORE_PRECISION": "fp32"}
    return subprocess.run([sys.executable, "-c", ENTRY, *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=tmp_path)


def test_a_station_inspects_an_export_with_its_own_network_whatever_engine_it_is_given(exported):
    root, cfg, _ = exported
    config = EngineConfig.load(Path(cfg[1]))
    plain = Engine(config)
    at_export = Station(root / "out", plain, record=False)
    assert isinstance(at_export.engine, EdgeEngine) and at_export.engine.folder == root / "out"
    # A run's other recipes share the first station's engine: a project next to an export gets a plain one.
    at_project = Station(root / "proj", at_export.engine, record=False)
    assert type(at_project.engine) is Engine
    assert Station(root / "proj", plain, record=False).engine is plain
    assert Station(root / "out", at_export.engine, record=False).engine is at_export.engine


def test_the_run_mode_inspects_an_export_without_torch_like_the_full_install(exported, tmp_path):
    root, cfg, want = exported
    export = tmp_path / "line"
    shutil.copytree(root / "out", export)
    images = tmp_path / "incoming"
    images.mkdir()
    for path in [*sorted((root / "ng").iterdir()), *sorted((root / "cal").iterdir())]:
        shutil.copy(path, images / path.name)
    run = _edge(tmp_path, "run", str(export), "--source", str(images), "--idle-exit", "2", *cfg)
    assert run.returncode == 0, run.stderr
    assert "done: 6 inspected" in run.stdout
    rows = tmp_path / "rows.json"
    assert _edge(tmp_path, "history", str(export), "--json", str(rows)).returncode == 0
    got = {r["file_name"]: (r["verdict"], r["score"], r["model_version"]) for r in json.loads(rows.read_text())}
    assert sorted(got) == sorted(want)
    for name, (verdict, score) in want.items():
        assert got[name][0] == verdict and got[name][1] == pytest.approx(score, rel=1e-4)
    # The export's own version v1 in the rows; its note names the project's version they trace back to.
    assert {v for _, _, v in got.values()} == {"v1"}
    versions = _edge(tmp_path, "versions", str(export), "--json")
    assert versions.returncode == 0, versions.stderr
    assert "exported from" in versions.stdout and "version v2" in versions.stdout
    info = _edge(tmp_path, "info", str(export), "--json", *cfg)
    assert info.returncode == 0, info.stderr
    origin = json.loads(info.stdout)["export"]
    assert (origin["exported_from"], origin["version"], origin["precision"]) == (str(root / "proj"), "v2", "fp32")


def test_the_service_inspects_an_export_without_torch_and_refuses_to_teach_it(exported, tmp_path):
    root, cfg, want = exported
    projects = tmp_path / "projects"
    shutil.copytree(root / "out", projects / "edge1")
    port = free_port()
    env = {**blocked_env(tmp_path / "blocker"), "PATCHCORE_PRECISION": "fp32"}
    server = subprocess.Popen([sys.executable, "-c", ENTRY, "serve", "--projects", str(projects), "--port",
                               str(port), *cfg], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stderr.read().decode()
            try:
                health = httpx.get(f"{base}/health", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.5)
        assert health.json()["device"] == "cpu"
        ng = sorted((root / "ng").iterdir())
        reply = httpx.post(f"{base}/projects/edge1/infer", timeout=120,
                           files=[("images", (p.name, p.read_bytes(), "image/png")) for p in ng])
        assert reply.status_code == 200, reply.text
        for result in reply.json()["results"]:
            verdict, score = want[result["name"]]
            assert result["verdict"] == verdict and result["score"] == pytest.approx(score, rel=1e-4)

        ok = sorted((root / "ok").iterdir())[:2]
        for name, why in (("edge1", "is an exported model: it inspects only"),
                          ("new-project", "it inspects exported models only")):
            job = httpx.post(f"{base}/projects/{name}/fit_ok", timeout=30,
                             files=[("images", (p.name, p.read_bytes(), "image/png")) for p in ok]).json()
            while job.get("state") in ("queued", "running"):
                time.sleep(0.2)
                job = httpx.get(f"{base}/jobs/{job['job_id']}", timeout=30).json()
            assert job["state"] == "failed" and job["error_status"] == 422 and why in job["error"], job
        assert sorted(p.name for p in projects.iterdir()) == ["edge1"]  # nothing written for the refused fit
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


@pytest.mark.parametrize("package, command, line", [
    ("watchdog", ["run", "{export}", "--source", "{images}", "--idle-exit", "1"],
     "this installation has no watchdog, which inspector run --source FOLDER needs: pip install watchdog"),
    ("fastapi", ["serve", "--projects", "{images}"],
     "this installation has no fastapi, which inspector serve needs: pip install fastapi"),
])
def test_a_package_the_installation_lacks_is_named_in_one_line(exported, tmp_path, package, command, line):
    root, cfg, _ = exported
    export = tmp_path / "line"
    shutil.copytree(root / "out", export)
    args = [a.format(export=export, images=root / "ng") for a in command]
    run = _edge(tmp_path, *args, *cfg, blocked=("torch", "timm", "torchvision", package))
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.strip() == f"inspector: error: {line}"


def test_an_export_copied_over_in_place_is_read_again_by_the_engine_that_holds_it(exported, tmp_path):
    """The service and the run mode keep one engine per folder: a new export copied over the folder (export.json
    written last) must bring its own network, not pair the old one with the new model's files."""
    root, cfg, _ = exported
    folder = tmp_path / "line"
    shutil.copytree(root / "out", folder)
    engine = EdgeEngine(folder, EngineConfig.load(Path(cfg[1])))
    first = engine.load(folder)
    assert not first.backbone.int8 and engine.load(folder).backbone is first.backbone  # unchanged: compiled once
    meta = json.loads((folder / "export.json").read_text())
    meta.update(precision="int8", int8_weights="half")  # what an int8 export of the same model records
    (folder / "export.json").write_text(json.dumps(meta))
    again = engine.load(folder)
    assert again.backbone.int8 and again.backbone is not first.backbone


def test_the_line_inspects_with_an_export_copied_over_in_place(exported, tmp_path):
    """A new export copied over the line's folder keeps the version v1: the station loads it at the next part
    (the run mode asks it per batch) because the folder's files changed, not only when the version does."""
    root, cfg, _ = exported
    folder = tmp_path / "line"
    shutil.copytree(root / "out", folder)
    station = Station(folder, Engine(EngineConfig.load(Path(cfg[1]))), record=False)
    first = station.model()
    assert station.model() is first  # unchanged files: loaded once
    project = tmp_path / "proj"
    shutil.copytree(root / "proj", project)
    assert main(["calibrate", str(project), "--ok", str(root / "cal"), *cfg]) == 0  # OK images only: another threshold
    assert main(["export", str(project), str(tmp_path / "again"), *cfg]) == 0
    shutil.rmtree(folder)
    shutil.copytree(tmp_path / "again", folder)
    second = station.model()
    assert second.version == first.version == "v1"
    assert second.calibration.threshold != pytest.approx(first.calibration.threshold)


def test_an_exported_folder_exports_as_it_is_without_torch(exported, tmp_path):
    """An edge PC hands its model on (to a spare PC, a second line): the copy holds the same network and inspects
    alike, and its version's note names where it came from."""
    root, cfg, want = exported
    copy = tmp_path / "spare"
    run = _edge(tmp_path, "export", str(root / "out"), str(copy), *cfg)
    assert run.returncode == 0, run.stderr
    for name in ("features.xml", "features.bin"):
        assert (copy / "openvino" / name).read_bytes() == (root / "out" / "openvino" / name).read_bytes()
    got = tmp_path / "got.json"
    assert _edge(tmp_path, "infer", str(copy), str(root / "ng"), "--json", str(got), *cfg).returncode == 0
    for result in json.loads(got.read_text())["results"]:
        verdict, score = want[Path(result["name"]).name]
        assert result["verdict"] == verdict and result["score"] == pytest.approx(score, rel=1e-4)


def test_exports_of_one_backbone_share_one_compiled_network(exported, tmp_path):
    """A line's recipes, each its own export of the same backbone, hold one compiled network between them (as
    projects share an Engine's backbone), not one per folder."""
    root, cfg, _ = exported
    config = EngineConfig.load(Path(cfg[1]))
    for name in ("recipe_a", "recipe_b"):
        shutil.copytree(root / "out", tmp_path / name)
    a = Station(tmp_path / "recipe_a", Engine(config), record=False).model()
    b = Station(tmp_path / "recipe_b", Engine(config), record=False).model()
    assert a.backbone is not b.backbone and a.backbone.grid is b.backbone.grid


def test_a_project_replaced_by_an_export_under_a_running_station_gets_the_exports_engine(exported, tmp_path):
    """The service keeps one Station per project name: a project folder replaced by an export of it (and back)
    is inspected by the engine for what the folder holds now."""
    root, cfg, _ = exported
    folder = tmp_path / "partA"
    shutil.copytree(root / "proj", folder)
    station = Station(folder, Engine(EngineConfig.load(Path(cfg[1]))), record=False)
    assert type(station.model().backbone).__name__ == "Backbone"  # torch, built from the weights
    shutil.rmtree(folder)
    shutil.copytree(root / "out", folder)
    assert isinstance(station.engine, EdgeEngine) and station.model().backbone.ir == folder / "openvino" / "features.xml"
    shutil.rmtree(folder)
    shutil.copytree(root / "proj", folder)
    assert type(station.engine) is Engine and type(station.model().backbone).__name__ == "Backbone"


def test_an_edge_pc_backs_up_and_restores_its_export_without_torch(exported, tmp_path):
    """The edge install (no torch) backs its exported folder up and restores it on a replacement PC, which then
    inspects with the export's own network as the full install does."""
    root, cfg, want = exported
    made = tmp_path / "edge.zip"
    run = _edge(tmp_path, "backup", str(root / "out"), str(made))
    assert run.returncode == 0 and "read back and checked" in run.stdout, run.stderr
    run = _edge(tmp_path, "restore", str(made), str(tmp_path / "again"), *cfg)
    assert run.returncode == 0 and "it inspects on this machine" in run.stdout, run.stderr + run.stdout
    out = tmp_path / "again.json"
    run = _edge(tmp_path, "infer", str(tmp_path / "again"), str(root / "ng"), str(root / "cal"), "--json", str(out),
                *cfg)
    assert run.returncode == 0, run.stderr
    got = {Path(r["name"]).name: (r["verdict"], r["score"]) for r in json.loads(out.read_text())["results"]}
    assert sorted(got) == sorted(want)
    for name, (verdict, score) in want.items():
        assert got[name][0] == verdict and got[name][1] == pytest.approx(score, rel=1e-4)
