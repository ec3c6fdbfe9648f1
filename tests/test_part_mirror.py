"""Whether the part looks the same mirrored (inference.part_mirror), what the eval's few-shot policy does with it and
what a fit says.

Two drawn parts on a textured plate: an "F" (chiral: mirrored, it is another part) and a "T" (its left-right
mirror image is itself). Each OK image shows the part shifted and turned a little, as a line presents it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from inference import Engine, EngineConfig, taught_mirror
from inference.part_mirror import MIRROR_MARGIN

SIZE = 320
BARS = {  # (x0, y0, x1, y1) of the letter's bars, on a 320 px view
    "F": [(120, 70, 150, 250), (120, 70, 220, 100), (120, 150, 190, 178)],
    "T": [(90, 70, 230, 100), (145, 70, 175, 250)],
}


def _part(letter: str, seed: int, angle: float = 0.0, shift=(0, 0)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    plate = cv2.GaussianBlur(rng.normal(90, 25, (SIZE, SIZE)).astype(np.float32), (0, 0), 3)
    for x0, y0, x1, y1 in BARS[letter]:
        plate[y0:y1, x0:x1] = 210
    matrix = cv2.getRotationMatrix2D((SIZE / 2, SIZE / 2), angle, 1.0)
    matrix[:, 2] += shift
    turned = cv2.warpAffine(plate, matrix, (SIZE, SIZE), borderMode=cv2.BORDER_REFLECT)
    gray = np.clip(turned + rng.normal(0, 3, turned.shape), 0, 255).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)


def _parts(letter: str, n: int = 3) -> list[np.ndarray]:
    poses = [(0.0, (0, 0)), (6.0, (12, -8)), (-5.0, (-10, 14)), (3.0, (6, 10))]
    return [_part(letter, i, a, s) for i, (a, s) in enumerate(poses[:n])]


def test_a_chiral_part_is_told_from_one_that_looks_the_same_mirrored():
    chiral = taught_mirror(_parts("F"))
    assert chiral.judged and chiral.chiral
    assert chiral.mirror_confidence < chiral.taught_match - MIRROR_MARGIN
    assert "does not match it as its OK images do" in chiral.describe()
    assert chiral.to_dict()["chiral"] is True

    mirrored_alike = taught_mirror(_parts("T"))
    assert mirrored_alike.judged and not mirrored_alike.chiral
    assert mirrored_alike.mirror_confidence >= mirrored_alike.taught_match - MIRROR_MARGIN
    assert "looks the same mirrored" in mirrored_alike.describe()


def test_one_image_and_views_that_match_nothing_are_no_evidence():
    one = taught_mirror(_parts("F", 1))
    assert one.mirror_confidence is None and not one.chiral and "no evidence" in one.describe()
    # Plain noise: the views match each other at no pose with confidence, so nothing is judged.
    rng = np.random.default_rng(0)
    noise = [np.repeat(rng.integers(0, 255, (SIZE, SIZE, 1), dtype=np.uint8), 3, axis=2) for _ in range(3)]
    loose = taught_mirror(noise)
    assert not loose.judged and not loose.chiral and "too loosely" in loose.describe()


def test_the_eval_teaches_no_mirrored_copies_of_a_chiral_part(tmp_path):
    from inspector_eval.ours import OursMethod, eval_config

    ours = OursMethod("ours", eval_config())
    config, turns, mirror = ours.config_for_images(_parts("F"))
    assert config.part_symmetry == "none" and mirror.chiral and not turns.turns
    assert ours.config_for_images(_parts("T"))[0].part_symmetry == "mirror"
    assert ours.config_for_images(_parts("F", 1))[0].part_symmetry == "mirror"  # one image: no evidence
    assert "chiral" in ours.describe()["few_shot_policy"]

    tiny = OursMethod("ours", eval_config(None, {"weights": "none", "input_size": 64, "backbone": "resnet18"}))
    try:
        fit = tiny.fit(_parts("F"))
    finally:
        tiny.close()
    assert fit["part_symmetry"] == "none" and fit["taught_mirror"]["chiral"] is True
    from inspector_eval.runner import _copies  # the eval's log line says why no copies were taught

    assert _copies({"fit": fit}) == ", no copies: the part is chiral"


def _engine(**settings) -> Engine:
    return Engine(EngineConfig(backbone="resnet18", weights="none", input_size=64, **settings))


@pytest.mark.parametrize("letter, symmetry, says", [("F", "mirror", True), ("F", "any", True),
                                                    ("T", "mirror", False), ("F", "rot180", False)])
def test_a_fit_that_mirrors_a_chiral_part_says_so_and_fits_as_declared(tmp_path, letter, symmetry, says):
    result = _engine(part_symmetry=symmetry).fit(tmp_path / "proj", _parts(letter))
    note = result.symmetry_note
    assert bool(note) == says and result.to_dict()["symmetry_note"] == note
    if says:
        assert f"part_symmetry: {symmetry}" in note and "mirrored part" in note
    assert result.record.config["part_symmetry"] == symmetry  # said, not applied


def test_judging_the_mirror_never_fails_a_fit(tmp_path, monkeypatch):
    from inference import part_mirror

    def broken(*args, **kwargs):
        raise cv2.error("simulated OpenCV failure")

    monkeypatch.setattr(part_mirror, "locate", broken)
    result = _engine(part_symmetry="mirror").fit(tmp_path / "proj", _parts("F"))
    assert result.symmetry_note == "" and result.n_images == 3


@pytest.mark.parametrize("letter, n, declared, suggested", [
    ("T", 3, {}, True), ("F", 3, {}, False), ("T", 17, {}, False), ("T", 3, {"part_symmetry": "rot180"}, False),
    ("T", 1, {}, False)])
def test_a_few_shot_fit_of_a_part_that_looks_the_same_mirrored_is_told_mirrors_would_help(tmp_path, letter, n,
                                                                                          declared, suggested):
    images = (_parts(letter, 4) * 5)[:n]
    note = _engine(**declared).fit(tmp_path / "proj", images).symmetry_note
    assert ("Looks the same mirrored" in note) == suggested
    if suggested:
        assert "looks the same mirrored (" in note and "--set part_symmetry=mirror" in note
