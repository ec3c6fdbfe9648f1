"""The coreset's index (`index: auto|flat|ivf|sq8|pq`, inference/knn.py): smaller or faster indexes that search like flat."""

from __future__ import annotations

import json

import faiss
import numpy as np
import pytest

from inference import Engine, EngineConfig
from inference.errors import ConfigError
from inference.knn import (AUTO_IVF_MIN_VECTORS, IVF_PROBE_FRACTION, Searcher, build_index, deserialize, index_kind,
                           ivf_lists_scanned, metric_transform, serialize)
from inference.synthetic import disc


def _bank(n=600, d=64, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(12, d)).astype(np.float32) * 3
    return (centres[rng.integers(0, 12, n)] + rng.normal(size=(n, d)).astype(np.float32)).astype(np.float32)


# pq's codebooks (256 centres per 4 dimensions, float32) weigh as much as 256 flat vectors: it pays on big banks.
@pytest.mark.parametrize("kind,tolerance,ratio", [("sq8", 0.01, 3.5), ("pq", 0.15, 5)])
def test_compressed_indexes_search_like_flat_and_are_smaller(kind, tolerance, ratio):
    bank, queries = _bank(5000), _bank(200, seed=1)
    flat = build_index(bank, None)
    small = build_index(bank, None, kind)
    want = Searcher(flat, use_gpu=False).distances(queries)
    got = Searcher(deserialize(serialize(small)), use_gpu=False).distances(queries)
    assert np.median(np.abs(got - want) / want) < tolerance
    assert np.corrcoef(got, want)[0, 1] > 0.95
    assert len(serialize(flat)) / len(serialize(small)) > ratio


def test_pq_on_a_small_coreset_stays_sq8_and_transforms_still_apply():
    bank = _bank(100)
    built = build_index(bank, metric_transform(bank, "cosine"), "pq")  # kept: it owns what downcast shows
    index = faiss.downcast_index(built)
    assert isinstance(index, faiss.IndexPreTransform)
    assert isinstance(faiss.downcast_index(index.index), faiss.IndexScalarQuantizer)
    searcher = Searcher(built, use_gpu=False)
    assert 0.5 < searcher.support_weight(bank[3]) <= 1.0


def test_a_model_fitted_with_sq8_scores_like_flat(tiny_config, tmp_path):
    with pytest.raises(ConfigError, match="index"):
        EngineConfig(index="hnsw")
    fit_imgs = [disc(i, size=112)[0] for i in range(5)]
    test_imgs = [disc(100 + i, scratch=i % 2 == 1, size=112)[0] for i in range(4)]
    scores = {}
    for kind in ("flat", "sq8"):
        engine = Engine(tiny_config.replace(index=kind, precision="fp32", score_mode="reweighted_max"))
        engine.fit(tmp_path / kind, fit_imgs)
        model = engine.load(tmp_path / kind)
        assert model.record.config["index"] == kind
        scores[kind] = [r.score for r in engine.score_many(model, test_imgs)]
    # reweighted_max also weighs the bank around the nearest vector, decoded from 8 bits: up to 4 % here.
    np.testing.assert_allclose(scores["sq8"], scores["flat"], rtol=0.06)
    assert np.argsort(scores["sq8"]).tolist() == np.argsort(scores["flat"]).tolist()


def test_ivf_finds_the_nearest_vector_for_clustered_features_and_never_under_reports_a_distance():
    bank, queries = _bank(5000), _bank(400, seed=1)
    exact = Searcher(build_index(bank, None, "flat"), use_gpu=False).distances(queries)
    ivf = deserialize(serialize(build_index(bank, None, "ivf")))  # nprobe and the row map travel with the file
    inner = faiss.downcast_index(ivf)
    assert isinstance(inner, faiss.IndexIVFFlat) and inner.nprobe == max(1, inner.nlist // IVF_PROBE_FRACTION) >= 1
    got = Searcher(ivf, use_gpu=False).distances(queries)
    assert np.all(got >= exact - 1e-4)  # approximate only upwards: it can raise a score, never lower one
    # Scanning 1 list in 16 finds the exact nearest vector for most queries (about 80 % of these isotropic clusters;
    # 84-100 % of real patches, docs/benchmarks.md) and one at most a few per cent farther for the rest.
    assert np.mean(np.abs(got - exact) < 1e-4) > 0.75
    assert np.max((got - exact) / exact) < 0.1
    np.testing.assert_allclose(inner.reconstruct(17), bank[17])  # the support weight reads vectors back
    assert 0.5 < Searcher(ivf, use_gpu=False).support_weight(bank[3]) <= 1.0


def test_an_ivf_index_keeps_the_share_of_lists_it_was_built_with():
    # A model fitted when IVF scanned 1 list in 8 scores as it did: the count travels in coreset.faiss, and loading
    # never resets it to today's share.
    old = build_index(_bank(5000), None, "ivf")
    inner = faiss.downcast_index(old)
    inner.nprobe = inner.nlist // 8
    assert inner.nprobe != max(1, inner.nlist // IVF_PROBE_FRACTION)
    assert faiss.downcast_index(deserialize(serialize(old))).nprobe == inner.nlist // 8
    assert ivf_lists_scanned(deserialize(serialize(old))) == (inner.nlist // 8, inner.nlist)
    assert ivf_lists_scanned(build_index(_bank(600), None, "flat")) is None


def test_info_names_the_lists_an_ivf_model_scans(tiny_config, tmp_path, capsys):
    from inspector_cli.main import main

    engine = Engine(tiny_config.replace(index="ivf", precision="fp32"))
    engine.fit(tmp_path / "p", [disc(i, size=112)[0] for i in range(5)])
    scanned, lists = ivf_lists_scanned(engine.load(tmp_path / "p").searcher.cpu_index)
    assert main(["info", str(tmp_path / "p")]) == 0
    assert f"index ivf: ivf, {scanned} of {lists} lists scanned)" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "p"), "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["ivf_lists"] == {"scanned": scanned, "lists": lists}


def test_auto_index_is_exact_for_small_coresets_and_ivf_for_large_ones():
    assert index_kind(build_index(_bank(AUTO_IVF_MIN_VECTORS - 1), None, "auto")) == "flat"
    bank = _bank(AUTO_IVF_MIN_VECTORS)
    assert index_kind(build_index(bank, metric_transform(bank, "cosine"), "auto")) == "ivf"
    assert index_kind(build_index(bank, None, "sq8")) == "sq8"

