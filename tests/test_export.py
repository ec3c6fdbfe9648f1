"""`inspector export PROJECT OUT` and `inspector infer OUT IMAGES` in a Python where torch and timm cannot be
imported: the same verdicts and scores as the full install inspecting the project."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("openvino")

from edge_helpers import blocked_env, make_export  # noqa: E402
from inspector_cli.main import main  # noqa: E402


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    return root, make_export(root)


def _results(path: Path) -> list[dict]:
    data = json.loads(path.read_text())
    return data["results"] if isinstance(data, dict) else data


def _scores(path: Path) -> list[tuple]:
    return [(Path(r["name"]).name, r["verdict"], r["score"]) for r in _results(path)]


def test_an_export_inspects_without_torch_like_the_full_install(exported, tmp_path):
    root, cfg = exported
    out = root / "out"
    assert sorted(p.name for p in (out / "openvino").iterdir()) == ["features.bin", "features.xml"]
    assert {"export.json", "manifest.json", "calibration.json", "coreset.faiss"} <= {p.name for p in out.iterdir()}
    images = [str(root / "ng"), str(root / "cal")]
    full = tmp_path / "full.json"
    assert main(["infer", str(root / "proj"), *images, "--json", str(full), *cfg]) == 0  # torch, fp32

    edge = tmp_path / "edge.json"
    code = ("import sys; from inspector_cli.entry import main; rc = main(sys.argv[1:]); "
            "assert not [m for m in sys.modules if m.split('.')[0] in ('torch', 'timm')]; sys.exit(rc)")
    env = {**blocked_env(tmp_path / "blocker"), "PATCHCORE_PRECISION": "fp32"}
    run = subprocess.run([sys.executable, "-c", code, "infer", str(out), *images, "--json", str(edge), *cfg],
                         env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr
    probe = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "blocked" in probe.stderr  # the blocker really blocks

    want, got = _scores(full), _scores(edge)
    assert [(n, v) for n, v, _ in got] == [(n, v) for n, v, _ in want]
    assert {v for _, v, _ in want} == {"OK", "NG"}
    for (_, _, a), (_, _, b) in zip(got, want):
        assert a == pytest.approx(b, rel=1e-4)
    # The regions (from the map shown): as many, each with the project's area.
    want_regions = [[r["area_px"] for r in res["regions"]] for res in _results(full)]
    got_regions = [[r["area_px"] for r in res["regions"]] for res in _results(edge)]
    assert any(want_regions)
    assert [len(r) for r in got_regions] == [len(r) for r in want_regions]
    for a, b in zip(got_regions, want_regions):
        assert a == pytest.approx(b, rel=0.01, abs=2)


def test_export_refuses_a_folder_that_is_not_empty_and_an_export_refuses_to_be_taught(exported, capsys):
    root, cfg = exported
    assert main(["export", str(root / "proj"), str(root / "ok"), *cfg]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    (root / "a-file").write_text("x")
    assert main(["export", str(root / "proj"), str(root / "a-file"), *cfg]) == 2
    assert "a-file is a file" in capsys.readouterr().err
    before = sorted(p.name for p in (root / "proj").iterdir())
    assert main(["export", str(root / "proj"), str(root / "proj" / "exported"), *cfg]) == 2
    assert "inside the project" in capsys.readouterr().err
    assert sorted(p.name for p in (root / "proj").iterdir()) == before  # nothing written into the project
    assert main(["fit", str(root / "out"), "--ok", str(root / "ok"), "--add", *cfg]) == 2
    assert "exported model" in capsys.readouterr().err


def test_a_changed_ir_file_is_refused(exported, tmp_path, capsys):
    import shutil

    root, cfg = exported
    copy = tmp_path / "copy"
    shutil.copytree(root / "out", copy)
    with open(copy / "openvino" / "features.bin", "r+b") as fh:
        fh.seek(100)
        fh.write(b"\x00\x01\x02\x03")
    assert main(["infer", str(copy), str(root / "ng"), *cfg]) == 2
    assert "features.bin is not the file exported" in capsys.readouterr().err


def test_an_ir_this_openvino_cannot_read_is_named_with_both_versions(exported, tmp_path, capsys):
    """An export whose files are the exported ones (their sha256 hold) but whose network this OpenVINO cannot read,
    as one saved by a newer OpenVINO with operations an older one lacks: one line, exit 2, the way out."""
    import hashlib
    import shutil

    root, cfg = exported
    copy = tmp_path / "copy"
    shutil.copytree(root / "out", copy)
    xml = copy / "openvino" / "features.xml"
    xml.write_text(xml.read_text().replace('type="Parameter"', 'type="AnOperationFromTheFuture"', 1))
    meta = json.loads((copy / "export.json").read_text())
    meta["ir_sha256"]["features.xml"] = hashlib.sha256(xml.read_bytes()).hexdigest()
    meta["openvino"] = "2099.1.0-12345"
    (copy / "export.json").write_text(json.dumps(meta))
    assert main(["infer", str(copy), str(root / "ng"), *cfg]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "exported with OpenVINO 2099.1.0, cannot be read by OpenVINO" in err
    assert "export the model again" in err


def test_an_export_checks_images_as_the_project_does(exported, tmp_path):
    """The image check's reference travels in the export's manifest: a frame taken with the light off is an ERROR
    that says so on the edge install too."""
    import cv2

    from inference.synthetic import disc

    root, cfg = exported
    (tmp_path / "line").mkdir()
    cv2.imwrite(str(tmp_path / "line" / "light_off.png"), (disc(70)[0] * 0.1).astype("uint8"))
    edge = tmp_path / "edge.json"
    run = subprocess.run([sys.executable, "-m", "inspector_cli.entry", "infer", str(root / "out"),
                          str(tmp_path / "line"), "--json", str(edge), *cfg],
                         env=blocked_env(tmp_path / "blocker"), capture_output=True, text=True, timeout=240)
    assert run.returncode == 2 and "too dark to inspect" in run.stderr, run.stderr
    (result,) = _results(edge)
    assert (result["verdict"], result["image_check"]) == ("ERROR", "dark")
