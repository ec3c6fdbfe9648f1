"""OK-only thresholds that survive a change of capture, and the capture-shift warning (issue 13)."""

import numpy as np
import pytest

from inference import (
    CalibrationError,
    Engine,
    calibrate,
    calibrate_by,
    capture_shift_warning,
    mad_threshold,
    tail_threshold,
)
from inference.synthetic import disc


def test_mad_threshold_is_median_plus_k_robust_spreads():
    ok = [10.0, 11.0, 12.0, 13.0, 14.0]  # median 12, MAD 1
    assert mad_threshold(ok, k=3) == pytest.approx(12 + 3 * 1.4826)
    # One stray OK score moves a percentile threshold to it but not the robust one.
    stray = ok + [40.0]
    assert mad_threshold(stray, k=3) == pytest.approx(12.5 + 3 * 1.4826 * 1.5)
    assert calibrate(stray, score_percentile=99).threshold > 38
    # Two identical scores (MAD 0) still get a margin: 5 % of the median per unit of k.
    assert mad_threshold([20.0, 20.0], k=2) == pytest.approx(22.0)


def test_tail_threshold_meets_its_expected_false_reject_rate():
    rng = np.random.default_rng(0)
    ok = np.exp(rng.normal(3.0, 0.2, 400))  # log-normal OK scores
    fresh = np.exp(rng.normal(3.0, 0.2, 200_000))  # new parts of the same capture
    for frr in (0.01, 0.001):
        t = tail_threshold(ok, expected_frr=frr)
        assert (fresh >= t).mean() == pytest.approx(frr, rel=0.5)
    with pytest.raises(CalibrationError):
        tail_threshold(ok, expected_frr=0.7)


def test_calibrate_by_changes_only_ok_only_thresholds():
    ok, ng = [1.0, 1.2, 1.1, 0.9], [3.0, 4.0]
    assert calibrate_by("mad", ok, ng).threshold == calibrate(ok, ng).threshold == pytest.approx(2.1)
    cal = calibrate_by("mad", ok, mad_k=4)
    assert cal.method == "ok_only_mad" and cal.threshold == pytest.approx(mad_threshold(ok, 4))
    assert cal.frr == 0.0 and cal.margin == pytest.approx(cal.threshold - 1.2)
    assert calibrate_by("tail", ok).method == "ok_only_tail"
    assert calibrate_by("percentile", ok).threshold == calibrate(ok).threshold
    with pytest.raises(CalibrationError, match="calibration method"):
        calibrate_by("median", ok)


def test_capture_shift_warning_fires_only_for_another_capture():
    taught = [20.0, 21.0, 19.0]
    assert capture_shift_warning(taught, [22.0, 24.0, 23.0]) == ""  # same capture: a little higher
    assert capture_shift_warning(taught, [50.0, 55.0, 52.0]) == ""  # 2.6 x: screws turned every way, 1 shot
    assert "another capture" in capture_shift_warning(taught, [65.0, 70.0, 68.0])
    assert "lower" in capture_shift_warning(taught, [10.0, 11.0])
    assert capture_shift_warning([], [1.0]) == ""


def test_engine_calibrate_uses_the_configured_method(tiny_cnn_config, tmp_path):
    ok = [disc(s)[0] for s in range(4)]
    engine = Engine(tiny_cnn_config.replace(calibration_method="mad", calibration_mad_k=5.0))
    engine.fit(tmp_path / "p", ok[:2])
    model = engine.load(tmp_path / "p")
    cal = engine.calibrate(model, ok[2:])
    assert cal.method == "ok_only_mad"
    assert cal.threshold == pytest.approx(mad_threshold(cal.ok_scores, 5.0))
