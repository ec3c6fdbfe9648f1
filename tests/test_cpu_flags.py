"""The CPU's flags (inference/cpu_flags.py) where /proc/cpuinfo lists them and where it does not (Windows, macOS):
numpy's CPU table stands in, and both choices made by the flags (bf16 where native, int8's weight range) read it."""

from __future__ import annotations

import pytest

from inference import backbone as bb
from inference import cpu_flags as flags
from inference import openvino_runtime as ovr


@pytest.fixture()
def no_cpuinfo(tmp_path, monkeypatch):
    """A machine without /proc/cpuinfo, as Windows and macOS are, for both readers of the flags."""
    absent = tmp_path / "absent"
    monkeypatch.setattr(bb, "cpu_flags", lambda: flags.cpu_flags(absent))
    ovr.int8_weight_range.cache_clear()
    yield absent
    ovr.int8_weight_range.cache_clear()


def test_numpy_finds_the_flags_proc_cpuinfo_lists():
    """On this Linux machine the two sources must agree on every flag the choices read, or the choices would
    differ between Linux and the other systems on the same CPU."""
    proc = flags.cpu_flags()
    if not flags.CPUINFO.exists() or proc is None:
        pytest.skip("no /proc/cpuinfo on this system")
    assert set(flags.NUMPY_NAMES.values()) <= set(flags._numpy_features())  # numpy's names, spelled as it does
    from_numpy = flags.numpy_cpu_flags()
    assert {f for f in flags.NUMPY_NAMES if f in proc} == set(from_numpy)


def test_without_proc_cpuinfo_the_choices_read_numpys_table(no_cpuinfo, monkeypatch):
    assert flags.cpu_flags(no_cpuinfo) == flags.numpy_cpu_flags()
    for table, vnni, bf16 in (({"AVX2": True, "AVX512F": True, "AVX512VNNI": True, "AVX512BF16": True}, "full", True),
                              ({"AVX2": True, "AVX512F": True, "AVX512VNNI": True}, "full", False),
                              ({"AVX2": True, "AVX512VNNI": False, "AVX512BF16": False}, "half", False)):
        monkeypatch.setattr(flags, "_numpy_features", lambda t=table: t)
        assert ovr.int8_weight_range(no_cpuinfo) == vnni, table
        ovr.int8_weight_range.cache_clear()
        assert bb.cpu_has_bf16.__wrapped__() is bf16, table


def test_flags_that_cannot_be_read_choose_what_is_exact_on_every_cpu(no_cpuinfo, monkeypatch):
    monkeypatch.setattr(flags, "_numpy_features", lambda: None)  # numpy moved its table
    assert flags.cpu_flags(no_cpuinfo) is None and bb.cpu_bf16_flags() is None
    assert ovr.int8_weight_range(no_cpuinfo) == "half"  # 7-bit weights: no sum saturates on any CPU
    assert bb.cpu_has_bf16.__wrapped__() is False  # fp32
