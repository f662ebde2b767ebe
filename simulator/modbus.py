"""Simulated Modbus TCP devices on pymodbus's server (``SimDevice``/``SimData`` datastore).

Each device listens on its own port (0 picks a free one) and answers as one unit:

- ``sdm630``: an Eastron SDM630 three-phase meter, FC04 input registers, float32 ABCD
  (register map: nmakel/sdm_modbus ``sdm.py`` class SDM630, reference modbus.md section 3.2),
  with moving voltages, currents and powers and an import energy that counts up; holding
  registers 0x02 (demand period), 0x0C (relay pulse width), 0x14 (Modbus address) and 0x1C
  (baud) are writable float32s; like Eastron's meters it answers a read of more than 80
  registers (40 parameters) with exception 3, and reads across the holes of its map;
- ``em24``: a Carlo Gavazzi EM24, FC04 int32 with the low word first (CDAB) and fixed scales
  (nmakel/sdm_modbus ``carlogavazzi.py`` class EM24, section 3.3);
- ``sunspec``: an inverter with the SunSpec marker at 40000, the common model (1), a
  three-phase inverter (103) and an MPPT extension (160) with two modules, scale factors and
  not-implemented values (0x8000, 0xFFFF) where a real inverter leaves points out;
- ``slow``: the SDM630 answering each request after ``--delay`` seconds;
- ``dropping``: the SDM630 dropping every second request (no answer at all);
- ``refusing``: the SDM630 answering exception 2 (illegal data address) for any read that
  touches its energy registers 0x48..0x4F.

Every device counts the requests it receives (``SimModbusDevice.requests``) and keeps the
writes it accepted (``SimModbusDevice.writes``), for tests.

Run ``python -m simulator modbus [--port-base N] [DEVICE ...]``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import deque
from collections.abc import Callable, Iterable
import contextlib
from dataclasses import dataclass, field
import math
import signal
import struct
import time
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

FC_READ_COILS = 1
FC_READ_DISCRETE = 2
FC_READ_HOLDING = 3
FC_READ_INPUT = 4
WRITE_FUNCTIONS = frozenset({5, 6, 15, 16})


def float32_words(value: float) -> list[int]:
    """Big-endian (ABCD) float32 registers."""
    raw = struct.pack(">f", value)
    return [int.from_bytes(raw[0:2], "big"), int.from_bytes(raw[2:4], "big")]


def int32_cdab(value: int) -> list[int]:
    """A signed int32 with the low word first (CDAB), as the EM24 sends it."""
    raw = value & 0xFFFFFFFF
    return [raw & 0xFFFF, raw >> 16]


def string_words(text: str, registers: int) -> list[int]:
    """A NUL-padded ASCII string over ``registers`` registers."""
    data = text.encode("ascii")[: 2 * registers].ljust(2 * registers, b"\x00")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


@dataclass
class Tables:
    """A device's register tables: address -> 16-bit word (bits for coils)."""

    holding: dict[int, int] = field(default_factory=dict)
    input: dict[int, int] = field(default_factory=dict)
    coils: dict[int, bool] = field(default_factory=dict)
    writable: set[int] = field(default_factory=set)
    """Holding register addresses a write may change."""


Updater = Callable[[Tables, float], None]


# --------------------------------------------------------------------------------------------
# register maps


SDM630_INPUT_SPAN = (0, 0x17F)
# Demand period 60 min, system type 3 (3P4W), relay pulse width 100 ms, Modbus address 1,
# baud code 2 (9600).
SDM630_HOLDING = {0x02: 60.0, 0x0A: 3.0, 0x0C: 100.0, 0x14: 1.0, 0x1C: 2.0}


def sdm630_tables(t: float = 0.0) -> Tables:
    """The SDM630's registers at time ``t`` seconds (values move with ``t``)."""
    tables = Tables(
        holding=dict.fromkeys(range(64), 0),
        input=dict.fromkeys(range(384), 0),
        coils={0: False},  # not an Eastron register: a relay output to test FC05 writes on
    )
    for address, value in SDM630_HOLDING.items():
        tables.holding[address], tables.holding[address + 1] = float32_words(value)
    tables.holding[0xFC00], tables.holding[0xFC01] = 0x0001, 0xE240  # serial 123456
    tables.writable.update({0x02, 0x03, 0x0C, 0x0D, 0x14, 0x15, 0x1C, 0x1D})
    sdm630_update(tables, t)
    return tables


