"""Issue 25's engine settings on tiny data: foreground mask, part symmetry, ViT multi-block averaging,
and models saved before them scoring as they did."""

import json

import cv2
import numpy as np
import pytest
import torch

from inference import ConfigError, Engine, EngineConfig, absent_as_before, foreground
from inference.config import ABSENT_MEANS
from inference.synthetic import disc


def _part_features(h=16, w=16, box=(4, 12, 5, 11), c=24, seed=0, flip=False):
    """C x h x w features: background tokens near one vector, part tokens (inside box) near another."""
    rng = np.random.default_rng(seed)
    bg, part = rng.normal(size=c), rng.normal(size=c) * 3
    f = np.tile(bg[:, None, None], (1, h, w)) + rng.normal(scale=0.05, size=(c, h, w))
    y0, y1, x0, x1 = box
    f[:, y0:y1, x0:x1] = part[:, None, None] + rng.normal(scale=0.05, size=(c, y1 - y0, x1 - x0))
    return -f if flip else f


@pytest.mark.parametrize("flip", [False, True])
def test_image_foreground_finds_the_part_whatever_the_sign_of_the_component(flip):
    fg = foreground.image_foreground(_part_features(flip=flip).astype(np.float32))
    truth = np.zeros((16, 16), bool)
    truth[4:12, 5:11] = True
    assert fg[truth].all()  # the whole part, edge included
    # grown by one patch (dilation) and no more: the background far from the part stays out
    grown = np.zeros((16, 16), bool)
    grown[3:13, 4:12] = True
    assert not fg[~grown].any()


def test_model_mask_is_the_grown_union_and_skipped_where_the_part_fills_the_view():
    a = np.zeros((16, 16), bool)
    a[4:8, 4:8] = True
    b = np.zeros((16, 16), bool)
    b[8:12, 8:12] = True
    d = foreground.decide([a, b])
    assert d.mask is not None and d.mask[a].all() and d.mask[b].all()
    assert d.mask[3, 3] and not d.mask[0, 15]  # one patch of margin around the union, not the whole view
    assert foreground.from_record(json.loads(json.dumps(d.to_dict()))).tolist() == d.mask.tolist()
    full = foreground.decide([np.ones((16, 16), bool)])
    assert full.mask is None and "fills" in full.note and foreground.from_record(full.to_dict()) is None
    none = foreground.decide([np.zeros((16, 16), bool)])
    assert none.mask is None and "no part" in none.note


def test_restrict_leaves_background_patches_out_of_the_score_and_the_map():
    fg = np.zeros((4, 4), bool)
    fg[1:3, 1:3] = True
    scores = np.arange(16, dtype=np.float32).reshape(4, 4)
    mask, pmask, out = foreground.restrict(fg, np.ones((8, 8), bool), np.ones((4, 4), bool), scores)
    assert pmask.tolist() == fg.tolist() and mask.sum() == 16
    assert out[0, 0] == out[3, 3] == np.median(scores[fg]) and (out[fg] == scores[fg]).all()
    same = foreground.restrict(None, mask, pmask, scores)
    assert same[2] is scores


@pytest.mark.parametrize("symmetry,count", [("none", 1), ("mirror", 3), ("rot180", 2), ("rot90", 4), ("any", 8),
                                            ("turns", 16)])
def test_symmetry_transforms_are_the_distinct_turns_and_mirrors(symmetry, count):
    a = np.arange(64).reshape(8, 8) + 1  # no symmetry of its own
    outs = [foreground.apply(a, t) for t in foreground.transforms(symmetry)]
    assert len({o.tobytes() for o in outs}) == count
    if symmetry == "mirror":
        assert outs[1].tolist() == a[:, ::-1].tolist() and outs[2].tolist() == a[::-1, :].tolist()


