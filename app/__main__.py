"""Composition root: logging, QApplication, engine, main window. `python -m app [PROJECT]`."""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import Optional

log = logging.getLogger("app")
ORGANIZATION = "Inspector"
APPLICATION = "Inspector"


def _say(text: str) -> None:
    """Print to stderr when there is one (a frozen windowed app has none)."""
    stream = sys.stderr
    if stream is not None:
        try:
            print(text, file=stream)
        except (OSError, ValueError):
            pass


XCB_HINT = ("inspector gui: Qt could not start its xcb (X11) platform plugin. On Debian or Ubuntu install the "
            "libraries it needs: sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 (README.md, Quick start)")


def qt_message(mode, context, message: str) -> None:
    """Qt's messages go to the log; a failed xcb plugin (a fresh Linux desktop without libxcb-cursor0: Qt then
    aborts) also gets a one-line hint on stderr saying which package to install."""
    text = str(message)
    if "platform plugin" in text and "xcb" in text:
        _say(XCB_HINT if os.environ.get("DISPLAY") else
             "inspector gui: Qt could not start its xcb (X11) platform plugin: no X display (DISPLAY is not set). "
             "Start it from a desktop session; on a desktop, a missing libxcb-cursor0 gives this too.")
    logging.getLogger("qt").warning("%s", text)


def log_folder() -> Path:
    try:
        from PySide6.QtCore import QStandardPaths

        base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    except ImportError:
        base = ""
    return Path(base) / "logs" if base else Path.home() / ".local" / "share" / "inspector" / "logs"


def setup_logging(folder: Optional[Path] = None) -> Optional[Path]:
    """A rotating log file; also stderr when there is one. Returns the file, or None if unwritable."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    if sys.stderr is not None and not any(getattr(h, "_inspector", False) for h in root.handlers):
        console = logging.StreamHandler(sys.stderr)
        console.setLevel(logging.WARNING)
        console.setFormatter(fmt)
        console._inspector = True
        root.addHandler(console)
    folder = folder or log_folder()
    path = folder / "inspector.log"
    if any(getattr(h, "baseFilename", None) == str(path) for h in root.handlers):
        return path
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    except OSError as exc:
        _say(f"inspector: cannot write the log file in {folder}: {exc}")
        return None
    handler.setFormatter(fmt)
    root.addHandler(handler)
    return path


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="inspector gui", description="Teach, inspect and calibrate in one window.")
    p.add_argument("project", nargs="?", help="project folder to open")
    p.add_argument("--screenshot", metavar="OUT.png", help="render the window to a PNG and exit")
    p.add_argument("--image", metavar="IMG", help="image to open (and inspect when the project has a model)")
    p.add_argument("--config", metavar="FILE", help="engine config YAML for new projects (default: config.yaml)")
    p.add_argument("--users", metavar="FILE", help="the people who sign in to teach, calibrate, activate or review "
                   "(inspector users add); default: $INSPECTOR_USERS, else the machine's users file where there is "
                   "one. Without any, everything is open under the OS user's name")
    return p.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.screenshot and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    qInstallMessageHandler(qt_message)

    # Names first: they decide where QSettings and the log folder live.
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    log_path = setup_logging()
    log.info("starting; log file %s", log_path)

    import inference

    app = QApplication.instance() or QApplication([sys.argv[0]])
    from .garbage import collect_on_gui_thread

    collect_on_gui_thread()  # before any worker starts: no collection ever runs on a worker thread
    try:
        config = inference.EngineConfig.load(args.config)
    except inference.InspectorError as exc:
        _say(f"inspector gui: {exc}")
        log.error("config: %s", exc)
        return 2

    from station.sign_in import SignIn, users_file

    from .main_window import MainWindow

    engine = inference.Engine(config)
    window = MainWindow(engine, interactive=not args.screenshot, sign_in=SignIn(users_file(args.users)))
    if args.screenshot:
        from .screenshot import render

        return render(app, window, args.project, args.image, Path(args.screenshot), _say)
    window.show()
    if args.project:
        window.open_project(args.project, ask=False,
                            on_loaded=(lambda model: window.inspect_panel.open_paths([args.image]))
                            if args.image else None)
    elif args.image:
        window.inspect_panel.open_paths([args.image])
    else:
        window.start()  # reopens the last project when the start page's setting says so
    code = app.exec()
    log.info("exit %s", code)
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
