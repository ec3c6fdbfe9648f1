"""torch's float32 matrix products at full float32 precision inside the engine, whatever the host program set.

A program that embeds the engine may have asked torch for coarser, faster float32 products: TF32 on a CUDA GPU, or
bf16 on a CPU with AMX (`torch.set_float32_matmul_precision("high")` or `"medium"`, as training code often does).
Measured on this project's 2-core AMX machine, "medium" turns a 512 x 472 by 472 x 4,096 float32 product's largest
error from 6e-5 to 0.26. The engine's float32 products must not inherit it: the GPU search (knn_torch) would pick
other neighbours than the CPU search that calibrated the model, a float32 backbone would compute other features than
its precision says, and the coreset would pick by other distances. Where the engine asks for bf16 or fp16 it says so
with a dtype (autocast, the coreset's bulk update), which this setting does not touch.

`full_fp32()` sets torch's per-backend float32 precision to IEEE (torch 2.9's API; the legacy global one before it)
for the duration and gives the host's setting back after. The setting is process-wide, so nested and concurrent
uses share one save and one restore: the first to enter saves, the last to leave restores.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

_lock = threading.Lock()
_depth = 0
_saved: list = []


def _backends(torch) -> list:
    """The per-backend float32 precision settings of this torch (empty before torch 2.9)."""
    found = []
    for name in ("cuda", "mkldnn"):
        matmul = getattr(getattr(torch.backends, name, None), "matmul", None)
        if matmul is not None and hasattr(matmul, "fp32_precision"):
            found.append(matmul)
    return found


@contextlib.contextmanager
def full_fp32() -> Iterator[None]:
    """Within: torch's float32 matrix products in full float32 (IEEE); after: the host's setting again."""
    global _depth, _saved
    import torch

    with _lock:
        if _depth == 0:
            backends = _backends(torch)
            if backends:
                _saved = [(b, b.fp32_precision) for b in backends]
                for b in backends:
                    b.fp32_precision = "ieee"
            else:
                _saved = [(None, torch.get_float32_matmul_precision())]
                torch.set_float32_matmul_precision("highest")
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for backend, value in _saved:
                    if backend is None:
                        torch.set_float32_matmul_precision(value)
                    else:
                        backend.fp32_precision = value
                _saved = []
