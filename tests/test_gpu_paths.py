"""The faiss GPU branch, exercised without a GPU: chosen only when available and allowed, CPU fallback kept."""

import logging

import faiss
import numpy as np
import pytest

from inference import knn
from inference.knn import Searcher, build_index


@pytest.fixture
def bank():
    rng = np.random.default_rng(0)
    return rng.normal(size=(200, 16)).astype(np.float32), rng.normal(size=(30, 16)).astype(np.float32)


class _FakeGpu:
    """Stands in for faiss-gpu's API: records what the Searcher asks for and keeps the index on the CPU."""

    def __init__(self, fail=False):
        self.fail = fail
        self.fp16 = None

    def install(self, monkeypatch):
        monkeypatch.setattr(knn, "gpu_available", lambda: True)
        monkeypatch.setattr(faiss, "StandardGpuResources", lambda: object(), raising=False)
        monkeypatch.setattr(faiss, "GpuClonerOptions", lambda: type("Opts", (), {"useFloat16": False})(),
                            raising=False)
        monkeypatch.setattr(faiss, "index_cpu_to_gpu", self.clone, raising=False)

    def clone(self, res, device, index, opts):
        if self.fail:
            raise RuntimeError("CUDA driver version is insufficient")
        self.fp16 = opts.useFloat16
        return index


def test_no_gpu_faiss_means_cpu_search(bank, monkeypatch):
    monkeypatch.delattr(faiss, "StandardGpuResources", raising=False)  # faiss-cpu has no GPU API
    assert not knn.gpu_available()
    assert not Searcher(build_index(bank[0], None), use_gpu=True).on_gpu


def test_gpu_index_is_used_when_present_and_allowed(bank, monkeypatch):
    fake = _FakeGpu()
    fake.install(monkeypatch)
    cpu = Searcher(build_index(bank[0], None), use_gpu=False)
    gpu = Searcher(build_index(bank[0], None), use_gpu=True, fp16=True)
    assert gpu.on_gpu and not cpu.on_gpu and fake.fp16 is True
    np.testing.assert_allclose(gpu.distances(bank[1]), cpu.distances(bank[1]))


def test_a_failing_gpu_index_falls_back_to_the_cpu(bank, monkeypatch, caplog):
    _FakeGpu(fail=True).install(monkeypatch)
    with caplog.at_level(logging.WARNING):
        s = Searcher(build_index(bank[0], None), use_gpu=True)
    assert not s.on_gpu and "searching on CPU" in caplog.text
    assert s.distances(bank[1]).shape == (30,)


def test_gpu_extra_names_a_faiss_gpu_wheel():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    assert any(req.startswith("faiss-gpu") for req in project["optional-dependencies"]["gpu"])
