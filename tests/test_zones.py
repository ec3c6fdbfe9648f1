"""Inspection zones (inference/zones.py): parts of the ROI with their own minimum defect area, kept by the
calibration, counted the same way by inspection and by calibration's FAR and FRR."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inference import (Calibration, CalibrationError, Circle, Engine, Rect, ZoneError, calibrate, zones_from_list,
                       zones_to_list)
from inference.scoring import find_regions, judge
from inference.synthetic import CENTRE, RADIUS, disc
from inference.zones import check_over_roi, load, zone_map
from inspector_cli.main import main as cli_main
from station import Station

from tiny_project import TINY_YAML
from verdict_levels import assert_level_is_where_judge_turns_ng, random_map

ROI = Circle(CENTRE[0], CENTRE[1], RADIUS)
# inference.synthetic's scratch runs from (52, 59-75) to (99, 80-96) in the 160 px disc image.
OVER_SCRATCH = {"name": "seal", "min_area": 0, "shape": {"type": "rect", "cx": 76, "cy": 77, "w": 60, "h": 46}}
AWAY = {"name": "rim", "min_area": 0, "shape": {"type": "rect", "cx": 80, "cy": 130, "w": 40, "h": 14}}


def _zones(*items):
    return zones_from_list([dict(z) for z in items])


# -- the rule ------------------------------------------------------------------------------------------------
def test_a_region_counts_by_its_shares_of_its_zones_limits():
    """A 10 x 10 px region: 60 px in zone a (limit 100), 40 px outside (limit 50). 0.6 + 0.8 >= 1: it counts,
    though neither part alone reaches its limit; with the rest's limit at 1000 (0.6 + 0.04) it does not."""
    m = np.zeros((20, 30), np.float32)
    m[5:15, 10:20] = 1.0
    mask = np.ones_like(m, bool)
    zones = _zones({"name": "a", "min_area": 100, "shape": {"type": "rect", "cx": 13, "cy": 10, "w": 6, "h": 20}})
    for rest, counts in ((50.0, True), (1000.0, False)):
        zmap = zone_map(zones, rest, (0, 0, 30, 20), m.shape, None)
        region, = find_regions(m, mask, 0.5, (0, 0, 30, 20), None, zmap)
        assert region.zones == {"rest": 40, "a": 60}
        assert region.zone_load == pytest.approx(0.6 + 40 / rest)
        verdict, marked, reason = judge(1.0, [region], 0.5, rest, zmap)
        assert marked[0].counts is counts and (verdict == "NG") is counts, reason
        assert ("60 px in a (limit 100)" in reason) if counts else ("0.64 of them" in reason)
        assert marked[0].to_dict()["zones"] == {"rest": 40, "a": 60}


def test_the_strictest_zone_takes_a_pixel_where_zones_overlap_and_a_limit_of_0_counts_any_pixel():
    zones = _zones({"name": "wide", "min_area": 5, "shape": {"type": "rect", "cx": 10, "cy": 10, "w": 20, "h": 20}},
                   {"name": "strict", "min_area": 0, "shape": {"type": "circle", "cx": 10, "cy": 10, "r": 3}})
    zmap = zone_map(zones, 100.0, (0, 0, 20, 20), (20, 20), None)
    assert zmap.labels[10, 10] == 2 and zmap.labels[1, 1] == 1 and zmap.names == ("rest", "wide", "strict")
    assert load(np.array([0, 0, 1]), zmap) == float("inf") and load(np.array([0, 4, 0]), zmap) == 0.8
    # In mm^2: a pixel of 0.1 mm is 0.01 mm^2.
    mm = zone_map(zones, 100.0, (0, 0, 20, 20), (20, 20), 0.1)
    assert load(np.array([0, 250, 0]), mm) == pytest.approx(0.5)


