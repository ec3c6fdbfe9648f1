"""The operating point a line lives by, from `inspector eval` JSON files (ours and anomalib records).

    python bench/operating_point.py ../shared/data bench/eval_six_sets.json ... bench/eval_issue25.json

Several files are read as one (a later file's record replaces an earlier one of the same category, shots and
method), so anomalib records of an earlier run with the same split can stand beside ours of a new one. Each
record's own test and calibration scores are re-thresholded with inspector_eval.metrics.operating_point (the
calibration NG images: runner.calibration_ng_indices, the same 5 defect test images the eval holds out), so
runs recorded before the eval reported it get the same figures. Prints markdown; runs nothing heavy.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inspector_eval import metrics  # noqa: E402
from inspector_eval.dataset import read_category  # noqa: E402
from inspector_eval.runner import CALIBRATION_NG_DEFAULT, calibration_ng_indices  # noqa: E402


def _key(shots: str) -> float:
    return float("inf") if shots == "all" else float(shots)


def recorded_cells(root: Path, paths, methods):
    """(category, shots, method, record, is_defect per test image) of each recorded cell of `methods` that kept its
    calibration scores, by category, shot count and method; a later file's record replaces an earlier one's of the
    same cell. A record whose scores do not match the set's test images is skipped, with a line on stderr."""
    idx = {}
    for path in paths:
        idx.update({(r["category"], r["shots"], r["method"]): r for r in json.loads(Path(path).read_text())["records"]})
    truth = {}
    for (cat, shots, method), rec in sorted(idx.items(), key=lambda kv: (kv[0][0], _key(kv[0][1]), kv[0][2])):
        if method not in methods or not rec.get("calibration_scores"):
            continue
        if cat not in truth:
            truth[cat] = np.array([t.is_defect for t in read_category(root / cat).test])
        y = truth[cat]
        if len(y) != len(rec["scores"]):
            print(f"skipped {cat} {shots} {method}: {len(rec['scores'])} scores for {len(y)} test images",
                  file=sys.stderr)
            continue
        yield cat, shots, method, rec, y


def fmt(op: dict, name: str) -> str:
    if name not in op:
        return "-"
    return f"{op[name]['frr']:.2f} / {op[name]['far']:.2f}"


def main() -> int:
    rows = []
    for cat, shots, method, rec, y in recorded_cells(Path(sys.argv[1]), sys.argv[2:], ("ours", "anomalib")):
        op = metrics.operating_point(y, rec["scores"], rec["calibration_scores"],
                                     calibration_ng_indices(y, CALIBRATION_NG_DEFAULT))
        rows.append((cat, shots, method, op))
    by_cell = {(c, s, m): op for c, s, m, op in rows}
    cells = sorted({(c, s) for c, s, _, _ in rows}, key=lambda k: (k[0], _key(k[1])))
    print("| set | shots | ours OK-only | ours OK+NG | ours zero escapes | ours FRR at FAR <= 0.05 | "
          "anomalib F1 OK+NG | anomalib F1 OK-only | anomalib FRR at FAR <= 0.05 |")
    print("|---|---|---|---|---|---|---|---|---|")
    per_set = defaultdict(lambda: defaultdict(list))
    for c, s in cells:
        ours, peer = by_cell.get((c, s, "ours")), by_cell.get((c, s, "anomalib"))
        cols = [fmt(ours, "ok_only") if ours else "-", fmt(ours, "ok_ng") if ours else "-",
                fmt(ours, "zero_escape") if ours else "-",
                f"{ours['frr_at_far']['frr']:.2f}" if ours else "-",
                fmt(peer, "anomalib_ok_ng") if peer else "-", fmt(peer, "anomalib_ok_only") if peer else "-",
                f"{peer['frr_at_far']['frr']:.2f}" if peer else "-"]
        print(f"| {c} | {s} | " + " | ".join(cols) + " |")
        for m, op in (("ours", ours), ("anomalib", peer)):
            if op is None:
                continue
            per_set[c][f"{m} frr_at_far"].append(op["frr_at_far"]["frr"])
            own = "zero_escape" if m == "ours" else "anomalib_ok_ng"
            if own in op:
                per_set[c][f"{m} calibrated frr"].append(op[own]["frr"])
                per_set[c][f"{m} calibrated far"].append(op[own]["far"])
    print("\nPer set, mean over the shot counts measured for both (FRR at FAR <= 0.05 on the test ROC; "
          "calibrated: ours at zero escapes on the calibration NG images, anomalib at its F1-adaptive "
          "threshold on the same images):\n")
    print("| set | ours FRR at FAR <= 0.05 | anomalib FRR at FAR <= 0.05 | ours calibrated FRR / FAR | "
          "anomalib calibrated FRR / FAR |")
    print("|---|---|---|---|---|")
    for c, v in sorted(per_set.items()):
        def m(k):
            return f"{np.mean(v[k]):.2f}" if v.get(k) else "-"
        print(f"| {c} | {m('ours frr_at_far')} | {m('anomalib frr_at_far')} | {m('ours calibrated frr')} / "
              f"{m('ours calibrated far')} | {m('anomalib calibrated frr')} / {m('anomalib calibrated far')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
