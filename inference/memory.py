"""PatchMemory: the OK patch features, and the k-center greedy coreset over them."""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from .errors import InspectorError
from .progress import CancelToken, ProgressFn, check, report

PROJECTION_DIM = 128


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
            self._chunks = [np.concatenate(self._chunks)]
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
    ) -> np.ndarray:
        """Indices of a k-center greedy coreset of ceil(ratio * N) features.

        `space` optionally gives the same N points in the metric space the search
        will use (e.g. whitened for Mahalanobis); by default the raw features.
        """
        points = self.features if space is None else space
        return kcenter_greedy(points, ratio, device=device, progress=progress, cancel=cancel, seed=seed)


def kcenter_greedy(
    points: np.ndarray,
    ratio: float,
    device: torch.device | str = "cpu",
    progress: Optional[ProgressFn] = None,
    cancel: Optional[CancelToken] = None,
    seed: int = 0,
) -> np.ndarray:
    """Greedy farthest-point selection (Sener & Savarese; PatchCore's coreset).

    Points are first randomly projected to PROJECTION_DIM dims (Johnson-
    Lindenstrauss) so each step is one N x 128 matrix product; only the N
    running minimum distances are kept, never an N x N matrix.
    """
    n = len(points)
    if n == 0:
        raise InspectorError("cannot build a coreset from an empty memory bank")
    k = int(np.clip(np.ceil(ratio * n), 1, n))
    if k == n:
        return np.arange(n)
    gen = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32))
    if x.shape[1] > PROJECTION_DIM:
        proj = torch.randn(x.shape[1], PROJECTION_DIM, generator=gen) / np.sqrt(PROJECTION_DIM)
        x = x @ proj
    x = x.to(device)
    sq = (x * x).sum(dim=1)
    selected = torch.empty(k, dtype=torch.long)
    current = int(torch.randint(n, (1,), generator=gen))
    min_d = torch.full((n,), float("inf"), device=x.device)
    step = max(1, k // 100)
    for i in range(k):
        selected[i] = current
        centre = x[current]
        d = sq - 2.0 * (x @ centre) + sq[current]
        torch.minimum(min_d, d, out=min_d)
        min_d[current] = -1.0  # never pick a chosen point again, even with rounding
        current = int(torch.argmax(min_d))
        if i % step == 0 or i == k - 1:
            check(cancel)
            report(progress, "coreset", i + 1, k)
    return selected.numpy()
