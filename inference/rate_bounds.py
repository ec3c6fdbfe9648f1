"""What a handful of calibration images can say about the line: each rate's upper confidence bound.

A calibration that passes none of its 10 NG images reports a false-accept rate of 0 %, but 10 images cannot tell
0 % from 20 %: a line whose defects escape 26 % of the time still has 10 in a row caught one time in 20. So every
client shows, beside the rate counted, the highest rate still consistent with that count at 95 % confidence (the
exact, Clopper-Pearson bound: the rate at which that count of errors or fewer has a 5 % chance). It assumes the
calibration images are like the line's parts, and the threshold was chosen on those same images, so the counts
lean optimistic: the bound says what the images cannot rule out, never a guarantee.
"""

from __future__ import annotations

import math
from typing import Optional

CONFIDENCE = 0.95
# The rate a line usually wants shown (1 in 20): how many images that takes is said beside a weaker bound.
SHOWN_RATE = 0.05


def upper_bound(errors: int, n: int, confidence: float = CONFIDENCE) -> Optional[float]:
    """The one-sided upper `confidence` bound of a rate seen as `errors` of `n` (Clopper-Pearson); None for n = 0."""
    if n <= 0:
        return None
    if not 0 <= errors <= n:
        raise ValueError(f"errors must be between 0 and n ({n}), got {errors}")
    if errors == n:
        return 1.0
    # The chance of `errors` or fewer falls as the rate rises: bisect for the rate where it is 1 - confidence
    # (scipy's beta.ppf(confidence, errors + 1, n - errors) gives the same; scipy is not worth its size in the
    # bundle for one quantile).
    low, high = errors / n, 1.0
    for _ in range(60):  # 2^-60 of the interval: far below what a rate printed to 0.1 % shows
        mid = (low + high) / 2
        if _binomial_cdf(errors, n, mid) > 1 - confidence:
            low = mid
        else:
            high = mid
    return high


def _binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), 0 < p < 1, summed in logs (no overflow for thousands of images)."""
    if p <= 0:
        return 1.0
    if p >= 1:
        return 0.0
    log_p, log_q, log_n = math.log(p), math.log1p(-p), math.lgamma(n + 1)

    def term(i: int) -> float:
        return math.exp(log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q)

    if k <= n // 2:
        return min(1.0, sum(term(i) for i in range(k + 1)))
    return max(0.0, 1.0 - sum(term(i) for i in range(k + 1, n + 1)))  # the shorter tail: a dialog's line dragged


def images_to_show(rate: float = SHOWN_RATE, confidence: float = CONFIDENCE) -> int:
    """How many images, none of them misjudged, bound a rate under `rate` at `confidence` (59 for 5 % at 95 %)."""
    if not 0 < rate < 1:
        raise ValueError(f"rate must be in (0, 1), got {rate}")
    return math.ceil(math.log(1 - confidence) / math.log1p(-rate))


def evidence_note(false_rejects: int, n_ok: int, false_accepts: int, n_ng: int,
                  confidence: float = CONFIDENCE) -> str:
    """One sentence on what the calibration images can show, for every client's calibration summary:
    "At 95 % confidence, false reject at most 26 % and false accept at most 26 % on the line's parts;
    59 images of a kind, none misjudged, show a rate under 5 %."; the second half only where a bound is
    above SHOWN_RATE."""
    parts, weak = [], False
    for name, errors, n in (("false reject", false_rejects, n_ok), ("false accept", false_accepts, n_ng)):
        bound = upper_bound(errors, n, confidence)
        if bound is None:
            parts.append(f"{name} unknown (no {'OK' if name == 'false reject' else 'NG'} images)")
            continue
        parts.append(f"{name} at most {_percent(bound)}")
        weak = weak or bound > SHOWN_RATE
    text = f"At {_percent(confidence)} confidence, " + " and ".join(parts) + " on the line's parts"
    if weak:
        text += (f"; {images_to_show(SHOWN_RATE, confidence)} images of a kind, none misjudged, show a rate under "
                 f"{_percent(SHOWN_RATE)}")
    return text + "."


def _percent(value: float) -> str:
    """26%, 4.9%, 0.3%: as many digits as a rate from a few hundred images means."""
    pct = 100 * value
    if pct >= 10 or pct == round(pct):
        return f"{pct:.0f}%"
    return f"{pct:.1f}%"
