"""Power cuts at every step of the project writer, for tests/test_faults.py and bench/bench_faults.py.

A trial: a project holds model A (calibrated); a fit, add or calibrate that
would write B and make it the active version (fit and add with activation asked
for: otherwise they stay staged beside A) is cut at one named step of
inference/project.py's save path (the new version's folder, then the commit
that activates it; in-process: an exception no code under test catches; in a
subprocess: SIGKILL).
Then a reader must see the complete A or the complete B, change nothing, and the
next writer must keep what the reader saw; the model must still inspect.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from inference import Engine, project as proj
from inference.synthetic import CENTRE, RADIUS, disc, write_discs
from tiny_project import TINY_YAML

ROI_JSON = json.dumps({"type": "circle", "cx": CENTRE[0], "cy": CENTRE[1], "r": RADIUS})
OPERATIONS = ("fit", "add", "calibrate")


class PowerCut(BaseException):
    """Raised at the chosen step: nothing in the engine catches a BaseException that is not its own."""


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def state(folder: Path) -> tuple:
    """(model_id, calibration or None) as a reader sees it; raises if the project is broken.

    The calibration is told apart by its threshold, percentile and OK count, not its threshold alone: the trial's
    calibrate (2 of the 3 OK images, percentile 90) can land on the old threshold where the image it leaves out
    was not the highest-scoring OK one, and which one scores highest differs between machines (seen on an AVX2
    machine: the random test backbone, seeded alike, scores the three OK images in another order there).
    """
    stored = proj.load_model(folder)
    cal = stored.calibration
    return stored.record.model_id, ((cal.threshold, cal.score_percentile, cal.n_ok) if cal else None)


def make_inputs(root: Path) -> dict:
    write_discs(root / "ok", range(4))
    write_discs(root / "more", range(4, 6))
    write_discs(root / "cal", range(10, 13))
    write_discs(root / "ng", [50], scratch=True)
    (root / "tiny.yaml").write_text(TINY_YAML)
    return {k: sorted((root / k).glob("*.png")) for k in ("ok", "more", "cal", "ng")}


def make_project(engine: Engine, folder: Path, images: dict) -> None:
    from inference import Circle

    engine.fit(folder, images["ok"], roi=Circle(cx=CENTRE[0], cy=CENTRE[1], r=RADIUS))
    engine.calibrate(engine.load(folder), images["cal"], images["ng"])


def run_operation(engine: Engine, op: str, folder: Path, images: dict) -> None:
    from inference import Circle

    if op == "fit":
        engine.fit(folder, images["ok"][:3], roi=Circle(cx=CENTRE[0], cy=CENTRE[1], r=RADIUS * 0.9), activate=True)
    elif op == "add":
        engine.add(folder, images["more"], activate=True)
    else:
        engine.calibrate(engine.load(folder), images["cal"][:2], images["ng"], score_percentile=90.0)


def steps_of(engine: Engine, op: str, folder: Path, images: dict, monkeypatch_setattr) -> list[str]:
    """The writer's named steps for one operation, in order (recorded from a real run)."""
    seen: list[str] = []
    monkeypatch_setattr(proj, "_checkpoint", seen.append)
    run_operation(engine, op, folder, images)
    monkeypatch_setattr(proj, "_checkpoint", lambda step: None)
    return seen


def is_new(op: str, before: tuple, seen: tuple) -> bool:
    """A fit or add makes a new model (its old calibration no longer applies); a calibrate a new threshold."""
    if op == "calibrate":
        return seen[0] == before[0] and seen[1] is not None and seen[1] != before[1]
    return seen[0] != before[0] and seen[1] is None


def judge(folder: Path, before: tuple, engine: Engine, op: str) -> str:
    """'old', 'new' or 'broken: why' for a project after an interrupted `op`."""
    files = snapshot(folder)
    try:
        seen = state(folder)
    except Exception as exc:  # any failure to read is the failure this suite exists to catch
        return f"broken: reader failed ({exc})"
    if snapshot(folder) != files:
        return "broken: a reader changed the project"
    if seen != before and not is_new(op, before, seen):
        return f"broken: neither the old nor the new project ({before} -> {seen})"
    try:
        proj.save_settings(folder, {"after": "crash"})  # the next writer recovers
        again = state(folder)
        result = engine.infer(engine.load(folder), disc(60, True)[0])
    except Exception as exc:
        return f"broken: after recovery ({exc})"
    if again != seen:
        return f"broken: the next writer changed what readers saw ({seen} -> {again})"
    if again[1] is not None and result.verdict is None:
        return "broken: calibrated but no verdict"
    if list(folder.glob(".*.tmp")) or (folder / proj.PENDING).exists() or list(folder.glob("versions/.*")):
        return "broken: leftovers after recovery"
    listed = {v.version: v for v in proj.list_versions(folder)}
    if sum(v.active for v in listed.values()) != 1 or proj.active_version(folder) not in listed:
        return "broken: the version list does not name the active version"
    return "old" if seen == before else "new"


def cli_trial(root: Path, op: str, step: str, folder: Path, images: dict) -> int:
    """Run one CLI command in a subprocess that SIGKILLs itself at `step`; its return code."""
    cfg = ["--config", str(root / "tiny.yaml")]
    if op == "fit":
        args = ["fit", str(folder), "--ok", *map(str, images["ok"][:3]), "--roi", ROI_JSON, "--activate", *cfg]
    elif op == "add":
        args = ["fit", str(folder), "--ok", *map(str, images["more"]), "--add", "--activate", *cfg]
    else:
        args = ["calibrate", str(folder), "--ok", *map(str, images["cal"][:2]), "--ng", *map(str, images["ng"]),
                "--score-percentile", "90", *cfg]
    env = {**os.environ, proj.CRASH_AT_ENV: step}
    root_dir = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "inspector_cli.entry", *args], env=env, cwd=root_dir,
                          capture_output=True, text=True, timeout=600)
    return done.returncode
