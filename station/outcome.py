"""One inspected part as every client sees it: the verdict, why, by which model version, for which part."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Optional

from inference import InferenceResult, Verdict


class ErrorCode(IntEnum):
    """Why a part got ERROR, as a number for a PLC or an HMI that reads no text (the ErrorCode register, OPC UA's
    ErrorCode, each result's `error_code`); the reason says it in words. 0 for any other verdict. docs/plc.md."""

    NONE = 0
    IMAGE_INVALID = 1  # the image cannot be read or inspected (damaged file, wrong size, too large)
    IMAGE_CHECK = 2  # a dark, saturated or flat frame: camera, lens or light fault (inference/image_check.py)
    NO_IMAGE = 3  # no image came for the Trigger in time, or the source is gone
    REPEATED_IMAGE = 4  # the same image as the part before: a frozen camera
    PART_MISMATCH = 5  # the image names another part than the PLC's Trigger
    UNKNOWN_RECIPE = 6  # the PLC asked for a recipe the station does not have: not judged with another product's
    MODEL_UNUSABLE = 7  # the model's files cannot be loaded now
    OTHER = 9

    @property
    def cause(self) -> str:
        """The cause's name as reports and filters write it: "no_image" (`inspector history --cause no_image`)."""
        return self.name.lower()

    @property
    def description(self) -> str:
        """The cause in a few words, for a report's reader."""
        return CAUSE_TEXT[self]

    @classmethod
    def known(cls, code: Optional[int]) -> Optional["ErrorCode"]:
        """The cause a stored number names; None for none (a row written before the history kept it), 0 (no ERROR)
        or a number this version does not know (a newer one's)."""
        return cls(code) if code and code in cls._value2member_map_ else None

    @classmethod
    def parse(cls, text: str) -> "ErrorCode":
        """A cause by its name (no_image, NO-IMAGE) or number (3); ValueError naming the causes for any other."""
        word = str(text).strip().lower().replace("-", "_").replace(" ", "_")
        for code in cls:
            if code is not cls.NONE and word in (code.cause, str(int(code))):
                return code
        raise ValueError(f"{text!r} is not an ERROR's cause; use one of "
                         f"{', '.join(f'{c.cause} ({int(c)})' for c in cls if c is not cls.NONE)}")


CAUSE_TEXT = {
    ErrorCode.NONE: "not an ERROR",
    ErrorCode.IMAGE_INVALID: "the image cannot be read or inspected",
    ErrorCode.IMAGE_CHECK: "a dark, saturated or flat frame (light, lens, exposure)",
    ErrorCode.NO_IMAGE: "no image came for the part, or the source is gone",
    ErrorCode.REPEATED_IMAGE: "the same image as the part before (a frozen camera)",
    ErrorCode.PART_MISMATCH: "the image names another part than the trigger",
    ErrorCode.UNKNOWN_RECIPE: "a recipe the station does not have",
    ErrorCode.MODEL_UNUSABLE: "the model's files could not be loaded",
    ErrorCode.OTHER: "another cause (the reason says which)",
}


@dataclass
class Outcome:
    """The typed outcome of inspecting one image (station.Station.inspect gives one per image, in order).

    `score` is None when the image was not scored (NOT_FOUND, ERROR): a state is never a number. `result`
    holds the engine's result (map, regions, outlines) for a client that draws it; None for an ERROR.
    """

    name: str
    verdict: Verdict
    reason: str
    score: Optional[float]
    threshold: Optional[float]
    model_version: Optional[str]
    model_id: Optional[str]
    part_id: Optional[str] = None
    # Seconds: "inspect" (the engine's share for this image: decode, embed, score), "total" (from the
    # image's arrival to its outcome, where the client knows the arrival).
    timings: dict = field(default_factory=dict)
    result: Optional[InferenceResult] = None
    row_id: Optional[int] = None  # its history row, when recorded
    error: Optional[str] = None
    record_error: Optional[str] = None  # why it has no history row (bench checks only: Station.history_optional)
    expected: Optional[Verdict] = None  # a master part's (station.masters): the verdict it must get
    cause: Optional[ErrorCode] = None  # an ERROR's cause where the caller knows it (Station.error's `cause`)

    @property
    def error_code(self) -> ErrorCode:
        """Why this part is an ERROR (ErrorCode.NONE for any other verdict)."""
        if self.verdict != Verdict.ERROR:
            return ErrorCode.NONE
        if self.cause is not None:
            return self.cause
        if self.result is not None and self.result.image_check:
            return ErrorCode.IMAGE_CHECK
        return ErrorCode.IMAGE_INVALID if self.result is not None else ErrorCode.OTHER

    @property
    def master_passed(self) -> Optional[bool]:
        """A master part's check: whether it got its expected verdict; None for a production part."""
        return None if self.expected is None else self.verdict is self.expected

    @classmethod
    def of(cls, result: InferenceResult, model_version: Optional[str], model_id: Optional[str],
           part_id: Optional[str] = None) -> "Outcome":
        return cls(result.name, result.verdict, result.reason, result.score, result.threshold, model_version,
                   model_id, part_id, {"inspect": result.seconds}, result, None, result.error)

    @property
    def regions(self) -> list:
        return list(self.result.regions) if self.result is not None else []

    @property
    def largest_defect(self):
        """The largest region that counts (inference.Region), what the PLC's defect registers and the metrics'
        NG zones tell; None for a part without one."""
        return max((r for r in self.regions if r.counts), key=lambda r: r.area, default=None)

    @property
    def passes(self) -> bool:
        return self.verdict.passes

    def to_dict(self, with_heatmap: bool = False) -> dict:
        """JSON: the engine result's fields (score, regions, box, ...) plus verdict, model version, part id,
        timings and history row."""
        out = self.result.to_dict(with_heatmap=with_heatmap) if self.result is not None else {
            "name": self.name, "score": None, "threshold": self.threshold, "regions": [], "ng_regions": []}
        out.update({"name": self.name, "verdict": self.verdict.value, "reason": self.reason,
                    "model_version": self.model_version, "model_id": self.model_id, "part_id": self.part_id,
                    "timings": {k: round(v, 4) for k, v in self.timings.items()}, "row_id": self.row_id})
        if self.error is not None:
            out["error"] = self.error
        if self.verdict == Verdict.ERROR:
            out["error_code"], out["cause"] = int(self.error_code), self.error_code.cause
        if self.expected is not None:
            out["master"] = {"expected": self.expected.value, "passed": self.master_passed}
        return out
