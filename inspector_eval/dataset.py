"""MVTec-layout category reader and seeded few-shot subsets, shared by every method.

Layout: ``train/good/``, ``test/good/``, ``test/<defect>/``, and
``ground_truth/<defect>/<name>_mask.png`` (0/255). A defect image without a
mask still counts for image-level metrics; pixel metrics use only images with
masks plus the good ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

from inference import IMAGE_SUFFIXES, load_image

CALIBRATION_DEFAULT = 10


@dataclass
class TestImage:
    path: Path
    defect: str  # "good" or the defect folder name
    mask_path: Optional[Path] = None

    @property
    def is_defect(self) -> bool:
        return self.defect != "good"


@dataclass
class Category:
    name: str
    root: Path
    train_good: list[Path]
    test: list[TestImage]

    @property
    def n_defect(self) -> int:
        return sum(t.is_defect for t in self.test)

    @property
    def n_masked(self) -> int:
        return sum(t.mask_path is not None for t in self.test)


@dataclass
class Split:
    """Which OK images teach (per shot count) and which only calibrate; fixed by the seed."""

    calibration: list[Path]
    pool: list[Path]  # seeded order: the first k are the k-shot subset, so subsets are nested
    shots: dict = field(default_factory=dict)  # label ("1", ..., "all") -> list[Path]


def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def is_category(folder: Path) -> bool:
    return (folder / "train" / "good").is_dir() and (folder / "test").is_dir()


def find_categories(root: Path, names: Optional[Sequence[str]] = None) -> list[Path]:
    """`root` itself if it is one category, else its category sub-folders (optionally only `names`)."""
    root = Path(root)
    if is_category(root):
        found = [root]
    else:
        found = sorted(p for p in root.iterdir() if p.is_dir() and is_category(p)) if root.is_dir() else []
    if names:
        by_name = {p.name: p for p in found}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise FileNotFoundError(f"categories not found under {root}: {missing}; found {sorted(by_name)}")
        found = [by_name[n] for n in names]
    if not found:
        raise FileNotFoundError(f"no MVTec-layout category (train/good + test/) under {root}")
    return found


def read_category(folder: Path) -> Category:
    folder = Path(folder)
    train = _images(folder / "train" / "good")
    if not train:
        raise FileNotFoundError(f"{folder}: train/good holds no images")
    tests: list[TestImage] = []
    for sub in sorted(p for p in (folder / "test").iterdir() if p.is_dir()):
        for img in _images(sub):
            mask = None
            if sub.name != "good":
                candidate = folder / "ground_truth" / sub.name / f"{img.stem}_mask.png"
                mask = candidate if candidate.is_file() else None
            tests.append(TestImage(img, sub.name, mask))
    if not any(t.is_defect for t in tests) or not any(not t.is_defect for t in tests):
        raise FileNotFoundError(f"{folder}: test/ needs good and defect images for AUROC")
    return Category(folder.name, folder, train, tests)


def parse_shots(text: str) -> list[str]:
    """'1,2,4,all' -> ['1', '2', '4', 'all'], validated."""
    out = []
    for part in (p.strip().lower() for p in text.split(",") if p.strip()):
        if part != "all" and (not part.isdigit() or int(part) < 1):
            raise ValueError(f"shot counts are positive integers or 'all', got {part!r}")
        out.append(part)
    if not out:
        raise ValueError("no shot counts given")
    return out


def make_split(category: Category, shots: Sequence[str], seed: int = 0,
               n_calibration: int = CALIBRATION_DEFAULT) -> Split:
    """Seeded permutation of train/good: the last n_calibration only calibrate, the rest are the shot pool.

    Calibration images never teach, so the threshold is set from OK images the
    model has not seen, as on a line. At least one image always stays in the pool.
    """
    rng = np.random.default_rng(seed)
    order = [category.train_good[i] for i in rng.permutation(len(category.train_good))]
    n_cal = max(0, min(n_calibration, len(order) - 1))
    pool, calibration = order[: len(order) - n_cal], order[len(order) - n_cal:]
    split = Split(calibration, pool)
    for label in shots:
        k = len(pool) if label == "all" else int(label)
        if k <= len(pool):
            split.shots[label] = pool[:k]
    return split


def load_mask(item: TestImage, shape: tuple[int, int]) -> Optional[np.ndarray]:
    """Boolean mask at `shape` (h, w) of the image; all False for good images; None when missing."""
    if not item.is_defect:
        return np.zeros(shape, bool)
    if item.mask_path is None:
        return None
    raw = cv2.imread(str(item.mask_path), cv2.IMREAD_GRAYSCALE)
    if raw is None:
        raise FileNotFoundError(f"cannot read mask {item.mask_path}")
    if raw.shape != tuple(shape):
        raw = cv2.resize(raw, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return raw > 127


def load_images(paths: Sequence[Path]) -> list[np.ndarray]:
    """RGB uint8 arrays, loaded once, so that timings never include disk reads or JPEG decoding."""
    return [load_image(p) for p in paths]


def common_size(images: Sequence[np.ndarray]) -> Optional[tuple[int, int]]:
    """None when every image has the same (height, width); else the most common one (first seen on a tie)."""
    sizes = [im.shape[:2] for im in images]
    if len(set(sizes)) <= 1:
        return None
    counts: dict = {}
    for hw in sizes:
        counts[hw] = counts.get(hw, 0) + 1
    return max(counts, key=lambda hw: (counts[hw], -sizes.index(hw)))


def resize_all(images: Sequence[np.ndarray], hw: tuple[int, int]) -> list[np.ndarray]:
    """Every image resized whole (area averaging when shrinking) to height x width `hw`."""
    out = []
    for im in images:
        if im.shape[:2] == tuple(hw):
            out.append(im)
        else:
            shrink = im.shape[0] * im.shape[1] > hw[0] * hw[1]
            out.append(cv2.resize(im, (hw[1], hw[0]), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR))
    return out
