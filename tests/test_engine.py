"""Engine behaviour end to end on synthetic discs with a tiny random DINOv2 (and a CNN)."""

import numpy as np
import pytest
import torch

from inference import (
    Annulus,
    CancelToken,
    Cancelled,
    Circle,
    Engine,
    ImageError,
    InspectorError,
    ProjectError,
    WeightsError,
    read_manifest,
)
from inference.synthetic import CENTRE, RADIUS, disc

ROI = Circle(CENTRE[0], CENTRE[1], RADIUS)


@pytest.fixture(scope="module")
def engine(tiny_config):
    return Engine(tiny_config)


@pytest.fixture(scope="module")
def fitted(engine, tmp_path_factory):
    folder = tmp_path_factory.mktemp("proj")
    result = engine.fit(folder, [disc(i)[0] for i in range(8)], roi=ROI, mm_per_px=0.05)
    return folder, result


def test_fit_reports_counts_and_writes_a_complete_project(fitted, tiny_config):
    folder, result = fitted
    assert result.n_images == 8 and result.coreset_size == int(np.ceil(0.25 * result.n_embeddings))
    m = read_manifest(folder)
    assert m["token_shape"] == [8, 8] and m["input_size"] == 112
    assert m["backbone"]["timm_name"] == "vit_small_patch14_dinov2" and m["backbone"]["feature_dim"] == 384
    w = m["backbone"]["weights"]
    assert w["source"] == "random" and w["pretrained"] is False and "RANDOM" in w["description"]
    assert set(m["files"]) == {"embeddings.npy", "coreset.faiss", "provenance.npz", "taught_samples.npz"}
    assert m["n_embeddings"] == result.n_embeddings
    assert m["roi"] == {"type": "circle", "cx": CENTRE[0], "cy": CENTRE[1], "r": RADIUS}
    assert len(m["images"]) == 8 and all(len(i["sha256"]) == 64 for i in m["images"])
    # patches outside the circle never enter the memory bank: fewer than the full 8 x 8 grid per image
    assert result.n_embeddings < 8 * 64


def test_scratch_scores_higher_and_its_region_overlaps_the_scratch(engine, fitted):
    folder, _ = fitted
    model = engine.load(folder)
    ok_scores = [engine.infer(model, disc(100 + i)[0]).score for i in range(4)]
    ng_img, ng_mask = disc(200, scratch=True)
    ng = engine.infer(model, ng_img)
    assert ng.score > max(ok_scores) * 1.05
    # with a threshold just above every OK part the largest region sits on the injected scratch
    thr = max(ok_scores) + (ng.score - max(ok_scores)) / 4
    ng = engine.score_many(model, [ng_img], threshold=thr)[0]
    assert ng.regions, "no region found on the scratch"
    region = np.zeros(ng_mask.shape, bool)
    x, y, w, h = ng.regions[0].bbox
    region[y:y + h, x:x + w] = True
    assert (region & ng_mask).sum() / ng_mask.sum() > 0.5
    assert ng.regions[0].area_mm2 == pytest.approx(ng.regions[0].area_px * 0.05**2)
    assert ng.anomaly_map.shape == (ng.box[3] - ng.box[1], ng.box[2] - ng.box[0])
    assert (ng.anomaly_map[~ng.mask] == 0).all()


def test_defects_outside_the_roi_do_not_count(engine, tmp_path):
    roi = Annulus(CENTRE[0], CENTRE[1], 30, RADIUS)  # the scratch lies partly in the hole
    engine.fit(tmp_path, [disc(i)[0] for i in range(6)], roi=roi)
    model = engine.load(tmp_path)
    clean = disc(300)[0]
    hole_defect = clean.copy()
    hole_defect[70:90, 70:90] = 255  # inside the inner radius: not inspected
    ring_defect = clean.copy()
    ring_defect[20:40, 70:90] = 255  # in the ring
    s_clean, s_hole, s_ring = (engine.infer(model, im).score for im in (clean, hole_defect, ring_defect))
    assert s_ring > s_clean * 1.05
    assert abs(s_hole - s_clean) < abs(s_ring - s_clean) / 4


