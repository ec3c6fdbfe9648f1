"""The minimum region length (min_length): a thin defect whose area is below the minimum area counts by its length,
in inspection and in calibration's FAR and FRR alike (inference/region_length.py)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from inference import Calibration, CalibrationError, ConfigError, Engine, EngineConfig, calibrate, check_values
from inference.region_length import longest_component, longest_extent
from inference.scoring import find_regions, judge, verdict_level
from inference.synthetic import CENTRE, RADIUS, disc
from inference.zones import zone_map
from inference import Circle, zones_from_list
from inspector_cli.main import main as cli_main

from tiny_project import TINY_YAML
from verdict_levels import assert_level_is_where_judge_turns_ng


def test_a_regions_length_is_its_longest_distance_across():
    assert longest_extent(np.array([[5, 5]])) == 1.0
    assert longest_extent(np.array([[0, 0], [9, 0]])) == 10.0
    binary = np.zeros((40, 40), np.uint8)
    cv2.line(binary, (5, 5), (29, 23), 1, 1)  # 24 x 18 px: 30 px between its end pixels' centres
    binary[35:38, 35:38] = 1
    assert longest_component(binary) == pytest.approx(31.0, abs=0.01)
    assert longest_component(np.zeros((4, 4), np.uint8)) == 0.0


def _scratch_map():
    """A map with a thin line (1 px wide, 31 px long, 31 px of area) and a round blob of 49 px above 0.5."""
    m = np.zeros((40, 60), np.float32)
    m[10, 5:36] = 1.0
    m[25:32, 40:47] = 0.8
    return m, np.ones_like(m, bool)


def test_a_thin_scratch_counts_by_its_length_where_its_area_is_too_small():
    m, mask = _scratch_map()
    regions = find_regions(m, mask, 0.5, (0, 0, 60, 40), None)
    line = next(r for r in regions if r.area_px == 31)
    assert line.length_px == 31.0 and line.length_mm is None and line.to_dict()["length_px"] == 31.0
    verdict, _, reason = judge(1.0, regions, 0.5, 50.0)
    assert verdict == "OK" and "area limit 50" in reason
    verdict, marked, reason = judge(1.0, regions, 0.5, 50.0, min_length=20.0)
    assert verdict == "NG" and [r.counts for r in marked] == [r is line for r in regions]
    assert "(31 px long) >= length limit 20" in reason
    verdict, _, reason = judge(1.0, regions, 0.5, 50.0, min_length=40.0)
    assert verdict == "OK" and "nor the length limit 40 (longest 31)" in reason
    # In mm: 0.1 mm per px makes the line 3.1 mm long.
    mm = find_regions(m, mask, 0.5, (0, 0, 60, 40), 0.1)
    verdict, _, reason = judge(1.0, mm, 0.5, 0.5, min_length=3.0)
    assert verdict == "NG" and "3.1 mm long" in reason
    assert verdict_level(1.0, m, mask, 50.0, None, min_length=20.0) == 1.0
    # Only the cut at 0 (the whole map, one region) is 40 px long.
    assert verdict_level(1.0, m, mask, 50.0, None, min_length=40.0) == 0.0


def test_verdict_level_is_exactly_where_judge_turns_ng_with_a_length_limit():
    rng = np.random.default_rng(5)
    for trial in range(40):
        m = cv2.GaussianBlur(rng.random((40, 50)).astype(np.float32), (0, 0), 1.5)
        mask = np.ones_like(m, bool)
        score = float(m.max())
        mm = None if trial % 2 else 0.1
        unit = 0.1 if mm else 1.0
        area = float(rng.integers(20, 200)) * unit * unit
        length = float(rng.integers(3, 30)) * unit
        zmap = None
        if trial % 3 == 0:
            zones = zones_from_list([{"name": "z", "min_area": area / 2, "shape": {"type": "circle", "cx": 25,
                                                                                    "cy": 20, "r": 8}}])
            zmap = zone_map(zones, area, (0, 0, 50, 40), m.shape, mm)
        assert_level_is_where_judge_turns_ng(m, mask, score, area, mm, zmap, length, every=6, what=trial)


def test_the_minimum_length_is_checked_kept_and_read_from_older_files():
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(CalibrationError, match="minimum length"):
            check_values(min_length=bad)
    cal = calibrate([1.0, 2.0], [], 99.0, 5.0)
    cal.min_length = 2.5
    cal.min_area_unit = "mm2"
    again = Calibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert again.min_length == 2.5 and again.min_area_text == "5 mm2, or 2.5 mm long"
    older = {k: v for k, v in cal.to_dict().items() if k != "min_length"}
    assert Calibration.from_dict(older).min_length == 0.0 and Calibration.from_dict(older).min_area_text == "5 mm2"
    with pytest.raises(CalibrationError, match="minimum length"):
        Calibration.from_dict(dict(cal.to_dict(), min_length=-3))
    assert EngineConfig.load(None, env={"PATCHCORE_MIN_LENGTH": "1.5"}).min_length == 1.5
    with pytest.raises(ConfigError, match="min_length"):
        EngineConfig(min_length=-1)


@pytest.fixture(scope="module")
def scored(tiny_config, tmp_path_factory):
    engine = Engine(tiny_config)
    roi = Circle(CENTRE[0], CENTRE[1], RADIUS)
    model = engine.fit(tmp_path_factory.mktemp("length") / "p", [disc(i)[0] for i in range(6)], roi=roi).model
    samples = engine.calibration_samples(model, [disc(20 + i)[0] for i in range(5)],
                                         [disc(40 + i, scratch=True)[0] for i in range(3)])
    return engine, model, samples


def test_calibration_and_inspection_count_the_same_lengths(scored):
    """With an area limit above any region, only a length limit catches the scratches; inspection then judges each
    calibration image as its verdict level said."""
    engine, model, samples = scored
    huge = float(np.pi * RADIUS ** 2) * 2
    assert engine.calibration_from(model, samples, min_area=huge).far == 1.0
    lengths = []
    for length in (20.0, 60.0, 400.0):
        cal = engine.calibration_from(model, samples, min_area=huge, min_length=length)
        assert cal.min_length == length and cal.requires == ["min_length"]
        judged = model.with_calibration(cal)
        for r, level in zip(engine.score_many(judged, [disc(40 + i, scratch=True)[0] for i in range(3)]),
                            cal.ng_levels):
            assert (r.verdict == "NG") == (cal.threshold <= level), (r.reason, level)
        lengths.append(cal.far)
    assert lengths[0] == 0.0 and lengths[-1] == 1.0, lengths  # 400 px: longer than the part


def test_cli_calibrate_takes_a_minimum_length(tmp_path):
    from inference.synthetic import write_discs

    config = tmp_path / "tiny.yaml"
    config.write_text(TINY_YAML)
    write_discs(tmp_path / "ok", range(5))
    held = write_discs(tmp_path / "held", range(20, 26))
    write_discs(tmp_path / "ng", range(40, 43), scratch=True)
    project, base = tmp_path / "p", ["--config", str(config)]
    roi = json.dumps({"type": "circle", "cx": CENTRE[0], "cy": CENTRE[1], "r": RADIUS})
    assert cli_main(["fit", str(project), "--ok", str(tmp_path / "ok"), "--roi", roi, "--mm-per-px", "0.1",
                     *base]) == 0
    args = ["calibrate", str(project), "--ok", *map(str, held), "--ng", str(tmp_path / "ng"), "--min-area", "1000"]
    assert cli_main([*args, "--min-length", "-2", *base]) == 2
    assert not (project / "calibration.json").exists()
    assert cli_main([*args, "--min-length", "2", *base]) == 0
    saved = json.loads((project / "calibration.json").read_text())
    assert saved["min_length"] == 2.0 and saved["far"] == 0.0
    # Calibrated again without it, the limit is kept (never dropped unasked); 0 drops it.
    assert cli_main([*args, *base]) == 0
    assert json.loads((project / "calibration.json").read_text())["min_length"] == 2.0
    assert cli_main([*args, "--min-length", "0", *base]) == 0
    assert json.loads((project / "calibration.json").read_text())["min_length"] == 0.0
    assert cli_main([*args, "--min-length", "2", *base]) == 0
    out = tmp_path / "out.json"
    assert cli_main(["infer", str(project), str(tmp_path / "ng"), "--json", str(out), *base]) == 0
    results = json.loads(out.read_text())["results"]
    assert all(r["verdict"] == "NG" and "mm long) >= length limit 2" in r["reason"] for r in results)
    assert all(r["regions"][0]["length_mm"] == pytest.approx(r["regions"][0]["length_px"] * 0.1) for r in results)
