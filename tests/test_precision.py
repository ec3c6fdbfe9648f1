"""Backbone precision, device and compile selection, and bf16 fidelity against fp32.

The GPU branches are exercised by selection logic and fallbacks here (no GPU on the
development machine); the fidelity tests run where the CPU has native bf16 and skip
cleanly elsewhere.
"""

import logging

import numpy as np
import pytest
import torch

from inference import ConfigError, Engine, EngineConfig
from inference import backbone as bb
from inference.backbone import Backbone, cpu_has_bf16, pick_compile_mode, pick_device, pick_dtype
from inference.synthetic import disc
from photos import photo_views

needs_bf16 = pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no native bf16 (AVX-512 BF16 / AMX)")


def test_dtype_follows_the_setting_and_auto_follows_the_hardware(monkeypatch):
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    for device in (cpu, cuda):
        assert pick_dtype("fp32", device) == torch.float32
        assert pick_dtype("bf16", device) == torch.bfloat16
        assert pick_dtype("fp16", device) == torch.float16
    assert pick_dtype("auto", cuda) == torch.float16
    monkeypatch.setattr(bb, "cpu_has_bf16", lambda: True)
    assert pick_dtype("auto", cpu) == torch.bfloat16
    monkeypatch.setattr(bb, "cpu_has_bf16", lambda: False)
    assert pick_dtype("auto", cpu) == torch.float32


def test_bf16_detection_reads_the_cpu_flags(monkeypatch):
    detect = cpu_has_bf16.__wrapped__
    flags = {"plain": "flags\t\t: fpu sse2 avx2 avx512f\n", "zen4": "flags\t\t: fpu avx512f avx512_bf16\n",
             "sapphire": "flags\t\t: fpu avx512f amx_tile amx_bf16\n"}
    for name, want in (("plain", False), ("zen4", True), ("sapphire", True)):
        monkeypatch.setattr(bb.Path, "read_text", lambda self, _t=flags[name], **kw: _t)
        assert detect() is want, name


