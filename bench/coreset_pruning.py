"""How much of the k-center greedy coreset's distance work the triangle inequality could skip, on a real bank.

    python bench/coreset_pruning.py PROJECT/embeddings.npy [--ratio 0.02] [--group-rows 128] [--picks 32]
        [--groups-per-block 16]

A probe for a faster coreset on large banks (a turned fit of 200 screws: 8.9 million rows, 41 minutes, nearly all
of it the coreset), not the engine's code. The bank is projected as the engine projects it (128 values), sorted
into the Voronoi cells of pivots (farthest-point picks on 20,000 sampled rows, one per --group-rows rows), and
greedy runs in rounds of --picks centres (the engine's blocked greedy applies its picks together). A cell is
skipped for a pick when the pick lies farther from its pivot than the cell's radius plus its farthest row's
current distance (no row of it can come closer); blocks of --groups-per-block consecutive cells (cells ordered
by pivots of pivots) are what one matrix product would update. Prints the share of row x centre distances that
must still be computed (1.0: the engine's dense update) and the products per round. Prints figures only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch


def farthest_points(x: np.ndarray, m: int) -> np.ndarray:
    sq = (x * x).sum(1)
    picks, dist = [0], np.full(len(x), np.inf, np.float32)
    for _ in range(m - 1):
        c = picks[-1]
        np.minimum(dist, sq - 2 * x @ x[c] + sq[c], out=dist)
        picks.append(int(np.argmax(dist)))
    return np.array(picks)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("bank", type=Path)
    p.add_argument("--ratio", type=float, default=0.02)
    p.add_argument("--group-rows", type=int, default=128)
    p.add_argument("--picks", type=int, default=32)
    p.add_argument("--groups-per-block", type=int, default=16)
    args = p.parse_args()
    raw = torch.from_numpy(np.array(np.load(args.bank, mmap_mode="r"), dtype=np.float32))
    proj = torch.randn(raw.shape[1], 128, generator=torch.Generator().manual_seed(0)) / np.sqrt(128)
    x = (raw @ proj).numpy()
    x -= x.mean(0)
    n = len(x)
    k, groups = int(np.ceil(args.ratio * n)), max(1, n // args.group_rows)
    sample = x[np.random.default_rng(0).choice(n, min(n, 20000), replace=False)]
    pivots = sample[farthest_points(sample, groups)]
    blocks = max(1, groups // args.groups_per_block)
    tops = pivots[farthest_points(pivots, blocks)]
    block_of = ((pivots[:, None] - tops[None]) ** 2).sum(-1).argmin(1)
    order = np.argsort(block_of, kind="stable")
    pivots, block_of = pivots[order], block_of[order]
    psq = (pivots * pivots).sum(1)
    cell = np.concatenate([(((x[s:s + 20000] * x[s:s + 20000]).sum(1)[:, None] - 2 * x[s:s + 20000] @ pivots.T
                             + psq[None]).argmin(1)) for s in range(0, n, 20000)])
    rows = np.argsort(cell, kind="stable")
    x, cell = x[rows], cell[rows]
    sq = (x * x).sum(1)
    starts, ends = np.searchsorted(cell, np.arange(groups)), np.searchsorted(cell, np.arange(groups), side="right")
    radius = np.array([np.sqrt(((x[s:e] - pivots[g]) ** 2).sum(1).max()) if e > s else 0.0
                       for g, (s, e) in enumerate(zip(starts, ends))])
    members = [np.flatnonzero(block_of == b) for b in range(blocks)]
    spans = [(starts[m].min(), ends[m].max()) if len(m) else (0, 0) for m in members]
    min_d, far = np.full(n, np.inf, np.float32), np.full(groups, np.inf)
    current, done, pairs, products, rounds = 0, 0, 0, 0, 0
    while done < k:
        picks = [current]
        cand = np.argsort(-min_d)[: 4 * args.picks]
        xc = x[cand]
        cd = np.minimum(min_d[cand], ((xc - x[current]) ** 2).sum(1))
        while len(picks) < args.picks and done + len(picks) < k:
            j = int(np.argmax(cd))
            picks.append(int(cand[j]))
            cd = np.minimum(cd, ((xc - xc[j]) ** 2).sum(1))
            cd[j] = -1
        centres = x[picks]
        reach = np.sqrt(np.maximum(((pivots[:, None, :] - centres[None]) ** 2).sum(-1), 0)) < (radius + far)[:, None]
        rounds += 1
        for b, (s, e) in enumerate(spans):
            hit = reach[members[b]].any(0)
            if e <= s or not hit.any():
                continue
            products += 1
            d = (sq[s:e, None] - 2 * x[s:e] @ centres[hit].T + sq[picks][hit][None]).min(1)
            np.minimum(min_d[s:e], d, out=min_d[s:e])
            pairs += (e - s) * int(hit.sum())
            for g in members[b]:
                if ends[g] > starts[g]:
                    far[g] = np.sqrt(max(float(min_d[starts[g]:ends[g]].max()), 0.0))
        min_d[picks] = -1
        done += len(picks)
        current = int(np.argmax(min_d))
    print(f"{n} rows -> {k} centres; cells of about {args.group_rows} rows ({groups}), blocks of "
          f"{args.groups_per_block} cells ({blocks}), {args.picks} picks a round: {rounds} rounds, "
          f"{products / rounds:.0f} products a round, distances computed {pairs / (n * k):.3f} of the dense update's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