def test_reload_gives_identical_scores(engine, fitted, tiny_config):
    folder, _ = fitted
    img = disc(7, scratch=True)[0]
    a = engine.infer(engine.load(folder), img).score
    b = Engine(tiny_config).infer(Engine(tiny_config).load(folder), img).score  # fresh engine, fresh backbone
    assert a == pytest.approx(b, rel=1e-5)


def test_add_teaches_more_images_without_refitting(engine, tmp_path):
    first = engine.fit(tmp_path, [disc(i)[0] for i in range(3)], roi=ROI)
    created = read_manifest(tmp_path)["created"]
    first_id = read_manifest(tmp_path)["model_id"]
    before = np.load(tmp_path / "embeddings.npy")
    added = engine.add(tmp_path, [disc(i)[0] for i in range(3, 6)])
    after = np.load(tmp_path / "embeddings.npy")
    assert added.n_images == 6 and added.n_embeddings == 2 * first.n_embeddings
    np.testing.assert_array_equal(after[: len(before)], before)  # old features kept as they were
    manifest = read_manifest(tmp_path)
    assert manifest["created"] == created and manifest["model_id"] != first_id  # same project, new model
    assert manifest["updated"] >= created


def test_inspection_streams_and_keeps_no_result_it_has_handed_over(engine, fitted):
    import gc
    import weakref

    folder, _ = fitted
    model = engine.load(folder)
    alive = []

    def held() -> int:
        # A full collection only where a result looks held: one per result made this test slow in a suite whose
        # heap is large, and what a collection cannot free is held indeed.
        if sum(r() is not None for r in alive) > bound:
            gc.collect()
        return sum(r() is not None for r in alive)

    bound = model.config.batch_size  # at most the batch in hand
    for result in engine.iter_score(model, [disc(100 + i)[0] for i in range(20)]):
        alive.append(weakref.ref(result))
        del result
        assert held() <= bound
    bound = 0
    assert held() == 0


def test_calibrating_does_not_change_the_callers_model(engine, fitted):
    folder, _ = fitted
    model = engine.load(folder)
    before = model.calibration
    cal = engine.calibrate(model, [disc(40)[0], disc(41)[0]])
    assert model.calibration is before and cal is not before  # the worker's result is a new object
    assert engine.load(folder).calibration.threshold == cal.threshold
    assert engine.infer(model.with_calibration(cal), disc(42)[0]).verdict in ("OK", "NG")


def test_cancelled_fit_leaves_the_previous_model(engine, fitted, tmp_path):
    folder, _ = fitted
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    token = CancelToken()

    def cancel_during_coreset(stage, done, total):
        if stage == "coreset":
            token.cancel()

    with pytest.raises(Cancelled):
        engine.fit(folder, [disc(i)[0] for i in range(20, 26)], roi=ROI, progress=cancel_during_coreset,
                   cancel=token)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == files
    engine.load(folder)  # still loads


def test_bad_inputs_change_nothing(engine, fitted, tmp_path):
    folder, _ = fitted
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    (tmp_path / "zero.png").write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        engine.fit(folder, [disc(0)[0], tmp_path / "zero.png"], roi=ROI)
    with pytest.raises(ImageError, match="outside"):
        engine.fit(folder, [np.zeros((60, 60, 3), np.uint8)], roi=ROI)  # image smaller than the ROI
    with pytest.raises(InspectorError, match="no OK images"):
        engine.fit(folder, [], roi=ROI)
    with pytest.raises(InspectorError, match="mm per pixel"):
        engine.fit(folder, [disc(0)[0]], roi=ROI, mm_per_px=-1)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == files


