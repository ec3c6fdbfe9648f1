"""Delivery that survives (issue 20): results wait in the history's outbox until the receiver acknowledges them.

A receiver down for 30 parts then back gets all 30, in order, once; a run killed with results pending loses
none (the restart delivers them; the result owed is committed with its history row); a full outbox drops the oldest and says so; a refused result is kept as failed.
"""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from station import Station
from station.history import History
from station.line_io.outbox import DeliveryError, Outbox
from inspector_line.runner import RunOptions, Runner
from inspector_line.sources import FolderSource
from line_helpers import Receiver, free_port, make_project, part, png_bytes, wait_until

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("outbox") / "proj")


def _inbox(folder: Path, n: int, start: int = 0) -> list[str]:
    folder.mkdir(exist_ok=True)
    names = [f"p_{i:03d}.png" for i in range(start, start + n)]
    for i, name in enumerate(names):
        (folder / name).write_bytes(png_bytes(part(500 + start + i)))
    return names


def test_receiver_down_for_30_parts_then_back_gets_all_30_in_order_once(project, tmp_path):
    engine, proj = project
    names = _inbox(tmp_path / "inbox", 30)
    receiver = Receiver(free_port())
    messages, stop = [], threading.Event()
    history = History(tmp_path / "h.sqlite")

    def outage_then_back():
        while history.count() < 30:  # all 30 inspected while nobody listens
            time.sleep(0.05)
        time.sleep(0.3)
        receiver.start()
        deadline = time.monotonic() + 60
        while len(receiver.received) < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # anything sent twice would arrive now
        stop.set()

    helper = threading.Thread(target=outage_then_back, daemon=True)
    helper.start()
    try:
        runner = Runner(Station(proj, engine, history=history), FolderSource(tmp_path / "inbox", settle_s=0.2),
                        RunOptions(post_url=receiver.url), on_message=messages.append)
        summary = runner.run(stop)
        helper.join(timeout=5)
        rows = history.query(descending=False)
    finally:
        receiver.stop()
        history.close()
    assert len(rows) == 30
    assert [p["id"] for p in receiver.received] == [r.id for r in rows]  # all, in order, once
    assert [p["file_name"] for p in receiver.received] == sorted(names) == [r.file_name for r in rows]
    (stats,) = summary.delivery
    assert (stats.sent, stats.pending, stats.failed, stats.dropped) == (30, 0, 0, 0)
    assert any("cannot deliver to" in m for m in messages) and any("is back" in m for m in messages)


def test_a_result_sent_again_after_a_lost_acknowledgement_carries_the_same_key(tmp_path):
    """The receiver took the result but its answer never came (here: a 503 after reading it): the outbox sends it
    again, and the receiver tells the duplicate by its Idempotency-Key, the result's own id, which is the same."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from types import SimpleNamespace

    from station.line_io.outbox import HttpReceiver
    from station.line_io.publisher import result_payload

    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            seen.append((self.headers.get("Idempotency-Key"), body["result_id"], body["id"]))
            self.send_response(503 if len(seen) % 2 else 200)  # each result: lost the first time, taken the next
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    box = Outbox(tmp_path / "h.sqlite", HttpReceiver(f"http://127.0.0.1:{server.server_address[1]}/r"),
                 backoff_s=(0.01, 0.05))
    try:
        box.start()
        for project in ("a", "b"):  # two projects' first rows: the same row id
            outcome = SimpleNamespace(row_id=1, to_dict=lambda: {"verdict": "OK"}, verdict=SimpleNamespace(code=1))
            box.put(result_payload(outcome, time.time(), project=project))
        wait_until(lambda: len(seen) >= 4, "each result taken the second time")
    finally:
        box.close()
        server.shutdown()
        server.server_close()
    assert len(seen) == 4 and all(key == result_id for key, result_id, _ in seen)
    assert seen[0][0] == seen[1][0] != seen[2][0] == seen[3][0]  # the retry: the same key; another result: another
    assert [row for _, _, row in seen] == [1, 1, 1, 1]


def _cli(proj: Path, inbox: Path, history: Path, url: str, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "inspector_cli.entry", "run", str(proj), "--source", str(inbox),
                             "--settle", "0.2", "--history", str(history), "--post", url, *extra],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_killed_with_results_pending_loses_none(project, tmp_path):
    """kill -9 in the middle of the run, nobody listening: every part with a history row is delivered after the
    restart, in order, once (its result was kept in the outbox in the row's own transaction)."""
    engine, proj = project
    _inbox(tmp_path / "inbox", 12)
    history = tmp_path / "h.sqlite"
    receiver = Receiver(free_port())
    proc = _cli(proj, tmp_path / "inbox", history, receiver.url, "--batch-size", "1")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if history.exists():
                with History(history) as h:
                    if h.count() >= 5:
                        break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.01)
    finally:
        proc.kill()  # kill -9 mid-run, with results pending
        proc.communicate(timeout=30)
    with History(history) as h:
        before = h.count()
    assert 5 <= before < 12
    receiver.start()
    try:
        proc = _cli(proj, tmp_path / "inbox", history, receiver.url, "--idle-exit", "2")
        out, err = proc.communicate(timeout=120)
    finally:
        receiver.stop()
    assert proc.returncode == 0, err
    with History(history) as h:
        rows = h.query(descending=False)
    assert len(rows) == 12 and f"{12 - before} inspected" in out  # nothing inspected twice
    assert [p["id"] for p in receiver.received] == [r.id for r in rows]  # the backlog first, in order, once
    assert "left by an earlier run" in err and "12 sent, 0 pending, 0 failed" in out


