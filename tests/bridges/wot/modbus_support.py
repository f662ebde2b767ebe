"""A Modbus TCP server for the glue's tests: pymodbus's real server over a register store.

The store answers from plain dictionaries, so a test sets a meter's registers, refuses some
addresses with exception 2, lets the device fall silent (no answer: the client times out) and
counts what arrived: requests per function code, writes, the most clients connected at once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
import struct
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer

READ_INPUT = 4
READ_HOLDING = 3


def float_words(value: float) -> list[int]:
    """A float32 as two registers, most significant word first (Eastron's order)."""
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    return [high, low]


def words_float(words: list[int]) -> float:
    """Two registers (most significant first) as the float32 they hold."""
    return float(struct.unpack(">f", struct.pack(">HH", *words))[0])


class RegisterStore(ModbusServerContext):
    """The registers of the units a server answers for (``unit_ids``)."""

    def __init__(self, unit_ids: Iterable[int]) -> None:
        self.simdevices = []
        self.units = set(unit_ids)
        self.input: dict[int, int] = {}
        self.holding: dict[int, int] = {}
        self.refused: set[int] = set()
        self._silent = False
        self._speak = asyncio.Event()
        self._speak.set()
        self.requests: Counter[int] = Counter()
        self.writes: list[tuple[int, list[int]]] = []

    @property
    def silent(self) -> bool:
        """Whether requests go unanswered (they are answered late, once it is over)."""
        return self._silent

    @silent.setter
    def silent(self, value: bool) -> None:
        self._silent = value
        if value:
            self._speak.clear()
        else:
            self._speak.set()

    def device_ids(self) -> list[int]:
        """The unit ids answered."""
        return sorted(self.units)

    def set_float(self, table: str, address: int, value: float) -> None:
        """Put a float32 at ``address`` of ``table`` ("input" or "holding")."""
        words = float_words(value)
        target = self.input if table == "input" else self.holding
        target[address], target[address + 1] = words

    def get_float(self, table: str, address: int) -> float:
        """The float32 at ``address`` of ``table``."""
        source = self.input if table == "input" else self.holding
        return words_float([source[address], source[address + 1]])

    async def async_getValues(  # noqa: N802 - pymodbus's name
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | ExcCodes:
        """Answer a read (or not, while silent)."""
        self.requests[func_code] += 1
        await self._speak.wait()  # while silent, the client gives up first
        table = self.input if func_code == READ_INPUT else self.holding
        wanted = range(address, address + count)
        if any(a in self.refused or a not in table for a in wanted):
            return ExcCodes.ILLEGAL_ADDRESS
        return [table[a] for a in wanted]

    async def async_setValues(  # noqa: N802 - pymodbus's name
        self, device_id: int, func_code: int, address: int, values: list[int] | list[bool]
    ) -> ExcCodes | None:
        """Take a write of holding registers."""
        self.requests[func_code] += 1
        words = [int(v) for v in values]
        if any(a not in self.holding for a in range(address, address + len(words))):
            return ExcCodes.ILLEGAL_ADDRESS
        self.writes.append((address, words))
        for offset, word in enumerate(words):
            self.holding[address + offset] = word
        return None


class RegisterServer:
    """pymodbus's Modbus TCP server for a :class:`RegisterStore`, on a free loopback port."""

    def __init__(self, store: RegisterStore, port: int = 0) -> None:
        """Serve ``store`` on ``port`` (0: a free one) of 127.0.0.1; not yet listening."""
        self.store = store
        self.connected = 0
        self.most_connected = 0
        self.server = ModbusTcpServer(
            store, address=("127.0.0.1", port), trace_connect=self._on_connect, trace_pdu=_same
        )
        self.port = 0

    def _on_connect(self, connected: bool) -> None:
        self.connected += 1 if connected else -1
        self.most_connected = max(self.most_connected, self.connected)

    async def start(self) -> None:
        """Listen."""
        await self.server.serve_forever(background=True)
        transport: Any = self.server.transport
        self.port = int(transport.sockets[0].getsockname()[1])

    def drop_clients(self) -> None:
        """Close every client connection (the device's gateway rebooted)."""
        for connection in list(self.server.active_connections.values()):
            connection.close()

    async def stop(self) -> None:
        """Stop listening and close the connections."""
        self.store.silent = False  # let held requests finish
        await asyncio.sleep(0)
        await self.server.shutdown()


def _same(_sending: bool, pdu: ModbusPDU) -> ModbusPDU:
    return pdu


# -- an SDM630 and a small meter of the tests' own --------------------------------------------

SDM630 = "eastron-sdm630"
# Input registers of the SDM630's map (FC04, float32): the value at ``a`` is 100 + a / 2, so a
# test knows every value without a table (voltage L1 at 0: 100.0; import energy at 72: 136.0).
SDM630_INPUTS = range(0, 382, 2)
# Holding registers (FC03/FC16, float32): demand period (2), system type (10), relay pulse
# width (12), parity/stop (18), Modbus address (20), baud rate (28); the serial number (64512).
SDM630_HOLDING = {2: 60.0, 10: 3.0, 12: 100.0, 18: 0.0, 20: 1.0, 28: 2.0}


def sdm630_value(address: int) -> float:
    """The simulated SDM630's value at input register ``address``."""
    return 100 + address / 2


def sdm630_store(unit_id: int = 1) -> RegisterStore:
    """The registers of an SDM630 at ``unit_id``."""
    store = RegisterStore([unit_id])
    for address in SDM630_INPUTS:
        store.set_float("input", address, sdm630_value(address))
    for address, value in SDM630_HOLDING.items():
        store.set_float("holding", address, value)
    store.holding[64512], store.holding[64513] = 0, 12345
    return store


TEST_METER = "test-meter"


def meter_tm(timeout_ms: int = 400) -> dict[str, Any]:
    """A user's Thing Model of a small meter: two blocks of registers far apart, a short timeout.

    ``voltage`` and ``power`` (input 0 and 2) are one block, ``energy`` (input 300) another, so
    a test can refuse one block and see the other still updating.
    """

    def prop(address: int, unit: str, title: str) -> dict[str, Any]:
        return {
            "title": title,
            "type": "number",
            "unit": unit,
            "readOnly": True,
            "forms": [
                {
                    "href": f"modbus+tcp://{{{{HOST}}}}:{{{{PORT}}}}/{{{{UNIT_ID}}}}/{address}"
                    "?quantity=2",
                    "op": "readproperty",
                    "modv:entity": "InputRegister",
                    "modv:type": "xsd:float",
                    "modv:timeout": timeout_ms,
                }
            ],
        }

    return {
        "@context": [
            "https://www.w3.org/2022/wot/td/v1.1",
            {"tm": "https://www.w3.org/2019/wot/tm", "modv": "https://www.w3.org/2019/wot/modbus#"},
        ],
        "@type": "tm:ThingModel",
        "title": "Test meter",
        "properties": {
            "voltage": prop(0, "V", "Voltage"),
            "power": prop(2, "W", "Power"),
            "energy": prop(300, "kWh", "Energy"),
        },
    }


def meter_store(unit_id: int = 1) -> RegisterStore:
    """The registers of :func:`meter_tm`'s meter."""
    store = RegisterStore([unit_id])
    store.set_float("input", 0, 230.0)
    store.set_float("input", 2, 1500.0)
    store.set_float("input", 300, 42.5)
    return store
