"""`inspector rescore` (issue 22): two model versions over an archive on a local Ray; every image gets a row per
version, the report's verdict changes and reviewer marks are right, the scores are `inspector infer`'s, a job
started again skips what is done, and the versions view names the report."""

import json
import shutil
import sys
from pathlib import Path

import pytest

from inference import Engine, EngineConfig
from inference.synthetic import write_discs
from inspector_cli.main import main
from station import Station
from tiny_project import TINY_YAML

ray = pytest.importorskip("ray")
pq = pytest.importorskip("pyarrow.parquet")

import station.rescore as rescore_module  # noqa: E402
from station.rescore import archive_images, read_rows, rescore  # noqa: E402
from station.rescore_report import latest_report  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray (2 CPUs, no dashboard) for the module; rescore joins it instead of starting its own."""
    import logging

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A project with v1 (fit), v2 (calibrated, active), v3 (v1 calibrated at a lower threshold, staged); an
    archive of inspected parts in the run mode's layout with a corrupt file; history rows for the archived
    parts, one marked a false reject and one a false accept."""
    root = tmp_path_factory.mktemp("rescore")
    cfg_file = root / "tiny.yaml"
    cfg_file.write_text(TINY_YAML)
    config = EngineConfig.load(cfg_file)
    project = root / "p"
    st = Station(project, Engine(config))
    st.teach(write_discs(root / "teach", range(6)))
    ok = write_discs(root / "cal", range(20, 28))
    st.calibrate(ok)  # v2, active
    st.calibrate(ok, version="v1", score_percentile=50, activate=False)  # v3: half the OK images above it
    day = root / "archive" / "2026-12-01"
    good = write_discs(day / "OK", range(100, 110))
    bad = write_discs(day / "NG", range(200, 203), scratch=True)
    broken = day / "ERROR" / "broken.png"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (day / "readme.txt").write_text("not an image")
    archived = good + bad + [broken]
    outcomes = list(st.inspect(archived, part_ids=[f"SN{i}" for i in range(len(archived))],
                               rows=[{"archive_path": str(p)} for p in archived]))
    st.mark(outcomes[0].row_id, "false_reject")
    st.mark(outcomes[len(good)].row_id, "false_accept")
    st.close()
    return {"root": root, "cfg": cfg_file, "config": config, "project": project, "archived": archived,
            "good": good, "bad": bad, "broken": broken}


