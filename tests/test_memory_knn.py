import faiss
import numpy as np
import pytest

from inference import CancelToken, Cancelled, ProjectError
from inference.knn import Searcher, apply_transform, build_index, deserialize, metric_transform, serialize
from inference.memory import PatchMemory, kcenter_greedy


def _clusters(n_per=200, dim=32, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (5, dim))
    return np.concatenate([c + rng.normal(0, 0.1, (n_per, dim)) for c in centres]).astype(np.float32)


def test_update_grows_without_touching_old_features():
    mem = PatchMemory()
    a = np.ones((3, 4), np.float32)
    mem.update(a)
    mem.update(np.zeros((2, 4), np.float32))
    assert len(mem) == 5 and (mem.features[:3] == 1).all()
    with pytest.raises(Exception, match="dims"):
        mem.update(np.zeros((2, 5), np.float32))


def test_kcenter_greedy_covers_every_cluster():
    x = _clusters()
    idx = kcenter_greedy(x, 5 / len(x))
    assert len(idx) == 5 and len(set(idx)) == 5
    # one centre per cluster: greedy farthest-point must not pick two from the same blob
    assert sorted(set(i // 200 for i in idx)) == [0, 1, 2, 3, 4]


def test_kcenter_keeps_rare_patches_that_random_sampling_drops():
    # One common appearance and 29 rare ones (like a few patches of a rare but OK texture), in 200-d
    # so the random projection is exercised.
    rng = np.random.default_rng(3)
    centres = rng.normal(0, 10, (30, 200))
    sizes = [2500] + [10] * 29
    x = np.concatenate([c + rng.normal(0, 0.2, (n, 200)) for c, n in zip(centres, sizes)]).astype(np.float32)
    label = np.repeat(np.arange(30), sizes)
    idx = kcenter_greedy(x, 0.02)
    rand = rng.choice(len(x), len(idx), replace=False)
    assert len(idx) == 56
    assert len(set(label[idx])) == 30  # every appearance kept
    assert len(set(label[rand])) < 20


def test_coreset_progress_and_cancel():
    x = _clusters()
    seen = []
    kcenter_greedy(x, 0.1, progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert seen[-1] == ("coreset", 100, 100) and len(seen) > 10
    token = CancelToken()
    calls = []

    def cancel_midway(stage, done, total):
        calls.append(done)
        if done > 20:
            token.cancel()

    with pytest.raises(Cancelled):
        kcenter_greedy(x, 0.1, progress=cancel_midway, cancel=token)
    assert max(calls) < 100


@pytest.mark.parametrize("distance", ["l2", "cosine", "mahalanobis"])
def test_index_distances_match_numpy(distance):
    rng = np.random.default_rng(0)
    bank = rng.normal(size=(300, 16)).astype(np.float32) * np.linspace(1, 3, 16, dtype=np.float32)
    queries = rng.normal(size=(20, 16)).astype(np.float32)
    t = metric_transform(bank, distance)
    s = Searcher(build_index(bank[:50], t), use_gpu=False)
    got = s.distances(queries)
    a, b = apply_transform(t, queries), apply_transform(t, bank[:50])
    want = np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1).min(1))
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)
    if distance == "mahalanobis":
        # whitening: the bank's covariance becomes (close to) identity
        cov = np.cov(apply_transform(t, bank).T)
        assert np.abs(np.diag(cov) - 1).max() < 0.05  # 1% shrinkage keeps it just under 1
        assert np.abs(cov - np.diag(np.diag(cov))).max() < 1e-3
    if distance == "cosine":
        assert np.allclose(np.linalg.norm(a, axis=1), 1, atol=1e-5)


def test_serialize_round_trip_and_corruption():
    bank = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    idx = build_index(bank, metric_transform(bank, "mahalanobis"))
    blob = serialize(idx)
    back = deserialize(blob)
    q = bank[:5] + 0.01
    np.testing.assert_allclose(Searcher(back, False).distances(q), Searcher(idx, False).distances(q), rtol=1e-6)
    with pytest.raises(ProjectError, match="corrupt or truncated"):
        deserialize(blob[: len(blob) // 2])
    assert isinstance(back, faiss.IndexPreTransform)
