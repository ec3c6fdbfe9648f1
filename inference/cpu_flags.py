"""The CPU's feature flags, by the names Linux gives them in /proc/cpuinfo: one reader for every choice made by them.

On Linux /proc/cpuinfo lists them. Elsewhere (Windows, macOS) they come from numpy's table of the CPU features it
found at start-up (CPUID on every OS), for the flags this package's choices read (NUMPY_NAMES). That table has no
AMX and no AVX-VNNI: a CPU with AMX also has AVX-512 BF16 and VNNI, which it does list; a desktop CPU with AVX-VNNI
alone reads as one without VNNI there, the safe side of int8's choice.

Imports neither torch nor openvino, so the edge install (no torch) reads them the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

CPUINFO = Path("/proc/cpuinfo")

# The /proc/cpuinfo flags these choices read, and numpy's names for them: bf16 where native (backbone.py) and
# int8's weight range (openvino_runtime.py).
NUMPY_NAMES = {"avx2": "AVX2", "avx512f": "AVX512F", "avx512_bf16": "AVX512BF16", "avx512_vnni": "AVX512VNNI"}


def cpu_flags(cpuinfo: Path = CPUINFO) -> Optional[frozenset[str]]:
    """The words of /proc/cpuinfo (its flags among them); where it cannot be read or is empty (not Linux), the
    flags of NUMPY_NAMES that numpy found; None where neither can be read."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        text = ""
    return frozenset(text.split()) or numpy_cpu_flags()


def numpy_cpu_flags() -> Optional[frozenset[str]]:
    """Which flags of NUMPY_NAMES numpy found on this CPU; None where its table cannot be read."""
    features = _numpy_features()
    if not isinstance(features, dict):
        return None
    return frozenset(flag for flag, name in NUMPY_NAMES.items() if features.get(name))


def _numpy_features() -> Optional[dict]:
    # Not a public name: numpy keeps it where its runtime dispatch reads it (numpy 2: numpy._core, 1.x: numpy.core)
    # and np.show_runtime() prints it. Where it moves, the flags read as unknown, never as present.
    for module in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):
        try:
            return getattr(__import__(module, fromlist=["__cpu_features__"]), "__cpu_features__")
        except (ImportError, AttributeError):
            continue
    return None
