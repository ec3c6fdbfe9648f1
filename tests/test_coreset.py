"""The blocked k-center greedy coreset: the same picks / coverage as plain greedy, bf16 within 5 %."""

import numpy as np
import pytest
import torch

from inference import Cancelled, CancelToken
from inference import memory
from inference.memory import coverage_radius, kcenter_greedy, kcenter_greedy_stepwise


def _patch_like(n=6000, dim=160, seed=0):
    """Clustered points of uneven spread, like patch features (dim > 128 exercises the projection)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (40, dim))
    label = rng.integers(0, 40, n)
    spread = rng.uniform(0.1, 0.8, 40)[label, None]
    return (centres[label] + rng.normal(0, 1, (n, dim)) * spread).astype(np.float32)


@pytest.mark.parametrize("pool", [16, 256, memory.CANDIDATE_POOL])
def test_blocked_greedy_makes_the_picks_of_plain_greedy(pool):
    x = _patch_like()
    want = kcenter_greedy_stepwise(x, 0.02)
    got = kcenter_greedy(x, 0.02, pool=pool, bf16=False)
    assert len(got) == len(want) == 120 and len(set(got)) == 120
    assert (got == want).mean() >= 0.95  # the same sequence, up to rounding ties
    assert coverage_radius(x, got) == pytest.approx(coverage_radius(x, want), rel=1e-3)


def test_bf16_bulk_update_keeps_the_coverage_within_5_percent():
    x = _patch_like(seed=1)
    exact = coverage_radius(x, kcenter_greedy_stepwise(x, 0.02))
    fast = coverage_radius(x, kcenter_greedy(x, 0.02, bf16=True))
    rng = np.random.default_rng(0)
    random = coverage_radius(x, rng.choice(len(x), 120, replace=False))
    assert fast <= exact * 1.05
    assert random > exact * 1.2  # the measure can tell a bad coreset from a good one


def test_coverage_radius_is_the_farthest_point_from_its_nearest_centre():
    x = np.array([[0, 0], [1, 0], [10, 0], [10, 3]], np.float32)
    assert coverage_radius(x, [0, 2]) == pytest.approx(3.0)
    assert coverage_radius(x, [0, 1, 2, 3]) == 0.0


def test_duplicates_and_a_coreset_of_everything_but_one():
    x = np.repeat(_patch_like(50, 8), 4, axis=0)  # every point four times
    idx = kcenter_greedy(x, 199 / 200, pool=32)
    assert len(idx) == len(set(idx)) == 199
    assert coverage_radius(x, idx) == pytest.approx(0.0, abs=1e-2)  # every distinct point kept (float rounding)


def test_bf16_is_used_on_cuda_and_on_cpus_with_native_bf16(monkeypatch):
    monkeypatch.setattr("inference.backbone.cpu_has_bf16", lambda: True)
    assert memory.low_precision("cpu") and memory.low_precision(torch.device("cuda"))
    monkeypatch.setattr("inference.backbone.cpu_has_bf16", lambda: False)
    assert not memory.low_precision("cpu") and memory.low_precision("cuda")


def test_progress_reaches_the_end_and_cancel_stops_midway():
    x = _patch_like(4000)
    seen = []
    kcenter_greedy(x, 0.05, progress=lambda stage, done, total: seen.append(done))
    assert seen[-1] == 200 and seen == sorted(seen) and len(seen) > 10
    token = CancelToken()
    calls = []

    def cancel_midway(stage, done, total):
        calls.append(done)
        if done > 40:
            token.cancel()

    with pytest.raises(Cancelled):
        kcenter_greedy(x, 0.05, progress=cancel_midway, cancel=token)
    assert max(calls) < 200
