"""How soon a part the photo-eye sees is judged and rejected (`inspector run --source camera:N --io ... --io-trigger
INPUT:DELAY_MS`): from the input's edge to the run taking the trigger, to the first frame that began after the
edge plus the delay, and to the reject coil's write.

Prints figures; never passes or fails on them (tests/test_line_photo_eye.py checks the behaviour). The module is
a real Modbus TCP server (pymodbus, tests/io_module.py) on 127.0.0.1; the camera is tests/fake_camera.py's (50
frames a second, buffered as V4L2 does; no camera is attached here), put in place of cv2.VideoCapture; the runner,
the grabber, the engine (the tests' tiny model at 64 px) and the history are the real ones. N scratched parts pass
the sensor SPACING seconds apart; each is NG, so each pulses the reject coil.
With --gate-ms G each reject starts G ms after its part's edge (`--io-reject 0:20@G`, a gate downstream).
    python bench/bench_photo_eye.py [--n 40] [--spacing 0.25] [--delay-ms 40] [--gate-ms 300]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import cv2  # noqa: E402

from fake_camera import BufferingCamera, Scene  # noqa: E402
from inspector_line.runner import RunOptions, Runner  # noqa: E402
from inspector_line.sources import VideoSource  # noqa: E402
from io_module import IOModule  # noqa: E402
from line_helpers import free_port, make_project, part  # noqa: E402
from station import Station  # noqa: E402
from station.history import History  # noqa: E402
from station.line_io.photo_eye import Input, PhotoEye  # noqa: E402
from station.line_io.remote_io import Output, RemoteIO  # noqa: E402


def _stats(name: str, values_ms: list[float]) -> str:
    ordered = sorted(values_ms)
    return (f"{name}: median {statistics.median(ordered):.1f} ms, p90 {ordered[int(0.9 * (len(ordered) - 1))]:.1f} "
            f"ms, max {ordered[-1]:.1f} ms")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=40)
    p.add_argument("--spacing", type=float, default=0.25)
    p.add_argument("--delay-ms", type=float, default=40.0)
    p.add_argument("--gate-ms", type=float, default=None)
    args = p.parse_args()
    delay = args.delay_ms / 1000
    print(f"load before: {os.getloadavg()[0]:.2f}")
    scene = BufferingCamera.scene = Scene()
    cv2.VideoCapture = BufferingCamera
    with tempfile.TemporaryDirectory() as tmp:
        engine, proj = make_project(Path(tmp) / "proj")
        module = IOModule(free_port()).start()
        address = f"modbus://127.0.0.1:{module.port}"
        eye, io = PhotoEye(address, Input(2, delay)), RemoteIO(address, reject=Output(
            0, 0.02, None if args.gate_ms is None else args.gate_ms / 1000))
        parts, taken, stop = [], [], threading.Event()
        with History(Path(tmp) / "h.sqlite") as history:
            runner = Runner(Station(proj, engine, history=history), VideoSource("camera:0"),
                            RunOptions(free_run=False, photo_eyes=[eye], outputs=[io]), on_part=parts.append)
            take = runner.triggers.take

            def timed_take(station):  # when the run took each trigger
                trigger, station = take(station)
                if trigger is not None:
                    taken.append(time.monotonic())
                return trigger, station

            runner.triggers.take = timed_take
            eye.start()
            io.start()
            thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
            thread.start()
            edges = []
            try:
                time.sleep(1.0)
                for i in range(args.n):
                    scene.part_arrives(part(1600 + i, scratch=True), time.monotonic() + delay)
                    edges.append(module.set_input(2, True))
                    time.sleep(0.03)
                    module.set_input(2, False)
                    time.sleep(args.spacing - 0.03)
                time.sleep(1.0)
            finally:
                stop.set()
                thread.join(30)
                eye.close()
                io.close()
                module.stop()
    exposed = [scene.exposed[hashlib.sha256(p.image.tobytes()).hexdigest()] for p in parts if p.image is not None]
    rejects = [when for when, coil, value in module.writes if coil == 0 and value]
    print(f"{len(edges)} parts passed the photo-eye ({args.spacing:g} s apart, delay {args.delay_ms:g} ms); "
          f"{'' if args.gate_ms is None else f'gate {args.gate_ms:g} ms; '}{len(parts)} inspected "
          f"({sum(p.verdict == 'NG' for p in parts)} NG), {len(rejects)} reject pulses")
    print(_stats("edge -> trigger taken by the run", [1000 * (t - e) for e, t in zip(edges, taken)]))
    print(_stats("edge + delay -> exposure of the frame judged",
                 [1000 * (x - e - delay) for e, x in zip(edges, exposed)]))
    print(_stats("edge -> reject coil written", [1000 * (r - e) for e, r in zip(edges, rejects)]))
    print(f"frames exposed before their part was in view: {sum(x < e + delay for e, x in zip(edges, exposed))}")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
