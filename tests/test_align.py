"""Part location (inference/align.py) and ignore regions, on generated parts and real images.

The generated part (inference.synthetic.moved_part) is asymmetric and textured:
it is placed anywhere and turned by any angle, so a located ROI is checked
against where the part really is.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inference import Circle, Engine, EngineConfig, Polygon, Rect, WeightsError, roi_to_dict, zones_from_list
from inference.align import Reference, aligned_crop, default_locate_box, locate, map_to_image
from inference.synthetic import moved_part, write_discs

SIZE = 320
ROI = Rect(SIZE / 2, SIZE / 2, 236, 166)  # the part (200 x 130) with a margin, in the reference image
SHIFT = 0.2 * ROI.w  # 20% of the ROI


def _reference() -> Reference:
    image, _ = moved_part(0, size=SIZE)
    return Reference.from_image(image, default_locate_box(ROI, SIZE, SIZE))


def _where(placement, x, y) -> np.ndarray:
    return placement.apply(np.array([[x, y]]))[0]


# -- location alone ---------------------------------------------------------------------------
@pytest.mark.parametrize("dx, dy, angle", [
    (0, 0, 0), (SHIFT, 0, 90), (-SHIFT, 20, -90), (25, -SHIFT / 2, 180), (-30, -30, 37), (15, 35, -151),
    (SHIFT, SHIFT / 2, 263),
])
def test_locate_finds_a_part_shifted_and_turned_any_angle(dx, dy, angle):
    ref = _reference()
    image, _ = moved_part(7, dx, dy, angle, size=SIZE)
    placement = locate(ref, image, "rigid", 180)
    # The ROI's centre must land on the part's centre, and a point on the part's long axis must follow the turn.
    centre = _where(placement, SIZE / 2, SIZE / 2)
    assert np.hypot(*(centre - (SIZE / 2 + dx, SIZE / 2 + dy))) < 2.0
    turned = (placement.angle_deg - angle + 180) % 360 - 180
    assert abs(turned) < 1.5
    assert placement.confidence > 0.8


def test_translation_mode_does_not_turn_and_max_angle_limits_the_search():
    ref = _reference()
    image, _ = moved_part(3, -SHIFT, 25, 0, size=SIZE)
    placement = locate(ref, image, "translation", 180)
    assert placement.angle_deg == 0.0
    assert np.allclose(_where(placement, SIZE / 2, SIZE / 2), (SIZE / 2 - SHIFT, SIZE / 2 + 25), atol=2.0)
    # A part turned by 90 deg is outside a +-15 deg fixture range: it cannot be matched well.
    turned, _ = moved_part(3, 0, 0, 90, size=SIZE)
    assert locate(ref, turned, "rigid", 15).confidence < 0.5 < locate(ref, turned, "rigid", 180).confidence


def test_correlation_fallback_places_a_plain_part(monkeypatch):
    """A part with almost no texture can give ORB too little to match: the correlation search must place it
    alone (the feature match is switched off here to make sure that path is the one measured)."""
    from inference import align

    monkeypatch.setattr(align, "by_features", lambda *args: None)
    def plain(dx, dy, angle):
        import cv2

        img = np.full((SIZE, SIZE, 3), 30, np.uint8)
        rect = ((SIZE / 2 + dx, SIZE / 2 + dy), (180, 100), angle)
        cv2.fillPoly(img, [cv2.boxPoints(rect).astype(np.int32)], (170, 170, 170))
        # A notch, so that the part is not symmetric.
        m = cv2.getRotationMatrix2D((0, 0), -angle, 1.0)[:, :2]
        nx, ny = m @ np.array([60.0, -30.0]) + (SIZE / 2 + dx, SIZE / 2 + dy)
        cv2.circle(img, (int(nx), int(ny)), 18, (30, 30, 30), -1)
        return cv2.GaussianBlur(img, (0, 0), 6.0)  # soft edges: no corners for ORB

    ref = Reference.from_image(plain(0, 0, 0), default_locate_box(ROI, SIZE, SIZE))
    placement = locate(ref, plain(30, -20, 120), "rigid", 180)
    assert placement.method == "correlation"
    assert np.hypot(*(_where(placement, SIZE / 2, SIZE / 2) - (SIZE / 2 + 30, SIZE / 2 - 20))) < 3.0
    assert abs((placement.angle_deg - 120 + 180) % 360 - 180) < 3.0
    assert placement.confidence > 0.9


def test_aligned_crop_and_mapping_back_put_a_point_where_it_was():
    ref = _reference()
    image, _ = moved_part(5, 30, -15, 90, size=SIZE)
    placement = locate(ref, image, "rigid", 180)
    box = (55, 90, 265, 230)
    crop, inside = aligned_crop(image, placement, box)
    assert crop.shape == (140, 210, 3) and inside == pytest.approx(1.0)
    # The aligned crop looks like the reference's crop (the part upright).
    upright = moved_part(0, size=SIZE)[0][90:230, 55:265]
    assert np.corrcoef(crop.mean(axis=2).ravel(), upright.mean(axis=2).ravel())[0, 1] > 0.9
    # A spot in the aligned crop maps back to the image where the part is.
    spot = np.zeros((140, 210), np.float32)
    spot[20:30, 150:160] = 1.0
    mapped, mbox = map_to_image(spot, placement, box, SIZE, SIZE)
    ys, xs = np.nonzero(mapped > 0.5)
    expected = _where(placement, 55 + 155, 90 + 25)
    assert abs(xs.mean() + mbox[0] + 0.5 - expected[0]) < 1.5 and abs(ys.mean() + mbox[1] + 0.5 - expected[1]) < 1.5


# -- the engine with alignment: the done-check ------------------------------------------------
def _real_config(**changes) -> EngineConfig:
    return EngineConfig(backbone="efficientnet_lite0", weights="auto", input_size=224, coreset_ratio=1.0,
                        batch_size=8, **changes)


def _random_pose(seed: int) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    return float(rng.uniform(-30, 30)), float(rng.uniform(-25, 25)), float(rng.uniform(-180, 180))


def _ok_images(seeds) -> list[np.ndarray]:
    return [moved_part(s, *_random_pose(s), size=SIZE)[0] for s in seeds]


def _fit(tmp: Path, config: EngineConfig, **kwargs):
    engine = Engine(config)
    try:
        engine.fit(tmp / "project", [moved_part(0, size=SIZE)[0]] + _ok_images(range(1, 16)), roi=ROI, **kwargs)
    except WeightsError:
        pytest.skip("efficientnet_lite0 weights are not installed")
    model = engine.load(tmp / "project")
    model = model.with_calibration(engine.calibrate(model, _ok_images(range(100, 110))))
    return engine, model


@pytest.fixture(scope="module")
def rigid(tmp_path_factory):
    return _fit(tmp_path_factory.mktemp("rigid"), _real_config(align="rigid"))


def test_done_check_ok_part_moved_and_turned_is_ok_and_scratched_is_ng_there(rigid):
    engine, model = rigid
    ok, _ = moved_part(500, SHIFT, 0, 90, size=SIZE)
    ng, flaw = moved_part(501, SHIFT, 0, 90, scratch=True, size=SIZE)
    r_ok, r_ng = engine.score_many(model, [ok, ng])
    assert r_ok.verdict == "OK", r_ok.reason
    assert r_ng.verdict == "NG", r_ng.reason
    # The region that made it NG lies on the scratch (in the original image's pixels).
    first = r_ng.regions[r_ng.ng_regions[0]]
    x, y, w, h = first.bbox
    assert flaw[y:y + h, x:x + w].sum() > 0.5 * flaw.sum()
    # The located outline is the ROI turned by 90 deg about the moved centre.
    assert r_ng.location["angle_deg"] == pytest.approx(90, abs=1.5)
    assert np.allclose(r_ng.outline[:-1].mean(axis=0), (SIZE / 2 + SHIFT, SIZE / 2), atol=2.0)


def test_without_alignment_the_moved_part_is_ng(rigid, tmp_path):
    """The same OK part, moved and turned, with the ROI fixed in the image: the reason alignment exists."""
    engine, aligned_model = rigid
    fixed_engine = Engine(_real_config())
    fixed_engine.fit(tmp_path / "fixed", [moved_part(s, size=SIZE)[0] for s in range(10)], roi=ROI)
    fixed = fixed_engine.load(tmp_path / "fixed")
    cal = fixed_engine.calibrate(fixed, [moved_part(s, size=SIZE)[0] for s in range(100, 110)])
    fixed = fixed.with_calibration(cal)
    moved, _ = moved_part(500, SHIFT, 0, 90, size=SIZE)
    assert fixed_engine.infer(fixed, moved).verdict == "NG"
    assert engine.infer(aligned_model, moved).verdict == "OK"


def test_a_view_without_the_part_is_not_found(rigid):
    engine, model = rigid
    empty, _ = moved_part(600, present=False, size=SIZE)
    other = np.random.default_rng(1).integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
    for image in (empty, other):
        r = engine.infer(model, image)
        assert r.verdict == "NOT_FOUND"
        assert "part not found" in r.reason and r.score is None
        assert r.to_dict()["score"] is None and r.to_dict()["verdict"] == "NOT_FOUND"
    # Calibrating with a view that holds no part is refused, naming it.
    with pytest.raises(Exception, match="part not found in 1 OK calibration image"):
        engine.calibrate(model, [empty])


def test_a_part_not_found_says_what_the_image_check_finds_there(rigid):
    """To the locator a frame with the light off, or the lens covered, holds no part, as an empty station does: the
    NOT_FOUND reason goes on to say what the image check finds there, naming both causes. A dark frame in which
    the part is still located is the image check's ERROR."""
    engine, model = rigid
    lit, _ = moved_part(602, SHIFT, 0, 90, size=SIZE)
    noise = np.random.default_rng(2).normal(0, 1.0, lit.shape)
    dim = np.clip(lit * 0.1 + noise, 0, 255).astype(np.uint8)
    r = engine.infer(model, dim)
    assert (r.verdict, r.image_check) == ("ERROR", "dark"), r.reason
    off = np.clip(8 + noise, 0, 255).astype(np.uint8)
    empty, _ = moved_part(600, present=False, size=SIZE)
    for frame, said in ((off, "far darker than the taught parts"), (empty, "no part there")):
        r = engine.infer(model, frame)
        assert r.verdict == "NOT_FOUND" and r.reason.startswith("part not found") and said in r.reason, r.reason
    assert "; the image there" not in " ".join(r.reason for r in engine.score_many(model, [lit]))


