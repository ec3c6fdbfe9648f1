"""One evaluation run: for each category and shot count, fit every method on the same OK images,
calibrate on the same held-out OK images, score the same test images, and measure.

Fit and calibration run one method at a time (peak memory is measured there); test images are
then scored interleaved across methods, so that load from other processes hits every method alike.

A method is any object with name, quality_meaningful, describe(), fit(images) -> timings dict,
score(image) -> (score, map over the whole image), feature_stages(batch) and close().
"""

from __future__ import annotations

import ctypes
import gc
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from inference import CALIBRATION_METHODS, calibrate, calibrate_by, capture_shift_warning
from . import metrics
from .dataset import Category, common_size, load_images, load_mask, make_split, read_category, resize_all

PIXEL_SIZE_DEFAULT = 128
# Defect test images that also set the OK+NG thresholds of the operating point (metrics.operating_point);
# its FRR / FAR are counted on the other test images. AUROC, pixel AUROC and AUPRO use every test image.
CALIBRATION_NG_DEFAULT = 5


def calibration_ng_indices(is_defect: np.ndarray, n: int) -> list[int]:
    """n defect test images spread evenly over the sorted list (so over the defect types), fixed, no seed."""
    defects = np.flatnonzero(is_defect)
    n = min(n, max(len(defects) - 1, 0))  # at least one defect stays for the test FAR
    if n <= 0:
        return []
    return [int(defects[i]) for i in np.linspace(0, len(defects) - 1, n).round().astype(int)]


