"""A station left running: does `inspector run` (or `inspector serve`) hold its memory, files and threads over
tens of thousands of parts?

    PYTHONPATH=. python bench/bench_soak.py --parts 20000 [--pace 60] [--mode run|serve|gui|video] [--size 64]

`run`: the real `inspector run` command in a process of its own, everything on that a line uses: a watched folder
(`--move` into `--archive`), the Modbus TCP and OPC UA handshake free-running, MQTT to a real mosquitto (started here on
127.0.0.1), Prometheus metrics, history retention (`--keep-rows`). A feeder renames synthetic parts into the
folder at `--pace` parts/s (one in 20 scratched), and an MQTT client counts what arrives.
`serve`: the real `inspector serve` in a process of its own; a client POSTs each part to `/projects/NAME/infer`
with its part id (`--mqtt` on too), at the same pace.
`gui`: the window's Run view (offscreen, in this process) on a watched folder, as a line engineer leaves it running;
the feeder deletes each file 50 parts after it wrote it (a camera program's clean-up). No MQTT.
`video`: `inspector run` on a video file of `--parts` frames (MJPG, the same 21 parts in turn), MQTT on, as fast as it
goes (`--pace` is not used); the run stops at the file's end.

Every `--sample` seconds it reads the process's resident memory, open file descriptors and threads
(/proc/PID), and the rows inspected. Prints those samples, then: the growth of each over the second half of the
run per 10,000 parts (a least-squares slope: the warm-up's caches are left out), and what the receivers got.
The model is tiny (EfficientNet-Lite0's architecture, random weights, 64 px) so that parts go through quickly;
the engine's own buffers do not grow with the part count at any size. Prints figures; passes or fails nothing.
Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_plc import free_port, tiny_line_project, write_png  # noqa: E402
from inference.synthetic import disc  # noqa: E402

MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


def broker(folder: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc, port


def wait_port(port: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def mqtt_counter(port: int, topic: str) -> tuple[object, dict]:
    """A client that counts the results published on `topic` (and keeps what ERROR results say)."""
    import paho.mqtt.client as mqtt

    got = {"results": 0, "ids": set(), "errors": []}

    def on_message(_c, _u, m):
        if m.topic == topic:
            result = json.loads(m.payload)
            got["results"] += 1
            got["ids"].add(result.get("id"))
            if result.get("verdict") == "ERROR":  # its history row may be gone by the end (--keep-rows)
                got["errors"].append(f"{result.get('file_name')}: {result.get('reason') or result.get('error')}")

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, u, f, rc, p=None: c.subscribe(topic, qos=1)
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client, got


def part_images(folder: Path, size: int) -> list[Path]:
    """20 good discs and one scratched, as PNG files: the feeder cycles through them (never the same twice in a
    row, which the station would take for a frozen camera)."""
    folder.mkdir()
    paths = []
    for i in range(21):
        path = folder / f"p{i:02d}.png"
        write_png(path, disc(5000 + i, scratch=(i == 20), size=size)[0])
        paths.append(path)
    return paths


def write_video(path: Path, images: list[Path], frames: int) -> Path:
    """An MJPG video of `frames` frames: the part images in turn."""
    import cv2

    pictures = [cv2.imread(str(p)) for p in images]
    h, w = pictures[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (w, h))
    for i in range(frames):
        writer.write(pictures[i % len(pictures)])
    writer.release()
    return path


def proc_figures(pid: int) -> tuple[float, int, int]:
    """(resident MiB, open file descriptors, threads) of a process."""
    rss, threads = 0.0, 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024.0
        elif line.startswith("Threads:"):
            threads = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd")), threads


def rows_done(history: Path) -> int:
    """The highest history row id: parts recorded so far (retention deletes old rows; ids keep counting)."""
    try:
        with sqlite3.connect(f"file:{history}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute("SELECT COALESCE(MAX(id), 0) FROM inspections").fetchone()[0])
    except sqlite3.Error:
        return 0


def feed_folder(images: list[Path], inbox: Path, n: int, pace: float, stop: threading.Event,
                clean_after: int = 0) -> None:
    start = time.monotonic()
    for i in range(n):
        if stop.is_set():
            return
        src = images[i % len(images)]
        tmp = inbox / f".part_{i:06d}.tmp"
        shutil.copyfile(src, tmp)
        os.replace(tmp, inbox / f"part_{i:06d}.png")
        if clean_after and i >= clean_after:
            (inbox / f"part_{i - clean_after:06d}.png").unlink(missing_ok=True)
        delay = start + (i + 1) / pace - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def feed_service(images: list[Path], url: str, n: int, pace: float, stop: threading.Event, errors: list) -> None:
    import requests

    start, session = time.monotonic(), requests.Session()
    for i in range(n):
        if stop.is_set():
            return
        src = images[i % len(images)]
        with open(src, "rb") as fh:
            resp = session.post(url, files={"images": (f"part_{i:06d}.png", fh, "image/png")},
                                data={"part_id": f"SN{i:06d}"}, timeout=60)
        if resp.status_code != 200:
            errors.append(f"{i}: HTTP {resp.status_code} {resp.text[:120]}")
        delay = start + (i + 1) / pace - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def slope_per_10k(parts: np.ndarray, values: np.ndarray) -> float:
    half = parts >= parts.max() / 2
    if half.sum() < 3 or np.ptp(parts[half]) == 0:
        return float("nan")
    return float(np.polyfit(parts[half], values[half], 1)[0] * 10000.0)


def report(samples: list, elapsed: float, how_it_ended: str) -> None:
    """The run's figures: parts per second, and memory, open files and threads at the start, at a tenth of the
    parts, at their highest and at the end, with the second half's slope."""
    parts = np.array([s[0] for s in samples], np.float64)
    print(f"\n{int(parts[-1])} parts in {elapsed:.0f} s ({parts[-1] / elapsed:.1f}/s); {how_it_ended}; "
          f"load {os.getloadavg()[0]:.2f}")
    for k, name, unit in ((1, "resident memory", "MiB"), (2, "open files", ""), (3, "threads", "")):
        vals = np.array([s[k] for s in samples], np.float64)
        first = vals[np.searchsorted(parts, parts[-1] * 0.1)] if len(vals) > 1 else vals[0]
        print(f"{name}: first sample {vals[0]:.1f}, at 10% of the parts {first:.1f}, max {vals.max():.1f}, "
              f"end {vals[-1]:.1f} {unit}; second half's slope {slope_per_10k(parts, vals):+.2f} {unit} per 10,000 "
              "parts")


