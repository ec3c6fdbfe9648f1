"""Tried and rejected (twelfth session, docs/benchmarks.md, issue 25): the anomaly map from the same nearest
neighbour as the image score, with the stages weighted differently in the map.

The search and the image score keep the features as they are (EfficientNet-Lite0 stages 2, 3 and 4, the stride-32
stage at 0.7: the eval's few-shot policy). Each patch's squared distance to its nearest bank vector splits by
channel into one share per stage; the map is drawn from sqrt(A2 * stage 2 + stage 3 + A4 * stage 4) instead, so
the finer stage shapes the map without moving the score or the search. Does mvtec_bottle's AUPRO come back
without the image AUROC that weighting stage 2 up in the search cost (ninth session)?

    A2=2.79 A4=1 RESCALE=0 python bench/try_map_stage_split.py ../shared/data --categories l4v_cookie \
        mpdd_metal_plate mvtec_screw ksdd mvtec_bottle visa_fryum --shots 1,2,4,8,16 --methods ours --json OUT

Takes `inspector eval`'s arguments. RESCALE=1 scales each image's map so that its peak is the image score (one
map for score and regions, as the verdict rule needs); RESCALE=0 leaves the map on its own scale (a second
threshold would be needed). ALLFINE=1 takes the image score from the re-weighted map too. Only fits whose
features are Lite0's stages 2-4 (472 channels) are changed. Uses engine internals: a bench script, not a client.
"""
import dataclasses
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import inference.engine as engine  # noqa: E402
import inference.inspection as inspection  # noqa: E402
from inference.knn import _flat_and_transform  # noqa: E402
from inspector_eval.cli import main  # noqa: E402

A2 = float(os.environ.get("A2", "2.79"))
A4 = float(os.environ.get("A4", "1.0"))
RESCALE = os.environ.get("RESCALE", "1") == "1"
ALLFINE = os.environ.get("ALLFINE", "0") == "1"
STAGE_CHANNELS = (40, 112, 320)  # EfficientNet-Lite0 stages 2, 3, 4
original = inspection.score_prepared
banks: dict = {}


class GivenDistances:
    """A searcher that answers with distances already computed (the support weight still asks the real one)."""

    def __init__(self, searcher, distances):
        self.searcher, self.given = searcher, distances

    def distances(self, queries, k=1):
        return self.given

    def support_weight(self, *args, **kwargs):
        return self.searcher.support_weight(*args, **kwargs)


def split_map(model, p, feats, threshold):
    c, h, w = feats.shape
    if c != sum(STAGE_CHANNELS):
        return original(model, p, feats, threshold)
    queries = np.ascontiguousarray(feats.reshape(c, -1).T)
    full, nearest = model.searcher.search(queries, 1)
    key = id(model.searcher)
    if key not in banks:
        flat, transform = _flat_and_transform(model.searcher.cpu_index)
        assert transform is None, "euclidean features only"
        banks.clear()
        banks[key] = flat.reconstruct_n(0, flat.ntotal)
    sq = (queries - banks[key][nearest]) ** 2
    s2, s3 = STAGE_CHANNELS[0], STAGE_CHANNELS[0] + STAGE_CHANNELS[1]
    split = np.sqrt(A2 * sq[:, :s2].sum(1) + sq[:, s2:s3].sum(1) + A4 * sq[:, s3:].sum(1))
    scored = original(dataclasses.replace(model, searcher=GivenDistances(model.searcher, full)), p, feats, threshold)
    drawn = original(dataclasses.replace(model, searcher=GivenDistances(model.searcher, split)), p, feats, threshold)
    if ALLFINE:
        return drawn
    m = drawn.anomaly_map
    if RESCALE:
        peak = float(m[drawn.mask].max()) if drawn.mask.any() else 0.0
        m = m * (scored.score / peak if peak > 0 else 1.0)
    scored.anomaly_map = m.astype(np.float32)
    return scored


inspection.score_prepared = split_map
engine.score_prepared = split_map
if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
