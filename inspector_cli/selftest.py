"""`inspector --self-test`: check an installation headless, in seconds, without a camera or a project.

It makes a temporary project from generated images (textured discs, some
scratched), fits a model with the installed weights (and says whether OpenVINO
or torch computes it), inspects, calibrates, reloads the project, inspects
through `inspector serve`'s application on a loopback port, round-trips the
faiss index, and prints one line per check::

    PASS engine: inference 0.1.0, torch 2.15.0 (CUDA 13.2), faiss 1.15.1, numpy ...
    FAIL defect_scores: scratched disc scored 0.41, not above the good ones (max 0.52)
    self-test FAILED: 1 of 14 checks failed (defect_scores)

and exits 0 when every check passed, 1 otherwise. Weights: the pretrained
DINOv2 ViT-S/14 file when one is installed (resources/models/ or the user's
models folder), else the built-in EfficientNet-Lite0, else a RANDOM backbone
(the `weights` check then fails, because an installation without any
pretrained weights cannot inspect; ``--weights none`` asks for random weights
on purpose). Nothing is downloaded.

Without a console (the frozen windowed app on Windows, where sys.stdout is
None) the lines go to ``selftest.txt`` next to the executable or, if that
folder is read-only, to the user's data folder; ``--output FILE`` writes them
to FILE as well. Every line is also logged (logger ``inspector_cli.selftest``).
No Qt here.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional, TextIO

import numpy as np

from inference import write_discs

log = logging.getLogger(__name__)

N_FIT, N_OK_TEST, N_NG = 6, 4, 3


# -- reporting ----------------------------------------------------------------------
class Report:
    """Writes each line to the console (when there is one), an optional file, and the log."""

    def __init__(self, sinks: list[TextIO]):
        self.sinks = sinks
        self.results: list[tuple[str, bool, str]] = []

    def line(self, text: str) -> None:
        log.info("%s", text)
        for sink in self.sinks:
            try:
                sink.write(text + "\n")
                sink.flush()
            except (OSError, ValueError, AttributeError):
                pass  # a closed or broken console must not fail the check itself

    def record(self, name: str, ok: bool, detail: str) -> None:
        self.results.append((name, ok, detail))
        self.line(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")

    @property
    def failed(self) -> list[str]:
        return [name for name, ok, _ in self.results if not ok]

    def verdict(self, seconds: float) -> int:
        """The closing line (PASSED, or FAILED naming the failed checks) and the exit code: 0 when all passed."""
        failed, total = self.failed, len(self.results)
        if failed:
            self.line(f"self-test FAILED: {len(failed)} of {total} checks failed ({', '.join(failed)}), "
                      f"{seconds:.1f} s")
        else:
            self.line(f"self-test PASSED: {total} of {total} checks, {seconds:.1f} s")
        return 1 if failed else 0


def fallback_output_path() -> Path:
    """Where the lines go when there is no console: next to the executable, else the user's data folder."""
    if getattr(sys, "frozen", False):
        folder = Path(sys.executable).resolve().parent
        if os.access(folder, os.W_OK):
            return folder / "selftest.txt"
    from inference import user_models_dir

    return user_models_dir().parent / "selftest.txt"


class CheckFailed(Exception):
    pass


class Checks:
    """Runs named checks into a report: each gives a PASS line with its detail, or a FAIL line with why (a check
    that raises anything fails, never with a traceback on a technician's screen); a check whose `needs` failed
    is not run. The full install's SelfTest and the edge install's EdgeSelfTest both run their checks so."""

    def __init__(self, report: Report):
        self.report = report
        self.state: dict = {}

    def forced_to_fail(self, name: str) -> bool:
        return False

    def run(self, name: str, fn: Callable[[], str], needs: tuple = ()) -> bool:
        missing = [n for n in needs if not self.state.get(n)]
        if missing:
            self.report.record(name, False, f"not run: {', '.join(missing)} failed")
            return False
        try:
            if self.forced_to_fail(name):
                raise CheckFailed("forced to fail (--force-fail)")
            detail = fn()
        except CheckFailed as exc:
            self.report.record(name, False, str(exc))
            return False
        except Exception as exc:  # every failure is a FAIL line, never a traceback on a technician's screen
            log.exception("self-test check %s raised", name)
            self.report.record(name, False, f"{type(exc).__name__}: {exc}")
            return False
        self.state[name] = True
        self.report.record(name, True, detail)
        return True


