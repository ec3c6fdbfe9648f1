"""An exported model: a project folder with its backbone as an OpenVINO IR, inspected without torch or timm.

`export_model` writes the folder: the project's model files (coreset.faiss, the memory bank,
manifest.json, calibration.json, the alignment reference when the model aligns, all checked
as `copy_model` checks them), `openvino/features.{xml,bin}` (the conversion of
Backbone.feature_grid with the model's weights) and `export.json` (what the IR was built
from and its sha256), written last. Exported with `precision: int8`, the IR is the model's quantised one
(gated on its taught images, inference/int8_model.py); its unquantised operations run in the machine's
precision (auto: bf16 where native). `EdgeEngine` is the Engine whose backbone is that IR:
load() runs every check a project gets (model version, backbone and weights sha256,
index), inspection is the same code (placement, search, map, score, verdict). The edge
install (`pip install -e .[edge]`: openvino, faiss-cpu, numpy, opencv, pyyaml, pillow)
imports nothing else: torch and timm load only when a backbone is built or a model fitted.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import numpy as np

from . import __version__
from . import ir_cache
from . import openvino_runtime as ovr
from .config import EngineConfig
from .engine import Engine
from .errors import InspectorError, ProjectError
from .project_reader import file_stamp

EXPORT_FILE = "export.json"
IR_FOLDER = "openvino"
EXPORT_FORMAT = 1


def is_export(folder) -> bool:
    return folder is not None and (Path(folder) / EXPORT_FILE).is_file()


def read_export(folder) -> Optional[dict]:
    """What export.json says the folder holds (the project and version it came from, precision, OpenVINO
    version); None for a project that is not an export, or whose export.json cannot be read (load says why)."""
    try:
        meta = json.loads((Path(folder) / EXPORT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def engine_for(folder, config: Optional[EngineConfig] = None, shared: Optional[Engine] = None) -> Engine:
    """The engine that inspects `folder`: for an exported folder the EdgeEngine of its IR (`shared` when it is
    that folder's already), else `shared` or a new Engine. Every client gets its engine for a folder here (the
    Station does), so an export inspects with its own network wherever it is opened, never with a torch
    backbone rebuilt from the weights. `config`: default `shared`'s, else config.yaml's."""
    config = config or (shared.config if shared is not None else EngineConfig.load())
    if is_export(folder):
        if isinstance(shared, EdgeEngine) and shared.folder == Path(folder) and shared.config == config:
            return shared
        return EdgeEngine(folder, config)
    return shared if shared is not None and not isinstance(shared, EdgeEngine) else Engine(config)


def device_name(use_gpu: bool) -> str:
    """Where backbones compute here ("cuda" or "cpu"), asked without building one: an installation without torch
    (the edge install) computes on the CPU."""
    try:
        from .backbone import pick_device
    except ModuleNotFoundError:
        return "cpu"
    return str(pick_device(use_gpu))


def export_model(engine: Engine, project, out) -> dict:
    """Export `project`'s model into the new or empty folder `out`; returns export.json's content."""
    from .project import atomic_write, copy_model

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InspectorError(f"{out} is a file: export into a new or empty folder")
    if out.exists() and any(out.iterdir()):
        raise InspectorError(f"{out} is not an empty folder: export into a new or empty folder")
    if out.resolve().is_relative_to(Path(project).resolve()):  # the project's folder is the project's alone
        raise InspectorError(f"{out} is inside the project {project}: export into a folder outside it")
    if not ovr.available():
        raise InspectorError("export needs the openvino package: pip install -e '.[openvino]'")
    model = engine.load(project)  # every compatibility check: weights sha256, model version, index
    backbone = model.backbone
    ir = backbone.openvino_ir()
    # The export's own versions start at v1: its note names the project's version, which the line's history
    # rows (model_version v1 of the export) are traced back to.
    source = str(Path(project).resolve())
    copy_model(Path(project), out, note=f"exported from {source} version {model.version}")
    digests = {}
    for name in ir_cache.IR_FILES:
        data = (ir.parent / name).read_bytes()
        atomic_write(out / IR_FOLDER / name, data)
        digests[name] = hashlib.sha256(data).hexdigest()
    meta = {
        "format": EXPORT_FORMAT, "app_version": __version__, "openvino": ovr.version(),
        "precision": "int8" if backbone.precision_name == "int8" else "fp32",
        "model_id": model.model_id, "version": model.version,  # the project's active version, which the line uses
        "exported_from": source, "exported": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "timm_name": backbone.preset.timm_name, "kind": backbone.preset.kind,
        "feature_dim": backbone.feature_dim, "token_shape": list(backbone.token_shape),
        "input_size": backbone.config.input_size, "weights": backbone.weights.to_dict(), "ir_sha256": digests,
    }
    if meta["precision"] == "int8":  # quantised for a CPU's weight range: this machine's, or the export's it copies
        meta["int8_weights"] = backbone.int8_weights if isinstance(backbone, EdgeBackbone) else ovr.int8_weight_range()
    atomic_write(out / EXPORT_FILE, (json.dumps(meta, indent=1) + "\n").encode())  # last: the folder is whole
    return meta


@dataclass
class EdgeBackbone:
    """The exported IR in the place of a Backbone: what load's checks and inspection ask of one."""

    config: EngineConfig
    grid: ovr.CompiledGrid
    preset: SimpleNamespace
    weights: SimpleNamespace
    feature_dim: int
    token_shape: tuple
    runtime: str = "openvino"
    device: object = field(default_factory=lambda: SimpleNamespace(type="cpu"))

    int8: bool = False
    int8_weights: str = "full"  # an int8 network's weight range (export.json; ovr.int8_weight_range)
    ir: Optional[Path] = None  # the exported features.xml
    int8_cosine = None  # the gate's cosine stays with the fit's machine: an export does not keep it

    @property
    def precision_name(self) -> str:
        return "int8" if self.int8 else self.grid.precision

    def embed(self, images: np.ndarray) -> np.ndarray:
        return self.grid(images)

    def openvino_ir(self) -> Path:
        """The network as exported (an export of an exported folder copies it as it is)."""
        return self.ir


