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


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
