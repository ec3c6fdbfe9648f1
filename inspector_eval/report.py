"""Markdown tables and the AUROC-vs-shots plot from a run's records (the JSON is the records as they are).

Each cell reads "ours / anomalib (ratio ours/anomalib)" when both ran.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from inference import InspectorError

QUALITY = [("image AUROC", "image_auroc", 3), ("pixel AUROC", "pixel_auroc", 3), ("AUPRO@30%", "aupro", 3),
           ("F1", "calibrated.f1", 3), ("FRR", "calibrated.frr", 3), ("FAR", "calibrated.far", 3)]
SPEED = [("embed s", "fit.embedding_s", 2), ("coreset s", "fit.coreset_s", 2), ("fit s", "fit.total_s", 2),
         ("latency ms (median)", "latency.median_ms", 1), ("latency ms (p95)", "latency.p95_ms", 1),
         ("fit peak mem MiB (+)", "peak_mem_increase_mb", 0)]


def get(rec: Optional[dict], path: str):
    cur = rec
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _num(v, digits: int) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def cell(ours, peer, digits: int) -> str:
    if peer is None and ours is None:
        return "-"
    if peer is None:
        return _num(ours, digits)
    ratio = "" if ours is None or not peer else f" ({ours / peer:.2f})"
    return f"{_num(ours, digits)} / {_num(peer, digits)}{ratio}"


def _shot_key(label: str) -> float:
    return float("inf") if label == "all" else float(label)


def _index(records: list[dict]) -> dict:
    return {(r["category"], r["shots"], r["method"]): r for r in records}


def table(records: list[dict], category: str, columns, mine: str = "ours", peer: str = "anomalib") -> str:
    idx = _index(records)
    shots = sorted({r["shots"] for r in records if r["category"] == category and r["method"] == mine}, key=_shot_key)
    head = "| shots | " + " | ".join(c[0] for c in columns) + " |"
    lines = [head, "|" + "---|" * (len(columns) + 1)]
    for s in shots:
        a, b = idx.get((category, s, mine)), idx.get((category, s, peer))
        n = a["n_train"] if a else s
        lines.append(f"| {s if s != 'all' else f'all ({n})'} | "
                     + " | ".join(cell(get(a, key), get(b, key), d) for _, key, d in columns) + " |")
    return "\n".join(lines)


def speed_table(records: list[dict], method: str) -> str:
    rows = [r for r in records if r["method"] == method]
    lines = ["| category | shots | " + " | ".join(c[0] for c in SPEED) + " |", "|" + "---|" * (len(SPEED) + 2)]
    for r in sorted(rows, key=lambda r: (r["category"], _shot_key(r["shots"]))):
        lines.append(f"| {r['category']} | {r['shots']} | "
                     + " | ".join(_num(get(r, key), d) for _, key, d in SPEED) + " |")
    return "\n".join(lines)


def calibration_table(records: list[dict], method: str = "ours") -> str:
    """FRR / FAR at each OK-only calibrated threshold, and whether the capture-shift warning fired."""
    rows = [r for r in records if r["method"] == method and r.get("calibration_options")]
    if not rows:
        return ""
    names = list(rows[0]["calibration_options"])
    lines = ["| category | shots | " + " | ".join(f"{n} FRR / FAR" for n in names) + " | capture-shift warning |",
             "|" + "---|" * (len(names) + 3)]
    for r in sorted(rows, key=lambda r: (r["category"], _shot_key(r["shots"]))):
        opts = r["calibration_options"]
        lines.append(f"| {r['category']} | {r['shots']} | "
                     + " | ".join(f"{_num(opts[n]['frr'], 2)} / {_num(opts[n]['far'], 2)}" for n in names)
                     + f" | {'yes' if r.get('capture_shift_warning') else 'no'} |")
    return "\n".join(lines)


OPERATING = (("ok_only", "OK-only"), ("ok_ng", "OK+NG"), ("zero_escape", "zero escapes"),
             ("anomalib_ok_ng", "anomalib F1 OK+NG"), ("anomalib_ok_only", "anomalib F1 OK-only"))


def operating_table(records: list[dict]) -> str:
    """Per cell and method: test FRR / FAR at each calibrated threshold, and the ROC's FRR at FAR <= 5 %."""
    rows = [r for r in records if r.get("operating_point") and r.get("quality_meaningful", True)]
    if not rows:
        return ""
    lines = ["| category | shots | method | " + " | ".join(f"{label} FRR / FAR" for _, label in OPERATING)
             + " | FRR at FAR <= 0.05 |", "|" + "---|" * (len(OPERATING) + 4)]
    for r in sorted(rows, key=lambda r: (r["category"], _shot_key(r["shots"]), r["method"])):
        op = r["operating_point"]
        cells = [f"{_num(op[k]['frr'], 2)} / {_num(op[k]['far'], 2)}" if k in op else "-" for k, _ in OPERATING]
        lines.append(f"| {r['category']} | {r['shots']} | {r['method']} | " + " | ".join(cells)
                     + f" | {_num(op['frr_at_far']['frr'], 2)} |")
    return "\n".join(lines)


