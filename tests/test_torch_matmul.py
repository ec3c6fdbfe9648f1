"""The engine's float32 products stay float32 when the host program asked torch for coarser ones
(inference/torch_matmul.py).

A host's `torch.set_float32_matmul_precision("medium")` lets torch compute float32 products in bf16 on a CPU with
AMX (TF32 on a CUDA GPU). The engine's own products run in full float32 and the host gets its setting back. On a
CPU without bf16 products the host's setting changes nothing there, so the comparisons below can only fail on such
hardware; the restore checks hold everywhere."""

from __future__ import annotations

import threading

import faiss
import numpy as np
import pytest
import torch

from inference.knn_torch import TorchSearch
from inference.memory import kcenter_greedy
from inference.torch_matmul import full_fp32


def _precision() -> str:
    matmul = getattr(torch.backends.mkldnn, "matmul", None)
    return matmul.fp32_precision if matmul is not None and hasattr(matmul, "fp32_precision") else \
        torch.get_float32_matmul_precision()


@pytest.fixture
def coarse_host():
    """The host program's setting: float32 products may run in bf16 / TF32. Put back after the test."""
    torch.set_float32_matmul_precision("medium")
    coarse = _precision()
    yield coarse
    torch.set_float32_matmul_precision("highest")


def test_inside_full_fp32_products_are_float32_and_the_host_gets_its_setting_back(coarse_host):
    rng = np.random.default_rng(0)
    a, b = (torch.from_numpy(rng.standard_normal(s).astype(np.float32)) for s in ((256, 472), (2048, 472)))
    exact = a.double() @ b.double().T
    with full_fp32():
        assert _precision() in ("ieee", "highest")
        with full_fp32():  # nested: the inner exit keeps float32 for the outer one
            pass
        assert _precision() in ("ieee", "highest")
        inside = float(((a @ b.T).double() - exact).abs().max())
    assert _precision() == coarse_host
    assert inside < 1e-3  # float32 rounding of 472-term sums (bf16 products: about 0.3)


def test_concurrent_uses_restore_the_host_setting_once_all_have_left(coarse_host):
    entered, release = threading.Barrier(3), threading.Event()

    def hold():
        with full_fp32():
            entered.wait()
            release.wait()

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for t in threads:
        t.start()
    entered.wait()
    assert _precision() in ("ieee", "highest")
    release.set()
    for t in threads:
        t.join()
    assert _precision() == coarse_host


def test_the_gpu_search_and_the_coreset_ignore_the_hosts_coarse_products(coarse_host):
    rng = np.random.default_rng(1)
    bank = rng.standard_normal((3000, 472)).astype(np.float32) * 4.0
    queries = bank[rng.integers(0, 3000, 200)] + rng.standard_normal((200, 472)).astype(np.float32) * 0.3
    index = faiss.IndexFlatL2(472)
    index.add(bank)
    want_d, want_i = index.search(queries, 1)
    got_d, got_i = TorchSearch(index, "cpu").search(queries, 1)
    assert np.array_equal(got_i, want_i)
    assert np.allclose(got_d, want_d, rtol=1e-4)
    assert _precision() == coarse_host

    picks_coarse_host = kcenter_greedy(bank, 0.05, bf16=False)
    torch.set_float32_matmul_precision("highest")
    assert np.array_equal(picks_coarse_host, kcenter_greedy(bank, 0.05, bf16=False))


def test_a_float32_vit_computes_the_same_features_under_the_hosts_coarse_products(coarse_host, tiny_config):
    from inference.backbone import Backbone

    backbone = Backbone(tiny_config.replace(precision="fp32"))
    images = np.random.default_rng(2).integers(0, 255, (2, 112, 112, 3), dtype=np.uint8)
    under_host = backbone.embed(images).cpu().numpy()
    assert _precision() == coarse_host
    torch.set_float32_matmul_precision("highest")
    assert np.array_equal(under_host, backbone.embed(images).cpu().numpy())
