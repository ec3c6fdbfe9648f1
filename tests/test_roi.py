import math

import pytest

from inference import Annulus, Circle, Rect, RoiError, roi_from_dict, roi_to_dict, shape_mask
from inference.roi import crop_box


@pytest.mark.parametrize("roi", [Rect(50, 40, 30, 20, 17.5), Circle(50, 50, 20), Annulus(60, 50, 10, 30)])
def test_json_round_trip(roi):
    assert roi_from_dict(roi_to_dict(roi)) == roi


def test_circle_mask_area_matches_pi_r2():
    c = Circle(100, 100, 40)
    box = crop_box(c, 200, 200)
    m = shape_mask(c, box, box[3] - box[1], box[2] - box[0])
    assert abs(m.sum() - math.pi * 40**2) / (math.pi * 40**2) < 0.02


def test_annulus_has_a_hole_and_right_area():
    a = Annulus(100, 100, 20, 40)
    box = crop_box(a, 200, 200)
    m = shape_mask(a, box, box[3] - box[1], box[2] - box[0])
    assert not m[40, 40]  # the centre of the box is the hole
    assert m[40, 5]  # between the radii
    assert abs(m.sum() - a.area()) / a.area() < 0.03


def test_rotated_rect_mask_follows_the_rotation():
    r = Rect(100, 100, 80, 10, angle_deg=90)  # now tall and thin
    box = crop_box(r, 200, 200)
    assert box == (95, 60, 105, 140)
    m = shape_mask(r, box, box[3] - box[1], box[2] - box[0])
    assert m.all()
    r45 = Rect(100, 100, 80, 10, angle_deg=45)
    box = crop_box(r45, 200, 200)
    m = shape_mask(r45, box, box[3] - box[1], box[2] - box[0])
    coverage = shape_mask(r45, box, box[3] - box[1], box[2] - box[0], supersample=8)
    assert abs(coverage.sum() - 800) / 800 < 0.02  # exact area, up to sampling of the edges
    assert m[6, 6] and m[-7, -7] and not m[6, -7]  # the diagonal band runs top-left to bottom-right


def test_mask_at_any_resolution_keeps_coverage():
    c = Circle(50, 50, 30)
    box = crop_box(c, 100, 100)
    fine = shape_mask(c, box, 240, 240).mean()
    coarse = shape_mask(c, box, 8, 8, supersample=8).mean()
    assert abs(fine - math.pi / 4) < 0.01 and abs(coarse - math.pi / 4) < 0.02


@pytest.mark.parametrize("data, words", [
    ({"type": "annulus", "cx": 0, "cy": 0, "r_inner": 30, "r_outer": 20}, "smaller than the outer"),
    ({"type": "circle", "cx": 0, "cy": 0, "r": -1}, "radius"),
    ({"type": "rect", "cx": 0, "cy": 0, "w": 0, "h": 5}, "at least 1 px"),
    ({"type": "polygon"}, "ROI type"),
    ({"type": "circle", "cx": "a", "cy": 0, "r": 3}, "'cx' must be a number"),
    ({"type": "circle", "cx": 1, "cy": 0}, "wrong fields"),
])
def test_invalid_rois_are_clear_errors(data, words):
    with pytest.raises(RoiError, match=words):
        roi_from_dict(data)


def test_roi_outside_image_is_an_error():
    with pytest.raises(RoiError, match="outside the 100 x 80 px image"):
        crop_box(Circle(90, 40, 30), 100, 80)
    assert crop_box(Circle(50, 40, 40), 100, 80) == (10, 0, 90, 80)
