"""The line display: what the monitor at the station shows the operator, for `inspector run --display HOST:PORT`,
the window's Run view (the page and its server: inspector_line/display_server.py) and the service's
/projects/NAME/display/ (inspector_service/display.py).

    display = LineDisplay(shifts=(6, 14, 22))
    publisher = Publisher(..., display=display)    # fed like the PLC: the model, each part, the alarms, the beat
    display.state()                                # JSON: station, this shift's counts, alarms, last part, last NG
    display.picture(seq)                           # JPEG of part `seq`: the image, its heatmap, its defects

The last NG part stays on the page beside the last part (at ten parts a second an NG would otherwise show for a
tenth of a second), so its image and map are kept until the next NG. A picture is drawn when the page asks for
it, shrunk first, by the server's thread, never the line's. The shift's counts are the history's production
parts, as `inspector history --by shift` counts them: read once as the run starts and as a shift turns, from the
run's thread between two parts (so no part is counted twice or missed), and counted on from the parts published
since, so that the counts and the verdict shown always agree and the page's polling costs the history nothing.
The state says how long ago the run's loop last beat, so that the page can say a station that hangs, rather than
show its last verdict as if it were current.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import deque
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

from inference import VerdictCounts, heatmap_rgb, heatmap_scale

from ..history_periods import DEFAULT_SHIFTS, period_start
from .alarms import alarm_details

PICTURE_PX = 960  # the picture's longest side at most: about what a 1920 x 1080 monitor gives it
RECENT = 60  # the parts in the page's trend
HEAT_ALPHA = 0.45  # the heatmap's share over the image inside the ROI
RED, AMBER, WHITE = (230, 40, 40), (255, 190, 0), (235, 235, 235)


def shift_start(shifts: Sequence[int], now: Optional[float] = None) -> datetime:
    """The start of the shift `now` (epoch seconds; default: now) belongs to, local time."""
    hour = datetime.fromtimestamp(time.time() if now is None else now).replace(minute=0, second=0, microsecond=0)
    return period_start(hour, "shift", shifts)


class LineDisplay:
    def __init__(self, shifts: Sequence[int] = DEFAULT_SHIFTS, picture_px: int = PICTURE_PX):
        self.shifts = tuple(shifts)
        self.picture_px = int(picture_px)
        self._lock = threading.Lock()
        self._station = {"project": None, "version": None, "threshold": None, "calibrated": False,
                         "running": False, "started": None}
        self._beat = time.monotonic()
        self._alarms: dict[str, str] = {}
        self._alarm_figures: dict[str, dict] = {}
        self._plc_servers: list = []  # the run's PLC servers, whose connected PCs the page shows
        self._seq = 0
        # In each picture's address: a page left open over a restart, whose part numbers start again, must not take
        # the new run's part 7 for the picture of the old run's part 7 it shows already.
        self._instance = secrets.token_hex(6)
        self._part: Optional[dict] = None
        self._last_ng: Optional[dict] = None  # the last NG part: held on the page while good parts pass by
        self._kept: dict[int, tuple[np.ndarray, object]] = {}  # seq -> (image, result): the last part's, the last NG's
        self._jpegs: dict[int, bytes] = {}  # the pictures drawn of those
        self._recent: deque[dict] = deque(maxlen=RECENT)
        self._history = None  # the display's own connection to the run's history, from start() to stop()
        self._shift: Optional[datetime] = None  # the shift counted
        self._counts: Optional[VerdictCounts] = None  # its production parts; None: unknown (no history read)

    # -- fed by the Publisher, from the run's thread --------------------------------------------------------------
    def start(self, history_path) -> None:
        """The run starts, recording into `history_path`: the shift's counts so far are read from it (again, when
        it was started before: the service's display, opened by a page before the line's first part)."""
        from ..history import History, HistoryError

        if self._history is not None:
            self._history.close()
        try:
            self._history = History(history_path)
        except HistoryError:
            self._history = None  # the counts are unknown, and the page says so; the parts are shown all the same
        self._count_from_history(time.time())
        with self._lock:
            self._station.update(running=True, started=time.time())
            self._beat = time.monotonic()

    def stop(self) -> None:
        with self._lock:
            self._station["running"] = False
        if self._history is not None:
            self._history.close()
            self._history = None

    def beat(self) -> None:
        """The run's loop is alive (called from it every second, as the PLC's Heartbeat is)."""
        self._beat = time.monotonic()

    def watch_plc(self, servers: Sequence) -> None:
        """The run's PLC servers (Modbus TCP, OPC UA: their `connected`), whose link the page shows."""
        self._plc_servers = list(servers)

    def set_model(self, model) -> None:
        cal = model.calibration
        with self._lock:
            self._station.update(project=Path(model.folder).name, version=model.version,
                                 threshold=cal.threshold if cal is not None else None, calibrated=cal is not None)

    def set_alarms(self, active: dict, figures: Optional[dict] = None) -> None:
        """The alarms active now (name -> message) and their figures (alarms.Alarms.figures: the page words them in
        its language; an alarm without figures shows its English details)."""
        with self._lock:
            self._alarms = dict(active)
            self._alarm_figures = {k: dict(v) for k, v in (figures or {}).items() if k in active}

    def part(self, outcome, image: Optional[np.ndarray], latency_s: Optional[float]) -> None:
        """One finished part, its history row written: `image` the RGB pixels it was judged on (None when there
        were none), kept by reference until the next part (the run never writes into them)."""
        now = time.time()
        # A new shift: its counts from the history, which holds this part's row already.
        counted = self._history is not None and shift_start(self.shifts, now) != self._shift and \
            self._count_from_history(now)
        largest = outcome.largest_defect
        unit = "mm²" if largest is not None and largest.area_mm2 is not None else "px"
        with self._lock:
            self._seq += 1
            seq = self._seq
            self._part = {
                "seq": seq, "row_id": outcome.row_id, "name": outcome.name, "part_id": outcome.part_id,
                "verdict": outcome.verdict.value, "score": outcome.score, "threshold": outcome.threshold,
                "reason": outcome.reason, "why": verdict_basis(outcome), "error_code": int(outcome.error_code),
                "time": now,
                "latency_ms": None if latency_s is None else round(1000 * latency_s, 1),
                "model_version": outcome.model_version, "defects": sum(1 for r in outcome.regions if r.counts),
                # with inspection zones, the zone that weighs most in it ("rest": outside every zone)
                "largest": None if largest is None else {"area": round(largest.area, 3), "unit": unit,
                                                         "zone": largest.zone if largest.zones is not None else None},
                "master": None if outcome.expected is None else {"expected": outcome.expected.value,
                                                                  "passed": outcome.master_passed},
                "picture": f"picture/{seq}.jpg?display={self._instance}" if image is not None else None}
            ratio = None if outcome.score is None or not outcome.threshold else round(outcome.score /
                                                                                      outcome.threshold, 4)
            self._recent.appendleft({k: self._part[k] for k in ("seq", "verdict", "name", "part_id", "score",
                                                                "time")} | {"master": outcome.expected is not None,
                                                                            "ratio": ratio})
            if outcome.verdict.value == "NG" and outcome.expected is None:  # a master part's NG is a check
                self._last_ng = self._part
            ng_seq = self._last_ng["seq"] if self._last_ng else None
            self._kept = {k: v for k, v in self._kept.items() if k == ng_seq}
            if image is not None:
                self._kept[seq] = (image, outcome.result)
            self._jpegs = {k: v for k, v in self._jpegs.items() if k in self._kept}
            if not counted and self._counts is not None and outcome.expected is None:  # a master part is a check
                self._counts.add(outcome.verdict)

    def _count_from_history(self, now: float) -> bool:
        """The shift of `now`: its production parts read from the history. False when it cannot be read now
        (the counts are then unknown, never zero)."""
        from ..history import HistoryError

        start = shift_start(self.shifts, now)
        try:
            counts = self._history.counts(since=start.timestamp(), purpose="line") if self._history else None
        except HistoryError:
            counts = None
        with self._lock:
            self._shift, self._counts = start, counts
        return counts is not None

    # -- read by the server's thread ------------------------------------------------------------------------------
    def state(self) -> dict:
        """Everything the page shows, as JSON."""
        start = shift_start(self.shifts)
        with self._lock:
            counts = self._counts
            if counts is not None and start != self._shift:
                counts = VerdictCounts()  # the shift turned and no part came since
            servers = self._plc_servers
            return {"station": dict(self._station), "now": time.time(),
                    # the PCs connected to the run's PLC servers (the PLC); null: the run serves no PLC
                    "plc": sorted({peer for server in servers for peer in server.connected}) if servers else None,
                    "loop_age_s": round(time.monotonic() - self._beat, 3),
                    "shift": {"label": start.strftime("%Y-%m-%d %H:%M"), "start": start.timestamp(),
                              "counts": None if counts is None else counts.to_dict()},
                    "alarms": [{"name": k, "text": v, "details": alarm_details(k, v),
                                "figures": self._alarm_figures.get(k)} for k, v in sorted(self._alarms.items())],
                    "part": dict(self._part) if self._part else None,
                    "last_ng": dict(self._last_ng) if self._last_ng else None, "recent": list(self._recent)}

    def picture(self, seq: int) -> Optional[bytes]:
        """Part `seq`'s picture as JPEG, the last part's or the last NG part's; None for any other (a later part
        replaced it) or a part without an image."""
        with self._lock:
            if seq in self._jpegs:
                return self._jpegs[seq]
            kept = self._kept.get(seq)
        if kept is None:
            return None
        jpeg = encode_jpeg(draw_part(kept[0], kept[1], self.picture_px))
        with self._lock:
            if seq in self._kept:
                self._jpegs[seq] = jpeg
        return jpeg


