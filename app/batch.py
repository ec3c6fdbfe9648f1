"""Inspecting a list of images where one unreadable file must not sink the others."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence, Union

import inference

Outcome = Union[inference.InferenceResult, str]  # a result, or why the image could not be inspected


def score_each(engine: inference.Engine, model: inference.Model, paths: Sequence[str],
               progress: inference.ProgressFn, cancel: inference.CancelToken) -> list[Outcome]:
    """One outcome per path, in order: the engine's batches, and only a batch that holds an
    unreadable image is inspected again image by image to find which one it was."""
    step = max(1, int(model.config.batch_size))
    out: list[Outcome] = []
    for start in range(0, len(paths), step):
        chunk = list(paths[start:start + step])
        try:
            out.extend(engine.score_many(model, chunk, cancel=cancel))
        except inference.ImageError:
            for path in chunk:
                try:
                    out.extend(engine.score_many(model, [path], cancel=cancel))
                except inference.ImageError as exc:
                    out.append(str(exc))
        progress("inspecting", len(out), len(paths))
    for path, outcome in zip(paths, out):
        if not isinstance(outcome, str):
            outcome.name = Path(path).name
    return out
