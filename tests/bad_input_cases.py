"""Bad inputs of every kind for fit, infer, calibrate and info (tests/test_bad_input.py, bench/bench_faults.py).

Each case builds its argv from a prepared folder of good and broken material and
may set environment variables or patch the OS for the call. Every case must end
with exit 2, one line on stderr, and no saved file changed.
"""

from __future__ import annotations

import errno
import io
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import faiss
import numpy as np
from PIL import Image

from inference import Circle, Engine, EngineConfig
from inference import project as proj
from inference.synthetic import CENTRE, RADIUS, write_discs
from tiny_project import TINY_YAML

ROI = {"type": "circle", "cx": CENTRE[0], "cy": CENTRE[1], "r": RADIUS}


@dataclass
class Case:
    name: str
    argv: Callable[[Path], list]
    env: dict = field(default_factory=dict)
    # A context manager factory wrapping the call (e.g. an OS fault, a held lock), given the root.
    around: Optional[Callable] = None
    # Words the error line must hold (the value, the file or folder it names), given the root.
    says: Optional[Callable[[Path], list]] = None


class _NotTensors:
    """Pickled into a weights file: a Python object where tensors belong (torch's weights_only refuses it)."""


def _edit_manifest(folder: Path, edit) -> None:
    m = json.loads((folder / "manifest.json").read_text())
    edit(m)
    (folder / "manifest.json").write_text(json.dumps(m))


def _replace_coreset(folder: Path, index) -> None:
    data = faiss.serialize_index(index).tobytes()
    (folder / "coreset.faiss").write_bytes(data)
    _edit_manifest(folder, lambda m: m["files"].__setitem__("coreset.faiss", proj.sha256_bytes(data)))


def _edit_calibration(folder: Path, text: str) -> None:
    (folder / "calibration.json").write_text(text)


