"""Walk a built bundle through what a line does with it, from outside, with real clients.

    python packaging/walk_bundle.py dist/inspector/inspector      # or: python packaging/build.py --walk
    python packaging/walk_bundle.py dist/inspector-edge/inspector --edge   # the edge bundle (see below)

The self-test checks the engine inside the bundle; this drives the bundle's own executable as separate
processes, the way a line engineer and the line's PLC and software do: fit, calibrate, infer (and a missing
image: exit 2), info, versions, audit, export and infer on the export; `run` with the PLC handshake over
Modbus TCP (pymodbus client), results on MQTT (a real mosquitto, when installed), Prometheus metrics and the line
display; `run` over OPC UA (asyncua client); a backup; `serve` with POST /infer, a junk upload, the backup_due alarm of
`--backups` and the backup restored as a new project over HTTP. Generated discs (some
scratched), so no data set is needed. One PASS/FAIL line per step; exit code 0 when all passed. Run it with
the full install's Python (it needs pymodbus, asyncua and paho-mqtt as the clients); servers listen on
127.0.0.1, on free ports, and are stopped here.

With --edge the bundle is the edge one (no torch): the Python running the walk (the full install) fits,
calibrates and exports the model, and the bundle does what an edge PC on the line does with the export: infer,
info, versions, teaching refused (exit 2), `run` with Modbus, MQTT and OPC UA, and `serve`.
"""

from __future__ import annotations

import faulthandler
import json
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from build import clean_env  # noqa: E402  (packaging/build.py: the bundle's environment)
from inference import write_discs  # noqa: E402
from inspector_cli.selftest_service import file_request, infer_request  # noqa: E402

START_SECONDS = 120
WALK_SECONDS = 900  # past this, every thread's stack is printed and the walk ends (exit 1): a hang is a failure


