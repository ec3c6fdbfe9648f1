import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests run the torch runtime unless they ask for OpenVINO (tests/test_openvino_runtime.py), whose IRs go to a
# folder of this session, not the user's cache.
os.environ.setdefault("PATCHCORE_RUNTIME", "torch")
if "PATCHCORE_OPENVINO_CACHE" not in os.environ:
    os.environ["PATCHCORE_OPENVINO_CACHE"] = tempfile.mkdtemp(prefix="inspector-ov-cache-")
    atexit.register(shutil.rmtree, os.environ["PATCHCORE_OPENVINO_CACHE"], ignore_errors=True)
sys.path.insert(0, str(Path(__file__).parent))

from inference import EngineConfig  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_config() -> EngineConfig:
    """A real DINOv2 ViT-S/14 architecture cut to 2 blocks, random weights, 112 px input (8 x 8 tokens)."""
    return EngineConfig(
        backbone="dinov2_vits14", weights="none", backbone_kwargs={"depth": 2}, input_size=112,
        coreset_ratio=0.25, batch_size=8, runtime="torch",
    )


@pytest.fixture(scope="session")
def tiny_cnn_config() -> EngineConfig:
    return EngineConfig(backbone="resnet18", weights="none", input_size=112, coreset_ratio=0.25, batch_size=8,
                        runtime="torch")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA
