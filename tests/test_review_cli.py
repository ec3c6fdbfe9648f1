"""The reviewer's loop on a PC without the window: `inspector history --mark`, then `inspector fit --false-rejects`
teaches the marked images back and `inspector calibrate --marked` calibrates with them (station/review.py)."""

import json

from inference.synthetic import write_discs
from inspector_cli.main import main
from station.history import History
from tiny_project import TINY_YAML


def _fit(argv, capsys) -> dict:
    capsys.readouterr()
    assert main(argv + ["--json", "-"]) == 0
    return json.loads(capsys.readouterr().out)  # nothing else on stdout: the summary line stays out of the JSON


def test_false_rejects_are_taught_back_once_and_marked_images_calibrate(tmp_path, capsys):
    (tmp_path / "tiny.yaml").write_text(TINY_YAML)
    write_discs(tmp_path / "ok", range(6))
    write_discs(tmp_path / "cal", range(10, 14))
    write_discs(tmp_path / "ng", [50, 51], scratch=True)
    write_discs(tmp_path / "line", [60, 61])
    write_discs(tmp_path / "line", [70], scratch=True)
    proj, cfg = str(tmp_path / "proj"), ["--config", str(tmp_path / "tiny.yaml")]
    assert main(["fit", proj, "--ok", str(tmp_path / "ok"), *cfg]) == 0
    assert main(["calibrate", proj, "--ok", str(tmp_path / "cal"), "--ng", str(tmp_path / "ng"), *cfg]) == 0
    assert main(["infer", proj, str(tmp_path / "line"), *cfg]) == 0
    with History(tmp_path / "proj" / "history.sqlite") as history:
        rows = {r.file_name.rsplit("/", 1)[-1]: r for r in history.query()}
    assert rows["ng_070.png"].verdict.value == "NG" and rows["ok_060.png"].verdict.value == "OK"

    capsys.readouterr()
    assert main(["fit", proj, "--false-rejects", *cfg]) == 2  # nothing marked yet: one line, nothing taught
    assert "no image to teach: 0 image(s) marked false reject" in capsys.readouterr().err
    # The reviewer: the NG part was a good one after all (twice marked, e.g. by two people: one image), and one OK
    # part was not.
    assert main(["history", proj, "--mark", str(rows["ng_070.png"].id), "false_reject"]) == 0
    assert main(["history", proj, "--mark", str(rows["ng_070.png"].id), "false_reject"]) == 0
    assert main(["history", proj, "--mark", str(rows["ok_061.png"].id), "false_accept"]) == 0

    taught = _fit(["fit", proj, "--false-rejects", *cfg], capsys)
    assert taught["n_images"] == 7 and taught["active"] is False  # staged: the calibrated version inspects on
    cal = _fit(["calibrate", proj, "--ok", str(tmp_path / "cal"), "--marked", *cfg], capsys)
    # The false reject is taught into the version calibrated, so it is no OK calibration image; the false accept
    # joins the NG images.
    assert (cal["n_ok"], cal["n_ng"]) == (4, 1) and cal["version"] == "v4"
    capsys.readouterr()
    assert main(["fit", proj, "--false-rejects", *cfg]) == 2
    assert "0 image(s) marked false reject (1 taught already)" in capsys.readouterr().err