def _phase_values(t: float) -> dict[int, float]:
    wave = math.sin(t / 10)
    volts = [230.0 + 2 * wave, 231.0 - wave, 229.5 + wave]
    amps = [5.0 + wave, 4.0, 3.0 - wave / 2]
    power = [v * a * 0.95 for v, a in zip(volts, amps, strict=True)]
    values: dict[int, float] = {}
    for i in range(3):
        values[0x00 + 2 * i] = volts[i]
        values[0x06 + 2 * i] = amps[i]
        values[0x0C + 2 * i] = power[i]
        values[0x12 + 2 * i] = volts[i] * amps[i]
        values[0x18 + 2 * i] = volts[i] * amps[i] * 0.31
        values[0x1E + 2 * i] = 0.95
    values[0x2A] = sum(volts) / 3
    values[0x30] = sum(amps)
    values[0x34] = sum(power)
    values[0x38] = sum(v * a for v, a in zip(volts, amps, strict=True))
    values[0x3C] = values[0x38] * 0.31
    values[0x3E] = 0.95
    values[0x46] = 50.0 + 0.02 * wave
    values[0x48] = 1234.5 + t / 3600 * sum(power) / 1000  # import kWh counts up
    values[0x4A] = 10.25
    values[0x4C] = 3.5
    values[0x4E] = 0.75
    values[0xC8] = 400.0 + wave
    values[0xCA] = 399.0
    values[0xCC] = 401.0 - wave
    values[0xE0] = 0.4
    values[0x2E] = sum(amps) / 3
    values[0xCE] = (values[0xC8] + values[0xCA] + values[0xCC]) / 3
    values[0x156] = values[0x48] + values[0x4A]
    values[0x158] = values[0x4C] + values[0x4E]
    for i in range(3):  # per-phase energies: a third of the totals each
        values[0x15A + 2 * i] = values[0x48] / 3
        values[0x160 + 2 * i] = values[0x4A] / 3
        values[0x166 + 2 * i] = values[0x156] / 3
    return values


def sdm630_update(tables: Tables, t: float) -> None:
    """Move the SDM630's values to time ``t``."""
    for address, value in _phase_values(t).items():
        tables.input[address], tables.input[address + 1] = float32_words(value)


def em24_tables(t: float = 0.0) -> Tables:
    """The EM24's registers at time ``t``: int32 CDAB, volts x10, amps x1000, watts x10."""
    tables = Tables(input=dict.fromkeys(range(0x80), 0), holding=dict.fromkeys(range(4), 0))
    em24_update(tables, t)
    return tables


def em24_update(tables: Tables, t: float) -> None:
    """Move the EM24's values to time ``t``."""
    values = _phase_values(t)
    int32s = {
        0x00: round(values[0x00] * 10),
        0x02: round(values[0x02] * 10),
        0x04: round(values[0x04] * 10),
        0x06: round(values[0xC8] * 10),
        0x08: round(values[0xCA] * 10),
        0x0A: round(values[0xCC] * 10),
        0x0C: round(values[0x06] * 1000),
        0x0E: round(values[0x08] * 1000),
        0x10: round(values[0x0A] * 1000),
        0x12: round(values[0x0C] * 10),
        0x14: round(values[0x0E] * 10),
        0x16: round(values[0x10] * 10),
        0x18: round(values[0x12] * 10),
        0x1A: round(values[0x14] * 10),
        0x1C: round(values[0x16] * 10),
        0x1E: round(values[0x18] * 10),
        0x20: round(values[0x1A] * 10),
        0x22: round(values[0x1C] * 10),
        0x24: round(values[0x2A] * 10),
        0x26: round(values[0xCE] * 10),
        0x28: round(values[0x34] * 10),
        0x2A: round(values[0x38] * 10),
        0x2C: round(values[0x3C] * 10),
        0x36: round(values[0x4C] * 10),
        0x40: round(values[0x15A] * 10),
        0x42: round(values[0x15C] * 10),
        0x44: round(values[0x15E] * 10),
        0x50: round(values[0x4E] * 10),
        0x34: round(values[0x48] * 10),
        0x4E: round(values[0x4A] * 10),
    }
    for address, value in int32s.items():
        tables.input[address], tables.input[address + 1] = int32_cdab(value)
    for address in (0x2E, 0x2F, 0x30, 0x31):
        tables.input[address] = 950  # PF x1000
    tables.input[0x33] = round(values[0x46] * 10)


SUNSPEC_BASE = 40000
SUNSPEC_MPPT_MODULES = 2


