"""The inspection service under load: K concurrent clients for T seconds, and its HTTP overhead.

Starts `inspector serve` as its own process on 127.0.0.1 (a free port), fits a project over HTTP, then:
1. K clients post one image per request for T seconds: requests/s, latency p50/p95/p99, errors, and the
   server's RSS before, during (every 5 s) and after the load;
2. batch 1, one request at a time, alternated with in-process `Engine.infer` on the same image files:
   the medians and their ratio (the HTTP overhead).
Prints figures; never passes or fails on them. Example (the issue's target):
    nice -n 10 python bench/bench_service.py --clients 8 --seconds 60
Default images: MVTec bottle (512 px JPEG) from ../shared/data; generated discs scaled to 512 px without it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

# OpenMP threads that spin after their work (the default) steal this 2-core machine from the next call, in
# this process or the server's; passive waiting is set before torch loads, for both processes alike.
# --omp-wait-policy default keeps the runtime's own setting.
if "--omp-wait-policy" not in sys.argv or "passive" in sys.argv:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from inference import Engine, EngineConfig  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BOTTLE = ROOT.parent / "shared" / "data" / "mvtec_bottle"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def machine() -> str:
    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def jpeg_512(image: Image.Image) -> bytes:
    image = image.convert("RGB")
    if image.size != (512, 512):
        image = image.resize((512, 512), Image.BILINEAR)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def make_images(folder: Path, n_fit: int, n_infer: int) -> tuple[list[Path], list[Path], str]:
    folder.mkdir(parents=True, exist_ok=True)
    if (BOTTLE / "train" / "good").is_dir():
        fit_src = sorted((BOTTLE / "train" / "good").iterdir())[:n_fit]
        test_src = sorted((BOTTLE / "test" / "good").iterdir())[:n_infer]
        source = "MVTec AD bottle (train/good for the fit, test/good for inference)"
        load = Image.open
    else:
        from inference.synthetic import disc

        fit_src, test_src = list(range(n_fit)), list(range(1000, 1000 + n_infer))
        source = "generated discs scaled to 512 px (../shared/data absent)"

        def load(seed):
            return Image.fromarray(disc(seed)[0])
    out = []
    for kind, sources in (("fit", fit_src), ("test", test_src)):
        paths = []
        for i, src in enumerate(sources):
            path = folder / f"{kind}_{i:03d}.jpg"
            path.write_bytes(jpeg_512(load(src)))
            paths.append(path)
        out.append(paths)
    return out[0], out[1], source


def percentile(values, q) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def load_phase(url: str, images: list[bytes], clients: int, seconds: float, pid: int) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    rss_series = []

    def client(k: int) -> None:
        i = k
        with httpx.Client(base_url=url, timeout=60) as c:
            while time.monotonic() < stop_at:
                data = images[i % len(images)]
                i += clients
                t0 = time.perf_counter()
                try:
                    r = c.post("/projects/bench/infer", files=[("images", (f"img{i}.jpg", data, "image/jpeg"))])
                    ok = r.status_code == 200 and len(r.json()["results"]) == 1
                    problem = None if ok else f"HTTP {r.status_code}: {r.text[:120]}"
                except Exception as exc:  # a refused or cut connection counts as an error, the run goes on
                    problem = f"{type(exc).__name__}: {exc}"
                dt = time.perf_counter() - t0
                with lock:
                    if problem is None:
                        latencies.append(dt)
                    else:
                        errors.append(problem)

    def sample_rss() -> None:
        while time.monotonic() < stop_at:
            rss_series.append(round(rss_mb(pid), 1))
            time.sleep(5)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    sampler = threading.Thread(target=sample_rss, daemon=True)
    t0 = time.monotonic()
    sampler.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    return {
        "clients": clients, "seconds": round(wall, 1), "requests": len(latencies), "errors": len(errors),
        "first_errors": errors[:3], "requests_per_s": round(len(latencies) / wall, 2),
        "latency_ms": {q: round(percentile(latencies, int(q[1:])) * 1000, 1) for q in ("p50", "p95", "p99")},
        "rss_mb_during": rss_series,
    }


def batch1_phase(url: str, project: Path, config_path: Path, paths: list[Path], runs: int) -> dict:
    """Batch 1, one call at a time, HTTP and in-process alternated so that load from others hits both alike.

    The in-process engine runs on a worker thread, as the service's and the GUI's do: on this machine engine
    calls from the main thread were up to 10x slower (OpenMP spin-waiting of torch and faiss; gone with
    OMP_WAIT_POLICY=passive), which would flatter the service.
    """
    worker = ThreadPoolExecutor(1)
    engine = worker.submit(Engine, EngineConfig.load(config_path)).result()
    model = worker.submit(engine.load, project).result()

    def infer_timed(path):
        t = time.perf_counter()
        result = engine.infer(model, path)
        return result, time.perf_counter() - t
    blobs = [p.read_bytes() for p in paths]
    http_s, local_s, server_timings = [], [], []
    with httpx.Client(base_url=url, timeout=60) as c:
        for i in range(runs + 2):
            k = i % len(paths)
            t0 = time.perf_counter()
            r = c.post("/projects/bench/infer", files=[("images", (paths[k].name, blobs[k], "image/jpeg"))])
            t1 = time.perf_counter()
            result, local = worker.submit(infer_timed, paths[k]).result()
            assert r.status_code == 200, r.text
            served = r.json()["results"][0]["score"]
            assert abs(served - result.score) <= 1e-3 * max(1.0, abs(result.score)), (served, result.score)
            if i >= 2:  # the first two warm both sides up
                server_timings.append(r.json()["timings"])
                http_s.append(t1 - t0)
                local_s.append(local)
    worker.shutdown()
    http_med, local_med = statistics.median(http_s), statistics.median(local_s)
    return {"runs": runs, "http_median_ms": round(http_med * 1000, 1), "in_process_median_ms": round(local_med * 1000, 1),
            "http_p95_ms": round(percentile(http_s, 95) * 1000, 1),
            "in_process_p95_ms": round(percentile(local_s, 95) * 1000, 1),
            "overhead_ratio": round(http_med / local_med, 3),
            # Where the HTTP time goes, as the server measured it (medians, ms).
            "server_ms": {k: round(statistics.median(t[k] for t in server_timings) * 1000, 1)
                          for k in ("decode_s", "queue_s", "inference_s", "total_s")}}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--n-fit", type=int, default=20, help="OK images fitted over HTTP before the load")
    p.add_argument("--n-infer", type=int, default=8, help="distinct images the clients send")
    p.add_argument("--batch1-runs", type=int, default=40)
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument("--weights", default="auto", help="auto finds EfficientNet-Lite0's pretrained weights package")
    p.add_argument("--input-size", type=int, default=448)
    p.add_argument("--omp-wait-policy", choices=("passive", "default"), default="passive",
                   help="OMP_WAIT_POLICY for the bench and the server (default passive; see the top of this file)")
    p.add_argument("--share-batch", type=int, default=0, help="the server's --share-batch (0 = its default)")
    p.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench_service_"))
    fit_paths, test_paths, source = make_images(work / "images", args.n_fit, args.n_infer)
    config_path = work / "config.yaml"
    config_path.write_text(f"engine:\n  backbone: {args.backbone}\n  weights: {args.weights}\n"
                           f"  input_size: {args.input_size}\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    server = subprocess.Popen(
        [sys.executable, "-m", "inspector_cli.entry", "serve", "--projects", str(work / "projects"), "--port",
         str(port), "--config", str(config_path), "--log-level", "warning", "--share-batch", str(args.share_batch)],
        cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                health = httpx.get(url + "/health", timeout=2).json()
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
        with httpx.Client(base_url=url, timeout=600) as c:
            t0 = time.perf_counter()
            r = c.post("/projects/bench/fit_ok",
                       files=[("images", (q.name, q.read_bytes(), "image/jpeg")) for q in fit_paths])
            job_id = r.json()["job_id"]
            while (job := c.get(f"/jobs/{job_id}").json())["state"] in ("queued", "running"):
                time.sleep(0.2)
            if job["state"] != "done":
                raise SystemExit(f"fit failed: {job['error']}")
            fit_s = time.perf_counter() - t0
            images = [q.read_bytes() for q in test_paths]
            for data in images:  # warm-up: model loaded, allocator settled
                c.post("/projects/bench/infer", files=[("images", ("w.jpg", data, "image/jpeg"))])
        rss_before = rss_mb(server.pid)
        load = load_phase(url, images, args.clients, args.seconds, server.pid)
        rss_after = rss_mb(server.pid)
        batch1 = batch1_phase(url, work / "projects" / "bench", config_path, test_paths, args.batch1_runs)
    finally:
        server.terminate()
        server.wait(timeout=30)

    report = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "runtime default"),
        "backbone": health["backbone"], "weights": job["result"]["weights"]["source"],
        "input_size": health["input_size"], "device": health["device"], "share_batch": health["share_batch"], "images": source, "image_px": 512,
        "fit": {"n_images": args.n_fit, "seconds_over_http": round(fit_s, 1)},
        "load": load, "rss_mb": {"before": round(rss_before, 1), "after": round(rss_after, 1)}, "batch1": batch1,
    }
    print(f"service bench, {report['date']}, {report['machine']}, device {report['device']}, "
          f"OMP_WAIT_POLICY {report['omp_wait_policy']}")
    print(f"backbone {report['backbone']} (weights: {report['weights']}), input {report['input_size']} px, "
          f"shared batches of up to {report['share_batch']} image(s), "
          f"512 px JPEG from {source}; fit of {args.n_fit} images over HTTP {fit_s:.1f} s")
    lat = load["latency_ms"]
    print(f"load: {load['clients']} clients x {load['seconds']} s: {load['requests']} requests, "
          f"{load['requests_per_s']} req/s, latency p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms, "
          f"errors {load['errors']}")
    if load["first_errors"]:
        print("  first errors:", *load["first_errors"], sep="\n    ")
    print(f"server RSS: before {rss_before:.1f} MB, after {rss_after:.1f} MB, every 5 s: {load['rss_mb_during']}")
    print(f"batch 1 ({batch1['runs']} runs, alternated): HTTP median {batch1['http_median_ms']} ms "
          f"(p95 {batch1['http_p95_ms']}), in-process Engine.infer median {batch1['in_process_median_ms']} ms "
          f"(p95 {batch1['in_process_p95_ms']}): HTTP/in-process = {batch1['overhead_ratio']}")
    print(f"  inside the server (medians, ms): {batch1['server_ms']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