def test_calibration_gives_verdicts_and_a_refit_stays_staged_until_calibrated(engine, tmp_path):
    """A refit onto a calibrated project is a new staged version: the calibrated one keeps inspecting, and the
    new one gives no verdict until it is calibrated (issue 19: the line never silently loses its verdicts)."""
    engine.fit(tmp_path, [disc(i)[0] for i in range(6)], roi=ROI, mm_per_px=0.05)
    model = engine.load(tmp_path)
    cal = engine.calibrate(model, [disc(40 + i)[0] for i in range(4)], [disc(60 + i, True)[0] for i in range(2)])
    assert cal.method == "ok_ng" and cal.far == 0.0 and cal.frr == 0.0 and cal.margin > 0
    results = engine.score_many(engine.load(tmp_path), [disc(80)[0], disc(81, True)[0]])
    assert [r.verdict for r in results] == ["OK", "NG"]
    assert results[1].regions and results[1].regions[0].area_mm2 > 0
    refit = engine.fit(tmp_path, [disc(i)[0] for i in range(6, 12)], roi=ROI)
    assert (refit.version, refit.active) == ("v3", False)
    active = engine.load(tmp_path)
    assert active.version == "v2" and active.calibration is not None
    assert engine.infer(active, disc(81, True)[0]).verdict == "NG"
    staged = engine.load(tmp_path, "v3")
    assert staged.calibration is None and "not calibrated" in staged.calibration_note
    assert engine.infer(staged, disc(80)[0]).verdict == "NO_VERDICT"
    assert refit.model.calibration is None and refit.model.version == "v3"


def test_calibrating_with_images_of_another_capture_warns(engine, fitted):
    """The fit scores its first taught images; OK images that score far from them most likely come from another
    capture, and the saved calibration says so (the same capture does not)."""
    folder, _ = fitted
    model = engine.load(folder)
    assert len(model.record.taught_scores) == 8 and all(s >= 0 for s in model.record.taught_scores)
    same = engine.calibrate(model, [disc(40 + i)[0] for i in range(4)])
    assert "another capture" not in same.warning
    other = [(disc(40 + i)[0] * 0.4).astype(np.uint8) for i in range(4)]  # another capture: the light dimmed
    shifted = engine.calibrate(model, other)
    assert "another capture" in shifted.warning
    assert engine.load(folder).calibration.warning == shifted.warning  # saved with the calibration
    engine.calibrate(model, [disc(40 + i)[0] for i in range(4)])  # leave the shared project as it was


@pytest.mark.parametrize("changes", [{"distance": "mahalanobis"}, {"distance": "cosine"}, {"score_mode": "p99"},
                                     {"score_mode": "reweighted_max"},
                                     {"augment": True, "augment_flips": True, "score_mode": "topk_mean"}])
def test_other_distances_modes_and_augmentation_still_find_the_scratch(tiny_config, tmp_path, changes):
    engine = Engine(tiny_config.replace(**changes))
    result = engine.fit(tmp_path, [disc(i)[0] for i in range(6)], roi=ROI)
    if changes.get("augment"):
        assert result.n_embeddings > 4 * 6 * 40  # original + 2 rotations + 2 flips per image
    model = engine.load(tmp_path)
    ok = max(engine.infer(model, disc(100 + i)[0]).score for i in range(3))
    assert engine.infer(model, disc(200, True)[0]).score > ok


def test_cnn_backbone_features_and_detection(tiny_cnn_config, tmp_path):
    engine = Engine(tiny_cnn_config)
    engine.fit(tmp_path, [disc(i)[0] for i in range(6)], roi=ROI)
    model = engine.load(tmp_path)
    m = model.manifest
    assert m["backbone"]["kind"] == "cnn" and m["token_shape"] == [14, 14]  # stride-8 stage of 112 px
    assert m["backbone"]["feature_dim"] == 128 + 256  # resnet18 stages 2 and 3
    ok = max(engine.infer(model, disc(100 + i)[0]).score for i in range(3))
    assert engine.infer(model, disc(200, True)[0]).score > ok * 1.05


