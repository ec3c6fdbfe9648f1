import numpy as np
import pytest

from inference import Calibration, InspectorError, calibrate, rates, threshold_errors, with_threshold
from inference.heatmap import HEATMAP_COLORMAPS, heatmap_colours, heatmap_png, heatmap_rgba
from inference.scoring import InferenceResult, find_regions, global_score, judge


def test_regions_have_image_coordinates_and_mm2():
    m = np.zeros((50, 60), np.float32)
    m[10:20, 30:35] = 5.0  # 50 px blob
    m[40:42, 5:7] = 4.0  # 4 px blob
    mask = np.ones_like(m, bool)
    regions = find_regions(m, mask, 3.0, box=(100, 200, 160, 250), mm_per_px=0.1)
    assert [r.area_px for r in regions] == [50, 4]
    big = regions[0]
    assert big.bbox == (130, 210, 5, 10)
    assert big.centroid == pytest.approx((132.0, 214.5))
    assert big.area_mm2 == pytest.approx(0.5)
    assert big.max_score == 5.0
    assert find_regions(m, mask, 3.0, (0, 0, 60, 50), None)[0].area_mm2 is None


def test_each_region_carries_its_own_outline_in_image_pixels():
    import cv2

    m = np.zeros((50, 60), np.float32)
    m[10:20, 30:35] = 5.0
    m[30:40, 5:15] = 4.0
    m[33:37, 8:12] = 0.0  # a hole: the outline is the outer border only
    m[44, 50] = m[45, 51] = 6.0  # two pixels touching at a corner: one 8-connected region
    regions = find_regions(m, np.ones_like(m, bool), 3.0, box=(100, 200, 160, 250), mm_per_px=None)
    assert [r.area_px for r in regions] == [84, 50, 2]
    for r in regions:
        pts = r.outline
        assert np.array_equal(pts[0], pts[-1]), "closed"
        x, y, w, h = r.bbox
        # The outline runs along the region's pixels: its corner-to-corner box is the region's box.
        assert (pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max() + 1, pts[:, 1].max() + 1) == (x, y, x + w, y + h)
        filled = np.zeros((250, 160), np.uint8)
        cv2.fillPoly(filled, [pts[:-1].astype(np.int32)], 1)
        inside = np.zeros_like(filled)
        inside[200:250, 100:160] = m >= 3.0
        labels = cv2.connectedComponents(inside, connectivity=8)[1]
        own = labels == labels[int(pts[0, 1]), int(pts[0, 0])]
        assert np.array_equal(filled.astype(bool) & inside.astype(bool), own), "the outline holds this region"
    assert "outline" not in regions[0].to_dict() and regions[0] == regions[0].__class__(**{
        **regions[0].to_dict(), "outline": None}), "the outline is for drawing: not saved, not compared"


def test_the_heatmap_colour_maps_are_opencvs_and_jet_is_the_default():
    import cv2

    m = np.linspace(0, 2, 64, dtype=np.float32).reshape(8, 8)
    r = InferenceResult("x", 1.0, m, np.ones((8, 8), bool), (0, 0, 8, 8), (2, 2), threshold=1.0)
    idx = (np.clip(m / 2.0, 0, 1) * 255).astype(np.uint8)
    assert np.array_equal(heatmap_rgba(r)[..., :3], cv2.applyColorMap(idx, cv2.COLORMAP_JET)[..., ::-1])
    for name, code in HEATMAP_COLORMAPS.items():
        lut = heatmap_colours(name)
        assert lut.shape == (256, 3) and np.array_equal(lut, cv2.applyColorMap(
            np.arange(256, dtype=np.uint8)[:, None], code)[:, 0, ::-1])
        assert np.array_equal(heatmap_rgba(r, colormap=name)[..., :3], lut[idx])
    with pytest.raises(ValueError, match="colour map"):
        heatmap_colours("rainbow")


def test_regions_ignore_pixels_outside_the_shape():
    m = np.full((10, 10), 9.0, np.float32)
    mask = np.zeros_like(m, bool)
    mask[2:4, 2:4] = True
    assert [r.area_px for r in find_regions(m, mask, 1.0, (0, 0, 10, 10), None)] == [4]


