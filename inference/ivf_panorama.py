"""The IVF search through faiss's Panorama layout: the same lists, the same results, fewer dimensions read.

faiss's IndexIVFFlat scans each list it searches vector by vector over every dimension, and that scan was the
largest step of an inspection at 16 OK images (4.3 of 10 ms on mvtec_bottle; 25 ms on a bank of 17,818
vectors). faiss's IndexIVFFlatPanorama (Panorama, arXiv 2510.00566) keeps the same lists with their dimensions in
LEVELS blocks and drops a vector as soon as a bound on the blocks not yet read shows it cannot be among the
nearest. Its distances come from the norm expansion, which rounds otherwise than the scan's sums, so the twin asks
for one candidate more than wanted, measures the candidates again with faiss's `fvec_L2sqr_by_idx` (the scan's own
sum) and keeps the nearest by that measure (equal distances: the lower row, as faiss's heap keeps it). The result
is what IndexIVFFlat.search returns: the same rows and the same distances, bit for bit, for every patch of every
test image of the six dev sets at 8 and 16 OK images, nearest 1 and 3 (docs/benchmarks.md, issue 21, sixteenth
session).

The twin lives in memory only: it is built from the IVF index when a searcher is made (15-40 ms for 3,764 vectors
of 472 dimensions, 50-130 ms for 17,818), and coreset.faiss stays an IndexIVFFlat (faiss 1.15 cannot read a
Panorama index back). So models fitted before search through it too and score as before. It holds the bank twice
more (its own layout and a plain copy for the exact sums). A faiss without Panorama keeps the plain scan.
"""

from __future__ import annotations

from typing import Iterator, Optional

import faiss
import numpy as np

# Dimension blocks: 4 was the fastest of 2, 4, 8, 16 and 32 on the dev sets' 472-dimension banks
# (bench/bench_ivf_panorama.py).
LEVELS = 4
# Banks of fewer dimensions keep the plain scan: there a vector's distance costs too little for the pruning to pay
# (EfficientNet-Lite0's two default stages, 152 dimensions: 8.8-9.3 against 9.1 ms; DINOv2 ViT-S/14 with random
# weights, 384: 3.4 against 3.5 ms), while its three stages (472) searched in 0.7-0.8 of the time, and in half on
# the largest bank.
MIN_DIMENSIONS = 400


def available() -> bool:
    return hasattr(faiss, "IndexIVFFlatPanorama") and hasattr(faiss, "fvec_L2sqr_by_idx")


def ivf_lists(ivf: faiss.IndexIVFFlat) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(list number, its row ids, its vectors: a view of the list's storage) for every non-empty list, read from
    the lists themselves (an index saved without its direct map too)."""
    invlists, d = ivf.invlists, int(ivf.d)
    for number in range(int(ivf.nlist)):
        size = invlists.list_size(number)
        if size:
            ids = faiss.rev_swig_ptr(invlists.get_ids(number), size).copy()
            codes = faiss.rev_swig_ptr(invlists.get_codes(number), size * d * 4)
            yield number, ids, np.frombuffer(codes, np.float32).reshape(size, d)


class PanoramaTwin:
    """Searches an IndexIVFFlat's lists as the index does; `transform`: the one a faiss IndexPreTransform applies
    to queries before them (knn's cosine or Mahalanobis), or None."""

    def __init__(self, ivf: faiss.IndexIVFFlat, transform: Optional[faiss.VectorTransform] = None):
        d, lists = int(ivf.d), int(ivf.nlist)
        bank = np.empty((int(ivf.ntotal), d), np.float32)
        assigned = np.full(len(bank), -1, np.int64)
        for number, ids, vectors in ivf_lists(ivf):
            bank[ids] = vectors
            assigned[ids] = number
        if (assigned < 0).any():
            raise ValueError("an ivf index whose row ids are not 0..ntotal-1")
        quantizer = faiss.IndexFlatL2(d)
        quantizer.add(faiss.downcast_index(ivf.quantizer).reconstruct_n(0, lists))
        twin = faiss.IndexIVFFlatPanorama(quantizer, d, lists, LEVELS)
        quantizer.this.disown()
        twin.own_fields = True
        twin.is_trained = True
        # Added in row order with the IVF index's own list of each vector: the same lists, in the same order.
        twin.add_core(len(bank), faiss.swig_ptr(bank), None, faiss.swig_ptr(assigned))
        twin.nprobe = int(ivf.nprobe)
        self.index, self.bank, self.d, self.transform = twin, bank, d, transform

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(squared distances, row ids), each queries x k, nearest first: IndexIVFFlat.search's result."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)  # held here: faiss reads it through a pointer
        if self.transform is not None:
            queries = self.transform.apply(queries)
        wanted = min(k + 1, len(self.bank))
        rough, ids = self.index.search(queries, wanted)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        found = ids >= 0
        safe = np.where(found, ids, 0)  # no vector where a list held too few: measured at row 0, then dropped
        exact = np.empty(ids.shape, np.float32)
        faiss.fvec_L2sqr_by_idx(faiss.swig_ptr(exact), faiss.swig_ptr(queries), faiss.swig_ptr(self.bank),
                                faiss.swig_ptr(safe), self.d, len(queries), wanted)
        exact = np.where(found, exact, rough)  # faiss's "none" (the largest float, row id -1) stays as it is
        order = np.lexsort((ids, exact), axis=1)[:, :k]  # equal distances: the lower row first, as faiss's heap
        return np.take_along_axis(exact, order, 1), np.take_along_axis(ids, order, 1)


def twin_of(index: faiss.Index) -> Optional[PanoramaTwin]:
    """A twin of an IndexIVFFlat of MIN_DIMENSIONS or more, bare or behind its transform; None for other indexes,
    fewer dimensions, or an older faiss."""
    if not available():
        return None
    inner, transform = faiss.downcast_index(index), None
    if isinstance(inner, faiss.IndexPreTransform):
        if inner.chain.size() != 1:  # knn builds one transform at most
            return None
        inner, transform = faiss.downcast_index(inner.index), faiss.downcast_VectorTransform(inner.chain.at(0))
    if type(inner) is not faiss.IndexIVFFlat or inner.metric_type != faiss.METRIC_L2 or inner.d < MIN_DIMENSIONS:
        return None
    return PanoramaTwin(inner, transform)
