"""A client's retry is answered, not inspected twice: the same image sent again for the same part, to the same model,
soon after, gets the answer its first inspection gave (the same history row), and nothing is recorded, counted or
published again.

The line's software (a camera program, a PLC gateway) sends a part's image and waits for the verdict; when the
answer is lost on the way (a timeout, a dropped connection), it sends the request again. Judged again, the part
would get a second history row, be counted twice in the shift's yield, reach the PLC, MQTT and the outbox twice
and add to an NG streak a part that was seen once. A retry is known by what it carries: the same bytes (a real
camera never takes two identical images: station/repeated_images.py) under the same part id. Without a part id a
retry and a frozen camera look the same, so nothing is answered from memory then; with another model active the
image is judged again, by the model now answering.

Kept per project: the last KEEP answers, none older than KEEP_S, each as its JSON without the heatmap (an anomaly
map at the camera's resolution is tens of MB: a resent answer leaves the heatmap out, the row keeps its thumbnail).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Optional

from inference import Verdict

from .masters import part_key

KEEP = 32  # answers remembered per project (a request's images, a few clients' parts)
KEEP_S = 600.0  # a retry comes within seconds; a part sent again ten minutes on is inspected again


@dataclass(frozen=True)
class Answer:
    """What a part's first inspection answered, as a retry gets it again."""

    result: dict  # Outcome.to_dict() without the heatmap: its verdict, score, regions, reason, row_id, ...
    verdict: Verdict
    production: bool  # not a master part's check: in an answer's counts
    row_id: int
    part_id: str
    model_id: Optional[str]

    @classmethod
    def of(cls, outcome) -> "Answer":
        return cls(outcome.to_dict(), outcome.verdict, outcome.expected is None, outcome.row_id, outcome.part_id,
                   outcome.model_id)


class Resends:
    def __init__(self, keep: int = KEEP, keep_s: float = KEEP_S, clock: Callable[[], float] = time.monotonic):
        self.keep, self.keep_s, self._clock = keep, keep_s, clock
        self._answers: OrderedDict[tuple[str, str], tuple[float, Optional[str], Answer]] = OrderedDict()
        self._lock = threading.Lock()

    def answered(self, digest: Optional[str], part_id: Optional[str], model_id: Optional[str]) -> Optional[Answer]:
        """What this image got when it was sent for this part before, to this model (a retry); else None."""
        if not digest or not part_id:
            return None
        key = (digest, part_key(part_id))
        with self._lock:
            self._forget_old()
            kept = self._answers.get(key)
        return kept[2] if kept is not None and kept[1] == model_id else None

    def remember(self, digest: Optional[str], part_id: Optional[str], outcome) -> None:
        """An inspected line part's outcome, recorded in its history row (one without a row is not an answer to
        give again: its retry is inspected and recorded)."""
        if not digest or not part_id or getattr(outcome, "row_id", None) is None:
            return
        key = (digest, part_key(part_id))
        with self._lock:
            self._answers.pop(key, None)
            self._answers[key] = (self._clock(), outcome.model_id, Answer.of(outcome))
            while len(self._answers) > self.keep:
                self._answers.popitem(last=False)

    def _forget_old(self) -> None:
        now = self._clock()
        while self._answers and now - next(iter(self._answers.values()))[0] > self.keep_s:
            self._answers.popitem(last=False)


__all__ = ["Answer", "KEEP", "KEEP_S", "Resends"]