def test_without_ray_rescore_says_what_to_install(setup, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)
    code = main(["rescore", str(setup["project"]), "--versions", "v2,v3", "--archive", str(setup["root"] / "archive")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "pip install -e '.[scale]'" in err
    assert "bundle" not in err
    monkeypatch.setattr(sys, "frozen", True, raising=False)  # the installer bundle, which leaves Ray out
    code = main(["rescore", str(setup["project"]), "--versions", "v2,v3", "--archive", str(setup["root"] / "archive")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "installer bundle does not carry" in err and "Python install" in err


def test_bad_input_is_one_line_before_any_work(setup, capsys, tmp_path):
    project = str(setup["project"])
    for argv, words in ((["--versions", "v2,v9", "--history"], "no version v9"),
                        (["--versions", "v2", "--history"], "two different versions"),
                        (["--versions", "v2,v3", "--archive", str(tmp_path / "nope")], "no such folder"),
                        (["--versions", "v2,v3", "--archive", str(tmp_path), "--since", "1d"], "--since goes with")):
        assert main(["rescore", project, *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and words in err, err
    assert not (setup["project"] / "rescore").exists()


def test_rescore_two_versions_equals_infer_and_reports_the_changes(setup, local_ray, capsys, monkeypatch):
    project, out = setup["project"], setup["root"] / "out"
    # Ray prints its notices to stdout from a thread of its own, log_to_driver or not (CI once had "(raylet) A
    # worker died …" before the JSON): one such notice during the job, through Ray's own printer.
    from ray._private.worker import print_to_stdstream

    notice = "A worker died or was killed while executing a task by an unexpected system error."
    job = rescore_module.rescore

    def rescore_with_a_ray_notice(*args, **kwargs):
        import threading

        printer = threading.Thread(target=print_to_stdstream, args=({"lines": [notice], "pid": "raylet",
                                                                     "is_err": False},), kwargs={"ignore_prefix": False})
        printer.start()
        printer.join()
        return job(*args, **kwargs)

    monkeypatch.setattr(rescore_module, "rescore", rescore_with_a_ray_notice)
    code = main(["rescore", str(project), "--versions", "v2,v3", "--history", "--since", "1d", "--out", str(out),
                 "--config", str(setup["cfg"]), "--json"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert notice in printed.err
    report = json.loads(printed.out)  # the report alone on stdout
    archived = [str(p) for p in setup["archived"]]

    # Every image has both rows; the corrupt file is an ERROR row with its reason, the job went on.
    rows = read_rows(out).to_pylist()
    assert sorted((r["path"], r["version"]) for r in rows) == sorted((p, v) for p in archived for v in ("v2", "v3"))
    by = {(r["path"], r["version"]): r for r in rows}
    assert all(by[(str(setup["broken"]), v)]["verdict"] == "ERROR" and by[(str(setup["broken"]), v)]["error"]
               for v in ("v2", "v3"))
    assert by[(archived[3], "v2")]["part_id"] == "SN3"  # from the history

    # The scores are the station's (what inspector infer gives) for each version.
    st = Station(project, Engine(setup["config"]), record=False)
    expected = {}
    for v in ("v2", "v3"):
        for path, outcome in zip(archived, st.inspect(archived, model=st.model(v), record=False)):
            expected[(path, v)] = outcome
            row = by[(path, v)]
            assert row["verdict"] == outcome.verdict.value
            assert (row["score"] is None) == (outcome.score is None)
            if outcome.score is not None:
                assert row["score"] == pytest.approx(outcome.score, abs=1e-5)
    # ... and inspector infer itself, for the active version (v2).
    assert main(["infer", str(project), *archived[:-1], "--json", "-", "--no-history", "--config",
                 str(setup["cfg"])]) == 0
    for item in json.loads(capsys.readouterr().out)["results"]:
        assert by[(item["name"], "v2")]["score"] == pytest.approx(item["score"], abs=1e-5)
        assert by[(item["name"], "v2")]["verdict"] == item["verdict"]

    # The changes are those of the two versions' verdicts, with their paths.
    changes: dict = {}
    for path in archived:
        a, b = expected[(path, "v2")].verdict.value, expected[(path, "v3")].verdict.value
        if a != b:
            changes.setdefault(f"{a}->{b}", []).append(path)
    assert changes.get("OK->NG"), "the lower threshold must turn some passes into rejects"
    assert {k: [i["path"] for i in v] for k, v in report["changes"].items()} == \
        {k: sorted(v) for k, v in changes.items()}
    counts = report["counts"]
    assert counts["v3"]["NG"] == counts["v2"]["NG"] + len(changes.get("OK->NG", [])) - len(changes.get("NG->OK", []))
    assert counts["v2"]["ERROR"] == counts["v3"]["ERROR"] == 1 and counts["v2"]["total"] == len(archived)
    assert [(e["path"], e["versions"]) for e in report["errors"]] == [(str(setup["broken"]), ["v2", "v3"])]

    # The reviewer's marks and what each version says of them.
    marked = {m["path"]: m for m in report["marked"]}
    fr, fa = str(setup["good"][0]), str(setup["bad"][0])
    assert marked[fr]["label"] == "false_reject" and marked[fa]["label"] == "false_accept"
    assert marked[fa]["v3"] == expected[(fa, "v3")].verdict.value
    assert [m["path"] for m in report["escapes"]] == ([fa] if expected[(fa, "v3")].verdict.value == "OK" else [])
    for name in ("report.json", "report.md", "scores.png"):
        assert (out / name).stat().st_size > 0
    assert "OK->NG" in (out / "report.md").read_text()

    # The versions view names the report next to v3: the CLI and the service's GET versions.
    assert latest_report(project, "v3")["report"] == str(out / "report.json")
    assert main(["versions", str(project)]) == 0
    assert f"v3: rescore vs v2 on {len(archived)} images" in capsys.readouterr().out
    import httpx
    from inspector_service.app import create_app
    from service_helpers import LiveServer

    server = LiveServer(create_app(project.parent, config=setup["config"])).start()
    try:
        listed = httpx.get(f"{server.url}/projects/{project.name}/versions").json()["versions"]
    finally:
        server.stop()
    assert [v["rescore"] and v["rescore"]["versions"] for v in listed] == [None, None, ["v2", "v3"]]
    assert listed[2]["rescore"]["escapes"] == len(report["escapes"])


def test_a_job_started_again_skips_what_is_done(setup, local_ray, tmp_path, monkeypatch):
    project, config = setup["project"], setup["config"]
    archive = tmp_path / "archive"
    shutil.copytree(setup["root"] / "archive", archive)
    items = archive_images([archive])
    assert len(items) == len(setup["archived"])  # readme.txt is no image
    out = tmp_path / "out"
    # A job interrupted (Ctrl+C) once its first rows were written, started again with the same --out.
    monkeypatch.setattr(rescore_module, "FLUSH_ROWS", 1)  # the driver writes every batch it gets

    def interrupt(line):
        if "images scored" in line:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rescore(project, ["v2", "v3"], items, out, config=config, workers=1, batch_size=2, note=interrupt)
    before = {(r["key"], r["version"]): r["score"] for r in read_rows(out).to_pylist()}
    done = len(before) // 2
    assert 0 < done < len(items) and len(before) == 2 * done
    write_discs(archive / "2026-12-02" / "OK", [300])  # and a new part arrived in the archive
    (out / "rows" / "part-cut.parquet").write_bytes(b"PAR1 cut short")  # unreadable: skipped, its images redone
    again = rescore(project, ["v2", "v3"], archive_images([archive]), out, config=config, workers=1)
    assert (again.scored, again.skipped) == (len(items) - done + 1, done)
    rows = read_rows(out).to_pylist()
    assert len(rows) == 2 * (len(items) + 1) and len({(r["key"], r["version"]) for r in rows}) == len(rows)
    assert all(before[(r["key"], r["version"])] == r["score"] for r in rows if (r["key"], r["version"]) in before)
    assert rescore(project, ["v2", "v3"], archive_images([archive]), out, config=config).scored == 0
    with pytest.raises(Exception, match="holds a rescore of"):
        rescore(project, ["v1", "v3"], items, out, config=config)


def test_the_report_says_which_master_parts_the_new_version_would_fail(setup, local_ray, tmp_path, capsys):
    """Before a new version goes live: the archived master parts' checks ("red rabbits", station/masters.py), and
    what each version gives each, the misses of the new one first. Master parts count in no yield."""
    from inference import Verdict
    from station.masters import Masters

    project = tmp_path / "p"
    shutil.copytree(setup["project"], project)
    day = tmp_path / "archive" / "2026-12-02"
    rabbit = write_discs(day / "NG", [210], scratch=True)[0]
    gold = write_discs(day / "OK", [120])[0]
    st = Station(project, Engine(setup["config"]), masters=Masters({"RR-1": Verdict.NG, "GOLD": Verdict.OK}))
    list(st.inspect([rabbit, gold], part_ids=["RR-1", "GOLD"], rows=[{"archive_path": str(rabbit)},
                                                                     {"archive_path": str(gold)}]))
    expected = {(str(path), v): outcome.verdict.value for v in ("v2", "v3")
                for path, outcome in zip((rabbit, gold), st.inspect([rabbit, gold], model=st.model(v), record=False))}
    st.close()
    out = tmp_path / "out"
    assert main(["rescore", str(project), "--versions", "v2,v3", "--history", "--out", str(out), "--config",
                 str(setup["cfg"]), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    checks = {c["path"]: c for c in report["masters"]}
    assert {p: (c["part_id"], c["expected"], c["v2"], c["v3"]) for p, c in checks.items()} == {
        str(rabbit): ("RR-1", "NG", expected[(str(rabbit), "v2")], expected[(str(rabbit), "v3")]),
        str(gold): ("GOLD", "OK", expected[(str(gold), "v2")], expected[(str(gold), "v3")])}
    for v in ("v2", "v3"):
        misses = [p for p, c in checks.items() if c[v] != c["expected"]]
        assert [c["path"] for c in report["master_misses"][v]] == sorted(misses)
    assert report["images"] == len(setup["archived"]) + 2
    assert report["counts"]["v2"]["total"] == len(setup["archived"])  # the production parts only
    assert "## Master parts' checks: 2 archived" in (out / "report.md").read_text()
    assert main(["versions", str(project)]) == 0
    assert f"{len(report['master_misses']['v3'])} of 2 master part check(s) would fail" in capsys.readouterr().out


def test_history_images_leave_out_what_the_archive_no_longer_holds(tmp_path):
    """The archive's keeper removes its oldest images to keep the disk free: a rescore of the history goes on
    with the images still there and says how many are gone, rather than an ERROR row for each (no Ray needed)."""
    from station.history import History
    from station.rescore import history_images

    project = tmp_path / "p"
    project.mkdir()
    kept = write_discs(tmp_path / "archive" / "2026-12-06" / "OK", range(3))
    removed = tmp_path / "archive" / "2026-11-01" / "OK" / "old.png"
    with History(project / "history.sqlite") as h:
        for i, path in enumerate([removed, *kept]):
            h.record(source="cam", file_name=path.name, verdict="OK", part_id=f"SN{i}", archive_path=str(path))
    notes = []
    items = history_images(project, note=notes.append)
    assert [Path(i.path) for i in items] == [p.absolute() for p in kept]
    assert notes == ["1 of the history's 4 archived images are no longer in the archive (removed to keep its disk "
                     "free, or deleted): left out"]
