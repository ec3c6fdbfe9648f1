"""The line display (`inspector run --display HOST:PORT`): the page for the station's monitor, its state and the last
part's picture, served over real HTTP while a real run inspects; the page itself rendered by a headless Chromium
where one is installed (.ci/run installs it)."""

import html
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from inference import InferenceResult, Region, Verdict
from inspector_cli.main import main
from inspector_line.display_server import DisplayServer
from inspector_line.runner import RunOptions, Runner
from inspector_line.sources import FolderSource
from station import ErrorCode, Outcome, Station
from station.history import History
from station.history_periods import DEFAULT_SHIFTS
from station.line_io.alarms import AlarmLimits
from station.line_io.display import LineDisplay, draw_part, shift_start
from line_helpers import make_project, part, png_bytes
from page_helpers import element, rendered


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("display") / "proj")


def _inbox(folder: Path, scratched: list[bool]) -> Path:
    folder.mkdir()
    for i, scratch in enumerate(scratched):
        (folder / f"p{i}.png").write_bytes(png_bytes(part(970 + i, scratch=scratch)))
    return folder


def _serve(display: LineDisplay) -> DisplayServer:
    server = DisplayServer(display, "127.0.0.1", 0)
    server.start()
    return server


def _shift_start() -> float:
    return shift_start(DEFAULT_SHIFTS).timestamp()


def _decode(jpeg: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]


def test_the_display_shows_the_last_part_its_picture_the_shift_and_the_alarms(project, tmp_path):
    engine, proj = project
    inbox = _inbox(tmp_path / "inbox", [False, False, False, True, True])  # 3 OK, then 2 NG
    display = LineDisplay()
    server = _serve(display)
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert httpx.get(base + "/state").json()["part"] is None  # nothing inspected yet: nothing shown
        with History(tmp_path / "h.sqlite") as history:
            station = Station(proj, engine, history=history)
            Runner(station, FolderSource(inbox, settle_s=0.2),
                   RunOptions(display=display, idle_exit_s=0.5,
                              alarm_limits=AlarmLimits(ng_streak=2, yield_min=None, drift_warn_at=None))).run()
            rows = history.query(descending=True)
            shift = history.counts(since=_shift_start(), purpose="line")
            model = station.model()
        state = httpx.get(base + "/state").json()
        seq = state["part"]["seq"]
        picture = httpx.get(f"{base}/{state['part']['picture']}")
        earlier = httpx.get(f"{base}/picture/{seq - 1}.jpg")
        page = httpx.get(base + "/")
    finally:
        server.close()
    last = rows[0]
    p = state["part"]
    assert (p["verdict"], p["name"], p["row_id"], p["model_version"]) == ("NG", "p4.png", last.id, model.version)
    assert p["score"] == pytest.approx(last.score) and p["threshold"] == pytest.approx(model.calibration.threshold)
    assert p["defects"] >= 1 and p["largest"]["unit"] == "px" and p["error_code"] == 0
    assert [r["verdict"] for r in state["recent"]] == [r.verdict.value for r in rows]  # newest first
    assert state["recent"][0]["ratio"] == pytest.approx(last.score / model.calibration.threshold, abs=1e-4)
    assert state["station"] == {**state["station"], "project": "proj", "version": model.version,
                                "calibrated": True, "running": False}  # the run has ended
    assert state["shift"]["counts"] == shift.to_dict() and shift.ok == 3 and shift.ng == 2
    assert [a["name"] for a in state["alarms"]] == ["ng_streak"]
    assert state["alarms"][0]["text"] == "ALARM ng_streak: " + state["alarms"][0]["details"]
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/jpeg"
    rgb = _decode(picture.content)
    assert rgb.shape[:2] == part(974).shape[:2]  # small images keep their size
    red = (rgb[..., 0] > 170) & (rgb[..., 1] < 110) & (rgb[..., 2] < 110)
    assert red.sum() > 20  # the NG part's defect outlined in red
    assert earlier.status_code == 404 and "not kept" in earlier.json()["error"]  # only the last part (also the NG)
    assert page.status_code == 200 and 'fetch("state"' in page.text