def sample_until_done(args, pid: int, parts_done, feeder: threading.Thread, wait,
                      ended=lambda: False) -> tuple[list, float]:
    """Start `feeder`, then every `args.sample` seconds (`wait`: how to pass them) read the parts done and the
    process's memory, open files and threads, until `args.parts` are done, the process `ended` (its last sample
    stands for the end), or nothing moved for two samples after the last part was fed: (the samples, the seconds
    it took)."""
    print(f"{args.mode}: {args.parts} parts at {args.pace:g}/s, {args.size} px; load {os.getloadavg()[0]:.2f}",
          flush=True)
    print(" elapsed s   parts   RSS MiB   fds  threads", flush=True)
    samples, t0 = [], time.monotonic()
    feeder.start()
    while True:
        done = parts_done()
        if ended():  # a video's last frame: the process is gone
            print(f"{time.monotonic() - t0:9.0f} {done:7d}  (ended)", flush=True)
            if samples:
                samples.append((done,) + samples[-1][1:])
            break
        rss, fds, threads = proc_figures(pid)
        samples.append((done, rss, fds, threads))
        print(f"{time.monotonic() - t0:9.0f} {done:7d} {rss:9.1f} {fds:5d} {threads:8d}", flush=True)
        if done >= args.parts:
            break
        if not feeder.is_alive() and len(samples) > 2 and samples[-3][0] == done:
            print("no progress for two samples after the last part was fed", flush=True)
            break
        wait(args.sample)
    return samples, time.monotonic() - t0