# -- the checks -----------------------------------------------------------------------
class SelfTest(Checks):
    def __init__(self, args: argparse.Namespace, report: Report, workdir: Path):
        super().__init__(report)
        self.args = args
        self.workdir = workdir

    def forced_to_fail(self, name: str) -> bool:
        return name in self.args.force_fail

    # engine, config, device -------------------------------------------------------
    def check_engine(self) -> str:
        import faiss
        import torch

        import inference

        cuda = torch.version.cuda
        return (f"inference {inference.__version__}, torch {torch.__version__} "
                f"({'CUDA ' + cuda if cuda else 'CPU-only build'}), faiss {faiss.__version__}, "
                f"numpy {np.__version__}, Python {platform.python_version()}, {platform.system()} "
                f"{platform.machine()}{', frozen' if getattr(sys, 'frozen', False) else ''}")

    def check_config(self) -> str:
        from inference import EngineConfig, default_config_path

        path = default_config_path()
        base = EngineConfig.load()
        self.state["base_config"] = base
        where = str(path) if path is not None else "no config.yaml found, built-in defaults"
        return f"{where} (backbone {base.backbone}, use_gpu {base.use_gpu})"

    def check_sign_in(self) -> str:
        """Who may teach at the window here: a users file in force must be readable, or nobody can sign in."""
        from inference import InspectorError
        from station.sign_in import read_users, users_file

        path = users_file(None)
        if path is None:
            return "no users file: the window is open to everyone, under the OS user's name"
        try:
            users = read_users(path)
        except InspectorError as exc:  # the lock holds, and nobody can sign in
            raise CheckFailed(f"{exc}: nobody can sign in at the window") from None
        engineers = sum("engineer" in u.roles for u in users.values())
        if not engineers:
            raise CheckFailed(f"{path}: {len(users)} user(s), none an engineer: nobody can teach at the window")
        return f"{path}: {len(users)} user(s), {engineers} engineer(s); the window starts as the operator"

    def check_device(self) -> str:
        import torch

        from inference import pick_device

        use_gpu = self.state["base_config"].use_gpu if self.state.get("config") else True
        device = pick_device(use_gpu)
        if device.type == "cuda":
            detail = f"cuda ({torch.cuda.get_device_name(0)}, {torch.cuda.device_count()} GPU(s))"
        elif torch.version.cuda is None:
            detail = "cpu (this build has no CUDA)"
        elif not use_gpu:
            detail = "cpu (use_gpu is off in the config)"
        else:
            detail = f"cpu (no usable CUDA GPU; torch built for CUDA {torch.version.cuda})"
        if self.args.expect_gpu and device.type != "cuda":
            raise CheckFailed(f"{detail}, but --expect-gpu was given")
        return detail

    # weights ------------------------------------------------------------------------
    def _config(self, backbone: str, weights: str, **extra):
        from inference import EngineConfig

        base = self.state.get("base_config") or EngineConfig()
        values = dict(backbone=backbone, weights=weights, backbone_kwargs={}, input_size=self.args.input_size,
                      coreset_ratio=0.1, batch_size=8, augment=False, distance="l2", n_neighbors=1,
                      patch_size=3, stride=1, score_mode="p99", score_percentile=99.0, min_area=0.0,
                      cnn_layers=(2, 3))
        values.update(extra)
        return base.replace(**values)

    def check_weights(self) -> str:
        from inference import Engine
        from inference import WeightsError
        from inference import find_weights_file, resolve_preset

        args = self.args
        notes: list[str] = []
        if args.quick:
            candidates = [("dinov2_vits14", "none", {"backbone_kwargs": {"depth": 2}})]
        elif args.weights != "auto":
            candidates = [(args.backbone, args.weights, {})]
        else:
            candidates = [(args.backbone, "auto", {})]
            if args.backbone != "efficientnet_lite0":
                candidates.append(("efficientnet_lite0", "auto", {}))
            candidates.append((args.backbone, "none", {}))
        for backbone, weights, extra in candidates:
            if weights == "auto" and not args.allow_download:
                found, _ = find_weights_file(resolve_preset(backbone))
                if found is None:
                    notes.append(f"{backbone}: no weights file on this machine")
                    continue
            config = self._config(backbone, weights, **extra)
            engine = Engine(config)
            try:
                bb = engine.backbone(config)
            except WeightsError as exc:
                notes.append(f"{backbone}: {exc}")
                continue
            self.state.update(engine=engine, config=config, backbone=bb)
            info = bb.weights
            where = f"{info.source} {info.path}" if info.path else info.source
            text = (f"{backbone} on {bb.device.type}, {where}, sha256 {(info.sha256 or '?')[:12]}, "
                    f"{bb.feature_dim}-d features on a {bb.token_shape[0]}x{bb.token_shape[1]} grid")
            if notes:
                text += " [" + "; ".join(notes) + "]"
            if not info.pretrained:
                text = "RANDOM weights (not for inspection): " + text
                asked = args.quick or args.weights == "none"
                if not asked:
                    # Run the other checks with the random model, but an install without weights is broken.
                    raise CheckFailed(text + "; no pretrained weights found: install them "
                                      "(see resources/models/README.md) or reinstall")
            return text
        raise CheckFailed("; ".join(notes) or "no backbone could be built")

    def check_runtime(self) -> str:
        """What runs the backbone. OpenVINO installed on a CPU but set aside for torch fails: torch runs the
        backbone about half as fast there, so an installation that cannot run OpenVINO (a bundle without its
        CPU plugin or IR reader, a cache folder it cannot write) is broken, not merely slower."""
        bb = self.state["backbone"]
        if bb.runtime_fallback:
            why = " ".join(bb.runtime_fallback.split())
            raise CheckFailed(f"OpenVINO is installed but cannot run the backbone ({why[:300]}); torch runs it on "
                              f"the CPU instead, about half as fast")
        if bb.runtime == "openvino":
            import openvino

            return f"OpenVINO {openvino.get_version().split('-')[0]} on the CPU, {bb.precision_name}"
        detail = f"torch on {bb.device.type}, {bb.precision_name}"
        if bb.device.type == "cpu" and bb.config.runtime == "auto":
            try:
                import openvino  # noqa: F401
            except ImportError:
                detail += " (OpenVINO is not installed: pip install openvino runs the backbone about 2x faster)"
        return detail

    # fit, infer, calibrate ----------------------------------------------------------
    def make_images(self) -> None:
        root = self.workdir / "images"
        self.state["fit_paths"] = write_discs(root / "fit", range(N_FIT))
        self.state["ok_paths"] = write_discs(root / "ok", range(100, 100 + N_OK_TEST))
        self.state["ng_paths"] = write_discs(root / "ng", range(200, 200 + N_NG), scratch=True)

    def check_fit(self) -> str:
        self.make_images()
        engine = self.state["engine"]
        folder = self.workdir / "project"
        result = engine.fit(folder, self.state["fit_paths"], config=self.state["config"])
        self.state["folder"] = folder
        if result.n_images != N_FIT or result.coreset_size < 1:
            raise CheckFailed(f"fit gave {result.n_images} images, coreset {result.coreset_size}")
        for name in ("manifest.json", "embeddings.npy", "coreset.faiss"):
            if not (folder / name).is_file():
                raise CheckFailed(f"project has no {name} after fit")
        return (f"{result.n_images} generated OK images, {result.n_embeddings} patch features, "
                f"coreset {result.coreset_size}, {result.seconds:.1f} s")

    def check_infer(self) -> str:
        engine = self.state["engine"]
        model = engine.load(self.state["folder"])
        self.state["model"] = model
        t = time.perf_counter()
        ok = engine.score_many(model, self.state["ok_paths"])
        ng = engine.score_many(model, self.state["ng_paths"])
        seconds = (time.perf_counter() - t) / (len(ok) + len(ng))
        scores = [r.score for r in ok + ng]
        if not all(np.isfinite(scores)):
            raise CheckFailed(f"non-finite scores {scores}")
        if any(r.anomaly_map.shape != r.mask.shape for r in ok + ng):
            raise CheckFailed("anomaly map and ROI mask differ in shape")
        self.state["ok_scores"] = [r.score for r in ok]
        self.state["ng_scores"] = [r.score for r in ng]
        return f"{len(scores)} images inspected, {seconds * 1000:.0f} ms per image on {model.backbone.device.type}"

    def check_defect_scores(self) -> str:
        ok, ng = self.state["ok_scores"], self.state["ng_scores"]
        detail = f"scratched {_fmt(ng)} vs good {_fmt(ok)}"
        if min(ng) <= max(ok):
            raise CheckFailed(detail + ": a scratched disc did not score above every good one")
        return detail + f" (gap {min(ng) - max(ok):.4g})"

    def check_calibrate(self) -> str:
        engine, model = self.state["engine"], self.state["model"]
        cal = engine.calibrate(model, self.state["ok_paths"], self.state["ng_paths"])
        model = self.state["model"] = model.with_calibration(cal)
        if not (self.state["folder"] / "calibration.json").is_file():
            raise CheckFailed("calibrate wrote no calibration.json")
        ng = engine.score_many(model, self.state["ng_paths"])
        ok = engine.score_many(model, self.state["ok_paths"])
        verdicts_ng = [r.verdict for r in ng]
        verdicts_ok = [r.verdict for r in ok]
        detail = (f"threshold {cal.threshold:.4g} ({cal.method}); scratched -> {' '.join(map(str, verdicts_ng))}, "
                  f"good -> {' '.join(map(str, verdicts_ok))}")
        if any(v != "NG" for v in verdicts_ng):
            raise CheckFailed(detail + ": a scratched disc was not NG")
        if any(v != "OK" for v in verdicts_ok):
            raise CheckFailed(detail + ": a good disc was not OK")
        self.state["ng_first_score"] = ng[0].score
        return detail

    def check_reload(self) -> str:
        from inference import Engine

        fresh = Engine(self.state["config"])  # a new engine: backbone rebuilt, project read from disk
        model = fresh.load(self.state["folder"])
        if model.calibration is None:
            raise CheckFailed("reloaded project has no calibration")
        result = fresh.infer(model, self.state["ng_paths"][0])
        before = self.state["ng_first_score"]
        if not np.isclose(result.score, before, rtol=1e-4, atol=1e-5):
            raise CheckFailed(f"score {result.score:.6g} after reload, {before:.6g} before")
        if result.verdict != "NG":
            raise CheckFailed(f"verdict {result.verdict} after reload, NG before")
        return f"same score after reload ({result.score:.6g}) and verdict {result.verdict}"

    def check_service(self) -> str:
        from .selftest_service import ServiceCheckFailed, serve_and_inspect

        folder = self.state["folder"]
        try:
            where, result = serve_and_inspect(folder.parent, self.state["engine"], folder.name,
                                              self.state["ng_paths"][0])
        except ServiceCheckFailed as exc:
            raise CheckFailed(str(exc)) from None
        detail = (f"inspector serve's application on {where}: /health, /docs, POST /infer gave a scratched disc "
                  f"{result['verdict']} (score {result['score']:.4g}), the line display showed it")
        if result["verdict"] != "NG":
            raise CheckFailed(detail + ", not NG")
        return detail

    def check_faiss(self) -> str:
        import faiss

        from inference import Searcher, deserialize_index, serialize_index

        model = self.state["model"]
        data = (self.state["folder"] / "coreset.faiss").read_bytes()
        index = deserialize_index(data)
        again = deserialize_index(serialize_index(index))
        rng = np.random.default_rng(0)
        queries = rng.normal(size=(64, index.d)).astype(np.float32)
        a = Searcher(index, use_gpu=False).distances(queries)
        b = Searcher(again, use_gpu=False).distances(queries)
        c = model.searcher.distances(queries)
        if index.ntotal != model.searcher.ntotal or not np.allclose(a, b):
            raise CheckFailed("index differs after serialize/deserialize")
        if not np.allclose(a, c, rtol=1e-2, atol=1e-3):  # the loaded model may search on GPU in fp16
            raise CheckFailed("index on disk and the loaded model's index disagree")
        where = f"GPU ({model.searcher.gpu_search})" if model.searcher.on_gpu else "CPU"
        return f"{index.ntotal} vectors x {index.d}, serialize/deserialize identical, search on {where} " \
               f"(faiss {faiss.__version__})"

    def check_heatmap(self) -> str:
        from inference import heatmap_png

        engine, model = self.state["engine"], self.state["model"]
        png = heatmap_png(engine.infer(model, self.state["ng_paths"][0]))
        if not png.startswith(b"\x89PNG"):
            raise CheckFailed("heatmap is not a PNG")
        return f"heatmap PNG {len(png)} bytes"


