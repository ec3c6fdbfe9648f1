"""The report of a rescore (station/rescore.py): what version B would change against version A.

    report = write_report(project, out)          # out/report.json, out/report.md, out/scores.png
    latest_report(project, "v3")                 # the newest report on v3, for the versions view

Per version the counts and the one yield (inference.VerdictCounts); every verdict change A -> B (OK->NG,
NG->OK, ...) with its paths; the parts a reviewer marked in the history (false reject: a good part the station
rejected; false accept: a defect it passed) and what each version says of them, above all the marked defects B
would pass (escapes); the archived master parts' checks (station/masters.py), above all those B would fail (its
master_misses), master parts counting in no yield; the score histograms of both versions with their thresholds.

Where the newest report on a version lives is kept in PROJECT/rescore/latest-VN.json (written atomically), so
`inspector versions`, the service and the window can show it next to a staged version before it is activated.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

from inference import VerdictCounts, atomic_write

from .history import History, default_path
from .rescore import JOB_FILE, read_rows

REPORT_JSON, REPORT_MD, REPORT_PNG = "report.json", "report.md", "scores.png"
POINTERS = "rescore"  # PROJECT/rescore/: the default --out folders and the latest-VN.json pointers
MD_LIST = 100  # paths listed per change in report.md (report.json lists all)


def default_out(project: str | Path, versions) -> Path:
    return Path(project) / POINTERS / "-".join(versions)


def _history_notes(project: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    """What the history says of archived images, by path (and file name): the reviewer's marks (label, row id,
    verdict then) and the master parts' checks (station/masters.py: part id, the verdict it must get)."""
    path = default_path(project)
    if not path.is_file():
        return {}, {}
    marks: dict[str, dict] = {}
    masters: dict[str, dict] = {}
    with History(path) as history:
        for label in ("false_reject", "false_accept"):
            for row in history.query(label=label, order="time", descending=False):
                _note(marks, row, {"label": label, "row_id": row.id, "verdict_then": row.verdict.value,
                                   "version_then": row.model_version, "part_id": row.part_id})
        for row in history.query(purpose="master", order="time", descending=False):
            _note(masters, row, {"row_id": row.id, "part_id": row.part_id, "expected": row.expected.value,
                                 "verdict_then": row.verdict.value, "version_then": row.model_version})
    return marks, masters


def _note(notes: dict, row, note: dict) -> None:
    for name in (row.archive_path, row.file_name):
        if name:
            notes[str(Path(name).absolute())] = note


