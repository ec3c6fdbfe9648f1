"""Alignment does no harm where parts do not move (issue 14's "no harm" check).

A part that lies where it was taught is not moved: the ROI is cut exactly as
without alignment, so the scores are the same to the last digit. A view with
no part that repeats (a plain surface) is said to be so at fit time.
"""

from __future__ import annotations

from dataclasses import replace

import cv2

import numpy as np
import pytest

from inference import Engine, ImageError, ProjectError, Rect
from inference.align import Reference, default_locate_box, locate
from inference.synthetic import disc, moved_part

SIZE = 320
ROI = Rect(SIZE / 2, SIZE / 2, 236, 166)


def test_a_part_where_it_was_taught_is_not_moved():
    ref = Reference.from_image(moved_part(0, size=SIZE)[0], default_locate_box(ROI, SIZE, SIZE))
    still = locate(ref, moved_part(7, size=SIZE)[0], "rigid", 180)
    assert still.unmoved and np.array_equal(still.matrix, np.eye(2, 3))
    # Moved by a few pixels or turned a little, it is placed (not left where it was taught).
    shifted = locate(ref, moved_part(7, 6, -4, 0, size=SIZE)[0], "rigid", 180)
    turned = locate(ref, moved_part(7, 0, 0, 5, size=SIZE)[0], "rigid", 180)
    assert not shifted.unmoved and np.allclose(shifted.matrix[:, 2], (6, -4), atol=1.5)
    assert not turned.unmoved and turned.angle_deg == pytest.approx(5, abs=1.0)


def test_a_symmetric_part_is_not_turned_for_nothing():
    """A disc looks the same at any angle: the search may find some angle as good as none; it must not turn
    the view (before, a bottle seen from above was turned by about 175 deg)."""
    box = (10, 10, 150, 150)
    ref = Reference.from_image(disc(0)[0], box)
    for seed in (1, 2, 3):
        image = disc(seed)[0]
        # The same disc turned by 40 deg about its centre: still where it was taught.
        turned = cv2.warpAffine(image, cv2.getRotationMatrix2D((79.5, 79.5), 40, 1.0), (160, 160),
                                borderMode=cv2.BORDER_REPLICATE)
        for view in (image, turned):
            placement = locate(ref, view, "rigid", 180)
            assert placement.unmoved, placement.to_dict()


def _fit_scores(tmp_path, name, config, ok, test, **kwargs):
    engine = Engine(config)
    result = engine.fit(tmp_path / name, ok, **kwargs)
    model = engine.load(tmp_path / name)
    return result, model, engine.score_many(model, test)


def test_parts_that_did_not_move_score_exactly_as_without_alignment(tmp_path, tiny_cnn_config):
    ok = [moved_part(s, size=SIZE)[0] for s in range(4)]
    test = [moved_part(10, size=SIZE)[0], moved_part(11, scratch=True, size=SIZE)[0]]
    _, _, plain = _fit_scores(tmp_path, "none", tiny_cnn_config, ok, test, roi=ROI)
    _, model, aligned = _fit_scores(tmp_path, "rigid", tiny_cnn_config.replace(align="rigid"), ok, test, roi=ROI)
    assert model.locator is not None
    for a, b in zip(aligned, plain):
        assert a.location["method"] == "unmoved"
        assert a.score == b.score  # exactly: the same pixels, no resampling
        assert a.box == b.box and np.array_equal(a.anomaly_map, b.anomaly_map)
    assert aligned[1].score > aligned[0].score  # and the scores mean something


def _surface(seed: int) -> np.ndarray:
    """A plain textured surface (a steel strip): grain that differs from image to image, no part."""
    rng = np.random.default_rng(seed)
    grain = cv2.GaussianBlur(rng.normal(128, 40, (200, 120)).astype(np.float32), (0, 0), 2.0)
    return np.repeat(grain.clip(0, 255).astype(np.uint8)[..., None], 3, axis=2)