def test_zones_move_with_the_part():
    """A placement turning the part by 90 deg about (50, 50) and shifting it by (10, 0): a zone drawn on the
    taught image at (70, 50) lies at (60, 70) in this image."""
    zones = _zones({"name": "z", "min_area": 1, "shape": {"type": "circle", "cx": 70, "cy": 50, "r": 4}})
    turn = np.array([[0.0, -1.0, 110.0], [1.0, 0.0, 0.0]])  # (x, y) -> (110 - y, x): about (50, 50), then +10 x
    zmap = zone_map(zones, 1.0, (0, 0, 120, 100), (100, 120), None, turn)
    ys, xs = np.nonzero(zmap.labels == 1)
    assert (xs.mean() + 0.5, ys.mean() + 0.5) == pytest.approx((50.0 + 10, 70.0), abs=0.5)
    assert zone_map(zones, 1.0, (0, 0, 120, 100), (100, 120), None).labels[50, 70] == 1
    # An inspection asks only for its regions' pixels: the same labels as the whole box's, in the same order.
    selected = np.random.default_rng(0).random((100, 120)) < 0.3
    for placement in (turn, None):
        fresh = zone_map(zones, 1.0, (0, 0, 120, 100), (100, 120), None, placement)
        assert (fresh.labels_where(selected) == fresh.labels[selected]).all()


def test_verdict_level_is_exactly_where_judge_turns_ng_with_zones():
    """Random maps and zones: NG at threshold t exactly when t <= the level calibration counts on."""
    rng = np.random.default_rng(1)
    for trial in range(40):
        m, mask, score, mm = random_map(rng, trial)
        unit = 0.01 if mm else 1.0
        zones = _zones(*({"name": f"z{k}", "min_area": float(rng.integers(0, 40)) * unit,
                          "shape": {"type": "rect", "cx": float(rng.uniform(5, 45)), "cy": float(rng.uniform(5, 35)),
                                    "w": float(rng.uniform(4, 30)), "h": float(rng.uniform(4, 30))}}
                         for k in range(int(rng.integers(1, 4)))))
        rest = float(rng.integers(1, 80)) * unit
        zmap = zone_map(zones, rest, (0, 0, 50, 40), m.shape, mm)
        assert_level_is_where_judge_turns_ng(m, mask, score, rest, mm, zmap, every=4, what=trial)


@pytest.mark.parametrize("bad, match", [
    ({"name": "", "min_area": 1, "shape": AWAY["shape"]}, "needs a name"),
    ({"name": "rest", "min_area": 1, "shape": AWAY["shape"]}, "outside every zone"),
    ({"name": "a", "min_area": -1, "shape": AWAY["shape"]}, "min_area must be a finite number"),
    ({"name": "a", "min_area": "1", "shape": AWAY["shape"]}, "min_area must be a finite number"),
    ({"name": "a", "min_area": 1, "shape": {"type": "star"}}, "zone 'a': zone shape type must be one of"),
    ({"name": "a", "min_area": 1, "shape": AWAY["shape"], "limit": 3}, "unknown field"),
    ({"name": "x" * 65, "min_area": 1, "shape": AWAY["shape"]}, "at most 64"),
])
def test_a_bad_zone_is_named(bad, match):
    with pytest.raises(ZoneError, match=match):
        zones_from_list([bad])
    with pytest.raises(ZoneError, match="named twice"):
        zones_from_list([AWAY, AWAY])
    with pytest.raises(ZoneError, match="JSON list"):
        zones_from_list({"name": "a"})


def test_a_zone_off_the_roi_or_under_a_stricter_one_is_refused():
    check_over_roi(_zones(OVER_SCRATCH, AWAY), ROI)
    with pytest.raises(ZoneError, match="'far' cover no pixel of the ROI"):
        check_over_roi(_zones({"name": "far", "min_area": 1, "shape": {"type": "circle", "cx": 2, "cy": 2, "r": 1}}),
                       ROI)
    hidden = {"name": "hidden", "min_area": 5, "shape": {"type": "circle", "cx": 76, "cy": 77, "r": 5}}
    with pytest.raises(ZoneError, match="'hidden'"):
        check_over_roi(_zones(OVER_SCRATCH, hidden), ROI)


