"""systemd's service notification (the sd_notify protocol: one datagram to the unix socket NOTIFY_SOCKET names),
for `inspector run` under packaging/linux/inspector-run.service (Type=notify, WatchdogSec=30):
READY=1 once the run inspects, WATCHDOG=1 every second from the run's own loop, STOPPING=1 as it stops. A run
hung in a call stops the pings, and systemd restarts it (as it restarts one that crashed).

Without NOTIFY_SOCKET (a terminal, the window, Windows) nothing is sent. The protocol is a few lines, so no
library (python-systemd needs libsystemd's headers to install).
"""

from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    """Send `message` ("READY=1", "WATCHDOG=1", ...) to systemd; False when not under systemd or not sent."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address or not hasattr(socket, "AF_UNIX"):
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode("utf-8"))
        return True
    except OSError:  # systemd went away (shutdown): nothing to tell
        return False


__all__ = ["notify"]
