"""The Modbus binding against pymodbus's server on loopback (the simulator's devices).

Reads go through ``modbus_connection`` (tmodbus backend) exactly as inside Home Assistant; the
simulator counts the requests it receives, which is how "nothing was sent" is checked.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
import contextlib
import struct
from typing import Any

import pytest

from custom_components.thingbridge.wot import (
    ModbusThingClient,
    ThingDescription,
    WotTimeoutError,
    WotValidationError,
    open_unit,
    parse_td,
    thing_endpoint,
)
from custom_components.thingbridge.wot.modbus.binding import ModbusForm, ModbusLink
from custom_components.thingbridge.wot.modbus.client import TdRegisterField
from simulator.modbus import DEVICES, Behaviour, SimModbusDevice

DeviceFactory = Callable[[str], "contextlib.AbstractAsyncContextManager[SimModbusDevice]"]


@pytest.fixture
async def started(socket_enabled: None) -> AsyncGenerator[list[SimModbusDevice]]:
    devices: list[SimModbusDevice] = []
    yield devices
    for device in devices:
        await device.stop()


async def _device(started: list[SimModbusDevice], name: str, **kw: Any) -> SimModbusDevice:
    device = SimModbusDevice(name, DEVICES[name], **kw)
    device.frozen = True  # the values stay those of the tables, to compare with
    await device.start("127.0.0.1", 0)
    started.append(device)
    return device


@contextlib.asynccontextmanager
async def _client(td: ThingDescription, **kw: Any) -> AsyncIterator[ModbusThingClient]:
    link, unit_id = thing_endpoint(td)
    async with open_unit(link, unit_id, request_timeout=kw.pop("request_timeout", 2.0)) as unit:
        yield ModbusThingClient(td, unit, **kw)


SDM630_FLOATS = {
    "voltage_l1": 0x00,
    "voltage_l2": 0x02,
    "voltage_l3": 0x04,
    "current_l1": 0x06,
    "power_l1": 0x0C,
    "total_power": 0x34,
    "power_factor": 0x3E,
    "frequency": 0x46,
    "import_energy": 0x48,
    "export_energy": 0x4A,
    "voltage_l1_l2": 0xC8,
    "neutral_current": 0xE0,
    "total_energy": 0x156,
}


def sdm630_td(port: int) -> ThingDescription:
    props: dict[str, Any] = {
        name: {
            "type": "number",
            "readOnly": True,
            "forms": [
                {
                    "href": f"{address}?quantity=2",
                    "modv:entity": "InputRegister",
                    "modv:type": "xsd:float",
                }
            ],
        }
        for name, address in SDM630_FLOATS.items()
    }
    props["modbus_address"] = {
        "type": "number",
        "minimum": 1,
        "maximum": 247,
        "multipleOf": 1,
        "forms": [
            {"href": "20?quantity=2", "modv:entity": "HoldingRegister", "modv:type": "xsd:float"}
        ],
    }
    props["baud"] = {
        "type": "integer",
        "enum": [0, 1, 2, 3, 4, 5],
        "forms": [
            {"href": "28?quantity=2", "modv:entity": "HoldingRegister", "modv:type": "xsd:float"}
        ],
    }
    props["relay"] = {"type": "boolean", "forms": [{"href": "0", "modv:entity": "Coil"}]}
    return parse_td(
        {"title": "SDM630", "base": f"modbus+tcp://127.0.0.1:{port}/1/", "properties": props}
    )


def _float(tables: dict[int, int], address: int) -> float:
    return float(struct.unpack(">f", struct.pack(">HH", tables[address], tables[address + 1]))[0])


async def test_sdm630_read_all_in_few_requests(started: list[SimModbusDevice]) -> None:
    device = await _device(started, "sdm630")
    async with _client(sdm630_td(device.port)) as client:
        result = await client.read_all()
    assert result.errors == {}
    for name, address in SDM630_FLOATS.items():
        assert result.values[name] == pytest.approx(_float(device.tables.input, address)), name
    assert result.values["modbus_address"] == 1.0
    assert result.values["relay"] is False
    # 16 properties, one plan: the input registers in 5 blocks (0-7, 12-13 merged ... up to
    # 0x156), the holding ones in one, the coil in one; every request is one the device saw.
    assert result.requests == device.requests
    assert result.requests < len(result.values) / 2
    assert device.requests_by_function == {4: result.requests - 2, 3: 1, 1: 1}


def em24_td(port: int) -> ThingDescription:
    def int32(address: int, scale: float) -> dict[str, Any]:
        return {
            "type": "number",
            "readOnly": True,
            "forms": [
                {
                    "href": f"{address}?quantity=2",
                    "modv:entity": "InputRegister",
                    "modv:type": "xsd:int",
                    "modv:mostSignificantWord": False,
                    "tbm:scale": scale,
                }
            ],
        }

    return parse_td(
        {
            "title": "EM24",
            "base": f"modbus+tcp://127.0.0.1:{port}/1/",
            "properties": {
                "voltage_l1": int32(0x00, 0.1),
                "current_l1": int32(0x0C, 0.001),
                "total_power": int32(0x28, 0.1),
                "import_energy": int32(0x34, 0.1),
                "frequency": {
                    "type": "number",
                    "readOnly": True,
                    "forms": [
                        {
                            "href": "51",
                            "modv:entity": "InputRegister",
                            "modv:type": "xsd:unsignedShort",
                            "tbm:scale": 0.1,
                        }
                    ],
                },
            },
        }
    )


async def test_em24_int32_little_word_order_with_scale(
    started: list[SimModbusDevice],
) -> None:
    device = await _device(started, "em24")
    async with _client(em24_td(device.port)) as client:
        result = await client.read_all()
    assert result.errors == {}
    table = device.tables.input

    def cdab(address: int) -> int:
        raw = (table[address + 1] << 16) | table[address]
        return raw - (1 << 32) if raw >= 1 << 31 else raw

    assert result.values["voltage_l1"] == pytest.approx(cdab(0x00) / 10)
    assert 220 < result.values["voltage_l1"] < 240
    assert result.values["current_l1"] == pytest.approx(cdab(0x0C) / 1000)
    assert result.values["import_energy"] == pytest.approx(cdab(0x34) / 10)
    assert result.values["frequency"] == pytest.approx(table[0x33] / 10)


async def test_a_refused_block_costs_only_its_properties(
    started: list[SimModbusDevice],
) -> None:
    device = await _device(started, "refusing")
    async with _client(sdm630_td(device.port)) as client:
        first = await client.read_all()
        second = await client.read_all()
    for result in (first, second):
        # The energy registers 0x48..0x4F answer exception 2; the block they share with the
        # frequency (0x46) is split, so the frequency is still read.
        assert set(result.errors) == {"import_energy", "export_energy"}
        assert "exception 2 (illegal data address)" in result.errors["import_energy"]
        assert result.values["frequency"] == pytest.approx(_float(device.tables.input, 0x46))
        assert result.values["total_power"] == pytest.approx(_float(device.tables.input, 0x34))
        assert len(result.values) == len(SDM630_FLOATS) + 3 - 2
    # The second poll does not send the refused block again as part of a bigger one.
    assert second.requests <= first.requests


async def test_a_dead_device_fails_every_property_then_recovers(
    started: list[SimModbusDevice],
) -> None:
    device = await _device(started, "dropping", behaviour=Behaviour(drop_every=1))
    async with _client(sdm630_td(device.port), timeout=0.5, request_timeout=0.5) as client:
        result = await client.read_all()
        assert result.values == {}
        assert set(result.errors) == set(client.readable)
        assert all(reason == "no answer in time" for reason in result.errors.values())
        with pytest.raises(WotTimeoutError):
            await client.read_property("frequency")
        device.behaviour = Behaviour()  # the device answers again: same client, no restart
        result = await client.read_all()
    assert result.errors == {}
    assert result.values["frequency"] == pytest.approx(_float(device.tables.input, 0x46))


async def test_slow_device_within_and_beyond_the_timeout(
    started: list[SimModbusDevice],
) -> None:
    device = await _device(started, "slow", behaviour=Behaviour(delay=0.3))
    td = sdm630_td(device.port)
    async with _client(td, timeout=2.0) as client:
        result = await client.read_all()
    assert result.errors == {}
    async with _client(td, timeout=0.1, request_timeout=0.1) as client:
        result = await client.read_all()
    assert set(result.errors) == set(client.readable)


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("modbus_address", 500, "above the maximum"),
        ("modbus_address", 0, "below the minimum"),
        ("modbus_address", 2.5, "not a multiple of 1"),
        ("modbus_address", "7", "expected a number"),
        ("baud", 9, "is not one of"),
        ("relay", 1, "expected true or false"),
        ("total_power", 10.0, "read-only"),
    ],
)
async def test_a_bad_write_sends_nothing(
    started: list[SimModbusDevice], name: str, value: Any, reason: str
) -> None:
    device = await _device(started, "sdm630")
    async with _client(sdm630_td(device.port)) as client:
        with pytest.raises(WotValidationError) as err:
            await client.write_property(name, value)
    assert err.value.path == f"$.properties.{name}"
    assert reason in err.value.reason
    assert device.requests == 0
    assert device.writes == []


async def test_writes_reach_the_device(started: list[SimModbusDevice]) -> None:
    device = await _device(started, "sdm630")
    async with _client(sdm630_td(device.port)) as client:
        await client.write_property("modbus_address", 7)
        await client.write_property("relay", True)
        assert await client.read_property("modbus_address") == 7.0
    assert device.writes == [(16, 20, [0x40E0, 0]), (5, 0, [True])]


def _field(**kw: Any) -> TdRegisterField:
    base: dict[str, Any] = {
        "link": ModbusLink(framing="tcp", host="h", port=502),
        "unit_id": 1,
        "entity": "HoldingRegister",
        "address": 0,
        "quantity": 1,
        "value_type": "int16",
    }
    return TdRegisterField(ModbusForm(**(base | kw)))


def test_decoding_shapes() -> None:
    # Byte-swapped float32 (BADC) and word-swapped int32 (CDAB).
    words = [0x4049, 0x0FDB]  # pi, ABCD
    assert _field(value_type="float32", quantity=2).decode(words) == pytest.approx(3.14159265)
    badc = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    assert _field(value_type="float32", quantity=2, most_significant_byte=False).decode(
        badc
    ) == pytest.approx(3.14159265)
    assert (
        _field(value_type="int32", quantity=2, most_significant_word=False).decode([0xFFFE, 0xFFFF])
        == -2
    )
    # Sentinels on the raw value, SunSpec's not-implemented scale factor, scale and offset.
    assert _field(not_available=(0x8000,)).decode([0x8000]) is None
    assert _field(scale=0.1, offset=-40).decode([650]) == pytest.approx(25.0)
    assert _field(value_type="uint16").decode([0xFFFF], scale_exponent=-2) == pytest.approx(655.35)
    assert _field(value_type="uint16").decode([100], scale_exponent=-32768) is None
    # Bit fields and strings.
    assert _field(value_type="boolean", bit_offset=3, bit_length=1).decode([0b1000]) is True
    assert _field(bit_offset=4, bit_length=3).decode([0b1110000]) == 7
    text = "Zähler".encode().ljust(8, b"\x00")
    words = [int.from_bytes(text[i : i + 2], "big") for i in range(0, 8, 2)]
    assert (
        _field(value_type="string", quantity=4, string_encoding="utf-8").decode(words) == "Zähler"
    )
    assert _field(value_type="int8").decode([0x00FE]) == -2


async def test_rtu_over_tcp(started: list[SimModbusDevice], socket_enabled: None) -> None:
    device = SimModbusDevice("sdm630", DEVICES["sdm630"])
    device.frozen = True
    await device.start("127.0.0.1", 0, rtu=True)
    started.append(device)
    td = parse_td(
        {
            "title": "SDM630 behind a gateway",
            "base": f"modbus+rtu-tcp://127.0.0.1:{device.port}/1/",
            "properties": {
                "frequency": {
                    "type": "number",
                    "readOnly": True,
                    "forms": [
                        {
                            "href": "70?quantity=2",
                            "modv:entity": "InputRegister",
                            "modv:type": "xsd:float",
                        }
                    ],
                }
            },
        }
    )
    assert thing_endpoint(td)[0].framing == "rtu-over-tcp"
    async with _client(td) as client:
        result = await client.read_all()
    assert result.errors == {}
    assert result.values["frequency"] == pytest.approx(_float(device.tables.input, 0x46))


async def test_a_failing_device_fails_one_poll_and_is_not_split(
    started: list[SimModbusDevice],
) -> None:
    device = await _device(started, "sdm630")
    async with _client(sdm630_td(device.port)) as client:
        healthy = await client.read_all()
        # Exception 4, not 6: modbus_connection retries "busy" for up to a minute itself.
        device.behaviour = Behaviour(refuse=((4, 0x48, 0x4F),), exception=4)
        busy = await client.read_all()
        device.behaviour = Behaviour()
        again = await client.read_all()
    # A device failure is not "this register does not exist": the poll fails, the plan
    # stays whole.
    assert "exception 4 (server device failure)" in busy.errors["import_energy"]
    assert "total_power" in busy.errors
    assert again.errors == {}
    assert again.requests == healthy.requests


def _holding(address: int, **form: Any) -> dict[str, Any]:
    return {
        "type": "number",
        "forms": [{"href": str(address), "modv:entity": "HoldingRegister", **form}],
    }


async def test_scaled_word_swapped_and_bit_field_writes(
    started: list[SimModbusDevice],
) -> None:
    device = await _device(started, "sdm630")
    td = parse_td(
        {
            "title": "Writes",
            "base": f"modbus+tcp://127.0.0.1:{device.port}/1/",
            "properties": {
                "setpoint": _holding(
                    20,
                    **{
                        "modv:type": "xsd:int",
                        "modv:mostSignificantWord": False,
                        "tbm:scale": 0.5,
                    },
                ),
                "limit": _holding(28, **{"modv:type": "xsd:short", "tbm:scale": 0.1}),
                "mode": _holding(29, **{"tbm:bitOffset": 4, "tbm:bitLength": 3}),
            },
        }
    )
    device.tables.holding[29] = 0b1000_0000_0000_1111
    async with _client(td) as client:
        await client.write_property("setpoint", 10)  # raw 20, low word first, FC16
        await client.write_property("limit", 1.5)  # raw 15, one register, FC06
        with pytest.raises(WotValidationError) as err:
            await client.write_property("limit", 4000)  # raw 40000 does not fit int16
        assert "does not fit int16" in err.value.reason
        await client.write_property("mode", 5)  # read, change bits 4-6 only, write
        assert await client.read_property("mode") == 5
    assert device.writes == [
        (16, 20, [20, 0]),
        (6, 28, [15]),
        (6, 29, [0b1000_0000_0101_1111]),
    ]


def _slow_settings_td(port: int, **thing: Any) -> ThingDescription:
    """Two input floats polled every time, a holding register polled every minute."""

    def register(address: int, entity: str, **form: Any) -> dict[str, Any]:
        return {
            "type": "number",
            "forms": [
                {
                    "href": f"{address}?quantity=2",
                    "modv:entity": entity,
                    "modv:type": "xsd:float",
                    **form,
                }
            ],
        }

    return parse_td(
        {
            "title": "SDM630",
            "base": f"modbus+tcp://127.0.0.1:{port}/1/",
            **thing,
            "properties": {
                "voltage_l1": register(0x00, "InputRegister"),
                "current_sum": register(0x30, "InputRegister"),
                "modbus_address": register(0x14, "HoldingRegister", **{"modv:pollingTime": 60_000}),
            },
        }
    )


async def test_polling_time_keeps_a_setting_out_of_most_polls(
    started: list[SimModbusDevice],
) -> None:
    """``modv:pollingTime``: a property is read again only once its time has passed."""
    device = await _device(started, "sdm630")
    now = [0.0]
    async with _client(_slow_settings_td(device.port), clock=lambda: now[0]) as client:
        first = await client.read_all()
        assert set(first.values) == {"voltage_l1", "current_sum", "modbus_address"}
        assert first.waiting == []
        holding_reads = device.requests_by_function[3]
        now[0] += 30
        second = await client.read_all()
        assert set(second.values) == {"voltage_l1", "current_sum"}
        assert second.waiting == ["modbus_address"]
        assert device.requests_by_function[3] == holding_reads
        assert client.due() == ["voltage_l1", "current_sum"]
        # Everything (the read tool, a refresh) reads it regardless.
        assert "modbus_address" in (await client.read_all(everything=True)).values
        now[0] += 61
        assert "modbus_address" in (await client.read_all()).values
        # Written: read back at the next poll, whatever its time.
        device.tables.writable.update({0x14, 0x15})
        await client.write_property("modbus_address", 7)
        now[0] += 1
        after_write = await client.read_all()
        assert after_write.values["modbus_address"] == 7.0
        now[0] += 1
        assert "modbus_address" in (await client.read_all()).waiting


async def test_the_tds_read_limits_shape_the_plan(started: list[SimModbusDevice]) -> None:
    """``tbm:maxGap`` lets one read cover a hole; ``tbm:maxSpan`` caps every read."""
    device = await _device(started, "sdm630")
    async with _client(_slow_settings_td(device.port)) as client:
        await client.read_all()
    default = list(device.reads)
    # Input 0 and 0x30 leave a hole of 46 registers: two reads by default (gap 16).
    assert [(code, address) for code, address, _ in default if code == 4] == [(4, 0), (4, 0x30)]
    device.reads.clear()
    async with _client(_slow_settings_td(device.port, **{"tbm:maxGap": 46})) as client:
        assert client.max_gap == 47
        result = await client.read_all()
    assert result.errors == {}
    assert [read for read in device.reads if read[0] == 4] == [(4, 0, 50)]
    device.reads.clear()
    async with _client(_slow_settings_td(device.port, **{"tbm:maxGap": 45})) as client:
        await client.read_all()
    # A hole of 46 registers is more than 45: two reads again.
    assert [read for read in device.reads if read[0] == 4] == [(4, 0, 2), (4, 0x30, 2)]
    device.reads.clear()
    td = _slow_settings_td(device.port, **{"tbm:maxGap": 46, "tbm:maxSpan": 2})
    async with _client(td) as client:
        assert (client.max_gap, client.max_span) == (47, 2)
        result = await client.read_all()
    assert result.errors == {}
    assert len(device.reads) == 3
    assert all(count <= 2 for _, _, count in device.reads)


async def test_a_write_during_a_poll_is_not_undone_by_that_poll(
    started: list[SimModbusDevice],
) -> None:
    """The poll read the old value before the write landed: it must not report it as read."""
    device = await _device(started, "slow")  # every answer 0.5 s late
    device.tables.writable.update({0x14, 0x15})
    now = [0.0]
    async with _client(
        _slow_settings_td(device.port), clock=lambda: now[0], request_timeout=5.0
    ) as client:
        poll = asyncio.create_task(client.read_all())
        await asyncio.sleep(0.1)  # the poll's first read is on its way
        await client.write_property("modbus_address", 7)
        result = await poll
        assert "modbus_address" not in result.values
        assert "modbus_address" in result.waiting
        assert "modbus_address" in client.due()
        now[0] += 1
        assert (await client.read_all()).values["modbus_address"] == 7.0


async def test_after_a_dead_link_every_property_is_read_again(
    started: list[SimModbusDevice],
) -> None:
    """A meter that was away may have changed (or been swapped): its settings too are re-read."""
    device = await _device(started, "sdm630")
    port = device.port
    now = [0.0]
    async with _client(
        _slow_settings_td(port), clock=lambda: now[0], request_timeout=0.5
    ) as client:
        await client.read_all()
        assert client.due() == ["voltage_l1", "current_sum"]
        await device.stop()
        now[0] += 10
        dead = await client.read_all()
        assert set(dead.errors) == {"voltage_l1", "current_sum"}
        assert client.due() == ["voltage_l1", "current_sum", "modbus_address"]
        await device.start("127.0.0.1", port)
        now[0] += 10
        back = await client.read_all()
    assert set(back.values) == {"voltage_l1", "current_sum", "modbus_address"}


def test_a_max_span_narrower_than_a_value_is_refused() -> None:
    with pytest.raises(WotValidationError) as caught:
        _slow_settings_td(502, **{"tbm:maxSpan": 1})
    assert caught.value.path == "$.tbm:maxSpan"
    assert "'voltage_l1' (2 registers)" in caught.value.reason


async def test_a_value_wider_than_an_explicit_max_span_is_unusable_not_a_crash(
    started: list[SimModbusDevice],
) -> None:
    device = await _device(started, "sdm630")
    async with _client(_slow_settings_td(device.port), max_span=1) as client:
        result = await client.read_all()
    assert result.values == {}
    assert set(result.errors) == {"voltage_l1", "current_sum", "modbus_address"}
    assert "more than one read may ask for (1)" in result.errors["voltage_l1"]
    assert device.requests == 0
