"""The IVF search through faiss's Panorama layout (inference/ivf_panorama.py) returns what the IVF scan returns."""

import faiss
import numpy as np
import pytest

from inference import ivf_panorama
from inference.knn import Searcher, build_index, deserialize, metric_transform, serialize

pytestmark = pytest.mark.skipif(not ivf_panorama.available(), reason="this faiss has no Panorama index")


@pytest.fixture(autouse=True)
def small_banks_too(monkeypatch):
    """These banks are small (16-96 dimensions, fast to build); the product keeps the plain scan below
    MIN_DIMENSIONS, where the twin is no faster (test_other_indexes_few_dimensions_and_an_older_faiss_...)."""
    monkeypatch.setattr(ivf_panorama, "MIN_DIMENSIONS", 0)


def _bank_and_queries(seed=0, n=3000, dim=96):
    """Patch-like features: many appearances with a decaying spectrum; queries near taught ones (an OK part)
    and away from them (a defect)."""
    rng = np.random.default_rng(seed)
    scale = (1.0 / np.sqrt(1.0 + np.arange(dim))).astype(np.float32)
    centres = rng.normal(0, 3, (60, dim)).astype(np.float32) * scale
    bank = (centres[rng.integers(0, 60, n)] + rng.normal(0, 1, (n, dim)).astype(np.float32) * scale)
    near = bank[rng.integers(0, n, 400)] + rng.normal(0, 0.05, (400, dim)).astype(np.float32) * scale
    far = rng.normal(0, 4, (100, dim)).astype(np.float32) * scale
    return bank.astype(np.float32), np.concatenate([near, far]).astype(np.float32)


def _expected(index, queries, k):
    """What Searcher.search returned before the twin: faiss's own IVF search."""
    d2, ids = index.search(queries, k)
    return np.sqrt(np.maximum(d2, 0.0)).mean(axis=1), ids[:, 0].astype(np.int64)


@pytest.mark.parametrize("distance", ["l2", "cosine"])
def test_the_twin_finds_what_the_ivf_scan_finds(distance):
    bank, queries = _bank_and_queries()
    index = build_index(bank, metric_transform(bank, distance), "ivf")
    searcher = Searcher(index, use_gpu=False)
    assert searcher._panorama is not None
    for k in (1, 4):
        got = searcher.search(queries, k)
        want = _expected(index, queries, k)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    # The twin's own distances (the norm expansion) round otherwise: without measuring again, the scores would
    # not be the IVF scan's.
    twin = searcher._panorama
    q = queries if twin.transform is None else twin.transform.apply(queries)
    assert not np.array_equal(twin.index.search(q, 1)[0], faiss.downcast_index(index).search(queries, 1)[0])


def test_a_model_read_back_searches_through_its_twin_alike():
    bank, queries = _bank_and_queries(seed=1)
    index = deserialize(serialize(build_index(bank, None, "ivf")))
    searcher = Searcher(index, use_gpu=False)
    assert searcher._panorama is not None
    got, want = searcher.search(queries, 1), _expected(index, queries, 1)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_an_ivf_index_without_its_direct_map():
    bank, queries = _bank_and_queries(seed=2)
    quantizer = faiss.IndexFlatL2(bank.shape[1])
    index = faiss.IndexIVFFlat(quantizer, bank.shape[1], 40)
    index.train(bank)
    index.add(bank)
    index.nprobe = 3
    twin = ivf_panorama.twin_of(index)
    d2, ids = twin.search(queries, 2)
    want_d2, want_ids = index.search(queries, 2)
    assert np.array_equal(d2, want_d2) and np.array_equal(ids, want_ids)


def test_lists_too_short_give_faiss_none():
    """Where the scanned lists hold fewer vectors than asked for, the rest is faiss's none (row -1, the largest
    float), as the IVF scan gives it."""
    bank, queries = _bank_and_queries(seed=3, n=400, dim=16)
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(16), 16, 8)
    index.train(bank)
    index.add(bank)
    index.nprobe = 1
    k = 120  # more than any one list holds
    d2, ids = ivf_panorama.twin_of(index).search(queries[:50], k)
    want_d2, want_ids = index.search(queries[:50], k)
    assert (want_ids == -1).any()
    assert np.array_equal(ids, want_ids) and np.array_equal(d2, want_d2)


