"""precision auto keeps bf16 only where it holds the model's features (inference/precision_gate.py): measured at
fit on the taught images with EfficientNet-Lite0's real weights, recorded in the manifest, obeyed on every load,
said by `inspector info`; an explicit precision stands."""

import json

import cv2
import numpy as np
import pytest

from inference import Engine, EngineConfig, ProjectError, engine_for, export_model, read_record
from inference.backbone import cpu_has_bf16
from inference.precision_gate import MIN_COSINE, combined, covers, describe, inspection_precision
from inference.synthetic import disc
from inspector_cli.main import main

CONFIG = EngineConfig(backbone="efficientnet_lite0", weights="auto", input_size=112, coreset_ratio=0.5,
                      runtime="openvino", precision="auto")
needs_bf16 = pytest.mark.skipif(not cpu_has_bf16(), reason="precision auto is fp32 on a CPU without native bf16")


def _metal(seed: int, size: int = 112) -> np.ndarray:
    """Smooth, low-contrast grey, like brushed metal: bf16's 8-bit mantissa moves these features most."""
    rng = np.random.default_rng(seed)
    grey = np.clip(128 + rng.normal(0, 10, (size, size)), 0, 255).astype(np.uint8)
    return cv2.GaussianBlur(grey, (0, 0), 3)[..., None].repeat(3, 2)


@needs_bf16
def test_a_part_bf16_moves_is_inspected_in_fp32_and_info_says_why(tmp_path, capsys):
    folder = tmp_path / "metal"
    config_file = tmp_path / "config.yaml"
    config_file.write_text("engine:\n" + "".join(f"  {k}: {v}\n" for k, v in CONFIG.to_dict().items()
                                                   if k in ("backbone", "weights", "input_size", "coreset_ratio",
                                                            "runtime", "precision")))
    engine = Engine(CONFIG)
    fit = engine.fit(folder, [_metal(i) for i in range(4)])
    check = fit.record.precision_check
    assert check["precision"] == "bf16" and check["images"] == 4 and not check["kept"]
    assert check["cosine"] < MIN_COSINE
    assert json.loads((folder / "manifest.json").read_text())["precision_check"] == check
    assert fit.model.backbone.precision_name == "fp32"  # the model handed over, and the one loaded
    loaded = engine.load(folder)
    assert (loaded.config.precision, loaded.backbone.precision_name) == ("fp32", "fp32")
    parts = [_metal(i) for i in range(10, 13)]
    fp32 = Engine(CONFIG.replace(precision="fp32"))
    want = [r.score for r in fp32.score_many(fp32.load(folder), parts)]
    assert [r.score for r in engine.score_many(loaded, parts)] == pytest.approx(want, rel=1e-6)
    # precision set to bf16 on purpose is obeyed
    assert Engine(CONFIG.replace(precision="bf16")).load(folder).backbone.precision_name == "bf16"
    # the exported model carries the check: its OpenVINO network compiles in fp32 too
    export_model(engine, folder, tmp_path / "export")
    edge = engine_for(tmp_path / "export", CONFIG)
    exported = edge.load(tmp_path / "export")
    assert exported.backbone.precision_name == "fp32"
    assert [r.score for r in edge.score_many(exported, parts)] == pytest.approx(want, rel=1e-5)
    assert main(["info", str(folder)]) == 0
    assert f"refused below {MIN_COSINE}: precision auto inspects this model in fp32" in capsys.readouterr().out
    # and `inspector fit` says it once, when it happens
    (tmp_path / "metal.png").write_bytes(cv2.imencode(".png", _metal(0))[1].tobytes())
    assert main(["fit", str(tmp_path / "cli"), "--ok", str(tmp_path / "metal.png"), "--config", str(config_file)]) == 0
    said = [line for line in capsys.readouterr().out.splitlines() if line.startswith("precision: ")]
    assert len(said) == 1 and "inspects this model in fp32" in said[0]


