"""`inspector eval DATASET_ROOT ...`: quality and speed on MVTec-layout folders, ours vs anomalib PatchCore.

Run as ``python -m inspector_eval.cli DATASET_ROOT ...`` until the
`inspector` command forwards ``eval`` here (main(argv) -> exit code).
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from . import report, runner
from .dataset import CALIBRATION_DEFAULT, find_categories, parse_shots

METHODS = ("ours", "anomalib", "dinov2")
# CI mode: the set where the defaults matter most (visa_fryum: the few-shot turned / mirrored copies lift
# image AUROC at 1 shot by about 0.15 over a plain fit, docs/benchmarks.md), at 1 shot (few-shot policy)
# and 16 (plain fit).
QUICK_CATEGORY = "visa_fryum"
QUICK_SHOTS = ["1", "16"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="inspector eval",
        description="Image/pixel AUROC, AUPRO, calibrated F1/FAR/FRR, fit and inference speed and memory on "
                    "MVTec-layout data sets, for our engine and (when installed) anomalib's PatchCore.",
    )
    p.add_argument("root", type=Path, help="a category folder (train/good, test/...) or a folder of them")
    p.add_argument("--categories", nargs="+", default=None, help="category folder names (space or comma separated)")
    p.add_argument("--shots", default="1,2,4,8,16,all", help="OK images taught, e.g. 1,2,4,8,16,all")
    p.add_argument("--config", type=Path, default=None, help="YAML engine settings for our method (config.yaml format)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting over --config for our method (repeatable), e.g. --set part_symmetry=turns")
    p.add_argument("--methods", default="ours,anomalib,dinov2",
                   help="comma list of: ours, anomalib (peer PatchCore), dinov2 (our DINOv2 ViT-S/14, speed only)")
    p.add_argument("--input-size", type=int, default=None, help="override input_size for every method (default 224)")
    p.add_argument("--coreset-ratio", type=float, default=None, help="override coreset_ratio for every method (default 0.1)")
    p.add_argument("--calibration-images", type=int, default=CALIBRATION_DEFAULT,
                   help="train/good images held out of the shot pool to set the threshold (default 10)")
    p.add_argument("--calibration-ng", type=int, default=runner.CALIBRATION_NG_DEFAULT,
                   help="defect test images that also set the OK+NG thresholds of the operating point (default 5; "
                        "its FRR / FAR count the other test images)")
    p.add_argument("--pixel-size", type=int, default=runner.PIXEL_SIZE_DEFAULT,
                   help="square resolution for pixel metrics, same for every method (default 128)")
    p.add_argument("--no-few-shot-augment", action="store_true",
                   help="never apply our few-shot policy (default, when <= 16 OK images: mirrored copies, and the "
                        "CNN's stride-32 stage where the config leaves the stages at the default)")
    p.add_argument("--peer-stages", default=None, metavar="2,3,4",
                   help="the backbone stages the anomalib peer reads (default: anomalib's own, 2 and 3: PatchCore's "
                        "layer2 and layer3)")
    p.add_argument("--seed", type=int, default=0, help="seed for shot subsets and coresets (default 0)")
    p.add_argument("--max-test", type=int, default=None, metavar="N",
                   help="score at most N test images per category, evenly spread over the sorted list "
                   "(bounded runs on a busy machine; default: all)")
    p.add_argument("--json", type=Path, default=None, help="write every figure (and per-image scores) here")
    p.add_argument("--markdown", type=Path, default=None, help="write the tables here too")
    p.add_argument("--plot", type=Path, default=None, help="PNG of image AUROC against shots")
    p.add_argument("--quick", action="store_true", help="CI mode: one category (visa_fryum if present), 1 and 16 shots, ours only")
    return p


def _split_list(values) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


# What the anomalib peer takes from our config: the backbone and what feeds it, and the coreset's size and seed.
# Not the feature stages: which stages to take is part of each method; the peer keeps anomalib's own default
# (PatchCore's layer2 and layer3: EfficientNet-Lite's stages 2 and 3, peer_anomalib.ANOMALIB_STAGES).
PEER_SHARED_KEYS = ("backbone", "weights", "input_size", "coreset_ratio", "seed", "batch_size", "use_gpu")


def build_methods(names: list[str], args) -> tuple[list, dict]:
    from .ours import DINOV2_SPEED, OursMethod, eval_config

    from inference import parse_settings

    overrides = {"input_size": args.input_size, "coreset_ratio": args.coreset_ratio, "seed": args.seed}
    # --set is ours: the peer takes only the shared keys from it (below), as from --config.
    base = eval_config(args.config, {**overrides, **parse_settings(getattr(args, "set", ()))})
    methods: list = []
    info: dict = {}
    if "ours" in names:
        methods.append(OursMethod("ours", base, note=f"our engine, {base.backbone}",
                                  few_shot_augment=not args.no_few_shot_augment))
    if "anomalib" in names:
        from .peer_anomalib import ANOMALIB_STAGES, AnomalibPatchcore, anomalib_version

        version = anomalib_version()
        if version is not None:
            # The peer gets the shared setting (the backbone and what feeds it, from --config too, so that a
            # backbone named there is compared with anomalib on the same one), never our own ingredients.
            shared = eval_config(None, overrides).replace(**{k: getattr(base, k) for k in PEER_SHARED_KEYS})
            stages = getattr(args, "peer_stages", None) or ANOMALIB_STAGES  # main parsed --peer-stages
            methods.append(AnomalibPatchcore(shared.replace(cnn_layers=tuple(stages), cnn_stage_weights={})))
            info["anomalib_version"] = version
    if "dinov2" in names:
        cfg = base.replace(**DINOV2_SPEED, cnn_layers=(2, 3))
        methods.append(OursMethod("ours-dinov2", cfg, quality_meaningful=False,
                                  note="DINOv2 ViT-S/14 with RANDOM weights: speed only, quality not meaningful",
                                  few_shot_augment=not args.no_few_shot_augment))
    return methods, info


def machine() -> dict:
    import torch

    from inference import cpu_bf16_flags

    info = {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "cpu": platform.processor() or platform.machine(), "torch_threads": torch.get_num_threads()}
    try:
        import os

        info["cpu_count"] = os.cpu_count()
        with open("/proc/cpuinfo") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        if names:
            info["cpu"] = names[0]
    except OSError:
        pass
    # Which bf16 hardware the CPU has: AMX makes bf16 matrix products several times faster than
    # AVX-512 BF16 alone, so two "2-core" machines' latencies are comparable only with it.
    info["cpu_bf16"] = cpu_bf16_flags() or []
    info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return info


def main(argv: Optional[list[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        shots = QUICK_SHOTS if args.quick else parse_shots(args.shots)
        names = ["ours"] if args.quick else _split_list([args.methods])
        unknown = sorted(set(names) - set(METHODS))
        if unknown:
            raise ValueError(f"unknown method(s) {unknown}; choose from {list(METHODS)}")
        dirs = find_categories(args.root, _split_list(args.categories) or None)
        try:
            args.peer_stages = tuple(int(i) for i in _split_list([args.peer_stages or ""])) or None
        except ValueError:
            raise ValueError(f"--peer-stages must be stage indices such as 2,3,4, got {args.peer_stages!r}") from None
        if args.quick:
            # The CI guard's category when the caller names none.
            dirs = [next((d for d in dirs if d.name == QUICK_CATEGORY), dirs[0])]
    except (ValueError, FileNotFoundError) as exc:
        print(f"inspector eval: {exc}", file=sys.stderr)
        return 2
    from inference import ConfigError, InspectorError

    runner.return_freed_memory_to_system()
    try:
        try:
            methods, info = build_methods(names, args)
        except ConfigError as exc:  # a setting in --config or on the command line: bad input
            print(f"inspector eval: {exc}", file=sys.stderr)
            return 2
        if not methods:
            print("inspector eval: no method to run", file=sys.stderr)
            return 2
        started = time.perf_counter()
        meta = {
            "command": "inspector eval " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": machine(), "categories": [d.name for d in dirs], "shots": shots, "seed": args.seed,
            "calibration_images": args.calibration_images, "calibration_ng": args.calibration_ng, "pixel_size": args.pixel_size, "max_test": args.max_test,
            "methods": [m.describe() for m in methods], **info,
        }
        ours = next((m for m in methods if m.name == "ours"), None)
        peer = next((m for m in methods if m.name == "anomalib"), None)
        if ours is not None and peer is not None:
            from .dataset import load_images, read_category

            cat = read_category(dirs[0])
            meta["backbone_parity"] = runner.backbone_parity(ours, peer, load_images(cat.train_good[:2]),
                                                             ours.config.input_size)
            runner._log(f"backbone parity ours vs anomalib: {meta['backbone_parity']}")
        failures: list = []
        meta["failures"] = failures

        finished: list = []

        def save_so_far(record: dict) -> None:
            # After every (category, shots, method): a crash or a kill later keeps what is finished.
            finished.append(record)
            meta["seconds"] = round(time.perf_counter() - started, 1)
            write_outputs(args, {"meta": meta, "records": finished}, final=False)

        records = runner.run(dirs, shots, methods, args.seed, args.calibration_images, args.pixel_size,
                             on_record=save_so_far, failures=failures, max_test=args.max_test,
                             n_calibration_ng=args.calibration_ng)
        meta["seconds"] = round(time.perf_counter() - started, 1)
    except InspectorError as exc:
        print(f"inspector eval: {exc}", file=sys.stderr)
        return 1
    result = {"meta": meta, "records": records}
    print(write_outputs(args, result, final=True))
    if args.plot is not None and records:
        report.plot(result, args.plot)
    if failures:
        print(f"inspector eval: {len(failures)} categor{'y' if len(failures) == 1 else 'ies'} could not run: "
              + ", ".join(f["category"] for f in failures), file=sys.stderr)
    return 1 if failures and not records else 0


def write_outputs(args, result: dict, final: bool) -> str:
    """The JSON and markdown files (atomically: a kill mid-write leaves the previous version); the text."""
    text = report.markdown(result)
    if not final:
        result = {**result, "meta": {**result["meta"], "partial": True}}
    for path, content in ((args.json, lambda: json.dumps(result, indent=1)), (args.markdown, lambda: text)):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(content(), encoding="utf-8")
            tmp.replace(path)
    return text


if __name__ == "__main__":
    sys.exit(main())
