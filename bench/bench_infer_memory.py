"""Peak memory of `inspector infer` over many images (issue 8: results stream, memory stays flat).

    python bench/bench_infer_memory.py [--images 2000]

Writes N generated parts, fits a tiny random model, then runs `inspector infer DIR --json OUT --heatmaps DIR`
in a subprocess and samples its RSS every 50 ms. Prints the RSS once the first batch is written (the first
heatmap file appears), at each tenth of the run, at the end (when the JSON output appears whole, i.e. the last
image is done; the interpreter's own teardown after that is not inspection) and the peak until then.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2000)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests"))
    from inference.synthetic import write_discs
    from tiny_project import TINY_YAML

    work = Path(tempfile.mkdtemp(prefix="bench_mem_"))
    (work / "tiny.yaml").write_text(TINY_YAML)
    write_discs(work / "ok", range(4))
    write_discs(work / "many", range(100, 100 + args.images))
    cli = [sys.executable, "-m", "inspector_cli.entry"]
    cfg = ["--config", str(work / "tiny.yaml")]
    subprocess.run([*cli, "fit", str(work / "p"), "--ok", str(work / "ok"), *cfg], cwd=ROOT, check=True,
                   capture_output=True)
    heatmaps = work / "heatmaps"
    t0 = time.perf_counter()
    proc = subprocess.Popen([*cli, "infer", str(work / "p"), str(work / "many"), "--json", str(work / "out.json"),
                             "--heatmaps", str(heatmaps), *cfg], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    first_batch = peak = end = 0.0
    trace = []  # (images done, RSS MB) at each tenth of the run
    marks = [args.images * k // 10 for k in range(1, 11)]
    counted = 0.0  # when the heatmaps were last counted (every 2 s: listing 10,000 files is not free)
    while proc.poll() is None:
        rss = rss_mb(proc.pid)
        if not end:
            if (work / "out.json").exists():  # the JSON appears whole once the last image is done: the end
                end = rss
            else:
                peak = max(peak, rss)
        if heatmaps.is_dir() and not end:
            if not first_batch and any(heatmaps.iterdir()):
                first_batch = rss
            if marks and time.perf_counter() - counted > 2.0:
                counted = time.perf_counter()
                done = sum(1 for _ in heatmaps.iterdir())
                while marks and done >= marks[0]:
                    trace.append((marks.pop(0), rss))
        time.sleep(0.05)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stderr.read().decode(), file=sys.stderr)
        return 1
    n = len(list(heatmaps.iterdir()))
    print(f"inspector infer over {args.images} images of 160 px (tiny random ViT, --json and --heatmaps): "
          f"{n} heatmaps, {seconds:.0f} s")
    print("RSS along the run: " + ", ".join(f"{done} images {mb:.0f} MB" for done, mb in trace))
    print(f"RSS after the first batch {first_batch:.0f} MB, at the end {end:.0f} MB, peak while inspecting "
          f"{peak:.0f} MB; growth {end - first_batch:.0f} MB to the end, {peak - first_batch:.0f} MB to the peak")
    return 0


if __name__ == "__main__":
    sys.exit(main())
