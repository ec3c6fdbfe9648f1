"""`--screenshot`: load the project, inspect the image, render the window to a PNG, exit."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)
JOB_TIMEOUT_MS = 600_000


def wait_idle(app: QApplication, window, timeout_ms: int = JOB_TIMEOUT_MS) -> bool:
    """Run the event loop until no job runs (the job's result callbacks have run then)."""
    if not window.runner.busy:
        app.processEvents()
        return True
    loop = QEventLoop()
    window.runner.busyChanged.connect(lambda busy: busy or loop.quit())
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    app.processEvents()
    return not window.runner.busy


def render(app: QApplication, window, project: Optional[str], image: Optional[str], out: Path,
           say: Callable[[str], None]) -> int:
    window.resize(1500, 920)
    window.show()
    app.processEvents()
    if project and not window.open_project(project, ask=False):
        say(f"inspector gui: {window.errors[-1] if window.errors else 'cannot open ' + project}")
        return 2
    wait_idle(app, window)
    while window.runner.busy:  # a load can chain another job; wait for all of them
        wait_idle(app, window)
    if image:
        window.tabs.setCurrentWidget(window.inspect_panel)
        window.inspect_panel.open_paths([image])
        wait_idle(app, window)
    if window.errors:
        say("inspector gui: " + window.errors[-1])
        return 2
    for _ in range(5):
        app.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):
        say(f"inspector gui: cannot write {out}")
        return 2
    log.info("screenshot saved to %s", out)
    window.close()
    return 0
