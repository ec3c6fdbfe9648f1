"""The OpenVINO runtime (inference/extractor.py, inference/openvino_runtime.py) against torch, the reference:
the same features from the same weights, the IR cache, the runtime choice, the int8 gate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("openvino")

from inference import Backbone, Engine, EngineConfig  # noqa: E402
from inference import ir_cache  # noqa: E402
from inference import openvino_runtime as ovr  # noqa: E402
from inference.backbone import cpu_has_bf16  # noqa: E402
from inference.errors import ConfigError, InspectorError  # noqa: E402
from inference.extractor import pick_runtime  # noqa: E402
from inference.synthetic import disc  # noqa: E402


def _pair(config: EngineConfig):
    torch.manual_seed(config.seed)
    reference = Backbone(config.replace(runtime="torch", precision="fp32"))
    torch.manual_seed(config.seed)
    return reference, Backbone(config.replace(runtime="openvino", precision="fp32"))


def _images(n=3, size=112):
    return np.stack([disc(i, scratch=i % 2 == 1, size=size)[0] for i in range(n)])


@pytest.mark.parametrize("kind", ["vit", "cnn", "cnn_zero_pad_stride"])
def test_openvino_features_match_torch_fp32(kind, tiny_config, tiny_cnn_config, ov_cache):
    config = {"vit": tiny_config, "cnn": tiny_cnn_config,
              "cnn_zero_pad_stride": tiny_cnn_config.replace(patch_zero_pad=True, stride=2)}[kind]
    reference, ov = _pair(config)
    assert (reference.runtime, ov.runtime) == ("torch", "openvino")
    assert ov.weights.sha256 == reference.weights.sha256  # the same weights, converted
    images = _images()
    want, got = reference.embed(images).numpy(), ov.embed(images).numpy()
    assert got.shape == want.shape and got.dtype == np.float32
    assert ovr.mean_cosine(got, want) >= 0.99999
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4 * np.abs(want).max())
    assert ov.token_shape == reference.token_shape and ov.feature_dim == reference.feature_dim
    if cpu_has_bf16():
        low = ov.with_precision("bf16").embed(images).numpy()
        assert ovr.mean_cosine(low, want) >= 0.999


def test_cnn_stage_weights_scale_each_stage_in_both_runtimes(tiny_cnn_config, ov_cache):
    """Each stage's features times its weight, before the concatenation; the weights are part of the IR's key, so
    an unweighted IR in the cache is not served to a weighted model."""
    plain_ref, plain_ov = _pair(tiny_cnn_config)
    weighted_ref, weighted_ov = _pair(tiny_cnn_config.replace(cnn_stage_weights={3: 0.5}))
    images = _images(2)
    plain, weighted = plain_ref.embed(images).numpy(), weighted_ref.embed(images).numpy()
    first = plain_ref.model.feature_info.channels()[0]
    np.testing.assert_array_equal(weighted[:, :first], plain[:, :first])
    np.testing.assert_allclose(weighted[:, first:], 0.5 * plain[:, first:], rtol=1e-6, atol=1e-7)
    assert len(list(ov_cache.iterdir())) == 2  # two IRs: the weights are in the key
    got = weighted_ov.embed(images).numpy()
    np.testing.assert_allclose(got, weighted, rtol=1e-3, atol=1e-4 * np.abs(weighted).max())
    np.testing.assert_allclose(plain_ov.embed(images).numpy(), plain, rtol=1e-3, atol=1e-4 * np.abs(plain).max())


def test_the_ir_is_cached_per_machine_and_rebuilt_when_a_key_changes(tiny_config, ov_cache, monkeypatch):
    config = tiny_config.replace(runtime="openvino", precision="fp32")
    torch.manual_seed(0)
    Backbone(config)
    first = sorted(p.name for p in ov_cache.iterdir())
    assert len(first) == 1 and (ov_cache / first[0] / "features.xml").is_file()
    stamp = (ov_cache / first[0] / "features.bin").stat().st_mtime_ns
    converted = []
    real_convert = ovr.convert
    monkeypatch.setattr(ovr, "convert", lambda *a: converted.append(a) or real_convert(*a))
    torch.manual_seed(0)
    Backbone(config)  # the same key: the cached IR, no conversion
    assert not converted and sorted(p.name for p in ov_cache.iterdir()) == first
    assert (ov_cache / first[0] / "features.bin").stat().st_mtime_ns == stamp
    torch.manual_seed(0)
    Backbone(config.replace(input_size=126))  # another input size: another IR
    torch.manual_seed(1)
    Backbone(config.replace(seed=1))  # other (random) weights: another sha256, another IR
    monkeypatch.setattr(ir_cache, "version", lambda: "9999.0")
    torch.manual_seed(0)
    Backbone(config)  # another OpenVINO version
    assert len(converted) == 3 and len(list(ov_cache.iterdir())) == 4
    assert not [p for p in ov_cache.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_a_half_written_cache_entry_is_rebuilt(tiny_config, ov_cache):
    config = tiny_config.replace(runtime="openvino", precision="fp32")
    torch.manual_seed(0)
    b = Backbone(config)
    (entry,) = list(ov_cache.iterdir())
    (entry / "key.json").unlink()  # key.json is written last: without it the entry is unfinished
    torch.manual_seed(0)
    again = Backbone(config)
    assert (entry / "key.json").is_file()
    images = _images(2)
    np.testing.assert_array_equal(again.embed(images).numpy(), b.embed(images).numpy())


def test_runtime_auto_picks_openvino_on_a_cpu_and_torch_on_cuda(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert pick_runtime("auto", cpu) == "openvino"
    assert pick_runtime("auto", cuda) == "torch"
    assert pick_runtime("torch", cpu) == "torch"
    assert pick_runtime("openvino", cpu) == "openvino"
    monkeypatch.setattr(ovr, "available", lambda: False)
    assert pick_runtime("auto", cpu) == "torch"
    with pytest.raises(ConfigError, match=r"runtime.*openvino.*pip install"):
        pick_runtime("openvino", cpu)
    with pytest.raises(ConfigError, match="runtime"):
        EngineConfig(runtime="onnx")
    assert EngineConfig.load(None, env={"PATCHCORE_RUNTIME": "openvino"}).runtime == "openvino"


def test_int8_is_refused_with_a_clear_message_below_the_cosine_gate(tiny_config, ov_cache, monkeypatch):
    torch.manual_seed(0)
    ov = Backbone(tiny_config.replace(runtime="openvino", precision="fp32"))
    crops = list(_images(4))
    monkeypatch.setattr(ovr, "INT8_MIN_COSINE", 1.01)  # no quantised network reaches it
    with pytest.raises(InspectorError, match=r"precision int8 refused: .*mean cosine of 0\.9\d+ to fp32 on the "
                                             r"taught OK images, below 1\.01"):
        ov.quantized(crops)
    torch.manual_seed(0)
    with pytest.raises(ConfigError, match="int8 needs runtime openvino"):
        Backbone(tiny_config.replace(runtime="torch")).quantized(crops)


def test_int8_kept_when_it_holds_the_features(tiny_cnn_config, ov_cache):
    torch.manual_seed(0)
    ov = Backbone(tiny_cnn_config.replace(runtime="openvino", precision="fp32"))
    crops = list(_images(4))
    int8 = ov.quantized(crops)
    assert int8.precision_name == "int8" and ov.precision_name == "fp32"
    assert int8._int8.cosine >= ovr.INT8_MIN_COSINE
    assert ovr.mean_cosine(int8.embed(_images(2)).numpy(), ov.embed(_images(2)).numpy()) >= 0.99


def test_a_model_fitted_with_torch_inspects_the_same_with_openvino(tiny_config, tmp_path, ov_cache):
    """Runtime is a machine setting: the manifest's weights sha256 decides, and the scores agree."""
    fit_imgs = [disc(i, size=112)[0] for i in range(5)]
    test_imgs = [disc(100 + i, scratch=i % 2 == 1, size=112)[0] for i in range(4)]
    torch_engine = Engine(tiny_config.replace(runtime="torch", precision="fp32"))
    torch_engine.fit(tmp_path, fit_imgs)
    want = [r.score for r in torch_engine.score_many(torch_engine.load(tmp_path), test_imgs)]
    ov_engine = Engine(tiny_config.replace(runtime="openvino", precision="fp32"))
    model = ov_engine.load(tmp_path)
    assert model.backbone.runtime == "openvino"
    got = [r.score for r in ov_engine.score_many(model, test_imgs)]
    np.testing.assert_allclose(got, want, rtol=1e-3)


