"""Nearest-neighbour search over the coreset with faiss.

The metric is part of the index: cosine is L2 after normalisation and
Mahalanobis is L2 after whitening with the memory bank's covariance, both
stored as a faiss IndexPreTransform, so coreset.faiss alone reproduces the
search. GPU + fp16 when faiss has GPU support and CUDA is present; on a CUDA GPU without faiss's GPU build,
torch searches there (knn_torch), giving what faiss's CPU search gives. On the CPU an IVF index of many
dimensions is searched through its Panorama twin (ivf_panorama), which also gives what the IVF scan gives.
"""

from __future__ import annotations

import logging
from typing import Optional

import faiss
import numpy as np

from . import ivf_panorama
from .errors import ProjectError

log = logging.getLogger(__name__)


def metric_transform(features: np.ndarray, distance: str) -> Optional[faiss.VectorTransform]:
    """The faiss transform that maps features into the space where L2 is the chosen distance."""
    d = features.shape[1]
    if distance == "l2":
        return None
    if distance == "cosine":
        return faiss.NormalizationTransform(d, 2.0)
    if distance == "mahalanobis":
        mean = features.mean(axis=0, dtype=np.float64)
        centred = features.astype(np.float64) - mean
        cov = centred.T @ centred / max(1, len(features) - 1)
        # Shrink towards the diagonal: with few OK images the covariance is rank deficient.
        cov += np.eye(d) * (1e-2 * np.trace(cov) / d + 1e-6)
        evals, evecs = np.linalg.eigh(cov)
        whiten = (evecs / np.sqrt(evals)).T  # y = W (x - mean)
        lt = faiss.LinearTransform(d, d, True)
        faiss.copy_array_to_vector(whiten.astype(np.float32).ravel(), lt.A)
        faiss.copy_array_to_vector((-(whiten @ mean)).astype(np.float32), lt.b)
        lt.is_trained = True
        return lt
    raise ValueError(f"unknown distance {distance!r}")


