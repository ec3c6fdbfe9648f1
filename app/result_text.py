"""What an inspection result says in words and in a CSV row: no Qt here, the panels show it."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import inference


def score_text(score: float, fmt: str = ".3f") -> str:
    """A score, or nothing when the image was not scored (NOT_FOUND, ERROR)."""
    return format(score, fmt) if score is not None and math.isfinite(score) else ""


def write_results_csv(path: str | Path, rows: list[tuple[str, inference.InferenceResult]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["image", "path", "score", "threshold", "verdict", "regions", "largest_area_px",
                    "largest_area_mm2"])
        for path_, r in rows:
            big = r.regions[0] if r.regions else None
            w.writerow([Path(path_).name, path_, score_text(r.score, ".6g"), "" if r.threshold is None else f"{r.threshold:.6g}",
                        r.verdict.value, len(r.regions), big.area_px if big else "",
                        "" if big is None or big.area_mm2 is None else f"{big.area_mm2:.6g}"])


def explain(result: inference.InferenceResult, whole_image: bool = False) -> str:
    """The verdict in a line engineer's words, naming the regions that made the part NG. `whole_image`: the model
    has no drawn ROI (its edge is the image's border, and the advice is to draw one)."""
    if result.threshold is None:
        return "No verdict: the model is not calibrated (Model > Calibrate…)."
    zoned = any(r.zones is not None for r in result.regions)
    limit = "the area limits of its zones" if zoned else "the area limit"
    if "length limit" in result.reason:  # the calibration has a minimum length too (scoring.judge says so)
        limit += " or the length limit"
    if result.verdict == "NG":
        names = ", ".join(f"#{i + 1}" for i in result.ng_regions)
        which = f"region {names} is" if len(result.ng_regions) == 1 else f"regions {names} are"
        text = (f"NG: score {result.score:.3f} is at or above the threshold {result.threshold:.3f}, and {which} "
                f"at least {limit}.")
        if all(result.regions[i].on_edge for i in result.ng_regions) and whole_image:
            text += (" It lies on the image's border, where the map is least reliable: draw a ROI inside the part "
                     "(Setup) and fit again.")
        elif all(result.regions[i].on_edge for i in result.ng_regions):
            text += (" It lies on the ROI's edge, where the map is least reliable: check that the ROI lies inside "
                     "the part.")
        return text
    if result.score < result.threshold:
        return f"OK: score {result.score:.3f} is below the threshold {result.threshold:.3f}."
    return (f"OK: score {result.score:.3f} reaches the threshold {result.threshold:.3f}, but every region is "
            f"smaller than {limit} (drawn faintly).")


def batch_summary(outcomes: list) -> str:
    """Counts and yield of an "Inspect all": the one count every client gives (inference.VerdictCounts);
    a message (str) is an image that could not be inspected (ERROR)."""
    counts = inference.VerdictCounts.of("ERROR" if isinstance(o, str) else o.verdict for o in outcomes)
    return f"{len(outcomes)} image(s): {counts.summary()}"