def test_runtime_auto_falls_back_to_torch_when_openvino_cannot_convert(tiny_config, ov_cache, monkeypatch, caplog):
    def broken(*args):
        raise RuntimeError("conversion failed for this network")

    monkeypatch.setattr(ovr, "convert", broken)
    torch.manual_seed(0)
    auto = Backbone(tiny_config.replace(runtime="auto", precision="fp32"))
    assert auto.runtime == "torch" and "torch runs it" in caplog.text
    torch.manual_seed(0)
    reference = Backbone(tiny_config.replace(runtime="torch", precision="fp32"))
    np.testing.assert_array_equal(auto.embed(_images(2)).numpy(), reference.embed(_images(2)).numpy())
    with pytest.raises(RuntimeError, match="conversion failed"):  # asked for by name: the error stands
        Backbone(tiny_config.replace(runtime="openvino"))


def _quantised_convs(config) -> list[tuple]:
    """(operation type, quantised or not) of each convolution of `config`'s int8 IR, in graph order."""
    from inference.preprocess import stack_inputs

    torch.manual_seed(0)
    ov = Backbone(config.replace(runtime="openvino", precision="fp32"))
    size = config.input_size
    model = ovr.quantize_int8(ov.openvino_ir(), [stack_inputs(list(_images(4, size)), size)])

    def quantised(op) -> bool:  # a FakeQuantize feeds its data input (directly or through a Convert)
        node = op.input_value(0).get_node()
        while node.get_type_name() == "Convert":
            node = node.input_value(0).get_node()
        return node.get_type_name() == "FakeQuantize"

    return [(op.get_type_name(), quantised(op)) for op in model.get_ordered_ops()
            if op.get_type_name() in ("Convolution", "GroupConvolution")]


