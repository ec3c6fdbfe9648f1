"""Part ids (serial numbers) taken from file names: `--part-id-pattern REGEX` of the CLI and the run mode."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from inference import InspectorError


class PartIdPattern:
    """A regular expression searched in an image's file name: its first group (or, without groups, the whole
    match) is the part id; a name it does not match has none."""

    def __init__(self, pattern: str):
        try:
            self.regex = re.compile(pattern)
        except re.error as exc:
            raise InspectorError(f"--part-id-pattern {pattern!r} is not a regular expression ({exc})") from None
        self.pattern = pattern

    def __call__(self, name) -> Optional[str]:
        match = self.regex.search(Path(str(name)).name)
        if match is None:
            return None
        return match.group(1) if self.regex.groups else match.group(0)


def checked_part_id(value: Optional[str]) -> Optional[str]:
    """A part id given by a person or a program: printable text of at most 64 characters (a PLC reads 40)."""
    if value is None or value == "":
        return None
    text = str(value)
    if len(text) > 64 or not text.isprintable():
        raise InspectorError(f"part id {text[:70]!r} must be printable text of at most 64 characters")
    return text
