"""bench/bench_runtime_fidelity.py with other NNCF settings for int8's quantisation (rejected, sixteenth session).

    INT8_RANGES=MINMAX PATCHCORE_OPENVINO_CACHE=/tmp/ovc_minmax python bench/try_int8_nncf_options.py \
        --categories ksdd visa_fryum --shots 1,4,16 --max-test 0 --json OUT.json
    INT8_FLOAT_RESIDUAL=1 PATCHCORE_OPENVINO_CACHE=/tmp/ovc_res python bench/try_int8_nncf_options.py ...
    INT8_CALIBRATION_FLIPS=1 PATCHCORE_OPENVINO_CACHE=/tmp/ovc_flips python bench/try_int8_nncf_options.py ...

INT8_RANGES: one of NNCF's RangeEstimatorParametersSet (MINMAX, HISTOGRAM, MEAN_MINMAX, ...) for the
activations. INT8_FLOAT_RESIDUAL=1: the residual additions (Adds of two computed tensors, where the stage outputs
that become the features are formed) left out of the quantisation as well. INT8_CALIBRATION_FLIPS=1: the
activation ranges estimated on the calibration images and their three flips (4x the images; rejected). Give each
setting its own PATCHCORE_OPENVINO_CACHE, since the int8 IR's cache key does not hold it. Figures in
docs/benchmarks.md (issue 21). The seventeenth session's INT8_FLOAT_DEPTHWISE=1 (every depthwise convolution in
float) became the recipe itself (INT8_RECIPE 3), so the option is gone.
"""

import os
import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import nncf  # noqa: E402
import numpy as np  # noqa: E402
from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters  # noqa: E402
from nncf.quantization.range_estimator import RangeEstimatorParametersSet  # noqa: E402

_quantize = nncf.quantize


def _residual_adds(model) -> list:
    return [op.get_friendly_name() for op in model.get_ordered_ops() if op.get_type_name() == "Add"
            and all(op.input_value(i).get_node().get_type_name() != "Constant" for i in range(2))]


def quantize(model, dataset, **kwargs):
    advanced = {}
    if os.environ.get("INT8_RANGES"):
        advanced["activations_range_estimator_params"] = getattr(RangeEstimatorParametersSet,
                                                                 os.environ["INT8_RANGES"])
    if os.environ.get("INT8_FLOAT_RESIDUAL"):
        scope = kwargs["ignored_scope"]
        kwargs["ignored_scope"] = nncf.IgnoredScope(types=list(scope.types),
                                                    names=list(scope.names) + _residual_adds(model), validate=False)
    if os.environ.get("INT8_CALIBRATION_FLIPS"):
        items = [np.ascontiguousarray(b) for b in dataset.get_inference_data()]
        items += [np.ascontiguousarray(f(b)) for f in (lambda b: b[:, :, ::-1], lambda b: b[:, ::-1],
                                                       lambda b: b[:, ::-1, ::-1]) for b in items]
        dataset, kwargs["subset_size"] = nncf.Dataset(items), len(items)
    kwargs["advanced_parameters"] = AdvancedQuantizationParameters(**advanced)
    return _quantize(model, dataset, **kwargs)


nncf.quantize = quantize
sys.argv = ["bench_runtime_fidelity.py", *sys.argv[1:]]
runpy.run_path(str(ROOT / "bench" / "bench_runtime_fidelity.py"), run_name="__main__")