class EdgeEngine(Engine):
    """An Engine for one exported folder: inspects and calibrates; teaching belongs to the original project."""

    def __init__(self, folder, config: Optional[EngineConfig] = None):
        super().__init__(config)
        self.folder = Path(folder)
        self._edge: Optional[EdgeBackbone] = None
        self._stamp: Optional[tuple] = None

    def backbone(self, config: EngineConfig) -> EdgeBackbone:
        # A folder exported again in place (a new export copied over it while the service or the run mode keeps
        # this engine) has a new export.json, written last: its network is read again with the model's files,
        # never the old network paired with the new memory bank.
        stamp = file_stamp(self.folder / EXPORT_FILE)
        with self._backbone_lock:
            if self._edge is None or self._edge.config != config or self._stamp != stamp:
                self._edge, self._stamp = _load_ir(self.folder, config), stamp
            return self._edge

    def fit(self, *args, **kwargs):
        raise InspectorError(f"{self.folder} is an exported model: it inspects only; teach the original project "
                             "and export it again")

    add = fit

    def _inspecting(self, config: EngineConfig, folder, record, version=None, samples=None):
        # The exported IR is the network, quantised or not (_load_ir); auto's low precision is checked as a
        # project's is, the IR compiled in fp32 against it.
        backbone = self.backbone(config)
        if backbone.int8:
            return config, backbone, {}
        return self._precision_checked(config, backbone, folder, record, samples)


