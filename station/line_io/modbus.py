"""The PLC handshake over Modbus TCP (pymodbus server): the register map of docs/plc.md.

Coils: 0 Trigger (PLC sets 1: inspect the next part), 1 Busy, 2 ResultReady, 3 Ack (PLC sets 1: result taken;
the station clears ResultReady, Trigger and Ack), 4 Alarm, 5 Ready (the run is inspecting).
Holding registers: 0 verdict code (1 OK, 2 NG, 3 NOT_FOUND, 4 NO_VERDICT, 5 ERROR), 1-2 score (float32, high
word first; NaN when not scored), 3 sequence number (+1 per result, wraps at 65536), 4 active model version
(the number of vN), 5 recipe index (PLC writes between parts), 6 heartbeat (+1 a second from the run's loop,
wraps at 65536), 7 defects (the regions that count), 8-9 the largest defect's area (float32: mm^2, or px
without a pixel size; every float32 high word first unless `floats` is CDAB), 10-29 part id (ASCII, 2 characters
a register, high byte first, written by the PLC before Trigger), 30-31 and 32-33 the largest defect's centre x and
y (float32, image px; NaN without one), 34 master check (0 a production part, 1 a master part that got its
expected verdict, 2 one that did not), 35 the
active alarms, a bit each (bit i: station.line_io.alarms.ALARM_NAMES[i]), 36 the largest defect's inspection zone
(1.. the calibration's zones in order, 0 outside them or without zones), 37-38 its length (float32: mm, or px).
The PLC may write only Trigger, Ack, the recipe and the part id; a write elsewhere is answered with ILLEGAL
ADDRESS. The coils read as discrete inputs too (function 2) and the holding registers as input registers (function
4), at the same offsets: PLC function blocks that read a device's outputs as 1xxxx / 3xxxx addresses find them.

A thin adapter over station/line_io/handshake.py (the state machine OPC UA shares): the server runs its own
asyncio loop in a thread, and every Modbus read is answered from the handshake's state as it is then (pymodbus'
device action), so the runner and the PLC never see half an update. Modbus has no users: with `allowed`
(`--modbus-allow`, allowed_peers.py) a connection from any other PC is closed as it opens.
"""

from __future__ import annotations

import asyncio
import math
import struct
import threading
from typing import Optional

from inference import InspectorError

from ..addresses import elsewhere
from ..tokens import is_loopback
from .allowed_peers import AllowedPeers
from .handshake import Handshake, HandshakeAdapter, HandshakeState, Trigger
from .refusals import Refusals

TRIGGER, BUSY, RESULT_READY, ACK, ALARM, READY = range(6)
VERDICT, SCORE_HI, SCORE_LO, SEQUENCE, MODEL_VERSION, RECIPE, HEARTBEAT, DEFECTS, AREA_HI, AREA_LO = range(10)
PART_ID, PART_ID_REGS = 10, 20
DEFECT_X, DEFECT_Y = 30, 32  # float32 each, high word first
MASTER_CHECK, ALARM_BITS, DEFECT_ZONE, DEFECT_LENGTH, ERROR_CODE = 34, 35, 36, 37, 39
N_COILS, N_REGS = 16, 40
PLC_COILS = {TRIGGER, ACK}
PLC_REGS = {RECIPE, *range(PART_ID, PART_ID + PART_ID_REGS)}


# The two registers of a float32: ABCD high word first (big-endian, Modbus' own order, the default); CDAB low word
# first, as Schneider / Modicon PLCs and many others read a REAL from two registers (`--modbus-float CDAB`).
FLOAT_ORDERS = ("ABCD", "CDAB")


def float_order(text: Optional[str], name: str = "--modbus-float") -> str:
    """A float word order as given (case aside); an InspectorError naming `name` for any other."""
    order = (text or "ABCD").strip().upper()
    if order not in FLOAT_ORDERS:
        raise InspectorError(f"{name}: {text!r} is no float word order: ABCD (high word first, the default) or CDAB "
                             "(low word first, as Schneider / Modicon PLCs read a REAL)")
    return order


def float_words(value: Optional[float], order: str = "ABCD") -> tuple[int, int]:
    """A float32 as two registers, in `order` (FLOAT_ORDERS); NaN for None (not scored, no defect)."""
    hi, lo = struct.unpack(">HH", struct.pack(">f", math.nan if value is None else float(value)))
    return (lo, hi) if order == "CDAB" else (hi, lo)


