"""The station layer (issue 19): one use case per job for every client, numbers that tell the truth, versions
with rollback, the audit trail, and every inspection a history row."""

import json

import numpy as np
import pytest

from inference import Engine, Verdict, VerdictCounts, list_versions, read_record
from inference.synthetic import disc, write_discs
from inspector_cli.main import main
from station import Station
from tiny_project import TINY_YAML


@pytest.fixture
def station(tiny_config, tmp_path):
    """A fitted, not yet calibrated project."""
    st = Station(tmp_path / "p", Engine(tiny_config))
    st.teach([disc(i)[0] for i in range(6)])
    yield st
    st.close()


def test_calibration_reports_what_the_verdict_rule_does(station):
    """curl example 5: with a minimum area, a defect whose region is too small passes inspection, so the
    calibration must count it as an escape (the scores alone said FAR 0). For several area limits, the FAR and
    FRR the saved calibration reports are those the inspection of its own images then gives."""
    ok = [disc(20 + i)[0] for i in range(6)]
    ng = [disc(40 + i, True)[0] for i in range(3)]
    scores_only = station.engine.calibrate(station.model(), ok, ng, min_area=0.0)
    assert scores_only.far == 0.0  # every NG image out-scores every OK one
    model = station.model()
    areas = sorted(r.area_px for image in ng for r in station.engine.infer(model, image).regions[:1])
    for min_area in (0.0, float(np.median(areas)), 10.0 * max(areas)):
        cal = station.calibrate(ok, ng, min_area=min_area).calibration
        inspected = station.model()
        ng_verdicts = [station.engine.infer(inspected, image).verdict for image in ng]
        ok_verdicts = [station.engine.infer(inspected, image).verdict for image in ok]
        assert cal.far == ng_verdicts.count(Verdict.OK) / len(ng), (min_area, ng_verdicts)
        assert cal.frr == ok_verdicts.count(Verdict.NG) / len(ok), (min_area, ok_verdicts)
    assert cal.far == 1.0 and "no region as large as the minimum area" in cal.warning  # the huge limit


def test_calibration_method_is_the_engines_in_every_client(tiny_config, tmp_path):
    """calibration_method: mad took effect in the CLI only; now the station (service, GUI, CLI) applies it."""
    st = Station(tmp_path / "p", Engine(tiny_config.replace(calibration_method="mad")))
    st.teach([disc(i)[0] for i in range(4)])
    done = st.calibrate([disc(20 + i)[0] for i in range(6)])
    assert done.calibration.method == "ok_only_mad"
    model, samples = st.calibration_samples([disc(20 + i)[0] for i in range(6)])
    assert st.calibration_from(model, samples).method == "ok_only_mad"  # what the GUI's dialog shows


def test_untrustworthy_calibrations_warn_and_name_taught_images(station, tmp_path):
    one = station.calibrate([disc(30)[0]]).calibration
    assert "only 1 ok image" in one.warning.lower() and "rejects 100% of its own OK images" in one.warning
    taught = write_discs(tmp_path / "taught", range(3))
    st = Station(tmp_path / "q", station.engine)
    st.teach(taught)
    cal = st.calibrate(taught + [disc(50 + i)[0] for i in range(4)]).calibration
    assert cal.taught_images == [str(p) for p in taught]
    assert "3 OK image(s) were also taught" in cal.warning and str(taught[0]) in cal.warning
    good = st.calibrate([disc(60 + i)[0] for i in range(8)], [disc(70, True)[0]]).calibration
    assert good.warning == "" and good.taught_images == []


def test_refit_keeps_the_calibrated_version_inspecting_and_rollback_returns(station):
    first = station.calibrate([disc(20 + i)[0] for i in range(6)], [disc(40, True)[0]])
    assert first.active and station.model().version == first.version
    refit = station.teach([disc(i)[0] for i in range(6, 12)], note="new batch")
    assert refit.active is False and station.model().version == first.version  # the line keeps its verdicts
    assert station.engine.infer(station.model(), disc(41, True)[0]).verdict == "NG"
    added = station.add([disc(12)[0]])  # add extends the active model, staged too
    assert added.active is False and added.record.n_images == 7
    calibrated = station.calibrate([disc(20 + i)[0] for i in range(6)], [disc(40, True)[0]])
    assert calibrated.version == "v5" and station.model().version == "v5"  # the staged add, calibrated
    station.activate(first.version, note="back to the known one")
    assert station.model().version == first.version
    actions = [(row["action"], row["version"]) for row in station.audit()]
    assert actions == [("fit", "v1"), ("calibrate", "v2"), ("fit", "v3"), ("add", "v4"), ("calibrate", "v5"),
                       ("rollback", "v2")]
    assert station.audit()[-1]["note"] == "back to the known one" and station.audit()[-1]["old"] == {"version": "v5"}
    assert [v.version for v in station.versions() if v.active] == ["v2"]


