"""The project as the GUI edits it: plain data with change signals; widgets observe it.

What is stored here goes to the project's settings.json (inference.save_settings):
the ROI being edited, mm per pixel, the taught image list and the engine
config for the next fit. The fitted model is the engine's and is never written here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, Signal

import inference

SETTINGS_FORMAT = 1


class ProjectDocument(QObject):
    roiChanged = Signal(object)  # Roi or None
    ignoreChanged = Signal(object)  # tuple of ignore shapes (Rect, Circle, Polygon)
    zonesChanged = Signal(object)  # tuple of inspection zones (inference.Zone)
    locateBoxChanged = Signal(object)  # (x0, y0, x1, y1) or None
    mmPerPxChanged = Signal(object)  # float or None
    imagesChanged = Signal()
    configChanged = Signal(object)  # EngineConfig
    folderChanged = Signal(object)  # Path or None
    dirtyChanged = Signal(bool)

    def __init__(self, config: inference.EngineConfig, parent: QObject | None = None):
        super().__init__(parent)
        self.folder: Optional[Path] = None
        self.roi: Optional[inference.Roi] = None
        self.ignore: tuple = ()  # ignore regions, in image pixels of the reference (first OK) image
        # Inspection zones as drawn here (inference.Zone), for the next calibration: the calibration keeps the ones
        # the line inspects with; a project opened without zones of its own takes those.
        self.zones: tuple = ()
        # Where the part is looked for in the reference image when the config aligns (x0, y0, x1, y1);
        # None: the engine's default, the ROI's box grown by a margin.
        self.locate_box: Optional[tuple[int, int, int, int]] = None
        self.mm_per_px: Optional[float] = None
        self.ok_images: list[str] = []
        # The calibration sets last used in Calibrate, so reopening the project shows them again.
        self.calibration_images: dict[str, list[str]] = {"ok": [], "ng": []}
        self.config = config
        self.dirty = False
        self._saved = self.to_settings()

    # -- edits ---------------------------------------------------------------------
    def _touch(self) -> None:
        # Dirty means "differs from what is on disk": undoing back to the saved state is clean again.
        dirty = self.to_settings() != self._saved
        if dirty != self.dirty:
            self.dirty = dirty
            self.dirtyChanged.emit(dirty)

    def set_roi(self, roi: Optional[inference.Roi]) -> None:
        if roi != self.roi:
            self.roi = roi
            self._touch()
            self.roiChanged.emit(roi)

    def set_ignore(self, shapes) -> None:
        shapes = tuple(shapes)
        if shapes != self.ignore:
            self.ignore = shapes
            self._touch()
            self.ignoreChanged.emit(shapes)

    def set_zones(self, zones) -> None:
        zones = tuple(zones)
        if zones != self.zones:
            self.zones = zones
            self._touch()
            self.zonesChanged.emit(zones)

    def set_locate_box(self, box) -> None:
        box = tuple(int(round(v)) for v in box) if box is not None else None
        if box != self.locate_box:
            self.locate_box = box
            self._touch()
            self.locateBoxChanged.emit(box)

    def set_mm_per_px(self, value: Optional[float]) -> None:
        if value is not None and not value > 0:
            raise inference.InspectorError(f"mm per pixel must be a positive number, got {value}")
        if value != self.mm_per_px:
            self.mm_per_px = value
            self._touch()
            self.mmPerPxChanged.emit(value)

    def add_images(self, paths) -> int:
        """Adds image paths not yet taught; returns how many were new."""
        known = set(self.ok_images)
        new = [str(Path(p)) for p in paths if str(Path(p)) not in known]
        new = list(dict.fromkeys(new))
        if new:
            self.ok_images.extend(new)
            self._touch()
            self.imagesChanged.emit()
        return len(new)

    def remove_images(self, paths) -> None:
        gone = {str(p) for p in paths}
        kept = [p for p in self.ok_images if p not in gone]
        if len(kept) != len(self.ok_images):
            self.ok_images = kept
            self._touch()
            self.imagesChanged.emit()

    def set_calibration_images(self, ok, ng) -> None:
        sets = {"ok": [str(p) for p in ok], "ng": [str(p) for p in ng]}
        if sets != self.calibration_images:
            self.calibration_images = sets
            self._touch()

    def set_config(self, config: inference.EngineConfig) -> None:
        if config != self.config:
            self.config = config
            self._touch()
            self.configChanged.emit(config)

    # -- persistence -------------------------------------------------------------
    def to_settings(self) -> dict:
        return {
            "format": SETTINGS_FORMAT,
            "app_version": inference.__version__,
            "roi": inference.roi_to_dict(self.roi) if self.roi is not None else None,
            "ignore": [inference.roi_to_dict(s) for s in self.ignore],
            "zones": inference.zones_to_list(self.zones),
            "locate_box": list(self.locate_box) if self.locate_box is not None else None,
            "mm_per_px": self.mm_per_px,
            "ok_images": list(self.ok_images),
            "calibration_images": {k: list(v) for k, v in self.calibration_images.items()},
            "config": self.config.to_dict(),
        }

    def save(self, folder: Optional[Path] = None) -> None:
        folder = Path(folder) if folder is not None else self.folder
        if folder is None:
            raise inference.ProjectError("the project has no folder yet: use Save As")
        folder.mkdir(parents=True, exist_ok=True)
        settings = self.to_settings()
        inference.save_settings(folder, settings)
        if folder != self.folder:
            self.folder = folder
            self.folderChanged.emit(folder)
        self._saved = settings
        self.dirty = False
        self.dirtyChanged.emit(False)

    def replace_with(self, folder: Optional[Path], settings: dict, fallback: inference.EngineConfig) -> None:
        """Take the state of another project (settings already read and checked)."""
        self.folder = Path(folder) if folder is not None else None
        self.roi = settings.get("roi")
        self.ignore = tuple(settings.get("ignore", ()))
        self.zones = tuple(settings.get("zones", ()))
        self.locate_box = settings.get("locate_box")
        self.mm_per_px = settings.get("mm_per_px")
        self.ok_images = list(settings.get("ok_images", []))
        self.calibration_images = settings.get("calibration_images") or {"ok": [], "ng": []}
        self.config = settings.get("config", fallback)
        self._saved = self.to_settings()
        self.dirty = False
        self.folderChanged.emit(self.folder)
        self.roiChanged.emit(self.roi)
        self.ignoreChanged.emit(self.ignore)
        self.zonesChanged.emit(self.zones)
        self.locateBoxChanged.emit(self.locate_box)
        self.mmPerPxChanged.emit(self.mm_per_px)
        self.imagesChanged.emit()
        self.configChanged.emit(self.config)
        self.dirtyChanged.emit(False)


def read_project(folder: Path, fallback: inference.EngineConfig) -> dict:
    """A project's settings, parsed and checked; without settings.json, taken from its model's manifest.

    Raises InspectorError (ProjectError, RoiError, ConfigError) with a readable message.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise inference.ProjectError(f"project folder not found: {folder}")
    raw = inference.load_settings(folder)
    if not raw and not inference.has_model(folder):
        # Opening a folder of images by mistake must not turn it into a project (nor write a history there).
        raise inference.ProjectError(f"{folder} is not an Inspector project (no settings.json, no model): open a "
                                     "project folder, or start one with Project > New")
    if not raw:
        record = inference.read_record(folder)
        raw = {"roi": record.roi, "ignore": list(record.ignore), "mm_per_px": record.mm_per_px,
               "config": record.config, "ok_images": _taught_files(record),
               "locate_box": record.align.get("locate_box")}
    if not isinstance(raw, dict):
        raise inference.ProjectError(f"settings.json of {folder} is not a JSON object")
    out: dict = {}
    out["roi"] = inference.roi_from_dict(raw["roi"]) if raw.get("roi") else None
    out["ignore"] = inference.ignore_list_from_json(raw.get("ignore"))
    out["zones"] = inference.zones_from_list(raw["zones"]) if "zones" in raw else _calibrated_zones(folder)
    out["locate_box"] = _locate_box(raw.get("locate_box"), folder)
    mm = raw.get("mm_per_px")
    if mm is not None and not (isinstance(mm, (int, float)) and mm > 0):
        raise inference.ProjectError(f"settings.json of {folder}: mm_per_px must be a positive number, got {mm!r}")
    out["mm_per_px"] = float(mm) if mm is not None else None
    images = raw.get("ok_images", [])
    if not isinstance(images, list) or not all(isinstance(p, str) for p in images):
        raise inference.ProjectError(f"settings.json of {folder}: ok_images must be a list of paths")
    out["ok_images"] = images
    sets = raw.get("calibration_images") or {}
    if not isinstance(sets, dict) or not all(isinstance(sets.get(k, []), list) for k in ("ok", "ng")):
        raise inference.ProjectError(f"settings.json of {folder}: calibration_images must hold ok and ng lists")
    out["calibration_images"] = {k: [str(p) for p in sets.get(k, [])] for k in ("ok", "ng")}
    config = raw.get("config")
    # A project saved before a setting existed was meant with that setting's old behaviour, as its model was.
    out["config"] = inference.EngineConfig.from_dict(inference.absent_as_before(config)) if config else fallback
    return out


