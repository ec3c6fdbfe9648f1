"""The window outlives PySide6 6.12's reference-count bug: every signal's emit() takes a reference from True, and
on Python 3.11 and earlier Python aborted once none was left (app/bool_refcount.py). The Run view died so after
about 4,000 parts (bench/bench_soak.py --mode gui)."""

import sys

from PySide6.QtCore import QObject, Signal

import app.bool_refcount as bool_refcount


class Emitter(QObject):
    fired = Signal()
    carried = Signal(object)


def test_many_thousand_emits_leave_true_and_false_alive(qapp):
    emitter, got = Emitter(), []
    emitter.carried.connect(got.append)
    for _ in range(20000):  # a plain process has about 600 references to True; this app a few thousand
        emitter.fired.emit()
        emitter.carried.emit(False)
    assert len(got) == 20000 and got[-1] is False
    if sys.version_info < (3, 12) and sys.implementation.name == "cpython":
        assert min(sys.getrefcount(True), sys.getrefcount(False), sys.getrefcount(None)) > bool_refcount.IMMORTAL // 2


def test_the_count_is_read_where_it_is_the_objects_first_field_and_left_alone_from_python_3_12():
    thing = object()
    field = bool_refcount.count_field(thing)
    if sys.implementation.name == "cpython":  # a release build: the count is the object's first field
        assert field is not None and field.value == sys.getrefcount(thing) - 1
        kept = [thing]  # one more reference shows in the field
        assert field.value == sys.getrefcount(thing) - 1 and len(kept) == 1
    if sys.version_info >= (3, 12):  # True, False and None are immortal there already: nothing is written
        assert bool_refcount.make_immortal() is False
