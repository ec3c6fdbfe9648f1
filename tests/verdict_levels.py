"""The property every verdict rule keeps (tests of scoring, zones and the minimum length): on a map, judge() calls
the part NG at threshold t exactly when t <= verdict_level(), the level calibration counts FAR and FRR on."""

from __future__ import annotations

import cv2
import numpy as np

from inference.scoring import find_regions, judge, verdict_level


def random_map(rng, trial: int, masked_rows: int = 4, sigma: float = 2.0):
    """(map, mask, score, mm per px) of a smooth random 40 x 50 map, its first rows outside the mask; in px on odd
    trials, in mm (0.1 mm per px) on even ones."""
    m = cv2.GaussianBlur(rng.random((40, 50)).astype(np.float32), (0, 0), sigma)
    mask = np.ones_like(m, bool)
    mask[:masked_rows] = False
    return m, mask, float(m[mask].max()) * rng.uniform(0.8, 1.2), None if trial % 2 else 0.1


def assert_level_is_where_judge_turns_ng(m, mask, score, area, mm, zmap=None, min_length=0.0, every=5, what=""):
    h, w = m.shape
    level = verdict_level(score, m, mask, area, mm, zmap, min_length)
    for t in sorted(set(m[mask].ravel().tolist()))[::every]:
        regions = find_regions(m, mask, float(t), (0, 0, w, h), mm, zmap)
        verdict, _, _ = judge(score, regions, float(t), area, zmap, min_length)
        assert (verdict == "NG") == (t <= level), (what, t, level, verdict)