@needs_bf16
def test_a_part_bf16_holds_is_inspected_in_bf16(tmp_path):
    engine = Engine(CONFIG)
    fit = engine.fit(tmp_path / "disc", [disc(i, size=112)[0] for i in range(4)])
    assert fit.record.precision_check["kept"] and fit.record.precision_check["cosine"] >= MIN_COSINE
    assert engine.load(tmp_path / "disc").backbone.precision_name == "bf16"


def test_the_check_runs_on_any_cpu_with_torchs_bf16(tmp_path, monkeypatch):
    """The tests above need a CPU with native bf16: elsewhere OpenVINO's bf16 hint computes in fp32. torch rounds
    to bf16 on any CPU (emulated where not native), so here the check's measurement, record and load run
    everywhere, CI machines without bf16 included."""
    import inference.backbone as backbone

    monkeypatch.setattr(backbone, "cpu_has_bf16", lambda: True)  # auto's low precision: bf16, as on such a CPU
    config = CONFIG.replace(runtime="torch")
    engine = Engine(config)
    metal = engine.fit(tmp_path / "metal", [_metal(i) for i in range(4)]).record.precision_check
    held = engine.fit(tmp_path / "disc", [disc(i, size=112)[0] for i in range(4)]).record.precision_check
    assert (metal["runtime"], metal["precision"], metal["images"], metal["kept"]) == ("torch", "bf16", 4, False)
    assert metal["cosine"] < MIN_COSINE <= held["cosine"] and held["kept"]
    loaded = engine.load(tmp_path / "metal")
    assert (loaded.config.precision, loaded.backbone.precision_name) == ("fp32", "fp32")
    assert engine.load(tmp_path / "disc").backbone.precision_name == "bf16"
    parts = [_metal(i) for i in range(10, 12)]
    fp32 = Engine(config.replace(precision="fp32"))
    assert [r.score for r in engine.score_many(loaded, parts)] == pytest.approx(
        [r.score for r in fp32.score_many(fp32.load(tmp_path / "metal"), parts)], rel=1e-6)


def test_add_keeps_the_low_precision_only_if_it_held_before_and_now():
    held = {"precision": "bf16", "cosine": 0.9995, "images": 16, "kept": True}
    moved = {"precision": "bf16", "cosine": 0.9961, "images": 4, "kept": False}
    assert combined(held, moved) == {"precision": "bf16", "cosine": 0.9961, "images": 20, "kept": False}
    assert combined(moved, held)["kept"] is False
    assert combined({}, held) == held and combined(held, {}) == held  # fitted before the check / nothing checked
    assert inspection_precision("auto", moved) == "fp32"
    assert [inspection_precision(p, moved) for p in ("fp32", "bf16", "int8")] == ["fp32", "bf16", "int8"]
    assert inspection_precision("auto", held) == inspection_precision("auto", {}) == "auto"
    assert describe(held).endswith(": kept") and describe({}) == ""
    # torch's bf16 and OpenVINO's round differently: a check of one does not stand for the other
    on_torch, on_openvino = {**held, "runtime": "torch"}, {**moved, "runtime": "openvino"}
    assert combined(on_torch, on_openvino) == on_openvino
    assert covers(on_torch, "bf16", "torch") and not covers(on_torch, "bf16", "openvino")
    assert covers(held, "bf16", "openvino") and not covers(held, "fp16", "openvino")  # earlier checks: no runtime


def test_a_damaged_precision_check_is_refused_naming_it(tmp_path, tiny_config):
    folder = tmp_path / "p"
    Engine(tiny_config).fit(folder, [disc(i, size=112)[0] for i in range(2)])
    manifest = folder / "manifest.json"
    data = json.loads(manifest.read_text())
    data["precision_check"] = {"precision": "bf16", "cosine": "high", "images": 2, "kept": "yes"}
    manifest.write_text(json.dumps(data))
    with pytest.raises(ProjectError, match="'precision_check' is damaged"):
        read_record(folder)