def test_other_indexes_few_dimensions_and_an_older_faiss_keep_faiss_search(monkeypatch):
    bank, queries = _bank_and_queries(seed=4)
    assert Searcher(build_index(bank, None, "flat"), use_gpu=False)._panorama is None
    index = build_index(bank, None, "ivf")
    monkeypatch.setattr(ivf_panorama, "MIN_DIMENSIONS", 97)
    assert Searcher(index, use_gpu=False)._panorama is None
    monkeypatch.setattr(ivf_panorama, "MIN_DIMENSIONS", 96)
    assert Searcher(index, use_gpu=False)._panorama is not None
    monkeypatch.setattr(ivf_panorama, "available", lambda: False)
    searcher = Searcher(index, use_gpu=False)
    assert searcher._panorama is None
    got, want = searcher.search(queries, 1), _expected(index, queries, 1)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_a_twin_that_cannot_be_built_leaves_the_ivf_scan(monkeypatch, caplog):
    bank, queries = _bank_and_queries(seed=6)
    index = build_index(bank, None, "ivf")

    def no_memory(_):
        raise MemoryError("std::bad_alloc")

    monkeypatch.setattr(ivf_panorama, "PanoramaTwin", no_memory)
    searcher = Searcher(index, use_gpu=False)
    assert searcher._panorama is None and "scanning the IVF lists" in caplog.text
    got, want = searcher.search(queries, 2), _expected(index, queries, 2)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_near_ties_are_decided_by_the_scans_own_sums():
    """Far from the origin the norm expansion loses the digits that tell two near neighbours apart, so the twin
    measures one candidate more again: the IVF scan's nearest is the twin's nearest."""
    rng = np.random.default_rng(5)
    dim, groups = 32, 300
    centres = rng.normal(0, 1, (groups, dim)) * (1000.0 / np.sqrt(dim))
    u = rng.normal(0, 1, (groups, dim))
    v = rng.normal(0, 1, (groups, dim))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v *= np.sqrt(1.0002) / np.linalg.norm(v, axis=1, keepdims=True)  # 0.02 % farther than u
    bank = np.concatenate([centres + u, centres + v]).astype(np.float32)
    queries = centres.astype(np.float32)
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(dim), dim, 4)
    index.train(bank)
    index.add(bank)
    index.nprobe = 4
    twin = ivf_panorama.twin_of(index)
    want_d2, want_ids = index.search(queries, 1)
    assert (want_ids[:, 0] < groups).mean() > 0.9  # the scan tells u from v
    rough_ids = twin.index.search(queries, 1)[1]
    assert (rough_ids != want_ids).any()  # the expansion alone does not
    d2, ids = twin.search(queries, 1)
    assert np.array_equal(ids, want_ids) and np.array_equal(d2, want_d2)


def test_an_inspection_scores_alike_with_and_without_the_twin(tiny_config, tmp_path):
    """The engine's own path: a model whose coreset has an IVF index, loaded and inspected with the twin, gives
    the scores and regions the IVF scan gives."""
    from dataclasses import replace

    from inference import Circle, Engine
    from inference.synthetic import CENTRE, RADIUS, disc

    engine = Engine(replace(tiny_config, coreset_ratio=1.0, index="ivf"))
    engine.fit(tmp_path, [disc(i)[0] for i in range(10)], roi=Circle(CENTRE[0], CENTRE[1], RADIUS))
    model = engine.load(tmp_path)
    assert model.searcher._panorama is not None
    images = [disc(20 + i, scratch=i % 2 == 1)[0] for i in range(4)]
    with_twin = [engine.infer(model, image) for image in images]
    twin, model.searcher._panorama = model.searcher._panorama, None
    without = [engine.infer(model, image) for image in images]
    model.searcher._panorama = twin
    assert [r.score for r in with_twin] == [r.score for r in without]
    assert [len(r.regions) for r in with_twin] == [len(r.regions) for r in without]
    assert max(r.score for r in with_twin) > min(r.score for r in with_twin)  # a scratch scores above a good part
