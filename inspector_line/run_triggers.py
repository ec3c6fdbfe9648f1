"""Triggered mode's side of a run: who asks for a part (a PLC's Trigger, a photo-eye on the remote I/O module), which
recipe's station judges it, and which image answers it (trigger_sync.py). The Runner asks `take` whenever no part
is asked for; parts free-running never come here."""

from __future__ import annotations

import time
from typing import Callable, Optional, Sequence

from .trigger_sync import TriggerSync

WAIT_S = 0.2  # take() waits this long for a trigger before the run's loop goes on (alarms, heartbeat)


class Triggers:
    def __init__(self, sources: Sequence, recipes: Sequence, timeout_s: Optional[float], say: Callable[[str], None]):
        """`sources`: what triggers (take_trigger() -> a station.line_io.handshake.Trigger or None; the PLC
        handshakes, the photo-eyes); `recipes`: the Stations a PLC selects by recipe index (empty: the run's own
        is recipe 0 alone)."""
        self.sources = list(sources)
        self.recipes = list(recipes)
        self.sync = TriggerSync(timeout_s)  # which image answers which Trigger
        self.unknown_recipe: Optional[str] = None  # why the taken Trigger's part is not judged: a recipe not here
        self._say = say
        for source in self.sources:  # a photo-eye's lines go with the run's
            if getattr(source, "on_message", False) is None:
                source.on_message = say

    def problem(self, source_problem: Optional[str]) -> Optional[str]:
        """Why no part can come now (the `source` alarm): the source's trouble, or a trigger that cannot see parts
        (a photo-eye's input that cannot be read)."""
        problems = [source_problem] + [source.problem() for source in self.sources if hasattr(source, "problem")]
        return "; ".join(p for p in problems if p) or None

    def take(self, station):
        """(the Trigger taken, the station that judges its part), waiting up to WAIT_S for one; (None, station)
        when none came."""
        deadline = time.monotonic() + WAIT_S
        while True:
            for source in self.sources:
                trigger = source.take_trigger()
                if trigger is not None:
                    self.sync.taken(trigger)
                    return trigger, self._station_for(trigger, station)
            left = deadline - time.monotonic()
            if left <= 0:
                return None, station
            wait = getattr(self.sources[0], "wait_for_trigger", None) if len(self.sources) == 1 else None
            if wait is not None:
                wait(min(left, 0.05))  # woken by the PLC's write / the input's edge: no polling delay
            else:
                time.sleep(0.001)

    def stopped(self, armed) -> None:
        """The run stops: parts triggered and never inspected (the one taken, `armed`, and those a photo-eye saw
        since) are said, since no verdict and no reject will come for them."""
        waiting = (armed is not None) + sum(source.pending() for source in self.sources if hasattr(source, "pending"))
        if waiting:
            parts = f"{waiting} parts triggered were" if waiting > 1 else "1 part triggered was"
            self._say(f"WARNING: {parts} not inspected: the run stopped (no verdict, no reject for them)")

    def _station_for(self, trigger, station):
        recipes = self.recipes or [station]  # without --recipe: recipe 0 alone
        self.unknown_recipe = None
        if not 0 <= trigger.recipe < len(recipes):
            # Never judged with another product's model: the part that comes for it is an ERROR.
            self.unknown_recipe = (f"the PLC asks for recipe {trigger.recipe}; this station has recipes "
                                   f"0..{len(recipes) - 1} (--recipe): not judged")
            self._say(f"WARNING: {self.unknown_recipe}")
            return station
        if recipes[trigger.recipe] is not station:
            self._say(f"recipe {trigger.recipe}: {recipes[trigger.recipe].project}")
        return recipes[trigger.recipe]


__all__ = ["Triggers"]
