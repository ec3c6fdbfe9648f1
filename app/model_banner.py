"""The banner over the canvas: what the line engineer must know about the loaded model before trusting its
verdicts (stale settings, no calibration, a calibration's warning, random weights), or that all is ready."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from station import model_notice

from .document import stale_reasons, zones_note

BANNER_STYLE = "background:#fff3cd; color:#5c4400; padding:6px; border-bottom:1px solid #e0c36c;"
QUIET_BANNER_STYLE = "background:#eef3f8; color:#33475b; padding:6px; border-bottom:1px solid #c9d6e3;"
BANNER_LINES = 3  # the banner's fixed height, in lines: a change of message never moves the canvas


class ModelBanner(QLabel):
    def __init__(self, session, doc, parent=None):
        super().__init__(parent)
        self.session, self.doc = session, doc
        self.model_note = ""  # why there is no usable model (the session's modelNote)
        self.setObjectName("staleBanner")
        self.setWordWrap(True)
        self.setStyleSheet(BANNER_STYLE)
        # A fixed height (the canvas and the docks never move under the mouse when the message changes);
        # longer text is cut, and its tooltip holds all of it.
        self.setFixedHeight(self.fontMetrics().lineSpacing() * BANNER_LINES + 14)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        for signal in (doc.roiChanged, doc.ignoreChanged, doc.zonesChanged, doc.locateBoxChanged, doc.configChanged,
                       doc.mmPerPxChanged, session.modelChanged):
            signal.connect(self.refresh)
        session.modelNote.connect(self.set_note)
        self.refresh()

    def set_note(self, note: str) -> None:
        self.model_note = note
        self.refresh()

    def lines(self) -> list[str]:
        model = self.session.model
        lines = []
        if model is None:
            if self.model_note:
                lines.append(self.model_note[0].upper() + self.model_note[1:])
            return lines
        reasons = stale_reasons(self.doc.roi, self.doc.config, model.record, self.doc.ignore,
                                self.doc.locate_box, self.doc.mm_per_px)
        if reasons:
            lines.append("The model is stale: " + "; ".join(reasons) + ". Fit again to use the changes.")
        lines += [note for note in [zones_note(self.doc.zones, model.calibration)] if note]
        if model.random_weights:
            lines.append("This model was fitted with RANDOM backbone weights (test only): its results mean "
                         "nothing. Choose pretrained weights in Settings and fit again.")
        if model.calibration is None:
            # "not calibrated: run calibrate" would repeat the line's own words; other notes say why.
            note = "" if model.calibration_note.startswith("not calibrated") else model.calibration_note
            lines.append("Not calibrated" + (f": {note}" if note else "") +
                         ". Set a threshold in Model > Calibrate…; until then scores are shown without a verdict.")
        elif model.calibration.warning:  # as the line's console says it (station.model_notice), on every open
            lines.append(model_notice(model) + " Calibrate again in Model > Calibrate….")
        # Last: the banner shows BANNER_LINES lines (the tooltip all), and what changes verdicts goes first.
        chosen = model.record.backbone.chosen
        if chosen:
            lines.append(chosen[0].upper() + chosen[1:] + ".")
        return lines

    def quiet_line(self) -> str:
        """What the banner says when nothing needs doing."""
        model = self.session.model
        if model is None:
            return "No model loaded."
        cal = model.calibration
        return (f"Model ready: {model.record.n_images} taught image(s), threshold {cal.threshold:.3f}."
                if cal is not None else f"Model ready: {model.record.n_images} taught image(s).")

    def refresh(self, *_):
        lines = self.lines()
        text = "\n".join(lines) if lines else self.quiet_line()
        self.setText(text)
        self.setToolTip(text)
        self.setStyleSheet(BANNER_STYLE if lines else QUIET_BANNER_STYLE)
