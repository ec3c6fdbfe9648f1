"""Master parts ("red rabbits"): known parts the line runs through the station to prove it still catches what it
must. A plant verifies its error-proofing with them at every shift start (IATF 16949 asks for it): a part with a
known defect must come out NG, a known good one OK. The check proves the whole chain (camera, light, focus, the
model, the PLC's sorting), which no test of the model alone can.

    masters = Masters.read(path)          # "RR-001 NG" lines; MastersError names the line that is wrong
    masters.expected("rr-001")            # Verdict.NG: ids compare as part ids do (case, leading zeros aside)
    watch = MasterWatch(masters, every_s=8 * 3600, history=h)   # state from the history's master rows
    check = watch.checked("rr-001", Verdict.NG, verdict)   # a master part was inspected: check.passed, .text
    watch.failed()                        # why the station failed a master check, None while none failed
    watch.due(now)                        # which masters were not passed within every_s, None when none

A part whose id is a master's is recorded with purpose "master" and its expected verdict (Station.finish), is
answered to the PLC as any part is (its verdict sorts it; MasterCheck says passed or failed), and stays out of
the line's counts, yield and streak alarms. A failed check raises the `master_failed` alarm until that master
passes again; `master_due` rises when a master was not passed within `--master-every`. Both are read back from
the history at a start, so a restart clears neither.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Optional

from inference import InspectorError, Verdict

EXPECTABLE = (Verdict.OK, Verdict.NG, Verdict.NOT_FOUND)  # what a master part may be known to be


class MastersError(InspectorError):
    """The master parts file cannot be read or names something wrong."""


def part_key(part_id: str) -> str:
    """A part id as it compares: case and surrounding spaces aside, and 000123 is 123 (a PLC that writes it as a
    number, a file name that pads it)."""
    text = str(part_id).strip().lower()
    return str(int(text)) if text.isdigit() else text


@dataclass(frozen=True)
class MasterCheck:
    """What a master part's inspection proved."""

    part_id: str
    expected: Verdict
    verdict: Verdict
    time: float

    @property
    def passed(self) -> bool:
        return self.verdict is self.expected

    @property
    def text(self) -> str:
        when = datetime.fromtimestamp(self.time).strftime("%Y-%m-%d %H:%M")
        result = "passed" if self.passed else "FAILED"
        return f"master part {self.part_id} {result}: expected {self.expected.value}, got {self.verdict.value} ({when})"