def apply_transform(transform: Optional[faiss.VectorTransform], x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    return x if transform is None else transform.apply(x)


INDEX_KINDS = ("auto", "flat", "ivf", "sq8", "pq")
# auto: an exact flat index below this many coreset vectors, an IVF index from it on. Flat search costs
# queries x vectors x dimensions: at 1,800 vectors (EfficientNet-Lite0, 784 patches, 152 dimensions) it is
# about 10 ms on two CPU cores and grows with every taught image; IVF's cost grows with the square root.
# Measured on the six dev sets (docs/benchmarks.md, issue 21): at 1,882, 2,509 and 5,018 vectors ivf kept
# flat's image AUROC (within -0.0011 / +0.011); at 1,255 its lists were too short (ksdd -0.008).
AUTO_IVF_MIN_VECTORS = 1800
# IVF: lists = 2 x sqrt(vectors), searched in 1 of 16. faiss scans a list vector by vector, at about a tenth of
# the exact search's matrix-product rate on a 2-core AVX-512 CPU, so the share scanned is the search's cost. Measured over the six dev
# sets at 1-16 OK images (docs/benchmarks.md, issue 21, eleventh session): 1 in 16 kept 1 in 8's image AUROC
# (mean +0.0003, every cell within 0.002 but one at +0.007) and searched in 35-69 % of its time (41-61 % of
# flat's); 1 in 32 lost up to 0.024. An index keeps the share it was built with. faiss's k-means wants at least
# 39 training vectors per list.
IVF_LISTS_PER_SQRT = 2
IVF_PROBE_FRACTION = 16
IVF_MIN_VECTORS_PER_LIST = 39


def resolve_kind(kind: str, n_vectors: int) -> str:
    """The index a coreset of `n_vectors` gets for the `index` setting `kind` (auto picks by size)."""
    if kind == "auto":
        return "ivf" if n_vectors >= AUTO_IVF_MIN_VECTORS else "flat"
    return kind


def ivf_lists(n_vectors: int) -> int:
    return max(1, min(int(round(IVF_LISTS_PER_SQRT * np.sqrt(n_vectors))), n_vectors // IVF_MIN_VECTORS_PER_LIST))


def ivf_lists_to_scan(n_lists: int, fraction: int = IVF_PROBE_FRACTION) -> int:
    """How many of `n_lists` lists a search scans: 1 in `fraction`, at least one."""
    return max(1, n_lists // fraction)


def build_index(coreset: np.ndarray, transform: Optional[faiss.VectorTransform], kind: str = "flat") -> faiss.Index:
    """A CPU index over the coreset vectors (raw features; the transform is applied inside).

    flat: exact float32 vectors. ivf: the vectors in k-means lists, a search scanning the lists of the
    nearest 1/16 of the list centres (approximate: a patch's distance is never under the exact one, so the
    approximation can only raise a score, never pass a part that exact search would reject). sq8: 8-bit
    scalar quantisation per dimension (4x smaller). pq: product quantisation, 4 dimensions per 8-bit code
    (16x smaller; the codebooks need 256 vectors, so a smaller coreset stays sq8). Search returns
    distances to the decoded vectors. auto: flat below AUTO_IVF_MIN_VECTORS vectors, ivf from there.
    """
    d = coreset.shape[1]
    vectors = np.ascontiguousarray(coreset, dtype=np.float32)
    kind = resolve_kind(kind, len(vectors))
    if kind == "pq" and (len(vectors) < 256 or d % 4):
        kind = "sq8"
    if kind == "flat":
        inner = faiss.IndexFlatL2(d)
    elif kind == "ivf":
        lists = ivf_lists(len(vectors))
        quantizer = faiss.IndexFlatL2(d)
        inner = faiss.IndexIVFFlat(quantizer, d, lists, faiss.METRIC_L2)
        quantizer.this.disown()  # the IVF index owns (and frees) its list centres, also after a copy
        inner.own_fields = True
        inner.nprobe = ivf_lists_to_scan(lists)  # stored with the index
    elif kind == "sq8":
        inner = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_L2)
    elif kind == "pq":
        inner = faiss.IndexPQ(d, d // 4, 8, faiss.METRIC_L2)
    else:
        raise ValueError(f"unknown index kind {kind!r}")
    index = inner if transform is None else faiss.IndexPreTransform(transform, inner)
    if not index.is_trained:
        index.train(vectors)
    index.add(vectors)
    if kind == "ivf":
        inner.make_direct_map()  # reconstruct(row): the support weight and the nearest-part view read vectors back
    return index


def index_kind(index: faiss.Index) -> str:
    """What a built (or loaded) index is: flat, ivf, sq8 or pq."""
    inner, _ = _flat_and_transform(index)
    for cls, name in ((faiss.IndexIVFFlat, "ivf"), (faiss.IndexScalarQuantizer, "sq8"), (faiss.IndexPQ, "pq")):
        if isinstance(inner, cls):
            return name
    return "flat"


def ivf_lists_scanned(index: faiss.Index) -> Optional[tuple[int, int]]:
    """(lists scanned per search, lists) of an ivf index; None for the others. A model keeps the share it was
    fitted with (1 in 8 before the eleventh session, 1 in 16 since), so `inspector info` shows it."""
    inner, _ = _flat_and_transform(index)
    return (int(inner.nprobe), int(inner.nlist)) if isinstance(inner, faiss.IndexIVFFlat) else None


def gpu_available() -> bool:
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


class Searcher:
    """k-NN distances against a coreset index, on GPU (fp16) when allowed and present."""

    def __init__(self, index: faiss.Index, use_gpu: bool = True, fp16: bool = True):
        self.cpu_index = index
        self.index = index
        self.on_gpu = False
        self.gpu_search = ""  # how the GPU searches: "faiss" (its GPU build), "torch" (knn_torch), "" (CPU)
        self._torch = None
        self._panorama = None  # the CPU's IVF search through faiss's Panorama layout (ivf_panorama)
        if use_gpu and gpu_available():
            try:
                self._res = faiss.StandardGpuResources()
                opts = faiss.GpuClonerOptions()
                opts.useFloat16 = fp16
                self.index = faiss.index_cpu_to_gpu(self._res, 0, index, opts)
                self.on_gpu, self.gpu_search = True, "faiss"
            except Exception as exc:  # an old driver must not stop inspection: search on CPU
                log.warning("faiss GPU index unavailable, searching on CPU: %s", exc)
        elif use_gpu:
            self._torch_search(index)
        if not self.on_gpu:
            self._panorama_search(index)

    def _torch_search(self, index: faiss.Index) -> None:
        """A CUDA GPU without faiss's GPU build: search with torch there (knn_torch), giving what faiss's CPU
        search gives; the CPU search stays where torch sees no GPU or cannot take the index."""
        from . import knn_torch

        device = knn_torch.cuda_device()
        if device is None:
            return
        try:
            self._torch = knn_torch.TorchSearch(index, device)
            self.on_gpu, self.gpu_search = True, "torch"
        except Exception as exc:  # like faiss's GPU index: never a reason to stop inspecting
            log.warning("torch GPU search unavailable, searching on CPU: %s", exc)

    def _panorama_search(self, index: faiss.Index) -> None:
        """An IVF index searched on the CPU: through its Panorama twin, which gives the same results sooner."""
        try:
            self._panorama = ivf_panorama.twin_of(index)
        except Exception as exc:  # like the GPU paths: never a reason to stop inspecting
            log.warning("Panorama search unavailable, scanning the IVF lists: %s", exc)

    @property
    def ntotal(self) -> int:
        return int(self.cpu_index.ntotal)

    def distances(self, queries: np.ndarray, k: int = 1) -> np.ndarray:
        """Mean Euclidean distance to the k nearest coreset vectors, one value per query."""
        return self.search(queries, k)[0]

    def search(self, queries: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(mean Euclidean distance to the k nearest coreset vectors, the nearest one's index row), per query."""
        k = max(1, min(k, self.ntotal))
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if self._torch is not None:
            d2, ids = self._torch.search(queries, k)
        elif self._panorama is not None:
            d2, ids = self._panorama.search(queries, k)
        else:
            d2, ids = self.index.search(queries, k)
        return np.sqrt(np.maximum(d2, 0.0)).mean(axis=1), ids[:, 0].astype(np.int64)

    def support_weight(self, query: np.ndarray, k: int = 9) -> float:
        """PatchCore's re-weighting of the image score (Roth et al. 2022, eq. 7; anomalib's default).

        The query's nearest coreset vector and that vector's own k nearest form a support set;
        the weight is 1 - softmax(the query's distances to the support set), taken at the
        nearest. Its range is about [1 - 1/k, 1]: a query whose nearest neighbour lies among
        others just as near (a well-taught look) keeps less of its distance than one whose
        nearest is isolated in the bank.
        """
        flat, transform = _flat_and_transform(self.cpu_index)
        q = apply_transform(transform, np.asarray(query, dtype=np.float32).reshape(1, -1))
        _, nearest = flat.search(q, 1)
        nn_vector = flat.reconstruct(int(nearest[0, 0])).reshape(1, -1)
        _, support = flat.search(nn_vector, max(1, min(k, int(flat.ntotal))))
        vectors = np.stack([flat.reconstruct(int(i)) for i in support[0] if i >= 0])
        dist = np.sqrt(np.maximum(((vectors - q) ** 2).sum(axis=1, dtype=np.float64), 0.0))
        soft = np.exp(dist - dist.max())
        return float(1.0 - soft[0] / soft.sum())


def _flat_and_transform(index: faiss.Index) -> tuple[faiss.Index, Optional[faiss.VectorTransform]]:
    """The inner index (flat, sq8 or pq) of (transformed) coreset vectors, and the one transform in front of it."""
    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexPreTransform):
        return faiss.downcast_index(index.index), faiss.downcast_VectorTransform(index.chain.at(0))
    return index, None


def serialize(index: faiss.Index) -> bytes:
    return faiss.serialize_index(index).tobytes()


def deserialize(data: bytes, name: str = "coreset.faiss") -> faiss.Index:
    try:
        return faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
    except Exception as exc:
        raise ProjectError(f"{name} is corrupt or truncated ({exc}): refit the model") from None