def test_weights_file_in_meta_dinov2_format_is_loaded_and_recorded(tiny_config, tmp_path, monkeypatch):
    import timm

    # Meta's checkpoints have a 37 x 37 position grid (518 px) and a mask token; timm's filter adapts them.
    reference = timm.create_model("vit_small_patch14_dinov2", depth=2, img_size=518, num_classes=0)
    state = {k: v.clone() for k, v in reference.state_dict().items()}
    state["mask_token"] = torch.zeros(1, 384)
    path = tmp_path / "dinov2_vits14_pretrain.pth"
    torch.save(state, path)
    engine = Engine(tiny_config.replace(weights=str(path)))
    backbone = engine.backbone(engine.config)
    assert backbone.weights.source == "file" and backbone.weights.pretrained
    assert backbone.weights.path == str(path) and len(backbone.weights.sha256) == 64
    torch.testing.assert_close(backbone.model.blocks[1].mlp.fc1.weight, reference.blocks[1].mlp.fc1.weight)

    project = tmp_path / "p"
    engine.fit(project, [disc(i)[0] for i in range(3)], roi=ROI)
    assert read_manifest(project)["backbone"]["weights"]["sha256"] == backbone.weights.sha256
    # moved to a PC where the file lives elsewhere: found in the models folder, same sha256, loads
    moved = tmp_path / "models"
    moved.mkdir()
    path.rename(moved / path.name)
    with monkeypatch.context() as m:
        m.setattr("inference.weights.models_dir", lambda: moved)
        assert Engine(tiny_config).load(project).backbone.weights.path == str(moved / path.name)
    moved.joinpath(path.name).rename(path)
    # the same project with different weights on this machine must refuse, not give silent wrong scores
    state["blocks.0.attn.qkv.weight"] += 1.0
    torch.save(state, path)
    with pytest.raises(ProjectError, match="other dinov2_vits14 weights"):
        Engine(tiny_config.replace(weights=str(path))).load(project)


