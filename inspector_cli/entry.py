"""The `inspector` console script: `gui` opens the window, everything else is the command line.

The GUI is imported only for `gui`, so the command line, the service and the
run mode never load Qt.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Optional, Sequence

INTERRUPTED = 130


def _terminate(signum, frame):
    # SIGTERM (a service manager stopping us) takes the same honest path as Ctrl+C.
    raise KeyboardInterrupt


def _forget_caught_interrupts() -> None:
    # CPython (3.8-3.13) marks a KeyboardInterrupt "unhandled" whenever one escapes code run from source text
    # (eval/exec of a string: every namedtuple and dataclass definition does that while modules import), and
    # never clears the mark when the exception is caught further up. `python -m` then ends the process by
    # SIGINT at exit instead of with our exit code, so a service manager sees a signal death (for SIGTERM
    # too). Evaluating any source text clears the mark (pythonrun.c: run_eval_code_obj).
    eval("None")


def main(argv: Optional[Sequence[str]] = None) -> int:
    try:
        return _run(argv)
    except ModuleNotFoundError as exc:  # a client's package this installation lacks (serve, gui on the edge)
        from inference import user_message

        message = user_message(exc)
        if message is None:
            raise
        if sys.stderr is not None:
            print(f"inspector: error: {message}", file=sys.stderr)
        return 2
    finally:
        _forget_caught_interrupts()


def _run(argv: Optional[Sequence[str]]) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["gui"]:
        from app.__main__ import main as gui_main

        return gui_main(argv[1:])
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    try:
        from .main import main as cli_main  # loads torch: seconds, during which Ctrl+C must stay quiet too

        return cli_main(argv)
    except KeyboardInterrupt:
        if sys.stderr is not None:
            print("inspector: error: interrupted", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
