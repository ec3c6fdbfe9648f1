"""What a saved model's manifest.json must hold, checked field by field on every read and write.

A manifest with a missing key or a value of the wrong type is a ProjectError
naming the key, never a KeyError or TypeError deep in the engine.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .errors import ProjectError

# 2: calibration.json is sealed into the model (its sha256 in "files").
SCHEMA_VERSION = 2
# Changes when features or scores change so that old models must be refitted.
MODEL_VERSION = "2026.11"

_NUMBER = (int, float)
# key: (accepted types, may be None)
FIELDS: dict[str, tuple[tuple, bool]] = {
    "schema_version": ((int,), False),
    "model_version": ((str,), False),
    "app_version": ((str,), True),
    "model_id": ((str,), False),
    "backbone": ((dict,), False),
    "input_size": ((int,), False),
    "token_shape": ((list,), False),
    "config": ((dict,), False),
    "roi": ((dict,), False),
    "mm_per_px": (_NUMBER, True),
    "n_images": ((int,), False),
    "images": ((list,), False),
    "n_embeddings": ((int,), False),
    "coreset_size": ((int,), False),
    "files": ((dict,), False),
}
BACKBONE_FIELDS: dict[str, tuple] = {"name": (str,), "timm_name": (str,), "kind": (str,), "feature_dim": (int,),
                                     "weights": (dict,)}


def _type_name(types: tuple) -> str:
    return " or ".join(t.__name__ for t in types)


def _check(path: Path, key: str, value: Any, types: tuple, nullable: bool) -> None:
    if value is None and nullable:
        return
    if isinstance(value, bool) or not isinstance(value, types):
        raise ProjectError(f"{path}: '{key}' must be {_type_name(types)}, got {type(value).__name__}: "
                           "the manifest is damaged; refit the model")


def validate_manifest(manifest: Any, path: Path) -> dict:
    """`manifest` if every field the engine reads is present and of its type; else ProjectError."""
    if not isinstance(manifest, dict):
        raise ProjectError(f"{path} is not a manifest (a JSON object is expected): refit the model")
    schema = manifest.get("schema_version")
    if not isinstance(schema, int) or isinstance(schema, bool):
        raise ProjectError(f"{path} has no schema_version: not a project of this application")
    if schema > SCHEMA_VERSION:
        raise ProjectError(f"project {path.parent} was saved by a newer version (schema {schema}); this version "
                           f"reads up to schema {SCHEMA_VERSION}: update the application")
    missing = [k for k in FIELDS if k not in manifest]
    if missing:
        raise ProjectError(f"{path} lacks {', '.join(missing)}: the manifest is damaged; refit the model")
    for key, (types, nullable) in FIELDS.items():
        _check(path, key, manifest[key], types, nullable)
    for key, types in BACKBONE_FIELDS.items():
        if key not in manifest["backbone"]:
            raise ProjectError(f"{path} lacks backbone.{key}: the manifest is damaged; refit the model")
        _check(path, f"backbone.{key}", manifest["backbone"][key], types, False)
    shape = manifest["token_shape"]
    if len(shape) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape):
        raise ProjectError(f"{path}: 'token_shape' must be two positive integers: refit the model")
    for key in ("input_size", "n_embeddings", "coreset_size"):
        if manifest[key] <= 0:
            raise ProjectError(f"{path}: '{key}' must be positive, got {manifest[key]}: refit the model")
    if manifest["coreset_size"] > manifest["n_embeddings"]:
        raise ProjectError(f"{path}: coreset_size exceeds n_embeddings: the manifest is damaged; refit the model")
    mm = manifest["mm_per_px"]
    if mm is not None and not (math.isfinite(mm) and mm > 0):
        raise ProjectError(f"{path}: 'mm_per_px' must be a positive number, got {mm}")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in manifest["files"].items()):
        raise ProjectError(f"{path}: 'files' must map file names to sha256 strings: refit the model")
    return manifest
