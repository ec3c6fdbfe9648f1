"""How soon the reject coil follows a part's result (`inspector run --io`, station/line_io/remote_io.py): from the
Publisher handing a part over to the remote I/O module taking the coil's write, over Modbus TCP on this PC.

Prints figures; never passes or fails on them (tests/test_line_remote_io.py checks the behaviour). The module is a
real Modbus TCP server (pymodbus, tests/io_module.py) on 127.0.0.1; N NG parts are handed over 50 ms apart (a
20-part-a-second line; each pulse 20 ms, so none overlap), and each write's time is taken where the server takes
it. A module on the line's network adds its own answer time (a few ms for most).
    python bench/bench_remote_io.py [--n 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from inference import Verdict  # noqa: E402
from io_module import IOModule  # noqa: E402
from line_helpers import free_port  # noqa: E402
from station import Outcome  # noqa: E402
from station.line_io.remote_io import Output, RemoteIO  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=200)
    args = p.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f}")
    module = IOModule(free_port()).start()
    io = RemoteIO(f"modbus://127.0.0.1:{module.port}", reject=Output(0, 0.02), on_message=print)
    io.start()
    handed = []
    try:
        time.sleep(0.5)  # connected before the first part
        for i in range(args.n):
            handed.append(time.monotonic())
            io.publish_result(Outcome(f"p{i}.png", Verdict.NG, "", 9.0, 5.0, "v1", None))
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        io.close()
        module.stop()
    ons = [when for when, coil, value in module.writes if coil == 0 and value]
    delays = [1000 * (on - at) for at, on in zip(handed, ons)]
    print(f"{len(ons)} reject pulses for {args.n} NG parts; hand-over to the module's write: median "
          f"{statistics.median(delays):.2f} ms, p99 {sorted(delays)[int(0.99 * (len(delays) - 1))]:.2f} ms, "
          f"max {max(delays):.2f} ms")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
