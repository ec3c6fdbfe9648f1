"""How the part lies across the taught OK images (inference.part_turns) and the eval's few-shot policy built on it.

The generated part (inference.synthetic.moved_part) is asymmetric and textured, so the angle each image is
found at is the angle it was drawn at."""

from __future__ import annotations

import json

import pytest

from inference import taught_turns
from inference.part_turns import TURNED_MIN_DEG, TURNED_SHARE
from inference.synthetic import moved_part

SIZE = 320


def _parts(angles, shifts=None):
    shifts = shifts or [(0, 0)] * len(angles)
    return [moved_part(i, dx, dy, a, size=SIZE)[0] for i, (a, (dx, dy)) in enumerate(zip(angles, shifts))]


def test_parts_lying_at_any_angle_turn():
    evidence = taught_turns(_parts([0, 120, -75, 200, 10]))
    assert evidence.turns
    found = [(a - d + 180) % 360 - 180 for a, d in zip(evidence.angles_deg, [120, -75, 200, 10])]
    assert all(abs(f) < 2.0 for f in found)  # each image found at the angle it was drawn at
    assert evidence.turned == 3 and "3 of 4" in evidence.describe() and "turns" in evidence.describe()


def test_parts_that_shift_and_wobble_lie_one_way():
    angles = [0, 8, -12, 20, -5]
    evidence = taught_turns(_parts(angles, [(0, 0), (25, -10), (-30, 15), (10, 30), (-20, -25)]))
    assert not evidence.turns and evidence.turned == 0
    assert all(a is not None and abs(a) < TURNED_MIN_DEG for a in evidence.angles_deg)
    assert "lies one way" in evidence.describe()


def test_one_turned_image_in_many_is_not_a_line_that_turns():
    angles = [0, 90] + [4, -6, 3, -2, 7, -4]  # 1 of 7 turned: under the share
    assert 1 / 7 < TURNED_SHARE
    evidence = taught_turns(_parts(angles))
    assert evidence.turned == 1 and not evidence.turns


def test_one_image_and_views_that_match_nothing_are_no_evidence():
    assert taught_turns(_parts([0])).angles_deg == () and not taught_turns(_parts([0])).turns
    assert "no evidence" in taught_turns(_parts([0])).describe()
    # Empty views (no part: camera noise only) match the first at no angle with confidence.
    empty = [moved_part(i, size=SIZE, present=False)[0] for i in range(4)]
    evidence = taught_turns(empty)
    assert evidence.angles_deg == (None, None, None) and not evidence.turns


def test_the_eval_teaches_turned_copies_only_where_the_taught_images_turn():
    from inspector_eval.ours import FEW_SHOT_MAX_IMAGES, OursMethod, eval_config

    ours = OursMethod("ours", eval_config())
    turning, fixed = _parts([0, 150, -100]), _parts([0, 5, -7])
    assert ours.config_for(3, ours.turn_evidence(turning)).part_symmetry == "turns"
    # The generated part is chiral (its mirror image is another part: inference.part_mirror), so lying one way it
    # gets no copies; a part that looks the same mirrored gets the mirrors (tests/test_part_mirror.py).
    assert ours.config_for_images(fixed)[0].part_symmetry == "none"
    assert ours.turn_evidence(turning[:1]).angles_deg == ()  # one image: the mirrors, as before
    assert ours.config_for(1, ours.turn_evidence(turning[:1])).part_symmetry == "mirror"
    # Past the few-shot bound, or where --config declares the symmetry, nothing is located and nothing changes.
    assert ours.turn_evidence(turning * (FEW_SHOT_MAX_IMAGES // 3 + 1)) is None
    declared = OursMethod("ours", eval_config(None, {"part_symmetry": "rot180"}))
    assert declared.turn_evidence(turning) is None and declared.config_for(3).part_symmetry == "rot180"
    assert "turns" in ours.describe()["few_shot_policy"]


@pytest.mark.parametrize("symmetry", ["turns", "none"])
def test_the_eval_records_the_symmetry_it_taught(tmp_path, symmetry):
    from inspector_eval.ours import OursMethod, eval_config

    images = _parts([0, 150, -100] if symmetry == "turns" else [0, 5, -7])
    ours = OursMethod("ours", eval_config(None, {"weights": "none", "input_size": 64, "backbone": "resnet18"}))
    try:
        fit = ours.fit(images)
    finally:
        ours.close()
    assert fit["part_symmetry"] == symmetry and fit["taught_turns"]["turns"] == (symmetry == "turns")
    assert 0 < fit["turn_check_s"] < fit["total_s"]  # the policy's check is counted in the fit's time


# -- the product: a new fit says so, and changes nothing ---------------------------------------------------
def _write(folder, images):
    import cv2

    folder.mkdir()
    for i, image in enumerate(images):
        cv2.imwrite(str(folder / f"ok_{i:02d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return folder


@pytest.mark.parametrize("declared, says", [({}, True), ({"part_symmetry": "turns"}, False),
                                            ({"align": "rigid"}, False)])
def test_a_fit_on_turned_ok_images_says_so_unless_the_model_knows(tmp_path, capsys, declared, says):
    import yaml

    from inspector_cli.main import main
    from tiny_project import TINY_YAML

    config = yaml.safe_load(TINY_YAML)
    config["engine"].update(declared)
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    ok = _write(tmp_path / "ok", _parts([0, 150, -100]))
    capsys.readouterr()
    assert main(["fit", str(tmp_path / "proj"), "--ok", str(ok), "--config", str(tmp_path / "tiny.yaml"),
                 "--json", str(tmp_path / "fit.json")]) == 0
    said = json.loads((tmp_path / "fit.json").read_text())["symmetry_note"]
    assert bool(said) == says and (said in capsys.readouterr().out if says else True)
    if says:
        assert "2 of 2 OK images lie turned" in said and "--set part_symmetry=turns" in said
        # Said, not applied: the model was fitted as declared (no symmetry).
        manifest = json.loads((tmp_path / "proj" / "manifest.json").read_text())
        assert manifest["config"].get("part_symmetry", "none") == "none"
        # The advice, taken word for word on the command line: the fit knows the part turns and says nothing.
        assert main(["fit", str(tmp_path / "proj"), "--ok", str(ok), "--config", str(tmp_path / "tiny.yaml"),
                     "--set", "part_symmetry=turns", "--activate", "--json", str(tmp_path / "fit.json")]) == 0
        assert json.loads((tmp_path / "fit.json").read_text())["symmetry_note"] == ""
        manifest = json.loads((tmp_path / "proj" / "manifest.json").read_text())
        assert manifest["config"]["part_symmetry"] == "turns"


def test_a_fit_on_ok_images_lying_one_way_says_nothing(tmp_path):
    from inference import Engine, EngineConfig

    engine = Engine(EngineConfig(backbone="resnet18", weights="none", input_size=64))
    result = engine.fit(tmp_path / "proj", _parts([0, 6, -9]))
    assert result.symmetry_note == "" and result.to_dict()["symmetry_note"] == ""


def test_judging_the_turns_never_fails_a_fit(tmp_path, monkeypatch):
    import cv2

    from inference import Engine, EngineConfig, part_turns

    def broken(*args, **kwargs):
        raise cv2.error("simulated OpenCV failure")

    monkeypatch.setattr(part_turns, "locate", broken)
    engine = Engine(EngineConfig(backbone="resnet18", weights="none", input_size=64))
    result = engine.fit(tmp_path / "proj", _parts([0, 150, -100]))
    assert result.symmetry_note == "" and result.n_images == 3