def test_int8_leaves_the_first_convolutions_in_float(tiny_cnn_config, ov_cache):
    """The image is 8 bits already: quantising the normalised image again at the first convolutions cost most of
    int8's error on EfficientNet-Lite0 (docs/benchmarks.md), so quantize_int8 leaves them in float."""
    convs = [q for _, q in _quantised_convs(tiny_cnn_config)]
    assert len(convs) > ovr.FLOAT_FIRST_CONVS
    assert convs[:ovr.FLOAT_FIRST_CONVS] == [False] * ovr.FLOAT_FIRST_CONVS
    assert all(convs[ovr.FLOAT_FIRST_CONVS:])  # the rest is int8 (resnet18 has no depthwise convolutions)


def test_int8_leaves_the_depthwise_convolutions_in_float(tiny_cnn_config, ov_cache):
    """A depthwise convolution's output sums 9 products: quantised, its rounding cost ksdd 0.016-0.033 image
    AUROC (docs/benchmarks.md), so quantize_int8 leaves every depthwise convolution in float and only them,
    besides the first ones: the pointwise convolutions, most of the network's work, stay int8."""
    convs = _quantised_convs(tiny_cnn_config.replace(backbone="efficientnet_lite0", weights="none"))
    later = convs[ovr.FLOAT_FIRST_CONVS:]
    depthwise = [q for kind, q in later if kind == "GroupConvolution"]
    pointwise = [q for kind, q in later if kind == "Convolution"]
    assert depthwise and pointwise
    assert not any(depthwise)
    assert all(pointwise)


def _largest_int8_weight(model) -> int:
    return max(int(np.abs(op.get_data().astype(np.int32)).max()) for op in model.get_ordered_ops()
               if op.get_type_name() == "Constant" and op.get_element_type().get_type_name() == "i8")


def test_int8_weights_use_half_their_range_on_a_cpu_without_vnni(tiny_cnn_config, ov_cache, tmp_path, monkeypatch):
    """Without VNNI a CPU adds pairs of int8 products in 16 bits, which saturate: EfficientNet-Lite0's int8
    features fell to a cosine of 0.9966 on such a CPU (docs/benchmarks.md), so there the weights keep 7 bits."""
    from inference.preprocess import stack_inputs

    for flags, expected in (("fpu avx2 fma avx512_vnni", "full"), ("fpu avx2 avx_vnni", "full"),
                            ("fpu sse4_2 avx2 fma", "half")):
        (tmp_path / "cpuinfo").write_text(f"processor : 0\nflags : {flags}\n")
        assert ovr.int8_weight_range(tmp_path / "cpuinfo") == expected
        ovr.int8_weight_range.cache_clear()

    torch.manual_seed(0)
    backbone = Backbone(tiny_cnn_config.replace(runtime="openvino", precision="fp32"))
    batches = [stack_inputs(list(_images(4, 112)), 112)]
    full, half = (_largest_int8_weight(ovr.quantize_int8(backbone.openvino_ir(), batches, r)) for r in ("full", "half"))
    assert full > 64 >= half
    # The machine's range is part of the int8 IR's cache key; the full range keeps the keys made before it was.
    monkeypatch.setattr(ovr, "int8_weight_range", lambda: "half")
    assert backbone._openvino.key_parts("digest")["int8_weights"] == "half"
    monkeypatch.setattr(ovr, "int8_weight_range", lambda: "full")
    assert "int8_weights" not in backbone._openvino.key_parts("digest")


def test_an_int8_ir_of_an_earlier_recipe_is_not_reused(tiny_cnn_config):
    torch.manual_seed(0)
    extractor = Backbone(tiny_cnn_config.replace(runtime="openvino", precision="fp32"))._openvino
    assert "int8_recipe" not in extractor.key_parts()  # fp32 IRs keep their cache keys
    assert extractor.key_parts("digest")["int8_recipe"] == ovr.INT8_RECIPE


def test_a_cosine_is_printed_on_its_side_of_the_gate():
    """A refused 0.99898 printed as "0.9990" reads as passing the 0.999 gate it failed."""
    assert ovr.cosine_text(0.99934, 0.999) == "0.9993"
    assert ovr.cosine_text(0.99898, 0.999) == "0.99898"
    assert ovr.cosine_text(0.9989999, 0.999) == "0.9989999"
    assert ovr.cosine_text(0.999, 0.999) == "0.9990"
    assert "0.99898" in ovr.int8_refusal(0.99898)