def test_versions_are_kept_up_to_the_limit_never_the_active_one(tiny_config, tmp_path):
    st = Station(tmp_path / "p", Engine(tiny_config.replace(versions_kept=3)))
    st.teach([disc(i)[0] for i in range(3)])
    st.calibrate([disc(20 + i)[0] for i in range(5)])  # v2, active
    for k in range(3):
        st.teach([disc(i)[0] for i in range(k, k + 3)])  # staged v3, v4, v5
    # The 3 newest, and the active one, which is never removed.
    assert [v.version for v in st.versions()] == ["v2", "v3", "v4", "v5"]
    assert st.model().version == "v2"


def test_fit_add_keeps_what_backbone_auto_chose(tmp_path):
    """`fit --add` dropped backbone.chosen, so the window called the model stale after teaching back."""
    from inference import EngineConfig

    auto = EngineConfig(backbone="auto", weights="none", input_size=112, coreset_ratio=0.25, batch_size=8,
                        backbone_kwargs={"depth": 2})
    st = Station(tmp_path / "p", Engine(auto))
    fitted = st.teach([disc(i)[0] for i in range(3)])
    chosen = fitted.record.backbone.chosen
    assert chosen
    added = st.add([disc(5)[0]], config=auto)
    assert added.record.backbone.chosen == chosen
    assert added.record.changed_settings(auto) == []


