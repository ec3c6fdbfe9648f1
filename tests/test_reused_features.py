"""Features embedded once for several models of one feature definition (inference.reusing_features): what
`inspector rescore` does for two versions of a project. The scores stay each model's own, only the thread that
opened the scope reuses, and a backbone computing otherwise (another precision) never gets another's features."""

import threading

import numpy as np
import pytest

from inference import Backbone, Engine, reusing_features
from inference.features import embed_batch
from inference.synthetic import disc, write_discs
from station import Station
from station.rescore import Item, image_key, score_items


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_config):
    """v1 the fit, v2 its calibration (active), v3 the same fit calibrated lower: two versions to compare, one
    feature definition."""
    root = tmp_path_factory.mktemp("reused")
    st = Station(root / "p", Engine(tiny_config))
    st.teach(write_discs(root / "teach", range(6)))
    ok = write_discs(root / "cal", range(20, 26))
    st.calibrate(ok)
    st.calibrate(ok, version="v1", score_percentile=50, activate=False)
    st.close()
    parts = write_discs(root / "parts", range(100, 105)) + write_discs(root / "parts", range(200, 202), scratch=True)
    return root / "p", parts


@pytest.fixture()
def embedded(monkeypatch):
    """The number of images each call of Backbone.embed (the network) was given, once the backbone is built (its
    construction embeds one black image to learn the grid's shape)."""
    calls: list[int] = []
    real = Backbone.embed

    def counted(self, images):
        if hasattr(self, "token_shape"):
            calls.append(len(images))
        return real(self, images)

    monkeypatch.setattr(Backbone, "embed", counted)
    return calls


def test_two_versions_embed_each_image_once_and_score_as_each_alone(project, tiny_config, embedded):
    path, parts = project
    st = Station(path, Engine(tiny_config), record=False)
    models = {v: st.model(v) for v in ("v2", "v3")}
    assert models["v2"].backbone is models["v3"].backbone  # one feature definition: one backbone object
    assert models["v2"].calibration.threshold != models["v3"].calibration.threshold
    alone = {v: list(st.inspect(parts, model=m, record=False)) for v, m in models.items()}
    assert sum(embedded) == 2 * len(parts)
    embedded.clear()
    with reusing_features():
        shared = {v: list(st.inspect(parts, model=m, record=False)) for v, m in models.items()}
    assert sum(embedded) == len(parts)  # the second version reused the first one's features
    for v in models:
        for a, b in zip(alone[v], shared[v]):
            assert (a.score, a.verdict) == (b.score, b.verdict)
            np.testing.assert_array_equal(a.result.anomaly_map, b.result.anomaly_map)
    embedded.clear()
    with reusing_features():  # other images (another ROI would give other crops too): embedded, not reused
        list(st.inspect(parts[:2], model=models["v2"], record=False))
        list(st.inspect(parts[2:4], model=models["v3"], record=False))
    assert sum(embedded) == 4


def test_rescore_rows_embed_each_image_once(project, tiny_config, embedded):
    path, parts = project
    items = [Item(str(p), image_key(p)) for p in parts]
    rows = score_items(path, ["v2", "v3"], items, tiny_config, batch=tiny_config.batch_size)
    assert len(rows) == 2 * len(parts) and sum(embedded) == len(parts)
    st = Station(path, Engine(tiny_config), record=False)
    for v in ("v2", "v3"):
        want = [o.score for o in st.inspect(parts, model=st.model(v), record=False)]
        assert [r["score"] for r in rows if r["version"] == v] == want


def test_only_the_scope_thread_and_the_same_backbone_reuse(tiny_config, embedded):
    backbone = Backbone(tiny_config)
    other = backbone.with_precision("fp32" if backbone.precision_name != "fp32" else "bf16")
    crops = [disc(i, size=112)[0] for i in range(3)]
    embedded.clear()
    with reusing_features():
        first = embed_batch(backbone, crops)
        assert embed_batch(backbone, crops) is first and sum(embedded) == 3
        assert not first.flags.writeable  # shared: nobody may change it for the others
        embed_batch(other, crops)  # another precision: its own features
        assert sum(embedded) == 6
        worker = threading.Thread(target=embed_batch, args=(backbone, crops))
        worker.start()
        worker.join()
        assert sum(embedded) == 9  # another thread never sees this scope
        with reusing_features():  # nested: the outer scope's memory
            assert embed_batch(backbone, crops) is first
    embed_batch(backbone, crops)  # after the scope: embedded again
    assert sum(embedded) == 12
