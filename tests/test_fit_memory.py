"""A fit that would not fit in memory is refused before it embeds anything; the estimate counts what a fit holds."""

import json

import numpy as np
import pytest

from inference import Engine, InspectorError
from inference import fit_memory
from inference.memory import low_precision
from inference.synthetic import write_discs


def test_the_estimate_counts_the_rows_a_fit_stores_with_its_copies(tmp_path, tiny_config, monkeypatch):
    """The estimate's rows are the bank the fit then stores (each image 4 times with rot90: the copies count)."""
    seen = []
    real = fit_memory.check
    monkeypatch.setattr(fit_memory, "check",
                        lambda need, why, free=None: (seen.append((need, why)), real(need, why, free)))
    images = write_discs(tmp_path / "ok", range(3))
    result = Engine(tiny_config.replace(part_symmetry="rot90")).fit(tmp_path / "proj", images)
    need, why = seen[-1]
    assert (need.n_images, need.copies, need.dim, why) == (3, 4, 384, "part_symmetry rot90")
    assert need.rows == result.n_embeddings == len(np.load(tmp_path / "proj" / "embeddings.npy"))
    assert need.bank_bytes == need.rows * 384 * 4 < need.needed
    assert need.runtime == fit_memory.runtime_bytes(8, 112) > 0  # on the CPU, the network's working memory counts


def test_a_fit_that_would_not_fit_is_refused_before_embedding_and_saves_nothing(tmp_path, tiny_config, monkeypatch):
    images = write_discs(tmp_path / "ok", range(3))
    runtime = fit_memory.runtime_bytes(tiny_config.batch_size, tiny_config.input_size)
    need = fit_memory.estimate([64] * 3, 4, 384, "l2", low_precision("cpu"), runtime=runtime)
    per_image = (need.needed - runtime) / 3
    # Room for the backbone and one and a half such images.
    monkeypatch.setattr(fit_memory, "free_memory",
                        lambda: int((runtime + 1.5 * per_image) / fit_memory.USABLE_SHARE))
    embedded = []
    import inference.features as features

    real_embed = features.embed_batch
    monkeypatch.setattr(features, "embed_batch", lambda *a: (embedded.append(1), real_embed(*a))[1])
    with pytest.raises(InspectorError, match=r"would not fit in memory: 3 OK images x 4 copies \(part_symmetry "
                                             r"rot90\) make 768 patch features .*Teach at most 1 such images"):
        Engine(tiny_config.replace(part_symmetry="rot90")).fit(tmp_path / "proj", images)
    assert not embedded and not (tmp_path / "proj" / "manifest.json").exists()


def test_an_add_counts_the_model_it_grows(tmp_path, tiny_config, monkeypatch):
    engine = Engine(tiny_config)
    engine.fit(tmp_path / "proj", write_discs(tmp_path / "ok", range(4)))
    rows = len(np.load(tmp_path / "proj" / "embeddings.npy"))
    more = write_discs(tmp_path / "more", [10, 11])
    alone = fit_memory.estimate([64] * 2, 1, 384, "l2", low_precision("cpu"),
                                runtime=fit_memory.runtime_bytes(tiny_config.batch_size, tiny_config.input_size))
    # Room for two more images alone, not for them onto the model's bank: refused, the model as it was.
    monkeypatch.setattr(fit_memory, "free_memory", lambda: int(alone.needed / fit_memory.USABLE_SHARE) + 1024)
    before = (tmp_path / "proj" / "manifest.json").read_bytes()
    with pytest.raises(InspectorError, match=f"2 OK images onto the model's {rows:,} make {rows + 128:,}"):
        engine.add(tmp_path / "proj", more)
    assert (tmp_path / "proj" / "manifest.json").read_bytes() == before
    monkeypatch.setattr(fit_memory, "free_memory", lambda: None)  # unknown free memory: the fit goes on
    assert engine.add(tmp_path / "proj", more).n_embeddings == rows + 128
    assert json.loads((tmp_path / "proj" / "manifest.json").read_text())["n_images"] == 6


def test_what_would_fit_is_worked_out_from_the_same_rule():
    need = fit_memory.estimate([3136] * 200, 16, 152, "l2", True)  # 200 screws at 448 px, turned 16 times
    assert need.rows == 10_035_200 and round(need.bank_bytes / fit_memory.GB, 1) == 5.7
    usable = 8 * fit_memory.GB
    fitting = need.images_fitting(usable)
    assert fit_memory.estimate([3136] * fitting, 16, 152, "l2", True).needed <= usable
    assert fit_memory.estimate([3136] * (fitting + 1), 16, 152, "l2", True).needed > usable
    # Each metric's copy of the bank counts; a GPU's coreset does not count against the host's memory.
    by_metric = [fit_memory.estimate([10], 1, 152, metric, False).needed for metric in ("mahalanobis", "cosine", "l2")]
    assert by_metric == sorted(by_metric, reverse=True) and len(set(by_metric)) == 3
    assert fit_memory.estimate([10], 1, 152, "l2", True, coreset_on_host=False).needed == 10 * 152 * 4
    # Nothing fits where the backbone alone needs what is free: the message says what to do instead.
    tiny = fit_memory.estimate([10], 1, 152, "l2", True, runtime=fit_memory.runtime_bytes(32, 448))
    with pytest.raises(InspectorError, match="is free. Close other programs, or choose a smaller input_size"):
        fit_memory.check(tiny, "none", free=fit_memory.GB)
    fit_memory.check(tiny, "none", free=4 * fit_memory.GB)  # fits: nothing said
