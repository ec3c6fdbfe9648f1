"""The Teach step asks the part's symmetry and the light (issue 25): they are the next fit's part_symmetry and
brightness, never on by themselves, and a model fitted with a foreground mask has what it left out veiled in the
view."""

import numpy as np

import inference


def test_teach_step_sets_the_part_symmetry_of_the_next_fit(window):
    combo = window.teach_panel.symmetry
    assert combo.currentData() == "none" and window.doc.config.part_symmetry == "none"  # off by default
    assert sorted(combo.itemData(i) for i in range(combo.count())) == sorted(inference.PART_SYMMETRIES)
    combo.setCurrentIndex(combo.findData("rot180"))
    assert window.doc.config.part_symmetry == "rot180"
    window.doc.set_config(window.doc.config.replace(part_symmetry="mirror"))  # e.g. settings loaded
    assert combo.currentData() == "mirror"


def test_teach_step_sets_the_lighting_compensation_of_the_next_fit(window):
    combo = window.teach_panel.lighting
    assert combo.currentData() == "none" and window.doc.config.brightness == "none"  # off by default
    assert sorted(combo.itemData(i) for i in range(combo.count())) == sorted(inference.BRIGHTNESS_MODES)
    combo.setCurrentIndex(combo.findData("shift"))
    assert window.doc.config.brightness == "shift" and window.doc.config.part_symmetry == "none"
    window.doc.set_config(window.doc.config.replace(brightness="shift_scale"))  # e.g. settings loaded
    assert combo.currentData() == "shift_scale"


def test_the_inspect_view_says_how_much_the_light_was_evened_out(window):
    amap = np.zeros((20, 30), np.float32)
    result = inference.InferenceResult("p.png", 1.5, amap, np.ones_like(amap, bool), (0, 0, 30, 20), (4, 4),
                                       verdict=inference.Verdict.OK, threshold=2.0, brightness_shift=-12.4)
    window.inspect_panel.show_result(result)
    assert window.inspect_panel.score_label.text().endswith("light -12")
    window.inspect_panel.show_result(inference.InferenceResult("q.png", 1.5, amap, np.ones_like(amap, bool),
                                                               (0, 0, 30, 20), (4, 4), verdict=inference.Verdict.OK,
                                                               threshold=2.0))
    assert "light" not in window.inspect_panel.score_label.text()


def test_the_view_veils_what_the_foreground_mask_left_out(window):
    view = window.view
    masked = np.zeros((20, 30), bool)
    masked[:, :5] = True
    view.set_masked(masked, (10, 10, 40, 30))
    image = view.masked_item.image
    assert image.shape == (20, 30, 4) and (image[:, :5, 3] > 0).all() and (image[:, 5:, 3] == 0).all()
    view.set_masked(None)
    assert view.masked_item.image is None


def test_the_teach_step_says_when_the_ok_images_lie_turned(window, tmp_path):
    note = "3 of 4 OK images lie turned by 45 deg or more from the first: the part turns. If parts reach ..."
    fitted = inference.FitResult(tmp_path, 5, 400, 40, 1.2, {}, None, version="v1", symmetry_note=note)
    window.teach_panel._fitted(fitted)
    assert window.teach_panel.result_label.text().endswith("\n" + note)
    window.teach_panel._fitted(inference.FitResult(tmp_path, 5, 400, 40, 1.2, {}, None, version="v2"))
    assert "turned" not in window.teach_panel.result_label.text()
