"""Image/pixel AUROC, AUPRO (to 30% FPR), and F1/FAR/FRR at a calibrated threshold.

The ROC work is scikit-learn's. AUPRO is a weighted ROC: give each defect
pixel the weight 1 / (number of regions x its region's area) and each normal
pixel the weight 1; then the weighted true-positive rate at a threshold is
exactly the mean per-region overlap (PRO) and the false-positive rate is the
share of normal pixels above it, so sklearn's roc_curve traces the PRO curve
without a hand-written threshold sweep.
"""

from __future__ import annotations

from typing import Optional, Sequence

import cv2
import numpy as np

from inference import InspectorError, rates

AUPRO_FPR_LIMIT = 0.3


def _sk():
    try:
        import sklearn.metrics as skm
    except ImportError:
        raise InspectorError("inspector eval needs scikit-learn: pip install 'inspector[bench]' (or scikit-learn)") from None
    return skm


def image_auroc(is_defect: Sequence[bool], scores: Sequence[float]) -> Optional[float]:
    y = np.asarray(is_defect, bool)
    if y.all() or not y.any():
        return None
    return float(_sk().roc_auc_score(y, np.asarray(scores, np.float64)))


def to_eval_resolution(full_map: np.ndarray, size: int) -> np.ndarray:
    """A map over the whole image (any aspect) -> size x size float32, area-averaged."""
    interp = cv2.INTER_AREA if full_map.shape[0] > size or full_map.shape[1] > size else cv2.INTER_LINEAR
    return cv2.resize(full_map.astype(np.float32), (size, size), interpolation=interp)


def mask_to_eval_resolution(mask: np.ndarray, size: int) -> np.ndarray:
    """A boolean mask -> size x size; a pixel is defect when at least half its area was."""
    return to_eval_resolution(mask.astype(np.float32), size) >= 0.5


def place_in_image(box_map: np.ndarray, box: tuple[int, int, int, int], image_hw: tuple[int, int]) -> np.ndarray:
    """A map that covers the ROI box -> a map over the whole image (0 outside the box)."""
    h, w = image_hw
    x0, y0, x1, y1 = box
    if (x0, y0, x1, y1) == (0, 0, w, h) and box_map.shape == (h, w):
        return box_map
    full = np.zeros((h, w), np.float32)
    full[y0:y1, x0:x1] = box_map
    return full


def pixel_auroc(maps: np.ndarray, masks: np.ndarray) -> Optional[float]:
    """maps, masks: N x S x S (images with masks plus good images)."""
    y = np.asarray(masks, bool).ravel()
    if y.all() or not y.any():
        return None
    return float(_sk().roc_auc_score(y, np.asarray(maps, np.float32).ravel()))


def _region_weights(masks: np.ndarray) -> np.ndarray:
    """Per-pixel weight 1 / (n_regions x region area) inside defect regions, 0 elsewhere."""
    labels = np.zeros(masks.shape, np.int64)
    areas: list[int] = []
    for i, m in enumerate(masks):
        n, lab, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
        if n > 1:
            lab = lab.astype(np.int64)
            lab[lab > 0] += len(areas)
            labels[i] = lab
            areas.extend(int(a) for a in stats[1:, cv2.CC_STAT_AREA])
    weights = np.zeros(masks.shape, np.float64)
    if areas:
        per_region = 1.0 / (len(areas) * np.asarray(areas, np.float64))
        inside = labels > 0
        weights[inside] = per_region[labels[inside] - 1]
    return weights


def aupro(maps: np.ndarray, masks: np.ndarray, fpr_limit: float = AUPRO_FPR_LIMIT) -> Optional[float]:
    """Area under the per-region-overlap curve for FPR in [0, fpr_limit], divided by fpr_limit (1.0 = perfect)."""
    skm = _sk()
    masks = np.asarray(masks, bool)
    if masks.all() or not masks.any():
        return None
    region_w = _region_weights(masks).ravel()
    y = masks.ravel()
    weight = np.where(y, region_w, 1.0)
    fpr, pro, _ = skm.roc_curve(y, np.asarray(maps, np.float32).ravel(), sample_weight=weight)
    keep = fpr <= fpr_limit
    f, p = fpr[keep], pro[keep]
    if f[-1] < fpr_limit:
        # The curve is linear between operating points: close it exactly at the limit.
        j = int(np.searchsorted(fpr, fpr_limit))
        if j < len(fpr):
            t = (fpr_limit - fpr[j - 1]) / (fpr[j] - fpr[j - 1])
            f = np.append(f, fpr_limit)
            p = np.append(p, pro[j - 1] + t * (pro[j] - pro[j - 1]))
    return float(skm.auc(f, p) / fpr_limit)


