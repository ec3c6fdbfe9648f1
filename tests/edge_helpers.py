"""What the tests of exported models share: a project fitted, calibrated and exported by the full install, and a
Python whose imports of torch and timm (or any other package) fail, as on the edge install."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from inference.synthetic import CENTRE, RADIUS, write_discs
from tiny_project import TINY_YAML

ROOT = Path(__file__).resolve().parents[1]
ROI = json.dumps({"type": "circle", "cx": CENTRE[0], "cy": CENTRE[1], "r": RADIUS})
TORCH = ("torch", "timm", "torchvision")
# Imported by Python at start-up from PYTHONPATH: any import of the blocked packages (or their submodules) fails.
BLOCKER_TEMPLATE = '''
import sys
class _Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {names!r}:
            raise ModuleNotFoundError(f"{{name}} is blocked: the edge install has no such package", name=name)
        return None
sys.meta_path.insert(0, _Blocked())
'''


def blocked_env(folder: Path, names: Sequence[str] = TORCH) -> dict:
    """The environment of a child Python in which `names` cannot be imported (a sitecustomize in `folder`)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(BLOCKER_TEMPLATE.format(names=tuple(names)))
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(folder), str(ROOT)])}


def make_export(root: Path) -> list[str]:
    """root/proj fitted on generated discs, calibrated, exported to root/out (fp32); root/ok, cal, ng hold the
    images. Returns the --config arguments every command of the tests gives."""
    from inspector_cli.main import main

    # The map shown with its surround (issue 25) too: the export must draw the regions the project draws.
    (root / "tiny.yaml").write_text(TINY_YAML + "  precision: fp32\n  surround_sigma: 24\n")
    write_discs(root / "ok", range(6))
    write_discs(root / "cal", range(10, 14))
    write_discs(root / "ng", [50, 51], scratch=True)
    cfg = ["--config", str(root / "tiny.yaml")]
    proj = str(root / "proj")
    assert main(["fit", proj, "--ok", str(root / "ok"), "--roi", ROI, "--mm-per-px", "0.05", *cfg]) == 0
    assert main(["calibrate", proj, "--ok", str(root / "cal"), "--ng", str(root / "ng"), *cfg]) == 0
    assert main(["export", proj, str(root / "out"), *cfg]) == 0
    return cfg