def soak_window(args, project: Path, images: list[Path], work: Path) -> int:
    """The window's Run view on a watched folder, in this process (its memory is this process's)."""
    import gui_window
    from inference import Engine

    app = gui_window.application()
    window = gui_window.window(Engine(), work)

    def settle(until, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not until() and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)

    if not window.open_project(project, ask=False):
        raise SystemExit(f"the window could not open {project}")
    settle(lambda: not window.runner.busy, 120)
    inbox = work / "inbox"
    inbox.mkdir()
    panel = window.open_run_view()
    panel.source_edit.setText(str(inbox))
    if not panel.start():
        raise SystemExit("the Run view did not start")
    done = lambda: panel.last.counts.total if panel.last is not None else 0  # noqa: E731
    stop = threading.Event()
    feeder = threading.Thread(target=feed_folder, args=(images, inbox, args.parts, args.pace, stop, 50), daemon=True)
    print(f"work folder {work}", flush=True)
    samples, elapsed = sample_until_done(args, os.getpid(), done, feeder, lambda s: settle(lambda: False, s))
    stop.set()
    panel.stop()
    settle(lambda: not panel.running, 60)
    report(samples, elapsed, f"the Run view's table holds {panel.table.rowCount()} rows")
    window.close()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", type=int, default=20000)
    ap.add_argument("--pace", type=float, default=60.0, help="parts per second fed")
    ap.add_argument("--mode", choices=("run", "serve", "gui", "video"), default="run")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--keep-rows", type=int, default=5000)
    args = ap.parse_args()
    if MOSQUITTO is None and args.mode != "gui":
        raise SystemExit("mosquitto is not installed (apt-get install -y mosquitto)")
    work = Path(tempfile.mkdtemp(prefix="soak_"))
    projects = work / "projects"
    project = projects / "part"
    tiny_line_project(project, size=args.size)
    images = part_images(work / "images", args.size)
    if args.mode == "gui":
        return soak_window(args, project, images, work)
    mosq, mqtt_port = broker(work)
    topic = "line/soak"
    # The service publishes per project: TOPIC/NAME.
    client, got = mqtt_counter(mqtt_port, f"{topic}/part" if args.mode == "serve" else topic)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    log = open(work / "station.log", "w")
    stop, errors = threading.Event(), []
    if args.mode == "run":
        inbox, archive = work / "inbox", work / "archive"
        inbox.mkdir()
        mb_port, opc_port, metrics_port = free_port(), free_port(), free_port()
        cmd = ["inspector", "run", str(project), "--source", str(inbox), "--archive", str(archive), "--move",
               "--keep-rows", str(args.keep_rows), "--modbus", f"127.0.0.1:{mb_port}",
               "--opcua", f"opc.tcp://127.0.0.1:{opc_port}", "--free-run",
               "--mqtt", f"mqtt://127.0.0.1:{mqtt_port}/{topic}", "--metrics", f"127.0.0.1:{metrics_port}",
               "--quiet", "--alarm-ng", "0", "--alarm-yield", "0"]
        history = project / "history.sqlite"
        station = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_port(metrics_port)
        feeder = threading.Thread(target=feed_folder, args=(images, inbox, args.parts, args.pace, stop), daemon=True)
    elif args.mode == "video":
        video = write_video(work / "line.avi", images, args.parts)
        cmd = ["inspector", "run", str(project), "--source", str(video), "--keep-rows", str(args.keep_rows),
               "--mqtt", f"mqtt://127.0.0.1:{mqtt_port}/{topic}", "--quiet", "--alarm-ng", "0", "--alarm-yield", "0"]
        history = project / "history.sqlite"
        station = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        feeder = threading.Thread(target=lambda: None)
    else:
        port = free_port()
        cmd = ["inspector", "serve", "--projects", str(projects), "--port", str(port),
               "--mqtt", f"mqtt://127.0.0.1:{mqtt_port}/{topic}"]
        history = project / "history.sqlite"
        station = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_port(port)
        url = f"http://127.0.0.1:{port}/projects/part/infer"
        feeder = threading.Thread(target=feed_service, args=(images, url, args.parts, args.pace, stop, errors),
                                  daemon=True)
    print(f"work folder {work}", flush=True)
    samples, elapsed = [], 0.0
    try:
        samples, elapsed = sample_until_done(args, station.pid, lambda: rows_done(history), feeder, time.sleep,
                                             ended=lambda: station.poll() is not None)
    finally:
        stop.set()
        station.send_signal(signal.SIGTERM)
        code = station.wait(timeout=120)
        time.sleep(2)
        client.loop_stop()
        client.disconnect()
        mosq.terminate()
        mosq.wait(timeout=10)
        log.close()
    report(samples, elapsed, f"station exit code {code}")
    print(f"MQTT results received: {got['results']} ({len(got['ids'])} distinct ids) for {samples[-1][0]} parts")
    for line in got["errors"]:
        print(f"ERROR {line}")
    if errors:
        print(f"{len(errors)} requests failed; the first: {errors[0]}")
    tail = (work / "station.log").read_text().strip().splitlines()[-4:]
    print("station's last lines:\n  " + "\n  ".join(tail))
    return 0


if __name__ == "__main__":
    sys.exit(main())