def test_missing_weights_say_what_to_do(tiny_config, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("inference.weights.models_dir", lambda: tmp_path)
    monkeypatch.setattr("inference.weights.user_models_dir", lambda: tmp_path)
    engine = Engine(tiny_config.replace(weights="auto"))
    with pytest.raises(WeightsError) as err:
        engine.fit(tmp_path / "p", [disc(0)[0]], roi=ROI)
    message = str(err.value)
    assert "dinov2_vits14_pretrain.pth" in message and "PATCHCORE_WEIGHTS" in message
    assert "efficientnet_lite0" in message
    assert not (tmp_path / "p").exists()
    with pytest.raises(WeightsError, match="not found"):
        Engine(tiny_config.replace(weights=str(tmp_path / "nope.pth"))).backbone(tiny_config.replace(
            weights=str(tmp_path / "nope.pth")))


def test_a_weights_file_that_does_not_fit_is_a_weights_error_under_either_name(tiny_config, tmp_path):
    import inference

    path = tmp_path / "other.pth"
    torch.save({"some.layer.weight": torch.zeros(3, 3)}, path)
    config = tiny_config.replace(weights=str(path))
    with pytest.raises(WeightsError, match="does not fit") as err:
        Engine(config).backbone(config)
    # The file exists: the old name, kept for callers, is the same class and catches it too.
    assert isinstance(err.value, inference.WeightsNotFoundError) and inference.WeightsNotFoundError is WeightsError


def test_builtin_efficientnet_lite0_has_real_imagenet_weights():
    from inference import EngineConfig

    engine = Engine(EngineConfig(backbone="efficientnet_lite0", input_size=112, use_gpu=False))
    b = engine.backbone(engine.config)
    assert b.weights.source == "package" and b.weights.pretrained
    assert b.weights.sha256.startswith("57934424")  # the file's published hash prefix
    assert b.feature_dim == 40 + 112 and b.token_shape == (14, 14)
    # trained BN statistics, not the initial ones: running_var moved away from 1
    bn = b.model.bn1
    assert not torch.allclose(bn.running_var, torch.ones_like(bn.running_var))


def test_engine_runs_one_job_at_a_time(engine, tmp_path):
    lock = engine._run_alone()
    try:
        with pytest.raises(InspectorError, match="busy"):
            engine.fit(tmp_path, [disc(0)[0]], roi=ROI)
    finally:
        lock.release()


def test_whole_image_models_refuse_images_of_another_size(engine, tmp_path):
    engine.fit(tmp_path, [disc(i)[0] for i in range(3)])  # no ROI: the whole 160 px image
    model = engine.load(tmp_path)
    assert model.manifest["roi_is_whole_image"] and model.manifest["image_size"] == [160, 160]
    assert engine.infer(model, disc(5)[0]).anomaly_map.shape == (160, 160)
    bigger = disc(5, size=200)[0]
    # Inspection: that image is an ERROR with the reason, its neighbours in the batch are inspected as usual.
    results = engine.score_many(model, [disc(6)[0], bigger, disc(7)[0]])
    assert [r.verdict for r in results] == ["NO_VERDICT", "ERROR", "NO_VERDICT"]
    assert "200 x 200 px but the model inspects whole 160 x 160" in results[1].reason and results[1].score is None
    with pytest.raises(ImageError, match="200 x 200"):
        engine.add(tmp_path, [bigger])
    with pytest.raises(ImageError, match="200 x 200"):
        engine.fit(tmp_path / "new", [disc(1)[0], bigger])


def test_add_refuses_settings_that_would_mix_features(engine, tiny_config, tmp_path):
    engine.fit(tmp_path, [disc(i)[0] for i in range(3)], roi=ROI)
    with pytest.raises(ProjectError, match="fitted with input_size 112; this engine uses 224: refit"):
        engine.add(tmp_path, [disc(9)[0]], config=tiny_config.replace(input_size=224))
    # settings that do not shape features (distance, GPU) are fine: the model keeps its own
    assert engine.add(tmp_path, [disc(9)[0]], config=tiny_config.replace(distance="cosine")).n_images == 4
    assert read_manifest(tmp_path)["config"]["distance"] == "l2"


def test_copy_model_keeps_the_model_and_its_calibration(engine, tmp_path):
    from inference import copy_model

    src, dst = tmp_path / "a", tmp_path / "b"
    engine.fit(src, [disc(i)[0] for i in range(4)], roi=ROI)
    engine.calibrate(engine.load(src), [disc(50)[0], disc(51)[0]])
    copy_model(src, dst)
    a, b = engine.load(src), engine.load(dst)
    assert b.calibration is not None and b.calibration.threshold == a.calibration.threshold
    img = disc(60, True)[0]
    assert engine.infer(a, img).score == engine.infer(b, img).score


def test_model_from_a_newer_version_asks_for_an_update(engine, fitted, tmp_path):
    import json
    import shutil

    folder = tmp_path / "newer"
    shutil.copytree(fitted[0], folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["config"]["future_option"] = True
    manifest["app_version"] = "9.0.0"
    from inference.project import json_bytes, sha256_bytes  # keep the manifest self-consistent

    (folder / "manifest.json").write_bytes(json_bytes(manifest))
    assert sha256_bytes((folder / "coreset.faiss").read_bytes()) == manifest["files"]["coreset.faiss"]
    with pytest.raises(ProjectError, match="newer version .*future_option.* update the application"):
        engine.load(folder)


def test_score_many_streams_batches_and_keeps_order_and_names(engine, fitted, tiny_config):
    folder, _ = fitted
    model = engine.load(folder)
    assert model.config.batch_size == 8
    images = [disc(400 + i, scratch=(i == 9))[0] for i in range(10)]  # two batches; the scratch in the second
    seen = []
    results = engine.score_many(model, images, progress=lambda stage, done, total: seen.append((done, total)))
    assert [r.name for r in results] == [f"<array {i}>" for i in range(10)]
    assert seen == [(8, 10), (10, 10)]
    assert max(range(10), key=lambda i: results[i].score) == 9
    single = engine.infer(model, images[9])
    assert single.score == pytest.approx(results[9].score, rel=1e-5)
    assert results[0].mask is results[1].mask and not results[0].mask.flags.writeable  # one shared, read-only mask
