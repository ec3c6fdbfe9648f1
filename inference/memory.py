"""PatchMemory: the OK patch features, and the k-center greedy coreset over them."""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from .errors import InspectorError
from .heap import trim_now
from .progress import CancelToken, ProgressFn, check, report
from .torch_matmul import full_fp32

PROJECTION_DIM = 128
# Candidates examined per blocked greedy round (see kcenter_greedy).
CANDIDATE_POOL = 1024
# While the bank's chunks are joined: return their freed memory to the OS after this many bytes.
TRIM_EVERY_BYTES = 256 << 20


class PatchMemory:
    """All OK patch features seen so far (N x D float32); grows with update(), never re-embeds."""

    def __init__(self, features: Optional[np.ndarray] = None, dim: Optional[int] = None):
        self._chunks: list[np.ndarray] = []
        self.dim = dim
        if features is not None and len(features):
            self.update(features)

    def update(self, features: np.ndarray) -> None:
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[0] == 0:
            raise InspectorError(f"patch features must be a non-empty N x D array, got shape {features.shape}")
        if self.dim is None:
            self.dim = int(features.shape[1])
        elif features.shape[1] != self.dim:
            raise InspectorError(f"new features have {features.shape[1]} dims; the memory holds {self.dim}")
        self._chunks.append(features)

    @property
    def features(self) -> np.ndarray:
        if len(self._chunks) > 1:
            # Chunk by chunk into one array, each chunk let go once copied: the bank plus one chunk at the peak,
            # not twice the bank (np.concatenate holds every chunk until it is done).
            chunks, self._chunks = self._chunks, []
            out = np.empty((sum(len(c) for c in chunks), self.dim), np.float32)
            start = 0
            chunks.reverse()  # popped from the end, in the order they came
            freed = 0
            while chunks:
                chunk = chunks.pop()
                out[start:start + len(chunk)] = chunk
                start += len(chunk)
                freed += chunk.nbytes
                del chunk
                if freed >= TRIM_EVERY_BYTES:  # freed chunks stay in the C heap (and in RSS) until trimmed
                    trim_now()
                    freed = 0
            self._chunks = [out]
            trim_now()
        if not self._chunks:
            return np.zeros((0, self.dim or 0), np.float32)
        return self._chunks[0]

    def __len__(self) -> int:
        return sum(len(c) for c in self._chunks)

    def build_coreset(
        self,
        ratio: float,
        device: torch.device | str = "cpu",
        progress: Optional[ProgressFn] = None,
        cancel: Optional[CancelToken] = None,
        seed: int = 0,
        space: Optional[np.ndarray] = None,
        bf16: Optional[bool] = None,
    ) -> np.ndarray:
        """Indices of a k-center greedy coreset of ceil(ratio * N) features.

        `space` optionally gives the same N points in the metric space the search
        will use (e.g. whitened for Mahalanobis); by default the raw features.
        `bf16` as in kcenter_greedy (None: where the hardware has it natively).
        """
        points = self.features if space is None else space
        return kcenter_greedy(points, ratio, device=device, progress=progress, cancel=cancel, seed=seed, bf16=bf16)


