"""int8 against fp32 on CPUs without bf16, approximated on this one: the backbone's time with oneDNN's ISA capped.

Most inspection PCs have no native bf16, and there the choice is int8 or fp32. This machine has AMX, so each ISA
in --isas is a child process with ONEDNN_MAX_CPU_ISA set (AVX512_CORE_VNNI: an AVX-512 CPU with VNNI and no
bf16; AVX2_VNNI: a desktop CPU with AVX-VNNI; AVX2: one without VNNI; ALL: this CPU as it is). The cap stops
oneDNN and the CPU plugin's own kernels from using the newer instructions; the cores, caches and clock stay this
machine's, so the ratios are the figures to read, not the milliseconds.

The parent builds the fp32 IR (EfficientNet-Lite0 at 224 px with the eval's few-shot stages, or --backbone),
quantises it with each int8 recipe on the first --n-fit images of --images (as a fit with `precision: int8`
does), and measures each int8 IR's mean patch-feature cosine to fp32 on those images (uncapped). Each child
compiles the IRs with the f32 hint and times them interleaved at batch 1 over --rounds images.

Recipes: `first-convs` leaves the first two convolutions in float (the recipe until the seventeenth session);
`depthwise` (today's on a CPU with VNNI) leaves every depthwise convolution in float too; `depthwise-half` is
that with the weights in half their range (7 bits), today's on a CPU without VNNI (ovr.int8_weight_range). The
cosines are this machine's: on a CPU without VNNI the full range saturates, so run it on the CPU in question.

    python bench/bench_int8_isa.py --images ../shared/data/mvtec_bottle/train/good --json OUT.json

Prints figures; never passes or fails on them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RECIPES = ("first-convs", "depthwise", "depthwise-half")
ISAS = ("ALL", "AVX512_CORE_VNNI", "AVX2_VNNI", "AVX2")


def build(args, folder: Path) -> dict:
    """The fp32 IR and one int8 IR per recipe in `folder`, the calibration images, and each recipe's cosine."""
    import openvino as ov

    from inference import load_image
    from inference import openvino_runtime as ovr
    from inference.backbone import Backbone
    from inference.preprocess import stack_inputs
    from inspector_eval.ours import OursMethod, eval_config

    config = OursMethod("ours", eval_config(None)).config_for(args.n_fit)
    if args.backbone:
        config = config.replace(backbone=args.backbone, input_size=args.input_size, weights=args.weights)
    backbone = Backbone(config.replace(runtime="openvino", precision="fp32"))
    paths = sorted(p for p in Path(args.images).iterdir() if p.is_file())[:args.n_fit]
    images = stack_inputs([load_image(p) for p in paths], config.input_size)
    np.save(folder / "images.npy", images)
    fp32_xml = backbone.openvino_ir()
    ov.save_model(ov.Core().read_model(str(fp32_xml)), str(folder / "fp32.xml"), compress_to_fp16=False)
    batches = [images[i:i + config.batch_size] for i in range(0, len(images), config.batch_size)]
    reference = ovr.CompiledGrid(fp32_xml, "fp32")
    # The operation types each recipe leaves in float: today's, and today's without the depthwise convolutions.
    today = ovr.FLOAT_TYPES
    recipes = {"first-convs": tuple(t for t in today if t != "GroupConvolution"), "depthwise": today,
               "depthwise-half": today}
    cosines = {}
    for name in RECIPES:
        ovr.FLOAT_TYPES = recipes[name]
        weight_range = "half" if name.endswith("-half") else "full"
        ov.save_model(ovr.quantize_int8(fp32_xml, batches, weight_range), str(folder / f"{name}.xml"),
                      compress_to_fp16=False)
        grid = ovr.CompiledGrid(folder / f"{name}.xml", "fp32")
        cosines[name] = round(ovr.mean_cosine(np.concatenate([grid(b) for b in batches]),
                                              np.concatenate([reference(b) for b in batches])), 6)
    ovr.FLOAT_TYPES = today
    return {"backbone": config.backbone, "input_size": config.input_size, "cnn_layers": list(config.cnn_layers),
            "images": len(images), "cosine_to_fp32": cosines}


def child(folder: Path, rounds: int) -> dict:
    """Median ms per IR, compiled with the f32 hint under this process's ISA cap, interleaved at batch 1."""
    import openvino as ov

    core = ov.Core()
    images = np.load(folder / "images.npy")
    requests, out = {}, {}
    for name in ("fp32", *RECIPES):
        try:
            compiled = core.compile_model(core.read_model(str(folder / f"{name}.xml")), "CPU",
                                          {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"})
            requests[name] = compiled.create_infer_request()
            requests[name].infer({0: images[:1]})  # the first call compiles the kernels
        except Exception as exc:  # a recipe that cannot compile under this cap is a figure too
            out[name] = f"failed: {type(exc).__name__}: {str(exc)[:200]}"
    times = {name: [] for name in requests}
    for i in range(rounds):
        x = images[i % len(images)][None]
        for name, request in requests.items():
            t = time.perf_counter()
            request.infer({0: x})
            times[name].append((time.perf_counter() - t) * 1e3)
    out.update({name: round(statistics.median(v), 3) for name, v in times.items()})
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=Path, default=ROOT.parent / "shared" / "data" / "mvtec_bottle" / "train" / "good")
    p.add_argument("--n-fit", type=int, default=16, help="calibration images, the eval's few-shot policy for them")
    p.add_argument("--rounds", type=int, default=300)
    p.add_argument("--isas", default=",".join(ISAS))
    p.add_argument("--backbone", help="another backbone (default: the eval's EfficientNet-Lite0)")
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument("--weights", default="auto")
    p.add_argument("--json", type=Path)
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.rounds)))
        return 0
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        out = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), **build(args, folder), "isas": {}}
        print(json.dumps({k: v for k, v in out.items() if k != "isas"}), flush=True)
        for isa in args.isas.split(","):
            env = dict(os.environ)
            env.pop("ONEDNN_MAX_CPU_ISA", None)
            if isa != "ALL":
                env["ONEDNN_MAX_CPU_ISA"] = isa
            run = subprocess.run([sys.executable, __file__, "--child", str(folder), "--rounds", str(args.rounds)],
                                 env=env, capture_output=True, text=True)
            row = (json.loads(run.stdout.strip().splitlines()[-1]) if run.returncode == 0
                   else {"error": run.stderr[-400:]})
            row["load_average"] = [round(v, 1) for v in os.getloadavg()]
            out["isas"][isa] = row
            print(isa, json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
