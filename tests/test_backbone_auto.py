"""`backbone: auto` (issue 13): DINOv2 ViT-S/14 when its weights are found, else the built-in
EfficientNet-Lite0, never random weights; input_size checked against the chosen backbone's stride;
`inspector fit` on a fresh clone (no weights file, no network) works and says which backbone it used."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import inference.weights as weights_mod
from inference import ConfigError, EngineConfig, WeightsError
from inference.backbone import Backbone, resolve_auto
from inference.weights import choose_auto_backbone

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_local_dinov2(tmp_path, monkeypatch):
    """Empty models folders: only the pip package's EfficientNet-Lite0 file can be found."""
    monkeypatch.setattr(weights_mod, "models_dir", lambda: tmp_path / "bundled")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user"))
    return tmp_path


def test_auto_is_the_default():
    assert EngineConfig().backbone == "auto"


def test_auto_falls_back_to_the_built_in_pretrained_backbone(no_local_dinov2):
    name, note = choose_auto_backbone("auto")
    assert name == "efficientnet_lite0"
    assert "efficientnet_lite0" in note and "DINOv2 ViT-S/14 weights not found" in note
    config, note2 = resolve_auto(EngineConfig(weights="auto", input_size=224))
    assert config.backbone == "efficientnet_lite0" and note2 == note


def test_auto_takes_dinov2_when_its_file_is_there(no_local_dinov2):
    folder = no_local_dinov2 / "user" / "inspector" / "models"
    folder.mkdir(parents=True)
    (folder / "dinov2_vits14_pretrain.pth").write_bytes(b"x")  # found is enough to choose; loading checks it
    name, note = choose_auto_backbone("auto")
    assert name == "dinov2_vits14" and "DINOv2 weights found" in note


def test_auto_never_falls_back_to_random_weights(no_local_dinov2, monkeypatch):
    monkeypatch.setattr(weights_mod, "_packaged_file", lambda preset: None)
    with pytest.raises(WeightsError, match="no pretrained weights"):
        choose_auto_backbone("auto")
    # `weights: none` still means a random model, for tests, and says so.
    name, note = choose_auto_backbone("none")
    assert name == "dinov2_vits14" and "RANDOM" in note


def test_a_named_backbone_is_left_alone():
    config = EngineConfig(backbone="resnet18", weights="none", input_size=112)
    assert resolve_auto(config) == (config, "")


def test_input_size_is_checked_against_the_backbone():
    with pytest.raises(ConfigError, match="multiple of 14"):
        EngineConfig(backbone="dinov2_vits14", input_size=256)
    with pytest.raises(ConfigError, match="input_size"):
        EngineConfig(backbone="efficientnet_lite0", input_size=40)
    EngineConfig(backbone="efficientnet_lite0", input_size=256)  # anomalib's size: accepted for a CNN


def test_cnn_input_size_follows_the_feature_stride():
    cfg = EngineConfig(backbone="efficientnet_lite0", weights="none", input_size=256, batch_size=2)
    backbone = Backbone(cfg)
    assert backbone.token_shape == (32, 32)  # stage 2 has stride 8
    img = np.zeros((1, 256, 256, 3), np.uint8)
    assert tuple(backbone.embed(img).shape[-2:]) == (32, 32)
    with pytest.raises(ConfigError, match=r"multiple of 16 .*\(try 240 or 256\)"):
        Backbone(cfg.replace(input_size=250))


def test_fit_on_a_fresh_clone_without_weights_or_network(tmp_path):
    """The console command with the shipped config.yaml: no DINOv2 file, no hub; auto picks EfficientNet-Lite0."""
    ok = tmp_path / "ok"
    ok.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        cv2.imwrite(str(ok / f"{i}.png"), rng.integers(90, 140, (96, 128, 3), dtype=np.uint8))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATCHCORE_")}
    env.update(XDG_DATA_HOME=str(tmp_path / "user"), HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO),
               PATCHCORE_CONFIG=str(REPO / "config.yaml"), PATCHCORE_INPUT_SIZE="224")
    if any((REPO / "resources" / "models").glob("dinov2*")):
        pytest.skip("this checkout has DINOv2 weights under resources/models")
    proc = subprocess.run([sys.executable, "-m", "inspector_cli.entry", "fit", str(tmp_path / "proj"), "--ok",
                           str(ok)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("backbone auto:")]
    assert len(lines) == 1 and "efficientnet_lite0" in lines[0]  # said once
    manifest = json.loads((tmp_path / "proj" / "manifest.json").read_text())
    assert manifest["backbone"]["name"] == "efficientnet_lite0" == manifest["config"]["backbone"]
    assert manifest["backbone"]["weights"]["pretrained"] is True
    assert manifest["backbone"]["chosen"] == lines[0]