def test_a_turn_between_quarter_turns_moves_cells_about_the_centre_and_leaves_the_corners_out():
    grid = np.arange(64).reshape(8, 8)
    turned = foreground.apply(grid, (0, False, 45.0), fill=-1)
    mask = foreground.apply(np.ones((8, 8), bool), (0, False, 45.0))
    assert not mask[0, 0] and not mask[7, 7] and mask[3:5, 3:5].all()  # the corners came from outside the grid
    assert (turned[~mask] == -1).all() and (turned[mask] >= 0).all()  # a mask and an index grid turn alike
    # counter-clockwise as shown: the cell right of the centre comes from below-right of it... before the turn
    y, x = np.divmod(turned[3, 6], 8)
    assert (y, x) in {(5, 5), (5, 6), (4, 6)}
    image = np.zeros((32, 32, 3), np.uint8)
    image[:, 16:] = 200
    copy = foreground.apply(image, (0, False, 90.0))  # a turn of an image fills its corners by reflection
    assert copy.shape == image.shape and copy[0, 0].any() == copy[0, 31].any() is not None


def test_config_accepts_the_new_settings_and_names_wrong_values():
    c = EngineConfig(foreground_mask="auto", part_symmetry="rot90", vit_blocks=[1, 3])
    assert c.vit_blocks == (1, 3) and c.to_dict()["vit_blocks"] == [1, 3]
    weighted = EngineConfig.from_dict({"cnn_layers": [2, 3, 4], "cnn_stage_weights": {"4": 0.7}})  # as JSON keeps it
    assert weighted.cnn_stage_weights == {4: 0.7} and weighted.stage_weights() == (1.0, 1.0, 0.7)
    assert weighted.replace(cnn_layers=(2, 3)).stage_weights() == (1.0, 1.0)  # a stage not used weighs nothing
    for key, bad in (("foreground_mask", "yes"), ("part_symmetry", "rot45"), ("vit_blocks", [2, 2]),
                     ("cnn_stage_weights", {4: 0}), ("cnn_stage_weights", {9: 1}), ("cnn_stage_weights", {4: "a"}),
                     ("cnn_stage_weights", [0.7])):
        with pytest.raises(ConfigError, match=key):
            EngineConfig(**{key: bad})


def _notched(seed: int, mirrored: bool = False) -> np.ndarray:
    """A disc with a dark notch on its left (right when mirrored): a part that is not mirror-symmetric."""
    img = disc(seed)[0].copy()
    img[70:90, 20:45] = 30
    return np.ascontiguousarray(img[:, ::-1]) if mirrored else img


def test_part_symmetry_teaches_the_mirrored_part_as_ok_only_when_declared(tiny_cnn_config, tmp_path):
    scores = {}
    for symmetry in ("none", "mirror"):
        engine = Engine(tiny_cnn_config.replace(part_symmetry=symmetry))
        fit = engine.fit(tmp_path / symmetry, [_notched(i) for i in range(2)])
        model = fit.model
        assert model.manifest["config"]["part_symmetry"] == symmetry
        scores[symmetry] = (fit.n_embeddings, engine.infer(model, _notched(50)).score,
                            engine.infer(model, _notched(51, mirrored=True)).score)
    n_none, ok_none, flipped_none = scores["none"]
    n_mirror, ok_mirror, flipped_mirror = scores["mirror"]
    assert n_mirror == 3 * n_none  # the crop, its left-right and its top-bottom mirror
    assert flipped_none > 1.5 * ok_none  # a part placed the wrong way round is found without symmetry
    assert flipped_mirror < 1.2 * ok_mirror  # and taught as OK once mirror symmetry is declared


def _turned(image: np.ndarray, degrees: float) -> np.ndarray:
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), degrees, 1.0)
    # the part turned on the line: the camera sees the background (disc()'s grey 40) where it was
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(40, 40, 40))


def _chiral(seed: int, mirrored: bool = False) -> np.ndarray:
    """The notched disc with a bright mark above its centre: no turn of it is its mirror image."""
    img = _notched(seed).copy()
    img[25:37, 45:60] = 230
    return np.ascontiguousarray(img[:, ::-1]) if mirrored else img


