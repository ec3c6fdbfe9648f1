"""Ours (one candidate policy from bench/sweep_defaults.py's JSON) against anomalib PatchCore's records
from `inspector eval` JSON files (same split, seed, backbone, weights, size and coreset ratio).

    python bench/compare_sweep.py bench/sweep_defaults.json bench/eval_results.json bench/eval_six_sets.json \
        --few-shot-fit flips --mode p99
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

SETS = ["mvtec_bottle", "visa_fryum", "l4v_cookie", "ksdd", "mpdd_metal_plate", "mvtec_screw"]
SHOTS = ["1", "2", "4", "8", "16", "all"]
TIE = 0.002


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("sweep", type=Path)
    ap.add_argument("evals", type=Path, nargs="+")
    ap.add_argument("--few-shot-fit", default="flips")
    ap.add_argument("--mode", default="p99")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--plot", type=Path, default=None, help="PNG: image AUROC against shots, per set")
    ap.add_argument("--ours-from", type=Path, nargs="*", default=[],
                    help="eval JSONs whose 'ours' records ran this policy: used where the sweep has no cell")
    args = ap.parse_args()
    ours = {}
    for c in json.loads(args.sweep.read_text())["cells"]:
        fit = args.few_shot_fit if c["shots"] in ("1", "2", "4", "8") else "none"
        if c["size"] == args.size and c["fit"] == fit:
            ours[(c["set"], c["shots"])] = (c["image_auroc"][args.mode], c["pixel_auroc"])
    for path in args.ours_from:
        if path.is_file():
            for r in json.loads(path.read_text())["records"]:
                if r["method"] == "ours":
                    ours.setdefault((r["category"], r["shots"]), (r["image_auroc"], r["pixel_auroc"]))
    peer = {}
    for path in args.evals:
        if path.is_file():
            for r in json.loads(path.read_text())["records"]:
                if r["method"] == "anomalib":
                    peer[(r["category"], r["shots"])] = (r["image_auroc"], r["pixel_auroc"], path.name)
    print(f"Image AUROC (pixel AUROC), ours ({args.size} px, {args.few_shot_fit} at <= 8 shots, score "
          f"{args.mode}) / anomalib; **bold** = ours below anomalib by more than {TIE}\n")
    print("| set | " + " | ".join(SHOTS) + " |")
    print("|---|" + "---|" * len(SHOTS))
    few_ours, few_peer, missed = [], [], []
    for s in SETS:
        row = []
        for k in SHOTS:
            a, b = ours.get((s, k)), peer.get((s, k))
            if a is None:
                row.append("-")
                continue
            if b is None:
                row.append(f"{a[0]:.3f} ({a[1]:.3f}) / -")
                continue
            bad = a[0] < b[0] - TIE
            text = f"{a[0]:.3f} ({a[1]:.3f}) / {b[0]:.3f} ({b[1]:.3f})"
            row.append(f"**{text}**" if bad else text)
            if bad:
                missed.append(f"{s} {k}: {a[0] - b[0]:+.3f}")
            if k in ("1", "2", "4", "8"):
                few_ours.append(a[0])
                few_peer.append(b[0])
        print(f"| {s} | " + " | ".join(row) + " |")
    if few_ours:
        print(f"\nMean image AUROC at 1-8 shots over the {len(few_ours)} cells with both: ours "
              f"{np.mean(few_ours):.4f}, anomalib {np.mean(few_peer):.4f} ({np.mean(few_ours) - np.mean(few_peer):+.4f})")
    print("Missed image-AUROC cells: " + ("; ".join(missed) if missed else "none"))
    if args.plot is not None:
        plot(ours, peer, args.plot)
    return 0


def plot(ours: dict, peer: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = [s for s in SETS if any(k[0] == s for k in ours)]
    ncols = min(3, len(sets))
    nrows = -(-len(sets) // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    for ax in grid.ravel()[len(sets):]:
        ax.set_visible(False)
    for ax, s in zip(grid.ravel(), sets):
        for name, data, style in (("ours", ours, dict(color="tab:blue", marker="o")),
                                  ("anomalib", peer, dict(color="tab:orange", marker="s"))):
            pts = [(i, data[(s, k)][0]) for i, k in enumerate(SHOTS) if (s, k) in data]
            if pts:
                ax.plot(*zip(*pts), label=name, **style)
        ax.set_xticks(range(len(SHOTS)), SHOTS)
        ax.set_title(s)
        ax.set_xlabel("OK images taught (shots)")
        ax.set_ylabel("image AUROC")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    fig.suptitle("Image AUROC vs OK shots, EfficientNet-Lite0 (same weights) for both, 224 px", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
