import pytest

from inference import ConfigError, EngineConfig


def test_defaults_follow_the_design_note():
    c = EngineConfig()
    assert (c.backbone, c.coreset_ratio, c.patch_size, c.stride, c.distance, c.batch_size) == (
        "auto", 0.02, 3, 1, "l2", 32)
    assert c.use_gpu and c.faiss_fp16 and c.input_size == 448 and c.score_mode == "max"


def test_yaml_then_environment(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("engine:\n  coreset_ratio: 0.05\n  distance: cosine\n  input_size: 224\n")
    env = {"PATCHCORE_CORESET_RATIO": "0.01", "PATCHCORE_USE_GPU": "false", "PATCHCORE_CNN_LAYERS": "[1, 2]",
           "PATCHCORE_BACKBONE_KWARGS": "{depth: 2}"}
    c = EngineConfig.load(cfg, env=env)
    assert c.coreset_ratio == 0.01 and c.distance == "cosine" and c.input_size == 224
    assert c.use_gpu is False and c.cnn_layers == (1, 2) and c.backbone_kwargs == {"depth": 2}


def test_command_line_settings_go_over_the_environment(tmp_path):
    from inference import parse_settings

    env = {"PATCHCORE_CORESET_RATIO": "0.01", "PATCHCORE_PART_SYMMETRY": "mirror"}
    c = EngineConfig.load(None, env=env, settings=["part_symmetry=turns", "cnn-layers=[1, 3]", "area_mm2_thr=2.5"])
    assert c.part_symmetry == "turns" and c.coreset_ratio == 0.01 and c.cnn_layers == (1, 3) and c.min_area == 2.5
    assert parse_settings(["weights=none", "backbone_kwargs={depth: 2}"]) == {"weights": "none",
                                                                            "backbone_kwargs": {"depth": 2}}
    for pairs, words in ((["coreset_ratio"], "needs KEY=VALUE"), (["=1"], "needs KEY=VALUE"),
                         (["coreset=0.1"], "'coreset' is no setting"),
                         (["cnn_layers=[1,"], "--set cnn_layers must be YAML")):
        with pytest.raises(ConfigError, match=words):
            parse_settings(pairs)
    with pytest.raises(ConfigError, match="coreset_ratio' must be a number"):
        EngineConfig.load(None, env={}, settings=["coreset_ratio=lots"])


def test_repository_config_yaml_is_valid_and_matches_defaults():
    from pathlib import Path

    c = EngineConfig.load(Path(__file__).parents[1] / "config.yaml", env={})
    assert c == EngineConfig()


@pytest.mark.parametrize("env, words", [
    ({"PATCHCORE_CORESET_RATIO": "0"}, "coreset_ratio' must be in \\(0, 1\\]"),
    ({"PATCHCORE_CORESET_RATIO": "1.5"}, "coreset_ratio"),
    ({"PATCHCORE_CORESET_RATIO": "abc"}, "coreset_ratio' must be a number"),
    ({"PATCHCORE_DISTANCE": "manhattan"}, "distance' must be one of"),
    ({"PATCHCORE_USE_GPU": "maybe"}, "use_gpu' must be true or false"),
    ({"PATCHCORE_PATCH_SIZE": "2"}, "patch_size' must be an odd integer"),
    ({"PATCHCORE_INPUT_SIZE": "450", "PATCHCORE_BACKBONE": "dinov2_vits14"}, "input_size' must be a multiple of 14"),
    ({"PATCHCORE_INPUT_SIZE": "2000"}, "input_size' must be in"),
    ({"PATCHCORE_SCORE_MODE": "mean"}, "score_mode"),
    ({"PATCHCORE_BATCH_SIZE": "0"}, "batch_size"),
    ({"PATCHCORE_SURROUND_SIGMA": "-1"}, "surround_sigma' must be a number in \\[0, 512\\]"),
])
def test_invalid_values_name_the_key_and_range(env, words):
    with pytest.raises(ConfigError, match=words):
        EngineConfig.load(None, env=env)


def test_unknown_key_and_bad_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("coreset_ratoi: 0.1\n")
    with pytest.raises(ConfigError, match="unknown config key.*newer version"):
        EngineConfig.load(bad, env={})
    bad.write_text("engine: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        EngineConfig.load(bad, env={})
    with pytest.raises(ConfigError, match="not found"):
        EngineConfig.load(tmp_path / "missing.yaml", env={})


def test_dict_round_trip():
    c = EngineConfig(distance="mahalanobis", cnn_layers=(1, 3), backbone_kwargs={"depth": 2})
    assert EngineConfig.from_dict(c.to_dict()) == c


def test_installed_app_ignores_a_config_yaml_in_the_working_folder(tmp_path, monkeypatch):
    import sys

    from inference.config import default_config_path

    (tmp_path / "config.yaml").write_text("engine:\n  coreset_ratio: 0.5\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PATCHCORE_CONFIG", raising=False)
    assert default_config_path() == tmp_path / "config.yaml"  # a checkout: the working folder's file
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert default_config_path() != tmp_path / "config.yaml"  # installed: its own file
    assert default_config_path().name == "config.yaml" and default_config_path().is_file()
