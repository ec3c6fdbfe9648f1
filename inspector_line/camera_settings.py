"""A live camera's settings, given with its source: `camera:0?width=1920&height=1080&fps=30&fourcc=MJPG&exposure=...`.

OpenCV opens a camera at its driver's default, often 640 x 480 with automatic exposure, whatever the camera can do:
a line taught at 1920 x 1080 would get other pictures than the taught ones, and automatic exposure follows the
part's own brightness (a dark defect brightens the picture). The settings are applied each time the camera is
opened (a camera unplugged and plugged again gets them again) and read back: one the camera did not take is said
in one line (`WARNING: camera:0 did not take width=1920 (gives 1280): ...`) when the run starts and after each
reopening that changes it.

    index, settings = parse_camera("camera:0?width=1920&height=1080")   # SourceError for a bad one
    refused = apply_settings(cap, settings)   # ["width=1920 (gives 1280)", ...]

exposure, gain, focus, auto_exposure and autofocus are passed to the driver as they are, in its own units: on
Linux (V4L2) exposure is in 100 µs steps and auto_exposure=1 is manual, 3 automatic; on Windows exposure is
log2 of seconds (-6: 1/64 s). The camera's own tool (v4l2-ctl --list-ctrls) lists what it takes.
"""

from __future__ import annotations

from typing import Optional
from urllib.parse import parse_qsl

from .source_items import SourceError

# name -> OpenCV's property; applied in this order (the format decides which sizes and rates the camera offers;
# manual exposure is set before the exposure, autofocus off before the focus).
PROPERTIES = ("fourcc", "width", "height", "fps", "auto_exposure", "exposure", "gain", "autofocus", "focus")
_CV_NAMES = {"fourcc": "CAP_PROP_FOURCC", "width": "CAP_PROP_FRAME_WIDTH", "height": "CAP_PROP_FRAME_HEIGHT",
             "fps": "CAP_PROP_FPS", "auto_exposure": "CAP_PROP_AUTO_EXPOSURE", "exposure": "CAP_PROP_EXPOSURE",
             "gain": "CAP_PROP_GAIN", "autofocus": "CAP_PROP_AUTOFOCUS", "focus": "CAP_PROP_FOCUS"}


def parse_camera(spec: str) -> tuple[int, dict]:
    """`camera:N[?name=value&...]` -> (N, {name: value}), in PROPERTIES' order; fourcc a 4-letter code, the rest
    numbers. SourceError, naming what is wrong, for anything else."""
    head, _, query = spec.partition("?")
    try:
        index = int(head.split(":", 1)[1])
    except ValueError:
        raise SourceError(f"camera source must be camera:N with N a number, got {spec!r}") from None
    given: dict = {}
    for name, value in parse_qsl(query, keep_blank_values=True, separator="&"):
        if name not in PROPERTIES:
            raise SourceError(f"{head}: unknown camera setting {name!r} (one of {', '.join(PROPERTIES)})")
        if name == "fourcc":
            if len(value) != 4 or not value.isascii():
                raise SourceError(f"{head}: fourcc needs 4 letters, e.g. MJPG or YUYV, got {value!r}")
            given[name] = value.upper()
            continue
        try:
            number = float(value)
        except ValueError:
            raise SourceError(f"{head}: {name} needs a number, got {value!r}") from None
        if name in ("width", "height", "fps") and not number > 0:
            raise SourceError(f"{head}: {name} must be more than 0, got {value!r}")
        given[name] = number
    return index, {name: given[name] for name in PROPERTIES if name in given}


def apply_settings(cap, settings: dict) -> list[str]:
    """Each setting set on an opened VideoCapture and read back: what the camera did not take, as `name=value
    (gives X)`, in the order applied."""
    import cv2

    refused = []
    for name, value in settings.items():
        prop = getattr(cv2, _CV_NAMES[name])
        wanted = cv2.VideoWriter_fourcc(*value) if name == "fourcc" else value
        cap.set(prop, wanted)
        got = cap.get(prop)
        if name == "fourcc":
            if int(got) != wanted:
                refused.append(f"fourcc={value} (gives {_fourcc_text(got)})")
        elif not _close(got, value):
            refused.append(f"{name}={value:g} (gives {got:g})")
    return refused


def _close(got: float, wanted: float) -> bool:
    return abs(got - wanted) <= max(1e-6, 0.01 * abs(wanted))  # a driver's rate of 29.97 for 30 is taken


def _fourcc_text(code: Optional[float]) -> str:
    value = int(code or 0)
    text = "".join(chr((value >> (8 * i)) & 0xFF) for i in range(4))
    return text if value and text.isprintable() else "unknown"


__all__ = ["PROPERTIES", "apply_settings", "parse_camera"]
