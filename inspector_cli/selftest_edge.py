"""`inspector --self-test` of an installation without torch (the edge bundle, `pip install -e .[edge]`).

Such an installation cannot fit: it inspects exported models (`inspector export`). Its self-test
inspects the exported model built into it (resources/selftest_export/: a model of generated
discs, EfficientNet-Lite0 with its real weights, exported at build time by the full install with
`python -m inspector_cli.selftest_edge --make FOLDER`) and checks that it gives the full install's
verdicts in the machine's precision, and its scores in fp32, on the same generated images, one line per
check::

    PASS engine: inference 0.1.0, no torch, OpenVINO 2026.4.1, faiss 1.15.1, numpy 2.3.5
    PASS load: exported model 3f2a.. (efficientnet_lite0, 224 px), IR checked, compiled in bf16
    PASS verdicts: 7 of 7 as the full install (4 OK, 3 NG)
    PASS scores: in fp32, largest change 0.0012% from the full install's (tolerance 0.1%)
    PASS service: inspector serve's application on 127.0.0.1:40411: /health, /docs, and POST /infer gave ng_060 NG as the full install
    self-test PASSED: 5 of 5 checks, 2.9 s

Exit code 0 when every check passed, 1 otherwise. No Qt, no torch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Optional

from .selftest import CheckFailed, Checks

SELFTEST_EXPORT = ("resources", "selftest_export")
EXPECTED = "expected.json"
MODEL = "model"
# Generated images: taught, calibration (OK / NG) and inspected (OK / NG) discs, by seed.
FIT, CAL_OK, CAL_NG = range(6), range(10, 14), range(50, 53)
TEST_OK, TEST_NG = range(20, 24), range(60, 63)
# The full install scores in fp32: in fp32 the edge gives its scores (the same IR, the same search); in the
# machine's precision (bf16 where native) the verdicts must hold (scores of OK discs moved up to 12 % in bf16).
SCORE_TOLERANCE = 1e-3


def torch_installed() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("torch") is not None
    except ImportError:  # a finder that refuses torch outright (the tests' torch blocker)
        return False


def export_folder() -> Path:
    from inference import resource_path

    return resource_path(*SELFTEST_EXPORT)


def write_images(folder: Path, ok, ng=()) -> list[Path]:
    """Generated discs as PNG files (ok_020.png, ng_060.png, ...): inspected from files, decode included."""
    from inference import write_discs

    return write_discs(folder, ok) + (write_discs(folder, ng, scratch=True) if ng else [])


def make(out: Path, config=None) -> dict:
    """Build time, with the full install: fit, calibrate and export a disc model into out/model and write the
    full install's verdicts and scores of the test images to out/expected.json. `config`: the model's settings
    (default: EfficientNet-Lite0 with its built-in weights, 224 px)."""
    import tempfile

    from inference import Engine, EngineConfig, engine_for, export_model

    config = config or EngineConfig(backbone="efficientnet_lite0", weights="auto", input_size=224,
                                    coreset_ratio=0.25, runtime="openvino", precision="fp32", use_gpu=False)
    engine = Engine(config)
    with tempfile.TemporaryDirectory() as d:
        project, d = Path(d) / "project", Path(d)
        fit = engine.fit(project, write_images(d / "fit", FIT))
        engine.calibrate(fit.model, write_images(d / "ok", CAL_OK), write_images(d / "ng", (), CAL_NG))
        export_model(engine, project, out / MODEL)
        edge = engine_for(out / MODEL, config)
        results = edge.score_many(edge.load(out / MODEL), write_images(d / "test", TEST_OK, TEST_NG))
    expected = {"precision": "fp32", "results": [
        {"name": Path(r.name).stem, "verdict": r.verdict.value, "score": round(float(r.score), 6)} for r in results]}
    (out / EXPECTED).write_text(json.dumps(expected, indent=1) + "\n")
    return expected


class EdgeSelfTest(Checks):
    def __init__(self, report, folder: Path):
        super().__init__(report)
        self.folder = folder  # holds model/ and expected.json

    def check_engine(self) -> str:
        import faiss
        import numpy as np

        import openvino

        from inference import __version__

        torch = "torch installed" if torch_installed() else "no torch"
        return (f"inference {__version__}, {torch}, OpenVINO {openvino.get_version().split('-')[0]}, "
                f"faiss {faiss.__version__}, numpy {np.__version__}")

    def check_load(self) -> str:
        from inference import EngineConfig, engine_for

        folder = self.folder
        if not (folder / MODEL).is_dir():
            raise CheckFailed(f"{folder / MODEL} is missing: this installation has no built-in exported model")
        self.state["expected"] = json.loads((folder / EXPECTED).read_text(encoding="utf-8"))
        engine = engine_for(folder / MODEL, EngineConfig.load())
        model = engine.load(folder / MODEL)
        self.state.update(engine=engine, model=model, folder=folder)
        return (f"exported model {model.model_id[:12]} ({model.record.backbone.name}, {model.config.input_size} px), "
                f"IR checked, compiled in {model.backbone.precision_name}")

    def check_verdicts(self) -> str:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="inspector-selftest-") as d:
            results = self.state["engine"].score_many(self.state["model"], write_images(Path(d), TEST_OK, TEST_NG))
        self.state["results"] = results
        want = self.state["expected"]["results"]
        got = [r.verdict.value for r in results]
        wrong = [f"{w['name']}: {g} not {w['verdict']}" for w, g in zip(want, got) if g != w["verdict"]]
        if wrong or len(got) != len(want):
            raise CheckFailed("not the full install's verdicts: " + "; ".join(wrong))
        return f"{len(got)} of {len(want)} as the full install ({got.count('OK')} OK, {got.count('NG')} NG)"

    def check_scores(self) -> str:
        import tempfile

        from inference import EngineConfig, engine_for

        folder = self.state["folder"] / MODEL
        engine = engine_for(folder, EngineConfig.load().replace(precision="fp32"))
        with tempfile.TemporaryDirectory(prefix="inspector-selftest-") as d:
            results = engine.score_many(engine.load(folder), write_images(Path(d), TEST_OK, TEST_NG))
        want = [w["score"] for w in self.state["expected"]["results"]]
        got = [float(r.score) for r in results]
        change = max(abs(g - w) / max(abs(w), 1e-9) for g, w in zip(got, want))
        if change > SCORE_TOLERANCE:
            raise CheckFailed(f"in fp32, scores moved up to {change:.2%} from the full install's (tolerance "
                               f"{SCORE_TOLERANCE:.1%})")
        return f"in fp32, largest change {change:.4%} from the full install's (tolerance {SCORE_TOLERANCE:.1%})"

    def check_service(self) -> str:
        """The edge PC serves its export to the line's software: `inspector serve`'s application, over real HTTP,
        on a copy of the model (the service writes its history beside it; the installed one stays as built)."""
        import shutil
        import tempfile

        from .selftest_service import ServiceCheckFailed, serve_and_inspect

        with tempfile.TemporaryDirectory(prefix="inspector-selftest-") as d:
            shutil.copytree(self.state["folder"] / MODEL, Path(d) / "projects" / MODEL)
            ng = write_images(Path(d) / "images", (), TEST_NG[:1])[0]
            want = next(w for w in self.state["expected"]["results"] if w["name"] == ng.stem)
            try:
                where, result = serve_and_inspect(Path(d) / "projects", self.state["engine"], MODEL, ng)
            except ServiceCheckFailed as exc:
                raise CheckFailed(str(exc)) from None
        detail = (f"inspector serve's application on {where}: /health, /docs, and POST /infer gave {ng.stem} "
                  f"{result['verdict']}")
        if result["verdict"] != want["verdict"]:
            raise CheckFailed(f"{detail}, not the full install's {want['verdict']}")
        return detail + " as the full install"


def main(argv: Optional[list[str]] = None, report=None) -> int:
    from .selftest import Report

    p = argparse.ArgumentParser(prog="inspector --self-test", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--make", type=Path, metavar="FOLDER", help="build time (full install): write the built-in "
                   "exported model and its expected results into FOLDER")
    p.add_argument("--export", type=Path, metavar="FOLDER", help="check the model that --make wrote into FOLDER "
                   "instead of the built-in one")
    p.add_argument("--output", metavar="FILE", help="also write the lines to FILE")
    p.add_argument("--quick", action="store_true", help="accepted for the full self-test's callers; same checks")
    args, _ = p.parse_known_args(argv)
    if args.make:
        expected = make(args.make)
        print(f"wrote {args.make / MODEL} and {args.make / EXPECTED} ({len(expected['results'])} images)")
        return 0
    sinks = [sys.stdout] if sys.stdout is not None else []
    out = open(args.output, "w", encoding="utf-8") if args.output else None
    if out:
        sinks.append(out)
    report = report or Report(sinks)
    t0 = time.perf_counter()
    try:
        test = EdgeSelfTest(report, args.export or export_folder())
        test.run("engine", test.check_engine)
        test.run("load", test.check_load, needs=("engine",))
        test.run("verdicts", test.check_verdicts, needs=("load",))
        test.run("scores", test.check_scores, needs=("verdicts",))
        test.run("service", test.check_service, needs=("load",))
        return report.verdict(time.perf_counter() - t0)
    finally:
        if out:
            out.close()


if __name__ == "__main__":
    sys.exit(main())
