"""bench/bench_runtime_fidelity.py with more of int8's first convolutions kept in float (rejected, fifteenth session).

    FLOAT_CONVS=9 PATCHCORE_OPENVINO_CACHE=/tmp/ovc_f9 python bench/try_int8_float_convs.py \
        --categories ksdd visa_fryum --shots 1,4,16 --max-test 0 --json OUT.json

FLOAT_CONVS replaces inference.openvino_runtime.FLOAT_FIRST_CONVS (2) for the run; give each value its own
PATCHCORE_OPENVINO_CACHE, since the int8 IR's cache key does not hold it. Figures in docs/benchmarks.md (issue 21).
"""

import os
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import inference.openvino_runtime as ovr  # noqa: E402

ovr.FLOAT_FIRST_CONVS = int(os.environ["FLOAT_CONVS"])
sys.argv = ["bench_runtime_fidelity.py", *sys.argv[1:]]
runpy.run_path(str(ROOT / "bench" / "bench_runtime_fidelity.py"), run_name="__main__")
