"""The `inspector` console script: the engine's CLI plus `gui`.

It lives on the app side because only the app may import both the engine
and Qt; the engine's CLI (inference.cli) never imports the GUI.
"""

from __future__ import annotations

import sys
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["gui"]:
        from .__main__ import main as gui_main

        return gui_main(argv[1:])
    from inference.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
