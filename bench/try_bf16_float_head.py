"""Tried and rejected (thirteenth session, docs/benchmarks.md, issue 21): the network's first layers in fp32 and the
rest in bf16, so that bf16's error from the full-resolution layers goes away.

OpenVINO's CPU plugin ignores per-layer float marks under the bf16 hint (sixth session), so the fp32 IR is cut in two
at the output of one operation: the head is compiled with the f32 hint, the tail with bf16, and an image goes
through both. Two uses:

    python bench/try_bf16_float_head.py features IR_XML SET...   # cosine to fp32 per cut, and the backbone's time
    FLOAT_HEAD=blocks.0 python bench/try_bf16_float_head.py fidelity --shots 1,2,4,8,16 --max-test 0 --no-int8 \\
        --json OUT                                              # bench_runtime_fidelity.py with the cut

IR_XML is a cached EfficientNet-Lite0 IR (the OpenVINO cache folder's `*/features.xml`; its key.json names the
stages). SET names folders under ../shared/data (their first 16 `train/good` images). The cut is named by the timm
module whose output ends the head (`stem`: the stem convolution's activation, `blocks.0`, `blocks.1`); the
module path is read from the IR's operation names. Uses a runtime internal: a bench script, not a client.
"""
import glob
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import inference.openvino_runtime as ovr  # noqa: E402

CUTS = {"stem": "__module.net.bn1.act", "blocks.0": "__module.net.blocks.0.", "blocks.1": "__module.net.blocks.1."}


def _last_op(model, prefix: str):
    ops = [o for o in model.get_ordered_ops() if o.get_friendly_name().startswith(prefix)]
    if not ops:
        raise SystemExit(f"no operation named {prefix}* in this IR")
    return ops[-1]


def split(xml: str, cut: str, threads: int = 0):
    """(head, tail) compiled: the head up to the cut's output in f32, the rest in bf16."""
    import openvino as ov

    core = ov.Core()
    config = {"PERFORMANCE_HINT": "LATENCY", **({"INFERENCE_NUM_THREADS": threads} if threads else {})}
    head_model = core.read_model(xml)
    out = _last_op(head_model, CUTS[cut]).output(0)
    head = ov.Model([ov.opset13.result(out)], head_model.get_parameters(), "head")
    tail_model = core.read_model(xml)
    out = _last_op(tail_model, CUTS[cut]).output(0)
    middle = ov.opset13.parameter(out.get_partial_shape(), out.get_element_type(), "middle")
    for target in list(out.get_target_inputs()):
        target.replace_source_output(middle.output(0))
    tail = ov.Model(tail_model.get_results(), [middle], "tail")
    return (core.compile_model(head, "CPU", {**config, "INFERENCE_PRECISION_HINT": "f32"}),
            core.compile_model(tail, "CPU", {**config, "INFERENCE_PRECISION_HINT": "bf16"}))


class SplitGrid:
    """Called like ovr.CompiledGrid: uint8 images in, float32 features out."""

    def __init__(self, xml, cut: str, threads: int = 0):
        self.xml, self.precision = Path(xml), "bf16"
        self.head, self.tail = split(str(xml), cut, threads)
        self._head, self._tail = self.head.create_infer_request(), self.tail.create_infer_request()

    def __call__(self, images: np.ndarray) -> np.ndarray:
        middle = self._head.infer({0: np.ascontiguousarray(images, dtype=np.uint8)})[self.head.output(0)]
        return np.array(self._tail.infer({0: middle})[self.tail.output(0)], dtype=np.float32, copy=True)


def features(xml: str, sets: list[str]) -> None:
    whole = {p: ovr.CompiledGrid(xml, p) for p in ("fp32", "bf16")}
    grids = {"bf16": whole["bf16"], **{c: SplitGrid(xml, c) for c in CUTS}}
    size = int(whole["fp32"].compiled.input(0).get_partial_shape()[1].get_length())
    for name in sets:
        files = sorted(glob.glob(str(ROOT.parent / "shared" / "data" / name / "train" / "good" / "*")))[:16]
        images = [cv2.resize(cv2.cvtColor(cv2.imread(f), cv2.COLOR_BGR2RGB), (size, size),
                             interpolation=cv2.INTER_AREA)[None] for f in files]
        reference = [whole["fp32"](x) for x in images]
        cosines = {k: round(float(np.mean([ovr.mean_cosine(g(x), r) for x, r in zip(images, reference)])), 5)
                   for k, g in grids.items()}
        print(name, cosines, flush=True)
    times = {k: [] for k in ("fp32", *grids)}
    timed = {"fp32": whole["fp32"], **grids}
    for _ in range(300):  # interleaved, so a load that moves hits every variant alike
        for k, g in timed.items():
            t = time.perf_counter()
            g(images[0])
            times[k].append((time.perf_counter() - t) * 1000)
    print("backbone ms, median:", {k: round(float(np.median(v[20:])), 2) for k, v in times.items()})


def fidelity(argv: list[str]) -> int:
    cut = os.environ.get("FLOAT_HEAD", "blocks.0")
    original = ovr.CompiledGrid

    def compiled_grid(xml, precision="fp32", threads=0):
        if precision == "bf16":
            return SplitGrid(xml, cut, threads)
        return original(xml, precision, threads)

    ovr.CompiledGrid = compiled_grid
    import bench_runtime_fidelity

    sys.argv = ["bench_runtime_fidelity.py", *argv]
    return bench_runtime_fidelity.main()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "features":
        features(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) > 1 and sys.argv[1] == "fidelity":
        sys.exit(fidelity(sys.argv[2:]))
    else:
        print(__doc__)
        sys.exit(2)
