"""The minimum region area (min_area, formerly area_mm2_thr): its unit is said, and files, variables and flags
of earlier versions that use the old name still load."""

import json
import shutil

import pytest

from inference import (
    Calibration, Circle, ConfigError, Engine, EngineConfig, InspectorError, area_unit, calibrate,
    read_manifest,
)
from inference.synthetic import CENTRE, RADIUS, disc
from inspector_cli.main import main as cli_main

ROI = Circle(CENTRE[0], CENTRE[1], RADIUS)


def test_old_config_yaml_and_environment_names_still_load(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text("engine:\n  area_mm2_thr: 2.5\n  score_percentile: 98\n")
    assert EngineConfig.load(old, env={}).min_area == 2.5
    assert EngineConfig.load(None, env={"PATCHCORE_AREA_MM2_THR": "4"}).min_area == 4.0
    # The current name wins over the earlier one where both are given: variables over the file, as ever.
    assert EngineConfig.load(old, env={"PATCHCORE_MIN_AREA": "7"}).min_area == 7.0
    assert EngineConfig.load(old, env={"PATCHCORE_AREA_MM2_THR": "3", "PATCHCORE_MIN_AREA": "7"}).min_area == 7.0
    both = tmp_path / "both.yaml"
    both.write_text("area_mm2_thr: 1\nmin_area: 2\n")
    with pytest.raises(ConfigError, match="earlier name of min_area"):
        EngineConfig.load(both, env={})
    assert EngineConfig.from_dict({"area_mm2_thr": 1.0}) == EngineConfig(min_area=1.0)
    assert "area_mm2_thr" not in EngineConfig().to_dict() and EngineConfig().to_dict()["min_area"] == 0.0
    with pytest.raises(ConfigError, match="min_area"):
        EngineConfig.load(None, env={"PATCHCORE_AREA_MM2_THR": "-1"})


@pytest.fixture(scope="module")
def projects(tiny_config, tmp_path_factory):
    """Two calibrated projects: one with mm per px (areas in mm2), one without (px)."""
    root = tmp_path_factory.mktemp("area")
    engine = Engine(tiny_config)
    out = {}
    for name, mm in (("mm", 0.05), ("px", None)):
        model = engine.fit(root / name, [disc(i)[0] for i in range(3)], roi=ROI, mm_per_px=mm).model
        ok = [r.score for r in engine.score_many(model, [disc(10 + i)[0] for i in range(3)])]
        engine.save_calibration(model, calibrate(ok, [], 99.0, 30.0))
        out[name] = root / name
    return out


def test_a_calibration_says_the_unit_of_its_minimum_area(projects, tiny_config):
    engine = Engine(tiny_config)
    for name, unit in (("mm", "mm2"), ("px", "px")):
        cal = engine.load(projects[name]).calibration
        saved = json.loads((projects[name] / "calibration.json").read_text())
        assert cal.min_area == 30.0 and cal.min_area_unit == unit == saved["min_area_unit"]
        assert "area_mm2_thr" not in saved and cal.min_area_text == f"30 {unit}"
    assert area_unit(0.05) == "mm2" and area_unit(None) == "px"
    # A calibration made for a model in mm2 is not put on a model measured in px.
    mm_cal = engine.load(projects["mm"]).calibration
    with pytest.raises(InspectorError, match="in mm2"):
        engine.save_calibration(engine.load(projects["px"]), mm_cal)


def _as_earlier_version(folder, tmp_path):
    """A copy of the project whose calibration.json and model manifest use the old key, as earlier versions
    wrote them (the calibration sealed into the manifest by its checksum, as the project writer does)."""
    from inference.project import json_bytes
    from inference.project_files import MANIFEST, sha256_bytes

    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    raw = json.loads((copy / "calibration.json").read_text())
    raw["area_mm2_thr"] = raw.pop("min_area")
    del raw["min_area_unit"]
    data = json_bytes(raw)
    (copy / "calibration.json").write_bytes(data)
    manifest = read_manifest(copy)
    manifest["config"]["area_mm2_thr"] = manifest["config"].pop("min_area")
    manifest["files"]["calibration.json"] = sha256_bytes(data)
    (copy / MANIFEST).write_bytes(json_bytes(manifest))
    return copy


@pytest.mark.parametrize("name,unit", [("mm", "mm2"), ("px", "px")])
def test_a_project_of_an_earlier_version_loads_and_judges_the_same(projects, tiny_config, tmp_path, name, unit):
    engine = Engine(tiny_config)
    old = _as_earlier_version(projects[name], tmp_path)
    model = engine.load(old)
    assert model.calibration is not None, model.calibration_note
    assert model.calibration.min_area == 30.0 and model.calibration.min_area_unit == unit
    assert model.config.min_area == 0.0
    images = [disc(200, scratch=True)[0], disc(20)[0]]
    now = engine.score_many(engine.load(projects[name]), images)
    before = engine.score_many(model, images)
    assert [(r.verdict, r.reason) for r in before] == [(r.verdict, r.reason) for r in now]
    raw = Calibration.from_dict(json.loads((old / "calibration.json").read_text())).to_dict()
    assert raw["min_area"] == 30.0 and raw["min_area_unit"] == "", "the unit comes from the model, on load"


def test_a_calibration_in_another_unit_than_its_model_gives_no_verdicts(projects, tiny_config, tmp_path):
    from inference.project import json_bytes
    from inference.project_files import MANIFEST, sha256_bytes

    folder = tmp_path / "px"
    shutil.copytree(projects["px"], folder)
    raw = json.loads((folder / "calibration.json").read_text())
    data = json_bytes({**raw, "min_area_unit": "mm2"})  # e.g. written by another program, then sealed
    (folder / "calibration.json").write_bytes(data)
    manifest = read_manifest(folder)
    manifest["files"]["calibration.json"] = sha256_bytes(data)
    (folder / MANIFEST).write_bytes(json_bytes(manifest))
    model = Engine(tiny_config).load(folder)
    assert model.calibration is None and "in mm2" in model.calibration_note and "calibrate again" in \
        model.calibration_note


def test_cli_min_area_flag_and_its_earlier_name(projects, tiny_config, tmp_path, capsys):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(json.dumps({"engine": tiny_config.to_dict()}))
    ok = tmp_path / "ok"
    ok.mkdir()
    from inference.synthetic import write_discs

    write_discs(ok, range(30, 33))
    for flag, value in (("--min-area", "12"), ("--area-mm2-thr", "13")):
        folder = tmp_path / f"p{value}"
        shutil.copytree(projects["px"], folder)
        assert cli_main(["calibrate", str(folder), "--ok", str(ok), flag, value, "--config", str(cfg)]) == 0
        out = capsys.readouterr().out
        assert f"minimum region area {value} px" in out
        assert Engine(tiny_config).load(folder).calibration.min_area == float(value)
        assert cli_main(["info", str(folder), "--config", str(cfg)]) == 0
        assert f"minimum region area {value} px" in capsys.readouterr().out