def test_a_part_without_an_image_shows_its_error_and_no_picture(tmp_path):
    display = LineDisplay()
    outcome = Outcome("(no image)", Verdict.ERROR, "no image came for the Trigger within 10 s", None, None, "v3",
                      None, part_id="SN7", cause=ErrorCode.NO_IMAGE)
    display.part(outcome, None, 10.2)
    p = display.state()["part"]
    assert (p["verdict"], p["error_code"], p["part_id"], p["picture"], p["latency_ms"]) == \
        ("ERROR", int(ErrorCode.NO_IMAGE), "SN7", None, 10200.0)
    assert display.picture(p["seq"]) is None
    assert display.state()["shift"]["counts"] is None  # no history given: unknown, never zero


def test_the_page_says_an_errors_cause_in_its_language_before_the_stations_reason():
    """An operator on a Spanish line reads why the part got no verdict in Spanish (its ErrorCode); the station's
    own reason follows as it wrote it."""
    display = LineDisplay()
    display.part(Outcome("(no image)", Verdict.ERROR, "no image came for the Trigger within 10 s", None, None, "v3",
                         None, part_id="SN7", cause=ErrorCode.NO_IMAGE), None, 10.2)
    server = _serve(display)
    try:
        url = f"http://127.0.0.1:{server.port}/"
        spanish, english = rendered(url + "#lang=es"), rendered(url + "#lang=en")
    finally:
        server.close()
    assert element(spanish, "reason").endswith(">no llegó imagen de esta pieza: no image came for the Trigger "
                                               "within 10 s")
    assert element(english, "reason").endswith(">no image for this part: no image came for the Trigger within 10 s")
    assert element(spanish, "verdict").endswith(">ERROR")


def _judged(score, regions, name="p.png"):
    """An Outcome as the engine judges it: threshold 0.5, area limit 1 mm^2 (inference.scoring.judge)."""
    from types import SimpleNamespace

    from inference.scoring import judge

    verdict, marked, reason = judge(score, regions, 0.5, 1.0)
    return Outcome(name, verdict, reason, score, 0.5, "v2", None, result=SimpleNamespace(regions=marked))


def test_the_page_says_what_decided_an_ok_or_ng_part_in_its_language():
    """A Spanish or German operator reads why the part passed or failed in their language (the figures stand in
    the page's own lines); an English page keeps the station's reason, figures and all."""
    big, small = (Region((10, 10, 8, 8), (14.0, 14.0), 64, 2.56, 0.9), Region((2, 2, 3, 3), (3.0, 3.0), 9, 0.36, 0.8))
    edge = Region((0, 10, 8, 8), (4.0, 14.0), 64, 2.56, 0.9, on_edge=True)
    cases = {"below": _judged(0.3, [small]), "small": _judged(0.9, [small]), "defects": _judged(0.9, [big, edge]),
             "edge": _judged(0.9, [edge, small])}
    display = LineDisplay()
    for why, outcome in cases.items():
        display.part(outcome, None, 0.1)
        assert (display.state()["part"]["verdict"], display.state()["part"]["why"]) == \
            ("OK" if why in ("below", "small") else "NG", why)
    shown = _judged(0.9, [big])
    display.part(shown, None, 0.1)
    server = _serve(display)
    try:
        url = f"http://127.0.0.1:{server.port}/"
        spanish, german, english = (rendered(url + f"#lang={lang}") for lang in ("es", "de", "en"))
    finally:
        server.close()
    assert element(spanish, "reason").endswith(">defectos con el área o la longitud que cuentan: 1")
    assert element(german, "reason").endswith(">Defekte groß oder lang genug, um zu zählen: 1")
    assert shown.reason == "score 0.9 >= threshold 0.5; region(s) #1 (2.56 mm^2) >= area limit 1"
    assert element(english, "reason").endswith(">" + html.escape(shown.reason, quote=False))
    for verdict, why in ((Verdict.NOT_FOUND, "not_found"), (Verdict.NO_VERDICT, "no_verdict"), (Verdict.ERROR, None)):
        display.part(Outcome("q.png", verdict, "part not found: best match 0.31", None, 0.5, "v2", None), None, 0.1)
        assert display.state()["part"]["why"] == why  # an ERROR: its cause, then its reason as written
    server = _serve(display)
    try:
        display.part(Outcome("q.png", Verdict.NOT_FOUND, "part not found: best match 0.31", None, 0.5, "v2", None),
                     None, 0.1)
        spanish = rendered(f"http://127.0.0.1:{server.port}/#lang=es")
    finally:
        server.close()
    assert element(spanish, "reason").endswith(">no se encontró la pieza donde se busca (fuera de sitio, tapada u "
                                               "otra pieza)")


