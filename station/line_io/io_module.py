"""The remote I/O module as a line engineer sets it up (`inspector run`'s --io flags, the Run view's Outputs…
fields: COIL, COIL:MS and INPUT:DELAY_MS text): the outputs the station drives (remote_io.py) and the photo-eye
that triggers it (photo_eye.py), each checked in one line that names its setting."""

from __future__ import annotations

from typing import Optional

from inference import InspectorError

from .photo_eye import PhotoEye, parse_trigger
from .remote_io import FLAGS, RemoteIO, parse_address, parse_output


def io_module(url: Optional[str], reject: Optional[str] = None, ok: Optional[str] = None,
              alarm: Optional[str] = None, ready: Optional[str] = None, trigger: Optional[str] = None,
              names: dict = FLAGS, on_message=None) -> tuple[Optional[RemoteIO], Optional[PhotoEye]]:
    """(the outputs, the photo-eye), each None where not given; `names`: how messages name each setting."""
    given = {"reject": reject, "ok": ok, "alarm": alarm, "ready": ready}
    if not url:
        named = [names[key] for key, value in {**given, "trigger": trigger}.items() if value]
        if named:
            raise InspectorError(f"{named[0]} goes with {names['io']} modbus://HOST:PORT (the remote I/O module)")
        return None, None
    parse_address(url, names["io"])
    outputs = {key: parse_output(value, names[key], pulse=key in ("reject", "ok")) for key, value in given.items()
               if value}
    eye = PhotoEye(url, parse_trigger(trigger, names["trigger"]), on_message=on_message, names=names) \
        if trigger else None
    if not outputs and eye is not None:  # a photo-eye alone: the verdicts go to the display, MQTT, the history
        return None, eye
    return RemoteIO(url, on_message=on_message, names=names, **outputs), eye


__all__ = ["io_module"]
