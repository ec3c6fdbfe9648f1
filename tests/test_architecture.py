"""The layers hold: the engine core imports no client and no Qt; clients use only its public API."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("PySide6", "pyqtgraph", "app", "PyQt5", "PyQt6")


def test_no_engine_module_imports_qt_or_app():
    offenders = []
    for path in (ROOT / "inference").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_import_linter_contract_holds():
    exe = shutil.which("lint-imports")
    # The dev install brings import-linter; a missing one is a broken install, not a reason to skip.
    assert exe is not None, "import-linter is missing: pip install -e .[dev]"
    run = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_importing_the_engine_loads_no_qt():
    code = "import sys, inference, inspector_cli.main; print([m for m in sys.modules if m.startswith(('PySide6','pyqtgraph'))])"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