def _fmt(values) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in values) + "]"


CHECK_NAMES = ("engine", "config", "sign_in", "device", "weights", "runtime", "fit", "infer", "defect_scores", "calibrate",
               "reload", "service", "faiss_roundtrip", "heatmap")


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="inspector --self-test",
        description="Check this installation: fit and inspect generated images with the installed weights. "
                    "One line per check; exit code 0 when all pass, 1 otherwise.",
    )
    p.add_argument("--backbone", default="dinov2_vits14",
                   help="backbone tried first (default dinov2_vits14; falls back to the built-in efficientnet_lite0)")
    p.add_argument("--weights", default="auto",
                   help="auto (installed weights, then the built-in EfficientNet-Lite0), none (random), or a file")
    p.add_argument("--input-size", type=int, default=224, help="model input size, multiple of 14 (default 224)")
    p.add_argument("--quick", action="store_true",
                   help="a tiny random backbone (2 ViT blocks, 112 px): checks the software, not the weights")
    p.add_argument("--expect-gpu", action="store_true", help="fail the device check when no CUDA GPU is used")
    p.add_argument("--allow-download", action="store_true",
                   help="let weights: auto download from the internet when no file is installed")
    p.add_argument("--output", metavar="FILE", help="also write the lines to FILE")
    p.add_argument("--keep", action="store_true", help="keep the temporary project and print where it is")
    p.add_argument("--force-fail", action="append", default=[], metavar="CHECK", choices=CHECK_NAMES,
                   help=argparse.SUPPRESS)  # for testing the report
    args = p.parse_args(argv)
    if args.quick:
        args.input_size = 112
    return args