def words_float(hi: int, lo: int) -> float:
    return struct.unpack(">f", struct.pack(">HH", hi, lo))[0]


def ascii_words(text: str, n: int = PART_ID_REGS) -> list[int]:
    raw = text.encode("ascii", "replace")[: 2 * n].ljust(2 * n, b"\0")
    return list(struct.unpack(f">{n}H", raw))


def words_ascii(words) -> str:
    raw = struct.pack(f">{len(words)}H", *words)
    text = raw.split(b"\0", 1)[0].decode("ascii", "replace")
    return "".join(c for c in text if c.isprintable() and c != "\ufffd").strip()


class ModbusServer(HandshakeAdapter):
    """A Modbus TCP server over a Handshake (see the module docstring for the map). Without a `handshake` it
    makes its own; the station-side calls (take_trigger, publish_result, ...) are the handshake's."""

    protocol = "modbus"  # the metrics' label

    def __init__(self, host: str, port: int, handshake: Optional[Handshake] = None,
                 allowed: Optional[AllowedPeers] = None, floats: str = "ABCD"):
        """`allowed`: the PCs answered (the PLC's address); None: any that reaches the port. `floats`: the word
        order of the float32 registers (FLOAT_ORDERS)."""
        self.host, self.port, self.allowed = host, port, allowed
        self.floats = float_order(floats)
        # what it refused (none without a list): counted for the metrics, said where this server's messages go
        self.refusals = allowed.refusals if allowed is not None else Refusals("Modbus TCP")
        self.refusals.on_message = self._say
        self.handshake = handshake or Handshake()
        self._part_words = [0] * PART_ID_REGS  # the part id as the PLC wrote it, register by register
        self._lock = threading.Lock()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._server = None
        self._thread: Optional[threading.Thread] = None
        self._ready = threading.Event()
        self._error: Optional[str] = None

    def describe(self) -> str:
        others = elsewhere(self.host, self.port, scheme="")
        if self.allowed is not None:
            who = f", answering {self.allowed.describe()} only"
        elif is_loopback(self.host):
            who = ""
        else:
            who = " (no --modbus-allow: any PC that reaches this port may write Trigger, Ack and Recipe)"
        floats = ", floats low word first (CDAB)" if self.floats == "CDAB" else ""
        return f"PLC handshake: Modbus TCP on {self.host}:{self.port}{others}{who}{floats} (docs/plc.md)"

    # -- the map ------------------------------------------------------------------------------------------------
    def coils(self, s: HandshakeState) -> list[bool]:
        coils = [False] * N_COILS
        coils[TRIGGER], coils[BUSY], coils[RESULT_READY], coils[ACK], coils[ALARM], coils[READY] = \
            s.trigger, s.busy, s.result_ready, s.ack, s.alarm, s.ready
        return coils

    def registers(self, s: HandshakeState) -> list[int]:
        regs = [0] * N_REGS
        regs[VERDICT] = s.verdict
        regs[SCORE_HI], regs[SCORE_LO] = float_words(None if math.isnan(s.score) else s.score, self.floats)
        regs[SEQUENCE] = s.sequence & 0xFFFF
        regs[MODEL_VERSION] = s.model_version & 0xFFFF
        regs[RECIPE] = s.recipe & 0xFFFF
        regs[HEARTBEAT] = s.heartbeat & 0xFFFF
        regs[DEFECTS] = min(s.defects, 0xFFFF)
        regs[AREA_HI], regs[AREA_LO] = float_words(s.defect_area, self.floats)
        regs[DEFECT_X:DEFECT_X + 2] = float_words(s.defect_x, self.floats)
        regs[DEFECT_Y:DEFECT_Y + 2] = float_words(s.defect_y, self.floats)
        regs[MASTER_CHECK] = s.master_check
        regs[ALARM_BITS] = s.alarm_bits & 0xFFFF
        regs[DEFECT_ZONE] = s.defect_zone & 0xFFFF
        regs[DEFECT_LENGTH:DEFECT_LENGTH + 2] = float_words(s.defect_length, self.floats)
        regs[ERROR_CODE] = s.error_code
        words = self._part_words if words_ascii(self._part_words) == s.part_id else ascii_words(s.part_id)
        regs[PART_ID:PART_ID + PART_ID_REGS] = words  # as written, unless the part id came another way (OPC UA)
        return regs

    # -- the PLC's side (pymodbus calls this before every read and write) --------------------------------------
    async def _action(self, function_code, start_address, address, count, registers, values):
        from pymodbus.constants import ExcCodes
        from pymodbus.simulator.simutils import SimUtils

        with self._lock:
            if function_code in (1, 2, 5, 15):  # coils (read as discrete inputs too)
                if values is not None:
                    if any(address + i not in PLC_COILS for i in range(len(values))):
                        return ExcCodes.ILLEGAL_ADDRESS
                    names = {TRIGGER: "trigger", ACK: "ack"}
                    self.handshake.plc_write(**{names[address + i]: bool(v) for i, v in enumerate(values)})
                registers[:] = SimUtils.bitsToRegisters(self.coils(self.handshake.state))
            elif function_code in (3, 4, 6, 16, 23):  # holding registers (read as input registers too)
                if values is not None:
                    if any(address + i not in PLC_REGS for i in range(len(values))):
                        return ExcCodes.ILLEGAL_ADDRESS
                    write = {}
                    for i, v in enumerate(values):
                        if address + i == RECIPE:
                            write["recipe"] = int(v) & 0xFFFF
                        else:
                            self._part_words[address + i - PART_ID] = int(v) & 0xFFFF
                            write["part_id"] = words_ascii(self._part_words)
                    self.handshake.plc_write(**write)
                registers[:] = self.registers(self.handshake.state)
        return None

    # -- serving ----------------------------------------------------------------------------------------------
    def _peers(self) -> list[str]:
        """The PCs holding a connection (pymodbus' active connections), less those refused as they opened."""
        peers = []
        for protocol in list(getattr(self._server, "active_connections", {}).values()):
            transport = getattr(protocol, "transport", None)
            peer = transport.get_extra_info("peername") if transport is not None else None
            if peer and (self.allowed is None or self.allowed.allows(peer[0])):
                peers.append(str(peer[0]))
        return peers

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="modbus", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise InspectorError(f"cannot serve Modbus TCP on {self.host}:{self.port}: {self._error}")

    def _serve(self) -> None:
        from pymodbus.server import ModbusTcpServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def main():
            bits = [SimData(0, count=1, values=0, datatype=DataType.BITS)]
            regs = [SimData(0, count=N_REGS, values=0, datatype=DataType.REGISTERS)]
            # coils and discrete inputs, holding and input registers: the station's bits and registers read either
            # way (a PLC's function block that reads 1xxxx / 3xxxx addresses), written only as coils and holding
            device = SimDevice(0, simdata=(bits, list(bits), regs, list(regs)), action=self._action)
            server_class = ModbusTcpServer if self.allowed is None else _answering(ModbusTcpServer, self.allowed)
            self._server = server_class(device, address=(self.host, self.port))
            await self._server.serve_forever(background=True)
            self._links_task = loop.create_task(self._watch_links("Modbus TCP"))

        try:
            loop.run_until_complete(main())
        except Exception as exc:  # port taken, bad address: said by start()
            self._error = str(exc) or type(exc).__name__
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        loop.run_forever()
        self._stop_watching_links()
        loop.run_until_complete(self._server.shutdown())
        loop.close()


def _answering(server_class, allowed: AllowedPeers):
    """`server_class` (pymodbus's ModbusTcpServer) that closes each connection from a PC `allowed` does not name as
    it opens: pymodbus's own close, before the connection's first request is read."""

    class Answering(server_class):
        def handle_new_connection(self):
            protocol = super().handle_new_connection()
            made = protocol.connection_made

            def connection_made(transport):
                made(transport)
                peer = transport.get_extra_info("peername") or ("?",)
                if not allowed.allows(peer[0]):
                    allowed.refuse(str(peer[0]))  # counted and logged before the PC sees the connection close
                    protocol.close()

            protocol.connection_made = connection_made
            return protocol

    return Answering


__all__ = ["ModbusServer", "Trigger", "ascii_words", "float_words", "words_ascii", "words_float"]