def test_area_limit_decides_the_verdict():
    m = np.zeros((50, 60), np.float32)
    m[10:20, 30:35] = 5.0
    regions = find_regions(m, np.ones_like(m, bool), 3.0, (0, 0, 60, 50), 0.1)
    assert judge(5.0, regions, 3.0, 0.0)[0] == "NG"
    verdict, marked, reason = judge(5.0, regions, 3.0, 0.4)  # a 0.5 mm2 region
    assert verdict == "NG" and [r.counts for r in marked] == [True] and "#1 (0.5 mm^2)" in reason
    verdict, marked, reason = judge(5.0, regions, 3.0, 0.6)  # only smaller regions
    assert verdict == "OK" and [r.counts for r in marked] == [False] and "area limit 0.6" in reason
    assert judge(2.0, regions, 3.0, 0.0)[0] == "OK"


def test_verdict_names_the_regions_that_made_it_ng():
    m = np.zeros((50, 60), np.float32)
    m[5:15, 5:15] = 5.0  # 100 px
    m[30:32, 40:42] = 5.0  # 4 px: below the limit, drawn but does not count
    regions = find_regions(m, np.ones_like(m, bool), 3.0, (0, 0, 60, 50), None)
    verdict, marked, _ = judge(5.0, regions, 3.0, 50)
    result = InferenceResult("x", 5.0, m, np.ones_like(m, bool), (0, 0, 60, 50), (5, 6), marked, verdict, 3.0)
    assert [r.area_px for r in marked] == [100, 4] and result.ng_regions == [0]
    assert result.to_dict()["ng_regions"] == [0] and result.to_dict()["regions"][1]["counts"] is False


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_non_finite_threshold_or_limit_never_gives_a_verdict(bad):
    with pytest.raises(ValueError):
        judge(5.0, [], bad, 0.0)
    with pytest.raises(ValueError):
        judge(5.0, [], 3.0, bad)


def test_score_modes():
    m = np.zeros((100, 100), np.float32)
    m[0, :50] = 10.0  # 0.5% of the pixels
    mask = np.ones_like(m, bool)
    patches = np.arange(200, dtype=np.float32).reshape(10, 20)
    pmask = np.ones_like(patches, bool)
    assert global_score(m, mask, patches, pmask, "max") == 10.0
    assert global_score(m, mask, patches, pmask, "p99") == 0.0  # a defect under 1% of the ROI
    assert global_score(m, mask, patches, pmask, "topk_mean") == pytest.approx((199 + 198) / 2)
    mask[0, :] = False
    assert global_score(m, mask, patches, pmask, "max") == 0.0
    m[50, 50] = -1.0  # the max is taken inside the shape only, whatever lies outside it
    mask[50:, :] = False
    m[60, 60] = 99.0
    assert global_score(m, mask, patches, pmask, "max") == 0.0
    assert global_score(m, np.zeros_like(mask), patches, pmask, "max") == 0.0  # no shape: no score
    # reweighted_max: the largest kept patch, times the weight of that patch (asked by flat index).
    asked = []
    pmask[9, 19] = False  # the largest patch is outside: the next one counts

    def weight(i):
        asked.append(i)
        return 0.5
    assert global_score(m, mask, patches, pmask, "reweighted_max", weight) == pytest.approx(198 * 0.5)
    assert asked == [198]


def _anomalib_weight(bank, query, k=9):
    """PatchCore's re-weighting written out the way anomalib's torch model computes it."""
    nn = np.argmin(((bank - query) ** 2).sum(1))
    support = np.argsort(((bank - bank[nn]) ** 2).sum(1), kind="stable")[:k]
    dist = np.sqrt(((bank[support] - query) ** 2).sum(1))
    soft = np.exp(dist - dist.max())
    return 1.0 - soft[0] / soft.sum()


@pytest.mark.parametrize("distance", ["l2", "cosine"])
def test_support_weight_is_patchcores_reweighting(distance):
    from inference.knn import Searcher, build_index, metric_transform

    rng = np.random.default_rng(3)
    bank = rng.normal(size=(300, 24)).astype(np.float32)
    transform = metric_transform(bank, distance)
    searcher = Searcher(build_index(bank, transform), use_gpu=False)
    space = bank if transform is None else transform.apply(bank)
    for scale in (0.5, 1.0, 3.0):
        query = (rng.normal(size=24) * scale).astype(np.float32)
        q = query if transform is None else transform.apply(query[None])[0]
        w = searcher.support_weight(query)
        assert w == pytest.approx(_anomalib_weight(space, q), abs=1e-5)
        assert 1 - 1 / 9 - 1e-6 <= w <= 1.0


