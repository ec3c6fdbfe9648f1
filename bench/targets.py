"""Issue 25's targets (issue 13's, raised) from an `inspector eval` JSON (ours vs anomalib): every missed cell with by how much.

    python bench/targets.py bench/eval_six_sets.json [more.json ...] [--table]

Several JSON files (runs of the same split and settings) are read as one: a later file's record replaces an
earlier one of the same (category, shots, method).

--table: first the grid of image AUROC (pixel AUROC), ours / anomalib, per set and shot count, as markdown.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

TIE = 0.002


def main() -> int:
    idx = {}
    for path in [a for a in sys.argv[1:] if not a.startswith("--")]:
        idx.update({(r["category"], r["shots"], r["method"]): r for r in json.loads(Path(path).read_text())["records"]})
    cells = sorted({(c, s) for c, s, m in idx if m == "ours" and (c, s, "anomalib") in idx},
                   key=lambda k: (k[0], float("inf") if k[1] == "all" else float(k[1])))
    if "--table" in sys.argv[2:]:
        print_table(idx)
    checks = [("image AUROC", "image_auroc", TIE), ("pixel AUROC", "pixel_auroc", TIE), ("AUPRO", "aupro", TIE)]
    for label, key, tie in checks:
        missed = []
        for c, s in cells:
            a, b = idx[(c, s, "ours")].get(key), idx[(c, s, "anomalib")].get(key)
            if a is None or b is None:
                continue
            if a < b - tie:
                missed.append(f"{c} {s}: {a:.3f} vs {b:.3f} ({a - b:+.3f})")
        n = sum(idx[(c, s, "ours")].get(key) is not None for c, s in cells)
        print(f"- {label} >= anomalib (tie {tie}): met in {n - len(missed)} of {n}"
              + (("; missed: " + "; ".join(missed)) if missed else ""))
    missed = []
    for c, s in cells:
        a, b = idx[(c, s, "ours")]["fit"]["total_s"], idx[(c, s, "anomalib")]["fit"]["total_s"]
        if a > b:
            missed.append(f"{c} {s}: {a:.2f} vs {b:.2f} s ({a / b:.2f} x)")
    print(f"- fit time <= anomalib: met in {len(cells) - len(missed)} of {len(cells)}"
          + (("; missed: " + "; ".join(missed)) if missed else ""))
    few = [(c, s) for c, s in cells if s in ("1", "2", "4", "8")]
    if few:
        ours = np.mean([idx[(c, s, "ours")]["image_auroc"] for c, s in few])
        peer = np.mean([idx[(c, s, "anomalib")]["image_auroc"] for c, s in few])
        sets = sorted({c for c, _ in few})
        print(f"- mean image AUROC at 1-8 shots over {len(sets)} sets ({len(few)} cells): ours {ours:.4f}, "
              f"anomalib {peer:.4f}, difference {ours - peer:+.4f} (issue 25: +0.04; issue 13: +0.02)")
    return 0


def print_table(idx: dict) -> None:
    """Image AUROC (pixel AUROC) ours / anomalib; bold where ours is lower by more than the tie."""
    sets = sorted({c for c, _, _ in idx})
    shots = sorted({s for _, s, _ in idx}, key=lambda s: float("inf") if s == "all" else float(s))

    def fmt(r):
        pix = r.get("pixel_auroc")
        return f"{r['image_auroc']:.3f}" + (f" ({pix:.3f})" if pix is not None else "")

    print("| set | " + " | ".join(shots) + " |")
    print("|---|" + "---|" * len(shots))
    for c in sets:
        row = []
        for s in shots:
            a, b = idx.get((c, s, "ours")), idx.get((c, s, "anomalib"))
            if a is None or b is None:
                row.append("-")
                continue
            text = f"{fmt(a)} / {fmt(b)}"
            row.append(f"**{text}**" if a["image_auroc"] < b["image_auroc"] - TIE else text)
        print(f"| {c} | " + " | ".join(row) + " |")
    print()


if __name__ == "__main__":
    sys.exit(main())
