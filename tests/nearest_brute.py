"""The nearest taught part by brute force (numpy over the saved embeddings and provenance), to check
inference.nearest_taught against: no faiss, no vote code of the engine."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from inference import PROVENANCE_FILE
from inference.features import kept_patch_mask
from inference.placement import embed_found, prepare_inspection
from inference.provenance import TOP_SHARE, BankProvenance


def features(model, image):
    """The inspected image's patch features (C x h x w) and its prepared crop, as inspection computes them."""
    p = prepare_inspection(model, [image], model.record.same_size, 0, ["x"])[0]
    return embed_found(model.backbone, [p])[0], p


def brute_nearest(model, image, folder: Path | None = None) -> SimpleNamespace:
    """winner (taught image index), votes, considered, patch (row, col), taught_position, distance."""
    folder = Path(folder or model.folder)
    prov = BankProvenance.from_bytes((folder / PROVENANCE_FILE).read_bytes())
    emb = np.load(folder / "embeddings.npy")
    feats, p = features(model, image)
    c, h, w = feats.shape
    bank = emb[prov.coreset].astype(np.float64)
    q = feats.reshape(c, -1).T.astype(np.float64)
    d = np.sqrt(np.maximum((q ** 2).sum(1)[:, None] - 2 * q @ bank.T + (bank ** 2).sum(1)[None, :], 0))
    k = min(model.config.n_neighbors, len(bank))
    score = np.sort(d, axis=1)[:, :k].mean(1)
    nearest = d.argmin(1)
    kept = np.flatnonzero(kept_patch_mask(model.roi, model.ignore, p.crop.box, (h, w)).ravel())
    top = kept[np.argsort(-score[kept], kind="stable")][:max(1, math.ceil(TOP_SHARE * len(kept)))]
    images = prov.rows[prov.coreset[nearest[top]], 0]
    counts = {int(i): int((images == i).sum()) for i in set(images.tolist())}
    best = max(counts.values())
    winner = next(int(i) for i in images if counts[int(i)] == best)  # the tie goes to the higher-scoring patch
    pair = int(top[list(images).index(winner)])
    row = prov.rows[prov.coreset[nearest[pair]]]
    return SimpleNamespace(winner=winner, votes=best, considered=len(top), patch=(pair // w, pair % w),
                           taught_position=(int(row[1]), int(row[2])), distance=float(score[pair]))
