"""Tried (fourteenth session, docs/benchmarks.md, issue 25): other anomaly maps, drawn from the same patch
distances, each both scored and shown (one map), through `inspector eval`.

KIND=guided (rejected): the map upsampled with the crop itself as a guide (He et al.'s guided filter), so that
its edges follow the part's grey-level edges instead of the patch grid's. R: the filter's radius in input pixels;
EPS: its regularisation on grey levels in [0, 1] (larger follows only stronger edges); WHERE=before|after: the
filter before or after the Gaussian.

KIND=unsharp: m + A * (m - G(m)), G a Gaussian of sigma S input pixels (at 224 px). It led to the engine's
`surround_sigma`, which shows this map but keeps the image score on the smoothed map; scoring from it too (this
script's default) cost visa_fryum image AUROC and was rejected.

    KIND=unsharp A=1 S=48 python bench/try_guided_map.py ../shared/data --categories l4v_cookie \
        mpdd_metal_plate mvtec_screw ksdd mvtec_bottle visa_fryum --shots 1,2,4,8,16 --methods ours --json OUT

Takes `inspector eval`'s arguments; the script's map replaces the engine's (its surround_sigma included).
MAPONLY=1 keeps the image score from the plain map. Uses engine internals: a bench script, not a client.
"""
import os
import sys
import threading
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import inference.inspection as inspection  # noqa: E402
import inference.scoring as scoring  # noqa: E402
from inspector_eval.cli import main  # noqa: E402

R = int(os.environ.get("R", "8"))
EPS = float(os.environ.get("EPS", "0.01"))
WHERE = os.environ.get("WHERE", "before")
KIND = os.environ.get("KIND", "guided")  # guided | unsharp (m + A * (m - Gaussian(m, S))): halo suppression
A = float(os.environ.get("A", "1.0"))
S = float(os.environ.get("S", "8"))
MAPONLY = os.environ.get("MAPONLY", "0") == "1"
plain_map = scoring.anomaly_map
plain_score = inspection.score_prepared
current = threading.local()


def guided(guide: np.ndarray, p: np.ndarray) -> np.ndarray:
    if KIND == "unsharp":
        wide = cv2.GaussianBlur(p, (0, 0), sigmaX=S * p.shape[1] / 224, sigmaY=S * p.shape[0] / 224,
                                borderType=cv2.BORDER_REFLECT)
        return p + A * (p - wide)
    box = (2 * R + 1, 2 * R + 1)
    mean = lambda x: cv2.boxFilter(x, cv2.CV_32F, box, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    mi, mp = mean(guide), mean(p)
    var = mean(guide * guide) - mi * mi
    cov = mean(guide * p) - mi * mp
    a = cov / (var + EPS)
    b = mp - a * mi
    return mean(a) * guide + mean(b)


def guided_map(patch_scores, out_h, out_w, input_size, sigma, at="box", surround=0.0):
    crop = getattr(current, "crop", None)
    if crop is None:
        return plain_map(patch_scores, out_h, out_w, input_size, sigma, at, surround)
    h, w = min(out_h, input_size), min(out_w, input_size)
    grey = cv2.cvtColor(cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    grey = grey.astype(np.float32) / 255.0
    m = cv2.resize(patch_scores.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    if WHERE == "before":
        m = guided(grey, m)
    if sigma > 0:
        m = cv2.GaussianBlur(m, (0, 0), sigmaX=max(sigma * w / input_size, 0.1),
                             sigmaY=max(sigma * h / input_size, 0.1), borderType=cv2.BORDER_REFLECT)
    if WHERE == "after":
        m = guided(grey, m)
    m = np.maximum(m, 0.0)
    m = cv2.resize(m, (out_w, out_h), interpolation=cv2.INTER_LINEAR) if (h, w) != (out_h, out_w) else m
    return scoring.AnomalyMaps(m, m)  # one map, scored and shown


def score_with_guide(model, p, feats, threshold):
    current.crop = p.crop.pixels
    try:
        result = plain_score(model, p, feats, threshold)
    finally:
        current.crop = None
    if MAPONLY:
        current.crop = None
        plain = plain_score(model, p, feats, threshold)
        result.score = plain.score
    return result


inspection.anomaly_map = guided_map
inspection.score_prepared = score_with_guide
for name, module in list(sys.modules.items()):
    if name.startswith(("inference", "inspector_eval")) and getattr(module, "score_prepared", None) is plain_score:
        module.score_prepared = score_with_guide

if __name__ == "__main__":
    sys.exit(main())