def test_auto_fits_in_fp32_on_a_cpu_and_explicit_settings_are_kept(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert bb.fit_precision("auto", True) == "fp32"
    assert bb.fit_precision("bf16", True) == "bf16"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert bb.fit_precision("auto", True) == "auto"  # fp16 on the GPU
    assert bb.fit_precision("auto", False) == "fp32"


def test_device_is_cuda_only_when_allowed_and_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device(True).type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device(True).type == "cuda"
    assert pick_device(False).type == "cpu"


def test_compile_mode_uses_cuda_graphs_on_a_gpu_and_stays_eager_on_a_cpu_by_default():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert pick_compile_mode("auto", cuda) == "reduce-overhead"
    assert pick_compile_mode("auto", cpu) is None
    assert pick_compile_mode("on", cpu) == "default"
    assert pick_compile_mode("on", cuda) == "reduce-overhead"
    assert pick_compile_mode("off", cuda) is None


def test_a_failing_compiler_falls_back_to_eager_with_the_same_features(tiny_config, monkeypatch, caplog):
    eager = Backbone(tiny_config.replace(precision="fp32", compile_backbone="off"))
    images = np.stack([disc(i, size=112)[0] for i in range(2)])
    want = eager.embed(images).numpy()

    def broken(*args, **kwargs):  # compiles "fine", fails on the first call, as a missing toolchain does
        def run(x):
            raise RuntimeError("no C++ compiler found")
        return run

    monkeypatch.setattr(torch, "compile", broken)
    torch.manual_seed(0)
    with caplog.at_level(logging.WARNING):
        compiled = Backbone(tiny_config.replace(precision="fp32", compile_backbone="on", weights="none"))
    assert not compiled._forward.active and "running eagerly" in caplog.text
    torch.manual_seed(0)
    eager_again = Backbone(tiny_config.replace(precision="fp32", compile_backbone="off"))
    np.testing.assert_array_equal(compiled.embed(images).numpy(), eager_again.embed(images).numpy())
    assert want.shape == compiled.embed(images).shape

    def unavailable(*args, **kwargs):
        raise RuntimeError("torch.compile is not supported on this platform")

    monkeypatch.setattr(torch, "compile", unavailable)
    assert not Backbone(tiny_config.replace(compile_backbone="on"))._forward.active


def test_a_working_compiled_forward_is_used_and_its_outputs_are_copied(tiny_config, monkeypatch):
    calls = []

    def fake_compile(fn, mode=None, dynamic=None):
        buffer = {}

        def run(x):  # like a CUDA graph: returns the same output buffer every call
            calls.append(mode)
            out = fn(x)
            buffer.setdefault("t", torch.empty_like(out)).copy_(out)
            return buffer["t"]
        return run

    monkeypatch.setattr(torch, "compile", fake_compile)
    b = Backbone(tiny_config.replace(precision="fp32", compile_backbone="on"))
    first = b.embed(np.stack([disc(1, size=112)[0]]))
    second = b.embed(np.stack([disc(2, scratch=True, size=112)[0]]))
    assert b._forward.active and calls and calls[0] == "default"
    assert not torch.equal(first, second)  # the first result was not overwritten by the second call


def test_precision_keys_are_checked_and_read_from_the_environment():
    with pytest.raises(ConfigError, match="precision"):
        EngineConfig(precision="int4")
    with pytest.raises(ConfigError, match="compile_backbone"):
        EngineConfig(compile_backbone="maybe")
    c = EngineConfig.load(None, env={"PATCHCORE_PRECISION": "bf16", "PATCHCORE_COMPILE_BACKBONE": "off"})
    assert (c.precision, c.compile_backbone) == ("bf16", "off")


def test_unused_efficientnet_stages_are_cut_without_changing_the_features():
    cfg = EngineConfig(backbone="efficientnet_lite0", weights="none", input_size=112, precision="fp32",
                       runtime="torch")
    torch.manual_seed(0)
    cut = Backbone(cfg)
    assert len(cut.model.blocks) == 5  # stages 2, 3 end at blocks.2 and blocks.4; blocks.5-6 (of 7) are dropped
    torch.manual_seed(0)
    full = Backbone(cfg)
    full.model.blocks = torch.nn.Sequential(*cut.model.blocks, *_rest_of_blocks(cfg))
    images = np.stack([disc(i, size=112)[0] for i in range(2)])
    for a, b in zip(cut.stage_outputs(images), full.stage_outputs(images)):
        np.testing.assert_array_equal(a, b)


def _rest_of_blocks(cfg):
    import timm

    model = timm.create_model("tf_efficientnet_lite0", features_only=True, out_indices=tuple(cfg.cnn_layers))
    return list(model.blocks)[5:]


def _cosines(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    return torch.nn.functional.cosine_similarity(a, b, dim=1).flatten().numpy()


def _real_images(shared, n=4):
    from inference import expand_image_paths, load_image

    files = expand_image_paths([shared / "mvtec_bottle" / "test" / "broken_large"])[:n]
    return [load_image(f) for f in files]


@needs_bf16
@pytest.mark.parametrize("source", ["photo", "mvtec_bottle"])
def test_bf16_efficientnet_features_match_fp32(source, request):
    """Real ImageNet weights on real camera images: a photo that ships with matplotlib (every machine), and
    MVTec bottles when the sample data is present. Generated shapes are no stand-in: their flat areas give
    features that differ more under bf16 (mean cosine 0.9989) than any photo does."""
    if source == "photo":
        images = photo_views(4)
    else:
        images = _real_images(request.getfixturevalue("shared_data"))
    from inference.preprocess import stack_inputs

    batch = stack_inputs(images, 224)
    cfg = EngineConfig(backbone="efficientnet_lite0", input_size=224, use_gpu=False, runtime="torch")
    f32 = Backbone(cfg.replace(precision="fp32")).embed(batch)
    b16 = Backbone(cfg.replace(precision="bf16")).embed(batch)
    cos = _cosines(f32, b16)
    assert f32.dtype == b16.dtype == torch.float32
    assert cos.mean() >= 0.999 and np.percentile(cos, 1) >= 0.995, (cos.mean(), cos.min())


@needs_bf16
def test_bf16_vit_features_match_fp32():
    """A full-size DINOv2 ViT-S/14 (12 blocks, random weights: real ones are not on this machine)."""
    cfg = EngineConfig(backbone="dinov2_vits14", weights="none", input_size=224, use_gpu=False, runtime="torch")
    images = np.stack([disc(i, scratch=i % 2 == 1, size=224)[0] for i in range(2)])
    torch.manual_seed(0)
    f32 = Backbone(cfg.replace(precision="fp32")).embed(images)
    torch.manual_seed(0)
    b16 = Backbone(cfg.replace(precision="bf16")).embed(images)
    cos = _cosines(f32, b16)
    assert cos.mean() >= 0.999 and np.percentile(cos, 1) >= 0.995, (cos.mean(), cos.min())


@needs_bf16
def test_a_model_fitted_in_fp32_scores_the_same_under_bf16(tiny_config, tmp_path):
    """Precision is a runtime setting: an fp32 model loads under bf16 and its scores move by under 1 %."""
    fit_imgs = [disc(i, size=112)[0] for i in range(6)]
    test_imgs = [disc(100 + i, scratch=i % 2 == 1, size=112)[0] for i in range(6)]
    fp32 = Engine(tiny_config.replace(precision="fp32"))
    fp32.fit(tmp_path, fit_imgs)
    want = [r.score for r in fp32.score_many(fp32.load(tmp_path), test_imgs)]
    bf16 = Engine(tiny_config.replace(precision="bf16"))
    model = bf16.load(tmp_path)
    assert model.backbone.dtype == torch.bfloat16
    got = [r.score for r in bf16.score_many(model, test_imgs)]
    np.testing.assert_allclose(got, want, rtol=0.01)
    assert np.argsort(got)[-3:].tolist() == np.argsort(want)[-3:].tolist()  # the scratched ones stay on top
    bf16.add(tmp_path, fit_imgs[:1], config=tiny_config.replace(precision="bf16"))  # not a feature setting


def test_a_backbone_in_another_precision_shares_the_network_and_embeds_as_a_fresh_build():
    """A fit embeds in fp32 on a CPU and hands over a model that inspects in the machine's precision: the
    engine derives that backbone from the fit's (autocast decides the compute type) instead of building it
    again, and it gives exactly what a backbone built for that precision gives."""
    config = EngineConfig(backbone="resnet18", weights="none", input_size=112, precision="fp32", runtime="torch")
    engine = Engine(config)
    fit_backbone = engine.backbone(config)
    twin = engine.backbone(config.replace(precision="bf16"))
    assert twin.model is fit_backbone.model and twin.dtype == torch.bfloat16 and fit_backbone.dtype == torch.float32
    torch.manual_seed(config.seed)
    fresh = Backbone(config.replace(precision="bf16"))
    images = np.stack([disc(i)[0] for i in range(2)])[:, :112, :112]
    assert np.array_equal(twin.embed(images), fresh.embed(images))
    assert not np.array_equal(twin.embed(images), fit_backbone.embed(images))  # it really computes in bf16
