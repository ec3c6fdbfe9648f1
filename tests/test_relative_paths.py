"""Paths typed relative to a command's working directory are recorded where the files are: the window, the
service and a technician's later command read the history and the model from other directories."""

import json

from inference import Engine, EngineConfig
from inference.synthetic import CENTRE, RADIUS, write_discs
from inspector_cli.main import main
from station import Station
from station.history import History
from line_helpers import make_project, part, png_bytes
from tiny_project import TINY_YAML

ROI = json.dumps({"type": "circle", "cx": CENTRE[0], "cy": CENTRE[1], "r": RADIUS})


def test_cli_rows_and_taught_names_find_their_files_from_anywhere(tmp_path, monkeypatch, capsys):
    root, elsewhere = tmp_path / "line", tmp_path / "desktop"
    root.mkdir(), elsewhere.mkdir()
    (root / "tiny.yaml").write_text(TINY_YAML)
    write_discs(root / "ok", range(6))
    write_discs(root / "cal", range(10, 14))
    write_discs(root / "ng", [50, 51], scratch=True)
    cfg = ["--config", "tiny.yaml"]
    monkeypatch.chdir(root)
    assert main(["fit", "proj", "--ok", "ok", "--roi", ROI, *cfg]) == 0
    assert main(["calibrate", "proj", "--ok", "cal", "--ng", "ng", *cfg]) == 0
    capsys.readouterr()
    assert main(["infer", "proj", "ng/ng_050.png", *cfg]) == 0
    line = capsys.readouterr().out
    assert "ng/ng_050.png" in line and str(root) not in line  # shown as typed

    monkeypatch.chdir(elsewhere)
    with History(root / "proj" / "history.sqlite") as history:
        row = history.query(limit=1)[0]
    assert row.verdict.value == "NG" and row.source == "cli"
    assert row.heatmap_png[:8] == b"\x89PNG\r\n\x1a\n"  # the History view shows every client's rows with their map
    assert row.image_path() == root / "ng" / "ng_050.png"
    model = Engine(EngineConfig.load(root / "tiny.yaml")).load(root / "proj")
    taught = sorted(model.record.taught_names)
    assert taught == [str(root / "ok" / f"ok_{i:03d}.png") for i in range(6)]
    # The technician's loop from the window's folder: the part marked a false reject is taught back from its file.
    with Station(root / "proj", config=EngineConfig.load(root / "tiny.yaml")) as station:
        station.mark(row.id, "false_reject")
        result = station.teach_back([row.id])
    assert result.n_images == 7


def test_run_rows_name_the_source_and_archive_by_absolute_path(tmp_path, monkeypatch):
    root, elsewhere = tmp_path / "line", tmp_path / "desktop"
    (root / "inbox").mkdir(parents=True), elsewhere.mkdir()
    make_project(root / "proj")
    images = {"a.png": png_bytes(part(1)), "b.png": png_bytes(part(2, scratch=True)), "c.png": png_bytes(part(3))}
    for name, data in images.items():
        (root / "inbox" / name).write_bytes(data)
    monkeypatch.chdir(root)
    assert main(["run", "proj", "--source", "inbox", "--archive", "arch", "--move", "--idle-exit", "1",
                 "--settle", "0.2"]) == 0

    monkeypatch.chdir(elsewhere)
    with History(root / "proj" / "history.sqlite") as history:
        rows = {r.file_name: r for r in history.query()}
    assert sorted(rows) == ["a.png", "b.png", "c.png"]
    assert {r.source for r in rows.values()} == {str(root / "inbox")}
    for name, row in rows.items():
        assert row.archive_path.startswith(str(root / "arch")), row.archive_path
        assert row.image_path().read_bytes() == images[name]  # the archived copy (--move took the file away)
