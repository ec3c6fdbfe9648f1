"""What a calibration says against what the test images then show, from recorded `inspector eval` JSON files
(ours), per cell: 10 calibration OK images and the eval's 5 calibration NG images set the threshold.

    python bench/calibration_on_test.py ../shared/data bench/eval_six_sets.json bench/eval_six_sets_b.json \
        bench/eval_six_sets_c.json bench/eval_product_zero_pad.json

1. The rates' 95 % bounds (inference/rate_bounds.py, what every client prints): the false accepts and rejects
   counted on the calibration images, their bounds, and the rates on the test images; how often the test rate
   stays within the bound.
2. Where between the highest OK and the lowest NG calibration score the threshold should sit: the test FRR /
   FAR of each placement, per set, mean over the shot counts.
3. Without NG images (OK-only), each `calibration_method`: the test FRR / FAR, and in how many cells the threshold
   lies under the highest calibration OK score (the calibration then warns that it rejects its own OK images).

`mid` is what `calibrate` does where the calibration's OK and NG scores separate (midway); `wX` puts it at
X of the gap above the highest OK score (lower X: nearer the OK side, fewer defects passed, more good parts
rejected); `geo` the geometric mean of the two. Where they overlap every rule takes calibrate()'s threshold. The
calibration NG images are the eval's (runner.calibration_ng_indices), left out of the test counts. Prints
markdown; runs nothing heavy.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference import calibrate, calibrate_by  # noqa: E402
from inspector_eval import metrics  # noqa: E402
from inspector_eval.runner import CALIBRATION_NG_DEFAULT, calibration_ng_indices  # noqa: E402
from operating_point import recorded_cells  # noqa: E402

WEIGHTS = (0.1, 0.25, 0.5, 0.75)
OK_ONLY = {"percentile 99 (default)": {"method": "percentile"}, "percentile 100": {"method": "percentile",
           "score_percentile": 100.0}, "mad k=3": {"method": "mad"}, "mad k=4": {"method": "mad", "mad_k": 4.0},
           "tail 1 %": {"method": "tail", "expected_frr": 0.01}}


def placements(ok: np.ndarray, ng: np.ndarray) -> dict[str, float]:
    base = calibrate(list(ok), list(ng)).threshold
    hi, lo = float(ok.max()), float(ng.min())
    if hi >= lo:  # overlapping: calibrate() minimises FAR + FRR, whatever the rule
        return {**{f"w{w:g}": base for w in WEIGHTS}, "geo": base}
    out = {f"w{w:g}": hi + w * (lo - hi) for w in WEIGHTS}
    out["geo"] = float(np.sqrt(hi * lo)) if hi > 0 else base
    return out


def main() -> int:
    results, cells, separated, bounds = defaultdict(lambda: defaultdict(list)), 0, 0, []
    ok_only, under_top = defaultdict(lambda: defaultdict(list)), defaultdict(int)
    for cat, shots, _method, rec, y in recorded_cells(Path(sys.argv[1]), sys.argv[2:], ("ours",)):
        s = np.asarray(rec["scores"], np.float64)
        held = np.zeros(len(y), bool)
        held[list(calibration_ng_indices(y, CALIBRATION_NG_DEFAULT))] = True
        ok, ng = np.asarray(rec["calibration_scores"], np.float64), s[held]
        cells += 1
        separated += bool(ok.max() < ng.min())
        cal = calibrate(list(ok), list(ng))
        errors, test = cal.errors, metrics.threshold_metrics(y[~held], s[~held], cal.threshold)
        bounds.append((cat, shots, errors, test))
        for name, t in placements(ok, ng).items():
            m = metrics.threshold_metrics(y[~held], s[~held], t)
            results[name][cat].append((m["frr"], m["far"]))
        for name, kwargs in OK_ONLY.items():
            alone = calibrate_by(ok_scores=list(ok), **kwargs)
            m = metrics.threshold_metrics(y[~held], s[~held], alone.threshold)
            ok_only[name][cat].append((m["frr"], m["far"]))
            under_top[name] += alone.margin < 0
    print("| set | shots | false accepts (calibration) | FAR bound | test FAR | false rejects (calibration) | "
          "FRR bound | test FRR |")
    print("|---|---|---|---|---|---|---|---|")
    for cat, shots, e, test in bounds:
        print(f"| {cat} | {shots} | {e.false_accepts} of {e.n_ng} | {e.far_upper:.2f} | {test['far']:.2f} | "
              f"{e.false_rejects} of {e.n_ok} | {e.frr_upper:.2f} | {test['frr']:.2f} |")
    far_in = sum(test["far"] <= e.far_upper for _, _, e, test in bounds)
    frr_in = sum(test["frr"] <= e.frr_upper for _, _, e, test in bounds)
    print(f"\ntest FAR within its bound in {far_in} of {len(bounds)} cells, test FRR in {frr_in}\n")
    sets = sorted(next(iter(results.values())))
    print(f"{cells} cells, {separated} with the calibration OK and NG scores apart (where the rules differ)\n")
    _table("placement", results, sets)
    print("\nOK-only (no NG images), each calibration_method:\n")
    _table("method", ok_only, sets, {name: f"{n} of {cells}" for name, n in under_top.items()})
    return 0


def _table(what: str, results: dict, sets: list, extra: dict | None = None) -> None:
    """Test FRR / FAR per set (mean over the shot counts) of each rule, and the means over the sets."""
    print(f"| {what} | " + " | ".join(sets) + " | mean FRR | mean FAR | FRR + FAR |"
          + (" under its own top OK score |" if extra else ""))
    print("|---|" + "---|" * (len(sets) + 3 + bool(extra)))
    for name, per_set in results.items():
        means = {c: np.mean(v, axis=0) for c, v in per_set.items()}
        total = np.mean(list(means.values()), axis=0)
        print(f"| {name} | " + " | ".join(f"{means[c][0]:.2f} / {means[c][1]:.2f}" for c in sets)
              + f" | {total[0]:.3f} | {total[1]:.3f} | {total.sum():.3f} |" + (f" {extra[name]} |" if extra else ""))


if __name__ == "__main__":
    sys.exit(main())