def test_a_surface_without_a_part_is_taught_without_alignment_and_says_so(tmp_path, tiny_cnn_config):
    ok = [_surface(s) for s in range(4)]
    test = [_surface(s) for s in (10, 11)]
    result, model, aligned = _fit_scores(tmp_path, "rigid", tiny_cnn_config.replace(align="rigid"), ok, test)
    note = result.to_dict()["align_note"]
    assert "no part that repeats" in note and "taught without alignment" in note
    assert model.manifest["align"]["mode"] == "none" and model.locator is None
    _, _, plain = _fit_scores(tmp_path, "none", tiny_cnn_config, ok, test)
    assert [r.score for r in aligned] == [r.score for r in plain]
    # With a drawn ROI the user meant a part to be there: the fit is refused, naming the cause.
    with pytest.raises(ImageError, match="no part that repeats.*locate region"):
        Engine(tiny_cnn_config.replace(align="rigid")).fit(tmp_path / "drawn", ok, roi=Rect(60, 100, 80, 120))
    assert not (tmp_path / "drawn" / "manifest.json").exists()


def test_one_ok_image_without_the_part_is_named(tmp_path, tiny_cnn_config):
    """Most OK images match: the one that does not is a bad teaching image, named as before."""
    images = [moved_part(s, size=SIZE)[0] for s in range(3)] + [moved_part(9, present=False, size=SIZE)[0]]
    with pytest.raises(ImageError, match=r"<array 3>: part not found"):
        Engine(tiny_cnn_config.replace(align="rigid")).fit(tmp_path / "p", images, roi=ROI)


def test_an_aligned_model_from_the_earlier_location_is_refitted(tmp_path, tiny_cnn_config):
    from inference.placement import load_geometry

    config = tiny_cnn_config.replace(align="rigid")
    Engine(config).fit(tmp_path / "p", [moved_part(s, size=SIZE)[0] for s in range(2)], roi=ROI)
    record = Engine(config).load(tmp_path / "p").record
    assert load_geometry(tmp_path / "p", record, config)[1] is not None
    old = replace(record, align={k: v for k, v in record.align.items() if k != "locate_version"})
    with pytest.raises(ProjectError, match="refit"):
        load_geometry(tmp_path / "p", old, config)


def _four_fold_part(angle_deg: float, dx: float, dy: float, size: int = 240) -> np.ndarray:
    """A textured part that looks the same every 90 deg (one textured quarter, copied turned four times),
    turned by angle_deg about the image centre and shifted."""
    rng = np.random.default_rng(4)
    canvas = np.full((size, size), 30.0, np.float32)
    quarter = cv2.GaussianBlur(rng.normal(150, 50, (50, 70)).astype(np.float32), (0, 0), 1.5)
    c = size // 2
    canvas[c - 75:c - 25, c - 85:c - 15] = quarter
    part = sum(np.rot90(canvas, k) for k in range(4)) - 3 * 30.0
    m = cv2.getRotationMatrix2D((c - 0.5, c - 0.5), -angle_deg, 1.0)
    m[:, 2] += (dx, dy)
    turned = cv2.warpAffine(part.clip(0, 255).astype(np.uint8), m, (size, size), borderValue=30)
    return np.repeat(turned[..., None], 3, axis=2)


def test_of_equal_fits_the_least_turn_wins():
    """Turned by 100 deg, a part that looks the same every 90 deg fits at 10 deg too: that pose is the one
    taken, so the view is turned by 10 deg, not 100."""
    ref = Reference.from_image(_four_fold_part(0, 0, 0), (20, 20, 220, 220))
    placement = locate(ref, _four_fold_part(100, 12, -8), "rigid", 180)
    assert placement.angle_deg == pytest.approx(10, abs=2), placement.to_dict()
    assert np.allclose(placement.apply(np.array([[120.0, 120.0]]))[0], (132, 112), atol=2.0)
    assert placement.confidence > 0.8


def test_cli_fit_says_when_there_is_nothing_to_locate(tmp_path, capsys):
    from inspector_cli.main import main

    (tmp_path / "tiny.yaml").write_text("engine:\n  backbone: resnet18\n  weights: none\n  input_size: 112\n"
                                        "  coreset_ratio: 0.25\n  align: rigid\n")
    (tmp_path / "ok").mkdir()
    for s in range(3):
        cv2.imwrite(str(tmp_path / "ok" / f"strip_{s}.png"), _surface(s))
    config = ["--config", str(tmp_path / "tiny.yaml")]
    assert main(["fit", str(tmp_path / "p"), "--ok", str(tmp_path / "ok"), *config]) == 0
    out = capsys.readouterr().out
    assert "no part that repeats" in out and "taught without alignment" in out
