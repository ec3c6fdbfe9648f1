"""The eval's operating point (issue 25): thresholds from the calibration OK and NG images, FRR / FAR counted
on the other test images, anomalib's F1-adaptive threshold, and the ROC's FRR at FAR <= 5 %."""

import numpy as np
import pytest

from inspector_eval import metrics
from inspector_eval.runner import calibration_ng_indices


def test_calibration_ng_images_are_spread_over_the_defects_and_leave_some_for_the_test():
    y = np.array([0] * 5 + [1] * 10, bool)
    picked = calibration_ng_indices(y, 5)
    assert picked == [5, 7, 9, 12, 14] and all(y[picked])
    assert calibration_ng_indices(np.array([0, 1], bool), 5) == []  # the only defect stays in the test
    assert calibration_ng_indices(y, 0) == []


def test_f1_adaptive_threshold_is_the_best_f1_cut_and_the_highest_ok_score_without_defects():
    rng = np.random.default_rng(0)
    ok, ng = rng.normal(0, 1, 40), rng.normal(1.5, 1, 12)
    t = metrics.f1_adaptive_threshold(ok, ng)
    y = np.r_[np.zeros(40, bool), np.ones(12, bool)]
    s = np.r_[ok, ng]
    best = max(metrics.threshold_metrics(y, s, c)["f1"] for c in s)
    assert metrics.threshold_metrics(y, s, t)["f1"] == pytest.approx(best)
    assert metrics.f1_adaptive_threshold(ok, []) == ok.max()


def test_operating_point_counts_only_the_images_that_did_not_set_a_threshold():
    # test: 4 OK (0.1 .. 0.4), 4 defects (0.35, 0.5, 0.6, 0.9); the defect 0.5 is a calibration NG image
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1], bool)
    s = np.array([0.1, 0.2, 0.3, 0.4, 0.35, 0.5, 0.6, 0.9])
    op = metrics.operating_point(y, s, cal_ok=[0.1, 0.15, 0.2, 0.25], cal_ng_idx=[5])
    assert op["n_calibration_ng"] == 1 and op["n_test"] == 7
    zero = op["zero_escape"]
    assert zero["threshold"] == 0.5  # the highest threshold that passes no calibration NG image
    assert zero["frr"] == 0.0 and zero["far"] == pytest.approx(1 / 3)  # 0.35 escapes among the 3 test defects
    ok_only = op["ok_only"]
    assert 0.2 < ok_only["threshold"] <= 0.25
    assert ok_only["frr"] == pytest.approx(2 / 4) and ok_only["far"] == 0.0  # 0.3 and 0.4 rejected
    assert op["anomalib_ok_only"]["threshold"] == 0.25
    assert op["frr_at_far"]["frr"] == pytest.approx(1 / 4)  # 0.35 caught at FAR 0 costs the OK 0.4
