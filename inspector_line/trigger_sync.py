"""Which image answers which PLC trigger, when an image can be late or never come.

In triggered mode (`--modbus` / `--opcua`) each Trigger takes the oldest image waiting. An image that never comes
(the camera missed its trigger, its program stalled, the folder is gone) used to leave Busy on for ever: the PLC
could not trigger the next part, and the line stood until the station was restarted. Now:
- a Trigger that has no image after `--trigger-timeout` seconds (default 10), or while the source says that no
  image can arrive (the `source` alarm), is answered ERROR at once, with the reason; the PLC acks and goes on;
- where images come after their Triggers (the PLC triggers the camera and the station together; learnt from
  the last parts answered), an image that completes after a timed-out Trigger was taken and before the next one
  is taken is the timed-out part's, late: it is recorded (an ERROR row under the timed-out Trigger's part id,
  archived) but answers no Trigger, so the next part is judged by its own image, never by the one before it.
  Where images come before their Triggers (a sensor triggers the camera), a late image cannot be told from the
  next part's. Nor can an image later than the next Trigger: the timeout must exceed the camera's slowest
  delivery.

    sync = TriggerSync(timeout_s=10)
    sync.taken(trigger)                      # a Trigger taken (closes the window a timed-out one opened)
    reason = sync.unanswerable(trigger, source.problem)   # None, or why it is answered ERROR now
    sync.timed_out(trigger)                  # after answering it ERROR
    if sync.late(item): ...                  # an image of the window: recorded, answers nothing
    sync.answered(trigger, item)             # an image answered it (learns which comes first)
"""

from __future__ import annotations

import time
from collections import deque
from typing import Optional

DEFAULT_TRIGGER_TIMEOUT_S = 10.0
LEARN_FROM = 5  # answered Triggers before the order of images and Triggers is trusted (of the last 20)


def wall_time(monotonic_t: float) -> float:
    """A time.monotonic() instant as time.time() (images carry wall-clock completion times)."""
    return time.time() - (time.monotonic() - monotonic_t)


class TriggerSync:
    def __init__(self, timeout_s: Optional[float] = DEFAULT_TRIGGER_TIMEOUT_S):
        self.timeout_s = timeout_s or None  # 0 / None: a Trigger waits for its image for ever
        self._open_since: Optional[float] = None  # a Trigger timed out (its wall time taken); no new one taken yet
        self._window: Optional[tuple[float, float]] = None  # images completed in [start, end) are late
        self.late_part_id: Optional[str] = None  # the timed-out Trigger's part id, for the late image's row
        self._after: deque[bool] = deque(maxlen=20)  # per answered Trigger: its image completed after it

    def answered(self, trigger, item) -> None:
        self._after.append(item.arrived >= wall_time(trigger.taken))

    @property
    def images_follow_triggers(self) -> bool:
        return len(self._after) >= LEARN_FROM and all(self._after)

    def taken(self, trigger) -> None:
        if self._open_since is not None:
            self._window, self._open_since = (self._open_since, wall_time(trigger.taken)), None

    def unanswerable(self, trigger, source_problem: Optional[str]) -> Optional[str]:
        if source_problem:
            return f"no image can come: {source_problem}"
        if self.timeout_s is not None and time.monotonic() - trigger.taken >= self.timeout_s:
            return (f"no image came within {self.timeout_s:g} s of {getattr(trigger, 'origin', 'the PLC')}'s "
                    "trigger (--trigger-timeout): the camera missed it, or its program is stalled")
        return None

    def timed_out(self, trigger) -> None:
        if self.images_follow_triggers:
            self._open_since = wall_time(trigger.taken)
            self.late_part_id = trigger.part_id

    def late(self, item) -> bool:
        """Whether the image completed between a timed-out Trigger and the one waiting now. The first image that
        is not late ends the window: the line is in step again."""
        if self._window is None:
            return False
        start, end = self._window
        if start <= item.arrived < end:
            return True
        self._window = None
        return False


__all__ = ["DEFAULT_TRIGGER_TIMEOUT_S", "TriggerSync", "wall_time"]
