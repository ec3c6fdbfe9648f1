"""How soon the watched folder hands out a part, and in what order: FolderSource alone (no model), fed at a pace.

    PYTHONPATH=. python bench/bench_folder_events.py [--parts 2000] [--pace 40] [--how rename|move-out|move-in]

`rename`: each part written as `.name.tmp` in the folder, then renamed into place (the README's advice).
`move-out`: the same, and each part moved out of the folder as soon as it is handed out (what `--move` does).
`move-in`: each part written in another folder of the same disk, then moved in.
Prints the time from the rename to the hand-out (p50, p95, max) and how many parts were handed out after a later
one. Linux (inotify); elsewhere the settle decides. Prints figures; passes or fails nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inspector_line.sources import FolderSource  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", type=int, default=2000)
    ap.add_argument("--pace", type=float, default=40.0, help="parts per second")
    ap.add_argument("--how", choices=("rename", "move-out", "move-in"), default="rename")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="folder_events_"))
    inbox, elsewhere, archive = work / "inbox", work / "camera", work / "archive"
    for folder in (inbox, elsewhere, archive):
        folder.mkdir()
    renamed_at: dict[str, float] = {}

    def feed() -> None:
        start = time.monotonic()
        for i in range(args.parts):
            name = f"part_{i:06d}.png"
            tmp = (elsewhere if args.how == "move-in" else inbox) / f".{name}.tmp"
            tmp.write_bytes(os.urandom(3000))
            os.replace(tmp, inbox / name)
            renamed_at[name] = time.monotonic()
            delay = start + (i + 1) / args.pace - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    source = FolderSource(inbox, settle_s=0.5)
    source.start()
    writer = threading.Thread(target=feed)
    writer.start()
    handed: list[tuple[str, float]] = []
    deadline = time.monotonic() + args.parts / args.pace + 60
    try:
        while len(handed) < args.parts and time.monotonic() < deadline:
            for item in source.next_batch(8, 1.0):
                handed.append((item.name, time.monotonic()))
                if args.how == "move-out":
                    os.replace(item.path, archive / item.name)
    finally:
        writer.join()
        source.stop()
    waited = np.array([t - renamed_at[name] for name, t in handed]) * 1000.0
    late = sum(1 for (a, _), (b, _) in zip(handed, handed[1:]) if b < a)
    print(f"{args.how}: {len(handed)} of {args.parts} parts at {args.pace:g}/s; rename -> handed out "
          f"p50 {np.percentile(waited, 50):.1f} ms, p95 {np.percentile(waited, 95):.1f} ms, max {waited.max():.1f} ms; "
          f"{late} handed out after a later part; load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