def sunspec_tables(t: float = 0.0) -> Tables:
    """A SunSpec inverter: marker, common (1), inverter (103), MPPT (160), end marker."""
    h: dict[int, int] = {}
    a = SUNSPEC_BASE
    h[a], h[a + 1] = 0x5375, 0x6E53  # "SunS"
    a += 2
    h[a], h[a + 1] = 1, 66
    common = (
        string_words("ThingBridge", 16)
        + string_words("SimInverter 5000", 16)
        + string_words("", 8)
        + string_words("1.2.3", 8)
        + string_words("SN-0042", 16)
        + [1, 0x8000]
    )
    for i, word in enumerate(common):
        h[a + 2 + i] = word
    a += 2 + 66
    h[a], h[a + 1] = 103, 50
    for i in range(50):
        h[a + 2 + i] = 0
    a += 2 + 50
    length = 8 + 20 * SUNSPEC_MPPT_MODULES
    h[a], h[a + 1] = 160, length
    for i in range(length):
        h[a + 2 + i] = 0
    a += 2 + length
    h[a], h[a + 1] = 0xFFFF, 0
    tables = Tables(holding=h)
    tables.writable.update({SUNSPEC_BASE + 2 + 2 + 64})  # common DA (device address)
    sunspec_update(tables, t)
    return tables


#: Where the inverter model's data starts (after its two header words).
SUNSPEC_INVERTER = SUNSPEC_BASE + 2 + 2 + 66 + 2
SUNSPEC_MPPT = SUNSPEC_INVERTER + 50 + 2


def sunspec_update(tables: Tables, t: float) -> None:
    """Move the inverter's values to time ``t`` (registers are scaled integers)."""
    h = tables.holding
    d = SUNSPEC_INVERTER
    wave = math.sin(t / 10)
    watts = 3000 + 500 * wave
    points = {
        0: round(13.04 * 100),  # A, A_SF -2
        1: round(4.35 * 100),
        2: round(4.35 * 100),
        3: round(4.34 * 100),
        4: 0xFFFE,  # A_SF = -2
        5: 0xFFFF,  # PPVphAB not implemented (uint16)
        6: 0xFFFF,
        7: 0xFFFF,
        8: round((230.1 + wave) * 10),  # PhVphA, V_SF -1
        9: 2305,
        10: 2299,
        11: 0xFFFF,  # V_SF = -1
        12: round(watts / 10),  # W, W_SF 1
        13: 1,
        14: 5002,  # Hz, Hz_SF -2
        15: 0xFFFE,
        16: round(watts / 10),
        17: 1,
        18: 0x8000,  # VAr not implemented (int16)
        19: 0,
        20: 0x8000,  # PF not implemented
        21: 0xFFFD,  # PF_SF = -3
        24: 0,  # WH_SF 0
        25: 0xFFFF,  # DCA not implemented (uint16)
        26: 0xFFFE,
        27: 3801,  # DCV, DCV_SF -1
        28: 0xFFFF,
        29: round(watts * 1.03 / 10),  # DCW, DCW_SF 1
        30: 1,
        31: 412,  # TmpCab, Tmp_SF -1
        32: 0x8000,
        33: 0x8000,
        34: 0x8000,
        35: 0xFFFF,
        36: 4,  # St: MPPT
    }
    energy = 5_000_000 + round(t * watts / 3600)
    h[d + 22], h[d + 23] = (energy >> 16) & 0xFFFF, energy & 0xFFFF
    for offset, value in points.items():
        h[d + offset] = value
    m = SUNSPEC_MPPT
    h[m + 0], h[m + 1], h[m + 2], h[m + 3] = 0xFFFE, 0xFFFF, 0, 0  # DCA -2, DCV -1, DCW 0, WH 0
    h[m + 6] = SUNSPEC_MPPT_MODULES
    for module in range(SUNSPEC_MPPT_MODULES):
        base = m + 8 + 20 * module
        h[base] = module + 1
        for i, word in enumerate(string_words(f"String {module + 1}", 8)):
            h[base + 1 + i] = word
        h[base + 9] = 412 + 10 * module  # DCA x0.01
        h[base + 10] = 3801 - module  # DCV x0.1
        h[base + 11] = round(watts / 2)  # DCW
        h[base + 12], h[base + 13] = 0, 1000 + module
        h[base + 16] = 0x8000  # Tmp not implemented


# --------------------------------------------------------------------------------------------
# devices


