"""A remote I/O module for the tests (`inspector run --io`, the Run view's outputs): a real Modbus TCP server on
127.0.0.1 (pymodbus) that takes coil writes as such a module does, and records each with its time; its discrete
inputs (a photo-eye's) are set by the test and read as a module's are."""

from __future__ import annotations

import asyncio
import threading
import time


class IOModule:
    """A Modbus TCP server on 127.0.0.1 that takes coil writes as a remote I/O module does, and records them."""

    def __init__(self, port: int):
        self.port = port
        self.writes: list[tuple[float, int, bool]] = []  # (monotonic time, coil, value)
        self.coils = [False] * 16
        self.inputs = [False] * 16  # discrete inputs: what the sensors wired to the module say now
        self.input_reads = 0
        self._loop = None
        self._server = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    async def _action(self, function_code, start_address, address, count, registers, values):
        from pymodbus.simulator.simutils import SimUtils

        if function_code in (5, 15) and values is not None:
            for i, value in enumerate(values):
                self.coils[address + i] = bool(value)
                self.writes.append((time.monotonic(), address + i, bool(value)))
        if function_code == 2:
            self.input_reads += 1
            registers[:] = SimUtils.bitsToRegisters(self.inputs)
        else:
            registers[:] = SimUtils.bitsToRegisters(self.coils)
        return None

    def _serve(self) -> None:
        from pymodbus.server import ModbusTcpServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)

        async def main():
            bits = [SimData(0, count=1, values=0, datatype=DataType.BITS)]
            regs = [SimData(0, count=1, values=0, datatype=DataType.REGISTERS)]
            device = SimDevice(1, simdata=(bits, list(bits), regs, list(regs)), action=self._action)
            self._server = ModbusTcpServer(device, address=("127.0.0.1", self.port))
            await self._server.serve_forever(background=True)

        self._loop.run_until_complete(main())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._server.shutdown())

    def start(self) -> "IOModule":
        self._thread.start()
        assert self._ready.wait(30)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def set_input(self, number: int, on: bool) -> float:
        """A sensor's output changes (its time.monotonic() returned)."""
        self.inputs[number] = bool(on)
        return time.monotonic()

    def pulses(self, coil: int) -> list[float]:
        """Each on-off of `coil`, as its length in seconds."""
        out, on_at = [], None
        for when, c, value in self.writes:
            if c != coil:
                continue
            if value and on_at is None:
                on_at = when
            elif not value and on_at is not None:
                out.append(when - on_at)
                on_at = None
        return out
