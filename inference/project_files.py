"""The names of a project's files, shared by its writer (project.py) and its readers (project_reader.py)."""

import hashlib

MANIFEST = "manifest.json"
EMBEDDINGS = "embeddings.npy"
CORESET = "coreset.faiss"
CALIBRATION = "calibration.json"
SETTINGS = "settings.json"
PENDING = ".pending"
COMMIT_MARKER = "COMMIT"
LOCK = ".lock"
MODEL_FILES = (EMBEDDINGS, CORESET)
# Model versions (issue 19): versions/vN/ holds one immutable version (its model files, manifest.json and
# version.json); the top level holds the active version's files and ACTIVE names it.
VERSIONS = "versions"
VERSION_META = "version.json"
ACTIVE = "active_version.json"
# The audit trail: one JSON object per line, appended, never rewritten.
AUDIT = "audit.jsonl"


def version_number(version_id: str) -> int:
    """3 for "v3"; ValueError for anything else."""
    if not (isinstance(version_id, str) and version_id[:1] == "v" and version_id[1:].isdigit()):
        raise ValueError(f"not a version name: {version_id!r} (versions are v1, v2, ...)")
    return int(version_id[1:])


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