@dataclass
class Behaviour:
    """How a device misbehaves."""

    delay: float = 0.0
    """Seconds before each answer."""
    drop_every: int = 0
    """Drop (never answer) every Nth request; 0 never."""
    refuse: tuple[tuple[int, int, int], ...] = ()
    """(function code, first, last) address ranges a read answers with ``exception``."""
    exception: int = ExcCodes.ILLEGAL_ADDRESS
    """The exception code of a refused read (2; 4 is "server device failure")."""
    max_read: int = 125
    """The most registers one read may ask for; more answers exception 3 (illegal data value).
    Eastron meters take 40 parameters (80 registers) a request."""


@dataclass
class DeviceSpec:
    """A kind of simulated device."""

    build: Callable[[float], Tables]
    update: Updater | None
    behaviour: Behaviour = field(default_factory=Behaviour)
    description: str = ""


DEVICES: dict[str, DeviceSpec] = {
    "sdm630": DeviceSpec(
        sdm630_tables, sdm630_update, Behaviour(max_read=80), "Eastron SDM630 meter"
    ),
    "em24": DeviceSpec(em24_tables, em24_update, description="Carlo Gavazzi EM24 meter"),
    "sunspec": DeviceSpec(sunspec_tables, sunspec_update, description="SunSpec inverter"),
    "slow": DeviceSpec(
        sdm630_tables, sdm630_update, Behaviour(delay=0.5, max_read=80), "SDM630 answering slowly"
    ),
    "dropping": DeviceSpec(
        sdm630_tables,
        sdm630_update,
        Behaviour(drop_every=2, max_read=80),
        "SDM630 dropping requests",
    ),
    "refusing": DeviceSpec(
        sdm630_tables,
        sdm630_update,
        Behaviour(refuse=((FC_READ_INPUT, 0x48, 0x4F),), max_read=80),
        "SDM630 refusing its energy registers",
    ),
}


def _simdata(table: dict[int, int]) -> list[SimData]:
    """``table`` as contiguous SimData blocks; the gaps are invalid (they answer exception 2)."""
    blocks: list[SimData] = []
    addresses = sorted(table)
    index = 0
    while index < len(addresses):
        start = addresses[index]
        end = start
        while index + 1 < len(addresses) and addresses[index + 1] == end + 1:
            index += 1
            end = addresses[index]
        if blocks:
            previous_end = blocks[-1].address + blocks[-1].count - 1
            if start > previous_end + 1:
                gap = start - previous_end - 1
                blocks.append(
                    SimData(address=previous_end + 1, count=gap, datatype=DataType.INVALID)
                )
        blocks.append(
            SimData(
                address=start,
                count=end - start + 1,
                values=0,
                datatype=DataType.REGISTERS,
            )
        )
        index += 1
    return blocks


