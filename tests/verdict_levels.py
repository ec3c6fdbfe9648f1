"""The property every verdict rule keeps (tests of scoring, zones and the minimum length): on a map, judge() calls
the part NG at threshold t exactly when t <= verdict_level(), the level calibration counts FAR and FRR on."""

from __future__ import annotations

from inference.scoring import find_regions, judge, verdict_level


def assert_level_is_where_judge_turns_ng(m, mask, score, area, mm, zmap=None, min_length=0.0, every=5, what=""):
    h, w = m.shape
    level = verdict_level(score, m, mask, area, mm, zmap, min_length)
    for t in sorted(set(m[mask].ravel().tolist()))[::every]:
        regions = find_regions(m, mask, float(t), (0, 0, w, h), mm, zmap)
        verdict, _, _ = judge(score, regions, float(t), area, zmap, min_length)
        assert (verdict == "NG") == (t <= level), (what, t, level, verdict)
