"""The coreset search on a CUDA GPU through torch, for a GPU machine whose faiss has no GPU build.

faiss's GPU build (`pip install -e .[gpu]`) is a separate wheel tied to a CUDA version; the default install brings
faiss-cpu, so a CUDA PC would otherwise search on its CPU while its GPU sits idle (at 448 px, 1,024 patches against
thousands of bank vectors per image). torch, already there for the backbone, does the same search on the GPU:
every index kind gives what faiss on the CPU gives for it, so a model scores alike on either machine:
- flat: the exact nearest vectors;
- sq8 / pq: the exact nearest of the decoded vectors (faiss's CPU search measures the distance to them too);
- ivf: the nearest among the vectors of the lists faiss would scan (the `nprobe` list centres nearest to each
  query), not the exact nearest, since an exact search could score a part lower than the CPU search that
  calibrated it.
The candidates come from torch's fp32 matrix product, in full fp32 even where the host program asked torch for TF32
or bf16 products (inference/torch_matmul.py); the distances returned are summed exactly over the candidates, as
faiss's list scan sums them.
This module needs torch; the exported model's torch-free runtime never loads it (inference/knn.py asks for it only
where torch with CUDA is importable).
"""

from __future__ import annotations

from typing import Optional

import faiss
import numpy as np

from .ivf_panorama import ivf_lists

# Distances computed per block of queries, at most this many query x vector entries each (4 bytes each: 256 MiB,
# a small share of a small GPU's memory beside the backbone; an image's 1,024 patches against 65,536 vectors).
MAX_BLOCK_ENTRIES = 1 << 26
# Candidates beyond the k asked for whose distances are summed exactly before the k nearest are kept.
REFINE_EXTRA = 8


def cuda_device() -> Optional[str]:
    """"cuda" where torch is installed and sees a CUDA GPU; None elsewhere (no torch: the torch-free runtime)."""
    try:
        import torch
    except ImportError:
        return None
    return "cuda" if torch.cuda.is_available() else None


class TorchSearch:
    """The nearest coreset vectors of each query, on `device`, as faiss's CPU search of `index` finds them."""

    def __init__(self, index: faiss.Index, device: str):
        import torch

        from .knn import _flat_and_transform

        inner, self.transform = _flat_and_transform(index)
        self.device = torch.device(device)
        ivf = isinstance(inner, faiss.IndexIVFFlat)
        if ivf and not inner.direct_map.type:
            raise ValueError("an ivf index without its direct map: its vectors cannot be read back")
        vectors = inner.reconstruct_n(0, inner.ntotal)  # sq8 / pq: the decoded vectors the CPU search measures
        self.bank = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32)).to(self.device)
        self.bank_sq = (self.bank * self.bank).sum(1)
        self.nprobe = int(inner.nprobe) if ivf else 0
        if ivf:
            quantizer = faiss.downcast_index(inner.quantizer)
            self.centres = torch.from_numpy(quantizer.reconstruct_n(0, inner.nlist)).to(self.device)
            self.centres_sq = (self.centres * self.centres).sum(1)
            self.list_of = torch.from_numpy(_list_of_each_vector(inner)).to(self.device)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(squared distances, row ids), each queries x k, nearest first: faiss's `index.search`."""
        import torch

        from .knn import apply_transform
        from .torch_matmul import full_fp32

        q = torch.from_numpy(apply_transform(self.transform, queries)).to(self.device)
        block = max(1, MAX_BLOCK_ENTRIES // max(1, len(self.bank)))
        dists, ids = [], []
        with torch.inference_mode(), full_fp32():
            for start in range(0, len(q), block):
                part = q[start:start + block]
                d2 = _squared_distances(part, self.bank, self.bank_sq)
                if self.nprobe:
                    d2 = d2.masked_fill(~self._in_probed_lists(part), float("inf"))
                # The candidates by the fast expansion, then their distances summed exactly, as faiss's list scan
                # (and its sq8 / pq search) computes them: the expansion loses digits where a patch lies close to
                # its neighbour, relative to both norms, which is most of an OK part's map.
                rough, candidates = torch.topk(d2, min(k + REFINE_EXTRA, d2.shape[1]), dim=1, largest=False)
                exact = ((part[:, None, :] - self.bank[candidates]) ** 2).sum(-1)
                exact = exact.masked_fill(torch.isinf(rough), float("inf"))  # outside the scanned lists
                value, order = torch.topk(exact, k, dim=1, largest=False)
                dists.append(value)
                ids.append(candidates.gather(1, order))
        return torch.cat(dists).cpu().numpy(), torch.cat(ids).cpu().numpy().astype(np.int64)

    def _in_probed_lists(self, q):
        """Bool queries x vectors: whether each vector lies in one of the lists faiss scans for each query."""
        import torch

        nearest = torch.topk(_squared_distances(q, self.centres, self.centres_sq), self.nprobe, dim=1,
                             largest=False).indices
        probed = torch.zeros(len(q), len(self.centres), dtype=torch.bool, device=self.device)
        probed.scatter_(1, nearest, True)
        return probed[:, self.list_of]


def _squared_distances(q, bank, bank_sq):
    """|q - b|^2 for every query and bank row, as faiss's flat search computes it (norms and one product)."""
    return (q * q).sum(1, keepdim=True) + bank_sq[None, :] - 2.0 * (q @ bank.T)


def _list_of_each_vector(ivf: faiss.IndexIVFFlat) -> np.ndarray:
    """The IVF list each stored vector (row id) was assigned to."""
    lists = np.full(ivf.ntotal, -1, np.int64)
    for number, ids, _ in ivf_lists(ivf):
        lists[ids] = number
    return lists