class SimModbusDevice:
    """One simulated unit on a Modbus TCP server of its own."""

    def __init__(
        self, name: str, spec: DeviceSpec, *, unit_id: int = 1, behaviour: Behaviour | None = None
    ) -> None:
        """Build the device's tables at time 0."""
        self.name = name
        self.spec = spec
        self.unit_id = unit_id
        self.behaviour = behaviour or spec.behaviour
        self.tables = spec.build(0.0)
        self.requests = 0
        self.requests_by_function: dict[int, int] = {}
        self.writes: list[tuple[int, int, list[int] | list[bool]]] = []
        self.reads: deque[tuple[int, int, int]] = deque(maxlen=4096)
        """The latest register reads: (function code, first address, count)."""
        self._started = time.monotonic()
        self._stopping = asyncio.Event()
        self._held = 0
        self.server: ModbusTcpServer | None = None
        self.port = 0
        self.frozen = False
        """True keeps values still (tests comparing a read with the tables)."""

    def _trace(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if not sending:
            self.requests += 1
            code = pdu.function_code
            self.requests_by_function[code] = self.requests_by_function.get(code, 0) + 1
        return pdu

    async def _action(  # noqa: PLR0917 - pymodbus's SimAction signature
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        behaviour = self.behaviour
        if behaviour.drop_every and self.requests % behaviour.drop_every == 0:
            await self._hold(None)  # never answered (until the simulator stops)
            return ExcCodes.DEVICE_FAILURE
        if behaviour.delay:
            await self._hold(behaviour.delay)
        if function_code in (3, 4):
            self.reads.append((function_code, address, count))
            if count > behaviour.max_read:
                return ExcCodes.ILLEGAL_VALUE
        for code, first, last in behaviour.refuse:
            if code == function_code and address <= last and address + count - 1 >= first:
                return ExcCodes(behaviour.exception)
        if function_code in WRITE_FUNCTIONS and set_values is not None:
            span = range(address, address + count)
            if function_code in (6, 16) and any(a not in self.tables.writable for a in span):
                return ExcCodes.ILLEGAL_ADDRESS
            self.writes.append((function_code, address, list(set_values)))
            if function_code in (6, 16):
                for offset, value in enumerate(set_values):
                    self.tables.holding[address + offset] = int(value)
            return None
        if function_code in (3, 4):
            # Move the values, then copy them into the block pymodbus answers from.
            if not self.frozen and self.spec.update is not None:
                self.spec.update(self.tables, time.monotonic() - self._started)
            table = self.tables.input if function_code == FC_READ_INPUT else self.tables.holding
            for offset in range(address - start_address, address - start_address + count):
                word = table.get(start_address + offset)
                if word is not None and 0 <= offset < len(registers):
                    registers[offset] = word
        return None

    async def _hold(self, seconds: float | None) -> None:
        """Wait ``seconds`` (None: until :meth:`stop`), counted so that stop can wait for it."""
        self._held += 1
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)
        finally:
            self._held -= 1

    def sim_device(self) -> SimDevice:
        """The pymodbus datastore of this device."""
        # Coils and discrete inputs: 16 bits each at 0 (bit addressing), from the coil table.
        bits = [bool(self.tables.coils.get(a)) for a in range(16)]
        coils = [SimData(address=0, values=bits, datatype=DataType.BITS)]
        inputs = [SimData(address=0, values=[False] * 16, datatype=DataType.BITS)]
        return SimDevice(
            id=self.unit_id,
            simdata=(
                coils,
                inputs,
                _simdata(self.tables.holding)
                or [SimData(address=0, count=1, datatype=DataType.INVALID)],
                _simdata(self.tables.input)
                or [SimData(address=0, count=1, datatype=DataType.INVALID)],
            ),
            action=self._action,
        )

    async def start(self, host: str = "127.0.0.1", port: int = 0, *, rtu: bool = False) -> None:
        """Listen on ``host:port`` (0 picks a free port, then :attr:`port` says which).

        ``rtu`` frames the answers as Modbus RTU on the TCP socket (an RS-485 gateway in
        transparent mode: ``modbus+rtu-tcp://``) instead of Modbus TCP's MBAP.
        """
        self.server = ModbusTcpServer(
            self.sim_device(),
            address=(host, port),
            trace_pdu=self._trace,
            framer=FramerType.RTU if rtu else FramerType.SOCKET,
        )
        await self.server.serve_forever(background=True)
        listener: Any = self.server.transport
        self.port = int(listener.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening and release the requests held back."""
        self._stopping.set()
        for _ in range(100):  # let the held requests finish (their answers go nowhere)
            if not self._held:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.01)
        if self.server is not None:
            await self.server.shutdown()  # type: ignore[no-untyped-call]
            self.server = None


async def start_devices(
    names: Iterable[str], host: str = "127.0.0.1", port_base: int = 0, *, rtu: bool = False
) -> list[SimModbusDevice]:
    """Start the named devices, each on its own port (``port_base + i``, or free ports)."""
    devices = []
    for index, name in enumerate(names):
        device = SimModbusDevice(name, DEVICES[name])
        await device.start(host, port_base + index if port_base else 0, rtu=rtu)
        devices.append(device)
    return devices


def main(argv: list[str]) -> int:
    """``python -m simulator modbus``: serve the simulated Modbus devices until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m simulator modbus",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument(
        "--port-base",
        type=int,
        default=5020,
        help="port of the first device, the next ones count up; 0 picks free ports (default 5020)",
    )
    parser.add_argument(
        "--rtu-over-tcp",
        action="store_true",
        help="frame as Modbus RTU on the TCP sockets (a transparent RS-485 gateway)",
    )
    parser.add_argument(
        "devices",
        nargs="*",
        metavar="DEVICE",
        help=f"devices to serve (default: all of {', '.join(DEVICES)})",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.devices) - set(DEVICES))
    if unknown:
        parser.error(f"unknown device(s) {', '.join(unknown)}; choose from {', '.join(DEVICES)}")

    async def run() -> None:
        devices = await start_devices(
            args.devices or list(DEVICES), args.host, args.port_base, rtu=args.rtu_over_tcp
        )
        scheme = "modbus+rtu-tcp" if args.rtu_over_tcp else "modbus+tcp"
        for device in devices:
            print(
                f"Modbus {device.name} ({device.spec.description}): "
                f"{scheme}://{args.host}:{device.port}/{device.unit_id}/",
                flush=True,
            )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        for device in devices:
            await device.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0