def _taught_files(record) -> list[str]:
    """The taught images still where they were taught from: a project taught on the command line or over HTTP
    opens showing the parts it learnt (and drawn on the first of them). Only absolute paths: a relative one was
    typed in a directory the window does not know (projects taught before names were recorded absolute)."""
    names = (str(m.get("name", "")) for m in record.images)
    return [n for n in names if Path(n).is_absolute() and Path(n).is_file()]


def _calibrated_zones(folder: Path) -> tuple:
    """The zones the active calibration inspects with: what a project saved without zones of its own (by an
    earlier version, or calibrated on the command line) starts editing from."""
    try:
        calibration = inference.load_calibration(folder)[0] if inference.has_model(folder) else None
    except inference.InspectorError:  # a damaged model: the window opens and says so when it loads it
        return ()
    return calibration.zone_list if calibration is not None else ()


def zones_note(doc_zones, calibration: Optional[inference.Calibration]) -> str:
    """A banner line when the zones drawn differ from the ones the calibration inspects with; "" when they match
    (or nothing is calibrated: the first calibration takes the drawn ones)."""
    if calibration is None or tuple(doc_zones) == calibration.zone_list:
        return ""
    return ("The zones drawn differ from the ones the line inspects with: calibrate (Model > Calibrate…) to use "
            "them.")


