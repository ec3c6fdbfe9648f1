"""Pages rendered by a real browser for the tests: a headless Chromium (.ci/run installs the chromium package; the
tests that need it skip, saying so, where it is absent) loads the page, runs its script, and gives back the DOM."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip("no Chromium here to render the page (.ci/run installs the chromium package)")


def rendered(url: str, budget_ms: int = 3000) -> str:
    """The DOM of `url` once its script has run for `budget_ms` of the browser's virtual time."""
    out = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                          f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def element(dom: str, element_id: str) -> str:
    """The start of the element with that id, up to the first </div> after it."""
    start = dom.index(f'id="{element_id}"')
    return dom[start:dom.index("</div>", start)]
