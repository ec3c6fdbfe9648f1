"""Memory of a line's recipes as exports: N copies of one exported model loaded by N stations, as `inspector run`
with recipes or `inspector serve` holds them, with the compiled network shared between them (what the engine does)
and with one compiled network per folder (what it did before the twenty-first session). Each way in its own
process; the figure is the growth of the resident set from before the first load.

    python bench/bench_edge_memory.py --backbone dinov2_vits14 --input-size 448 --copies 3

The model is fitted on generated discs with `weights: none` (memory does not depend on the weights' values).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def _load(work: Path, copies: int, shared: bool) -> None:
    """In this process: load each copy through its own Station; print the resident set's growth after each."""
    from inference import Engine, EngineConfig, edge
    from station import Station

    config = EngineConfig.load(work / "config.yaml")
    base, held = _rss_mib(), []
    for i in range(copies):
        if not shared:
            edge._GRIDS.clear()  # noqa: SLF001  (the old behaviour: every folder compiles its own network)
        held.append(Station(work / f"recipe{i}", Engine(config), record=False).model())
        print(f"{'shared' if shared else 'one per folder'}: {i + 1} export(s) loaded, RSS +{_rss_mib() - base:.0f} MiB",
              flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backbone", default="dinov2_vits14")
    p.add_argument("--input-size", type=int, default=448)
    p.add_argument("--copies", type=int, default=3)
    p.add_argument("--_load", nargs=2, metavar=("WORK", "WAY"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args._load:
        _load(Path(args._load[0]), args.copies, args._load[1] == "shared")
        return 0
    sys.path.insert(0, str(ROOT))
    from inference import write_discs
    from inspector_cli.main import main as cli

    with tempfile.TemporaryDirectory(prefix="bench-edge-memory-") as d:
        work = Path(d)
        (work / "config.yaml").write_text(f"engine:\n  backbone: {args.backbone}\n  weights: none\n"
                                          f"  input_size: {args.input_size}\n  precision: fp32\n  runtime: openvino\n")
        write_discs(work / "ok", range(3))
        write_discs(work / "cal", range(10, 16))
        write_discs(work / "ng", [50], scratch=True)
        cfg = ["--config", str(work / "config.yaml")]
        assert cli(["fit", str(work / "proj"), "--ok", str(work / "ok"), *cfg]) == 0
        assert cli(["calibrate", str(work / "proj"), "--ok", str(work / "cal"), "--ng", str(work / "ng"), *cfg]) == 0
        assert cli(["export", str(work / "proj"), str(work / "out"), *cfg]) == 0
        for i in range(args.copies):
            shutil.copytree(work / "out", work / f"recipe{i}")
        for way in ("shared", "per-folder"):
            subprocess.run([sys.executable, __file__, "--copies", str(args.copies), "--_load", str(work), way],
                           check=True, cwd=ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
