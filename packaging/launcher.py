"""Entry point of the frozen `inspector` app (PyInstaller runs this file; see build.spec).

    inspector                      -> the GUI
    inspector PROJECT_FOLDER       -> the GUI, opening that project
    inspector --screenshot X.png   -> the GUI (any other option starting with '-' goes to the GUI)
    inspector gui [PROJECT] [...]  -> the GUI, with its options (--screenshot OUT.png, --image, --config)
    inspector --self-test [...]    -> inspector_cli.selftest: checks the installation, exit code 0/1
    inspector fit|infer|calibrate|info|serve|run|history|eval|... -> the command line (inspector_cli.main)

The GUI is imported lazily so that the command line and the self-test never
load Qt. Without a console (the windowed Windows executable) sys.stdout and
sys.stderr are None: the command line then attaches to the console of the
shell that started it when there is one, and a crash before the GUI's own
log is set up is written to startup-error.txt in the user's data folder.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

# First words that make the command line (inspector_cli.main) handle the call rather than the GUI.
# Every command `inspector --help` lists (tests/test_build.py keeps them in step), so that a folder of the
# same name in the working folder never opens the window instead.
CLI_COMMANDS = frozenset({"fit", "infer", "calibrate", "info", "export", "eval", "serve", "run", "history",
                          "opcua-cert", "versions", "activate", "audit", "backup", "restore", "rescore", "users",
                          "capture", "-h", "--help", "--version"})
SELF_TEST = frozenset({"--self-test", "self-test", "selftest"})


def route(argv: list[str]) -> str:
    """'selftest', 'cli' or 'gui' for the arguments after the program name."""
    if not argv:
        return "gui"
    first = argv[0]
    if first in SELF_TEST:
        return "selftest"
    if first == "gui":
        return "gui"
    if first in CLI_COMMANDS:
        return "cli"
    if first.startswith("-"):
        return "gui"  # GUI options such as --screenshot
    if Path(first).exists():
        return "gui"  # a project folder or an image to open
    return "cli"  # an unknown word: let the command line explain its usage


def user_data_dir() -> Path:
    # Same folder as inference.weights.user_models_dir's parent, computed here without importing the
    # engine: this must still work when importing the engine is what failed.
    base = os.environ.get("XDG_DATA_HOME") or (
        os.environ.get("LOCALAPPDATA") if os.name == "nt" else str(Path.home() / ".local" / "share")
    )
    return Path(base or Path.home()) / "inspector"


def attach_parent_console() -> bool:
    """Windows, windowed executable started from cmd/PowerShell: print to that console. True if attached."""
    if os.name != "nt" or sys.stdout is not None:
        return sys.stdout is not None
    try:
        import ctypes

        if not ctypes.windll.kernel32.AttachConsole(-1):  # ATTACH_PARENT_PROCESS
            return False
        sys.stdout = open("CONOUT$", "w", encoding="utf-8", errors="replace")
        sys.stderr = open("CONOUT$", "w", encoding="utf-8", errors="replace")
        return True
    except Exception:
        return False


def write_startup_error(text: str) -> None:
    try:
        folder = user_data_dir()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "startup-error.txt").write_text(text, encoding="utf-8")
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    kind = route(argv)
    if kind == "selftest":
        # No console: stdout stays None and the self-test writes selftest.txt next to the executable.
        attach_parent_console()
        if sys.stderr is None:
            sys.stderr = open(os.devnull, "w")
        from inspector_cli.selftest import main as selftest_main

        return selftest_main(argv[1:])
    if kind == "cli":
        if not attach_parent_console():
            sys.stdout = sys.stdout or open(os.devnull, "w")
            sys.stderr = sys.stderr or open(os.devnull, "w")
        # The console script's own entry (inspector_cli.entry): SIGTERM takes Ctrl+C's path there, so a
        # service manager stops the bundle's `run` and `fit` as it stops a pip install's.
        from inspector_cli.entry import main as cli_main

        return int(cli_main(argv) or 0)
    # GUI: libraries that print (tqdm, warnings) must not fail on a missing console.
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w")
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")
    if argv[:1] == ["gui"]:
        argv = argv[1:]
    try:
        from app.__main__ import main as gui_main
    except ImportError as exc:
        message = f"inspector: the GUI is not part of this build ({exc}); the command line works: inspector --help"
        print(message, file=sys.stderr)
        write_startup_error(message + "\n" + traceback.format_exc())
        return 2
    return int(gui_main(argv) or 0)


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()
    try:
        code = main()
    except SystemExit:
        raise
    except BaseException:
        text = traceback.format_exc()
        write_startup_error(text)
        if sys.stderr is not None:
            sys.stderr.write(text)
        code = 1
    sys.exit(code)
