"""The line display: what the monitor at the station shows the operator, for `inspector run --display HOST:PORT`
and the window's Run view (the page and its server: inspector_line/display_server.py).

    display = LineDisplay(shifts=(6, 14, 22))
    publisher = Publisher(..., display=display)    # fed like the PLC: the model, each part, the alarms, the beat
    display.state()                                # JSON: station, this shift's counts, alarms, last part, recent
    display.picture(seq)                           # JPEG of part `seq`: the image, its heatmap, its defects

The last part is drawn when the page asks for it, from the image and map the run holds anyway, shrunk first (a
5 MP camera image costs a few milliseconds, never the line's: the server's thread draws it). The shift's counts
are the history's (production parts, as `inspector history --by shift` counts them), read through a connection
of the display's own, at most once a second and only when a part came or the shift turned. The state says how
long ago the run's loop last beat, so that the page can say a station that hangs, rather than show its last
verdict as if it were current.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

from inference import VerdictCounts, heatmap_rgba

from ..history_periods import DEFAULT_SHIFTS, period_start

PICTURE_PX = 1280  # the picture's longest side at most: a line monitor's width
RECENT = 30  # the parts in the page's strip
COUNTS_EVERY_S = 1.0  # the shift's counts are read again at most this often
HEAT_ALPHA = 0.45  # the heatmap's share over the image inside the ROI
RED, AMBER, WHITE = (230, 40, 40), (255, 190, 0), (235, 235, 235)


class LineDisplay:
    def __init__(self, shifts: Sequence[int] = DEFAULT_SHIFTS, picture_px: int = PICTURE_PX):
        self.shifts = tuple(shifts)
        self.picture_px = int(picture_px)
        self._lock = threading.Lock()
        self._counts_lock = threading.Lock()  # the server answers from several threads; one reads the counts
        self._station = {"project": None, "version": None, "threshold": None, "calibrated": False,
                         "running": False, "started": None}
        self._beat = time.monotonic()
        self._alarms: dict[str, str] = {}
        self._seq = 0
        self._part: Optional[dict] = None
        self._drawn: Optional[tuple[int, np.ndarray, object]] = None  # (seq, image, result) of the last part
        self._jpeg: Optional[tuple[int, bytes]] = None
        self._recent: deque[dict] = deque(maxlen=RECENT)
        self._history_path: Optional[Path] = None
        self._history = None  # the display's own connection, opened by the first state() that needs counts
        self._counts: Optional[tuple[float, int, float, VerdictCounts]] = None  # (shift start, seq, read at, counts)

    # -- fed by the Publisher, from the run's thread --------------------------------------------------------------
    def start(self, history_path) -> None:
        """The run starts; its history (the shift's counts)."""
        with self._lock:
            self._history_path = Path(history_path)
            self._station.update(running=True, started=time.time())
            self._beat = time.monotonic()

    def stop(self) -> None:
        with self._lock:
            self._station["running"] = False

    def beat(self) -> None:
        """The run's loop is alive (called from it every second, as the PLC's Heartbeat is)."""
        self._beat = time.monotonic()

    def set_model(self, model) -> None:
        cal = model.calibration
        with self._lock:
            self._station.update(project=Path(model.folder).name, version=model.version,
                                 threshold=cal.threshold if cal is not None else None, calibrated=cal is not None)

    def set_alarms(self, active: dict) -> None:
        with self._lock:
            self._alarms = dict(active)

    def part(self, outcome, image: Optional[np.ndarray], latency_s: Optional[float]) -> None:
        """One finished part: `image` the RGB pixels it was judged on (None when there were none), kept by
        reference until the next part (the run never writes into them)."""
        largest = outcome.largest_defect
        counting = [r for r in outcome.regions if r.counts]
        unit = "mm²" if largest is not None and largest.area_mm2 is not None else "px"
        with self._lock:
            self._seq += 1
            seq = self._seq
            self._part = {
                "seq": seq, "row_id": outcome.row_id, "name": outcome.name, "part_id": outcome.part_id,
                "verdict": outcome.verdict.value, "score": outcome.score, "threshold": outcome.threshold,
                "reason": outcome.reason, "error_code": int(outcome.error_code), "time": time.time(),
                "latency_ms": None if latency_s is None else round(1000 * latency_s, 1),
                "model_version": outcome.model_version, "defects": len(counting),
                "largest": None if largest is None else {"area": round(largest.area, 3), "unit": unit},
                "master": None if outcome.expected is None else {"expected": outcome.expected.value,
                                                                  "passed": outcome.master_passed},
                "picture": f"picture/{seq}.jpg" if image is not None else None}
            self._recent.appendleft({k: self._part[k] for k in ("seq", "verdict", "name", "part_id", "score",
                                                                "time")} | {"master": outcome.expected is not None})
            self._drawn = (seq, image, outcome.result) if image is not None else None
            self._jpeg = None

    # -- read by the server's thread ------------------------------------------------------------------------------
    def state(self) -> dict:
        """Everything the page shows, as JSON."""
        with self._lock:
            out = {"station": dict(self._station), "now": time.time(),
                   "loop_age_s": round(time.monotonic() - self._beat, 3),
                   "alarms": [{"name": k, "text": v} for k, v in sorted(self._alarms.items())],
                   "part": dict(self._part) if self._part else None, "recent": list(self._recent)}
            seq = self._seq
        out["shift"] = self._shift(seq)
        return out

    def picture(self, seq: int) -> Optional[bytes]:
        """Part `seq`'s picture as JPEG; None once a later part replaced it (or it had no image)."""
        with self._lock:
            if self._jpeg is not None and self._jpeg[0] == seq:
                return self._jpeg[1]
            drawn = self._drawn
        if drawn is None or drawn[0] != seq:
            return None
        jpeg = encode_jpeg(draw_part(drawn[1], drawn[2], self.picture_px))
        with self._lock:
            if self._drawn is drawn:
                self._jpeg = (seq, jpeg)
        return jpeg

    def _shift(self, seq: int) -> dict:
        start = period_start(datetime.now().replace(minute=0, second=0, microsecond=0), "shift", self.shifts)
        began = start.timestamp()
        out = {"label": start.strftime("%Y-%m-%d %H:%M"), "start": began, "counts": None}
        with self._counts_lock:
            cached = self._counts
            fresh = cached is not None and cached[0] == began and (cached[1] == seq
                                                                 or time.monotonic() - cached[2] < COUNTS_EVERY_S)
            if not fresh:
                counts = self._read_counts(began)
                if counts is not None:
                    cached = self._counts = (began, seq, time.monotonic(), counts)
        if cached is not None and cached[0] == began:
            out["counts"] = cached[3].to_dict()
        return out

    def _read_counts(self, since: float) -> Optional[VerdictCounts]:
        """The production parts of the history since `since` (None before the run started, or when the history
        cannot be read now: the page then says the counts are unknown, never zero)."""
        if self._history_path is None:
            return None
        from ..history import History, HistoryError

        try:
            if self._history is None:
                self._history = History(self._history_path)
            return self._history.counts(since=since, purpose="line")
        except HistoryError:
            return None

    def close(self) -> None:
        with self._counts_lock:
            if self._history is not None:
                self._history.close()
                self._history = None


def draw_part(image: np.ndarray, result, max_px: int = PICTURE_PX) -> np.ndarray:
    """The part as the operator sees it: the image shrunk to `max_px` at most, the heatmap over the ROI (on the
    scale every client draws it: the threshold mid-scale), the ROI's border in white and each defect's outline:
    red where it counts, amber where it is too small to."""
    h, w = image.shape[:2]
    s = min(1.0, max_px / max(h, w, 1))
    out = np.ascontiguousarray(cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))),
                                          interpolation=cv2.INTER_AREA) if s < 1.0 else image.copy())
    if out.ndim == 2:
        out = cv2.cvtColor(out, cv2.COLOR_GRAY2RGB)
    if result is None or result.score is None or not result.anomaly_map.size:
        return out
    x0, y0, x1, y1 = (round(v * s) for v in result.box)
    x1, y1 = min(max(x1, x0 + 1), out.shape[1]), min(max(y1, y0 + 1), out.shape[0])
    size = (x1 - x0, y1 - y0)
    if size[0] <= 0 or size[1] <= 0:
        return out
    small = replace(result, anomaly_map=cv2.resize(result.anomaly_map, size, interpolation=cv2.INTER_LINEAR),
                    mask=cv2.resize(result.mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0)
    rgba = heatmap_rgba(small, vmax=2.0 * result.threshold if result.threshold else None)
    a = rgba[..., 3:4].astype(np.float32) * (HEAT_ALPHA / 255.0)
    box = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = (box * (1 - a) + rgba[..., :3].astype(np.float32) * a + 0.5).astype(np.uint8)
    edges, _ = cv2.findContours(small.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(out, edges, -1, WHITE, 1, offset=(x0, y0))
    thick = max(2, round(max(out.shape[:2]) / 400))
    for region in result.regions:
        colour = RED if region.counts else AMBER
        if region.outline is not None and len(region.outline):
            pts = np.round(np.asarray(region.outline, np.float64) * s).astype(np.int32)
            cv2.polylines(out, [pts], True, colour, thick)
        else:
            x, y, bw, bh = (round(v * s) for v in region.bbox)
            cv2.rectangle(out, (x, y), (x + max(bw, 1), y + max(bh, 1)), colour, thick)
    return out


def encode_jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"cannot encode a {rgb.shape} picture as JPEG")
    return buf.tobytes()


__all__ = ["LineDisplay", "PICTURE_PX", "draw_part", "encode_jpeg"]
