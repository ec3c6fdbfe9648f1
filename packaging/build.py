"""Build the one-folder `inspector` bundle from build.spec, then check it.

    python packaging/build.py                      # build dist/inspector/, run its --self-test
    python packaging/build.py --clean              # from scratch (removes build/ and dist/inspector/)
    python packaging/build.py --no-build           # only check an existing dist/inspector/
    python packaging/build.py --screenshot gui.png # also start the GUI under Xvfb and take a screenshot (Linux)
    python packaging/build.py --walk               # also drive its commands, serve and run from outside
    python packaging/build.py --variant edge --full-python PYTHON   # the CPU edge bundle (no torch), see below

The edge variant (packaging/edge.spec, dist/inspector-edge/) is built from a venv holding only the edge
packages and PyInstaller; `--full-python` is a Python of the full install (torch, timm) that first exports
the self-test's disc model (inspector_cli/selftest_edge.py) into build/edge-selftest/.

Prints the build time and the bundle's size, and writes both (with the self-test's lines) to
dist/build-report.json. Exit code 0 when the build and every check passed. Needs PyInstaller
(`pip install -e .[build]`); the screenshot needs Xvfb and ImageMagick's `import`
(`apt-get install -y xvfb x11-apps imagemagick`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]
NAME = "inspector"
VARIANTS = {"full": (ROOT / "build.spec", "inspector"), "edge": (ROOT / "packaging" / "edge.spec", "inspector-edge")}
_variant = {"spec": VARIANTS["full"][0], "folder": VARIANTS["full"][1]}


def bundle_dir(dist: Path) -> Path:
    return dist / _variant["folder"]


def executable(dist: Path, console: bool = True) -> Path:
    if sys.platform == "win32":
        return bundle_dir(dist) / (f"{NAME}-cli.exe" if console else f"{NAME}.exe")
    return bundle_dir(dist) / NAME


def folder_size(folder: Path) -> tuple[int, int]:
    total = count = 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
            count += 1
    return total, count


def largest_parts(folder: Path, n: int = 12) -> list[tuple[str, int]]:
    """Size of each top-level entry of the bundle's library folder (_internal/), largest first."""
    lib = folder / "_internal" if (folder / "_internal").is_dir() else folder
    sizes = []
    for entry in lib.iterdir():
        if entry.is_symlink():
            continue  # PyInstaller links some libraries to the top level: counted where they lie
        size = folder_size(entry)[0] if entry.is_dir() else entry.stat().st_size
        sizes.append((entry.name, size))
    return sorted(sizes, key=lambda x: -x[1])[:n]


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def build(dist: Path, work: Path, clean: bool) -> float:
    if clean:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(bundle_dir(dist), ignore_errors=True)
    cmd = [sys.executable, "-m", "PyInstaller", str(_variant["spec"]), "--noconfirm",
           "--distpath", str(dist), "--workpath", str(work), "--log-level", "WARN"]
    print("+", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True)
    return time.perf_counter() - t0


def clean_env() -> dict:
    """The environment for the bundle: no PATCHCORE_* overrides, no Python paths leaking in."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PATCHCORE_") and k not in ("PYTHONPATH", "PYTHONHOME")}
    return env


def self_test(dist: Path, extra: list[str], timeout: float) -> tuple[int, list[str], float]:
    exe = executable(dist, console=True)
    with tempfile.TemporaryDirectory(prefix="inspector-st-") as cwd:  # no config.yaml in the working folder
        t0 = time.perf_counter()
        proc = subprocess.run([str(exe), "--self-test", *extra], cwd=cwd, env=clean_env(), capture_output=True,
                              text=True, timeout=timeout)
        seconds = time.perf_counter() - t0
    lines = proc.stdout.splitlines()
    for line in lines:
        print("   ", line)
    if proc.returncode != 0 and proc.stderr.strip():
        print(proc.stderr[-4000:], file=sys.stderr)
    return proc.returncode, lines, seconds


def walk(dist: Path, timeout: float, full_python: Optional[str] = None) -> tuple[int, list[str], float]:
    """packaging/walk_bundle.py against the bundle: its commands, serve and run with real PLC/MQTT clients.
    `full_python` (the edge bundle): the full install's Python runs the walk, which fits and exports for it."""
    t0 = time.perf_counter()
    command = [full_python or sys.executable, str(ROOT / "packaging" / "walk_bundle.py"), str(executable(dist))]
    proc = subprocess.run(command + (["--edge"] if full_python else []),
                          cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(("PASS", "FAIL", "SKIP", "walk"))]
    for line in lines:
        print("   ", line)
    if proc.returncode != 0 and proc.stderr.strip():
        print(proc.stderr[-4000:], file=sys.stderr)
    return proc.returncode, lines, time.perf_counter() - t0


