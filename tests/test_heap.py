"""The heap release between batches: at most one trim per TRIM_INTERVAL_S, whatever the batch rate."""

import sys

import pytest

from inference import heap

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or heap._trim() is None,
                                reason="malloc_trim is glibc's")


def test_a_trim_waits_for_the_interval_since_the_last(monkeypatch):
    calls = []
    monkeypatch.setattr(heap, "_last_trim", float("-inf"))
    monkeypatch.setattr(heap, "_trim", lambda: calls.append)
    start = 1000.0
    assert heap.release_free_memory(start)
    # A batch of one image every 10 ms for just under the interval: no trim, so no page faulted in again.
    assert not any(heap.release_free_memory(start + i * 0.01) for i in range(1, int(heap.TRIM_INTERVAL_S / 0.01)))
    assert heap.release_free_memory(start + heap.TRIM_INTERVAL_S)
    assert calls == [0, 0]


def test_the_first_release_trims_for_real(monkeypatch):
    monkeypatch.setattr(heap, "_last_trim", float("-inf"))
    assert heap.release_free_memory() is True  # glibc's malloc_trim itself, called
    assert heap.release_free_memory() is False
