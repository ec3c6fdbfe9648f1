"""A camera program that writes its last image again under the next part's name: the repeat is an ERROR naming the
image it repeats, never judged, in arrival order with the parts around it; a video file's identical frames (a still
scene) are judged as frames. The live camera's frozen frames: tests/test_line_camera.py."""

import cv2
import numpy as np

from inspector_line.runner import RunOptions, Runner
from inspector_line.sources import FolderSource, VideoSource
from line_helpers import make_project, part, png_bytes
from station import ErrorCode, Station
from station.line_io.handshake import Handshake
from station.history import History


def test_the_same_file_again_under_the_next_name_is_an_error_and_the_next_part_is_judged(tmp_path):
    engine, project = make_project(tmp_path / "project")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    same = png_bytes(part(41))
    for name, data in (("p1.png", png_bytes(part(40))), ("p2.png", same), ("p3.png", same), ("p4.png", same),
                       ("p5.png", png_bytes(part(42, scratch=True))), ("p6.png", same)):
        (inbox / name).write_bytes(data)
    plc, codes = Handshake(), {}  # a free-running PLC reads each result's ErrorCode: 4, a repeated image
    plc.subscribe(lambda s: s.sequence and codes.setdefault(s.sequence, s.error_code))
    with History(tmp_path / "h.sqlite") as history:
        summary = Runner(Station(project, engine, history=history), FolderSource(inbox, settle_s=0.1),
                         RunOptions(idle_exit_s=0.5, plcs=[plc], free_run=True)).run()
        rows = {r.file_name: r for r in history.query()}
    assert [rows[f"p{i}.png"].verdict for i in range(1, 7)] == ["OK", "OK", "ERROR", "ERROR", "NG", "OK"]
    assert [codes[n] for n in range(1, 7)] == [0, 0, ErrorCode.REPEATED_IMAGE, ErrorCode.REPEATED_IMAGE, 0, 0]
    assert rows["p3.png"].reason.startswith("the same image as the part before (p2.png), to the bit: not judged")
    assert "(p2.png)" in rows["p4.png"].reason  # each repeat names the capture it repeats
    assert rows["p3.png"].score is None and summary.counts.error == 2


def test_a_video_files_identical_frames_are_judged(tmp_path):
    engine, project = make_project(tmp_path / "project")
    video = tmp_path / "still.avi"
    frame = np.ascontiguousarray(part(50)[..., ::-1])
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, frame.shape[1::-1])
    for _ in range(4):
        writer.write(frame)
    writer.release()
    with History(tmp_path / "h.sqlite") as history:
        summary = Runner(Station(project, engine, history=history), VideoSource(str(video)), RunOptions()).run()
        rows = history.query()
    assert len({r.sha256 for r in rows}) == 1 and len(rows) == 4  # the same pixels four times, each judged
    assert summary.counts.error == 0 and all(r.verdict == "OK" for r in rows)
