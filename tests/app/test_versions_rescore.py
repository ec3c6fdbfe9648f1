"""The window's Versions tab names the newest `inspector rescore` report of a version (issue 22): written by
station/rescore_report.py from a job's rows (here rows written without Ray, by the same scoring code)."""

import json

import pytest

from gui_helpers import wait_idle

pytest.importorskip("pyarrow")


def test_the_versions_tab_names_a_rescore_report(qtbot, window, fitted_project, images, tmp_path):
    from station.rescore import Item, image_key, rows_table, score_items
    from station.rescore_report import write_report
    import pyarrow.parquet as pq

    window.open_project(fitted_project, ask=False)
    wait_idle(qtbot, window)
    out = tmp_path / "out"
    (out / "rows").mkdir(parents=True)
    (out / "job.json").write_text(json.dumps({"project": str(fitted_project), "versions": ["v1", "v2"]}))
    paths = images["val"] + images["ng"]
    rows = score_items(fitted_project, ["v1", "v2"], [Item(p, image_key(p)) for p in paths],
                       window.session.engine.config)
    pq.write_table(rows_table(rows), out / "rows" / "part-0.parquet")
    report = write_report(fitted_project, out)
    panel = window.versions_panel
    panel.refresh()
    assert f"v2: rescore vs v1 on {len(paths)} images" in panel.summary.text()
    assert report["counts"]["v1"]["NO_VERDICT"] == len(paths)  # v1 is the uncalibrated fit