def main(argv: Optional[list[str]] = None) -> int:
    from . import selftest_edge

    if not selftest_edge.torch_installed():  # the edge install: it inspects exported models only
        return selftest_edge.main(argv)
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # --help or a bad argument
        return int(exc.code or 0)
    sinks: list[TextIO] = []
    opened: list[TextIO] = []
    if sys.stdout is not None:
        sinks.append(sys.stdout)
    targets = [Path(args.output)] if args.output else []
    if sys.stdout is None:
        targets.append(fallback_output_path())
    for target in targets:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fh = open(target, "w", encoding="utf-8")
        except OSError as exc:
            log.warning("self-test cannot write %s: %s", target, exc)
            continue
        sinks.append(fh)
        opened.append(fh)
    report = Report(sinks)
    t0 = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="inspector-selftest-"))
    try:
        test = SelfTest(args, report, workdir)
        test.run("engine", test.check_engine)
        test.run("config", test.check_config, needs=("engine",))
        test.run("sign_in", test.check_sign_in)
        test.run("device", test.check_device, needs=("engine",))
        weights_ok = test.run("weights", test.check_weights, needs=("engine",))
        if not weights_ok and "engine" in test.state:
            test.state["weights"] = "backbone" in test.state  # random fallback: still run the rest
        test.run("runtime", test.check_runtime, needs=("weights",))
        test.run("fit", test.check_fit, needs=("weights",))
        test.run("infer", test.check_infer, needs=("fit",))
        test.run("defect_scores", test.check_defect_scores, needs=("infer",))
        test.run("calibrate", test.check_calibrate, needs=("infer",))
        test.run("reload", test.check_reload, needs=("calibrate",))
        test.run("service", test.check_service, needs=("calibrate",))
        test.run("faiss_roundtrip", test.check_faiss, needs=("infer",))
        test.run("heatmap", test.check_heatmap, needs=("infer",))
        seconds = time.perf_counter() - t0
        if args.keep:
            report.line(f"project kept in {workdir / 'project'}")
        return report.verdict(seconds)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        for fh in opened:
            fh.close()


if __name__ == "__main__":
    sys.exit(main())
