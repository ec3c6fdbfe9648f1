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


# -- torch on a CUDA GPU without faiss's GPU build (inference/knn_torch.py), run here on the CPU -----------------

@pytest.fixture(scope="module")
def unclustered():
    """4,000 vectors (enough for 102 IVF lists of 39 or more) and 300 queries, without clusters: an IVF search
    scanning 1 list in 16 then misses the exact nearest for some queries."""
    rng = np.random.default_rng(1)
    return rng.normal(size=(4000, 32)).astype(np.float32), rng.normal(size=(300, 32)).astype(np.float32)


@pytest.mark.parametrize("kind,distance", [("flat", "l2"), ("ivf", "l2"), ("sq8", "l2"), ("pq", "l2"),
                                           ("ivf", "cosine"), ("flat", "mahalanobis")])
def test_torch_search_finds_what_faiss_on_the_cpu_finds(unclustered, kind, distance):
    from inference.knn_torch import TorchSearch

    bank, queries = unclustered
    index = build_index(bank, knn.metric_transform(bank, distance), kind)
    d_cpu, i_cpu = index.search(queries, 3)
    d_torch, i_torch = TorchSearch(index, "cpu").search(queries, 3)
    assert np.mean(i_torch == i_cpu) >= 0.99  # the same rows; a tie may order two alike
    np.testing.assert_allclose(d_torch, d_cpu, rtol=1e-4, atol=1e-3)
    if kind == "ivf":  # it scans the lists faiss scans, not the whole bank: some queries miss their exact nearest
        exact, _ = build_index(bank, knn.metric_transform(bank, distance), "flat").search(queries, 1)
        assert (d_torch[:, 0] > exact[:, 0] + 1e-3).any()
        assert (d_torch[:, 0] >= exact[:, 0] - 1e-3).all()


def test_a_gpu_without_faiss_gpu_searches_with_torch(unclustered, monkeypatch):
    from inference import knn_torch

    monkeypatch.delattr(faiss, "StandardGpuResources", raising=False)  # faiss-cpu
    monkeypatch.setattr(knn_torch, "cuda_device", lambda: "cpu")  # stands in for "cuda"
    bank, queries = unclustered
    index = build_index(bank, None, "ivf")
    gpu, cpu = Searcher(index, use_gpu=True), Searcher(index, use_gpu=False)
    assert (gpu.on_gpu, gpu.gpu_search) == (True, "torch") and (cpu.on_gpu, cpu.gpu_search) == (False, "")
    d_gpu, i_gpu = gpu.search(queries, 2)
    d_cpu, i_cpu = cpu.search(queries, 2)
    np.testing.assert_allclose(d_gpu, d_cpu, rtol=1e-4, atol=1e-3)
    assert np.mean(i_gpu == i_cpu) >= 0.99
    monkeypatch.setattr(knn_torch, "cuda_device", lambda: None)  # torch sees no GPU: the CPU search
    assert not Searcher(index, use_gpu=True).on_gpu


def test_a_failing_torch_search_falls_back_to_the_cpu(bank, monkeypatch, caplog):
    from inference import knn_torch

    monkeypatch.delattr(faiss, "StandardGpuResources", raising=False)
    monkeypatch.setattr(knn_torch, "cuda_device", lambda: "cuda")

    def out_of_memory(index, device):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(knn_torch, "TorchSearch", out_of_memory)
    with caplog.at_level(logging.WARNING):
        s = Searcher(build_index(bank[0], None), use_gpu=True)
    assert not s.on_gpu and "torch GPU search unavailable" in caplog.text
    np.testing.assert_allclose(s.distances(bank[1]), Searcher(build_index(bank[0], None), False).distances(bank[1]))


def test_a_model_inspects_alike_with_the_torch_search(tmp_path, tiny_config, monkeypatch):
    """Through the engine: a model loaded where torch takes the search gives the scores, maps and verdicts of the
    same model searched by faiss on the CPU (here torch runs on the CPU, standing in for the GPU)."""
    from inference import Engine, knn_torch
    from inference.synthetic import disc

    monkeypatch.delattr(faiss, "StandardGpuResources", raising=False)
    config = tiny_config.replace(index="ivf", use_gpu=False)
    engine = Engine(config)
    engine.fit(tmp_path / "p", [disc(i)[0] for i in range(12)])
    images = [disc(100 + i, scratch=i % 2 == 1)[0] for i in range(6)]
    cpu = engine.load(tmp_path / "p")
    monkeypatch.setattr(knn_torch, "cuda_device", lambda: "cpu")
    on_torch = Engine(config.replace(use_gpu=True)).load(tmp_path / "p")
    assert on_torch.searcher.gpu_search == "torch" and cpu.searcher.gpu_search == ""
    assert knn.index_kind(on_torch.searcher.cpu_index) == "ivf"
    for a, b in zip(engine.score_many(cpu, images), engine.score_many(on_torch, images)):
        assert b.score == pytest.approx(a.score, rel=1e-5)
        np.testing.assert_allclose(b.anomaly_map, a.anomaly_map, rtol=1e-4, atol=1e-4)


def test_torch_search_in_blocks_of_queries_finds_the_same(unclustered, monkeypatch):
    from inference import knn_torch

    bank, queries = unclustered
    index = build_index(bank, None, "ivf")
    whole = knn_torch.TorchSearch(index, "cpu").search(queries, 2)
    monkeypatch.setattr(knn_torch, "MAX_BLOCK_ENTRIES", len(bank) * 7)  # 7 queries per block, the last one short
    blocks = knn_torch.TorchSearch(index, "cpu").search(queries, 2)
    np.testing.assert_array_equal(blocks[1], whole[1])
    np.testing.assert_allclose(blocks[0], whole[0], rtol=1e-6)
