"""`inspector serve` under systemd (packaging/linux/inspector-serve.service, Type=notify, WatchdogSec): READY=1 once
uvicorn serves, WATCHDOG=1 every second while the service can answer, STOPPING=1 as it stops.

A server whose port still accepts connections proves little: the pings come from a task of the event loop that
answers requests, and only while the inference thread is alive and not stuck in one batch for longer than the
watchdog's own interval (systemd's WATCHDOG_USEC). A service hung in a backbone call, or whose loop is blocked,
stops the pings, and systemd restarts it as it restarts one that crashed. Without NOTIFY_SOCKET nothing is sent.
"""

from __future__ import annotations

import asyncio
import os
from typing import Callable

from inspector_line.systemd_notify import notify

EVERY_S = 1.0
STUCK_DEFAULT_S = 120.0  # without systemd's interval: the unit's WatchdogSec


def watchdog_seconds() -> float:
    """systemd's watchdog interval for this service (WATCHDOG_USEC), else STUCK_DEFAULT_S."""
    try:
        return int(os.environ["WATCHDOG_USEC"]) / 1e6
    except (KeyError, ValueError):
        return STUCK_DEFAULT_S


async def heartbeat(serving: Callable[[], bool], healthy: Callable[[float], bool],
                    alive: Callable[[], None] = lambda: None) -> None:
    """Run until cancelled: READY=1 once `serving()`, then WATCHDOG=1 and `alive()` (the line displays' beat) each
    second while `healthy(stuck_s)`."""
    ready = False
    stuck_s = watchdog_seconds()
    while True:
        if not ready and serving():
            ready = True
            notify("READY=1")
        if ready and healthy(stuck_s):
            notify("WATCHDOG=1")
            alive()
        await asyncio.sleep(EVERY_S)


__all__ = ["heartbeat", "notify", "watchdog_seconds"]