def markdown(result: dict) -> str:
    meta, records = result["meta"], result["records"]
    methods = {r["method"] for r in records}
    has_peer = "anomalib" in methods
    out = [f"Command: `{meta['command']}`  ",
           f"Date: {meta['date']}; machine: {meta['machine'].get('cpu')}, {meta['machine'].get('cpu_count')} CPUs, "
           f"GPU: {meta['machine'].get('gpu') or 'none'}, torch {meta['machine'].get('torch')}"
           + (f", anomalib {meta['anomalib_version']}" if meta.get("anomalib_version") else "")
           + f"; run took {meta.get('seconds', 0):.0f} s.", ""]
    if has_peer:
        out.append("Cells: ours / anomalib (ratio ours / anomalib). FRR, FAR, seconds, ms, MiB: lower is better.")
    parity = meta.get("backbone_parity")
    if parity:
        out.append(f"Same backbone check (raw outputs of stages {parity.get('stages', '')} on 2 OK images): shapes "
                   f"{parity['shapes_ours']} vs "
                   f"{parity['shapes_anomalib']}, max |diff| {[_num(d, 6) for d in parity['max_abs_diff']]}.")
    for failed in meta.get("failures", []):
        out.append(f"**{failed['category']}: could not run** ({failed['error']}).")
    out.append("")
    if "ours" in methods:
        for cat in meta["categories"]:
            out += [f"#### {cat}: quality", "", table(records, cat, QUALITY), "",
                    f"#### {cat}: speed (fit on the shots; latency per image, batch 1)", "",
                    table(records, cat, SPEED), ""]
    cal = calibration_table(records)
    if cal:
        out += ["#### Ours: OK-only calibration options (threshold from the held-out OK images)", "", cal, ""]
    op = operating_table(records)
    if op:
        out += ["#### Operating point: test FRR / FAR at each calibrated threshold (calibration: the held-out OK "
                "images and the calibration NG images; the test counts exclude those)", "", op, ""]
    if "ours-dinov2" in methods:
        out += ["#### Our DINOv2 ViT-S/14 (RANDOM weights: speed only, its quality figures are not meaningful)", "",
                speed_table(records, "ours-dinov2"), ""]
    return "\n".join(out)


def plot(result: dict, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InspectorError("inspector eval --plot needs matplotlib: pip install 'inspector[bench]'") from None
    records = [r for r in result["records"] if r["quality_meaningful"] and r["image_auroc"] is not None]
    cats = [c for c in result["meta"]["categories"] if any(r["category"] == c for r in records)]
    ncols = min(3, len(cats))
    nrows = -(-len(cats) // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.6 * nrows), squeeze=False)
    axes = [list(grid.ravel())]
    for ax in axes[0][len(cats):]:
        ax.set_visible(False)
    styles = {"ours": dict(color="tab:blue", marker="o"), "anomalib": dict(color="tab:orange", marker="s")}
    for ax, cat in zip(axes[0], cats):
        labels = sorted({r["shots"] for r in records if r["category"] == cat}, key=_shot_key)
        xs = {s: i for i, s in enumerate(labels)}
        for method in sorted({r["method"] for r in records}):
            rows = sorted((r for r in records if r["category"] == cat and r["method"] == method),
                          key=lambda r: _shot_key(r["shots"]))
            ax.plot([xs[r["shots"]] for r in rows], [r["image_auroc"] for r in rows], label=method,
                    **styles.get(method, {}))
        ticks = [s if s != "all" else f"all ({_n_all(records, cat)})" for s in labels]
        ax.set_xticks(range(len(labels)), ticks)
        ax.set_title(cat)
        ax.set_xlabel("OK images taught (shots)")
        ax.set_ylabel("image AUROC")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    fig.suptitle("Image AUROC vs OK shots, EfficientNet-Lite0 backbone for both", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _n_all(records: list[dict], cat: str) -> int:
    return next((r["n_train"] for r in records if r["category"] == cat and r["shots"] == "all"), 0)
