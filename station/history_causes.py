"""Why the ERRORs were ERRORs: the ERROR parts counted by their cause (History.error_causes), each with its share,
most first. A technician reads it as a Pareto of what keeps parts from being judged: the light (image_check), the
camera's trigger (no_image), a frozen camera (repeated_image) (`inspector history PROJECT --by cause`,
`GET /projects/NAME/history/causes`, the History view's Report…)."""

from __future__ import annotations

from typing import Optional, Sequence

from .outcome import ErrorCode

NOT_KEPT = "not_recorded"  # rows written before the history kept the cause (schema 4)


def cause_records(causes: Sequence[tuple[Optional[int], int]]) -> list[dict]:
    """(error code, ERROR parts) pairs as records: the code, its cause's name and words, the count and its share of
    the ERRORs. A code this version does not know (a newer one's) is named by its number."""
    total = sum(n for _, n in causes)
    out = []
    for code, n in causes:
        known = ErrorCode.known(code)
        cause = known.cause if known else (NOT_KEPT if code is None else f"code_{code}")
        text = known.description if known else ("written before the history kept the cause"
                                                if code is None else "a cause this version does not know")
        out.append({"error_code": code, "cause": cause, "description": text, "ERROR": n,
                    "share": round(n / total, 6)})
    return out


__all__ = ["NOT_KEPT", "cause_records"]
