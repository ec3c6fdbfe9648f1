"""Free space on the disks a line writes to: the floor it keeps free there, and what is wrong when it cannot.

A line that runs for months fills its disk with archived images and history rows; when the history can no longer
be written the line stops (a result owed to the history is never dropped). So the line keeps a floor of free
space (`--min-free`, default 5 % of the disk): the archive's oldest images make room for new ones
(inspector_line/archive_keeper.py), and the `disk` alarm rises (PLC Alarm bit, MQTT, metrics) while a disk it
writes to is below the floor anyway, long before it is full.

    floor = MinFree.parse("5%")            # or "20GB", "500MB"; "0": no floor
    floor.bytes_on(disk_space(path).total) # the floor in bytes on the disk holding path
    watch = DiskWatch("history", path, floor)
    watch.problem()  # None, or "the disk holding the history /x has 1.2 GB free, below the 5% kept free (3.1 GB)"
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Optional

from inference import InspectorError

DEFAULT_MIN_FREE = "5%"
_UNITS = {"": 1, "B": 1, "KB": 10 ** 3, "MB": 10 ** 6, "GB": 10 ** 9, "TB": 10 ** 12,
          "KIB": 2 ** 10, "MIB": 2 ** 20, "GIB": 2 ** 30, "TIB": 2 ** 40}


class DiskSpace(NamedTuple):
    free: int  # bytes a normal user may still write
    total: int


def disk_space(path: str | Path) -> DiskSpace:
    """The free and total bytes of the disk holding `path` (its nearest existing parent while it does not exist)."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    usage = shutil.disk_usage(p)
    return DiskSpace(usage.free, usage.total)


def size_text(n: float) -> str:
    """1234567890 -> "1.2 GB" (decimal units, as disks are sold)."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


@dataclass(frozen=True)
class MinFree:
    """The free space kept on a disk: a fraction of the disk, or bytes."""

    fraction: Optional[float] = None
    nbytes: Optional[int] = None

    @classmethod
    def parse(cls, text, what: str = "--min-free") -> "MinFree":
        """"5%", "20GB", "500 MB", "2GiB", "0" (none); a MinFree passes through; None is the default. `what`
        names the setting in the message of a text that is none of these."""
        if isinstance(text, MinFree):
            return text
        s = str(DEFAULT_MIN_FREE if text is None else text).strip().upper().replace(" ", "")
        if s.endswith("%"):
            try:
                pct = float(s[:-1])
            except ValueError:
                pct = -1.0
            if not 0 <= pct < 100:
                raise InspectorError(f"{what}: a percentage must be 0 to 99, got {text!r}")
            return cls(fraction=pct / 100)
        m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]I?B|B)?", s)
        if m is None:
            raise InspectorError(f"{what} needs a percentage of the disk or a size (5%, 20GB, 500MB), got {text!r}")
        return cls(nbytes=int(float(m.group(1)) * _UNITS[m.group(2) or ""]))

    @property
    def off(self) -> bool:
        return not self.fraction and not self.nbytes

    def bytes_on(self, total: int) -> int:
        return int(self.fraction * total) if self.fraction is not None else int(self.nbytes or 0)

    def __str__(self) -> str:
        if self.fraction is not None:
            return f"{100 * self.fraction:g}%"
        return size_text(self.nbytes or 0)


class DiskWatch:
    """Whether the disk holding one of the line's files is below its floor; read at most every `every_s` seconds
    (a statvfs per part is cheap, but a line inspects many parts a second)."""

    def __init__(self, what: str, path: str | Path, floor: MinFree, every_s: float = 2.0):
        self.what, self.path, self.floor, self.every_s = what, Path(path), floor, every_s
        self._read_at = -float("inf")
        self._problem: Optional[str] = None

    def problem(self) -> Optional[str]:
        if self.floor.off:
            return None
        now = time.monotonic()
        if now - self._read_at >= self.every_s:
            self._read_at = now
            self._problem = self._check()
        return self._problem

    def _check(self) -> Optional[str]:
        try:
            space = disk_space(self.path)
        except OSError:  # the path's disk is gone: writing there fails and says so
            return None
        floor = self.floor.bytes_on(space.total)
        if space.free >= floor:
            return None
        return (f"the disk holding the {self.what} {self.path} has {size_text(space.free)} free, below the "
                f"{self.floor} kept free ({size_text(floor)}): free space there, or the line stops when it is full")


__all__ = ["DEFAULT_MIN_FREE", "DiskSpace", "DiskWatch", "MinFree", "disk_space", "size_text"]