def _ng_with_largest_in(zone, zones):
    from types import SimpleNamespace

    small = Region((2, 2, 3, 3), (3.0, 3.0), 9, 0.36, 0.8, counts=True, zones={zone: 0.36}, zone_load=1.1,
                   zone_index=1, zone=zone) if zones else Region((2, 2, 3, 3), (3.0, 3.0), 9, 0.36, 0.8, counts=True)
    large = Region((10, 10, 8, 8), (14.0, 14.0), 64, 2.56, 0.9, counts=True, zones={zone: 2.56}, zone_load=2.0,
                   zone_index=2 if zone != "rest" else 0, zone=zone) if zones else \
        Region((10, 10, 8, 8), (14.0, 14.0), 64, 2.56, 0.9, counts=True)
    return Outcome("p.png", Verdict.NG, "score 0.9 >= threshold 0.5; region(s) ...", 0.9, 0.5, "v2", None,
                   result=SimpleNamespace(regions=[small, large]))


@pytest.mark.parametrize("zone, zones, spanish, german", [
    ("seal face", True, ">2, el mayor 2.56 mm² en seal face", ">2, größter 2.56 mm² in seal face"),
    ("rest", True, ">2, el mayor 2.56 mm² fuera de las zonas", ">2, größter 2.56 mm² außerhalb der Zonen"),
    (None, False, ">2, el mayor 2.56 mm²", ">2, größter 2.56 mm²"),
])
def test_the_page_says_in_which_zone_the_largest_defect_lies(zone, zones, spanish, german):
    """With inspection zones the operator reads where the largest defect is (the zone the line engineer named, or
    outside every zone) in the page's language; without zones only its size."""
    display = LineDisplay()
    display.part(_ng_with_largest_in(zone or "rest", zones), None, 0.2)
    assert display.state()["part"]["largest"] == {"area": 2.56, "unit": "mm²", "zone": zone}
    server = _serve(display)
    try:
        url = f"http://127.0.0.1:{server.port}/"
        pages = rendered(url + "#lang=es"), rendered(url + "#lang=de")
    finally:
        server.close()
    shown = [element(page, "defects").split("</dd>")[0] for page in pages]
    assert shown[0].endswith(spanish) and shown[1].endswith(german)


def test_the_state_says_how_long_the_run_loop_has_not_beaten(tmp_path):
    History(tmp_path / "h.sqlite").close()
    display = LineDisplay()
    display.start(tmp_path / "h.sqlite")
    display.beat()
    time.sleep(0.3)
    state = display.state()
    assert state["station"]["running"] and state["loop_age_s"] >= 0.3
    display.beat()
    assert display.state()["loop_age_s"] < 0.3
    display.stop()
    assert not display.state()["station"]["running"]