@full_fp32()  # the float32 distances that decide the picks, whatever the host set
def kcenter_greedy(
    points: np.ndarray,
    ratio: float,
    device: torch.device | str = "cpu",
    progress: Optional[ProgressFn] = None,
    cancel: Optional[CancelToken] = None,
    seed: int = 0,
    pool: int = CANDIDATE_POOL,
    bf16: Optional[bool] = None,
) -> np.ndarray:
    """Greedy farthest-point selection (Sener & Savarese; PatchCore's coreset), in blocks.

    Points are first randomly projected to PROJECTION_DIM dims (Johnson-
    Lindenstrauss); only the N running minimum distances are kept, never an
    N x N matrix. Plain greedy reads all N points once per chosen centre (a
    matrix-vector product: memory-bound, 60 s for 204,800 -> 4,096 on 2 cores).
    Here each round takes the `pool` farthest points as candidates, runs the
    greedy steps among them on their small pool x pool distance matrix, and
    only then updates all N distances with one N x b matrix product
    (compute-bound). A round stops as soon as the best candidate is no farther
    than the farthest point outside the pool, because that point might then be
    the true next pick; every pick is therefore the one plain greedy makes (up
    to ties and float rounding), so the coverage is the same. `bf16` (default:
    where native, see low_precision) runs that bulk update in bf16; the
    coverage radius then stays within a few per cent of fp32's (measured in
    docs/benchmarks.md, checked in tests/test_coreset.py).
    """
    n = len(points)
    if n == 0:
        raise InspectorError("cannot build a coreset from an empty memory bank")
    k = int(np.clip(np.ceil(ratio * n), 1, n))
    if k == n:
        return np.arange(n)
    x, sq, first = _projected(points, device, seed)
    # The bulk update may run in bf16 (2-3x the fp32 matrix throughput where the hardware has it);
    # the candidates' own distances, which decide each pick, stay fp32.
    if bf16 is None:
        bf16 = low_precision(x.device)
    bulk = x.to(torch.bfloat16) if bf16 else x
    min_d = torch.full((n,), float("inf"), device=x.device)
    selected: list[int] = [first]
    _lower_min_distances(min_d, bulk, sq, [first])
    step = max(1, k // 100)
    report(progress, "coreset", 1, k)
    while len(selected) < k:
        m = min(pool, n)
        values, cand = torch.topk(min_d, min(m + 1, n))
        bound = float(values[m]) if m < n else -np.inf  # farthest point left outside the pool
        cand = cand[:m]
        xc, sqc = x[cand], sq[cand]
        pool_d = (sqc[:, None] - 2.0 * (xc @ xc.T) + sqc[None, :]).clamp_min_(0.0).cpu().numpy()
        cand_d = values[:m].cpu().numpy().astype(np.float32, copy=True)
        cand_ids = cand.cpu().numpy()
        picks: list[int] = []
        while len(selected) + len(picks) < k:
            j = int(np.argmax(cand_d))
            if cand_d[j] < 0 or cand_d[j] < bound:
                break  # a point outside the pool may be farther: update all distances first
            picks.append(int(cand_ids[j]))
            np.minimum(cand_d, pool_d[j], out=cand_d)
            cand_d[j] = -1.0
            done = len(selected) + len(picks)
            if done % step == 0 or done == k:
                check(cancel)
                report(progress, "coreset", done, k)
        selected.extend(picks)
        _lower_min_distances(min_d, bulk, sq, picks)
    return np.asarray(selected[:k], dtype=np.int64)


@full_fp32()
def kcenter_greedy_stepwise(
    points: np.ndarray, ratio: float, device: torch.device | str = "cpu", seed: int = 0
) -> np.ndarray:
    """Plain greedy, one centre per pass over all points: the reference the blocked version is checked against."""
    n = len(points)
    k = int(np.clip(np.ceil(ratio * n), 1, n))
    x, sq, current = _projected(points, device, seed)
    min_d = torch.full((n,), float("inf"), device=x.device)
    selected = np.empty(k, dtype=np.int64)
    for i in range(k):
        selected[i] = current
        d = (sq - 2.0 * (x @ x[current]) + sq[current]).clamp_min_(0.0)
        torch.minimum(min_d, d, out=min_d)
        min_d[current] = -1.0  # never pick a chosen point again, even with rounding
        current = int(torch.argmax(min_d))
    return selected


@full_fp32()
def coverage_radius(points: np.ndarray, centres: np.ndarray, block: int = 16384) -> float:
    """The largest distance from any point to its nearest centre (k-center's objective), in the points' space."""
    x = torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32))
    c = x[torch.from_numpy(np.asarray(centres, dtype=np.int64))]
    csq = (c * c).sum(1)
    worst = 0.0
    for start in range(0, len(x), block):
        xb = x[start:start + block]
        d = ((xb * xb).sum(1)[:, None] - 2.0 * (xb @ c.T) + csq[None, :]).clamp_min_(0.0)
        worst = max(worst, float(d.min(dim=1).values.max()))
    return float(np.sqrt(worst))


def low_precision(device: torch.device | str) -> bool:
    """Whether the coreset's bulk distance update runs in bf16: on CUDA, or a CPU with native bf16 (see backbone)."""
    from .backbone import cpu_has_bf16

    device = torch.device(device)
    return device.type == "cuda" or (device.type == "cpu" and cpu_has_bf16())


def _projected(points: np.ndarray, device, seed: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The points randomly projected to PROJECTION_DIM dims on `device`, their squared norms, the seeded first pick."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32))
    if x.shape[1] > PROJECTION_DIM:
        proj = torch.randn(x.shape[1], PROJECTION_DIM, generator=gen) / np.sqrt(PROJECTION_DIM)
        x = x @ proj
    # Centred: distances are unchanged, but |x|^2 + |c|^2 - 2 x.c loses less to rounding. In place when x is the
    # projection's own array (not the caller's features): one copy of the points, not two.
    x = (x.sub_(x.mean(dim=0)) if x.shape[1] != points.shape[1] else x - x.mean(dim=0)).to(device)
    first = int(torch.randint(len(x), (1,), generator=gen))
    return x, (x * x).sum(dim=1), first


def _lower_min_distances(min_d: torch.Tensor, x: torch.Tensor, sq: torch.Tensor, picks: list[int]) -> None:
    """min_d = min(min_d, squared distance to each new centre), in row blocks so no N x b matrix is held."""
    if not picks:
        return
    idx = torch.tensor(picks, device=x.device)
    c, csq = x[idx], sq[idx].to(x.dtype)
    # Blocks of about 4 MiB of distances stay in cache; |x|^2 is added after the min (it is the same per row).
    block = max(256, (1 << 20) // len(picks))
    for start in range(0, len(x), block):
        stop = min(start + block, len(x))
        partial = torch.addmm(csq[None, :], x[start:stop], c.T, alpha=-2.0).min(dim=1).values.float()
        torch.minimum(min_d[start:stop], (partial + sq[start:stop]).clamp_min_(0.0), out=min_d[start:stop])
    min_d[idx] = -1.0  # never pick a chosen point again, even with rounding