def test_heatmap_png_is_a_png_with_alpha_outside_the_shape():
    import cv2

    mask = np.zeros((8, 8), bool)
    mask[2:6, 2:6] = True
    r = InferenceResult("x", 1.0, np.ones((8, 8), np.float32), mask, (0, 0, 8, 8), (2, 2), threshold=1.0)
    png = heatmap_png(r)
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img.shape == (8, 8, 4) and img[0, 0, 3] == 0 and img[3, 3, 3] == 255


@pytest.mark.parametrize("h, w", [(224, 261), (2400, 2437), (1000, 5000)])
def test_a_heatmap_thumbnail_keeps_a_defect_at_the_maps_far_corner(h, w):
    """A thumbnail shrunk by a whole factor is padded, never cropped: a defect in the last rows and columns of a
    large map still shows (the part of the map a crop to whole multiples would drop)."""
    import cv2

    from inference import heatmap_thumbnail_png

    amap = np.zeros((h, w), np.float32)
    amap[-40:, -5:] = 10.0  # a thin upright scratch in the last 5 columns (a 2437 px map shrinks by 20: 17 left over)
    r = InferenceResult("x", 10.0, amap, np.ones((h, w), bool), (0, 0, w, h), (2, 2), threshold=1.0)
    img = cv2.imdecode(np.frombuffer(heatmap_thumbnail_png(r), np.uint8), cv2.IMREAD_UNCHANGED)
    assert 100 <= max(img.shape[:2]) <= 128 and img[0, 0, 3] == 255
    assert img[-2:, -2:, 2].max() > img[0, 0, 2]  # red where the defect is, blue (the map's 0) elsewhere


def test_ok_only_threshold_is_the_percentile():
    ok = np.linspace(1.0, 2.0, 101)
    cal = calibrate(ok, score_percentile=99)
    assert cal.method == "ok_only" and cal.threshold == pytest.approx(np.percentile(ok, 99))
    assert cal.frr == pytest.approx(2 / 101) and cal.far is None
    assert cal.margin == pytest.approx(cal.threshold - 2.0)
    strict = calibrate(ok, score_percentile=100)
    assert strict.frr == 0.0 and strict.margin >= 0


def test_ok_ng_threshold_separates_with_margin():
    cal = calibrate([1.0, 1.2, 1.4], [2.0, 2.5])
    assert cal.method == "ok_ng" and cal.threshold == pytest.approx(1.7) and cal.margin == pytest.approx(0.3)
    assert (cal.far, cal.frr) == (0.0, 0.0)


def test_overlapping_scores_minimise_errors_preferring_fewer_escapes():
    ok, ng = [1.0, 1.1, 1.2, 2.1], [2.0, 3.0, 3.5]
    cal = calibrate(ok, ng)
    assert cal.margin < 0
    far, frr = rates(ok, ng, cal.threshold)
    # best possible: reject the odd OK part (1 of 4) rather than ship the 2.0 defect (1 of 3)
    assert (far, frr) == (0.0, 0.25)


def test_calibration_input_errors():
    with pytest.raises(InspectorError, match="at least one OK"):
        calibrate([])
    with pytest.raises(InspectorError, match="at least one OK"):
        calibrate([])
    for bad in (0, -5, 100.5, float("nan"), float("inf"), "99", None, True):
        if bad is None:
            continue  # None means "the default" only at the engine level, never here
        with pytest.raises(InspectorError, match="percentile"):
            calibrate([1.0], score_percentile=bad)
    for bad in (-1, float("nan"), float("inf"), "0.5", True):
        with pytest.raises(InspectorError, match="area"):
            calibrate([1.0], min_area=bad)
    assert calibrate([1.0, 2.0], score_percentile=1).threshold <= 2.0  # (0, 100] is the documented range


@pytest.mark.parametrize("field,value", [("threshold", float("nan")), ("threshold", float("inf")),
                                         ("threshold", "1.0"), ("min_area", float("inf")),
                                         ("min_area", -1.0), ("area_mm2_thr", -1.0),
                                         ("min_area_unit", "cm2"), ("score_percentile", 0.0)])