def verdict_basis(outcome) -> Optional[str]:
    """What decided a part's verdict, for the page to say in its language: for OK and NG as inference.scoring.judge
    decides, `below` the threshold, `small` (the score reached it but no defect counts: too small, too short),
    `edge` (NG by defects on the ROI's edge only), `defects`; `not_found` (the part was not located), `no_verdict`
    (no usable calibration); None for an ERROR (its cause is said, then its reason as written)."""
    verdict = outcome.verdict.value
    if verdict in ("NOT_FOUND", "NO_VERDICT"):
        return verdict.lower()
    if verdict == "OK" and outcome.score is not None and outcome.threshold is not None:
        return "below" if outcome.score < outcome.threshold else "small"
    if verdict == "NG":
        counting = [r for r in outcome.regions if r.counts]
        return "edge" if counting and all(r.on_edge for r in counting) else "defects"
    return None


def picture_gone(seq: int) -> str:
    """Why part `seq` has no picture (the 404's words, the run's and the service's)."""
    return (f"part {seq}'s picture is not kept: the display keeps the last part's and the last NG part's, and a "
            "part without an image has none")


def draw_part(image: np.ndarray, result, max_px: int = PICTURE_PX) -> np.ndarray:
    """The part as the operator sees it: the image shrunk to `max_px` at most, the heatmap where the part is
    suspect (the colours of every client's scale, the threshold mid-scale; clear below half the threshold), the
    ROI's border in white and each defect's outline: red where it counts, amber where it is too small to. Shrunk
    first and blended by OpenCV: 24 ms for a 5 MP camera image with its JPEG, where blending at 1280 px in numpy's
    floats took 67 (bench/bench_display.py)."""
    h, w = image.shape[:2]
    s = min(1.0, max_px / max(h, w, 1))
    out = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA) \
        if s < 1.0 else image.copy()
    if out.ndim == 2:
        out = cv2.cvtColor(out, cv2.COLOR_GRAY2RGB)
    out = np.ascontiguousarray(out)
    if result is None or result.score is None or not result.anomaly_map.size:
        return out
    x0, y0, x1, y1 = (round(v * s) for v in result.box)
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(max(x1, x0 + 1), out.shape[1]), min(max(y1, y0 + 1), out.shape[0])
    if x1 <= x0 or y1 <= y0:
        return out
    size = (x1 - x0, y1 - y0)
    mask = cv2.resize(result.mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    small = replace(result, anomaly_map=cv2.resize(result.anomaly_map, size, interpolation=cv2.INTER_AREA),
                    mask=mask > 0)
    box = out[y0:y1, x0:x1]
    vmax = heatmap_scale(small)
    heat = heatmap_rgb(small, vmax=vmax)
    # The heat shows where the part is suspect: clear below a quarter of the scale (half the threshold), at
    # HEAT_ALPHA from half of it (the threshold) up, so a good part is seen as it is.
    weight = np.clip(small.anomaly_map * (4.0 / max(vmax, 1e-12)) - 1.0, 0.0, 1.0) * HEAT_ALPHA * small.mask
    weight = weight.astype(np.float32)
    box[...] = cv2.blendLinear(box, heat, 1.0 - weight, weight)
    edges, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
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
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"cannot encode a {rgb.shape} picture as JPEG")
    return buf.tobytes()


__all__ = ["LineDisplay", "PICTURE_PX", "draw_part", "encode_jpeg", "picture_gone", "shift_start"]