def build_report(project: str | Path, out: str | Path) -> dict:
    """The report of the rows under `out` (see the module docstring), as JSON-ready data."""
    project, out = Path(project), Path(out)
    job = json.loads((out / JOB_FILE).read_text(encoding="utf-8"))
    va, vb = job["versions"]
    table = read_rows(out)
    parts: dict[str, dict] = {}
    for row in table.to_pylist():
        part = parts.setdefault(row["key"], {"path": row["path"], "part_id": row["part_id"]})
        part[row["version"]] = row
    marks, masters = _history_notes(project)
    # Master parts are checks of the station, never production: the counts and yields leave them out.
    counts = {v: VerdictCounts.of(p[v]["verdict"] for p in parts.values() if v in p and p["path"] not in masters)
              for v in (va, vb)}
    changes: dict[str, list] = {}
    for p in sorted(parts.values(), key=lambda p: p["path"]):
        a, b = p.get(va), p.get(vb)
        if a is None or b is None or a["verdict"] == b["verdict"]:
            continue
        changes.setdefault(f"{a['verdict']}->{b['verdict']}", []).append(
            {"path": p["path"], "part_id": p["part_id"], "score_" + va: a["score"], "score_" + vb: b["score"]})
    marked = []
    for p in sorted(parts.values(), key=lambda p: p["path"]):
        mark = marks.get(p["path"])
        if mark is not None:
            marked.append({"path": p["path"], **mark, "part_id": p["part_id"] or mark["part_id"],
                           va: p.get(va, {}).get("verdict"), vb: p.get(vb, {}).get("verdict"),
                           "score_" + va: p.get(va, {}).get("score"), "score_" + vb: p.get(vb, {}).get("score")})
    checks = [{"path": p["path"], **masters[p["path"]], "part_id": p["part_id"] or masters[p["path"]]["part_id"],
               va: p.get(va, {}).get("verdict"), vb: p.get(vb, {}).get("verdict"),
               "score_" + va: p.get(va, {}).get("score"), "score_" + vb: p.get(vb, {}).get("score")}
              for p in sorted(parts.values(), key=lambda p: p["path"]) if p["path"] in masters]
    thresholds = {v: next((p[v]["threshold"] for p in parts.values() if v in p and p[v]["threshold"] is not None),
                          None) for v in (va, vb)}
    return {
        "project": str(project.absolute()), "versions": [va, vb], "out": str(out.absolute()),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "images": len(parts),
        "counts": {v: counts[v].to_dict() for v in (va, vb)},
        "summary": {v: counts[v].summary() for v in (va, vb)},
        "thresholds": thresholds,
        "changed": sum(len(v) for v in changes.values()),
        "changes": dict(sorted(changes.items())),
        "marked": marked,
        # A reviewer said these were defects the station passed: does B pass them too?
        "escapes": [m for m in marked if m["label"] == "false_accept" and m[vb] == "OK"],
        # A reviewer said these were good parts the station rejected: does B still reject them?
        "still_rejected": [m for m in marked if m["label"] == "false_reject" and m[vb] not in ("OK", None)],
        # The archived master parts' checks: does each version give each the verdict it must?
        "masters": checks,
        "master_misses": {v: [c for c in checks if c[v] != c["expected"]] for v in (va, vb)},
        "errors": [{"path": p["path"], "versions": [v for v in (va, vb) if v in p and p[v]["verdict"] == "ERROR"],
                    "error": next(p[v]["error"] for v in (va, vb) if v in p and p[v]["verdict"] == "ERROR")}
                   for p in sorted(parts.values(), key=lambda p: p["path"])
                   if any(v in p and p[v]["verdict"] == "ERROR" for v in (va, vb))],
        "scores": {v: [p[v]["score"] for p in parts.values() if v in p and p[v]["score"] is not None]
                   for v in (va, vb)},
    }