def _load_ir(folder: Path, config: EngineConfig) -> EdgeBackbone:
    try:
        meta = json.loads((folder / EXPORT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProjectError(f"{folder / EXPORT_FILE} cannot be read ({exc}): export the model again") from None
    if meta.get("format") != EXPORT_FORMAT:
        raise ProjectError(f"{folder} was exported in format {meta.get('format')!r}; this version reads "
                           f"{EXPORT_FORMAT}: export the model again with this version")
    digests = []
    for name in ir_cache.IR_FILES:
        path = folder / IR_FOLDER / name
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            raise ProjectError(f"{path} cannot be read ({exc.strerror or exc}): export the model again") from None
        if digest != meta["ir_sha256"].get(name):
            raise ProjectError(f"{path} is not the file exported with this model (sha256 differs): export again")
        digests.append(digest)
    if config.input_size != meta["input_size"]:
        raise ProjectError(f"the exported backbone takes {meta['input_size']} px images, the model {config.input_size}")
    int8 = meta.get("precision") == "int8"
    if config.precision == "int8" and not int8:
        raise ProjectError(f"precision int8: {folder} holds the fp32 network; export the project again with "
                           "precision int8, or set precision auto")
    if int8 and meta.get("int8_weights", "full") == "full" and ovr.int8_weight_range() == "half":
        raise ProjectError(
            f"{folder} holds an int8 network with the full 8-bit weight range, made on a CPU with VNNI: this CPU "
            "shows no VNNI (avx512_vnni, avx_vnni or amx_int8) and would saturate its sums, moving the features "
            "past what int8's check measured. Export the project with precision int8 on a CPU without VNNI (that "
            "network runs on every CPU), or with precision auto")
    # An int8 IR's unquantised operations run in the machine's precision (the setting int8 means auto there).
    compute = _precision("auto" if config.precision == "int8" else config.precision)
    try:
        grid = _compiled(folder / IR_FOLDER / ir_cache.IR_NAME, tuple(digests), compute)
    except RuntimeError as exc:  # the files are the exported ones (sha256 above): this OpenVINO cannot read them
        why = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else type(exc).__name__
        made, here = str(meta.get("openvino", "?")).split("-")[0], ovr.version().split("-")[0]
        versions = f", exported with OpenVINO {made}," if made != here else ""
        raise ProjectError(f"{folder}'s network{versions} cannot be read by OpenVINO {here} here ({why}): export "
                           "the model again" + (" with this OpenVINO version, or install the exporting one"
                                                if versions else "")) from None
    weights = meta["weights"]
    return EdgeBackbone(config, grid, SimpleNamespace(timm_name=meta["timm_name"], kind=meta["kind"]),
                        SimpleNamespace(sha256=weights.get("sha256"), path=weights.get("path"),
                                        source=weights.get("source"), to_dict=lambda: dict(weights)),
                        int(meta["feature_dim"]), tuple(meta["token_shape"]), int8=int8,
                        int8_weights=meta.get("int8_weights", "full"), ir=folder / IR_FOLDER / ir_cache.IR_NAME)


# Compiled networks by (IR files' sha256, compute precision), while a loaded model holds them: exports of the same
# backbone (a line's recipes, each its own export) share one compiled network, as projects share an Engine's
# backbone, instead of one per folder. A CompiledGrid's calls take turns (one infer request, locked).
_GRIDS: "weakref.WeakValueDictionary[tuple, ovr.CompiledGrid]" = weakref.WeakValueDictionary()
_GRIDS_LOCK = threading.Lock()


def _compiled(xml: Path, digests: tuple, compute: str) -> ovr.CompiledGrid:
    with _GRIDS_LOCK:
        grid = _GRIDS.get((digests, compute))
        if grid is None:
            grid = _GRIDS[(digests, compute)] = ovr.CompiledGrid(xml, compute)
        return grid


def _precision(setting: str) -> str:
    """The IR's compute precision for `precision`: auto is bf16 where the CPU has it natively, else fp32."""
    if setting != "auto":
        return setting
    import openvino as ov

    return "bf16" if "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES") else "fp32"