def prepare(root: Path) -> Path:
    """Good images, broken files and a good calibrated project `good`, plus broken copies of it."""
    import shutil

    root.mkdir(parents=True, exist_ok=True)
    (root / "tiny.yaml").write_text(TINY_YAML)
    write_discs(root / "ok", range(4))
    write_discs(root / "ng", [50], scratch=True)
    (root / "empty_dir").mkdir()
    (root / "texts").mkdir()
    (root / "texts" / "readme.txt").write_text("not an image")
    (root / "bad").mkdir()
    (root / "bad" / "text.png").write_text("this is not a PNG")
    (root / "bad" / "empty.png").write_bytes(b"")
    good_png = (root / "ok" / sorted(os.listdir(root / "ok"))[0]).read_bytes()
    (root / "bad" / "truncated.png").write_bytes(good_png[: len(good_png) // 3])
    Image.new("1", (12000, 12000)).save(root / "bad" / "huge.png")  # 144 MP, a few kB on disk
    Image.new("RGB", (200, 120), (90, 90, 90)).save(root / "bad" / "other_size.png")
    (root / "bad" / "weights.pth").write_text("not a torch file")
    import torch

    torch.save({"model": _NotTensors()}, root / "bad" / "pickled.pth")
    (root / "bad" / "broken.yaml").write_text("engine: [unclosed")
    (root / "bad" / "unknown_key.yaml").write_text("engine:\n  coreset_rate: 0.1\n")
    (root / "bad" / "bad_value.yaml").write_text("engine:\n  coreset_ratio: 2\n")
    (root / "bad" / "bad_weights.yaml").write_text(TINY_YAML.replace("weights: none",
                                                                     f"weights: {root / 'bad' / 'weights.pth'}"))
    (root / "a_file").write_text("x")
    (root / "out_dir").mkdir()

    engine = Engine(EngineConfig.load(root / "tiny.yaml"))
    good = root / "good"
    engine.fit(good, sorted((root / "ok").glob("*.png")), roi=Circle(**{k: v for k, v in ROI.items() if k != "type"}))
    engine.calibrate(engine.load(good), sorted((root / "ok").glob("*.png"))[:2], sorted((root / "ng").glob("*.png")))
    engine.fit(root / "uncalibrated", sorted((root / "ok").glob("*.png"))[:2],
               roi=Circle(**{k: v for k, v in ROI.items() if k != "type"}))
    engine.fit(root / "whole", sorted((root / "ok").glob("*.png"))[:2])
    (root / "no_model").mkdir()

    def broken(name, fix):
        shutil.copytree(good, root / name)
        fix(root / name)

    broken("m_json", lambda f: (f / "manifest.json").write_text("{oops"))
    broken("m_missing", lambda f: _edit_manifest(f, lambda m: m.pop("roi")))
    broken("m_type", lambda f: _edit_manifest(f, lambda m: m.update(n_embeddings="many")))
    broken("m_newer", lambda f: _edit_manifest(f, lambda m: m.update(schema_version=99)))
    broken("m_old_model", lambda f: _edit_manifest(f, lambda m: m.update(model_version="2020.01")))
    broken("m_backbone", lambda f: _edit_manifest(f, lambda m: m["backbone"].update(timm_name="resnet18")))
    broken("m_roi_huge", lambda f: _edit_manifest(f, lambda m: m["roi"].update(r=1e308 * 10)))
    broken("m_cfg_value", lambda f: _edit_manifest(f, lambda m: m["config"].update(n_neighbors=0)))
    broken("m_cfg_kwargs", lambda f: _edit_manifest(f, lambda m: m["config"].update(
        backbone_kwargs={"depth": 2, "depht": 3})))
    broken("m_weights_pickled", lambda f: _edit_manifest(f, lambda m: m["config"].update(
        weights=str(root / "bad" / "pickled.pth"))))
    broken("m_weights_text", lambda f: _edit_manifest(f, lambda m: m["config"].update(
        weights=str(root / "bad" / "weights.pth"))))
    broken("m_checkpoint", lambda f: _edit_manifest(f, lambda m: m["config"].update(
        backbone_kwargs={"depth": 2, "checkpoint_path": str(root / "bad" / "pickled.pth")})))
    broken("e_width", _narrow_embeddings)
    broken("cal_copied", lambda f: _edit_calibration(f, json.dumps(
        {**json.loads((f / "calibration.json").read_text()), "model_id": "0f" * 16})))
    broken("c_truncated", lambda f: (f / "coreset.faiss").write_bytes((f / "coreset.faiss").read_bytes()[:40]))
    broken("c_missing", lambda f: (f / "coreset.faiss").unlink())
    broken("c_dim", lambda f: _replace_coreset(f, _flat(7, 5)))
    broken("c_empty", lambda f: _replace_coreset(f, _flat(384, 0)))
    broken("e_truncated", lambda f: (f / "embeddings.npy").write_bytes((f / "embeddings.npy").read_bytes()[:99]))
    broken("cal_edited", lambda f: _edit_calibration(f, (f / "calibration.json").read_text().replace(
        '"threshold": ', '"threshold": 1000')))
    broken("cal_inf", lambda f: _edit_calibration(f, re_threshold(f, "Infinity")))
    broken("cal_nan", lambda f: _edit_calibration(f, re_threshold(f, "NaN")))
    broken("cal_json", lambda f: _edit_calibration(f, "{not json"))
    broken("cal_missing", lambda f: (f / "calibration.json").unlink())
    return root


def _narrow_embeddings(folder: Path) -> None:
    """embeddings.npy of another width (another backbone's), its checksum in the manifest updated to match."""
    buffer = io.BytesIO()
    np.save(buffer, np.load(folder / "embeddings.npy")[:, :152].copy(), allow_pickle=False)
    data = buffer.getvalue()
    (folder / "embeddings.npy").write_bytes(data)
    _edit_manifest(folder, lambda m: m["files"].__setitem__("embeddings.npy", proj.sha256_bytes(data)))


def re_threshold(folder: Path, value: str) -> str:
    data = json.loads((folder / "calibration.json").read_text())
    text = json.dumps({**data, "threshold": "@@"})
    return text.replace('"@@"', value)


def _flat(d: int, n: int):
    index = faiss.IndexFlatL2(d)
    if n:
        index.add(np.random.default_rng(0).normal(size=(n, d)).astype(np.float32))
    return index


class _OsFault:
    """Make writes under the root fail with errno `code`, as a full, read-only or forbidden disk would."""

    def __init__(self, root: Path, code: int):
        self.root, self.code = str(root), code

    def __enter__(self):
        self.real = os.open

        def failing_open(path, flags, *args, **kwargs):
            writes = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
            if str(path).startswith(self.root) and writes and not str(path).endswith(proj.LOCK):
                raise OSError(self.code, os.strerror(self.code), str(path))
            return self.real(path, flags, *args, **kwargs)

        os.open = failing_open
        return self

    def __exit__(self, *exc):
        os.open = self.real


class _HeldLock:
    """Another job holds the project's writer lock for the duration of the call."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.ready, self.release = threading.Event(), threading.Event()

    def _hold(self):
        with proj.writing(self.folder):
            self.ready.set()
            self.release.wait(60)

    def __enter__(self):
        self.thread = threading.Thread(target=self._hold, daemon=True)
        self.thread.start()
        self.ready.wait(30)
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.thread.join(30)


def _ok(r):
    return str(r / "ok")


def _cfg(r):
    return ["--config", str(r / "tiny.yaml")]


def _fit(r, *extra, project="new_project"):
    return ["fit", str(r / project), "--ok", _ok(r), *extra, *_cfg(r)]


def _infer(r, project, *extra, images=None):
    return ["infer", str(r / project), images or _ok(r), *extra, *_cfg(r)]


def _calibrate(r, *extra, project="good"):
    return ["calibrate", str(r / project), "--ok", _ok(r), *extra, *_cfg(r)]


def _roi(**changes):
    return ["--roi", json.dumps({**ROI, **changes})]


CASES: list[Case] = [
    # -- fit ------------------------------------------------------------------------------------------------
    Case("fit: --ok folder does not exist", lambda r: ["fit", str(r / "new_project"), "--ok", str(r / "nope"), *_cfg(r)]),
    Case("fit: --ok folder is empty", lambda r: ["fit", str(r / "new_project"), "--ok", str(r / "empty_dir"), *_cfg(r)]),
    Case("fit: --ok folder holds no images", lambda r: ["fit", str(r / "new_project"), "--ok", str(r / "texts"), *_cfg(r)]),
    Case("fit: a text file named .png", lambda r: _fit(r, "--ok", str(r / "bad" / "text.png"))),
    Case("fit: an empty image file", lambda r: _fit(r, "--ok", str(r / "bad" / "empty.png"))),
    Case("fit: a truncated PNG", lambda r: _fit(r, "--ok", str(r / "bad" / "truncated.png"))),
    Case("fit: a 12000 x 12000 PNG", lambda r: _fit(r, "--ok", str(r / "bad" / "huge.png"))),
    Case("fit: an image over a lowered size limit", lambda r: _fit(r), env={"PATCHCORE_MAX_IMAGE_MEGAPIXELS": "0.01"}),
    Case("fit: --roi is not JSON", lambda r: _fit(r, "--roi", "{circle")),
    Case("fit: --roi of an unknown type", lambda r: _fit(r, *_roi(type="hexagon"))),
    Case("fit: --roi lacks a field", lambda r: _fit(r, "--roi", json.dumps({"type": "circle", "cx": 1, "cy": 1}))),
    Case("fit: --roi with a negative radius", lambda r: _fit(r, *_roi(r=-5))),
    Case("fit: --roi with NaN", lambda r: _fit(r, "--roi", '{"type": "circle", "cx": NaN, "cy": 80, "r": 60}')),
    Case("fit: --roi with 1e999", lambda r: _fit(r, "--roi", '{"type": "circle", "cx": 1e999, "cy": 80, "r": 60}')),
    Case("fit: --roi number too large for a float",
         lambda r: _fit(r, "--roi", '{"type": "circle", "cx": 1' + "0" * 400 + ', "cy": 80, "r": 60}')),
    Case("fit: --roi with a string for a number", lambda r: _fit(r, *_roi(cx="eighty"))),
    Case("fit: --roi outside the image", lambda r: _fit(r, *_roi(cx=5000))),
    Case("fit: --roi names a file that is not there", lambda r: _fit(r, "--roi", str(r / "no_roi.json"))),
    Case("fit: --roi rect angle 1e300", lambda r: _fit(r, "--roi", json.dumps(
        {"type": "rect", "cx": 80, "cy": 80, "w": 100, "h": 100, "angle_deg": 1e300})),
         says=lambda r: ["angle_deg", "1e+300"]),
    Case("fit: --roi rect a trillion px wide", lambda r: _fit(r, "--roi", json.dumps(
        {"type": "rect", "cx": 80, "cy": 80, "w": 1e12, "h": 100})), says=lambda r: ["'w'", "1e+12"]),
    Case("fit: --roi centre a billion px away", lambda r: _fit(r, *_roi(cx=1e9, r=1e9)),
         says=lambda r: ["'cx'", "1e+09"]),
    Case("fit: --add --mm-per-px 0", lambda r: _fit(r, "--add", "--mm-per-px", "0", project="good"),
         says=lambda r: ["--mm-per-px", "got 0"]),
    Case("fit: --add --mm-per-px negative", lambda r: _fit(r, "--add", "--mm-per-px", "-0.5", project="good"),
         says=lambda r: ["--mm-per-px", "got -0.5"]),
    Case("fit: --add onto embeddings of another width", lambda r: _fit(r, "--add", project="e_width"),
         says=lambda r: [str(r / "e_width"), "embeddings.npy", "152 wide", "384"]),
    Case("fit: --mm-per-px negative", lambda r: _fit(r, "--mm-per-px", "-1")),
    Case("fit: --mm-per-px zero", lambda r: _fit(r, "--mm-per-px", "0")),
    Case("fit: --mm-per-px NaN", lambda r: _fit(r, "--mm-per-px", "nan")),
    Case("fit: --mm-per-px inf", lambda r: _fit(r, "--mm-per-px", "inf")),
    Case("fit: the project path is a file", lambda r: _fit(r, project="a_file")),
    Case("fit: the project's parent is a file", lambda r: _fit(r, project="a_file/p")),
    Case("fit: images of different sizes without a ROI",
         lambda r: ["fit", str(r / "new_project"), "--ok", _ok(r), str(r / "bad" / "other_size.png"), *_cfg(r)]),
    Case("fit: --add onto a folder without a model", lambda r: _fit(r, "--add", project="no_model")),
    Case("fit: --add with --roi", lambda r: _fit(r, "--add", *_roi(), project="good")),
    Case("fit: --add onto an older model version", lambda r: _fit(r, "--add", project="m_old_model")),
    Case("fit: --add onto a model of another backbone", lambda r: _fit(r, "--add", project="m_backbone")),
    Case("fit: --add onto a model with truncated embeddings", lambda r: _fit(r, "--add", project="e_truncated")),
    Case("fit: --config file missing", lambda r: ["fit", str(r / "new_project"), "--ok", _ok(r), "--config",
                                                  str(r / "nope.yaml")]),
    Case("fit: --config is not YAML", lambda r: ["fit", str(r / "new_project"), "--ok", _ok(r), "--config",
                                                 str(r / "bad" / "broken.yaml")]),
    Case("fit: --config with an unknown key", lambda r: ["fit", str(r / "new_project"), "--ok", _ok(r), "--config",
                                                         str(r / "bad" / "unknown_key.yaml")]),
    Case("fit: --config with a value out of range", lambda r: ["fit", str(r / "new_project"), "--ok", _ok(r),
                                                               "--config", str(r / "bad" / "bad_value.yaml")]),
    Case("fit: a PATCHCORE_ variable out of range", lambda r: _fit(r), env={"PATCHCORE_INPUT_SIZE": "100"}),
    Case("fit: a weights file that is not one", lambda r: ["fit", str(r / "new_project"), "--ok", _ok(r), "--config",
                                                           str(r / "bad" / "bad_weights.yaml")]),
    Case("fit: --json into a folder", lambda r: _fit(r, "--json", str(r / "out_dir"))),
    Case("fit: the project is being saved by another process", lambda r: _fit(r, project="good"),
         around=lambda r: _HeldLock(r / "good")),
    Case("fit: disk full", lambda r: _fit(r, project="good"), around=lambda r: _OsFault(r / "good", errno.ENOSPC)),
    Case("fit: read-only disk", lambda r: _fit(r, project="good"), around=lambda r: _OsFault(r / "good", errno.EROFS)),
    Case("fit: permission denied", lambda r: _fit(r, project="good"),
         around=lambda r: _OsFault(r / "good", errno.EACCES)),
    # -- infer ----------------------------------------------------------------------------------------------
    Case("infer: project folder missing", lambda r: _infer(r, "nope")),
    Case("infer: project path is a file", lambda r: _infer(r, "a_file")),
    Case("infer: folder without a model", lambda r: _infer(r, "no_model")),
    Case("infer: manifest is not JSON", lambda r: _infer(r, "m_json")),
    Case("infer: manifest lacks a key", lambda r: _infer(r, "m_missing")),
    Case("infer: manifest value of the wrong type", lambda r: _infer(r, "m_type")),
    Case("infer: manifest from a newer version", lambda r: _infer(r, "m_newer")),
    Case("infer: manifest ROI out of float range", lambda r: _infer(r, "m_roi_huge")),
    Case("infer: older model version", lambda r: _infer(r, "m_old_model"),
         says=lambda r: [str(r / "m_old_model"), "2020.01"]),
    Case("infer: manifest config value out of range", lambda r: _infer(r, "m_cfg_value"), says=lambda r: ["n_neighbors"]),
    Case("infer: weights in the manifest a pickled file", lambda r: _infer(r, "m_weights_pickled"),
         says=lambda r: [str(r / "bad" / "pickled.pth"), "pickled Python objects"]),
    Case("infer: checkpoint_path a pickled file", lambda r: _infer(r, "m_checkpoint"),
         says=lambda r: [str(r / "bad" / "pickled.pth"), "checkpoint_path"]),
    Case("infer: coreset index truncated", lambda r: _infer(r, "c_truncated")),
    Case("infer: coreset index missing", lambda r: _infer(r, "c_missing")),
    Case("infer: coreset index of the wrong dimension", lambda r: _infer(r, "c_dim")),
    Case("infer: empty coreset index", lambda r: _infer(r, "c_empty")),
    Case("infer: image missing", lambda r: _infer(r, "good", images=str(r / "nope.png"))),
    Case("infer: not an image", lambda r: _infer(r, "good", images=str(r / "bad" / "text.png"))),
    Case("infer: truncated image", lambda r: _infer(r, "good", images=str(r / "bad" / "truncated.png"))),
    Case("infer: 12000 x 12000 PNG", lambda r: _infer(r, "good", images=str(r / "bad" / "huge.png"))),
    Case("infer: empty folder", lambda r: _infer(r, "good", images=str(r / "empty_dir"))),
    Case("infer: whole-image model, other image size",
         lambda r: _infer(r, "whole", images=str(r / "bad" / "other_size.png"))),
    Case("infer: --json into a folder", lambda r: _infer(r, "good", "--json", str(r / "out_dir"))),
    Case("infer: --json under a file", lambda r: _infer(r, "good", "--json", str(r / "a_file" / "x.json"))),
    Case("infer: --heatmaps onto a file", lambda r: _infer(r, "good", "--heatmaps", str(r / "a_file"))),
    Case("infer --fail-on-ng: not calibrated", lambda r: _infer(r, "uncalibrated", "--fail-on-ng")),
    Case("infer --fail-on-ng: calibration edited by hand", lambda r: _infer(r, "cal_edited", "--fail-on-ng")),
    Case("infer --fail-on-ng: calibration threshold Infinity", lambda r: _infer(r, "cal_inf", "--fail-on-ng")),
    Case("infer --fail-on-ng: calibration threshold NaN", lambda r: _infer(r, "cal_nan", "--fail-on-ng")),
    Case("infer --fail-on-ng: calibration not JSON", lambda r: _infer(r, "cal_json", "--fail-on-ng")),
    Case("infer --fail-on-ng: calibration copied from another project", lambda r: _infer(r, "cal_copied",
                                                                                          "--fail-on-ng"),
         says=lambda r: [str(r / "cal_copied"), "another model's", "copied from another project"]),
    Case("infer --fail-on-ng: calibration deleted", lambda r: _infer(r, "cal_missing", "--fail-on-ng")),
    # -- calibrate ------------------------------------------------------------------------------------------
    Case("calibrate: --min-area nan", lambda r: _calibrate(r, "--min-area", "nan")),
    Case("calibrate: --min-area inf", lambda r: _calibrate(r, "--min-area", "inf")),
    Case("calibrate: --min-area negative", lambda r: _calibrate(r, "--min-area", "-1")),
    Case("calibrate: --area-mm2-thr (earlier name) negative", lambda r: _calibrate(r, "--area-mm2-thr", "-1")),
    Case("calibrate: --score-percentile 0", lambda r: _calibrate(r, "--score-percentile", "0")),
    Case("calibrate: --score-percentile 101", lambda r: _calibrate(r, "--score-percentile", "101")),
    Case("calibrate: --score-percentile nan", lambda r: _calibrate(r, "--score-percentile", "nan")),
    Case("calibrate: --ok folder missing", lambda r: ["calibrate", str(r / "good"), "--ok", str(r / "nope"), *_cfg(r)]),
    Case("calibrate: --ng holds a broken image", lambda r: _calibrate(r, "--ng", str(r / "bad" / "truncated.png"))),
    Case("calibrate: project missing", lambda r: _calibrate(r, project="nope")),
    Case("calibrate: older model version", lambda r: _calibrate(r, project="m_old_model")),
    Case("calibrate: --json into a folder", lambda r: _calibrate(r, "--json", str(r / "out_dir"))),
    Case("calibrate: the project is being saved by another process", lambda r: _calibrate(r),
         around=lambda r: _HeldLock(r / "good")),
    Case("calibrate: disk full", lambda r: _calibrate(r), around=lambda r: _OsFault(r / "good", errno.ENOSPC)),
    # -- info -----------------------------------------------------------------------------------------------
    Case("info: project missing", lambda r: ["info", str(r / "nope")]),
    Case("info: folder without a model", lambda r: ["info", str(r / "no_model")]),
    Case("info: manifest lacks a key", lambda r: ["info", str(r / "m_missing")]),
    Case("info: manifest value of the wrong type", lambda r: ["info", str(r / "m_type")]),
    Case("info: truncated embeddings", lambda r: ["info", str(r / "e_truncated")]),
    Case("info: coreset index of the wrong dimension", lambda r: ["info", str(r / "c_dim")]),
    Case("info: empty coreset index", lambda r: ["info", str(r / "c_empty")]),
    Case("info: older model version", lambda r: ["info", str(r / "m_old_model")],
         says=lambda r: [str(r / "m_old_model")]),
    Case("info: manifest config value out of range", lambda r: ["info", str(r / "m_cfg_value")],
         says=lambda r: ["n_neighbors", "got 0"]),
    Case("info: manifest backbone_kwargs unknown", lambda r: ["info", str(r / "m_cfg_kwargs")],
         says=lambda r: ["depht"]),
    Case("info: weights a pickled file", lambda r: ["info", str(r / "m_weights_pickled")],
         says=lambda r: [str(r / "bad" / "pickled.pth")]),
    Case("info: weights not a weights file", lambda r: ["info", str(r / "m_weights_text")],
         says=lambda r: [str(r / "bad" / "weights.pth"), "not a PyTorch"]),
    Case("info: checkpoint_path a pickled file", lambda r: ["info", str(r / "m_checkpoint")],
         says=lambda r: [str(r / "bad" / "pickled.pth")]),
    Case("info: embeddings of another width", lambda r: ["info", str(r / "e_width")],
         says=lambda r: [str(r / "e_width"), "152 wide"]),
    Case("info: --json into a folder", lambda r: ["info", str(r / "good"), "--json", str(r / "out_dir")]),
]