class Walk:
    def __init__(self, exe: Path, work: Path, teacher: Optional[list[str]] = None):
        """`teacher`: the command that fits, calibrates and exports (default: the bundle itself)."""
        self.exe, self.work, self.failed = exe, work, []
        self.teacher = teacher or [str(exe)]
        self.env = clean_env()

    def record(self, name: str, ok: bool, detail: str) -> bool:
        print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)
        if not ok:
            self.failed.append(name)
        return ok

    def cli(self, name: str, *args: str, expect: int = 0, teach: bool = False) -> subprocess.CompletedProcess:
        command = self.teacher if teach else [str(self.exe)]
        proc = subprocess.run([*command, *args], cwd=self.work, env=self.env, capture_output=True, text=True,
                              timeout=600)
        tail = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or [""])[-1]
        self.record(name, proc.returncode == expect, f"exit {proc.returncode} (expected {expect}) {tail[:160]}")
        return proc

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([str(self.exe), *args], cwd=self.work, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)

    def stop(self, proc: subprocess.Popen) -> str:
        proc.terminate()
        try:
            return proc.communicate(timeout=60)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.communicate()[0] + "\n(killed: it did not stop within 60 s of SIGTERM)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(ready, proc: subprocess.Popen, what: str):
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before it was ready")
        try:
            value = ready()
            if value:
                return value
        except (OSError, ConnectionError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{what} was not ready within {START_SECONDS} s")


def modbus_and_mqtt(walk: Walk, project: Path, source: Path, ng: Path) -> None:
    from pymodbus.client import ModbusTcpClient

    mb, met, shown = free_port(), free_port(), free_port()
    args = ["run", str(project), "--source", str(source), "--modbus", f"127.0.0.1:{mb}",
            "--metrics", f"127.0.0.1:{met}", "--display", f"127.0.0.1:{shown}"]
    broker = messages = subscriber = None
    if shutil.which("mosquitto"):
        import paho.mqtt.client as mqtt

        mq = free_port()
        broker = subprocess.Popen(["mosquitto", "-p", str(mq)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        messages = []
        subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        subscriber.on_message = lambda client, userdata, msg: messages.append(json.loads(msg.payload))
        wait_for(lambda: subscriber.connect("127.0.0.1", mq) == 0, broker, "mosquitto")
        subscriber.subscribe("line/results", qos=1)
        subscriber.loop_start()
        args += ["--mqtt", f"mqtt://127.0.0.1:{mq}/line/results"]
    run = walk.start(*args)
    plc = ModbusTcpClient("127.0.0.1", port=mb)
    try:
        wait_for(plc.connect, run, "inspector run --modbus")
        shutil.copy(ng, source / "part1.png")
        part = b"SN-0042".ljust(40, b"\0")
        plc.write_registers(10, [part[i] << 8 | part[i + 1] for i in range(0, 40, 2)])
        plc.write_coil(0, True)  # Trigger
        wait_for(lambda: plc.read_coils(0, count=5).bits[2], run, "ResultReady")
        regs = plc.read_holding_registers(0, count=5).registers
        score = struct.unpack(">f", struct.pack(">HH", regs[1], regs[2]))[0]
        plc.write_coil(3, True)  # Ack
        walk.record("run --modbus", regs[0] == 2, f"Trigger -> verdict {regs[0]} (2 is NG), score {score:.4g}, "
                                                 f"sequence {regs[3]}, model version {regs[4]}")
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{met}/metrics", timeout=10).read().decode()
        counted = f'inspector_inspections_total{{project="{project.name}",verdict="NG"}} 1.0' in metrics
        walk.record("run --metrics", counted, "the NG counted" if counted else "no NG in inspector_inspections_total")
        state = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{shown}/state", timeout=10).read())
        seen = state["part"] or {}
        picture = urllib.request.urlopen(f"http://127.0.0.1:{shown}/{seen['picture']}", timeout=10).read() \
            if seen.get("picture") else b""
        walk.record("run --display", seen.get("verdict") == "NG" and picture[:2] == b"\xff\xd8",
                    f"the line display shows {seen.get('verdict')} for part {seen.get('part_id')}, a "
                    f"{len(picture)}-byte JPEG picture")
        if subscriber is not None:
            got = wait_for(lambda: messages, run, "the MQTT result")
            walk.record("run --mqtt", got[0].get("verdict") == "NG" and got[0].get("part_id") == "SN-0042",
                        f"{got[0].get('verdict')} for part {got[0].get('part_id')} via mosquitto")
        else:
            print("SKIP run --mqtt: mosquitto is not installed", flush=True)
    except Exception as exc:  # noqa: BLE001  (a step's failure is a FAIL line, and the walk goes on)
        walk.record("run --modbus", False, f"{type(exc).__name__}: {exc}")
    finally:
        plc.close()
        out = walk.stop(run)
        if subscriber is not None:
            subscriber.loop_stop()
        if broker is not None:
            broker.terminate()
            broker.wait()
    walk.record("run stops on SIGTERM", run.returncode == 130, f"exit {run.returncode} (130: stopped cleanly)"
                + ("" if run.returncode == 130 else f"; {out[-300:]}"))


def opcua(walk: Walk, project: Path, source: Path, good: Path) -> None:
    from asyncua import ua
    from asyncua.sync import Client, ThreadLoop

    port = free_port()
    run = walk.start("run", str(project), "--source", str(source), "--opcua", f"opc.tcp://127.0.0.1:{port}")
    # One event-loop thread for every client, stopped at the end: each client made without one starts its own,
    # and a refused client's thread kept the walk from exiting.
    tloop = ThreadLoop()
    tloop.start()

    def connected():
        attempt = Client(f"opc.tcp://127.0.0.1:{port}", tloop=tloop)  # a fresh client per try
        attempt.connect()
        return attempt

    try:
        client = wait_for(connected, run, "inspector run --opcua")
        node = lambda name: client.get_node(f"ns=2;s=Inspector.{name}")  # noqa: E731
        shutil.copy(good, source / "part2.png")
        node("Trigger").write_value(ua.DataValue(ua.Variant(True, ua.VariantType.Boolean)))
        wait_for(lambda: node("ResultReady").read_value(), run, "ResultReady")
        verdict, score = node("Verdict").read_value(), node("Score").read_value()
        node("Ack").write_value(ua.DataValue(ua.Variant(True, ua.VariantType.Boolean)))
        walk.record("run --opcua", verdict == 1, f"Trigger -> verdict {verdict} (1 is OK), score {score:.4g}")
        client.disconnect()
    except Exception as exc:  # noqa: BLE001
        walk.record("run --opcua", False, f"{type(exc).__name__}: {exc}")
    finally:
        walk.stop(run)
        tloop.stop()


def serve(walk: Walk, project: Path, ng: Path, backup: Optional[Path] = None) -> None:
    """`backup`: a backup of `project` (inspector backup into a backup folder): the served copy, named `part`, has
    none there (backup_due), and the file restores over HTTP as the new project `restored`, which inspects."""
    port = free_port()
    projects = walk.work / "served"
    shutil.copytree(project, projects / "part")
    watch = ["--backups", str(backup.parent)] if backup else []
    server = walk.start("serve", "--projects", str(projects), "--port", str(port), *watch)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: urllib.request.urlopen(base + "/health", timeout=5).status == 200, server, "serve")
        result = json.loads(urllib.request.urlopen(infer_request(base, "part", ng), timeout=120).read())["results"][0]
        walk.record("serve POST /infer", result["verdict"] == "NG", f"{result['verdict']}, score {result['score']:.4g}")
        if backup is not None:
            alarm = wait_for(lambda: json.loads(urllib.request.urlopen(base + "/health", timeout=5).read())[
                "alarms"].get("part", {}).get("backup_due"), server, "the backup_due alarm")
            walk.record("serve --backups", "no backup of part" in alarm, alarm[:160])
            restored = json.loads(urllib.request.urlopen(file_request(f"{base}/projects/restored/restore", "backup",
                                                                      backup), timeout=120).read())
            again = json.loads(urllib.request.urlopen(infer_request(base, "restored", ng), timeout=120).read())[
                "results"][0]
            walk.record("serve POST /restore", restored["inspects"] and again["verdict"] == "NG"
                        and again["score"] == result["score"], f"{restored['backup']['project']} restored as "
                        f"'restored': {again['verdict']}, score {again['score']:.4g} (the original's "
                        f"{result['score']:.4g})")
        junk = walk.work / "junk.png"
        junk.write_bytes(b"not an image")
        try:
            urllib.request.urlopen(infer_request(base, "part", junk), timeout=60)
            walk.record("serve junk upload", False, "accepted")
        except urllib.error.HTTPError as exc:
            walk.record("serve junk upload", exc.code == 415, f"{exc.code} {exc.read().decode()[:120]}")
    except Exception as exc:  # noqa: BLE001
        walk.record("serve POST /infer", False, f"{type(exc).__name__}: {exc}")
    finally:
        walk.stop(server)
    walk.record("serve stops on SIGTERM", server.returncode == 0, f"exit {server.returncode}")


def main(argv: list[str]) -> int:
    edge = "--edge" in argv
    argv = [a for a in argv if a != "--edge"]
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    exe = Path(argv[0]).resolve()
    faulthandler.dump_traceback_later(WALK_SECONDS, exit=True)
    with tempfile.TemporaryDirectory(prefix="inspector-walk-") as tmp:
        work = Path(tmp)
        # The edge bundle cannot teach: this Python (the full install) fits, calibrates and exports for it.
        walk = Walk(exe, work, teacher=[sys.executable, "-m", "inspector_cli.entry"] if edge else None)
        write_discs(work / "fit", range(8))
        cal_ok, cal_ng = write_discs(work / "cal", range(100, 106)), write_discs(work / "cal", range(200, 202), True)
        good, bad = write_discs(work / "test", range(300, 303)), write_discs(work / "test", range(400, 403), True)
        source = work / "source"
        source.mkdir()
        project = work / "project"
        by = " (full install)" if edge else ""
        walk.cli("fit" + by, "fit", str(project), "--ok", str(work / "fit"), "--note", "walk", teach=True)
        walk.cli("calibrate" + by, "calibrate", str(project), "--ok", *map(str, cal_ok), "--ng", *map(str, cal_ng),
                 teach=True)
        if edge:
            walk.cli("export" + by, "export", str(project), str(work / "exported"), teach=True)
            project = work / "exported"  # what the edge PC holds and the line inspects with
        proc = walk.cli("infer", "infer", str(project), *map(str, good + bad), "--json")
        if proc.returncode == 0:
            verdicts = [r["verdict"] for r in json.loads(proc.stdout)["results"]]
            walk.record("verdicts", verdicts == ["OK"] * 3 + ["NG"] * 3, f"{verdicts}")
        walk.cli("a missing image", "infer", str(project), str(work / "missing.png"), expect=2)
        proc = walk.cli("info", "info", str(project), "--json")
        if proc.returncode == 0:
            compute = json.loads(proc.stdout).get("compute") or {}
            print(f"     computes: {compute}", flush=True)
        walk.cli("versions", "versions", str(project))
        walk.cli("audit", "audit", str(project))
        if edge:
            walk.cli("teaching refused", "fit", str(work / "new"), "--ok", str(work / "fit"), expect=2)
        else:
            walk.cli("export", "export", str(project), str(work / "exported"))
            walk.cli("infer the export", "infer", str(work / "exported"), *map(str, good + bad))
        modbus_and_mqtt(walk, project, source, bad[0])
        opcua(walk, project, source, good[0])
        backup = None
        if not edge:
            (work / "backups").mkdir()  # the nightly unit's folder (backup.env's BACKUP_DIR)
            walk.cli("backup", "backup", str(project), str(work / "backups"))
            backup = next(iter(sorted((work / "backups").glob("*.zip"))), None)
        serve(walk, project, bad[1], backup)
        print(f"walk {'PASSED' if not walk.failed else 'FAILED: ' + ', '.join(walk.failed)}", flush=True)
        return 1 if walk.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