def test_one_bad_image_is_an_error_outcome_and_its_neighbours_are_inspected(station, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    outcomes = list(station.inspect([disc(1)[0], bad, disc(2)[0]], part_ids=["A1", "A2", "A3"], source="test"))
    assert [o.verdict for o in outcomes] == ["NO_VERDICT", "ERROR", "NO_VERDICT"]
    assert outcomes[1].score is None and "cannot read image" in outcomes[1].reason
    rows = station.history.query(descending=False)
    assert [(r.part_id, r.verdict, r.model_version) for r in rows] == [
        ("A1", "NO_VERDICT", "v1"), ("A2", "ERROR", "v1"), ("A3", "NO_VERDICT", "v1")]


def test_not_found_is_a_verdict_without_a_score_and_the_history_keeps_it(tiny_cnn_config, tmp_path):
    from inference.synthetic import moved_part

    size = 320
    st = Station(tmp_path / "p", Engine(tiny_cnn_config.replace(align="rigid")))
    st.teach([moved_part(0, size=size)[0], moved_part(1, 10, 5, 20, size=size)[0]])
    empty, _ = moved_part(600, present=False, size=size)  # no part in view
    outcomes = list(st.inspect([empty, moved_part(3, 5, 5, 10, size=size)[0]]))
    assert outcomes[0].verdict == "NOT_FOUND" and outcomes[0].score is None
    assert outcomes[1].verdict == "NO_VERDICT" and outcomes[1].score is not None
    assert [r.verdict for r in st.history.query(descending=False)] == ["NOT_FOUND", "NO_VERDICT"]
    st.close()


def test_the_clients_count_the_same_way(station, tmp_path, capsys):
    """The CLI's summary, the history's counts and the service's counts are one VerdictCounts."""
    station.calibrate([disc(20 + i)[0] for i in range(6)], [disc(40, True)[0]])
    images = write_discs(tmp_path / "in", range(60, 63)) + write_discs(tmp_path / "ng", [70, 71], scratch=True)
    bad = tmp_path / "in" / "bad.png"
    bad.write_bytes(b"junk")
    (tmp_path / "tiny.yaml").write_text(TINY_YAML.replace("coreset_ratio: 0.25", "coreset_ratio: 0.25\n  batch_size: 8"))
    capsys.readouterr()
    rc = main(["infer", str(station.project), *map(str, images), str(bad), "--config", str(tmp_path / "tiny.yaml")])
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 2  # one image could not be inspected; the others were
    counts = station.history.counts()
    expected = VerdictCounts.of(line.split()[0] for line in out[:-1])
    assert counts == expected and counts.error == 1 and counts.total == 6
    assert out[-1] == counts.summary() and counts.yield_fraction == counts.ok / (counts.ok + counts.ng)


def test_versions_activate_audit_from_the_cli(station, capsys):
    proj = str(station.project)
    station.calibrate([disc(20 + i)[0] for i in range(6)])
    capsys.readouterr()
    assert main(["versions", proj, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(v["version"], v["action"], v["active"]) for v in listed] == [("v1", "fit", False),
                                                                         ("v2", "calibrate", True)]
    assert listed[1]["calibration"]["frr"] is not None and listed[1]["based_on"] == "v1"
    assert main(["activate", proj, "v1", "--note", "why not"]) == 0
    assert "not calibrated" in capsys.readouterr().out  # said, since the line now gets no verdict
    assert read_record(station.project).model_id == listed[0]["model_id"]
    assert main(["audit", proj, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[-1]["action"] == "rollback" and rows[-1]["note"] == "why not" and rows[-1]["who"]
    assert main(["activate", proj, "v9"]) == 2
    assert "no version v9" in capsys.readouterr().err


def test_the_version_list_marks_a_calibration_with_a_warning(station, capsys):
    proj = str(station.project)
    quiet = station.calibrate([disc(20 + i)[0] for i in range(6)])
    warned = station.calibrate([disc(30 + i)[0] for i in range(2)])  # 2 OK images: not to be trusted as it stands
    assert not quiet.calibration.warning and "Only 2 OK image(s)" in warned.calibration.warning
    capsys.readouterr()
    assert main(["versions", proj]) == 0
    rows = {line[2:10].strip(): line for line in capsys.readouterr().out.splitlines() if line[2:3] == "v"}
    assert "!" in rows[warned.version] and "!" not in rows[quiet.version]


def test_a_project_of_an_earlier_version_opens_as_v1(station):
    """Projects saved before versions existed: no versions folder; they list as v1 and become v1 at the
    first write."""
    import shutil

    folder = station.project
    shutil.rmtree(folder / "versions")
    (folder / "active_version.json").unlink()
    assert [(v.version, v.action, v.active) for v in list_versions(folder)] == [("v1", "import", True)]
    assert station.model().version == "v1"
    done = station.calibrate([disc(20 + i)[0] for i in range(6)])
    assert done.version == "v2" and [v.version for v in list_versions(folder)] == ["v1", "v2"]
    assert list_versions(folder)[0].action == "import"


def test_an_image_of_the_wrong_size_is_named_and_told_what_to_do(tiny_config, tmp_path):
    """Walkthrough fault 3: the error named "<array 0>" and advised moving the ROI for an image of another
    size; every client shows the station's words."""
    from inference import Circle

    st = Station(tmp_path / "p", Engine(tiny_config))
    st.teach([disc(i)[0] for i in range(3)], roi=Circle(80.0, 80.0, 60.0))
    small = disc(5)[0][:100, :100]
    (outcome,) = st.inspect([small], names=["upload_17.png"])
    assert outcome.verdict == "ERROR" and "upload_17.png is 100 x 100 px" in outcome.reason
    assert "<array" not in outcome.reason and "same camera setup" in outcome.reason
    assert st.history.query()[0].file_name == "upload_17.png"
    st.close()


def test_regions_on_the_roi_edge_are_marked_and_said(tiny_config, tmp_path):
    """Walkthrough fault 13: an NG made only by regions on the ROI's border says so."""
    from inference.scoring import find_regions, judge

    amap = np.zeros((40, 40), np.float32)
    amap[0:4, 10:20] = 5.0  # on the top border of the shape
    mask = np.ones_like(amap, bool)
    regions = find_regions(amap, mask, 1.0, (0, 0, 40, 40), None)
    assert [r.on_edge for r in regions] == [True] and regions[0].to_dict()["on_edge"] is True
    verdict, _, reason = judge(5.0, regions, 1.0, 0.0)
    assert verdict == "NG" and "ROI's edge" in reason
    amap[:] = 0
    amap[15:20, 15:20] = 5.0  # inside
    verdict, _, reason = judge(5.0, find_regions(amap, mask, 1.0, (0, 0, 40, 40), None), 1.0, 0.0)
    assert verdict == "NG" and "edge" not in reason


def test_teach_back_takes_a_marked_parts_image_from_where_it_was_inspected(station, tmp_path):
    """The review use case: a false reject a reviewer marked is taught into the model from its image. Without an
    archive that is the file in the watched folder (before, the row's bare file name was looked up in the
    working directory, and teaching back refused every such row)."""
    import cv2

    folder = tmp_path / "inbox"
    folder.mkdir()
    for i in (1, 2):
        cv2.imwrite(str(folder / f"p{i}.png"), disc(60 + i)[0][..., ::-1])
    # As the run mode records a watched folder's part: the folder as the source, the file's bare name.
    outcomes = list(station.inspect([folder / "p1.png", folder / "p2.png"], names=["p1.png", "p2.png"],
                                    source=str(folder)))
    for outcome in outcomes:
        station.mark(outcome.row_id, "false_reject")
    before = station.model()
    result = station.teach_back([o.row_id for o in outcomes])
    assert result.n_images == 6 + 2 and result.version != before.version
    (folder / "p1.png").unlink()
    with pytest.raises(Exception, match="no longer at"):
        station.teach_back([outcomes[0].row_id])
