"""What a calibration's few images can show of the line's rates: the exact upper bounds every client reports."""

import math

import pytest

from inference import Calibration, calibrate, calibration_warnings, threshold_errors, with_threshold
from inference.rate_bounds import evidence_note, images_to_show, upper_bound


def _binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed term by term: the definition the bound must satisfy."""
    return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k + 1))


@pytest.mark.parametrize("errors, n", [(0, 1), (0, 10), (1, 10), (3, 20), (7, 50), (0, 300), (12, 400)])
def test_the_bound_is_the_rate_at_which_so_few_errors_have_a_5_percent_chance(errors, n):
    bound = upper_bound(errors, n)
    assert errors / n < bound < 1
    assert _binomial_cdf(errors, n, bound) == pytest.approx(0.05, abs=1e-9)
    # any lower rate makes the count seen more likely than 5 %: it cannot be ruled out
    assert _binomial_cdf(errors, n, bound * 0.99) > 0.05


def test_the_bound_is_scipys_clopper_pearson():
    from scipy.stats import beta

    for errors, n in [(0, 3), (1, 10), (5, 17), (40, 1000), (199, 200)]:
        assert upper_bound(errors, n) == pytest.approx(beta.ppf(0.95, errors + 1, n - errors), rel=1e-9)
    assert upper_bound(2, 30, confidence=0.99) == pytest.approx(beta.ppf(0.99, 3, 28), rel=1e-9)


def test_no_error_has_the_closed_form_and_more_images_tighten_it():
    assert upper_bound(0, 10) == pytest.approx(1 - 0.05 ** (1 / 10))  # 0 of 10: up to 26 %
    assert round(upper_bound(0, 10), 2) == 0.26
    bounds = [upper_bound(0, n) for n in (5, 10, 30, 100, 1000)]
    assert bounds == sorted(bounds, reverse=True)
    assert upper_bound(4, 4) == 1.0 and upper_bound(0, 0) is None
    with pytest.raises(ValueError):
        upper_bound(5, 4)


def test_images_to_show_a_rate_is_the_first_count_whose_bound_is_under_it():
    assert images_to_show(0.05) == 59 and images_to_show(0.01) == 299
    for rate in (0.2, 0.05, 0.01):
        n = images_to_show(rate)
        assert upper_bound(0, n) < rate <= upper_bound(0, n - 1)


def test_the_sentence_names_each_bound_and_what_it_would_take():
    text = evidence_note(0, 10, 0, 0)
    assert text == ("At 95% confidence, false reject at most 26% and false accept unknown (no NG images) on the "
                    "line's parts; 59 images of a kind, none misjudged, show a rate under 5%.")
    # enough images, none misjudged: no advice
    assert evidence_note(0, 100, 0, 300) == ("At 95% confidence, false reject at most 3.0% and false accept at "
                                             "most 1.0% on the line's parts.")


def test_a_calibration_reports_the_bounds_of_its_own_counts_saved_and_read_back():
    ok = [1.0, 1.2, 1.4, 1.6, 2.6, 1.1, 1.3, 1.5]
    ng = [2.5, 3.0, 3.5, 1.25, 4.0]  # overlapping: one OK rejected or one NG passed
    cal = calibrate(ok, ng)
    counted = threshold_errors(cal.ok_levels, cal.ng_levels, cal.threshold)
    assert (cal.errors.false_rejects, cal.errors.false_accepts) == (counted.false_rejects, counted.false_accepts)
    assert counted.false_rejects + counted.false_accepts > 0
    bounds = cal.rate_bounds()
    assert bounds == {"frr_upper_95": upper_bound(counted.false_rejects, 8),
                      "far_upper_95": upper_bound(counted.false_accepts, 5)}
    assert Calibration.from_dict(cal.to_dict()).rate_bounds() == bounds
    assert calibrate(ok).rate_bounds()["far_upper_95"] is None  # no NG images: no bound claimed


def test_an_ok_only_threshold_below_more_ok_images_than_asked_says_so_not_that_ok_and_ng_overlap():
    scores = [10.0 + i for i in range(10)]
    cal = calibrate(scores, score_percentile=99)  # the 99th of 10 lies under the top: the one the percentile asks
    assert cal.frr == pytest.approx(0.1) and cal.margin < 0
    assert not calibration_warnings(cal)
    assert not calibration_warnings(calibrate(scores, score_percentile=100))
    cal = calibrate(scores, score_percentile=75)  # 3 rejected where 25 % of 10 asks for 3: still as asked
    assert round(cal.frr * 10) == 3 and not calibration_warnings(cal)
    dragged = with_threshold(calibrate(scores, score_percentile=100), 17.5)  # a person's line under 2 OK images
    text = " ".join(calibration_warnings(dragged))
    assert "rejects 2 of its 10 OK images" in text and "NG" not in text
