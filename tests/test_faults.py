"""The project writer under power cuts and interruptions at every step of its save path (issue 8).

Faults are injected at the writer's named steps (inference/project.py `_checkpoint`), not by random timing:
every step of fit, add and calibrate is cut once, in-process; a few are cut by a real SIGKILL of the CLI.
bench/bench_faults.py runs the long version (every step by SIGKILL, repeated).
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fault_harness import (OPERATIONS, PowerCut, cli_trial, judge, make_inputs, make_project, run_operation, state,
                           steps_of)
from inference import Engine
from inference import project as proj
from inspector_cli.main import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def env(tmp_path_factory, tiny_config):
    root = tmp_path_factory.mktemp("faults")
    engine = Engine(tiny_config)
    images = make_inputs(root)
    base = root / "base"
    make_project(engine, base, images)
    return engine, root, images, base


def _copy(base: Path, to: Path) -> Path:
    shutil.copytree(base, to)
    return to


@pytest.mark.parametrize("op", OPERATIONS)
def test_a_power_cut_at_every_step_leaves_the_complete_old_or_new_model(env, tmp_path, monkeypatch, op):
    engine, root, images, base = env
    steps = steps_of(engine, op, _copy(base, tmp_path / "probe"), images, monkeypatch.setattr)
    assert "replace:COMMIT" in steps and "committed" in steps and steps[-1] == "cleanup"
    outcomes = {}
    for i, step in enumerate(steps):
        folder = _copy(base, tmp_path / f"trial{i}")
        before = state(folder)

        def cut(at, step=step):
            if at == step:
                raise PowerCut(step)

        monkeypatch.setattr(proj, "_checkpoint", cut)
        with pytest.raises(PowerCut):
            run_operation(engine, op, folder, images)
        monkeypatch.setattr(proj, "_checkpoint", lambda at: None)
        outcomes[step] = judge(folder, before, engine, op)
    commit = steps.index("committed")
    assert [outcomes[s] for s in steps[:commit]] == ["old"] * commit, outcomes
    assert [outcomes[s] for s in steps[commit:]] == ["new"] * (len(steps) - commit), outcomes


@pytest.mark.parametrize("step,expected", [("replace:COMMIT", "old"), ("committed", "new"),
                                           ("move:manifest.json", "new")])
def test_sigkill_of_the_cli_at_the_commit_point(env, tmp_path, step, expected):
    engine, root, images, base = env
    folder = _copy(base, tmp_path / "p")
    before = state(folder)
    assert cli_trial(root, "fit", step, folder, images) == -signal.SIGKILL
    assert judge(folder, before, engine, "fit") == expected


@pytest.mark.parametrize("step,says,changed", [
    # Cut while activating: the new version was written whole, but the active one is unchanged.
    ("stage:embeddings.npy", "staged; the active version is unchanged", False),
    ("committed", "interrupted after the new model was saved", True),
    ("cleanup", "interrupted after the new model was saved", True),
])
def test_ctrl_c_says_truthfully_whether_the_new_model_was_saved(env, tmp_path, monkeypatch, capsys, step, says,
                                                                 changed):
    engine, root, images, base = env
    folder = _copy(base, tmp_path / "p")
    before = state(folder)
    monkeypatch.setenv(proj.CRASH_AT_ENV, f"int@{step}")
    rc = main(["fit", str(folder), "--ok", *map(str, images["ok"][:3]), "--activate",
               "--config", str(root / "tiny.yaml")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 130 and len(err) == 1 and says in err[0]
    monkeypatch.delenv(proj.CRASH_AT_ENV)
    assert (judge(folder, before, engine, "fit") == "new") is changed


def test_ctrl_c_after_a_calibration_was_saved_says_so(env, tmp_path, monkeypatch, capsys):
    engine, root, images, base = env
    folder = _copy(base, tmp_path / "p")
    monkeypatch.setenv(proj.CRASH_AT_ENV, "int@committed")
    rc = main(["calibrate", str(folder), "--ok", *map(str, images["cal"][:2]), "--score-percentile", "90",
               "--config", str(root / "tiny.yaml")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 130 and err == [f"inspector: error: interrupted after the new calibration was saved in {folder}"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_start_up_exits_130_with_one_line(tmp_path, sig):
    proc = subprocess.Popen([sys.executable, "-m", "inspector_cli.entry", "info", str(tmp_path)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Inside the imports: on a quiet machine with warm caches they end about 0.4 s in, and a signal after them
    # lands in the command itself, which this test is not about (0.3 s hit that window 3 times in 6).
    time.sleep(0.15)
    if proc.poll() is not None:
        pytest.skip("the command finished before the signal could be sent")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    if "holds no fitted model" in err:
        # A loaded machine: the signal landed after the command had done its work (its own answer, one line).
        pytest.skip("the command finished before the signal arrived")
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["inspector: error: interrupted"]


def test_an_interrupt_caught_after_it_passed_through_source_text_still_exits_130(tmp_path):
    # CPython marks a KeyboardInterrupt that escapes eval/exec of source text (namedtuple and dataclass
    # definitions, while modules import) as unhandled and, under `python -m`, ended the process by SIGINT at
    # exit even though the console script had caught it and said so. Deterministic: the interrupt is raised
    # inside an exec of source text, where a signal landing during the imports would raise it.
    (tmp_path / "interrupted_in_exec.py").write_text(
        "import sys\n"
        "import inspector_cli.main\n"
        "inspector_cli.main.main = lambda argv: exec('raise KeyboardInterrupt')\n"
        "from inspector_cli.entry import main\n"
        "sys.exit(main(['info', 'x']))\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}:{ROOT}"}
    proc = subprocess.run([sys.executable, "-m", "interrupted_in_exec"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 130, (proc.returncode, proc.stderr)
    assert proc.stderr.strip().splitlines() == ["inspector: error: interrupted"]
