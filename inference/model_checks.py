"""Whether a saved model can inspect, checked without loading the backbone (engine.load, `inspector info`)."""

from __future__ import annotations

from pathlib import Path

from . import knn, project
from .errors import ProjectError, StorageError
from .project_files import EMBEDDINGS


def index_problem(stored: project.StoredModel, index) -> str:
    """What is wrong with the search index for this model ('' when nothing): dimension, size, emptiness."""
    dim, size = stored.record.backbone.feature_dim, stored.record.coreset_size
    if index.d != dim or index.ntotal != size or index.ntotal == 0:
        return (f"coreset.faiss in {stored.folder} holds {index.ntotal} vectors of dimension {index.d}; the model "
                f"needs {size} of dimension {dim}: refit the model")
    return ""


def verify_project(folder: str | Path) -> list[str]:
    """Every problem that stops a project from inspecting, one line each; empty when it is usable.

    One read of every data file, checked against the manifest; then the
    embeddings' shape, the model version and the search index.
    """
    folder = Path(folder)
    try:
        stored = project.load_model(folder)
    except (ProjectError, StorageError) as exc:
        return [str(exc)]
    problems = []
    embeddings, expected = stored.embeddings, stored.record.n_embeddings
    if embeddings.ndim != 2 or embeddings.shape[0] != expected:
        problems.append(f"{EMBEDDINGS} in {folder} holds {embeddings.shape}, the manifest says {expected} "
                        "features: refit the model")
    if stored.record.version_problem():
        problems.append(stored.record.version_problem(folder))
    try:
        problem = index_problem(stored, knn.deserialize(stored.coreset_bytes))
    except ProjectError as exc:
        problem = str(exc)
    return problems + ([problem] if problem else [])