def test_a_large_image_is_shrunk_with_its_heatmap_and_defects_drawn():
    h, w = 1500, 2000
    image = np.full((h, w, 3), 120, np.uint8)
    box = (400, 300, 1600, 1200)  # the ROI's box: x0, y0, x1, y1
    amap = np.zeros((900, 1200), np.float32)
    amap[100:300, 100:300] = 10.0  # hot where the counted defect lies
    counted = Region((500, 400, 200, 200), (600, 500), 40000, None, 10.0, counts=True,
                     outline=np.array([[500, 400], [700, 400], [700, 600], [500, 600]], float))
    small = Region((1300, 1000, 40, 40), (1320, 1020), 1600, None, 6.0, counts=False,
                   outline=np.array([[1300, 1000], [1340, 1000], [1340, 1040], [1300, 1040]], float))
    result = InferenceResult("big.png", 10.0, amap, np.ones_like(amap, bool), box, (64, 86), [counted, small],
                             Verdict.NG, threshold=5.0)
    out = draw_part(image, result, max_px=1000)
    s = 1000 / 2000
    assert out.shape == (750, 1000, 3)
    assert tuple(out[10, 10]) == (120, 120, 120)  # outside the ROI: the image as it was
    hot, cold = out[int(550 * s), int(600 * s)], out[int(1100 * s), int(800 * s)]
    assert hot[0] > hot[2] + 40  # the heat where the map is high
    assert np.abs(cold.astype(int) - 120).max() <= 1  # none where it is low: a good part is seen as it is
    assert tuple(out[int(500 * s), int(500 * s)]) == (230, 40, 40)  # the counted defect's outline: red
    assert tuple(out[int(1020 * s), int(1300 * s)]) == (255, 190, 0)  # too small to count: amber


def test_the_page_shows_the_verdict_counts_and_alarms_and_greys_out_when_the_station_stops(project, tmp_path):
    engine, proj = project
    inbox = _inbox(tmp_path / "inbox", [False, True, True, False])  # OK, NG, NG, OK
    display = LineDisplay()
    server = _serve(display)
    url = f"http://127.0.0.1:{server.port}/"
    stop = threading.Event()
    try:
        with History(tmp_path / "h.sqlite") as history:
            runner = Runner(Station(proj, engine, history=history), FolderSource(inbox, settle_s=0.2),
                            RunOptions(display=display, alarm_limits=AlarmLimits(yield_window=3, yield_min=0.9,
                                                                                 drift_warn_at=None)))
            thread = threading.Thread(target=runner.run, args=(stop,))
            thread.start()
            deadline = time.monotonic() + 120
            while (display.state()["part"] or {}).get("seq") != 4:
                assert time.monotonic() < deadline and thread.is_alive()
                time.sleep(0.05)
            running = rendered(url)
            german = rendered(url + "#lang=de")
            stop.set()
            thread.join(60)
        stopped = rendered(url)
    finally:
        stop.set()
        server.close()
    assert element(running, "verdict").endswith(">OK") and "p3.png" in running
    assert "50.0 %" in element(running, "counts")  # 2 OK of 4 judged, this shift
    assert "ALARM yield" in element(running, "alarms")
    last_ng = element(running, "last-ng")  # the NG stays in view while the good part after it is shown
    assert "hidden" not in last_ng.split(">")[0] and "Last NG: p2.png" in last_ng
    assert 'id="last-ng-picture" alt="" src="blob:' in running  # fetched, as a token needs
    trend = running[running.index('<svg id="recent"'):running.index("</svg>")]  # a dot a part, in its colour
    assert trend.count('stroke-linecap="round"') == 4 and trend.count('class="NG"') == 2
    assert "STATION" not in element(running, "stale")  # running: nothing greyed out
    assert "THE STATION IS STOPPED" in element(stopped, "stale")
    # a German line's monitor: its words, i.O. / n.i.O., the alarm named in German with the station's details
    assert element(german, "verdict").endswith(">i.O.") and '<html lang="de">' in german
    assert "Ausbeute <b>50.0 %</b>" in element(german, "counts") and "n.i.O. <b>2</b>" in element(german, "counts")
    assert "ALARM Ausbeute zu niedrig: Ausbeute 33.3 % über die letzten 3 Teile, unter 90 %" in element(german,
                                                                                                  "alarms")
    assert "ALARM yield: yield 33.3% over the last 3 parts, below 90%" in element(running, "alarms")
    assert "Letztes n.i.O.: p2.png um" in german and '<dt data-word="part">Teil</dt>' in german