def threshold_metrics(is_defect: Sequence[bool], scores: Sequence[float], threshold: float) -> dict:
    """F1 (defect = positive), FAR (defects passed as OK) and FRR (OK parts rejected) at `threshold`."""
    skm = _sk()
    y = np.asarray(is_defect, bool)
    s = np.asarray(scores, np.float64)
    far, frr = rates(s[~y], s[y], threshold)
    f1 = float(skm.f1_score(y, s >= threshold, zero_division=0))
    return {"threshold": float(threshold), "f1": f1, "far": far, "frr": frr}


def f1_adaptive_threshold(ok_scores: Sequence[float], ng_scores: Sequence[float]) -> float:
    """anomalib's own threshold (F1AdaptiveThreshold, its default): the score that maximises F1 on the
    validation images (defect = positive); with no defect image, the highest OK score (its fallback)."""
    ok = np.asarray(ok_scores, np.float64)
    ng = np.asarray(ng_scores, np.float64)
    if ng.size == 0:
        return float(ok.max())
    if ok.size == 0:
        return float(ng.min())
    y = np.r_[np.zeros(ok.size, bool), np.ones(ng.size, bool)]
    precision, recall, thresholds = _sk().precision_recall_curve(y, np.r_[ok, ng])
    f1 = 2 * precision * recall / (precision + recall + 1e-10)
    return float(thresholds[min(int(np.argmax(f1[:-1])), len(thresholds) - 1)])


def frr_at_far(is_defect: Sequence[bool], scores: Sequence[float], max_far: float) -> Optional[float]:
    """The lowest FRR any threshold gives with FAR <= max_far on these images (the ROC's best point)."""
    y = np.asarray(is_defect, bool)
    if y.all() or not y.any():
        return None
    fpr, tpr, _ = _sk().roc_curve(y, np.asarray(scores, np.float64))
    # roc_curve: positive = defect, so FAR = 1 - TPR and FRR = FPR.
    ok = (1.0 - tpr) <= max_far + 1e-12
    return float(fpr[ok].min()) if ok.any() else 1.0


def operating_point(is_defect: Sequence[bool], scores: Sequence[float], cal_ok: Sequence[float],
                    cal_ng_idx: Sequence[int], score_percentile: float = 99.0, max_far: float = 0.05) -> dict:
    """What a line lives by, per cell: the calibration NG images (`cal_ng_idx`, defect test images held out
    for this) and the calibration OK images set each threshold; FRR / FAR are counted on the other test
    images. ok_only / ok_ng: our calibrate() without / with the NG images; zero_escape: the highest threshold
    that passes none of the calibration NG images; anomalib_ok_ng / anomalib_ok_only: anomalib's own
    F1-adaptive threshold with / without them; frr_at_far: the test ROC's lowest FRR at FAR <= max_far."""
    from inference import calibrate

    y = np.asarray(is_defect, bool)
    s = np.asarray(scores, np.float64)
    held = np.zeros(len(y), bool)
    held[list(cal_ng_idx)] = True
    cal_ng = s[held]
    y_t, s_t = y[~held], s[~held]
    thresholds = {"ok_only": calibrate(list(cal_ok), score_percentile=score_percentile).threshold,
                  "anomalib_ok_only": f1_adaptive_threshold(cal_ok, [])}
    if cal_ng.size:
        thresholds["ok_ng"] = calibrate(list(cal_ok), list(cal_ng), score_percentile=score_percentile).threshold
        thresholds["zero_escape"] = float(cal_ng.min())
        thresholds["anomalib_ok_ng"] = f1_adaptive_threshold(cal_ok, cal_ng)
    out = {name: threshold_metrics(y_t, s_t, t) for name, t in thresholds.items()}
    out["n_calibration_ng"] = int(cal_ng.size)
    out["n_test"] = int(len(y_t))
    out["frr_at_far"] = {"max_far": max_far, "frr": frr_at_far(y_t, s_t, max_far)}
    return out


def latency_stats(seconds: Sequence[float]) -> dict:
    s = np.asarray(seconds, np.float64)
    if s.size == 0:
        return {"median_ms": None, "p95_ms": None}
    return {"median_ms": float(np.median(s) * 1e3), "p95_ms": float(np.percentile(s, 95) * 1e3)}