def test_part_symmetry_turns_teaches_a_part_at_any_angle_but_not_mirrored(tiny_cnn_config, tmp_path):
    scores = {}
    for symmetry in ("none", "turns"):
        engine = Engine(tiny_cnn_config.replace(part_symmetry=symmetry))
        fit = engine.fit(tmp_path / symmetry, [_chiral(i) for i in range(2)])
        part = _chiral(50)
        scores[symmetry] = {"n": fit.n_embeddings, "ok": engine.infer(fit.model, part).score,
                            **{a: engine.infer(fit.model, _turned(part, a)).score for a in (45, 90)},
                            "mirrored": engine.infer(fit.model, _chiral(51, mirrored=True)).score}
    none, turns = scores["none"], scores["turns"]
    assert none["n"] < turns["n"] < 16 * none["n"]  # 16 copies, the corners of the in-between turns left out
    assert none[45] > 2 * none["ok"]  # a part turned by 45 deg is found without the declaration
    assert turns[45] < 0.5 * none[45] and turns[90] < 1.3 * turns["ok"]  # and taught as OK with it
    assert turns["mirrored"] > 2 * turns["ok"] and turns["mirrored"] > 2 * turns[90]  # a mirrored part is another


def test_foreground_auto_keeps_background_out_of_the_bank_and_add_keeps_the_models_mask(tiny_cnn_config, tmp_path,
                                                                                        monkeypatch):
    # The decision is the model's: here the part is the centre of the view, so the mask is known exactly.
    part = np.zeros((14, 14), bool)
    part[3:11, 3:11] = True
    monkeypatch.setattr(foreground, "image_foreground", lambda f: part.copy())
    engine = Engine(tiny_cnn_config.replace(foreground_mask="auto"))
    fit = engine.fit(tmp_path, [disc(i)[0] for i in range(3)])
    fg = fit.record.foreground
    assert fg["applied"] and fg["shape"] == [14, 14]
    mask = foreground.from_record(fg)
    assert mask[part].all() and mask.sum() == 10 * 10  # the part grown by one patch
    assert fit.n_embeddings == 3 * 100
    model = engine.load(tmp_path)
    assert model.foreground is not None and model.foreground.tolist() == mask.tolist()
    # A scratch inside the part still counts; the background outside the mask is not scored
    ok = max(engine.infer(model, disc(100 + i)[0]).score for i in range(3))
    assert engine.infer(model, disc(200, True)[0]).score > ok
    result = engine.infer(model, disc(101)[0])
    assert not result.mask[:10, :10].any() and result.mask[80, 80]
    added = engine.add(tmp_path, [disc(9)[0]])
    assert added.record.foreground == fg and added.n_embeddings == 4 * 100


def test_a_model_fitted_with_stage_weights_is_not_stale_under_the_same_settings(tiny_cnn_config, tmp_path, capsys):
    config = tiny_cnn_config.replace(cnn_stage_weights={3: 0.5})
    engine = Engine(config)
    engine.fit(tmp_path, [disc(i)[0] for i in range(2)])
    model = engine.load(tmp_path)
    assert model.config.cnn_stage_weights == {3: 0.5}  # read back from the manifest's JSON
    assert model.record.changed_settings(config) == []
    assert model.record.changed_settings(config.replace(cnn_stage_weights={3: 0.7})) == ["cnn_stage_weights"]
    from inspector_cli.main import main

    assert main(["info", str(tmp_path)]) == 0  # a technician reads what the model was fitted with
    assert "stages 2, 3 (3: x0.5)" in capsys.readouterr().out


