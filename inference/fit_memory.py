"""Whether a fit's memory bank fits in this machine's free memory, asked before any image is embedded.

A fit holds every embedded OK patch (the bank: images x copies x patches x feature values, float32) and, while the
coreset is chosen, a projection of it (memory.py). Part symmetry multiplies the bank: `turns` embeds each image 16
times, so 200 screw images at 448 px make 10 million patches, 5.7 GB, and about 15 GB with the coreset's working
set and the network's. Found out the hard way, the operating system kills the process (the window with it) after
minutes of embedding; asked here, a fit that cannot fit is refused in a second with what it needs, what is free
and how many images would fit (an InspectorError: the CLI's exit 2, the window's message), and nothing is saved.

The estimate follows what the fit allocates: the bank, the metric's copy of it (cosine: one; mahalanobis: a
float64 centred copy and the whitened one), and the coreset's projected points (fp32, plus a bf16 copy where the
bulk update runs in bf16) with their running distances, and the backbone's working memory while it embeds
(runtime_bytes). The process's memory when it asks (the libraries) is no longer free, so it is not counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from .errors import InspectorError
from .memory import PROJECTION_DIM

GB = 1024 ** 3
# Refused when the estimate exceeds this share of the free memory: the rest is for the index, the precision check's
# reference features and what other programs take while the fit runs.
USABLE_SHARE = 0.85
RUNTIME_BASE = 0.75 * GB
RUNTIME_PER_PIXEL = 256


@dataclass(frozen=True)
class FitMemory:
    """What a fit will hold: `rows` patch features of `dim` values (`earlier_rows` of them the model's it adds to),
    `per_row` bytes each at the fit's peak."""

    n_images: int
    copies: int
    rows: int
    earlier_rows: int
    dim: int
    per_row: int
    # The backbone's own working memory while it embeds (compiled networks, a batch's activations).
    runtime: int = 0

    @property
    def bank_bytes(self) -> int:
        return self.rows * self.dim * 4

    @property
    def needed(self) -> int:
        # An add also keeps the model's own bank, as loaded, beside the one grown from it.
        return self.rows * self.per_row + self.earlier_rows * self.dim * 4 + self.runtime

    def images_fitting(self, usable: float) -> int:
        """How many OK images like these would fit in `usable` bytes, onto the earlier rows."""
        rows_per_image = (self.rows - self.earlier_rows) / max(1, self.n_images)
        spare = usable - self.earlier_rows * (self.per_row + self.dim * 4) - self.runtime
        return max(0, int(spare / self.per_row // max(1.0, rows_per_image)))


def runtime_bytes(batch_size: int, input_size: int) -> int:
    """The backbone's working memory while a fit embeds: its networks (the fit's and the precision check's) and one
    batch's activations, RUNTIME_BASE + RUNTIME_PER_PIXEL a batch image's input pixel (measured with
    EfficientNet-Lite0 at 448 px, batch 8 and 32, OpenVINO: docs/benchmarks.md; DINOv2 ViT-S/14's activations at
    448 px are of the same order)."""
    return int(RUNTIME_BASE + RUNTIME_PER_PIXEL * batch_size * input_size ** 2)


def estimate(patches_per_image: Sequence[int], copies: int, dim: int, distance: str, bf16_bulk: bool,
             earlier_rows: int = 0, coreset_on_host: bool = True, runtime: int = 0) -> FitMemory:
    """The peak memory of a fit: `patches_per_image` (each OK image's kept patches), each embedded `copies`
    times (crop_transforms), `dim` values each, onto `earlier_rows` of a model it adds to. The coreset's working
    set counts where it is on the host (not on a GPU, whose memory this does not check)."""
    rows = int(sum(int(n) for n in patches_per_image)) * int(copies) + int(earlier_rows)
    bank = dim * 4
    metric = {"cosine": bank, "mahalanobis": 3 * bank}.get(distance, 0)
    projected = min(dim, PROJECTION_DIM)
    coreset = (projected * 4 + (projected * 2 if bf16_bulk else 0) + 4 + 8) if coreset_on_host else 0
    return FitMemory(len(patches_per_image), int(copies), rows, int(earlier_rows), int(dim), bank + metric + coreset,
                     int(runtime))


def free_memory() -> Optional[int]:
    """Bytes the OS can give this process now without swapping (psutil's `available`); None where unknown."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # no psutil, or a platform it cannot read: the fit goes on as before
        return None


def check(need: FitMemory, copies_why: str, free: Optional[int] = None) -> None:
    """InspectorError when `need` does not fit in the free memory, saying what would."""
    free = free_memory() if free is None else free
    if free is None or need.needed <= USABLE_SHARE * free:
        return
    fitting = need.images_fitting(USABLE_SHARE * free)
    copies = f" x {need.copies} copies ({copies_why})" if need.copies > 1 else ""
    onto = f" onto the model's {need.earlier_rows:,}" if need.earlier_rows else ""
    raise InspectorError(
        f"this fit would not fit in memory: {need.n_images} OK images{copies}{onto} make {need.rows:,} patch features "
        f"of {need.dim} values ({need.bank_bytes / GB:.1f} GB), and the fit needs about {need.needed / GB:.1f} GB at "
        f"its peak, where {free / GB:.1f} GB is free. "
        + (f"Teach at most {fitting} such images, fewer copies or a smaller input_size, or close other programs"
           if fitting else "Close other programs, or choose a smaller input_size or batch_size")
        + "; nothing was saved")


def check_fit(masks: Sequence[np.ndarray], config, backbone, bf16_bulk: bool, earlier_rows: int) -> None:
    """The check a fit makes before it embeds: its images' kept patches (`masks`) with config's copies, on
    `backbone`, onto `earlier_rows` of a model it adds to. On a GPU the coreset and the network's activations are in
    its memory, which this does not check."""
    from .features import crop_transforms

    on_host = backbone.device.type == "cpu"
    check(estimate(patches_kept(masks), len(crop_transforms(config)), backbone.feature_dim, config.distance,
                   bf16_bulk, earlier_rows, on_host, runtime_bytes(config.batch_size, config.input_size) if on_host
                   else 0), copies_reason(config))


def copies_reason(config) -> str:
    """Why each image is embedded more than once, in the settings' own words."""
    parts = []
    if config.part_symmetry != "none":
        parts.append(f"part_symmetry {config.part_symmetry}")
    if config.augment:
        parts.append("augment")
    return ", ".join(parts) or "none"


def patches_kept(masks: Sequence[np.ndarray]) -> list[int]:
    return [int(np.count_nonzero(m)) for m in masks]
