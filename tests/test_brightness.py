"""Lighting compensation (config `brightness`, inference/brightness.py): a part under another light scores as
under the taught one, a scratch still stands out, the levels are the fit's and stay with the model (add,
manifest), and shift_scale brings contrast to the taught levels too."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from inference import Circle, Engine, ProjectError, Rect, read_record
from inference.brightness import apply, levels, target
from inference.synthetic import disc, write_discs
from inspector_cli.main import main
from tiny_project import TINY_YAML


def _darker(image: np.ndarray, by: int = 30) -> np.ndarray:
    assert image.min() >= by  # no clipping: the same part, only less light
    return image - np.uint8(by)


def test_a_part_under_less_light_scores_as_under_the_taught_light(tmp_path, tiny_config):
    taught = [disc(i, size=112)[0] for i in range(4)]
    ok, ng = disc(50, size=112)[0], disc(51, scratch=True, size=112)[0]
    parts = [ok, _darker(ok), ng, _darker(ng)]

    plain = Engine(tiny_config)
    model = plain.fit(tmp_path / "plain", taught).model
    before = [r.score for r in plain.score_many(model, parts)]
    assert before[1] > before[0]  # without compensation the light change itself reads as a difference

    engine = Engine(tiny_config.replace(brightness="shift"))
    fit = engine.fit(tmp_path / "shift", taught)
    assert fit.record.brightness["mode"] == "shift"
    assert fit.record.brightness["median"] == pytest.approx(np.median([levels(t)[0] for t in taught]))
    results = engine.score_many(engine.load(tmp_path / "shift"), parts)
    after = [r.score for r in results]
    assert after[1] == pytest.approx(after[0], rel=1e-6) and after[3] == pytest.approx(after[2], rel=1e-6)
    assert after[2] > after[0]  # the scratch still stands out
    # never compensated silently: each result says by how much its light was evened out
    shifts = [r.brightness_shift for r in results]
    assert shifts[1] == pytest.approx(shifts[0] + 30) and shifts[3] == pytest.approx(shifts[2] + 30)
    assert results[1].to_dict()["brightness_shift"] == shifts[1]
    assert "brightness_shift" not in plain.score_many(model, parts[:1])[0].to_dict()


def test_the_levels_stay_with_the_model_through_add_and_the_manifest(tmp_path, tiny_config):
    engine = Engine(tiny_config.replace(brightness="shift_scale"))
    folder = tmp_path / "p"
    first = engine.fit(folder, [disc(i, size=112)[0] for i in range(3)]).record.brightness
    assert json.loads((folder / "manifest.json").read_text())["brightness"] == first
    added = engine.add(folder, [_darker(disc(i, size=112)[0]) for i in range(3, 5)]).record.brightness
    assert added == first  # taught at the model's levels, not new ones
    data = json.loads((folder / "manifest.json").read_text())
    data["brightness"] = {"mode": "shift", "median": "bright", "iqr": 0}
    (folder / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ProjectError, match="'brightness' is damaged"):
        read_record(folder)


def _prepared(pixels: np.ndarray):
    """A whole-image crop as features.prepare gives it (what target() reads)."""
    return SimpleNamespace(crop=SimpleNamespace(pixels=pixels, box=(0, 0, pixels.shape[1], pixels.shape[0])),
                           valid=None)


def test_shift_scale_brings_light_and_contrast_to_the_taught_levels():
    rng = np.random.default_rng(0)
    taught = [_prepared(np.clip(120 + rng.normal(0, 20, (64, 64, 3)), 0, 255).astype(np.uint8)) for _ in range(3)]
    to = target(taught, "shift_scale")
    flat_dark = np.clip(70 + rng.normal(0, 8, (64, 64, 3)), 0, 255).astype(np.uint8)
    median, iqr = levels(apply(flat_dark, to))
    assert median == pytest.approx(to["median"], abs=1.5) and iqr == pytest.approx(to["iqr"], rel=0.1)
    assert levels(apply(flat_dark, target(taught, "shift")))[1] == pytest.approx(levels(flat_dark)[1], abs=1)
    assert target(taught, "none") == {} and apply(flat_dark, {}) is flat_dark


def test_the_levels_are_taken_inside_the_roi_shape_and_outside_ignore_regions(tmp_path, tiny_config):
    """A circle ROI's box holds background in its corners, and an ignore region may cover a lamp's reflection:
    neither moves the part's levels."""
    size = 112
    roi = Circle(size / 2, size / 2, size * 0.43)
    glare = Rect(40, 40, 60, 60)  # inside the part, ignored
    engine = Engine(tiny_config.replace(brightness="shift"))
    fit = engine.fit(tmp_path / "p", [disc(i, size=size)[0] for i in range(3)], roi=roi, ignore=[glare])
    assert fit.record.brightness["region"] == "roi"
    part = disc(60, size=size)[0]
    lit = part.copy()
    outside = np.hypot(*np.mgrid[:size, :size] - size / 2 + 0.5) > size * 0.43
    lit[outside] = 200  # the background (box corners) much brighter
    lit[40:60, 40:60] = 255  # and a glare inside the ignore region
    model = engine.load(tmp_path / "p")
    shifts = [r.brightness_shift for r in engine.score_many(model, [part, lit])]
    assert shifts[0] == shifts[1]
    # the whole crop's median would have moved
    assert levels(lit)[0] != levels(part)[0]


def test_inspector_infer_says_how_much_the_light_was_evened_out(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY_YAML + "  brightness: shift\n")
    taught = write_discs(tmp_path / "ok", range(3))
    assert main(["fit", str(tmp_path / "p"), "--ok", *map(str, taught), "--config", str(config)]) == 0
    part = write_discs(tmp_path / "parts", [40])[0]
    capsys.readouterr()
    assert main(["infer", str(tmp_path / "p"), str(part), "--config", str(config), "--no-history"]) == 0
    (line,) = [ln for ln in capsys.readouterr().out.splitlines() if part.name in ln]
    assert " light " in line and line.split(" light ")[1].strip().lstrip("+-").isdigit()
