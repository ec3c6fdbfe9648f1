"""The map shown with each pixel's excess over its surround added (surround_sigma, issue 25): a defect rises over
what its surroundings share, the image score stays the smoothed map's, and a score that reaches the threshold
always leaves a region to weigh."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from inference import Engine, EngineConfig, WeightsError
from inference.scoring import anomaly_map, find_regions, global_score, judge, shown_map
from inference.synthetic import disc


def _defect_on_a_broad_rise() -> np.ndarray:
    """A 28 x 28 patch grid (8 input px a patch at 224): a textured OK surface, a rise wider than the surround
    (sigma 12 patches, 96 px: what a defect image's far-seeing features share), and a defect 2 patches wide
    on it."""
    grid = np.random.default_rng(0).gamma(4.0, 0.25, (28, 28)).astype(np.float32)
    yy, xx = np.mgrid[:28, :28]
    grid += 3.0 * np.exp(-((yy - 12.5) ** 2 + (xx - 15.5) ** 2) / (2 * 12.0 ** 2))
    grid[12:14, 15:17] += 6.0
    return grid


def _maps(grid, h, w, surround, at="input", mask=None):
    """(score read from the smoothed map, the smoothed map, the map shown), as an inspection computes them."""
    maps = anomaly_map(grid, h, w, 224, 4.0, at, surround)
    mask = np.ones((h, w), bool) if mask is None else mask
    maps.smoothed[~mask] = 0.0
    smoothed = maps.smoothed.copy()
    score = global_score(maps.smoothed, mask, grid, np.ones_like(grid, bool), "max")
    return score, smoothed, shown_map(maps, mask)


def test_the_shown_map_lifts_a_defect_over_what_its_surroundings_share():
    grid = _defect_on_a_broad_rise()
    plain = anomaly_map(grid, 900, 900, 224, 4.0, "input")
    assert plain.shown_small is None and shown_map(plain, np.ones((900, 900), bool)) is plain.smoothed  # off
    score, smoothed, shown = _maps(grid, 900, 900, 48.0)
    assert np.array_equal(smoothed, plain.smoothed) and score == smoothed.max()  # what the score reads
    px = 900 / 28  # box pixels per patch
    peak = (int(13 * px), int(16 * px))
    assert np.unravel_index(shown.argmax(), shown.shape) == pytest.approx(peak, abs=px)
    on_rise = (int(13 * px), int(24 * px))  # 8 patches (64 input px) from the defect, on the broad rise
    assert shown[peak] / shown[on_rise] > 1.5 * smoothed[peak] / smoothed[on_rise]
    assert shown.min() >= 0.0  # a distance map: nothing below zero
    # Upsampled after, the same map as computed at the box's own size (the resize is linear).
    _, _, at_box = _maps(grid, 900, 900, 48.0, at="box")
    assert np.abs(at_box - shown).max() < 0.01 * shown.max()


def test_the_surround_is_cheap_and_the_same_as_a_full_gaussian():
    from inference.scoring import surround_mean

    m = anomaly_map(_defect_on_a_broad_rise(), 448, 448, 448, 4.0, "input").smoothed
    full = cv2.GaussianBlur(m, (0, 0), sigmaX=48.0, sigmaY=48.0, borderType=cv2.BORDER_REFLECT)
    assert np.abs(surround_mean(m, 48.0, 48.0) - full).max() < 0.01 * m.max()


def test_a_score_that_reaches_the_threshold_always_has_a_region():
    # A defect just outside the ROI's shape: inside, the map rises towards it, and the score is that flank's top.
    # The surround there is higher than the flank, so m + (m - G(m)) alone stays below the score.
    grid = np.ones((28, 28), np.float32)
    grid[10:14, 20:24] = 12.0
    mask = np.zeros((224, 224), bool)
    mask[:, :150] = True
    maps = anomaly_map(grid, 224, 224, 224, 4.0, "input", surround=48.0)
    assert maps.shown_small[mask].max() < maps.smoothed[mask].max()  # the case shown_map lifts the peak for
    score, _, shown = _maps(grid, 224, 224, 48.0, mask=mask)
    assert shown[mask].max() >= score and not shown[~mask].any()
    regions = find_regions(shown, mask, score, (0, 0, 224, 224), None)
    assert judge(score, regions, score, 0.0)[0] == "NG"
    # Random maps and ROI boxes, larger and smaller than the input, smoothed at either place.
    rng = np.random.default_rng(1)
    for _ in range(40):
        g = rng.gamma(2.0, 1.0, (int(rng.integers(6, 30)),) * 2).astype(np.float32)
        h, w = (int(v) for v in rng.integers(40, 1000, 2))
        mask = np.zeros((h, w), bool)
        mask[: int(rng.integers(1, h + 1)), int(rng.integers(0, w)):] = True
        score, _, shown = _maps(g, h, w, 48.0, str(rng.choice(["input", "box"])), mask)
        assert np.max(shown, where=mask, initial=-np.inf) >= score


@pytest.fixture(scope="module")
def scratched_disc_model(tmp_path_factory):
    """EfficientNet-Lite0 (its ImageNet weights: a pip dependency) taught six generated discs, calibrated on six
    more, with the surround off; the same model with it on differs in its config alone."""
    config = EngineConfig(backbone="efficientnet_lite0", weights="auto", input_size=224, coreset_ratio=1.0,
                          batch_size=8, runtime="torch")
    engine = Engine(config)
    folder = tmp_path_factory.mktemp("surround") / "project"
    try:
        engine.fit(folder, [disc(i)[0] for i in range(6)])
    except WeightsError:
        pytest.skip("efficientnet_lite0 weights are not installed")
    model = engine.load(folder)
    model = model.with_calibration(engine.calibrate(model, [disc(i)[0] for i in range(100, 106)]))
    assert model.config.surround_sigma == 0.0  # the product's default
    return engine, model, dataclasses.replace(model, config=model.config.replace(surround_sigma=48.0))


def test_the_engine_scores_alike_and_outlines_the_scratch_tighter(scratched_disc_model):
    engine, plain, surround = scratched_disc_model
    images = [disc(s, scratch=True) for s in (50, 51, 52)] + [disc(s) for s in (200, 201)]
    on_scratch = {"plain": [], "surround": []}
    for image, scratch in images:
        a, b = engine.infer(plain, image), engine.infer(surround, image)
        assert a.score == b.score and a.verdict == b.verdict  # the verdict rule reads the same score
        assert (a.verdict == "NG") == bool(scratch.any())
        if scratch.any():
            assert b.regions and b.ng_regions  # an NG part names where
            near = cv2.dilate(scratch.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
            for name, r in (("plain", a), ("surround", b)):
                top = r.anomaly_map >= np.quantile(r.anomaly_map, 0.97)
                on_scratch[name].append((top & near).sum() / top.sum())
    # Of the map's hottest 3 %, more lies on the scratch once the rise around it no longer counts as much.
    assert np.mean(on_scratch["surround"]) > np.mean(on_scratch["plain"]) + 0.005



def test_info_says_how_the_map_is_drawn():
    from inspector_cli.info import _map_text

    assert _map_text({"smoothing_sigma": 4.0}) == "smoothed sigma 4 px"  # models fitted before the setting
    text = _map_text({"smoothing_sigma": 4.0, "surround_sigma": 48.0})
    assert "excess over a 48 px surround" in text and "the score reads the smoothed map" in text