def test_a_calibration_file_with_a_bad_value_is_refused(field, value):
    good = calibrate([1.0, 2.0, 3.0]).to_dict()
    Calibration.from_dict(good)
    with pytest.raises(InspectorError):
        Calibration.from_dict({**good, field: value})


def test_a_manual_threshold_recomputes_rates_and_margin():
    base = calibrate([1.0, 2.0], [5.0, 6.0])
    moved = with_threshold(base, 4.0)
    assert (moved.far, moved.frr, moved.margin) == (0.0, 0.0, 1.0) and moved.method == "ok_ng+manual"
    assert with_threshold(base, 5.5).far == 0.5 and with_threshold(base, 5.5).margin == -0.5
    with pytest.raises(InspectorError, match="threshold"):
        with_threshold(base, float("inf"))


def test_threshold_errors_count_what_any_threshold_does():
    ok, ng = [1.0, 2.0, 3.0, 4.0], [3.5, 6.0]
    e = threshold_errors(ok, ng, 3.0)
    assert (e.false_rejects, e.n_ok, e.false_accepts, e.n_ng) == (2, 4, 0, 2)
    assert (e.frr, e.far, e.margin) == (0.5, 0.0, -1.0)  # 4.0 is on the wrong side by 1
    e = threshold_errors(ok, ng, 5.0)
    assert (e.false_rejects, e.false_accepts, e.far, e.margin) == (0, 1, 0.5, -1.5)
    assert threshold_errors(ok, [], 4.5).far is None and threshold_errors(ok, [], 4.5).margin == 0.5
    assert rates(ok, ng, 5.0) == (e.far, e.frr)
    # A manual threshold's calibration takes these figures as they are.
    moved = with_threshold(calibrate(ok, ng), 5.0)
    assert (moved.far, moved.frr, moved.margin) == (e.far, e.frr, e.margin)


def test_verdict_level_is_exactly_where_judge_turns_ng():
    """verdict_level: NG at threshold t exactly when t <= level, for any area limit, in px and in mm^2."""
    from inference.scoring import verdict_level
    from verdict_levels import assert_level_is_where_judge_turns_ng, random_map

    rng = np.random.default_rng(0)
    for trial in range(60):
        m, mask, score, mm = random_map(rng, trial, masked_rows=5)
        limit = float(rng.integers(0, 60)) * (0.01 if mm else 1.0)
        assert_level_is_where_judge_turns_ng(m, mask, score, limit, mm, what=trial)
    assert verdict_level(1.0, np.ones((4, 4), np.float32), np.ones((4, 4), bool), 17.0, None) == float("-inf")


def test_the_map_smoothed_at_the_input_size_is_the_box_smoothed_map():
    from inference.scoring import SMOOTHING_AT, anomaly_map
    from inference.config import SMOOTHING_AT as CONFIG_NAMES

    assert CONFIG_NAMES == SMOOTHING_AT
    rng = np.random.default_rng(0)
    grid = rng.gamma(2.0, 1.0, (16, 16)).astype(np.float32)
    grid[5:7, 9:11] += 8.0  # a defect two patches wide
    # camera-like boxes larger than the 224 px input, and long narrow ones (a seam, an edge) whose short side is
    # below it: smoothed on the input square, that side keeps the grid's rows
    for h, w in [(700, 900), (448, 300), (60, 900), (1200, 40)]:
        box = anomaly_map(grid, h, w, 224, 4.0, at="box").smoothed
        fast = anomaly_map(grid, h, w, 224, 4.0, at="input").smoothed
        assert fast.shape == box.shape == (h, w)
        assert np.abs(fast - box).max() < 0.01 * box.max()  # the same map, not merely a similar one
        assert np.unravel_index(fast.argmax(), fast.shape) == pytest.approx(
            np.unravel_index(box.argmax(), box.shape), abs=0.02 * max(h, w))
    # a box no larger than the input is smoothed at its own size either way: bit for bit the same map
    assert np.array_equal(anomaly_map(grid, 200, 150, 224, 4.0, at="input").smoothed,
                          anomaly_map(grid, 200, 150, 224, 4.0).smoothed)
    with pytest.raises(ValueError, match="smoothing place"):
        anomaly_map(grid, 200, 150, 224, 4.0, at="image")
