import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).parent))

from inference import EngineConfig  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_config() -> EngineConfig:
    """A real DINOv2 ViT-S/14 architecture cut to 2 blocks, random weights, 112 px input (8 x 8 tokens)."""
    return EngineConfig(
        backbone="dinov2_vits14", weights="none", backbone_kwargs={"depth": 2}, input_size=112,
        coreset_ratio=0.25, batch_size=8,
    )


@pytest.fixture(scope="session")
def tiny_cnn_config() -> EngineConfig:
    return EngineConfig(backbone="resnet18", weights="none", input_size=112, coreset_ratio=0.25, batch_size=8)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA
