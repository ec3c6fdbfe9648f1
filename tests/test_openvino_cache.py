"""The per-machine IR cache (inference/ir_cache.py) stays within its bound on a PC that runs for years:
new IRs remove the least recently used ones, never one in use, and a crashed build's leftovers go too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

ov = pytest.importorskip("openvino")

from inference import ir_cache  # noqa: E402

HOUR = 3600


def _model(n: int):
    """A real IR of about 4 n bytes (its constant) that adds that constant to its input."""
    x = ov.opset13.parameter([1, n], ov.Type.f32)
    add = ov.opset13.add(x, ov.opset13.constant(np.arange(n, dtype=np.float32)[None]))
    return ov.Model([add], [x])


def _ir(key: str, n: int = 50_000):
    return ir_cache.cached_ir(key, {"name": key}, lambda: _model(n))


def _age(cache, key: str, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(cache / key / "key.json", (then, then))


def _entries(cache) -> set[str]:
    return {p.name for p in cache.iterdir()}


def test_a_new_ir_removes_the_least_recently_used_ones_past_the_bound(ov_cache, monkeypatch):
    for key, age in (("a", 4 * HOUR), ("b", 3 * HOUR), ("c", 2 * HOUR)):
        _ir(key)
        _age(ov_cache, key, age)
    one = ir_cache._size(ov_cache / "a")
    assert one > 190_000  # the constant's 200 kB
    monkeypatch.setattr(ir_cache, "CACHE_LIMIT_BYTES", int(3.5 * one))
    assert _ir("a").is_file()  # a hit: "a" is now the most recently used
    assert _entries(ov_cache) == {"a", "b", "c"}  # a hit saves nothing and removes nothing

    xml = _ir("d")  # four IRs past a bound of three and a half: the least recently used goes
    assert _entries(ov_cache) == {"a", "c", "d"}
    compiled = ov.Core().compile_model(str(xml), "CPU")
    assert np.allclose(compiled(np.zeros((1, 50_000), np.float32))[0], np.arange(50_000))

    # Past the bound, an IR used within the hour stays (another process may be reading it), as does the new one;
    # what else the cache folder holds (the precision checks' results) is not an IR and stays.
    checks = ov_cache / "precision-checks"
    checks.mkdir()
    (checks / "one.json").write_bytes(bytes(one))
    os.utime(checks, (time.time() - 5 * HOUR,) * 2)
    monkeypatch.setattr(ir_cache, "CACHE_LIMIT_BYTES", 1)
    _ir("e")
    assert _entries(ov_cache) == {"a", "d", "e", "precision-checks"}  # "c" was last used two hours ago


def test_a_crashed_builds_temporary_folder_is_removed_once_it_is_old(ov_cache):
    _ir("a")
    old, fresh = ov_cache / ".b.crashed", ov_cache / ".c.building"
    for folder in (old, fresh):
        folder.mkdir()
        (folder / ir_cache.IR_NAME).write_text("<half an IR")
    then = time.time() - 2 * HOUR
    os.utime(old, (then, then))
    _ir("d")
    assert _entries(ov_cache) == {"a", "d", ".c.building"}  # a build under way in another process keeps its folder


def test_a_cache_that_cannot_take_the_ir_is_named_in_plain_words(ov_cache, tmp_path):
    """OpenVINO's writer says only "iostream error" when the disk is full. A file size limit stops the write as
    a full disk or quota does, in a child process (SIGXFSZ ignored, so the write fails instead of the process)."""
    pytest.importorskip("resource")  # POSIX
    script = textwrap.dedent(f"""
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
        from inference.errors import StorageError
        from tests.test_openvino_cache import _ir
        try:
            _ir("a", {200_000})
        except StorageError as exc:
            print("StorageError:", exc)
    """)
    env = {**os.environ, "PATCHCORE_OPENVINO_CACHE": str(ov_cache)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                         cwd=Path(__file__).parents[1], timeout=120)
    line = out.stdout.strip()
    assert line.startswith("StorageError: cannot write " + str(ov_cache)), out.stdout + out.stderr
    assert "larger than this system or account allows" in line and "PATCHCORE_OPENVINO_CACHE" in line
    assert _entries(ov_cache) == set()  # no half IR left behind


def test_a_save_that_fails_for_another_reason_keeps_openvinos_error(ov_cache, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("a converter bug")

    monkeypatch.setattr(ov, "save_model", fail)
    with pytest.raises(RuntimeError, match="a converter bug"):  # the storage took the probe: not its fault
        _ir("a")
    assert _entries(ov_cache) == set()


@pytest.mark.parametrize("damage", ["a flipped byte", "cut short", "a graph file gone", "an earlier version's"])
def test_a_damaged_entry_is_converted_again(ov_cache, damage, caplog):
    """A cache is derived data: a damaged IR must not fail every load (or, with runtime auto, leave torch
    running at half the speed) until someone clears the cache."""
    builds = []

    def ir():
        return ir_cache.cached_ir("a", {"name": "a"}, lambda: builds.append(1) or _model(50_000))

    xml = ir()
    weights = xml.with_name("features.bin")
    if damage == "a flipped byte":
        data = bytearray(weights.read_bytes())
        data[1234] ^= 0xFF  # still a valid IR to OpenVINO: only the digest sees it
        weights.write_bytes(bytes(data))
    elif damage == "cut short":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "a graph file gone":
        xml.unlink()
    else:  # key.json without the files' sha256
        key = xml.with_name("key.json")
        key.write_text(json.dumps({k: v for k, v in json.loads(key.read_text()).items() if k != "sha256"}))
    with caplog.at_level("INFO", logger="inference.ir_cache"):
        assert ir() == xml and len(builds) == 2
    warned = [r for r in caplog.records if r.levelname == "WARNING"]
    assert bool(warned) == (damage != "an earlier version's")  # an upgrade's conversion is no fault to warn of
    assert ir() == xml and len(builds) == 2  # whole again: a hit
    compiled = ov.Core().compile_model(str(xml), "CPU")
    assert np.allclose(compiled(np.zeros((1, 50_000), np.float32))[0], np.arange(50_000))


def test_an_ir_another_process_saved_meanwhile_is_kept(ov_cache):
    """Two processes converting the same network: the second to finish keeps the first's files (which the first
    may be reading) instead of removing them under it."""
    first = _ir("a")  # the other process's IR
    stamp = first.with_name("features.bin").stat().st_mtime_ns
    real, looks = ir_cache._intact, []

    def intact_after_the_first_look(entry):  # this process looked before the other had saved
        looks.append(entry)
        return len(looks) > 1 and real(entry)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ir_cache, "_intact", intact_after_the_first_look)
        assert _ir("a") == first
    assert first.with_name("features.bin").stat().st_mtime_ns == stamp  # the other process's files, untouched
    assert _entries(ov_cache) == {"a"}  # no temporary folder left