def _locate_box(box, folder: Path) -> Optional[tuple[int, int, int, int]]:
    if box is None:
        return None
    if (not isinstance(box, list) or len(box) != 4 or not all(isinstance(v, (int, float)) for v in box)
            or not (box[2] > box[0] and box[3] > box[1])):
        raise inference.ProjectError(f"settings.json of {folder}: locate_box must be [x0, y0, x1, y1] with "
                                     f"x1 > x0 and y1 > y0, got {box!r}")
    return tuple(int(round(v)) for v in box)


_UNCHECKED = object()


def stale_reasons(doc_roi, doc_config: inference.EngineConfig, record: inference.ModelRecord,
                  doc_ignore=None, doc_locate_box=_UNCHECKED, doc_mm_per_px=_UNCHECKED) -> list[str]:
    """Why the fitted model no longer matches what the project describes (empty: it matches)."""
    reasons = []
    if not record.is_current:
        reasons.append(f"the model was fitted by model version {record.model_version}, "
                       f"this application is {inference.MODEL_VERSION}")
    if doc_roi is not None and inference.roi_to_dict(doc_roi) != record.roi:
        reasons.append("the ROI changed since the fit")
    if doc_ignore is not None and [inference.roi_to_dict(s) for s in doc_ignore] != list(record.ignore):
        reasons.append("the ignore regions changed since the fit")
    if doc_mm_per_px is not _UNCHECKED and _scale_changed(doc_mm_per_px, record.mm_per_px):
        # The model measures regions with the scale it was fitted with: areas in mm² need a fit.
        reasons.append("the scale (mm per pixel) changed since the fit, so areas and the minimum area still use "
                       + (f"{record.mm_per_px:.6g} mm per pixel" if record.mm_per_px else "pixels"))
    if doc_locate_box is not _UNCHECKED and _locate_box_changed(doc_roi, doc_config, record, doc_locate_box):
        reasons.append("the locate region changed since the fit")
    # Which settings count is stated once, by each EngineConfig field's role (machine and calibration never do).
    changed = record.changed_settings(doc_config)
    if changed:
        reasons.append("settings changed since the fit (" + ", ".join(changed) + ")")
    return reasons


def _locate_box_changed(doc_roi, doc_config: inference.EngineConfig, record: inference.ModelRecord,
                        doc_box) -> bool:
    """Whether the region the next fit would look for the part in differs from the fitted one (None: the
    default, the ROI's box grown, in the fitted reference image's size)."""
    align = record.align
    if doc_config.align == "none" or align.get("mode", "none") == "none" or not align.get("reference_size"):
        return False
    w, h = align["reference_size"]
    if doc_box is None:
        roi = doc_roi if doc_roi is not None else inference.full_image_roi(w, h)
        doc_box = inference.default_locate_box(roi, w, h)
    x0, y0, x1, y1 = doc_box
    return [max(0, x0), max(0, y0), min(w, x1), min(h, y1)] != list(align.get("locate_box") or [])


def _scale_changed(doc_mm: Optional[float], fitted_mm: Optional[float]) -> bool:
    if doc_mm is None or fitted_mm is None:
        return doc_mm != fitted_mm
    return abs(doc_mm - fitted_mm) > 1e-9 * max(abs(doc_mm), abs(fitted_mm))
