"""Engine.fit and Engine.add hand back the ready Model: the same model Engine.load(project) gives, from memory."""

import numpy as np

from inference import Circle, Engine, Rect, calibrate
from inference.synthetic import CENTRE, RADIUS, disc, moved_part

ROI = Circle(CENTRE[0], CENTRE[1], RADIUS)
SIZE = 320  # moved_part's image side, as in tests/test_align.py
PART_ROI = Rect(SIZE / 2, SIZE / 2, 236.0, 166.0, 0.0)  # as in tests/test_align.py


def _same_model(fitted, loaded, images) -> None:
    """Every field load fills is equal, and both give the same result, bit for bit, on the same images."""
    for field in ("folder", "manifest", "config", "roi", "mm_per_px", "calibration", "calibration_note",
                  "ignore", "model_id", "random_weights"):
        assert getattr(fitted, field) == getattr(loaded, field), field
    assert fitted.searcher.ntotal == loaded.searcher.ntotal
    assert fitted.backbone is loaded.backbone  # one engine keeps one backbone per setting
    assert (fitted.locator is None) == (loaded.locator is None)
    if fitted.locator is not None:
        for field in ("mode", "max_angle_deg", "min_confidence", "image_size"):
            assert getattr(fitted.locator, field) == getattr(loaded.locator, field), field
        assert fitted.locator.reference.box == loaded.locator.reference.box
        assert np.array_equal(fitted.locator.reference.pixels, loaded.locator.reference.pixels)
    engine = Engine(fitted.config)
    for a, b in zip(engine.score_many(fitted, images), engine.score_many(loaded, images)):
        assert a.score == b.score and a.verdict == b.verdict and a.reason == b.reason
        assert np.array_equal(a.anomaly_map, b.anomaly_map) and a.box == b.box
        assert [r.bbox for r in a.regions] == [r.bbox for r in b.regions]


def test_fit_and_add_return_the_model_load_gives(tiny_config, tmp_path):
    engine = Engine(tiny_config)
    folder = tmp_path / "p"
    probe = [disc(100)[0], disc(200, scratch=True)[0]]
    cover = Rect(CENTRE[0] + 20, CENTRE[1], 20.0, 20.0, 0.0)
    fitted = engine.fit(folder, [disc(i)[0] for i in range(4)], roi=ROI, mm_per_px=0.05, ignore=[cover])
    assert fitted.model is not None and fitted.model.calibration is None
    assert fitted.model.manifest == fitted.manifest and fitted.model.ignore == (cover,)
    _same_model(fitted.model, engine.load(folder), probe)

    added = engine.add(folder, [disc(i)[0] for i in range(4, 6)])
    assert added.model.model_id != fitted.model.model_id and added.model.manifest["n_images"] == 6
    _same_model(added.model, engine.load(folder), probe)


def test_refit_over_a_calibrated_model_is_staged_and_gives_the_note_load_gives(tiny_config, tmp_path):
    engine = Engine(tiny_config)
    folder = tmp_path / "p"
    first = engine.fit(folder, [disc(i)[0] for i in range(3)], roi=ROI).model
    ok = [r.score for r in engine.score_many(first, [disc(10 + i)[0] for i in range(3)])]
    engine.save_calibration(first, calibrate(ok, [], 99.0, 0.0))
    again = engine.fit(folder, [disc(i)[0] for i in range(3, 6)], roi=ROI).model
    # The refit is a staged version (the calibrated one stays active): not calibrated, as load says too.
    loaded = engine.load(folder, again.version)
    assert again.calibration is None and "not calibrated" in again.calibration_note
    assert engine.load(folder).calibration is not None and engine.load(folder).version != again.version
    _same_model(again, loaded, [disc(300)[0]])


def test_aligned_fit_and_add_return_the_model_load_gives(tiny_cnn_config, tmp_path):
    engine = Engine(tiny_cnn_config.replace(align="rigid"))
    folder = tmp_path / "p"
    probe = [moved_part(7, 15, -10, 30, size=SIZE)[0], moved_part(8, -20, 5, 120, scratch=True, size=SIZE)[0]]
    fitted = engine.fit(folder, [moved_part(0, size=SIZE)[0], moved_part(1, 10, 5, 20, size=SIZE)[0]],
                        roi=PART_ROI)
    assert fitted.model.locator is not None
    _same_model(fitted.model, engine.load(folder), probe)
    added = engine.add(folder, [moved_part(2, 20, 10, 45, size=SIZE)[0]])
    _same_model(added.model, engine.load(folder), probe)


def test_fit_result_to_dict_is_unchanged_by_the_model(tiny_config, tmp_path):
    result = Engine(tiny_config).fit(tmp_path / "p", [disc(0)[0]], roi=ROI)
    out = result.to_dict()
    assert "model" not in out and out["n_images"] == 1 and out["backbone"] == "dinov2_vits14"
