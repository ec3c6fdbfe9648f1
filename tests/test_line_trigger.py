"""Triggered mode when an image never comes or comes late (inspector_line/trigger_sync.py).

Before, a Trigger whose image never came left Busy on for ever: the PLC could not trigger the next part. Now it
is answered ERROR after --trigger-timeout; and where images come after their Triggers, an image late for a
timed-out Trigger answers no Trigger, so that the next part is judged by its own image.

The PLC is the station's own Handshake driven from the test (the side the Modbus and OPC UA adapters write); the
folder, runner, engine and history are real.
"""

import threading
import time

import pytest

from inference import Verdict
from inspector_line.runner import RunOptions, Runner
from inspector_line.sources import FolderSource
from line_helpers import make_project, part, png_bytes
from station import ErrorCode, Station
from station.history import History
from station.line_io.handshake import Handshake


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("trigger") / "proj")


class Line:
    """A triggered run on a watched folder, and the PLC's side of its handshake."""

    def __init__(self, project, tmp_path, timeout_s, **options):
        engine, folder = project
        self.inbox = tmp_path / "inbox"
        self.inbox.mkdir()
        self.history = History(tmp_path / "h.sqlite")
        self.plc = Handshake()
        self.messages, self.stop = [], threading.Event()
        self.runner = Runner(Station(folder, engine, history=self.history),
                             FolderSource(self.inbox, settle_s=0.05, poll_s=0.02),
                             RunOptions(plcs=[self.plc], free_run=False, trigger_timeout_s=timeout_s, **options),
                             on_message=self.messages.append)
        self.thread = threading.Thread(target=self.runner.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def write(self, name, scratch=False):
        """The camera's image of the next part (each part its own: a repeated image is a frozen camera's)."""
        self._parts = getattr(self, "_parts", 0) + 1
        tmp = self.inbox / f".{name}.tmp"
        tmp.write_bytes(png_bytes(part(700 + self._parts, scratch)))
        tmp.rename(self.inbox / name)

    def cycle(self, part_id, image=None, scratch=False, timeout=30):
        """PartId, Trigger; once the station took it (Busy), the camera writes `image`; the result, then Ack."""
        self.plc.plc_write(part_id=part_id)
        self.plc.plc_write(trigger=True)
        deadline = time.monotonic() + timeout
        while not (self.plc.state.busy or self.plc.state.result_ready):
            assert time.monotonic() < deadline, "the Trigger was not taken"
            time.sleep(0.005)
        if image:
            time.sleep(0.02)  # the camera's exposure and transfer: the image completes after the Trigger
            self.write(image, scratch)
        while not self.plc.state.result_ready:
            assert time.monotonic() < deadline, f"no result for {part_id}: Busy {self.plc.state.busy}"
            time.sleep(0.005)
        state = self.plc.state
        self.plc.plc_write(ack=True)
        return state

    def close(self):
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()
        rows = sorted(self.history.query(limit=1000), key=lambda r: r.id)
        self.history.close()
        return rows


def test_a_trigger_whose_image_never_comes_is_answered_error_and_the_line_goes_on(project, tmp_path):
    line = Line(project, tmp_path, timeout_s=1.0)
    try:
        first = line.cycle("A", "a.png")
        missing = line.cycle("B")  # the camera missed this Trigger
        after = line.cycle("C", "c.png", scratch=True)
    finally:
        rows = line.close()
    assert first.verdict == Verdict.OK.code
    assert missing.verdict == Verdict.ERROR.code and missing.sequence == first.sequence + 1
    assert (first.error_code, missing.error_code, after.error_code) == (0, ErrorCode.NO_IMAGE, 0)
    assert after.verdict == Verdict.NG.code and after.sequence == missing.sequence + 1
    assert [(r.part_id, r.verdict) for r in rows] == [("A", Verdict.OK), ("B", Verdict.ERROR), ("C", Verdict.NG)]
    assert "no image came within 1 s of the PLC's trigger" in rows[1].error


def test_an_image_late_for_a_timed_out_trigger_answers_no_trigger(project, tmp_path):
    """Five parts teach the runner that images come after their Triggers. Then part F's image comes after F timed
    out: it is recorded under F, and G is judged by G's own (scratched) image, not by F's."""
    line = Line(project, tmp_path, timeout_s=1.0)
    try:
        for n in range(5):
            assert line.cycle(f"P{n}", f"p{n}.png").verdict == Verdict.OK.code
        timed_out = line.cycle("F")
        line.write("f.png")  # F's image, late
        time.sleep(0.3)  # complete before G's Trigger
        g = line.cycle("G", "g.png", scratch=True)
    finally:
        rows = line.close()
    assert timed_out.verdict == Verdict.ERROR.code
    assert g.verdict == Verdict.NG.code and g.sequence == timed_out.sequence + 1  # the late image answered nothing
    late = next(r for r in rows if r.file_name == "f.png")
    assert late.part_id == "F" and late.verdict == Verdict.ERROR and "after its Trigger had timed out" in late.error
    assert [(r.file_name, r.part_id) for r in rows if r.part_id == "G"] == [("g.png", "G")]


def test_a_trigger_while_the_source_is_gone_is_answered_at_once(project, tmp_path):
    import shutil

    line = Line(project, tmp_path, timeout_s=0)  # no timeout: only the gone folder answers it
    try:
        line.cycle("A", "a.png")
        shutil.rmtree(line.inbox)
        gone = line.cycle("B")
    finally:
        rows = line.close()
    assert gone.verdict == Verdict.ERROR.code and gone.error_code == ErrorCode.NO_IMAGE
    assert rows[-1].part_id == "B" and "no image can come: the source folder" in rows[-1].error


def test_an_image_named_for_another_part_is_never_judged_as_the_triggers_part(project, tmp_path):
    """With the PLC's part id and --part-id-pattern both, they must agree (000123 is 123): an image named for
    another part answers ERROR, never another part's verdict."""
    line = Line(project, tmp_path, timeout_s=5.0, part_id_pattern=r"^SN(\d+)_")
    try:
        same = line.cycle("123", "SN000123_top.png")
        other = line.cycle("124", "SN000125_top.png", scratch=True)
        next_one = line.cycle("126", "SN126_top.png", scratch=True)
    finally:
        rows = line.close()
    assert same.verdict == Verdict.OK.code and next_one.verdict == Verdict.NG.code
    assert other.verdict == Verdict.ERROR.code and other.error_code == ErrorCode.PART_MISMATCH
    assert rows[1].part_id == "124" and rows[1].file_name == "SN000125_top.png"
    assert "is part 000125 (--part-id-pattern) but the PLC's Trigger is for part 124" in rows[1].error


def test_a_recipe_the_station_does_not_have_is_an_error_never_another_products_verdict(project, tmp_path):
    """Without --recipe the station has recipe 0 alone: a PLC that asks for recipe 2 (a product variant this
    station was not set up for) gets ERROR with ErrorCode 6 for that part, whose image is recorded and consumed;
    before, the part was judged with recipe 0's model and the PLC got its OK."""
    line = Line(project, tmp_path, timeout_s=1.5)
    try:
        line.plc.plc_write(recipe=2)
        asked = line.cycle("A", "a.png")
        no_image = line.cycle("N")  # recipe 2 again, and the camera missed it: still the recipe that is said
        line.plc.plc_write(recipe=0)
        back = line.cycle("B", "b.png")
    finally:
        rows = line.close()
    assert (asked.verdict, asked.error_code) == (Verdict.ERROR.code, ErrorCode.UNKNOWN_RECIPE)
    assert (no_image.verdict, no_image.error_code) == (Verdict.ERROR.code, ErrorCode.UNKNOWN_RECIPE)
    assert "recipe 2" in rows[1].error and "no image came" in rows[1].error
    rows = [r for r in rows if r.part_id != "N"]
    assert (back.verdict, back.error_code) == (Verdict.OK.code, 0) and back.sequence == asked.sequence + 2
    assert [(r.part_id, r.file_name, r.verdict) for r in rows] == [("A", "a.png", Verdict.ERROR),
                                                                   ("B", "b.png", Verdict.OK)]
    assert "the PLC asks for recipe 2; this station has recipes 0..0" in rows[0].error
    assert any("WARNING: the PLC asks for recipe 2" in m for m in line.messages)
