"""The CPU's feature flags as Linux lists them in /proc/cpuinfo: one reader for every choice made by them.

Imports neither torch nor openvino, so the edge install (no torch) reads them the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

CPUINFO = Path("/proc/cpuinfo")


def cpu_flags(cpuinfo: Path = CPUINFO) -> Optional[frozenset[str]]:
    """The words of /proc/cpuinfo (its flags among them); None where it cannot be read or is empty (not Linux)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    return frozenset(text.split()) or None
