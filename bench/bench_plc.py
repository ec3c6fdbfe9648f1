"""The PLC handshake's own cost: a PLC simulated on loopback by the pymodbus and asyncua clients triggers N parts
(half over Modbus TCP, half over OPC UA; one shared handshake, as `inspector run --modbus ... --opcua ...`) from
a process of its own and times Trigger written -> ResultReady seen, against the engine's own time for the same
part.

    PYTHONPATH=. python bench/bench_plc.py [--parts 500] [--size 64]

The model is a tiny one: EfficientNet-Lite0 architecture with random weights (`weights: none`) at 64 px, fitted
and calibrated on synthetic discs; the engine's time is therefore small and the figure that matters is the
overhead (what the handshake, the folder source, the image decode and the history row add). The simulated PLC
polls ResultReady every millisecond. Prints p50 / p99 of trigger -> ResultReady (and its max, the first
part's: the network's first run), of the engine's time
(Engine.iter_score per part), of the overhead (the difference, per part), of the overhead less the history row's
commit (SQLite, synchronous=FULL: an fsync per part, before the PLC is told) and of that commit, and checks that the Sequence, Verdict and PartId
every PLC read match the history row for row. Recorded in docs/plc.md.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference import Engine, EngineConfig  # noqa: E402
from inference.synthetic import disc  # noqa: E402
from inspector_line.runner import RunOptions, Runner  # noqa: E402
from inspector_line.sources import FolderSource  # noqa: E402
from station import Station  # noqa: E402
from station.history import History  # noqa: E402
from station.line_io.handshake import Handshake  # noqa: E402
from station.line_io.modbus import ModbusServer, ascii_words, words_float  # noqa: E402
from station.line_io.opcua import NAMESPACE, OpcUaServer  # noqa: E402


POLL_S = 0.001  # the simulated PLC reads ResultReady every millisecond (a fast PLC scan)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, q):
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def write_png(path: Path, rgb: np.ndarray) -> None:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    assert ok
    path.write_bytes(buf.tobytes())


def modbus_plc(port: int, parts: list[str], out: list) -> None:
    from pymodbus.client import ModbusTcpClient

    plc = ModbusTcpClient("127.0.0.1", port=port)
    assert plc.connect()
    try:
        for part_id in parts:
            plc.write_registers(10, ascii_words(part_id))
            t0 = time.perf_counter()
            plc.write_coil(0, True)
            while not plc.read_coils(2, count=1).bits[0]:  # ResultReady, polled every POLL_S like a PLC's scan
                time.sleep(POLL_S)
            t1 = time.perf_counter()
            regs = plc.read_holding_registers(0, count=4).registers
            out.append(("modbus", part_id, t1 - t0, regs[0], words_float(regs[1], regs[2]), regs[3]))
            plc.write_coil(3, True)  # Ack
    finally:
        plc.close()


async def opcua_plc(url: str, parts: list[str], out: list) -> None:
    from asyncua import Client, ua

    async with Client(url) as client:
        idx = await client.get_namespace_index(NAMESPACE)
        node = {n: client.get_node(ua.NodeId(f"Inspector.{n}", idx))
                for n in ("PartId", "Trigger", "ResultReady", "Ack", "Verdict", "Score", "Sequence")}

        async def write(name, value, kind):
            await node[name].write_value(ua.DataValue(ua.Variant(value, getattr(ua.VariantType, kind))))

        for part_id in parts:
            await write("PartId", part_id, "String")
            t0 = time.perf_counter()
            await write("Trigger", True, "Boolean")
            while not await node["ResultReady"].read_value():
                await asyncio.sleep(POLL_S)
            t1 = time.perf_counter()
            verdict, score, seq = [await node[n].read_value() for n in ("Verdict", "Score", "Sequence")]
            out.append(("opcua", part_id, t1 - t0, verdict, score, seq))
            await write("Ack", True, "Boolean")


def plc_process(mb_port: int, opc_url: str, modbus_ids: list, opcua_ids: list, results) -> None:
    seen: list = []
    modbus_plc(mb_port, modbus_ids, seen)
    asyncio.run(opcua_plc(opc_url, opcua_ids, seen))
    results.put(seen)


def tiny_line_project(project: Path, size: int = 64, batch_size: int = 1) -> Engine:
    """EfficientNet-Lite0's architecture with random weights at `size` px, fitted on 8 synthetic discs and
    calibrated on 6 more and 4 scratched ones (bench_restart.py uses it too)."""
    engine = Engine(EngineConfig(backbone="efficientnet_lite0", weights="none", input_size=size, coreset_ratio=0.5,
                                 batch_size=batch_size))
    engine.fit(project, [disc(s, size=size)[0] for s in range(8)], roi=None)
    engine.calibrate(engine.load(project), [disc(s, size=size)[0] for s in range(100, 106)],
                     [disc(s, True, size=size)[0] for s in range(200, 204)])
    return engine


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", type=int, default=500)
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args()
    print(f"load (uptime): {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}; "
          f"{os.cpu_count()} CPUs", flush=True)
    root = Path(tempfile.mkdtemp(prefix="bench_plc_"))
    project = root / "proj"
    engine = tiny_line_project(project, args.size)
    inbox = root / "inbox"
    inbox.mkdir()
    for i in range(args.parts):  # one NG in 10
        write_png(inbox / f"p{i:04d}.png", disc(1000 + i, scratch=i % 10 == 9, size=args.size)[0])
    old = time.time() - 60  # complete long ago: no settling wait
    for p in inbox.iterdir():
        os.utime(p, (old, old))

    # The engine's own time per part: Engine.iter_score, from the call (or the previous result) to each result.
    engine_times: list[float] = []
    iter_score = engine.iter_score

    def timed_iter_score(*a, **kw):
        t = time.perf_counter()
        for result in iter_score(*a, **kw):
            engine_times.append(time.perf_counter() - t)
            yield result
            t = time.perf_counter()

    engine.iter_score = timed_iter_score
    history = History(root / "history.sqlite")
    station = Station(project, engine, history=history)
    records: list[float] = []
    handshake = Handshake()
    mb_port, opc_url = free_port(), f"opc.tcp://127.0.0.1:{free_port()}"
    servers = [ModbusServer("127.0.0.1", mb_port, handshake), OpcUaServer(opc_url, handshake)]
    for s in servers:
        s.start()
    stop = threading.Event()
    runner = Runner(station, FolderSource(inbox, settle_s=0.0), RunOptions(plcs=[handshake], free_run=False),
                    on_part=lambda part: None)
    finish = runner._finish

    def timed_finish(item, outcome, rgb, **kw):  # the history row's commit, as the station timed it
        records.append(outcome.timings.get("record", math.nan))
        finish(item, outcome, rgb, **kw)

    runner._finish = timed_finish
    thread = threading.Thread(target=lambda: runner.run(stop), daemon=True)
    thread.start()
    time.sleep(1.0)
    half = args.parts // 2
    ids = [f"SN-{i:06d}" for i in range(args.parts)]
    t_start = time.perf_counter()
    # The PLC is another process, as a real one is another machine: it does not share the station's GIL.
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    plc = ctx.Process(target=plc_process, args=(mb_port, opc_url, ids[:half], ids[half:], results))
    plc.start()
    seen = results.get(timeout=3600)
    plc.join(timeout=60)
    wall = time.perf_counter() - t_start
    stop.set()
    thread.join(timeout=30)
    for s in servers:
        s.close()
    rows = history.query(descending=False)
    history.close()

    # Row for row: what the PLC read is what the history holds.
    problems = []
    if len(rows) != len(seen):
        problems.append(f"{len(rows)} history rows for {len(seen)} results")
    for n, ((proto, part_id, _, verdict, score, seq), row) in enumerate(zip(seen, rows), 1):
        expect_score = math.nan if row.score is None else row.score
        if row.part_id != part_id or seq != n or verdict != {"OK": 1, "NG": 2}.get(row.verdict, -1) or not (
                (math.isnan(score) and math.isnan(expect_score))
                or math.isclose(score, expect_score, rel_tol=1e-6 if proto == "modbus" else 1e-12)):
            problems.append(f"part {n} ({proto}): PLC read {part_id} seq {seq} verdict {verdict} score {score}; "
                            f"history {row.part_id} {row.verdict} {row.score}")
    print(f"{len(seen)} parts ({half} over Modbus TCP, {len(seen) - half} over OPC UA) in {wall:.1f} s; "
          f"verdicts OK {sum(r.verdict == 'OK' for r in rows)}, NG {sum(r.verdict == 'NG' for r in rows)}")
    trig = {p: [s[2] for s in seen if s[0] == p] for p in ("modbus", "opcua")}
    eng = {"modbus": engine_times[:half], "opcua": engine_times[half:len(seen)]}
    rec = {"modbus": records[:half], "opcua": records[half:len(seen)]}
    for proto in ("modbus", "opcua"):
        over = [t - e for t, e in zip(trig[proto], eng[proto])]
        rest = [o - r for o, r in zip(over, rec[proto])]
        print(f"{proto:7s} trigger->ResultReady p50 {pct(trig[proto], 50):6.2f} ms  p99 {pct(trig[proto], 99):6.2f} ms"
              f"  max {pct(trig[proto], 100):6.2f} ms"
              f" | engine p50 {pct(eng[proto], 50):6.2f} p99 {pct(eng[proto], 99):6.2f} ms"
              f" | overhead p50 {pct(over, 50):6.2f} p99 {pct(over, 99):6.2f} ms"
              f" | overhead less the history commit p50 {pct(rest, 50):6.2f} p99 {pct(rest, 99):6.2f} ms")
    print(f"history row commit (synchronous=FULL) p50 {pct(records, 50):.2f} ms  p99 {pct(records, 99):.2f} ms; "
          f"mean engine {1000 * statistics.mean(engine_times):.2f} ms")
    if problems:
        print(f"MISMATCH ({len(problems)}):", *problems[:10], sep="\n  ")
        return 1
    print("sequence numbers, verdicts, scores and part ids match the history row for row")
    return 0


if __name__ == "__main__":
    sys.exit(main())
