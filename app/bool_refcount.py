"""Keeps the window alive under a PySide6 reference-count bug: True and False made as good as immortal.

PySide6 6.12 returns True from every signal's `emit()` without a reference of its own, so each emit takes one
reference from True. On Python 3.12 and later True is immortal and nothing happens. On 3.11 and earlier its
count runs down, and when it reaches zero Python aborts ("Fatal Python error: bool_dealloc"). The window died so
after about 4,000 parts in the Run view (bench/bench_soak.py --mode gui). A plain script dies after about 600
emits. pyqtgraph emits inside every plot update, so wrapping our own emits could not help.

True, False and None are static objects that Python never frees, so a count far above anything reachable changes
nothing else: it is what Python 3.12 does for them (PEP 683). It is set once, at import, and only where it is
needed (Python before 3.12). It is checked first: the count must be where `sys.getrefcount` says it is, which is
true of every release build of CPython. At one emit per microsecond, 2**60 references last 36,000 years.
"""

from __future__ import annotations

import ctypes
import sys

IMMORTAL = 1 << 60


def count_field(obj) -> ctypes.c_ssize_t | None:
    """`obj`'s reference count as a writable field, or None where it is not at the object's start (a debug build,
    another Python)."""
    if sys.implementation.name != "cpython":
        return None
    field = ctypes.c_ssize_t.from_address(id(obj))
    before = sys.getrefcount(obj)  # one more than the field: its own argument
    return field if field.value == before - 1 else None


def make_immortal() -> bool:
    """Raise the reference counts of True, False and None out of reach; False where not needed (Python 3.12+) or
    not possible."""
    if sys.version_info >= (3, 12):
        return False
    fields = [count_field(obj) for obj in (True, False, None)]
    if any(f is None for f in fields):
        return False
    for field in fields:
        if field.value < IMMORTAL:
            field.value = IMMORTAL
    return True


make_immortal()