def test_part_too_close_to_the_edge_is_not_found(rigid):
    engine, model = rigid
    edge, _ = moved_part(601, 125, 0, 0, size=SIZE)  # the ROI would reach far out of the image
    r = engine.infer(model, edge)
    assert r.verdict == "NOT_FOUND" and "outside the image" in r.reason


def test_manifest_records_alignment_and_the_reference(rigid):
    engine, model = rigid
    align = model.manifest["align"]
    assert align["mode"] == "rigid" and align["max_angle_deg"] == 180.0
    assert align["locate_box"] == list(default_locate_box(ROI, SIZE, SIZE))
    assert align["reference_image"] == "<array 0>" and align["reference_size"] == [SIZE, SIZE]
    assert "reference.png" in model.manifest["files"]
    assert (model.folder / "reference.png").is_file()
    assert model.manifest["config"]["align"] == "rigid"
    # A corrupted reference is caught by its checksum.
    data = (model.folder / "reference.png").read_bytes()
    try:
        (model.folder / "reference.png").write_bytes(data[:-10])
        with pytest.raises(Exception, match="reference"):
            Engine(_real_config(align="rigid")).load(model.folder)
    finally:
        (model.folder / "reference.png").write_bytes(data)


def test_ignore_region_over_a_scratch_makes_it_ok(rigid, tmp_path):
    """The scratch lies in the part's frame at (95, 75)-(150, 118), i.e. in the reference image around
    (155-210, 170-213): an ignore polygon over it, drawn on the reference, moves with the part."""
    engine, _ = rigid
    px0, py0 = SIZE / 2 - 100, SIZE / 2 - 65  # the part's top-left corner in the reference image
    cover = Polygon(((px0 + 82, py0 + 62), (px0 + 165, py0 + 62), (px0 + 165, py0 + 128), (px0 + 82, py0 + 128)))
    ignoring, model = _fit(tmp_path, _real_config(align="rigid"), ignore=[cover, Circle(60, 95, 8)])
    assert model.manifest["ignore"][0] == roi_to_dict(cover)
    ng, flaw = moved_part(501, SHIFT, 0, 90, scratch=True, size=SIZE)
    r = ignoring.infer(model, ng)
    assert r.verdict == "OK", r.reason
    # The ignored area, moved and turned with the part, is left out of the mask the map and regions use.
    x0, y0, x1, y1 = r.box
    assert not r.mask[flaw[y0:y1, x0:x1]].any()
    assert r.mask.sum() > 0.5 * ROI.area()
    # And the model without the ignore region finds the scratch (so the region is what made it OK).
    engine_all, model_all = rigid
    assert engine_all.infer(model_all, ng).verdict == "NG"


