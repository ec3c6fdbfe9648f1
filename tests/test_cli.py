"""The `inspector` CLI end to end, in-process, on synthetic PNGs with a tiny random backbone."""

import base64
import json

import pytest

from inspector_cli.main import main
from inference.synthetic import CENTRE, RADIUS, write_discs
from tiny_project import TINY_YAML

ROI = json.dumps({"type": "circle", "cx": CENTRE[0], "cy": CENTRE[1], "r": RADIUS})


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    (root / "tiny.yaml").write_text(TINY_YAML)
    write_discs(root / "ok", range(6))
    write_discs(root / "cal", range(10, 14))
    write_discs(root / "ng", [50, 51], scratch=True)
    cfg = ["--config", str(root / "tiny.yaml")]
    assert main(["fit", str(root / "proj"), "--ok", str(root / "ok"), "--roi", ROI, "--mm-per-px", "0.05", *cfg]) == 0
    return root, cfg


def _snapshot(folder):
    """The project's files, less the inspection history (a log: a failed inspection is its ERROR row)."""
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.name.startswith("history.")}


def test_fit_calibrate_infer_info(setup, capsys):
    root, cfg = setup
    proj = str(root / "proj")
    capsys.readouterr()
    assert main(["calibrate", proj, "--ok", str(root / "cal"), "--ng", str(root / "ng"), "--json", "-", *cfg]) == 0
    cal = json.loads(capsys.readouterr().out)
    assert cal["method"] == "ok_ng" and cal["n_ok"] == 4 and cal["n_ng"] == 2 and cal["far"] == 0.0
    assert cal["far_upper_95"] == pytest.approx(1 - 0.05 ** (1 / 2))  # 2 NG images show little
    assert main(["calibrate", proj, "--ok", str(root / "cal"), "--ng", str(root / "ng"), *cfg]) == 0
    assert "At 95% confidence, false reject at most 53% and false accept at most 78% on the line's parts; 59 " \
        "images of a kind, none misjudged, show a rate under 5%." in capsys.readouterr().out.splitlines()

    out = root / "results.json"
    heat = root / "heat"
    assert main(["infer", proj, str(root / "ng"), str(root / "cal" / "ok_010.png"), "--json", str(out),
                 "--heatmaps", str(heat), *cfg]) == 0
    data = json.loads(out.read_text())
    verdicts = {r["name"].split("/")[-1]: r["verdict"] for r in data["results"]}
    assert verdicts == {"ng_050.png": "NG", "ng_051.png": "NG", "ok_010.png": "OK"}
    png = base64.b64decode(data["results"][0]["heatmap_png_base64"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in heat.iterdir()) == ["ng_050_heatmap.png", "ng_051_heatmap.png",
                                                      "ok_010_heatmap.png"]
    assert data["results"][0]["regions"][0]["area_mm2"] > 0

    assert main(["infer", proj, str(root / "ng"), "--fail-on-ng", *cfg]) == 1
    capsys.readouterr()
    assert main(["info", proj]) == 0
    text = capsys.readouterr().out
    assert "RANDOM" in text and "circle" in text and "threshold" in text
    assert "index auto: flat)" in text  # what auto picked for this small coreset, read from the index itself
    assert "map          smoothed sigma 4 px\n" in text  # the product's default: the smoothed map is shown
    assert "rates        on its images: false reject 0.0% of 4 OK, false accept 0.0% of 2 NG\n" \
        "             At 95% confidence, false reject at most 53% and false accept at most 78%" in text
    assert main(["info", proj, "--json", "-"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["index"] == "flat" and info["calibration"]["frr_upper_95"] == pytest.approx(1 - 0.05 ** (1 / 4))


def test_add_more_images(setup, capsys):
    root, cfg = setup
    extra = write_discs(root / "more", [20, 21])
    proj = root / "proj_add"
    assert main(["fit", str(proj), "--ok", str(root / "ok"), "--roi", ROI, *cfg]) == 0
    capsys.readouterr()
    assert main(["fit", str(proj), "--ok", *map(str, extra), "--add", "--json", "-", *cfg]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_images"] == 8 and summary["weights"]["source"] == "random"
    assert json.loads((proj / "manifest.json").read_text())["n_images"] == 8


def test_set_overrides_the_config_file_for_one_command(setup, capsys):
    root, cfg = setup
    proj = root / "proj_set"
    assert main(["fit", str(proj), "--ok", str(root / "ok"), "--roi", ROI, *cfg, "--set", "part_symmetry=rot180",
                 "--set", "coreset_ratio=0.5", "--json", "-"]) == 0
    capsys.readouterr()
    saved = json.loads((proj / "manifest.json").read_text())["config"]
    assert saved["part_symmetry"] == "rot180" and saved["coreset_ratio"] == 0.5
    assert "coreset_ratio: 0.25" in TINY_YAML  # the config file said another, and --set went over it


@pytest.mark.parametrize("make_args, words", [
    (lambda r, p: ["infer", p, str(r / "zero.png")], "empty"),
    (lambda r, p: ["infer", p, str(r / "text.png")], "cannot read image"),
    (lambda r, p: ["infer", p, str(r / "missing.png")], "not found"),
    (lambda r, p: ["fit", p, "--ok", str(r / "emptydir")], "holds no images"),
    (lambda r, p: ["fit", p, "--ok", str(r / "ok"), "--roi", '{"type": "circle", "cx": 10, "cy": 10, "r": 50}'],
     "outside"),
    (lambda r, p: ["fit", p, "--ok", str(r / "ok"), "--roi", '{"type": "annulus", "cx": 80, "cy": 80, '
                   '"r_inner": 50, "r_outer": 40}'], "smaller than the outer"),
    (lambda r, p: ["fit", p, "--ok", str(r / "ok"), "--roi", "{not json"], "JSON"),
    (lambda r, p: ["fit", p, "--ok", str(r / "small.png")], None),
    (lambda r, p: ["calibrate", p, "--ok", str(r / "zero.png")], "empty"),
    (lambda r, p: ["info", str(r / "nowhere")], "not found"),
    (lambda r, p: ["fit", p, "--ok", str(r / "ok"), "--set", "part_symetry=turns"], "'part_symetry' is no setting"),
    (lambda r, p: ["fit", p, "--ok", str(r / "ok"), "--set", "part_symmetry=sideways"], "must be one of"),
    (lambda r, p: ["infer", p, str(r / "ok"), "--set", "runtime"], "--set needs KEY=VALUE"),
])
def test_bad_input_exits_2_with_one_line_and_changes_nothing(setup, capsys, make_args, words):
    root, cfg = setup
    (root / "zero.png").write_bytes(b"")
    (root / "text.png").write_text("hello")
    (root / "emptydir").mkdir(exist_ok=True)
    import numpy as np
    from PIL import Image

    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(root / "small.png")
    proj = root / "proj"
    before = _snapshot(proj)
    capsys.readouterr()
    args = make_args(root, str(proj)) + cfg
    if words is None:  # a 40 px image with the project's ROI: only bad when the ROI is reused
        args = ["fit", str(proj), "--ok", str(root / "small.png"), "--roi", ROI, *cfg]
        words = "outside"
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("inspector: error:") and words in err and "\n" not in err
    assert _snapshot(proj) == before


def test_damaged_projects_exit_2(setup, tmp_path, capsys):
    import shutil

    root, cfg = setup
    proj = tmp_path / "copy"
    shutil.copytree(root / "proj", proj)
    data = (proj / "coreset.faiss").read_bytes()
    (proj / "coreset.faiss").write_bytes(data[: len(data) // 2])
    assert main(["infer", str(proj), str(root / "ok"), *cfg]) == 2
    assert "coreset.faiss" in capsys.readouterr().err
    (proj / "coreset.faiss").unlink()
    assert main(["infer", str(proj), str(root / "ok"), *cfg]) == 2
    assert "missing" in capsys.readouterr().err
    manifest = json.loads((proj / "manifest.json").read_text())
    manifest["schema_version"] = 99
    (proj / "manifest.json").write_text(json.dumps(manifest))
    assert main(["info", str(proj)]) == 2
    assert "newer version" in capsys.readouterr().err


def test_help_for_every_command(capsys):
    for cmd in ("fit", "infer", "calibrate", "info"):
        with pytest.raises(SystemExit) as exc:
            main([cmd, "--help"])
        assert exc.value.code == 0 and "--json" in capsys.readouterr().out


def test_a_recalibration_keeps_the_score_percentile_it_was_given(setup, capsys):
    """As the acceptance limits: a percentile typed once is the line's, not reset to the config's by the next
    calibration with new OK images, nor by the calibration of a refit (kept from the active version)."""
    import numpy as np

    root, cfg = setup
    proj = root / "proj_percentile"
    assert main(["fit", str(proj), "--ok", str(root / "ok"), "--roi", ROI, *cfg]) == 0
    calibrate = ["calibrate", str(proj), "--ok", str(root / "cal"), *cfg]
    assert main([*calibrate, "--score-percentile", "50"]) == 0

    def saved():
        return json.loads((proj / "calibration.json").read_text())

    first = saved()
    assert first["score_percentile"] == 50.0
    assert first["threshold"] == pytest.approx(np.percentile(first["ok_levels"], 50))
    assert main(calibrate) == 0
    assert saved()["score_percentile"] == 50.0 and saved()["threshold"] == pytest.approx(first["threshold"])
    assert main(["fit", str(proj), "--ok", str(root / "ok"), "--roi", ROI, *cfg]) == 0  # staged
    assert main(calibrate) == 0
    assert saved()["score_percentile"] == 50.0
    assert main([*calibrate, "--score-percentile", "100"]) == 0
    assert saved()["score_percentile"] == 100.0 and saved()["frr"] == 0.0
