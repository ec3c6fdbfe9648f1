"""The model record (inference/model_record.py) and the setting roles on EngineConfig's fields."""

import dataclasses
import json

import pytest

from inference import Circle, Engine, EngineConfig, ModelRecord, ProjectError, config_keys, read_record
from inference import project as proj
from inference.config import ROLES
from inference.synthetic import CENTRE, RADIUS, disc

ROI = Circle(CENTRE[0], CENTRE[1], RADIUS)


@pytest.fixture(scope="module")
def fitted(tiny_config, tmp_path_factory):
    folder = tmp_path_factory.mktemp("proj")
    engine = Engine(tiny_config.replace(use_gpu=False))
    engine.fit(folder, [disc(i)[0] for i in range(3)], roi=ROI, mm_per_px=0.05)
    return engine, folder


# -- roles -------------------------------------------------------------------------------------------------------
def test_every_setting_has_a_role():
    """A new EngineConfig field must say what it belongs to: setting("feature" | "runtime" | ..., default)."""
    missing = [f.name for f in dataclasses.fields(EngineConfig) if f.metadata.get("role") not in ROLES]
    assert missing == [], f"EngineConfig fields without a role (use config.setting(role, default)): {missing}"


def test_roles_split_the_settings_once():
    keys = [k for role in ROLES for k in config_keys(role)]
    assert sorted(keys) == sorted(f.name for f in dataclasses.fields(EngineConfig))  # each key in one role
    assert config_keys("feature") == ("backbone", "backbone_kwargs", "cnn_layers", "cnn_stage_weights",
                                      "vit_blocks", "input_size",
                                      "patch_size", "stride", "patch_zero_pad")
    # issue 25: the foreground mask, the part's symmetry and the lighting compensation shape the bank (add keeps
    # the model's)
    assert {"foreground_mask", "part_symmetry", "brightness"} <= set(config_keys("fit"))
    assert set(config_keys("runtime")) == {"use_gpu", "faiss_fp16", "batch_size", "max_image_megapixels",
                                           "precision", "compile_backbone", "versions_kept", "runtime"}
    assert "min_area" in config_keys("calibration") and "align" in config_keys("align")
    with pytest.raises(ValueError, match="unknown setting role"):
        config_keys("features")


# -- reading and writing -----------------------------------------------------------------------------------------
def test_the_record_writes_back_manifest_json_byte_for_byte(fitted):
    _, folder = fitted
    raw = (folder / "manifest.json").read_bytes()
    record = read_record(folder)
    assert proj.json_bytes(record.to_dict()) == raw
    assert record.backbone.feature_dim == 384 and record.token_shape == (8, 8) and record.mm_per_px == 0.05
    assert record.n_images == len(record.images) == 3 and record.coreset_size <= record.n_embeddings
    assert not record.backbone.pretrained and record.is_current and record.version_problem() == ""


def test_keys_a_newer_version_added_survive_a_calibration(fitted, tmp_path):
    engine, folder = fitted
    proj.copy_model(folder, tmp_path / "p")
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    manifest["future_field"] = {"kept": [1, 2]}
    # A newer version writes its manifest into the version and the active copy alike.
    for place in (tmp_path / "p", tmp_path / "p" / "versions" / "v1"):
        (place / "manifest.json").write_bytes(proj.json_bytes(manifest))
    model = engine.load(tmp_path / "p")
    assert model.record.extra == {"future_field": {"kept": [1, 2]}}
    engine.calibrate(model, [disc(10 + i)[0] for i in range(3)])
    after = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert after["future_field"] == {"kept": [1, 2]} and "calibration.json" in after["files"]
    assert set(after) == set(manifest)


def test_to_dict_hands_out_copies(fitted):
    record = read_record(fitted[1])
    data = record.to_dict()
    data["backbone"]["weights"]["pretrained"] = True
    data["roi"]["r"] = 1
    assert not record.backbone.pretrained and record.roi["r"] == RADIUS


@pytest.mark.parametrize("edit,match", [
    (lambda m: m.update(image_size=[0, 5]), "'image_size' must be two positive integers"),
    (lambda m: m.update(roi_is_whole_image="yes"), "roi_is_whole_image"),
    (lambda m: m.update(ignore={"type": "rect"}), "'ignore'"),
    (lambda m: m.update(n_images=None), "'n_images' must be int"),
])
def test_a_damaged_field_is_named(fitted, tmp_path, edit, match):
    data = json.loads((fitted[1] / "manifest.json").read_text())
    edit(data)
    with pytest.raises(ProjectError, match=match):
        ModelRecord.from_dict(data, tmp_path / "manifest.json")


# -- compatibility rules -----------------------------------------------------------------------------------------
def test_machine_settings_come_from_the_running_engine(fitted):
    record = read_record(fitted[1])
    runtime = EngineConfig(batch_size=3, precision="fp32", use_gpu=False, input_size=224, coreset_ratio=0.5)
    config = record.engine_config(runtime)
    assert (config.batch_size, config.precision, config.use_gpu) == (3, "fp32", False)
    assert (config.input_size, config.coreset_ratio) == (112, 0.25)  # the model's own


def test_only_model_settings_make_a_model_stale_or_refuse_add(fitted):
    record = read_record(fitted[1])
    same = EngineConfig.from_dict(record.config)
    machine_and_calibration = same.replace(batch_size=1, precision="fp32", max_image_megapixels=8,
                                           score_percentile=95.0, min_area=2.0, calibration_method="mad")
    assert record.changed_settings(machine_and_calibration) == []
    assert record.changed_settings(same.replace(coreset_ratio=0.5, smoothing_sigma=2.0)) == [
        "coreset_ratio", "smoothing_sigma"]
    record.check_extendable(same.replace(coreset_ratio=0.5, batch_size=1))  # the bank's settings: add keeps them
    with pytest.raises(ProjectError, match="fitted with patch_size 3; this engine uses 5: refit"):
        record.check_extendable(same.replace(patch_size=5))
    with pytest.raises(ProjectError, match="fitted with align 'none'"):
        record.check_extendable(same.replace(align="rigid"))
    old = dataclasses.replace(record, model_version="1999.1")
    assert not old.is_current and "fitted by model version 1999.1; this engine is" in old.version_problem()
