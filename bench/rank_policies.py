"""Mean rank of few-shot policies built from bench/sweep_defaults.py cells: an image score, and mirrored
copies taught up to a number of OK images (0 = never). One policy for every set; no per-set tuning.

    python bench/rank_policies.py bench/sweep_defaults.json [--peer bench/eval_six_sets.json]

--peer: an `inspector eval` JSON with anomalib records; each policy's cells are then compared with it
(wins, ties within 0.002, losses, and the mean at 1-8 shots).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

CUTOFFS = (0, 1, 2, 4, 8)


def cell_table(cells: list[dict]) -> dict:
    """(set, shots, fit) -> {score mode: image AUROC}."""
    return {(c["set"], c["shots"], c["fit"]): c["image_auroc"] for c in cells if c.get("size", 224) == 224}


def policy_results(table: dict, modes: list[str]) -> tuple[list, list, np.ndarray]:
    keys = sorted({(s, n) for (s, n, f) in table if f == "none"})
    names, rows = [], []
    for mode in modes:
        for cut in CUTOFFS:
            row = []
            for s, n in keys:
                flips = n != "all" and int(n) <= cut and (s, n, "flips") in table
                row.append(table[(s, n, "flips" if flips else "none")][mode])
            names.append((mode, cut))
            rows.append(row)
    return names, keys, np.array(rows)


def peer_auroc(path: Path) -> dict:
    out = {}
    for r in json.loads(path.read_text()).get("records", []):
        if r.get("method") == "anomalib" and r.get("image_auroc") is not None:
            out[(r["category"], str(r["shots"]))] = r["image_auroc"]
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("json", type=Path)
    ap.add_argument("--peer", type=Path, action="append", default=[])
    args = ap.parse_args()
    table = cell_table(json.loads(args.json.read_text())["cells"])
    modes = sorted({m for v in table.values() for m in v})
    names, keys, res = policy_results(table, modes)
    ranks = np.column_stack([rankdata(-res[:, j], method="average") for j in range(len(keys))])
    peer = {}
    for p in args.peer:
        peer.update(peer_auroc(p))
    few = [j for j, (s, n) in enumerate(keys) if n in ("1", "2", "4", "8")]
    print(f"{len(keys)} cells: {sorted({k[0] for k in keys})} x {sorted({k[1] for k in keys}, key=lambda x: (len(x), x))}\n")
    print("| image score | mirrors up to | mean rank | mean image AUROC | mean at 1-8 shots | vs anomalib: won / tied / lost (worst) |")
    print("|---|---|---|---|---|---|")
    for i in np.argsort(ranks.mean(axis=1)):
        mode, cut = names[i]
        vs = ""
        if peer:
            d = [(res[i, j] - peer[k], k) for j, k in enumerate(keys) if k in peer]
            won = sum(x > 0.002 for x, _ in d)
            tied = sum(abs(x) <= 0.002 for x, _ in d)
            worst = min(d)
            vs = f"{won} / {tied} / {len(d) - won - tied} ({worst[0]:+.3f} {worst[1][0]} {worst[1][1]})"
        print(f"| {mode} | {cut} | {ranks[i].mean():.2f} | {res[i].mean():.4f} | {res[i, few].mean():.4f} | {vs} |")
    if peer:
        pk = [k for k in keys if k in peer and k[1] in ("1", "2", "4", "8")]
        print(f"\nanomalib mean at 1-8 shots over the {len(pk)} cells it has: {np.mean([peer[k] for k in pk]):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
