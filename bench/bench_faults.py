"""Long fault suite (issue 8): SIGKILL at every step of the save path, repeated, plus kills at random moments;
then every bad-input kind. Prints trials / old / new / broken and bad-input kinds / met.

    python bench/bench_faults.py [--rounds 6] [--random 24] [--seed 0]

Each trial copies a calibrated project, runs `inspector fit`, `fit --add` or `calibrate` in a subprocess
that is killed (at a named step of inference/project.py's commit path, or after a random delay), then checks
with a reader that the project is the complete old or the complete new one, that the reader changed nothing,
and that the next writer keeps what the reader saw. The tiny random backbone keeps a trial to seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from fault_harness import (OPERATIONS, ROI_JSON, judge, make_inputs, make_project, state,  # noqa: E402
                           steps_of)


def _steps(engine, work: Path, images: dict, base: Path) -> dict:
    from inference import project as proj

    out = {}
    for op in OPERATIONS:
        probe = work / f"probe_{op}"
        shutil.copytree(base, probe)
        real = proj._checkpoint
        out[op] = steps_of(engine, op, probe, images, lambda mod, name, value: setattr(mod, name, value))
        proj._checkpoint = real
    return out


def _cli_args(root: Path, op: str, folder: Path, images: dict) -> list:
    cfg = ["--config", str(root / "tiny.yaml")]
    if op == "fit":
        return ["fit", str(folder), "--ok", *map(str, images["ok"][:3]), "--roi", ROI_JSON, *cfg]
    if op == "add":
        return ["fit", str(folder), "--ok", *map(str, images["more"]), "--add", *cfg]
    return ["calibrate", str(folder), "--ok", *map(str, images["cal"][:2]), "--score-percentile", "90", *cfg]


def _child(args: list, crash_at) -> None:
    """A fresh CLI process (forked from a server that has imported the code, not run it)."""
    import io

    from inference import project as proj
    from inspector_cli.main import main as cli_main

    if crash_at:
        os.environ[proj.CRASH_AT_ENV] = crash_at
    sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
    os._exit(cli_main(args))


def _trial(ctx, args: list, step, delay) -> int:
    """Exit code of one CLI run that kills itself at `step`, or is killed after `delay` seconds."""
    proc = ctx.Process(target=_child, args=(args, step))
    proc.start()
    if delay is not None:
        proc.join(delay)
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGKILL)
    proc.join(600)
    return proc.exitcode


def bad_inputs(work: Path) -> tuple[int, int, list]:
    from bad_input_cases import CASES, prepare

    from inspector_cli.main import main

    root = prepare(work / "bad_input")

    def tree():
        return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else "dir")
                for p in sorted(root.rglob("*")) if p.name != ".lock"}

    missed = []
    for case in CASES:
        saved = dict(os.environ)
        os.environ.update(case.env)
        before = tree()
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), \
                    (case.around(root) if case.around else contextlib.nullcontext()):
                rc = main(case.argv(root))
        finally:
            os.environ.clear()
            os.environ.update(saved)
        lines = err.getvalue().strip().splitlines()
        if rc != 2 or len(lines) != 1 or "internal error" in lines[0] or tree() != before:
            missed.append(f"{case.name}: exit {rc}, {lines}")
    return len(CASES), len(CASES) - len(missed), missed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=6, help="times every named step is killed (default 6)")
    ap.add_argument("--random", type=int, default=24, help="extra kills at random moments (default 24)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from inference import Engine, EngineConfig

    work = Path(tempfile.mkdtemp(prefix="bench_faults_"))
    images = make_inputs(work)
    engine = Engine(EngineConfig.load(work / "tiny.yaml"))
    base = work / "base"
    make_project(engine, base, images)
    steps = _steps(engine, work, images, base)
    import multiprocessing

    # Forked from a server that has imported the engine and the CLI but run nothing: a trial costs a fit, not
    # a Python and torch start-up; and each child is still a separate process that SIGKILL really kills.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["inference", "inspector_cli.main", "timm", "faiss"])
    rng = random.Random(args.seed)
    # Random kills are spread over a whole uninterrupted run of each command, so some land after the commit.
    span = {}
    for op in OPERATIONS:
        folder = work / f"timing_{op}"
        shutil.copytree(base, folder)
        t = time.perf_counter()
        _trial(ctx, _cli_args(work, op, folder, images), None, None)
        span[op] = time.perf_counter() - t
        shutil.rmtree(folder, ignore_errors=True)
    tally, broken = Counter(), []
    t0 = time.perf_counter()
    trial = 0
    plan = [(op, step) for _ in range(args.rounds) for op in OPERATIONS for step in steps[op]]
    plan += [(rng.choice(OPERATIONS), None) for _ in range(args.random)]
    for op, step in plan:
        trial += 1
        folder = work / f"t{trial}"
        shutil.copytree(base, folder)
        before = state(folder)
        cli = _cli_args(work, op, folder, images)
        if step is None:
            delay = rng.uniform(0.05, 1.1 * span[op])
            rc = _trial(ctx, cli, None, delay)
            label = f"random kill of {op} after {delay:.2f} s"
        else:
            rc = _trial(ctx, cli, step, None)
            label = f"{op} at {step}"
        outcome = judge(folder, before, engine, op)
        tally[outcome if outcome in ("old", "new") else "broken"] += 1
        if outcome not in ("old", "new"):
            broken.append(f"{label} (exit {rc}): {outcome}")
        shutil.rmtree(folder, ignore_errors=True)
        print(f"[{trial}/{len(plan)}] {label}: {outcome}", flush=True)
    seconds = time.perf_counter() - t0
    kinds, met, missed = bad_inputs(work)
    print()
    print(f"interrupted saves: trials {trial}, old {tally['old']}, new {tally['new']}, broken {tally['broken']} "
          f"({seconds:.0f} s; steps per save: " + ", ".join(f"{op} {len(s)}" for op, s in steps.items()) + "; "
          "random kills over runs of " + ", ".join(f"{op} {s:.1f} s" for op, s in span.items()) + ")")
    for line in broken:
        print(f"  BROKEN {line}")
    print(f"bad input: kinds {kinds}, met {met}")
    for line in missed:
        print(f"  MISSED {line}")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if not broken and met == kinds else 1


if __name__ == "__main__":
    sys.exit(main())
