"""A service that is taught again and again: `inspector serve`'s memory, files and threads over many fit +
calibration cycles, as a line engineer's daily refits come to a service left running for months.

    PYTHONPATH=. python bench/bench_refit_soak.py [--cycles 40]

Each cycle over HTTP: `POST /fit_ok` (8 OK discs; a new version, staged), its job waited for, `POST /calibrate_ng`
(6 OK, 4 scratched: it calibrates and activates the staged version), `POST /infer` of 2 images. The model is tiny
(EfficientNet-Lite0's architecture, random weights, 64 px). Prints the service's resident memory, open files,
threads and kept versions (`versions_kept`: 10) every 5 cycles. Prints figures; passes or fails nothing. Linux.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_plc import free_port, tiny_line_project, write_png  # noqa: E402
from bench_soak import proc_figures, wait_port  # noqa: E402
from inference.synthetic import disc  # noqa: E402


def upload(field: str, paths: list[Path]) -> list:
    return [(field, (p.name, p.read_bytes(), "image/png")) for p in paths]


def main() -> int:
    import requests

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=40)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="refit_soak_"))
    project = work / "projects" / "part"
    tiny_line_project(project, size=64)
    images: dict[str, list[Path]] = {}
    for kind, seeds, scratch in (("ok", range(300, 308), False), ("cal", range(400, 406), False),
                                 ("ng", range(500, 504), True)):
        images[kind] = []
        for seed in seeds:
            path = work / f"{kind}_{seed}.png"
            write_png(path, disc(seed, scratch=scratch, size=64)[0])
            images[kind].append(path)
    port = free_port()
    with open(work / "serve.log", "w") as log:
        service = subprocess.Popen(["inspector", "serve", "--projects", str(project.parent), "--port", str(port)],
                                   stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_port(port)
            base = f"http://127.0.0.1:{port}"
            print("cycle  RSS MiB  open files  threads  versions kept", flush=True)
            started = time.monotonic()
            for cycle in range(args.cycles):
                job = requests.post(f"{base}/projects/part/fit_ok", files=upload("images", images["ok"]))
                job.raise_for_status()
                while True:
                    state = requests.get(f"{base}/jobs/{job.json()['job_id']}").json()
                    if state["state"] in ("done", "failed", "cancelled"):
                        break
                    time.sleep(0.2)
                if state["state"] != "done":
                    raise SystemExit(f"cycle {cycle}: the fit ended {state}")
                requests.post(f"{base}/projects/part/calibrate_ng",
                              files=upload("ok", images["cal"]) + upload("ng", images["ng"])).raise_for_status()
                requests.post(f"{base}/projects/part/infer", files=upload("images", images["ng"][:2])).raise_for_status()
                if cycle % 5 == 0 or cycle == args.cycles - 1:
                    rss, fds, threads = proc_figures(service.pid)
                    kept = len(requests.get(f"{base}/projects/part/versions").json()["versions"])
                    print(f"{cycle:5d} {rss:8.1f} {fds:11d} {threads:8d} {kept:14d}", flush=True)
            print(f"{args.cycles} cycles in {time.monotonic() - started:.0f} s")
        finally:
            service.terminate()
            service.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