def report_markdown(report: dict) -> str:
    va, vb = report["versions"]
    lines = [f"# Rescore {va} -> {vb}", "", f"Project `{report['project']}`, {report['images']} images, "
             f"{report['created']}. Rows: `{report['out']}/rows/*.parquet`.", "",
             "| version | threshold | OK | NG | NOT_FOUND | NO_VERDICT | ERROR | yield |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for v in (va, vb):
        c, thr = report["counts"][v], report["thresholds"][v]
        y = "-" if c["yield"] is None else f"{100 * c['yield']:.1f}%"
        lines.append(f"| {v} | {'-' if thr is None else f'{thr:.4g}'} | {c['OK']} | {c['NG']} | {c['NOT_FOUND']} | "
                     f"{c['NO_VERDICT']} | {c['ERROR']} | {y} |")
    lines += ["", f"## Verdict changes {va} -> {vb}: {report['changed']}", ""]
    for change, items in report["changes"].items():
        lines.append(f"### {change}: {len(items)}")
        lines += [f"- `{it['path']}`" + (f" (part {it['part_id']})" if it["part_id"] else "") +
                  f": {_num(it['score_' + va])} -> {_num(it['score_' + vb])}" for it in items[:MD_LIST]]
        if len(items) > MD_LIST:
            lines.append(f"- ... and {len(items) - MD_LIST} more (report.json lists all)")
        lines.append("")
    lines += [f"## Parts a reviewer marked: {len(report['marked'])}", ""]
    if report["escapes"]:
        lines.append(f"**{len(report['escapes'])} marked defect(s) (false accept) would pass with {vb}.**")
        lines.append("")
    if report["marked"]:
        lines += [f"| path | part | mark | then | {va} | {vb} |", "| --- | --- | --- | --- | --- | --- |"]
        lines += [f"| `{m['path']}` | {m['part_id'] or ''} | {m['label']} | {m['verdict_then']} | {m[va]} | {m[vb]} |"
                  for m in report["marked"]]
    if report["masters"]:
        passes = ", ".join(f"{v} {len(report['masters']) - len(report['master_misses'][v])}" for v in (va, vb))
        lines += ["", f"## Master parts' checks: {len(report['masters'])} archived; passed by {passes}", ""]
        if report["master_misses"][vb]:
            lines += [f"**{vb} would fail {len(report['master_misses'][vb])} master check(s): it would not give the "
                      "verdict the master part must get.**", ""]
        lines += [f"| path | part | expected | {va} | {vb} |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| `{c['path']}` | {c['part_id'] or ''} | {c['expected']} | {c[va]} | {c[vb]} |"
                  for c in report["masters"]]
    if report["errors"]:
        lines += ["", f"## Images that could not be inspected: {len(report['errors'])}", ""]
        lines += [f"- `{e['path']}` ({', '.join(e['versions'])}): {e['error']}" for e in report["errors"][:MD_LIST]]
    if report.get("png"):
        lines += ["", f"![scores]({report['png']})"]
    return "\n".join(lines) + "\n"


def _num(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def histogram_png(report: dict, path: Path) -> bool:
    """Both versions' score histograms with their thresholds; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    va, vb = report["versions"]
    scores = [s for v in (va, vb) for s in report["scores"][v]]
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    bins = 40 if scores else 1
    lo, hi = (min(scores), max(scores)) if scores else (0.0, 1.0)
    for v, colour in ((va, "tab:blue"), (vb, "tab:orange")):
        ax.hist(report["scores"][v], bins=bins, range=(lo, hi if hi > lo else lo + 1), alpha=0.5, color=colour,
                label=f"{v} ({len(report['scores'][v])} scored)")
        if report["thresholds"][v] is not None:
            ax.axvline(report["thresholds"][v], color=colour, linestyle="--", label=f"{v} threshold")
    ax.set_xlabel("image score")
    ax.set_ylabel("images")
    ax.set_title(f"Rescore {va} -> {vb}: {report['images']} images")
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return True


def write_report(project: str | Path, out: str | Path) -> dict:
    """report.json, report.md and scores.png under `out`, and the pointer to them for version B."""
    out = Path(out)
    report = build_report(project, out)
    report["png"] = REPORT_PNG if histogram_png(report, out / REPORT_PNG) else None
    scores = report.pop("scores")
    atomic_write(out / REPORT_JSON, (json.dumps(report, indent=2) + "\n").encode("utf-8"))
    atomic_write(out / REPORT_MD, report_markdown(report).encode("utf-8"))
    va, vb = report["versions"]
    pointer = {"report": str((out / REPORT_JSON).absolute()), "versions": [va, vb], "created": report["created"],
               "images": report["images"], "changes": {k: len(v) for k, v in report["changes"].items()},
               "escapes": len(report["escapes"]), "yield": {v: report["counts"][v]["yield"] for v in (va, vb)},
               "masters": len(report["masters"]), "master_misses": len(report["master_misses"][vb])}
    atomic_write(Path(project) / POINTERS / f"latest-{vb}.json", (json.dumps(pointer, indent=2) + "\n").encode())
    report["scores"] = scores
    return report


def latest_report(project: str | Path, version: str) -> Optional[dict]:
    """The newest rescore report with `version` as the new one (its summary and where it is), or None."""
    pointer = Path(project) / POINTERS / f"latest-{version}.json"
    try:
        data = json.loads(pointer.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not Path(str(data.get("report", ""))).is_file():
        return None
    return data


def report_line(pointer: dict) -> str:
    """One line for a version list: 'rescore vs v1 on 200 images: OK->NG 3, NG->OK 1; 0 marked defects pass'."""
    va, vb = pointer["versions"]
    changes = ", ".join(f"{k} {n}" for k, n in pointer.get("changes", {}).items()) or "no verdict changes"
    masters = (f"; {pointer['master_misses']} of {pointer['masters']} master part check(s) would fail"
               if pointer.get("masters") else "")
    return (f"{vb}: rescore vs {va} on {pointer.get('images')} images ({pointer.get('created', '')}): {changes}; "
            f"{pointer.get('escapes', 0)} marked defect(s) would pass{masters}; "
            f"{Path(pointer['report']).with_suffix('.md')}")