def test_a_zone_drawn_on_the_reference_moves_with_the_part(rigid):
    """Inspection zones are drawn on the reference image, as ignore regions are: a zone over where the scratch
    lies on the part (drawn where the part lay when taught, away from where the scratch lies now that the part
    is moved and turned half round) moves with the part: the scratch's region is counted in it."""
    engine, model = rigid
    px0, py0 = SIZE / 2 - 100, SIZE / 2 - 65
    face = {"name": "face", "min_area": 0, "shape": {"type": "polygon", "points": [
        [px0 + 82, py0 + 62], [px0 + 165, py0 + 62], [px0 + 165, py0 + 128], [px0 + 82, py0 + 128]]}}
    samples = engine.calibration_samples(model, _ok_images(range(100, 110)))
    judged = model.with_calibration(engine.calibration_from(model, samples, min_area=200,
                                                            zones=zones_from_list([face])))
    ng, flaw = moved_part(501, -30, 0, 180, scratch=True, size=SIZE)
    ok, _ = moved_part(502, -30, 0, 180, size=SIZE)
    r_ng, r_ok = engine.score_many(judged, [ng, ok])
    assert r_ok.verdict == "OK" and r_ng.verdict == "NG", (r_ok.reason, r_ng.reason)
    region = r_ng.regions[r_ng.ng_regions[0]]
    x, y, w, h = region.bbox
    assert flaw[y:y + h, x:x + w].sum() > 0.5 * flaw.sum()
    assert region.zones["face"] > 0.5 * region.area_px, region.zones


