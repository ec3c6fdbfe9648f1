"""Mean rank of each candidate default over every (set, shots) cell of bench/sweep_defaults.py's JSON,
and FRR / FAR of each OK-only calibration option at those cells. Prints markdown; runs nothing heavy.

    python bench/rank_defaults.py bench/sweep_defaults.json [--calibration-mode p99]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference import calibrate_by  # noqa: E402
from inference.calibration import SHIFT_RATIO_LIMITS  # noqa: E402


def candidates(cells: list[dict]) -> dict:
    """(size, fit, score mode) -> {(set, shots): image AUROC}."""
    out: dict = defaultdict(dict)
    for c in cells:
        for mode, auc in c["image_auroc"].items():
            out[(c["size"], _fit_name(c), mode)][(c["set"], c["shots"])] = auc
    # Augmentation only at <= 8 shots: above, a candidate is its fit without the augmentation.
    for (size, fit, mode), res in list(out.items()):
        feat, _, name = fit.rpartition(":")
        base = BASE_FIT.get(name)
        if base is not None:
            for key, auc in out.get((size, f"{feat}:{base}" if feat else base, mode), {}).items():
                if key[1] not in ("1", "2", "4", "8"):
                    res.setdefault(key, auc)
    return out


# The fit each few-shot candidate is above 8 shots (bench/sweep_defaults.py FITS without the <= 8 part).
BASE_FIT = {"flips": "none", "dense": "none", "flips_dense": "none", "flips_sparse": "none", "flips_fg": "fg",
            "flips_cosine": "cosine", "any": "none", "any_fg": "fg", "flips_cos_fg": "cos_fg"}


def _fit_name(cell: dict) -> str:
    """The candidate's fit, prefixed with its feature setting when that is not the first one (lite0)."""
    feat = cell.get("features", "lite0")
    return cell["fit"] if feat == "lite0" else f"{feat}:{cell['fit']}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("json", type=Path)
    ap.add_argument("--calibration-mode", default="p99", help="image score whose calibration is reported")
    ap.add_argument("--calibration-fit", default="flips", help="fit at <= 8 shots (16 and more: none)")
    ap.add_argument("--calibration-size", type=int, default=224)
    args = ap.parse_args()
    cells = json.loads(args.json.read_text())["cells"]
    cands = candidates(cells)
    wanted = min(len(v) for v in cands.values())
    full = {n: v for n, v in cands.items() if len(v) >= max(len(v) for v in cands.values())}
    cands = full if len(full) >= 2 else cands  # candidates measured in every cell; a partial one is left out
    common = set.intersection(*(set(v) for v in cands.values()))
    print(f"(cells per candidate: {wanted} to {max(len(v) for v in cands.values())})")
    keys = sorted(common)
    names = sorted(cands)
    table = np.array([[cands[n][k] for k in keys] for n in names])  # candidates x cells
    ranks = np.column_stack([rankdata(-table[:, j], method="average") for j in range(len(keys))])
    order = np.argsort(ranks.mean(axis=1))
    best = table.max(axis=0)
    print(f"{len(keys)} cells (set x shots) common to all {len(names)} candidates\n")
    print("| input | augmentation <= 8 shots | image score | mean rank | mean image AUROC | worst cell vs best candidate |")
    print("|---|---|---|---|---|---|")
    for i in order:
        size, fit, mode = names[i]
        gap = table[i] - best
        j = int(np.argmin(gap))
        print(f"| {size} | {fit} | {mode} | {ranks[i].mean():.2f} | {table[i].mean():.4f} | "
              f"{gap[j]:+.4f} ({keys[j][0]} {keys[j][1]}) |")
    print("\nPer set, mean image AUROC over shots:\n")
    sets = sorted({k[0] for k in keys})
    print("| candidate | " + " | ".join(sets) + " |")
    print("|---|" + "---|" * len(sets))
    for i in order:
        row = [np.mean([table[i, j] for j, k in enumerate(keys) if k[0] == s]) for s in sets]
        print(f"| {' '.join(map(str, names[i]))} | " + " | ".join(f"{v:.4f}" for v in row) + " |")

    print(f"\nOK-only calibration at the calibrated threshold ({args.calibration_size} px, fit "
          f"{args.calibration_fit}, score {args.calibration_mode}): FRR / FAR on the test images\n")
    options = [("percentile", {}), ("mad", {"mad_k": 3.0}), ("mad", {"mad_k": 6.0}), ("tail", {"expected_frr": 0.01}),
               ("tail", {"expected_frr": 0.001})]
    labels = ["p99", "mad k=3", "mad k=6", "tail 1%", "tail 0.1%"]
    print("| set | shots | " + " | ".join(labels) + " | median / taught median: calibration / test OK | warning: calibration / test OK |")
    print("|---|---|" + "---|" * (len(labels) + 2))
    sums = np.zeros((len(options), 2))
    n = 0
    ratios = defaultdict(list)
    for c in sorted(cells, key=lambda c: (c["set"], float(c["shots"]) if c["shots"] != "all" else 1e9)):
        policy_fit = args.calibration_fit if c["shots"] in ("1", "2", "4", "8") else "none"
        if (c["size"], c["fit"]) != (args.calibration_size, policy_fit):
            continue
        m = args.calibration_mode
        y = np.array(c["is_defect"])
        s = np.array(c["test_scores"][m])
        row = []
        for i, (meth, kw) in enumerate(options):
            t = calibrate_by(meth, c["cal_scores"][m], **kw).threshold
            frr, far = float((s[~y] >= t).mean()), float((s[y] < t).mean())
            sums[i] += (frr, far)
            row.append(f"{frr:.2f} / {far:.2f}")
        n += 1
        ratio = float(np.median(c["cal_scores"][m]) / np.median(c["taught_scores"][m]))
        test_ratio = float(np.median(s[~y]) / np.median(c["taught_scores"][m]))
        ratios[c["set"]].append((ratio, test_ratio))
        warn = not (SHIFT_RATIO_LIMITS[0] <= ratio <= SHIFT_RATIO_LIMITS[1])
        warn_test = not (SHIFT_RATIO_LIMITS[0] <= test_ratio <= SHIFT_RATIO_LIMITS[1])
        print(f"| {c['set']} | {c['shots']} | " + " | ".join(row) + f" | {ratio:.2f} / {test_ratio:.2f} | "
              f"{'yes' if warn else 'no'} / {'yes' if warn_test else 'no'} |")
    if n:
        print("| **mean** | | " + " | ".join(f"{a / n:.2f} / {b / n:.2f}" for a, b in sums) + " | | |")
    print("\nMedian score ratio to the taught images: calibration OK images, test OK images (per set, over shots)\n")
    for s, v in sorted(ratios.items()):
        a = np.array(v)
        print(f"- {s}: calibration {a[:, 0].min():.2f}-{a[:, 0].max():.2f}, test OK {a[:, 1].min():.2f}-{a[:, 1].max():.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