def test_a_calibration_keeps_its_zones_and_refuses_bad_ones():
    cal = calibrate([1.0, 2.0, 3.0], [], 99.0, 5.0)
    cal.zones = zones_to_list(_zones(OVER_SCRATCH))
    again = Calibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert again.zones == cal.zones and again.zone_list[0].name == "seal" and again.zone_list[0].min_area == 0.0
    assert again.min_area_text == "5 elsewhere (zones: seal 0)"
    assert Calibration.from_dict({k: v for k, v in cal.to_dict().items() if k != "zones"}).zones == []
    broken = dict(cal.to_dict(), zones=[{"name": "seal", "min_area": float("nan"), "shape": OVER_SCRATCH["shape"]}])
    with pytest.raises(CalibrationError, match="calibration's zones: zone 'seal'"):
        Calibration.from_dict(broken)
    # A calibration made by a later version with a rule this one does not apply gives no verdict, never a laxer one.
    assert Calibration.from_dict(dict(cal.to_dict(), requires=["zones", "min_length"])).requires == ["zones",
                                                                                                    "min_length"]
    with pytest.raises(CalibrationError, match="judges with zone_sensitivity, which this version"):
        Calibration.from_dict(dict(cal.to_dict(), requires=["zones", "zone_sensitivity"]))


# -- on a model -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scored(tiny_config, tmp_path_factory):
    """A disc model and its calibration images scored once: 5 OK, 3 scratched."""
    engine = Engine(tiny_config)
    model = engine.fit(tmp_path_factory.mktemp("zones") / "p", [disc(i)[0] for i in range(6)], roi=ROI).model
    samples = engine.calibration_samples(model, [disc(20 + i)[0] for i in range(5)],
                                         [disc(40 + i, scratch=True)[0] for i in range(3)])
    return engine, model, samples


def test_a_zone_catches_a_defect_the_area_limit_lets_through(scored):
    """With the rest's limit above any region, no scratch is NG; a zone over the scratch with its own limit of
    0 makes each NG there, in calibration's FAR and in inspection alike. With any zones, what calibration counted
    is what inspection does, image by image."""
    engine, model, samples = scored
    huge = float(ROI.area()) * 2
    plain = engine.calibration_from(model, samples, min_area=huge)
    assert plain.far == 1.0 and "no region as large" in " ".join(_warnings(plain))
    cal = engine.calibration_from(model, samples, min_area=huge, zones=_zones(OVER_SCRATCH))
    assert cal.zones == [OVER_SCRATCH | {"shape": dict(OVER_SCRATCH["shape"], angle_deg=0.0), "min_area": 0.0}]
    assert cal.far == 0.0, (cal.ng_levels, cal.threshold)
    judged = model.with_calibration(cal)
    results = engine.score_many(judged, [disc(60 + i, scratch=True)[0] for i in range(3)])
    assert all(r.verdict == "NG" for r in results), [r.reason for r in results]
    region = results[0].regions[results[0].ng_regions[0]]
    assert region.zones["seal"] > 0 and region.zone_load == float("inf")
    assert "in seal (limit 0)" in results[0].reason
    half = {"name": "half", "min_area": 400, "shape": {"type": "rect", "cx": 50, "cy": 80, "w": 60, "h": 120}}
    for zones in (_zones(OVER_SCRATCH), _zones(AWAY), _zones(half, AWAY)):
        cal = engine.calibration_from(model, samples, min_area=300, zones=zones)
        assert cal.requires == ["zones"]
        judged = model.with_calibration(cal)
        for r, level in zip(engine.score_many(judged, [disc(40 + i, scratch=True)[0] for i in range(3)]),
                            cal.ng_levels):
            assert (r.verdict == "NG") == (cal.threshold <= level), (r.reason, level)


def test_a_calibration_with_a_rule_this_version_does_not_apply_gives_no_verdict(scored, tmp_path):
    """A calibration.json as a later version would write it, with a rule this one does not know, sealed into its
    model as the project writer seals it: this version says why and judges nothing (it never writes one)."""
    import shutil

    from inference import read_manifest
    from inference.project import json_bytes
    from inference.project_files import MANIFEST, sha256_bytes

    engine, model, samples = scored
    copy = tmp_path / "later"
    shutil.copytree(model.folder, copy)
    engine.save_calibration(engine.load(copy), engine.calibration_from(model, samples, zones=_zones(OVER_SCRATCH)))
    raw = json.loads((copy / "calibration.json").read_text())
    assert raw["requires"] == ["zones"]
    data = json_bytes(dict(raw, requires=["zones", "zone_sensitivity"]))
    (copy / "calibration.json").write_bytes(data)
    manifest = read_manifest(copy)
    manifest["files"]["calibration.json"] = sha256_bytes(data)
    (copy / MANIFEST).write_bytes(json_bytes(manifest))
    loaded = engine.load(copy)
    assert loaded.calibration is None and "judges with zone_sensitivity" in loaded.calibration_note
    r = engine.infer(loaded, disc(70, scratch=True)[0])
    assert r.verdict == "NO_VERDICT" and "zone_sensitivity" in r.reason
    with pytest.raises(CalibrationError, match="zone_sensitivity"):  # nor does this version write one
        engine.save_calibration(loaded, Calibration.from_dict(dict(raw, requires=["zone_sensitivity"])))


