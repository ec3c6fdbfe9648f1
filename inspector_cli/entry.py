"""The `inspector` console script: `gui` opens the window, everything else is the command line.

The GUI is imported only for `gui`, so the command line, the service and the
run mode never load Qt.
"""

from __future__ import annotations

import sys
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["gui"]:
        from app.__main__ import main as gui_main

        return gui_main(argv[1:])
    from .main import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
