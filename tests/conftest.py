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

@pytest.fixture
def broker(tmp_path):
    """A real MQTT broker (mosquitto) on 127.0.0.1 for this test: its port (tests/mqtt_helpers.py)."""
    from mqtt_helpers import running_broker

    with running_broker(tmp_path) as port:
        yield port


SHARED_DATA_DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data_path() -> Path | None:
    """The sample data (MVTec layout): INSPECTOR_SHARED_DATA (a folder, or `none` to run as on a fresh clone
    without it), else ../shared/data beside the repository. None when absent."""
    setting = os.environ.get("INSPECTOR_SHARED_DATA", "").strip()
    if setting.lower() == "none":
        return None
    path = Path(setting) if setting else SHARED_DATA_DEFAULT
    return path if path.is_dir() else None


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


@pytest.fixture()
def ov_cache(tmp_path, monkeypatch) -> Path:
    """An empty OpenVINO IR cache of this test's own (PATCHCORE_OPENVINO_CACHE)."""
    folder = tmp_path / "ov-cache"
    monkeypatch.setenv("PATCHCORE_OPENVINO_CACHE", str(folder))
    return folder


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_path()
    if path is None:
        pytest.skip("the sample data is absent (../shared/data, or INSPECTOR_SHARED_DATA=none)")
    return path


@pytest.fixture
def users(tmp_path) -> Path:
    """A users file for the window's sign-in (station/sign_in.py): ana the engineer, bo the reviewer at the line."""
    from station.sign_in import set_user

    path = tmp_path / "users.txt"
    set_user(path, "ana", "engineer", "ana-password")
    set_user(path, "bo", "line,review", "bo-password")
    return path


@pytest.fixture(autouse=True)
def no_machine_users_file(monkeypatch, tmp_path_factory):
    """The suite never depends on this PC's users file (/etc/inspector/users.txt): a test that wants one names it
    (INSPECTOR_USERS, or a SignIn of its own)."""
    monkeypatch.delenv("INSPECTOR_USERS", raising=False)
    missing = tmp_path_factory.getbasetemp() / "no-machine-users.txt"
    monkeypatch.setattr("station.sign_in.machine_users_file", lambda: missing)
