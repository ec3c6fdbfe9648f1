"""Where each memory-bank row came from, and the taught OK part nearest an inspected one.

At fit (and add) the engine records, for every row of the memory bank, the taught image it was cut from (its
index in the model's image list, `ModelRecord.images`) and its patch position, plus each taught image's crop
geometry; the coreset keeps the bank rows of its vectors. This is stored with the model as `provenance.npz`
(a model file like the others: checksummed in the manifest, carried by versions, add and Save As). Memory:
4 int32 per bank row, 1 per coreset vector, 8 float64 per taught image.

`nearest_taught` then names, for an inspected image, the taught OK part its worst patches matched: the
highest-scoring share (TOP_SHARE) of its patches inside the ROI each vote for the taught image of their
nearest coreset vector; the image with most votes wins (a tie goes to the one matched by the higher-scoring
patch), and the highest-scoring of its voters and the taught patch it matched are the pair marked on both
images. A model fitted before provenance was kept has none: the result says so ("refit to enable"); an add
onto such a model records its new rows and marks the old ones unknown.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from .errors import InspectorError, ProjectError
from .features import PreparedImage, inside_patches, kept_patch_mask
from .preprocess import ImageInput, image_digest, image_name

if TYPE_CHECKING:
    from .fitted import Model

PROVENANCE_FILE = "provenance.npz"
UNKNOWN = -1  # a bank row taught before provenance was kept (rows of an old model, extended by add)
# The share of an image's patches (the highest-scoring) that vote for the nearest taught image.
TOP_SHARE = 0.1
NOT_AVAILABLE = "not available for this model: refit to enable"


@dataclass(frozen=True)
class BankProvenance:
    """rows: N x 4 int32 per bank row (taught image index or UNKNOWN, patch row, patch column, copy: 0 the image
    itself, > 0 an augmented copy, its position given in the image's own grid); crops: K x 8 float64 per taught
    image (crop width, height, then the 2 x 3 map from crop pixels to image pixels; NaN: unknown); coreset: M
    int32, the bank row of each index vector in index order; token_shape: the patch grid (h, w)."""

    rows: np.ndarray
    crops: np.ndarray
    coreset: np.ndarray
    token_shape: tuple[int, int]

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, rows=self.rows.astype(np.int32), crops=self.crops.astype(np.float64),
                 coreset=self.coreset.astype(np.int32), token_shape=np.asarray(self.token_shape, np.int32))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, where: str = PROVENANCE_FILE) -> "BankProvenance":
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                rows, crops, coreset = z["rows"], z["crops"], z["coreset"]
                token_shape = tuple(int(v) for v in z["token_shape"])
        except (ValueError, KeyError, OSError) as exc:
            raise ProjectError(f"{where} cannot be read ({exc}): refit the model") from None
        if rows.ndim != 2 or rows.shape[1] != 4 or crops.ndim != 2 or crops.shape[1] != 8 or coreset.ndim != 1 \
                or len(token_shape) != 2 or (len(coreset) and (coreset.min() < 0 or coreset.max() >= len(rows))):
            raise ProjectError(f"{where} does not match its model: refit the model")
        return cls(rows, crops, coreset, token_shape)

    def coreset_rows(self) -> np.ndarray:
        """M x 4: the provenance of each index vector."""
        return self.rows[self.coreset]


class ProvenanceRecorder:
    """Collects the provenance of the rows a fit adds to the memory bank, in the order it adds them."""

    def __init__(self, token_shape: Sequence[int], n_rows_before: int = 0, n_images_before: int = 0,
                 previous: Optional[BankProvenance] = None, rotations: int = 0, flips: bool = True):
        self.token_shape = (int(token_shape[0]), int(token_shape[1]))
        # Augmented copies 1..rotations keep the grid; with flips the next two are the image mirrored left-right
        # and top-bottom (their rows keep the image's mask, in the mirrored grid). Later copies are the part's
        # symmetric copies, whose grid transform record() is given.
        self.rotations, self.flips = rotations, flips
        if previous is not None and len(previous.rows) == n_rows_before and len(previous.crops) == n_images_before:
            self._rows, self._crops = [previous.rows.astype(np.int32)], [previous.crops.astype(np.float64)]
        else:  # a model without (usable) provenance: its rows and images are unknown
            self._rows = [np.full((n_rows_before, 4), UNKNOWN, np.int32)]
            self._crops = [np.full((n_images_before, 8), np.nan)]
        self.first_image = n_images_before

    def add_images(self, prepared: Sequence[PreparedImage]) -> None:
        self._crops.append(np.array([_crop_geometry(p) for p in prepared], np.float64).reshape(-1, 8))

    def record(self, image: int, copy: int, flat: np.ndarray, transform: tuple = (0, False)) -> None:
        """The rows of taught image `image` (0 = the first image of this fit), copy `copy`, at the flat
        positions `flat` of the copy's patch grid, which is the image's grid turned / mirrored by `transform`
        (foreground.apply)."""
        from .foreground import apply

        h, w = self.token_shape
        flat = np.asarray(flat, np.int64)
        if tuple(transform) != (0, False):  # the image-grid position each turned / mirrored cell came from
            flat = apply(np.arange(h * w).reshape(h, w), tuple(transform), fill=-1).ravel()[flat]
        r, c = np.divmod(flat, w)
        if self.flips and copy == self.rotations + 1:  # a horizontal flip: its column c is the image's w - 1 - c
            c = w - 1 - c
        elif self.flips and copy == self.rotations + 2:
            r = h - 1 - r
        block = np.empty((len(r), 4), np.int32)
        block[:, 0], block[:, 1], block[:, 2], block[:, 3] = self.first_image + image, r, c, copy
        self._rows.append(block)

    def finish(self, coreset_rows: np.ndarray) -> BankProvenance:
        rows = np.concatenate(self._rows) if self._rows else np.zeros((0, 4), np.int32)
        return BankProvenance(rows, np.concatenate(self._crops), np.asarray(coreset_rows, np.int32), self.token_shape)


def _crop_geometry(p: PreparedImage) -> list[float]:
    x0, y0 = p.crop.box[:2]
    h, w = p.crop.pixels.shape[:2]
    if p.placement is not None:
        from .align import crop_matrix

        m = crop_matrix(p.placement, p.crop.box)
    else:
        m = np.array([[1.0, 0.0, x0], [0.0, 1.0, y0]])
    return [float(w), float(h), *(float(v) for v in np.asarray(m).ravel())]


def patch_corners(geometry: np.ndarray, token_shape: tuple[int, int], row: int, col: int) -> list[tuple[float, float]]:
    """The four corners of patch (row, col) in the image's pixels, from a crop geometry row (see BankProvenance)."""
    w, h = geometry[0], geometry[1]
    m = np.asarray(geometry[2:8], np.float64).reshape(2, 3)
    th, tw = token_shape
    xs, ys = (col * w / tw, (col + 1) * w / tw), (row * h / th, (row + 1) * h / th)
    pts = np.array([[xs[0], ys[0]], [xs[1], ys[0]], [xs[1], ys[1]], [xs[0], ys[1]]])
    placed = pts @ m[:, :2].T + m[:, 2]
    return [(round(float(x), 2), round(float(y), 2)) for x, y in placed]


# -- reading it back -----------------------------------------------------------------------------------------------
def model_provenance(model: "Model") -> Optional[BankProvenance]:
    """The model's provenance, or None when it was fitted without (before provenance was kept)."""
    from . import project

    if PROVENANCE_FILE not in model.record.files:
        return None
    source = Path(model.folder)
    if model.version:
        try:
            source = project.version_folder(source, model.version)
        except ProjectError:
            pass  # pruned: the top level holds it while it is active
    try:
        data = project.read_model_file(source, PROVENANCE_FILE, model.record)
    except ProjectError:
        if source == Path(model.folder):
            raise
        data = project.read_model_file(Path(model.folder), PROVENANCE_FILE, model.record)
    prov = BankProvenance.from_bytes(data, str(source / PROVENANCE_FILE))
    if len(prov.coreset) != model.searcher.ntotal:
        raise ProjectError(f"{source / PROVENANCE_FILE} names {len(prov.coreset)} bank vectors, the index holds "
                           f"{model.searcher.ntotal}: refit the model")
    return prov


def read_provenance(folder: Path, record) -> Optional[BankProvenance]:
    """A stored model's provenance (add extends it), or None when it has none."""
    from . import project

    if PROVENANCE_FILE not in record.files:
        return None
    try:
        return BankProvenance.from_bytes(project.read_model_file(Path(folder), PROVENANCE_FILE, record))
    except ProjectError:
        return None  # a damaged provenance file: the add records its own rows, the old ones become unknown


# -- the nearest taught part -------------------------------------------------------------------------------------
@dataclass
class NearestTaught:
    """The taught OK part nearest an inspected image, and the matched pair of patches.

    available: False when the model has no provenance, the part was not found, or every vote went to rows of
    unknown origin (`note` says why). image_index / name: the taught image (its entry in the model's image list);
    file_state: "ok", "missing" (the file is gone), "changed" (it no longer has the taught content) or "array"
    (taught from pixels, no file). part_patch / taught_patch: the four corners of the matched patches in the
    inspected and the taught image's pixels; distance: the inspected patch's score (mean kNN distance);
    votes of considered: how many of the highest-scoring patches matched this taught image; augmented: the match
    was an augmented copy of the image (its position is the image's, up to the copy's small rotation).
    """

    available: bool
    note: str = ""
    image_index: Optional[int] = None
    name: str = ""
    file_state: str = ""
    part_patch: list = field(default_factory=list)
    taught_patch: list = field(default_factory=list)
    distance: Optional[float] = None
    votes: int = 0
    considered: int = 0
    augmented: bool = False
    patch: Optional[tuple[int, int]] = None  # (row, col) of the inspected patch in its grid
    taught_position: Optional[tuple[int, int]] = None  # (row, col) in the taught image's grid


def vote(scores: np.ndarray, nearest_images: np.ndarray, kept: np.ndarray) -> tuple[Optional[int], list[int], int]:
    """(winning taught image or None, the flat indices of the patches that voted for it by falling score, how many
    patches voted): the TOP_SHARE highest-scoring kept patches vote for the image of their nearest bank row."""
    flat = np.flatnonzero(kept.ravel())
    if not len(flat):
        return None, [], 0
    n = max(1, int(np.ceil(TOP_SHARE * len(flat))))
    order = flat[np.argsort(-scores.ravel()[flat], kind="stable")][:n]
    known = [int(i) for i in order if nearest_images[i] != UNKNOWN]
    if not known:
        return None, [], n
    counts = Counter(int(nearest_images[i]) for i in known)
    first = {}
    for rank, i in enumerate(known):
        first.setdefault(int(nearest_images[i]), rank)
    winner = max(counts, key=lambda img: (counts[img], -first[img]))
    return winner, [i for i in known if nearest_images[i] == winner], n


def nearest_taught(model: "Model", image: ImageInput, name: Optional[str] = None) -> NearestTaught:
    """The taught OK part nearest `image` for `model` (see the module docstring). Bad input raises
    InspectorError, as inspection does; a frame the image check stops (too dark, too bright, no contrast) has no
    nearest part, and the note says why, as for a part not found."""
    from .image_check import ImageCheckError
    from .placement import embed_found, prepare_inspection

    prov = model_provenance(model)
    if prov is None:
        return NearestTaught(False, NOT_AVAILABLE)
    name = name if name is not None else image_name(image, 0)
    try:
        p = prepare_inspection(model, [image], model.record.same_size, 0, [name])[0]
    except ImageCheckError as exc:
        return NearestTaught(False, f"no nearest taught part: {exc}")
    if p.not_found:
        return NearestTaught(False, f"no nearest taught part: {p.not_found}")
    feats = embed_found(model.backbone, [p])[0]
    c, h, w = feats.shape
    scores, nearest = model.searcher.search(feats.reshape(c, -1).T, model.config.n_neighbors)
    kept = kept_patch_mask(model.roi, model.ignore, p.crop.box, (h, w))
    if p.valid is not None:
        kept = kept & inside_patches(p.valid, (h, w))
    bank = prov.coreset_rows()
    matched = bank[nearest]  # per inspected patch: the provenance of its nearest coreset vector
    winner, voters, considered = vote(scores, matched[:, 0], kept)
    if winner is None:
        why = ("the patches it matched were taught before this model kept where they came from: refit to enable"
               if considered else "no patch of the part lies inside the ROI")
        return NearestTaught(False, why, considered=considered)
    best = voters[0]
    _, t_row, t_col, copy = (int(v) for v in matched[best])
    geometry = prov.crops[winner]
    taught_patch = [] if np.isnan(geometry).any() else patch_corners(geometry, prov.token_shape, t_row, t_col)
    part_patch = patch_corners(np.array(_crop_geometry(p)), (h, w), best // w, best % w)
    entry = model.record.images[winner] if winner < len(model.record.images) else {}
    taught_name = str(entry.get("name", ""))
    return NearestTaught(True, "", winner, taught_name, file_state(taught_name, entry.get("sha256")), part_patch,
                         taught_patch, float(scores.ravel()[best]), len(voters), considered, copy > 0,
                         (best // w, best % w), (t_row, t_col))


def file_state(name: str, sha256: Optional[str]) -> str:
    """"ok", "missing", "changed" (other content than taught) or "array" (taught from pixels, no file)."""
    if not name or name.startswith("<array"):
        return "array"
    path = Path(name)
    if not path.is_file():
        return "missing"
    try:
        return "ok" if not sha256 or image_digest(path) == sha256 else "changed"
    except (OSError, InspectorError):
        return "missing"
