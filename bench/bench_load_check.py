"""What the load-time precision check costs (inference/precision_gate.at_load): a model fitted with the fit's check
switched off (as on a CPU without bf16), loaded twice on this machine: the first load measures, the next reads
the cached result. Prints seconds per load, the cosine and the precision the model inspects in.

    python bench/bench_load_check.py ../shared/data/mvtec_bottle/train/good
"""
import os, sys, time, tempfile, glob
from pathlib import Path
os.environ["PATCHCORE_OPENVINO_CACHE"] = tempfile.mkdtemp()
import cv2
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import inference.precision_gate as gate
from inference import Engine, EngineConfig
fs = sorted(glob.glob(str(Path(sys.argv[1]) / "*")))[:16]
imgs = [cv2.imread(f)[:, :, ::-1] for f in fs]
for name, cfg in [("lite0-224", EngineConfig(backbone="efficientnet_lite0", weights="auto", input_size=224, coreset_ratio=0.1)),
                  ("dinov2-448", EngineConfig(backbone="dinov2_vits14", weights="none", input_size=448, coreset_ratio=0.1))]:
    folder = tempfile.mkdtemp() + "/p"
    real = gate.measure
    gate.measure = lambda *a, **k: {}
    Engine(cfg).fit(folder, imgs)
    gate.measure = real
    e = Engine(cfg); e.load(folder)  # networks built / compiled, check measured
    for attempt in ("first load here (measures)", "next load (cached)"):
        if attempt.startswith("first"):
            for f in glob.glob(os.environ["PATCHCORE_OPENVINO_CACHE"] + "/precision-checks/*"):
                os.remove(f)
        t = time.perf_counter(); m = e.load(folder); dt = time.perf_counter() - t
        print(name, attempt, f"{dt:.2f} s", m.precision_check.get("cosine"), m.backbone.precision_name, flush=True)
