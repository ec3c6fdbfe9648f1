"""A tiny calibrated project and 64 x 64 part images for the run-mode tests (tests/test_line*.py, the Run view)."""

from __future__ import annotations

import socket
from pathlib import Path

import cv2
import numpy as np

from inference import Engine, EngineConfig
from inference.synthetic import disc

SIZE = 64


def tiny_line_config() -> EngineConfig:
    """efficientnet_lite0 architecture with random weights at 64 px (64 px images): fast enough for hundreds of parts."""
    return EngineConfig(backbone="efficientnet_lite0", weights="none", input_size=64, coreset_ratio=0.5,
                        batch_size=16)


def part(seed: int, scratch: bool = False) -> np.ndarray:
    return disc(seed, scratch, size=SIZE)[0]


def png_bytes(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    assert ok
    return buf.tobytes()


def make_project(folder: Path, calibrated: bool = True) -> tuple[Engine, Path]:
    """Fit on 8 OK discs; calibrate on 6 more OK and 4 scratched (threshold between them)."""
    engine = Engine(tiny_line_config())
    engine.fit(folder, [part(s) for s in range(8)], roi=None)
    if calibrated:
        model = engine.load(folder)
        engine.calibrate(model, [part(s) for s in range(100, 106)], [part(s, True) for s in range(200, 204)])
    return engine, folder


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now (the servers under test bind it themselves)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