class Masters:
    """The master parts of a line: part id -> the verdict the station must give it."""

    def __init__(self, expected: dict[str, Verdict], source: str = ""):
        self._by_key = {part_key(k): (k, v) for k, v in expected.items()}
        self.source = source

    @classmethod
    def read(cls, path: Path) -> "Masters":
        """One master a line, `PART_ID VERDICT` (OK, NG or NOT_FOUND), `#` comments and blank lines allowed."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8-sig")  # Notepad's UTF-8 starts with a byte-order mark
        except FileNotFoundError:
            raise MastersError(f"--masters {path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise MastersError(f"--masters {path}: cannot be read ({exc.__class__.__name__}: {exc})") from None
        expected: dict[str, Verdict] = {}
        seen: dict[str, int] = {}
        for number, line in enumerate(text.splitlines(), 1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            where = f"--masters {path}, line {number}"
            if len(words) != 2:
                raise MastersError(f"{where}: write the part id and the verdict it must get, e.g. 'RR-001 NG'; "
                                   f"got {line.strip()!r}")
            part_id, word = words
            try:
                verdict = Verdict.parse(word)
            except ValueError:
                verdict = None
            if verdict not in EXPECTABLE:
                raise MastersError(f"{where}: a master part is expected OK, NG or NOT_FOUND, got {word!r}")
            if len(part_id) > 40 or not part_id.isprintable():
                raise MastersError(f"{where}: a part id is printable text of at most 40 characters (the PLC's "
                                   f"PartId), got {part_id!r}")
            key = part_key(part_id)
            if key in seen:
                raise MastersError(f"{where}: part {part_id} is already a master on line {seen[key]}")
            seen[key] = number
            expected[part_id] = verdict
        if not expected:
            raise MastersError(f"--masters {path}: names no master part ('PART_ID VERDICT' lines, e.g. 'RR-001 NG')")
        return cls(expected, str(path))

    def __len__(self) -> int:
        return len(self._by_key)

    @property
    def ids(self) -> list[str]:
        return [part_id for part_id, _ in self._by_key.values()]

    def expected(self, part_id: Optional[str]) -> Optional[Verdict]:
        """The verdict the station must give this part when it is a master, else None (a production part)."""
        if not part_id:
            return None
        found = self._by_key.get(part_key(part_id))
        return found[1] if found else None

    def name(self, part_id: str) -> str:
        """The id as the masters file writes it."""
        found = self._by_key.get(part_key(part_id))
        return found[0] if found else str(part_id)


class MasterWatch:
    """The line's master checks: which failed last time, when each last passed (read back from the history, then
    kept up to date by `checked`). Not thread-safe: one caller (the publisher) updates it."""

    def __init__(self, masters: Masters, every_s: Optional[float] = None, history=None,
                 started: Optional[float] = None):
        """`every_s`: each master must pass at least this often (None: no master is ever due). `history`: a
        station.History whose master rows give the state at a start."""
        self.masters = masters
        self.every_s = every_s
        self.started = time.time() if started is None else started
        self.last_pass: dict[str, float] = {}
        self.failures: dict[str, MasterCheck] = {}  # by part key: the latest check of that master, failed
        self.passed = 0
        self.failed_count = 0
        for part_id, expected, verdict, when in history.master_rows() if history is not None else ():
            self._note(MasterCheck(masters.name(part_id), Verdict.parse(expected), verdict, when))

    def _note(self, check: MasterCheck) -> None:
        key = part_key(check.part_id)
        if self.masters.expected(check.part_id) is None:
            return  # no longer a master (the file changed): its old checks say nothing now
        if check.passed:
            self.last_pass[key] = max(check.time, self.last_pass.get(key, 0.0))
            if key in self.failures and self.failures[key].time <= check.time:
                del self.failures[key]
        elif check.time >= self.last_pass.get(key, -1.0):
            self.failures[key] = check

    def checked(self, part_id: str, expected: Verdict, verdict: Verdict, when: Optional[float] = None) -> MasterCheck:
        """A master part was just inspected: what its check proved (named as the masters file writes it)."""
        check = MasterCheck(self.masters.name(part_id), expected, verdict, time.time() if when is None else when)
        self._note(check)
        if check.passed:
            self.passed += 1
        else:
            self.failed_count += 1
        return check

    def failed(self) -> Optional[str]:
        """Why the station cannot be trusted now: the masters whose latest check failed; None when none."""
        if not self.failures:
            return None
        return "; ".join(c.text for c in sorted(self.failures.values(), key=lambda c: c.time)) + \
            ": the station missed what it must catch; check the camera, light and model, then pass the master again"

    def due(self, now: Optional[float] = None) -> Optional[str]:
        """The masters not passed within every_s (never passed: counted from the run's start); None when none."""
        if not self.every_s:
            return None
        now = time.time() if now is None else now
        late = []
        for part_id in self.masters.ids:
            last = self.last_pass.get(part_key(part_id))
            if last is None and now - self.started >= self.every_s:
                late.append(f"{part_id} (never passed)")
            elif last is not None and now - last >= self.every_s:
                late.append(f"{part_id} (last passed {(now - last) / 3600:.1f} h ago)")
        if not late:
            return None
        return f"master parts due (every {self.every_s / 3600:g} h): " + ", ".join(late)


__all__ = ["EXPECTABLE", "MasterCheck", "MasterWatch", "Masters", "MastersError", "part_key"]