@pytest.mark.parametrize("extra, words", [
    (["--display", "nohost"], "HOST:PORT"),
    (["--shifts", "6,18"], "goes with --display"),
    (["--display", "127.0.0.1:0", "--shifts", "6,25"], "shifts start at"),
    (["--display-tokens", "tokens.txt"], "--display-tokens goes with --display"),
    (["--display", "127.0.0.1:0", "--display-tokens", "missing.txt"], "cannot read the token file missing.txt"),
])
def test_bad_display_options_exit_2_with_one_line(project, tmp_path, capsys, extra, words):
    assert main(["run", str(project[1]), "--source", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err


def test_with_a_tokens_file_only_its_callers_see_the_parts(tmp_path):
    """A display reachable from the plant's network shows part pictures: with --display-tokens, the state and the
    pictures need a token of the file (any role: every role reads), the page itself none (it sends the token given
    after # in its address); a token revoked in the file stops working while the run goes on."""
    from station.tokens import RELOAD_EVERY_S, TokenFile

    tokens = tmp_path / "tokens.txt"
    tokens.write_text("hmi read hmi-0123456789abcdef\nlead line lead-0123456789abcdef\n")
    display = LineDisplay()
    display.part(Outcome("p1.png", Verdict.OK, "", 1.0, 2.0, "v1", None), np.full((40, 40, 3), 90, np.uint8), 0.01)
    server = DisplayServer(display, "127.0.0.1", 0, tokens=TokenFile(tokens, "display"))
    server.start()
    base = f"http://127.0.0.1:{server.port}"

    def get(path, token=None):
        return httpx.get(base + path, headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=30)

    try:
        picture = get("/state", "hmi-0123456789abcdef").json()["part"]["picture"]
        answers = {"page": get("/").status_code, "state": get("/state").status_code,
                   "picture": get("/" + picture).status_code, "wrong": get("/state", "x" * 20).status_code,
                   "hmi": get("/state", "hmi-0123456789abcdef").status_code,
                   "hmi picture": get("/" + picture, "hmi-0123456789abcdef").status_code,
                   "lead": get("/state", "lead-0123456789abcdef").status_code}
        shown, refused = rendered(base + "/#token=hmi-0123456789abcdef"), rendered(base + "/")
        tokens.write_text("lead line lead-0123456789abcdef\n")  # the HMI's token revoked
        time.sleep(RELOAD_EVERY_S + 0.2)
        revoked = get("/state", "hmi-0123456789abcdef").status_code
        described = server.describe()
    finally:
        server.close()
    assert answers == {"page": 200, "state": 401, "picture": 401, "wrong": 401, "hmi": 200, "hmi picture": 200,
                       "lead": 200}
    assert revoked == 401 and described.endswith("/#token=TOKEN (a token of the tokens file)")
    assert element(shown, "verdict").endswith(">OK") and "p1.png" in shown
    assert "THE STATION REFUSES THIS PAGE (HTTP 401)" in element(refused, "stale")


def test_a_display_beyond_this_pc_without_tokens_says_who_sees_it():
    assert DisplayServer(LineDisplay(), "127.0.0.1", 0).describe().endswith(":0/")
    assert DisplayServer(LineDisplay(), "0.0.0.0", 0).describe().endswith(
        "(no --display-tokens: anyone on the network sees the parts)")


def test_a_display_port_in_use_is_one_line_and_exit_2(project, tmp_path, capsys):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        code = main(["run", str(project[1]), "--source", str(tmp_path), "--history", str(tmp_path / "h.sqlite"),
                     "--display", f"127.0.0.1:{taken.getsockname()[1]}", "--idle-exit", "1"])
    finally:
        taken.close()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "cannot serve the line display" in err[0], err


def test_the_shift_counts_start_from_the_history_and_follow_each_part_and_the_shift(tmp_path, monkeypatch):
    """Read as the run starts (this shift's production parts only), counted on per part (a master part's check is
    no production part), read again when the shift turns: the new shift's rows, this part's among them."""
    import station.line_io.display as display_module

    now = shift_start(DEFAULT_SHIFTS)
    with History(tmp_path / "h.sqlite") as history:
        for when, verdict, purpose in ((now.timestamp() - 60, "NG", "line"), (now.timestamp() + 1, "OK", "line"),
                                       (now.timestamp() + 2, "NG", "line"), (now.timestamp() + 3, "OK", "bench")):
            history.record(source="t", file_name="x.png", verdict=verdict, time=when, purpose=purpose)
    display = LineDisplay()
    display.start(tmp_path / "h.sqlite")
    assert display.state()["shift"]["counts"]["total"] == 2  # the NG before the shift and the bench check: not its
    display.part(Outcome("a.png", Verdict.OK, "", 1.0, 2.0, "v1", None), None, 0.1)
    display.part(Outcome("rr.png", Verdict.NG, "", 3.0, 2.0, "v1", None, expected=Verdict.NG), None, 0.1)
    assert display.state()["shift"]["counts"] == {**display.state()["shift"]["counts"], "total": 3, "OK": 2, "NG": 1}
    later = now + timedelta(hours=8)
    monkeypatch.setattr(display_module, "shift_start", lambda shifts, at=None: later)
    assert display.state()["shift"]["counts"]["total"] == 0  # turned, no part yet
    with History(tmp_path / "h.sqlite") as history:
        history.record(source="t", file_name="b.png", verdict="NG", time=later.timestamp() + 5)  # the part's row
    display.part(Outcome("b.png", Verdict.NG, "", 3.0, 2.0, "v1", None), None, 0.1)
    shift = display.state()["shift"]
    assert shift["start"] == later.timestamp() and (shift["counts"]["total"], shift["counts"]["NG"]) == (1, 1)
    display.stop()


def test_the_last_ng_part_and_its_picture_stay_while_good_parts_pass():
    image = np.full((60, 80, 3), 100, np.uint8)

    def outcome(name, verdict, expected=None):
        amap = np.full((60, 80), 9.0 if verdict is Verdict.NG else 1.0, np.float32)
        result = InferenceResult(name, float(amap.max()), amap, np.ones_like(amap, bool), (0, 0, 80, 60), (4, 5),
                                 verdict=verdict, threshold=5.0)
        return Outcome.of(result, "v1", None) if expected is None else \
            Outcome(name, verdict, "", 9.0, 5.0, "v1", None, result=result, expected=expected)

    display = LineDisplay()
    for name, verdict in (("n1.png", Verdict.NG), ("ok1.png", Verdict.OK), ("ok2.png", Verdict.OK)):
        display.part(outcome(name, verdict), image, 0.01)
    state = display.state()
    assert (state["part"]["name"], state["last_ng"]["name"], state["last_ng"]["seq"]) == ("ok2.png", "n1.png", 1)
    assert display.picture(1) and display.picture(3) and display.picture(2) is None  # the last NG's and the last
    display.part(outcome("rr.png", Verdict.NG, expected=Verdict.NG), image, 0.01)  # a master part: a check
    assert display.state()["last_ng"]["name"] == "n1.png" and display.picture(1)
    display.part(outcome("n2.png", Verdict.NG), image, 0.01)
    assert display.state()["last_ng"]["seq"] == 5 and display.picture(5) and display.picture(1) is None


def test_a_new_run_never_gives_a_picture_address_of_the_run_before():
    """A page left open over a restart compares addresses: part 1 of the new run must not read as the picture of
    part 1 of the old one, which it shows already."""
    image = np.full((40, 40, 3), 90, np.uint8)
    before, after = LineDisplay(), LineDisplay()
    for display in (before, after):
        display.part(Outcome("p.png", Verdict.OK, "", 1.0, 2.0, "v1", None), image, 0.01)
    first, second = before.state()["part"], after.state()["part"]
    assert first["seq"] == second["seq"] == 1 and first["picture"] != second["picture"]


def test_every_language_of_the_display_has_every_word_with_the_same_values():
    """A word missing in one language would show "undefined" on that line's monitor."""
    import re

    from station.line_io.display_words import WORDS

    english = WORDS["en"]
    for lang, words in WORDS.items():
        assert set(words) == set(english), (lang, set(english) ^ set(words))
        for key, text in words.items():
            assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", english[key])), (lang, key)


def test_the_english_words_of_an_alarms_figures_are_the_stations_own():
    """The page words a streak's, the yield's and the drift's figures in its language; in English they must read
    as the station's own details (the PLC's AlarmText, the log), whatever the station's wording becomes."""
    from station.line_io.alarms import Alarms, alarm_details
    from station.line_io.display_words import WORDS

    alarms = Alarms(AlarmLimits(ng_streak=2, not_found_streak=2, error_streak=2, yield_window=4, yield_min=0.9,
                                drift_window=5, drift_warn_at=0.5, drift_min_count=3), reference=[1.0] * 10,
                    threshold=2.0)
    raised = {}  # name -> (its message as raised, its figures then)
    for verdict, score, reason in (("NG", 1.9, "score 1.9 >= 1.5"), ("NOT_FOUND", None, "no part in the locate box"),
                                   ("NOT_FOUND", None, "no part in the locate box"),
                                   ("ERROR", None, "no image for the Trigger"), ("ERROR", None, "no image for the "
                                                                                "Trigger"),
                                   ("NG", 1.9, "score 1.9 >= 1.5"), ("NG", 1.95, "score 1.95 >= 1.5")):
        for change in alarms.update(verdict, score, reason):
            if change.raised:
                raised[change.name] = (change.message, dict(alarms.figures[change.name]))
        assert set(alarms.figures) <= set(alarms.active)  # a cleared alarm's figures go with it
    assert set(raised) == {"ng_streak", "not_found_streak", "error_streak", "yield", "drift"}
    english = WORDS["en"]
    for name, (message, figures) in raised.items():
        worded = english["details_" + name].format(**figures) + (
            english["the_last"].format(r=figures["reason"]) if figures.get("reason") else "")
        assert worded == alarm_details(name, message), name
    assert raised["error_streak"][1]["reason"] == "no image for the Trigger" and raised["ng_streak"][1]["reason"] == ""
    display = LineDisplay()
    display.set_alarms(alarms.active, alarms.figures)
    shown = {a["name"]: a["figures"] for a in display.state()["alarms"]}
    assert shown == {name: alarms.figures.get(name) for name in alarms.active} and shown["ng_streak"]["n"] == 2


def test_a_spanish_page_words_an_error_streak_and_keeps_the_stations_reason():
    from station.line_io.alarms import Alarms

    alarms = Alarms(AlarmLimits(error_streak=2, yield_min=None, drift_warn_at=None))
    for _ in range(3):
        alarms.update("ERROR", None, "no image came for the Trigger within 10 s", int(ErrorCode.NO_IMAGE))
    alarms.condition("disk", "the archive's disk has 2.1 GB free, below 5%")  # no figures: its own words
    display = LineDisplay()
    display.set_alarms(alarms.active, alarms.figures)
    server = _serve(display)
    try:
        spanish = rendered(f"http://127.0.0.1:{server.port}/#lang=es")
    finally:
        server.close()
    shown = spanish[spanish.index('id="alarms"'):]
    shown = shown[:shown.index("</div></div>")]
    # the last ERROR's cause in Spanish (its ErrorCode), then the station's reason as it wrote it
    assert "ALARMA errores seguidos: 3 ERROR seguidos (la última: no llegó imagen de esta pieza: no image came for " \
        "the Trigger within 10 s)" in shown
    assert "ALARMA espacio en disco: the archive's disk has 2.1 GB free, below 5%" in shown