def _log(msg: str) -> None:
    print(f"[eval {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _libc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def return_freed_memory_to_system() -> None:
    """Called once by `inspector eval`, never at import: a fixed mmap threshold (M_MMAP_THRESHOLD = -3)
    makes large buffers go back to the system when freed, so the RSS before each fit is a fair baseline
    for the next peak."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(-3, 256 * 1024)


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * 4096
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class MemorySampler:
    """Peak resident memory of this process while the block runs, sampled every few ms."""

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.base = self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> "MemorySampler":
        gc.collect()
        libc = _libc()
        if libc is not None:
            libc.malloc_trim(0)
        self.base = self.peak = _rss_bytes()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, _rss_bytes())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())

    @property
    def increase_mb(self) -> float:
        return (self.peak - self.base) / 2**20


def backbone_parity(ours, peer, images: list[np.ndarray], size: int) -> dict:
    """Fit both on one image and compare the raw backbone stages both read on `images`: proof of the same weights.
    (Each method reads its own stages; those only one of them reads have nothing to be compared with.)"""
    from inference import stack_inputs

    ours.fit(images[:1])
    peer.fit(images[:1])
    batch = stack_inputs(images, size)
    a, b = ours.feature_stages(batch), peer.feature_stages(batch)
    common = sorted(set(a) & set(b))
    out = {"stages": common, "shapes_ours": [list(a[i].shape) for i in common],
           "shapes_anomalib": [list(b[i].shape) for i in common],
           "max_abs_diff": [float(np.abs(a[i] - b[i]).max()) if a[i].shape == b[i].shape else None for i in common]}
    out["same"] = bool(common) and all(d is not None and d < 1e-3 for d in out["max_abs_diff"])
    ours.close()
    peer.close()
    return out


class CategoryData:
    """Everything read from disk once per category, so no method pays for reading or decoding."""

    def __init__(self, category: Category, shots: Sequence[str], seed: int, n_calibration: int, pixel_size: int,
                 n_calibration_ng: int = CALIBRATION_NG_DEFAULT):
        self.category = category
        self.split = make_split(category, shots, seed, n_calibration)
        self.pool = load_images(self.split.pool[: max((len(v) for v in self.split.shots.values()), default=0)])
        self.calibration = load_images(self.split.calibration)
        self.test = load_images([t.path for t in category.test])
        # A whole-image model needs one image size; a set of mixed sizes is resized whole (never cropped)
        # to its most common size, before any method sees it, so both methods get the same pixels.
        self.resized_to = common_size(self.pool + self.calibration + self.test)
        if self.resized_to is not None:
            _log(f"{category.name}: images of mixed sizes; all resized whole to {self.resized_to[1]} x "
                 f"{self.resized_to[0]} (width x height)")
            self.pool, self.calibration, self.test = (resize_all(x, self.resized_to)
                                                      for x in (self.pool, self.calibration, self.test))
        self.is_defect = np.array([t.is_defect for t in category.test])
        self.calibration_ng = calibration_ng_indices(self.is_defect, n_calibration_ng)
        masks = [load_mask(t, im.shape[:2]) for t, im in zip(category.test, self.test)]
        # Pixel metrics: defect images with a mask plus all good images; the rest count for image metrics only.
        self.pixel_idx = [i for i, m in enumerate(masks) if m is not None]
        self.masks = np.stack([metrics.mask_to_eval_resolution(masks[i], pixel_size) for i in self.pixel_idx])


def run_shot(methods: Sequence, data: CategoryData, label: str, pixel_size: int,
             score_percentile: float = 99.0) -> list[dict]:
    """Fit and calibrate each method in turn (memory is measured per method there), then score the
    test images interleaved, image by image across methods, so that a busy machine slows all alike."""
    train = data.pool[: len(data.split.shots[label])]
    fits, cals, mems = [], [], []
    for method in methods:
        with MemorySampler() as mem:
            fits.append(method.fit(train))
            cals.append([method.score(im)[0] for im in data.calibration])
            if not data.calibration:
                method.score(data.test[0])  # warm-up, so the first timed image pays no lazy set-up
        mems.append(mem)
    latencies = [[] for _ in methods]
    scores = [[] for _ in methods]
    maps = [[] for _ in methods]
    for im in data.test:
        for j, method in enumerate(methods):
            t = time.perf_counter()
            s, m = method.score(im)
            latencies[j].append(time.perf_counter() - t)
            scores[j].append(s)
            maps[j].append(metrics.to_eval_resolution(m, pixel_size))
    # Taught images scored by their own model (at most 16): the reference of the capture-shift check.
    taught = [[method.score(im)[0] for im in train[:16]] for method in methods]
    records = []
    for j, method in enumerate(methods):
        method.close()
        pix_maps = np.stack([maps[j][i] for i in data.pixel_idx])
        rec = {
            "category": data.category.name, "shots": label, "n_train": len(train), "method": method.name,
            "quality_meaningful": method.quality_meaningful,
            "n_test": len(data.test), "n_defect": int(data.is_defect.sum()), "n_pixel_images": len(data.pixel_idx),
            "n_calibration": len(data.calibration),
            "fit": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in fits[j].items()},
            "latency": metrics.latency_stats(latencies[j]),
            "peak_mem_increase_mb": round(mems[j].increase_mb, 1),
            "peak_rss_mb": round(mems[j].peak / 2**20, 1),
            "image_auroc": metrics.image_auroc(data.is_defect, scores[j]),
            "pixel_auroc": metrics.pixel_auroc(pix_maps, data.masks),
            "aupro": metrics.aupro(pix_maps, data.masks),
            "scores": [round(float(s), 5) for s in scores[j]],
            "latencies_ms": [round(t * 1e3, 2) for t in latencies[j]],
        }
        if cals[j]:
            cal = calibrate(cals[j], score_percentile=score_percentile)
            rec["calibrated"] = metrics.threshold_metrics(data.is_defect, scores[j], cal.threshold)
            # Every OK-only threshold option on the same scores (issue 13), and the capture-shift check.
            rec["calibration_options"] = {
                name: metrics.threshold_metrics(data.is_defect, scores[j], calibrate_by(name, cals[j]).threshold)
                for name in CALIBRATION_METHODS}
            rec["capture_shift_warning"] = capture_shift_warning(taught[j], cals[j])
            rec["operating_point"] = metrics.operating_point(data.is_defect, scores[j], cals[j], data.calibration_ng,
                                                             score_percentile)
            rec["calibration_ng"] = list(data.calibration_ng)
            rec["calibration_scores"] = [round(float(s), 5) for s in cals[j]]
            rec["taught_scores"] = [round(float(s), 5) for s in taught[j]]
        records.append(rec)
    return records


def run(category_dirs: Sequence[Path], shots: Sequence[str], methods: Sequence,
        seed: int = 0, n_calibration: int = 10, pixel_size: int = PIXEL_SIZE_DEFAULT,
        on_record: Optional[Callable[[dict], None]] = None,
        failures: Optional[list] = None, on_category: Optional[Callable[[list], None]] = None,
        max_test: Optional[int] = None, n_calibration_ng: int = CALIBRATION_NG_DEFAULT) -> list[dict]:
    """Every category in turn. A category that cannot run (unreadable images, too few, a method that
    fails on it) is reported in one line, appended to `failures` and skipped; the others go on.
    `on_category(records so far)` runs after each category, so a caller can save what is finished."""
    records: list[dict] = []
    for folder in category_dirs:
        name = Path(folder).name
        try:
            run_category(folder, shots, methods, seed, n_calibration, pixel_size, records, on_record, max_test,
                         n_calibration_ng)
        except Exception as exc:  # one bad category must not lose the others: say which and why, go on
            message = f"{type(exc).__name__}: {exc}".splitlines()[0]
            _log(f"{name}: cannot run, skipped ({message})")
            if failures is not None:
                failures.append({"category": name, "error": message})
            for method in methods:
                try:
                    method.close()
                except Exception:  # a half-fitted method may not close cleanly; the next fit starts afresh
                    pass
        if on_category is not None:
            on_category(records)
    return records


def run_category(folder: Path, shots: Sequence[str], methods: Sequence, seed: int, n_calibration: int,
                 pixel_size: int, records: list, on_record: Optional[Callable[[dict], None]] = None,
                 max_test: Optional[int] = None, n_calibration_ng: int = CALIBRATION_NG_DEFAULT) -> None:
    """Appends each finished (shot, method) record to `records` at once: a later failure keeps them."""
    category = read_category(folder)
    if max_test is not None and len(category.test) > max_test:
        # Every k-th test image (sorted by defect type, then name): good and defect keep their shares.
        picked = np.linspace(0, len(category.test) - 1, max_test).round().astype(int)
        category.test = [category.test[i] for i in picked]
        _log(f"{category.name}: {max_test} of the test images (--max-test)")
    data = CategoryData(category, shots, seed, n_calibration, pixel_size, n_calibration_ng)
    skipped = [s for s in shots if s not in data.split.shots]
    if skipped:
        _log(f"{category.name}: only {len(data.split.pool)} OK images in the shot pool; skipping shots {skipped}")
    for label in data.split.shots:
        t = time.perf_counter()
        for rec in run_shot(methods, data, label, pixel_size):
            if data.resized_to is not None:
                rec["resized_to_hw"] = list(data.resized_to)
            records.append(rec)
            _log(f"{category.name} shots={label} {rec['method']}: image AUROC {_f(rec['image_auroc'])}, "
                 f"pixel AUROC {_f(rec['pixel_auroc'])}, AUPRO {_f(rec['aupro'])}, "
                 f"fit {rec['fit']['total_s']:.2f}s, latency {_f(rec['latency']['median_ms'], 1)} ms{_copies(rec)}")
            if on_record is not None:
                on_record(rec)
        _log(f"{category.name} shots={label}: {time.perf_counter() - t:.0f}s")


def _copies(rec: dict) -> str:
    """Which copies the fit taught (the few-shot policy's choice, or the config's), where it taught any."""
    symmetry = rec["fit"].get("part_symmetry", "none")  # only our method reports it
    if symmetry == "none":  # the policy's evidence said chiral: why no copies where it would teach the mirrors
        return ", no copies: the part is chiral" if (rec["fit"].get("taught_mirror") or {}).get("chiral") else ""
    return f", copies: part_symmetry {symmetry}"


def _f(v, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"