def test_models_saved_before_the_settings_load_and_score_as_before(tiny_cnn_config, tmp_path):
    # The 160 px images' map smoothed as before, the neighbourhood average without zero padding as before.
    engine = Engine(tiny_cnn_config.replace(smoothing_at="box", patch_zero_pad=False))
    engine.fit(tmp_path, [disc(i)[0] for i in range(3)])
    before = [engine.infer(engine.load(tmp_path), disc(100 + i)[0]) for i in range(2)]
    manifest = tmp_path / "manifest.json"
    data = json.loads(manifest.read_text())
    for key in ("foreground_mask", "part_symmetry", "vit_blocks", "index", "cnn_stage_weights", "smoothing_at",
                "patch_zero_pad", "surround_sigma", "image_check"):
        data["config"].pop(key)
    data.pop("exposure")
    manifest.write_text(json.dumps(data))
    # Even with the new settings on in the running engine, the old model keeps its own behaviour.
    newer = Engine(tiny_cnn_config.replace(foreground_mask="auto", part_symmetry="any", cnn_stage_weights={3: 0.5},
                                           surround_sigma=48.0))
    model = newer.load(tmp_path)
    assert model.config.foreground_mask == "none" and model.config.part_symmetry == "none"
    assert model.config.cnn_stage_weights == {}  # every stage's features at weight 1, as before the setting
    assert model.config.index == "flat"  # searched exactly, as every model before `index: auto`
    assert model.config.smoothing_at == "box" and newer.config.smoothing_at == "input"
    assert model.config.patch_zero_pad is False and newer.config.patch_zero_pad is True
    assert model.config.surround_sigma == 0.0 and newer.config.surround_sigma == 48.0  # the map shown as before
    assert model.foreground is None
    assert model.config.image_check is False and model.record.exposure == {}  # every image scored, as before
    after = [newer.infer(model, disc(100 + i)[0]) for i in range(2)]
    assert [r.score for r in after] == pytest.approx([r.score for r in before], rel=1e-6)
    for old, new in zip(before, after):
        assert np.allclose(new.anomaly_map, old.anomaly_map, rtol=1e-5, atol=1e-6 * old.anomaly_map.max())
    # The project's own settings, saved as old then (without the new keys), read the same way: not stale.
    saved = {k: v for k, v in tiny_cnn_config.to_dict().items() if k not in ABSENT_MEANS}
    assert model.record.changed_settings(EngineConfig.from_dict(absent_as_before(saved))) == []


def test_vit_blocks_average_the_normed_tokens_of_the_named_blocks(tiny_config):
    config = tiny_config.replace(vit_blocks=(0, 1), patch_size=1, precision="fp32")
    backbone = Engine(config).backbone(config)
    images = np.stack([disc(0)[0][:112, :112], disc(1)[0][:112, :112]])
    feats = backbone.embed(images).cpu().numpy()
    m = backbone.model
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255.0)
    x = (x - backbone._mean) / backbone._std
    with torch.no_grad():
        t = m.patch_drop(m.pos_drop(m._pos_embed(m.patch_embed(x))))
        t = m.norm_pre(t)
        outs = []
        for block in m.blocks:
            t = block(t)
            outs.append(m.norm(t)[:, m.num_prefix_tokens:])
    grid = lambda t: t.reshape(2, 8, 8, -1).permute(0, 3, 1, 2).numpy()  # noqa: E731
    want, last = grid(torch.stack(outs).mean(0)), grid(outs[-1])
    assert feats.shape == want.shape == (2, 384, 8, 8)
    error = np.abs(feats - want).max()
    assert error < 1e-4
    # random blocks change the tokens little, but far more than the rounding: the mean, not the last block
    assert np.abs(feats - last).max() > 20 * error
    with pytest.raises(ConfigError, match="vit_blocks"):
        Engine(tiny_config.replace(vit_blocks=(0, 5))).backbone(tiny_config.replace(vit_blocks=(0, 5)))


def test_coreset_of_taught_keeps_the_index_of_the_taught_images_whatever_the_copies(tiny_cnn_config, tmp_path):
    """coreset_of: taught: the symmetric copies are embedded and chosen from, but the index keeps the size a fit
    without copies has; bank: the copies grow it."""
    images = [_notched(i) for i in range(2)]
    sizes = {}
    for symmetry, basis in (("none", "bank"), ("mirror", "bank"), ("mirror", "taught")):
        config = tiny_cnn_config.replace(part_symmetry=symmetry, coreset_of=basis, coreset_ratio=0.3)
        fit = Engine(config).fit(tmp_path / f"{symmetry}-{basis}", images)
        sizes[symmetry, basis] = (fit.n_embeddings, fit.coreset_size)
    n_plain, kept_plain = sizes["none", "bank"]
    n_mirror, kept_mirror = sizes["mirror", "bank"]
    n_taught, kept_taught = sizes["mirror", "taught"]
    assert n_mirror == n_taught == 3 * n_plain  # both embed the crop and its two mirrors
    assert kept_mirror == int(np.ceil(0.3 * n_mirror))
    assert abs(kept_taught - kept_plain) <= 1  # the index of a fit without copies (up to rounding)
    with pytest.raises(ConfigError, match="coreset_of"):
        EngineConfig.from_dict({"coreset_of": "copies"})