def screenshot(dist: Path, out: Path, wait: float) -> dict:
    """Start the GUI on a private Xvfb display, wait, take a screenshot of the whole screen."""
    if not shutil.which("Xvfb") or not shutil.which("import"):
        raise RuntimeError("needs Xvfb and ImageMagick's import: apt-get install -y xvfb x11-apps imagemagick")
    display = f":{90 + os.getpid() % 100}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = clean_env()
    env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
    app = None
    try:
        time.sleep(2)
        log = tempfile.TemporaryFile()
        app = subprocess.Popen([str(executable(dist, console=False))], env=env, stdout=log, stderr=log,
                               cwd=tempfile.gettempdir())
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and app.poll() is None:
            time.sleep(1)
        alive = app.poll() is None
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["import", "-display", display, "-window", "root", str(out)], check=True, timeout=60)
        log.seek(0)
        output = log.read().decode("utf-8", "replace")[-3000:]
        return {"alive_after_s": wait if alive else None, "exit_code": app.returncode, "screenshot": str(out),
                "output_tail": output}
    finally:
        if app is not None and app.poll() is None:
            app.send_signal(signal.SIGTERM)
            try:
                app.wait(15)
            except subprocess.TimeoutExpired:
                app.kill()
        xvfb.terminate()
        xvfb.wait(15)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder (default dist/)")
    p.add_argument("--work", type=Path, default=ROOT / "build", help="PyInstaller's work folder (default build/)")
    p.add_argument("--clean", action="store_true", help="remove earlier build output first")
    p.add_argument("--no-build", action="store_true", help="check an existing bundle only")
    p.add_argument("--no-self-test", action="store_true", help="skip running the bundle's --self-test")
    p.add_argument("--self-test-args", default="", help="extra arguments for --self-test, e.g. '--expect-gpu'")
    p.add_argument("--walk", action="store_true",
                   help="also drive the bundle's commands, serve and run (Modbus, OPC UA, MQTT) from outside "
                   "(packaging/walk_bundle.py; edge: on a model the --full-python install exports)")
    p.add_argument("--screenshot", type=Path, help="start the GUI under Xvfb and save a screenshot here (Linux)")
    p.add_argument("--gui-wait", type=float, default=25.0, help="seconds the GUI runs before the screenshot")
    p.add_argument("--variant", choices=sorted(VARIANTS), default="full",
                   help="full (build.spec: GUI, fit, torch) or edge (packaging/edge.spec: inspects exported models, "
                   "no torch)")
    p.add_argument("--full-python", default=os.environ.get("INSPECTOR_FULL_PYTHON", "python3"),
                   help="edge: a Python with the full install that exports the self-test's model")
    args = p.parse_args(argv)
    _variant["spec"], _variant["folder"] = VARIANTS[args.variant]

    dist, work = args.dist.resolve(), args.work.resolve()
    report: dict = {"python": platform.python_version(), "platform": platform.platform()}
    try:
        import torch

        report["torch"] = torch.__version__
        report["cuda"] = torch.version.cuda
    except ImportError:
        pass
    ok = True
    report["variant"] = args.variant
    if args.clean and not args.no_build:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(bundle_dir(dist), ignore_errors=True)
    if args.variant == "edge" and not args.no_build:
        selftest_model = work / "edge-selftest"
        shutil.rmtree(selftest_model, ignore_errors=True)
        t0 = time.perf_counter()
        subprocess.run([args.full_python, "-m", "inspector_cli.selftest_edge", "--make", str(selftest_model)],
                       cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
        os.environ["INSPECTOR_EDGE_SELFTEST"] = str(selftest_model)
        report["selftest_model_seconds"] = round(time.perf_counter() - t0, 1)
    if not args.no_build:
        seconds = build(dist, work, clean=False)
        report["build_seconds"] = round(seconds, 1)
        print(f"build: {seconds / 60:.1f} min", flush=True)
    folder = bundle_dir(dist)
    if not executable(dist).is_file():
        print(f"no bundle at {folder}", file=sys.stderr)
        return 1
    size, count = folder_size(folder)
    report.update(bundle=str(folder), bundle_bytes=size, bundle_files=count,
                  largest=[{"name": n, "bytes": s} for n, s in largest_parts(folder)])
    print(f"bundle: {folder}: {mib(size)} in {count} files; largest parts:")
    for name, s in largest_parts(folder):
        print(f"    {mib(s):>12}  {name}")

    if not args.no_self_test:
        rc, lines, seconds = self_test(dist, args.self_test_args.split(), timeout=900)
        report["self_test"] = {"exit_code": rc, "seconds": round(seconds, 1), "lines": lines}
        print(f"self-test of the bundle: exit code {rc} in {seconds:.0f} s")
        ok &= rc == 0 and any(line.startswith("self-test PASSED") for line in lines)
    if args.walk:
        rc, lines, seconds = walk(dist, timeout=1800, full_python=args.full_python if args.variant == "edge" else None)
        report["walk"] = {"exit_code": rc, "seconds": round(seconds, 1), "lines": lines}
        print(f"walk through the bundle: exit code {rc} in {seconds:.0f} s")
        ok &= rc == 0
    if args.screenshot:
        shot = screenshot(dist, args.screenshot.resolve(), args.gui_wait)
        report["gui"] = shot
        alive = shot["alive_after_s"] is not None
        print(f"GUI: {'still running' if alive else 'exited with ' + str(shot['exit_code'])} after "
              f"{args.gui_wait:.0f} s; screenshot {shot['screenshot']}")
        if not alive:
            print(shot["output_tail"], file=sys.stderr)
        ok &= alive
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "build-report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"report: {dist / 'build-report.json'}; {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