def _strip_samples(folder):
    """The model as saved before every fit kept its taught samples."""
    from inference.taught_samples import SAMPLES_FILE

    manifest = folder / "manifest.json"
    data = json.loads(manifest.read_text())
    del data["files"][SAMPLES_FILE]
    manifest.write_text(json.dumps(data))
    (folder / SAMPLES_FILE).unlink()


@needs_bf16
def test_a_model_the_fit_could_not_check_is_checked_where_it_is_loaded(tmp_path, monkeypatch):
    import inference.precision_gate as gate

    # Taught where bf16 could not be measured (a CPU without it): the fit records no check.
    with monkeypatch.context() as m:
        m.setattr(gate, "measure", lambda *a, **k: {})
        Engine(CONFIG).fit(tmp_path / "metal", [_metal(i) for i in range(4)])
        Engine(CONFIG).fit(tmp_path / "disc", [disc(i, size=112)[0] for i in range(4)])
    assert read_record(tmp_path / "metal").precision_check == {}
    # Loaded on this bf16 machine: measured on the taught samples, and obeyed.
    metal = Engine(CONFIG).load(tmp_path / "metal")
    check = metal.precision_check
    assert check["measured"] == "at load, on this machine" and check["images"] == 4 and not check["kept"]
    assert (metal.config.precision, metal.backbone.precision_name) == ("fp32", "fp32")
    fp32 = Engine(CONFIG.replace(precision="fp32"))
    parts = [_metal(i) for i in range(10, 12)]
    assert [r.score for r in Engine(CONFIG).score_many(metal, parts)] == pytest.approx(
        [r.score for r in fp32.score_many(fp32.load(tmp_path / "metal"), parts)], rel=1e-6)
    disc_model = Engine(CONFIG).load(tmp_path / "disc")
    assert disc_model.precision_check["kept"] and disc_model.backbone.precision_name == "bf16"
    # Measured once per machine: the next load reads the cached result.
    monkeypatch.setattr(gate, "on_this_machine", lambda *a: pytest.fail("measured again"))
    assert Engine(CONFIG).load(tmp_path / "metal").precision_check == check
    # The same check for an exported copy (its IR compiled in fp32 against bf16)
    monkeypatch.undo()
    export_model(Engine(CONFIG), tmp_path / "metal", tmp_path / "export")
    exported = engine_for(tmp_path / "export", CONFIG).load(tmp_path / "export")
    assert exported.backbone.precision_name == "fp32" and not exported.precision_check["kept"]


@needs_bf16
def test_a_model_without_taught_samples_is_inspected_in_fp32_and_says_why(tmp_path, monkeypatch):
    import inference.precision_gate as gate

    monkeypatch.setattr(gate, "measure", lambda *a, **k: {})
    Engine(CONFIG).fit(tmp_path / "old", [disc(i, size=112)[0] for i in range(3)])
    _strip_samples(tmp_path / "old")
    model = Engine(CONFIG).load(tmp_path / "old")
    assert model.backbone.precision_name == "fp32" and not model.precision_check["kept"]
    assert describe(model.precision_check).startswith("bf16 not checked (the model was saved without taught samples)")


@needs_bf16
def test_a_check_made_with_torch_is_made_again_for_openvino(tmp_path):
    fit = Engine(CONFIG.replace(runtime="torch")).fit(tmp_path / "disc", [disc(i, size=112)[0] for i in range(3)])
    assert fit.record.precision_check["runtime"] == "torch"
    assert "measured" not in Engine(CONFIG.replace(runtime="torch")).load(tmp_path / "disc").precision_check
    loaded = Engine(CONFIG).load(tmp_path / "disc")
    assert loaded.backbone.runtime == "openvino"
    assert loaded.precision_check["measured"] == "at load, on this machine"
    assert loaded.precision_check["runtime"] == "openvino"