def _warnings(cal):
    from inference import calibration_warnings
    return calibration_warnings(cal)


def test_zones_are_kept_across_calibrations_and_audited(tiny_config, tmp_path):
    """The CLI's --zones sets them; a calibration without --zones keeps them, a refit's too; --zones '[]' clears
    them; each change is an audit row with the old and new zones."""
    project = tmp_path / "p"
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY_YAML)
    ok, ng = tmp_path / "ok", tmp_path / "ng"
    from inference.synthetic import write_discs
    write_discs(ok, range(5))
    held = write_discs(tmp_path / "held", range(20, 26))
    write_discs(ng, range(40, 43), scratch=True)
    base = ["--config", str(config)]
    roi = json.dumps({"type": "circle", "cx": CENTRE[0], "cy": CENTRE[1], "r": RADIUS})
    assert cli_main(["fit", str(project), "--ok", str(ok), "--roi", roi, *base]) == 0
    zones_file = tmp_path / "zones.json"
    zones_file.write_text(json.dumps([OVER_SCRATCH]))
    calibrate_args = ["calibrate", str(project), "--ok", *map(str, held), "--ng", str(ng), "--min-area", "100000"]
    assert cli_main([*calibrate_args, "--zones", str(zones_file), *base]) == 0
    with Station(project, config=Engine(tiny_config).config) as station:
        assert station.model().calibration.zones == zones_to_list(_zones(OVER_SCRATCH))
    # The NG parts the line inspected, counted by the zone of their largest defect (a Pareto of where it fails).
    assert cli_main(["infer", str(project), str(ng), *map(str, held[:2]), *base]) == 0
    by_zone = tmp_path / "by_zone.json"
    assert cli_main(["history", str(project), "--by", "zone", "--json", str(by_zone)]) == 0
    assert json.loads(by_zone.read_text()) == [{"zone": "seal", "NG": 3, "share": 1.0}]
    assert cli_main([*calibrate_args, *base]) == 0  # kept
    with Station(project, config=Engine(tiny_config).config) as station:
        assert station.model().calibration.zone_list[0].name == "seal"
        rows = [r for r in station.audit() if r["action"] == "calibrate"]
        assert "zones" not in rows[0]["old"] and rows[0]["new"]["zones"][0]["name"] == "seal"
        assert rows[1]["old"]["zones"] == rows[1]["new"]["zones"]
    # A refit is staged; its first calibration takes the zones the line inspects with.
    assert cli_main(["fit", str(project), "--ok", str(ok), "--roi", roi, *base]) == 0
    assert cli_main([*calibrate_args, *base]) == 0
    with Station(project, config=Engine(tiny_config).config) as station:
        model = station.model()
        assert model.record.n_images == 5 and model.version == "v5" and model.calibration.zone_list[0].name == "seal"
    assert cli_main([*calibrate_args, "--zones", "[]", *base]) == 0  # cleared
    with Station(project, config=Engine(tiny_config).config) as station:
        assert station.model().calibration.zones == []
    # A bad zones file: one line naming it, exit 2, nothing saved.
    zones_file.write_text(json.dumps([dict(OVER_SCRATCH, min_area=-2)]))
    versions = sorted(p.name for p in (project / "versions").iterdir())
    assert cli_main([*calibrate_args, "--zones", str(zones_file), *base]) == 2
    assert sorted(p.name for p in (project / "versions").iterdir()) == versions


def test_a_zone_drawn_on_rect_coordinates_round_trips():
    z = _zones({"name": "r", "min_area": 2.5, "shape": {"type": "rect", "cx": 5, "cy": 6, "w": 7, "h": 8,
                                                          "angle_deg": 30}})[0]
    assert z.shape == Rect(5, 6, 7, 8, 30) and zones_from_list(zones_to_list([z])) == (z,)
