"""`inspector capture`: a live camera's (or a video's) frames saved as PNG files to teach a model with, taken as
`inspector run` will take them: the same source with its settings, the same trigger (a photo-eye and its delay,
a trigger file) and so the same part position. A camera-only line has no other way to its first OK images: a run
needs a model first.

    inspector capture --source "camera:0?width=1920&height=1080" --out ok_images --count 30 \
        --io modbus://10.0.0.20:502 --io-trigger 2:40
    inspector fit PROJECT ok_images

Free-running it saves a frame every `--interval` seconds (the engineer puts the next part in between) or every
`--every`-th frame; with `--io-trigger` the frame of each part the photo-eye sees; with `--trigger FILE` the next
frame whenever FILE appears. A frame identical to the one before (a frozen camera) and a trigger whose frame cannot
be had are said and not saved. Each file is written whole under a temporary name and then renamed; its line says
the frame's size, sharpness, brightness and clipped share (frame_quality.py), to set the camera by.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path

from inference import InspectorError, atomic_write

from .frame_quality import frame_quality
from .sinks import png_of

CAPTURE_POLL_S = 0.2  # how long one look for a frame or a trigger waits


def capture_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="inspector capture", description=__doc__.split("\n\n")[0])
    p.add_argument("--source", required=True, metavar="camera:N[?SETTINGS]|VIDEO",
                   help="a camera with its settings (camera:0?width=1920&height=1080) or a video file")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="the folder the PNG files go into")
    p.add_argument("--count", type=int, default=20, metavar="N", help="stop after N images (default 20)")
    p.add_argument("--interval", type=float, default=None, metavar="S",
                   help="free-running: a frame every S seconds (default: every --every-th frame)")
    p.add_argument("--every", type=int, default=1, metavar="N", help="free-running: every N-th frame")
    p.add_argument("--trigger", type=Path, metavar="FILE", help="the next frame whenever FILE appears")
    p.add_argument("--io", metavar="modbus://HOST:PORT[/UNIT]", help="the remote I/O module of --io-trigger")
    p.add_argument("--io-trigger", metavar="INPUT[:DELAY_MS[:GAP_MS]]",
                   help="a photo-eye on this input: the frame of each part it sees, as inspector run takes it")
    return p


def cmd_capture(args) -> int:
    from station.line_io.io_module import io_module

    from .sources import VideoSource

    if args.count < 1:
        raise InspectorError(f"--count must be at least 1, got {args.count}")
    if args.interval is not None and not args.interval > 0:
        raise InspectorError(f"--interval must be more than 0 seconds, got {args.interval}")
    if args.io_trigger and (args.trigger or args.interval):
        raise InspectorError("--io-trigger goes without --trigger and --interval: the photo-eye triggers the frames")
    if not args.source.startswith("camera:") and not Path(args.source).is_file():
        raise InspectorError(f"--source must be camera:N or a video file, got {args.source!r} (a folder's images "
                             "are files already: teach with them)")
    _, eye = io_module(args.io, trigger=args.io_trigger)
    source = VideoSource(args.source, every=args.every, trigger=args.trigger)  # a bad one refused before the folder
    args.out.mkdir(parents=True, exist_ok=True)
    source.on_message = _say
    if eye is not None:
        eye.on_message = _say
        eye.start()
        print(eye.describe(), flush=True)
    source.start()
    try:
        saved = capture(source, args.out, args.count, eye=eye, interval_s=args.interval)
    finally:
        source.stop()
        if eye is not None:
            eye.close()
    if saved < args.count:
        _say(f"the source ended after {saved} of {args.count} images")
    if saved:
        print(f"{saved} images in {args.out}: teach with `inspector fit PROJECT {args.out}` (the good parts among "
              "them)", flush=True)
    return 0 if saved else 2


def capture(source, out: Path, count: int, eye=None, interval_s=None) -> int:
    """Frames of `source` saved into `out` until `count` are or the source ends: each frame the photo-eye `eye`
    triggers, or free-running one every `interval_s` seconds (None: each the source gives). How many were saved."""
    saved, last_sha, next_at = 0, None, 0.0
    while saved < count and not source.exhausted:
        if eye is not None:
            trigger = eye.take_trigger()
            if trigger is None:
                eye.wait_for_trigger(CAPTURE_POLL_S)
                continue
            source.frame_after(trigger.frame_after or trigger.taken)
        elif interval_s is not None:
            wait = next_at - time.monotonic()
            if wait > 0:
                time.sleep(min(wait, CAPTURE_POLL_S))
                continue
        batch = _next_frame(source, wait_for_it=eye is not None)
        if not batch:
            continue
        item = batch[0]
        if item.image is None:
            _say(f"WARNING: not saved: {item.extra.get('error', 'no frame')}")
            continue
        if item.sha256 == last_sha:
            _say(f"WARNING: not saved: {item.name} is the same image as the one before, to the bit (a frozen camera?)")
            continue
        last_sha, next_at = item.sha256, time.monotonic() + (interval_s or 0.0)
        path = _write_png(out, item)
        saved += 1
        print(f"{saved}/{count} {path.name}: {frame_quality(item.image).text()}", flush=True)
    return saved


def _next_frame(source, wait_for_it: bool) -> list:
    """The next item; a trigger's frame is waited for (it comes within a few frame times, or is said gone)."""
    while True:
        batch = source.next_batch(1, timeout=CAPTURE_POLL_S)
        if batch or not wait_for_it or source.exhausted or source.problem:
            return batch


def _write_png(out: Path, item) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
    path = out / f"{item.name}_{stamp}.png"
    atomic_write(path, png_of(item.image, item.name))  # whole, under its name, or not there: a fit never reads half
    return path


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


__all__ = ["capture", "capture_parser", "cmd_capture"]
