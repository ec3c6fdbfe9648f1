"""What inspecting one part can end in: the one set of outcomes every client counts the same way."""

from __future__ import annotations

from enum import Enum
from typing import Iterable, Optional


class Verdict(str, Enum):
    """The outcome of one inspected image. A str, so it compares, prints and serialises as its name.

    OK and NG are judged against a calibrated threshold; NOT_FOUND: alignment is on and the part was not
    located (a reject, never a pass); NO_VERDICT: the model has no usable calibration (the reason says why);
    ERROR: the image could not be inspected (unreadable, wrong size, ...).
    """

    OK = "OK"
    NG = "NG"
    NOT_FOUND = "NOT_FOUND"
    NO_VERDICT = "NO_VERDICT"
    ERROR = "ERROR"

    __str__ = str.__str__
    __format__ = str.__format__

    @property
    def judged(self) -> bool:
        """Whether the part was judged (OK, NG or NOT_FOUND): the parts a yield is taken over."""
        return self in (Verdict.OK, Verdict.NG, Verdict.NOT_FOUND)

    @property
    def passes(self) -> bool:
        """Only OK passes: every other outcome stops the part."""
        return self is Verdict.OK

    @property
    def code(self) -> int:
        """The number a PLC reads (docs/plc.md): 1 OK, 2 NG, 3 NOT_FOUND, 4 NO_VERDICT, 5 ERROR."""
        return _CODES[self]

    @classmethod
    def parse(cls, value: Optional[str]) -> "Verdict":
        """A stored verdict: None (rows and files of earlier versions) is NO_VERDICT."""
        if value is None or value == "":
            return cls.NO_VERDICT
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value).upper())
        except ValueError:
            raise ValueError(f"unknown verdict {value!r}; one of {', '.join(v.value for v in cls)}") from None


_CODES = {Verdict.OK: 1, Verdict.NG: 2, Verdict.NOT_FOUND: 3, Verdict.NO_VERDICT: 4, Verdict.ERROR: 5}


class VerdictCounts:
    """Counts of each outcome and the one yield: OK / parts judged (OK + NG + NOT_FOUND).

    NO_VERDICT and ERROR parts are counted apart and stay out of the yield: they say nothing about the
    parts' quality, only that the station could not judge them (docs/api.md, "Counts and yield").
    """

    __slots__ = ("ok", "ng", "not_found", "no_verdict", "error")

    def __init__(self, ok: int = 0, ng: int = 0, not_found: int = 0, no_verdict: int = 0, error: int = 0):
        self.ok, self.ng, self.not_found, self.no_verdict, self.error = ok, ng, not_found, no_verdict, error

    @classmethod
    def of(cls, verdicts: Iterable) -> "VerdictCounts":
        counts = cls()
        for v in verdicts:
            counts.add(v)
        return counts

    def add(self, verdict, n: int = 1) -> None:
        v = Verdict.parse(verdict)
        name = v.value.lower()
        setattr(self, name, getattr(self, name) + n)

    def copy(self) -> "VerdictCounts":
        return VerdictCounts(self.ok, self.ng, self.not_found, self.no_verdict, self.error)

    @property
    def total(self) -> int:
        return self.ok + self.ng + self.not_found + self.no_verdict + self.error

    @property
    def judged(self) -> int:
        return self.ok + self.ng + self.not_found

    @property
    def yield_fraction(self) -> Optional[float]:
        """OK / judged parts, None before any part was judged."""
        return self.ok / self.judged if self.judged else None

    @property
    def yield_pct(self) -> Optional[float]:
        y = self.yield_fraction
        return None if y is None else 100.0 * y

    def yield_text(self) -> str:
        y = self.yield_pct
        return "-" if y is None else f"{y:.1f}%"

    def to_dict(self) -> dict:
        return {"total": self.total, "OK": self.ok, "NG": self.ng, "NOT_FOUND": self.not_found,
                "NO_VERDICT": self.no_verdict, "ERROR": self.error, "judged": self.judged,
                "yield": None if self.yield_fraction is None else round(self.yield_fraction, 6)}

    def summary(self) -> str:
        """One line, the same in every client: 'yield 95.0% (19 OK / 20 judged); NG 1, ...'."""
        return (f"yield {self.yield_text()} ({self.ok} OK / {self.judged} judged); NG {self.ng}, "
                f"NOT_FOUND {self.not_found}, NO_VERDICT {self.no_verdict}, ERROR {self.error}")

    def __eq__(self, other) -> bool:
        return isinstance(other, VerdictCounts) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"VerdictCounts({self.summary()})"