def test_the_result_owed_is_committed_with_its_row_or_not_at_all(project, tmp_path):
    engine, proj = project
    names = _inbox(tmp_path / "inbox", 3)
    dead = f"http://127.0.0.1:{free_port()}/results"  # nobody listens: everything stays in the outbox
    with History(tmp_path / "h.sqlite") as history:
        Runner(Station(proj, engine, history=history), FolderSource(tmp_path / "inbox", settle_s=0.2),
               RunOptions(post_url=dead, idle_exit_s=0.5)).run()
        rows = history.query(descending=False)
        box = Outbox(tmp_path / "h.sqlite", _Fake())  # another receiver: a second table user, same database

        def crash(db, row_id):  # a crash inside the transaction, after both inserts
            box.store(db, {"id": row_id})
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            history.record(source="t", file_name="x.png", verdict="OK", score=1.0, also=crash)
        assert history.count() == 3  # no row ...
        box.close()
    import sqlite3

    db = sqlite3.connect(tmp_path / "h.sqlite")
    owed = [json.loads(p) for (p,) in db.execute("SELECT payload FROM outbox WHERE target = ? ORDER BY id", (dead,))]
    others = db.execute("SELECT COUNT(*) FROM outbox WHERE target != ?", (dead,)).fetchone()[0]
    db.close()
    assert [p["id"] for p in owed] == [r.id for r in rows] and [p["file_name"] for p in owed] == names
    assert [p["verdict"] for p in owed] == [r.verdict for r in rows]
    assert others == 0  # ... and no result owed for it


class _Fake:
    """A receiver that is down until `up` is set, refuses payloads marked 'bad', and records the rest."""

    def __init__(self):
        self.target, self.up, self.got = "fake://r", False, []

    def send(self, payload):
        if payload.get("bad"):
            raise DeliveryError("HTTP 400", permanent=True)
        if not self.up:
            raise DeliveryError("connection refused")
        self.got.append(payload["n"])

    def close(self):
        pass


def test_full_outbox_drops_the_oldest_and_counts_it_refused_results_are_failed(tmp_path):
    messages = []
    fake = _Fake()
    box = Outbox(tmp_path / "h.sqlite", fake, max_pending=5, on_message=messages.append, backoff_s=(0.01, 0.05))
    box.start()
    for n in range(8):
        box.put({"n": n})
    stats = box.stats()
    assert (stats.pending, stats.dropped) == (5, 3)
    (full,) = [m for m in messages if "full" in m]  # one warning for the first drop, not one per drop
    assert "1 dropped so far" in full
    box.put({"n": 8, "bad": True})  # drops n=3
    fake.up = True
    deadline = time.monotonic() + 10
    while box.stats().pending and time.monotonic() < deadline:
        time.sleep(0.01)
    box.close()
    assert fake.got == [4, 5, 6, 7]
    stats = box.stats()
    assert (stats.sent, stats.pending, stats.failed, stats.dropped) == (4, 0, 1, 4)
    # A new outbox on the same database sees nothing pending; the refused result is kept as 'failed'.
    again = Outbox(tmp_path / "h.sqlite", _Fake())
    assert again.stats().pending == 0
    again.close()