def test_ignore_region_outside_the_roi_is_refused(tmp_path, tiny_cnn_config):
    with pytest.raises(Exception, match="ignore region 1 .*outside the ROI"):
        Engine(tiny_cnn_config).fit(tmp_path / "p", [moved_part(0, size=SIZE)[0]], roi=ROI,
                                    ignore=[Circle(10, 10, 5)])


def test_fit_refuses_an_ok_image_without_the_part(tmp_path, tiny_cnn_config):
    images = [moved_part(0, size=SIZE)[0], moved_part(1, present=False, size=SIZE)[0]]
    with pytest.raises(Exception, match=r"<array 1>: part not found"):
        Engine(tiny_cnn_config.replace(align="rigid")).fit(tmp_path / "p", images, roi=ROI)
    assert not (tmp_path / "p" / "manifest.json").exists()


def test_add_keeps_the_reference_and_refuses_other_alignment(tmp_path, tiny_cnn_config):
    config = tiny_cnn_config.replace(align="rigid")
    engine = Engine(config)
    engine.fit(tmp_path / "p", [moved_part(0, size=SIZE)[0]], roi=ROI)
    before = (tmp_path / "p" / "reference.png").read_bytes()
    result = engine.add(tmp_path / "p", [moved_part(2, 20, 10, 45, size=SIZE)[0]])
    assert result.n_images == 2 and (tmp_path / "p" / "reference.png").read_bytes() == before
    with pytest.raises(Exception, match="align"):
        engine.add(tmp_path / "p", [moved_part(3, size=SIZE)[0]], config=tiny_cnn_config)


# -- align: none is today's engine, to the last digit --------------------------------------------------
BEFORE_ALIGNMENT = "d125160"  # the last commit before part location and ignore regions


