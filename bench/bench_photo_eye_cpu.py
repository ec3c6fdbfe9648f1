"""What the photo-eye's polling costs the inspection PC (`--io-trigger`: the input read every 5 ms on its own
thread): this process's CPU time over 5 s while it polls a Modbus TCP server (pymodbus, tests/io_module.py) that
runs in another process, as a module on the network would, and how many reads a second it made.

Prints figures; never passes or fails on them.
    python bench/bench_photo_eye_cpu.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from line_helpers import free_port  # noqa: E402
from station.line_io.photo_eye import Input, PhotoEye  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=5.0)
    args = p.parse_args()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", (
        f"import sys, time; sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
        f"from io_module import IOModule\nm = IOModule({port}).start()\n"
        "import threading\nthreading.Event().wait()\n")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)  # the server up
        print(f"load before: {os.getloadavg()[0]:.2f}")
        eye = PhotoEye(f"modbus://127.0.0.1:{port}", Input(0))
        reads = []
        read = eye._read

        def counted():
            reads.append(time.monotonic())
            return read()

        eye._read = counted
        eye.start()
        time.sleep(1)
        t0, c0, n0 = time.monotonic(), time.process_time(), len(reads)
        time.sleep(args.seconds)
        dt, dc, n = time.monotonic() - t0, time.process_time() - c0, len(reads) - n0
        eye.close()
        print(f"photo-eye polling: {100 * dc / dt:.1f} % of one core, {n / dt:.0f} reads a second "
              f"({1000 * dt / max(n, 1):.1f} ms apart)")
        print(f"load after: {os.getloadavg()[0]:.2f}")
    finally:
        server.kill()


if __name__ == "__main__":
    main()
