"""`precision: int8` through the command line: a fit quantises the backbone on the taught OK images and keeps
them; inspection and export run the int8 network with fp32's verdicts; the cosine gate refuses a fit (exit 2,
nothing saved); a model taught without int8 is quantised on its taught samples by an int8 machine, which gives
no verdicts with a threshold set on fp32 scores; a model saved without taught samples is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("openvino")
pytest.importorskip("nncf")

from inference import EngineConfig  # noqa: E402
from inference import openvino_runtime as ovr  # noqa: E402
from inference.taught_samples import SAMPLES_FILE  # noqa: E402
from inference.synthetic import CENTRE, RADIUS, write_discs  # noqa: E402
from inspector_cli.main import main  # noqa: E402

ROI = json.dumps({"type": "circle", "cx": CENTRE[0], "cy": CENTRE[1], "r": RADIUS})
# A random ResNet-18 at 112 px: its int8 twin keeps the features (tests/test_openvino_runtime.py).
YAML = """engine:
  backbone: resnet18
  weights: none
  input_size: 112
  coreset_ratio: 0.25
  runtime: openvino
  precision: {precision}
"""


@pytest.fixture(scope="module", autouse=True)
def openvino_runtime():
    with pytest.MonkeyPatch.context() as mp:  # conftest makes torch the tests' runtime through the environment
        mp.setenv("PATCHCORE_RUNTIME", "openvino")
        yield


@pytest.fixture(scope="module")
def int8_project(tmp_path_factory, openvino_runtime):
    root = tmp_path_factory.mktemp("int8")
    for precision in ("int8", "fp32"):
        (root / f"{precision}.yaml").write_text(YAML.format(precision=precision))
    write_discs(root / "ok", range(5))
    write_discs(root / "cal", range(10, 14))
    write_discs(root / "ng", [50, 51, 52], scratch=True)
    int8 = ["--config", str(root / "int8.yaml")]
    proj = str(root / "proj")
    assert main(["fit", proj, "--ok", str(root / "ok"), "--roi", ROI, *int8]) == 0
    assert main(["calibrate", proj, "--ok", str(root / "cal"), "--ng", str(root / "ng"), *int8]) == 0
    return root


def _results(path: Path) -> list[tuple]:
    data = json.loads(path.read_text())
    results = data["results"] if isinstance(data, dict) else data
    return [(Path(r["name"]).name, r["verdict"], r["score"]) for r in results]


def test_int8_is_a_precision_setting():
    assert EngineConfig(precision="int8").precision == "int8"
    assert EngineConfig.load(None, env={"PATCHCORE_PRECISION": "int8"}).precision == "int8"


def test_an_int8_model_inspects_and_exports_with_fp32_verdicts(int8_project, tmp_path, capsys):
    root = int8_project
    proj = root / "proj"
    manifest = json.loads((proj / "manifest.json").read_text())
    assert SAMPLES_FILE in manifest["files"] and (proj / SAMPLES_FILE).is_file()
    assert json.loads((proj / "calibration.json").read_text())["scored_in"] == "int8"
    images = [str(root / "ng"), str(root / "cal")]
    got = {}
    for precision in ("int8", "fp32"):
        out = tmp_path / f"{precision}.json"
        assert main(["infer", str(proj), *images, "--json", str(out),
                     "--config", str(root / f"{precision}.yaml")]) == 0
        got[precision] = _results(out)
    assert [(n, v) for n, v, _ in got["int8"]] == [(n, v) for n, v, _ in got["fp32"]]
    assert {v for _, v, _ in got["fp32"]} == {"OK", "NG"}
    # OK parts score as in fp32 (the quantisation is calibrated on OK images). A defect's activations fall
    # outside the calibrated ranges: int8 scores it lower (here about half), still far above the threshold.
    for (name, verdict, a), (_, _, b) in zip(got["int8"], got["fp32"]):
        if verdict == "OK":
            assert a == pytest.approx(b, rel=0.05), name
        else:
            assert 0.25 * b < a <= b, name
    assert [a for _, _, a in got["int8"]] != [b for _, _, b in got["fp32"]]  # another network really ran

    out = tmp_path / "export"
    assert main(["export", str(proj), str(out), "--config", str(root / "int8.yaml")]) == 0
    meta = json.loads((out / "export.json").read_text())
    assert (meta["precision"], meta["int8_weights"]) == ("int8", ovr.int8_weight_range())
    edge = tmp_path / "edge.json"
    assert main(["infer", str(out), *images, "--json", str(edge), "--config", str(root / "int8.yaml")]) == 0
    assert [(n, v) for n, v, _ in _results(edge)] == [(n, v) for n, v, _ in got["int8"]]
    for (_, _, a), (_, _, b) in zip(_results(edge), got["int8"]):
        assert a == pytest.approx(b, rel=1e-3)

    # `inspector info` says what computes the features here, with the settings given: int8 and its gate's cosine
    capsys.readouterr()
    for folder, settings, says in ((proj, "int8", "OpenVINO int8 on this machine, with these settings (features "
                                                   "cosine 0.9"),
                                   (proj, "fp32", "OpenVINO fp32 on this machine, with these settings\n"),
                                   (out, "int8", "OpenVINO int8 on this machine")):
        assert main(["info", str(folder), "--config", str(root / f"{settings}.yaml")]) == 0
        assert f"computes     {says}" in capsys.readouterr().out
    assert main(["info", str(proj), "--json", "-", "--config", str(root / "int8.yaml")]) == 0
    compute = json.loads(capsys.readouterr().out)["compute"]
    assert (compute["runtime"], compute["precision"]) == ("openvino", "int8")
    assert ovr.INT8_MIN_COSINE <= compute["int8_cosine"] <= 1


def test_an_int8_export_made_on_a_cpu_with_vnni_is_refused_on_one_without(int8_project, tmp_path, monkeypatch,
                                                                          capsys):
    """Its weights use the full 8-bit range, which a CPU without VNNI adds up with saturation: the features would
    move past what int8's gate measured on the exporting machine, and an edge install cannot quantise again."""
    root = int8_project
    cfg = ["--config", str(root / "int8.yaml")]
    monkeypatch.setattr(ovr, "int8_weight_range", lambda: "full")  # exported on a CPU with VNNI
    out = tmp_path / "export"
    assert main(["export", str(root / "proj"), str(out), *cfg]) == 0
    assert json.loads((out / "export.json").read_text())["int8_weights"] == "full"
    assert main(["infer", str(out), str(root / "ng"), *cfg]) == 0
    capsys.readouterr()
    monkeypatch.setattr(ovr, "int8_weight_range", lambda: "half")  # inspected on a CPU without VNNI
    assert main(["infer", str(out), str(root / "ng"), *cfg]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "this CPU shows no VNNI" in err and "precision int8 on a CPU without" in err


def test_the_cosine_gate_refuses_an_int8_fit_and_nothing_is_saved(int8_project, tmp_path, monkeypatch, capsys):
    root = int8_project
    monkeypatch.setattr(ovr, "INT8_MIN_COSINE", 1.01)  # the gate of this test only: no quantised network meets it
    proj = tmp_path / "refused"
    assert main(["fit", str(proj), "--ok", str(root / "ok"), "--roi", ROI, "--config", str(root / "int8.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert "precision int8 refused" in err and "mean cosine of 0.9" in err and "below 1.01" in err
    assert len(err.splitlines()) == 1
    assert not (proj / "manifest.json").exists()


def test_a_model_taught_without_int8_is_quantised_on_its_taught_samples_and_one_without_them_refused(
        int8_project, tmp_path, capsys):
    root = int8_project
    proj = Path(tmp_path / "plain")
    assert main(["fit", str(proj), "--ok", str(root / "ok"), "--roi", ROI, "--config", str(root / "fp32.yaml")]) == 0
    assert (proj / SAMPLES_FILE).is_file()  # every fit keeps them: an int8 machine quantises on them
    assert main(["calibrate", str(proj), "--ok", str(root / "cal"), "--ng", str(root / "ng"),
                 "--config", str(root / "fp32.yaml")]) == 0
    # Its threshold was set on fp32 scores; int8 scores these defects lower (measured: under the threshold, so
    # they would pass): no verdict, and the reason says to calibrate on this machine.
    out = tmp_path / "int8.json"
    main(["infer", str(proj), str(root / "ng"), "--json", str(out), "--config", str(root / "int8.yaml")])
    data = json.loads(out.read_text())
    results = data["results"] if isinstance(data, dict) else data
    assert {r["verdict"] for r in results} == {"NO_VERDICT"}
    assert all("calibrate again on this machine" in r["reason"] for r in results)
    assert main(["calibrate", str(proj), "--ok", str(root / "cal"), "--ng", str(root / "ng"),
                 "--config", str(root / "int8.yaml")]) == 0
    assert main(["infer", str(proj), str(root / "ng"), "--json", str(out), "--config", str(root / "int8.yaml")]) == 0
    assert {v for _, v, _ in _results(out)} == {"NG"}
    capsys.readouterr()
    assert main(["info", str(proj)]) == 0
    assert "(scores of the int8 backbone)" in capsys.readouterr().out
    # and back on the fp32 machine the int8 threshold stands: fp32 scores these defects higher still
    assert main(["infer", str(proj), str(root / "ng"), "--json", str(out), "--config", str(root / "fp32.yaml")]) == 0
    assert {v for _, v, _ in _results(out)} == {"NG"}
    # A model saved before every fit kept its samples (and not taught with int8) has nothing to quantise on.
    manifest = json.loads((proj / "manifest.json").read_text())
    del manifest["files"][SAMPLES_FILE]
    (proj / "manifest.json").write_text(json.dumps(manifest))
    (proj / SAMPLES_FILE).unlink()
    capsys.readouterr()
    assert main(["infer", str(proj), str(root / "ng"), "--config", str(root / "int8.yaml")]) == 2
    assert "was saved without them" in capsys.readouterr().err


def test_json_output_stays_json_while_the_backbone_is_quantised(int8_project, tmp_path):
    """NNCF logs and draws its progress bars on stdout, where `--json` writes the answer the line's software
    parses. A load that quantises (here a fresh cache, as after the cache's pruning or on another PC) must still
    print JSON only on stdout."""
    root = int8_project
    env = {**os.environ, "PATCHCORE_OPENVINO_CACHE": str(tmp_path / "fresh-cache"), "PATCHCORE_RUNTIME": "openvino"}
    run = subprocess.run([sys.executable, "-m", "inspector_cli.entry", "infer", str(root / "proj"), str(root / "ng"),
                          "--json", "--config", str(root / "int8.yaml")],
                         capture_output=True, text=True, env=env, timeout=600, cwd=Path(__file__).parents[1])
    assert run.returncode == 0, run.stderr
    keys = [json.loads(k.read_text()) for k in (tmp_path / "fresh-cache").glob("*/key.json")]
    assert any(key["precision"] == "int8" for key in keys), keys  # it did quantise
    results = json.loads(run.stdout)["results"]
    assert [r["verdict"] for r in results] == ["NG"] * 3