def test_align_none_scores_equal_the_code_before_alignment(tmp_path, tiny_cnn_config):
    repo = Path(__file__).resolve().parents[1]
    if shutil.which("git") is None or subprocess.run(["git", "-C", str(repo), "cat-file", "-e", BEFORE_ALIGNMENT],
                                                     capture_output=True).returncode != 0:
        pytest.skip("the commit before alignment is not in this checkout")
    old = tmp_path / "old"
    old.mkdir()
    archive = subprocess.run(["git", "-C", str(repo), "archive", BEFORE_ALIGNMENT, "inference"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
    ok = write_discs(tmp_path / "ok", range(4))
    test = write_discs(tmp_path / "test", range(10, 13)) + write_discs(tmp_path / "ng", [20], scratch=True)
    roi = {"type": "circle", "cx": 80, "cy": 80, "r": 70}
    config = {k: v for k, v in tiny_cnn_config.to_dict().items() if not k.startswith("align")}
    script = (
        "import json, sys\n"
        "import dataclasses\n"
        "from inference import Engine, EngineConfig, roi_from_dict\n"
        "args = json.loads(sys.argv[1])\n"
        "known = {f.name for f in dataclasses.fields(EngineConfig)}\n"
        "engine = Engine(EngineConfig.from_dict({k: v for k, v in args['config'].items() if k in known}))\n"
        "engine.fit(args['folder'], args['ok'], roi=roi_from_dict(args['roi']))\n"
        "model = engine.load(args['folder'])\n"
        "print(json.dumps([r.score for r in engine.score_many(model, args['test'])]))\n"
    )
    (old / "run_old.py").write_text(script)
    args = {"config": config, "ok": [str(p) for p in ok], "test": [str(p) for p in test], "roi": roi,
            "folder": str(tmp_path / "old_project")}
    out = subprocess.run([sys.executable, str(old / "run_old.py"), json.dumps(args)], capture_output=True,
                         text=True, cwd=old)
    assert out.returncode == 0, out.stderr
    before = json.loads(out.stdout.strip().splitlines()[-1])

    from inference import roi_from_dict

    # Full precision and the map smoothed at the box, as the code before had: bf16 (issue 15) and smoothing at
    # the input size (smoothing_at, issue 21) are separate, measured changes.
    engine = Engine(tiny_cnn_config.replace(precision="fp32", smoothing_at="box"))
    assert tiny_cnn_config.align == "none"
    engine.fit(tmp_path / "new_project", ok, roi=roi_from_dict(roi))
    now = [r.score for r in engine.score_many(engine.load(tmp_path / "new_project"), test)]
    assert now == before  # exactly: same floats
    assert len(set(now)) > 1


# -- real images -----------------------------------------------------------------------------------
@pytest.mark.parametrize("category", ["mvtec_screw", "mpdd_metal_plate"])
def test_locate_real_parts_moved_by_a_known_amount(shared_data, category):
    """A real image turned and shifted by a known rigid motion is placed back within 2 px and 1.5 deg."""
    import cv2

    from inference import images_in_folder, load_image

    folder = shared_data / category / "train" / "good"
    if not folder.is_dir():
        pytest.skip(f"{category} is absent")
    image = load_image(images_in_folder(folder)[0])
    h, w = image.shape[:2]
    roi = Rect(w / 2, h / 2, w * 0.6, h * 0.6)
    ref = Reference.from_image(image, default_locate_box(roi, w, h))
    for angle, dx, dy in ((30.0, 20.0, -15.0), (-100.0, -25.0, 10.0)):
        m = cv2.getRotationMatrix2D((w / 2 - 0.5, h / 2 - 0.5), -angle, 1.0)
        m[:, 2] += (dx, dy)
        moved = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
        placement = locate(ref, moved, "rigid", 180)
        assert np.hypot(*(_where(placement, w / 2, h / 2) - (w / 2 + dx, h / 2 + dy))) < 2.0
        assert abs((placement.angle_deg - angle + 180) % 360 - 180) < 1.5


# -- settings and the command line ----------------------------------------------------------------
def test_alignment_keys_come_from_yaml_and_patchcore_variables(tmp_path):
    from inference import ConfigError

    assert EngineConfig().align == "none"
    cfg = EngineConfig.load(None, env={"PATCHCORE_ALIGN": "rigid", "PATCHCORE_ALIGN_MAX_ANGLE_DEG": "15",
                                       "PATCHCORE_ALIGN_MIN_CONFIDENCE": "0.7"})
    assert (cfg.align, cfg.align_max_angle_deg, cfg.align_min_confidence) == ("rigid", 15.0, 0.7)
    (tmp_path / "c.yaml").write_text("engine:\n  align: translation\n")
    assert EngineConfig.load(tmp_path / "c.yaml", env={}).align == "translation"
    for key, value in (("PATCHCORE_ALIGN", "affine"), ("PATCHCORE_ALIGN_MAX_ANGLE_DEG", "200"),
                       ("PATCHCORE_ALIGN_MIN_CONFIDENCE", "1.5")):
        with pytest.raises(ConfigError, match=key.removeprefix("PATCHCORE_").lower()):
            EngineConfig.load(None, env={key: value})


def test_cli_fit_with_ignore_and_fail_on_ng_counts_not_found(tmp_path, capsys):
    import cv2

    from inspector_cli.main import main

    (tmp_path / "tiny.yaml").write_text("engine:\n  backbone: resnet18\n  weights: none\n  input_size: 112\n"
                                        "  coreset_ratio: 0.25\n  align: rigid\n")
    cfg = ["--config", str(tmp_path / "tiny.yaml")]
    (tmp_path / "ok").mkdir()
    for s in range(3):
        cv2.imwrite(str(tmp_path / "ok" / f"ok_{s}.png"), moved_part(s, 10 * s, 0, 40 * s, size=SIZE)[0][..., ::-1])
    cv2.imwrite(str(tmp_path / "empty.png"), moved_part(9, present=False, size=SIZE)[0][..., ::-1])
    ignore = json.dumps([{"type": "polygon", "points": [[150, 150], [190, 150], [170, 190]]}])
    roi = json.dumps(roi_to_dict(ROI))
    assert main(["fit", str(tmp_path / "p"), "--ok", str(tmp_path / "ok"), "--roi", roi, "--ignore", ignore,
                 *cfg]) == 0
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert manifest["ignore"][0]["type"] == "polygon" and manifest["align"]["mode"] == "rigid"
    capsys.readouterr()
    assert main(["infer", str(tmp_path / "p"), str(tmp_path / "empty.png"), "--fail-on-ng", *cfg]) == 1
    assert "NOT_FOUND" in capsys.readouterr().out
    # Found but not calibrated: no verdict, which --fail-on-ng never reads as OK (exit 2, issue 8).
    assert main(["infer", str(tmp_path / "p"), str(tmp_path / "ok" / "ok_1.png"), "--fail-on-ng", *cfg]) == 2
    assert main(["fit", str(tmp_path / "q"), "--ok", str(tmp_path / "ok"), "--roi", roi, "--ignore", "[{]",
                 *cfg]) == 2
    assert not (tmp_path / "q" / "manifest.json").exists()


def test_whole_image_turned_leaves_the_filled_border_out(tmp_path, tiny_cnn_config):
    """Without a drawn ROI the whole view is turned: what comes from outside the image is not inspected
    and not taught."""
    from inference.align import prepare_located
    from inference.roi import full_image_roi

    engine = Engine(tiny_cnn_config.replace(align="rigid"))
    still = engine.fit(tmp_path / "a", [moved_part(0, size=SIZE)[0], moved_part(1, 5, 5, 0, size=SIZE)[0]])
    turned = engine.fit(tmp_path / "b", [moved_part(0, size=SIZE)[0], moved_part(1, 5, 5, 45, size=SIZE)[0]])
    assert turned.n_embeddings < still.n_embeddings  # the turned view's filled corners are not in the bank
    model = engine.load(tmp_path / "b")
    (p,) = prepare_located([moved_part(2, 0, 0, 45, size=SIZE)[0]], full_image_roi(SIZE, SIZE), model.locator)
    assert p.valid is not None and not p.valid[0, 0] and p.valid[SIZE // 2, SIZE // 2]
    r = engine.infer(model, moved_part(2, 0, 0, 45, size=SIZE)[0])
    assert r.location["angle_deg"] == pytest.approx(45, abs=1.5)
    assert r.box == (0, 0, SIZE, SIZE) and not r.mask[0, 0] and r.anomaly_map[~r.mask].max() == 0
