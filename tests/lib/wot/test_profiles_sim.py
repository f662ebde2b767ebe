"""The shipped profiles read the simulated meters (pymodbus's server on loopback).

The TD comes from the Thing Model by :func:`instantiate` with the simulator's port; every value
read through the Modbus binding is compared with the simulator's register tables decoded here
independently (struct, per the vendor maps: SDM630 float32 ABCD, EM24 int32 CDAB x scale).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
import math
import struct
from typing import Any

import pytest

from custom_components.thingbridge.wot import (
    SHIPPED_PROFILES,
    ModbusThingClient,
    ProfileLibrary,
    instantiate,
    open_unit,
    parse_td,
    thing_endpoint,
)
from simulator.modbus import DEVICES, Behaviour, DeviceSpec, SimModbusDevice


@pytest.fixture
async def started(socket_enabled: None) -> AsyncGenerator[list[SimModbusDevice]]:
    devices: list[SimModbusDevice] = []
    yield devices
    for device in devices:
        await device.stop()


async def _read(device: SimModbusDevice, profile_id: str, include: set[str]) -> Any:
    tm = ProfileLibrary(SHIPPED_PROFILES).get(profile_id)
    raw = instantiate(tm, {"HOST": "127.0.0.1", "PORT": device.port, "UNIT_ID": 1}, include=include)
    td = parse_td(raw)
    link, unit_id = thing_endpoint(td)
    async with open_unit(link, unit_id, request_timeout=2.0) as unit:
        client = ModbusThingClient(td, unit)
        assert client.unusable == {}
        return raw, await client.read_all()


def _words(table: dict[int, int], address: int, count: int) -> bytes:
    return b"".join(table[address + i].to_bytes(2, "big") for i in range(count))


async def test_sdm630_profile_reads_the_simulated_meter(started: list[SimModbusDevice]) -> None:
    device = SimModbusDevice("sdm630", DEVICES["sdm630"])
    device.frozen = True
    await device.start("127.0.0.1", 0)
    started.append(device)
    raw, result = await _read(device, "eastron-sdm630", include=set())
    assert result.errors == {}
    assert set(result.values) == set(raw["properties"])
    # 45 float32 input registers spread over 0..0x16B: a handful of requests, not 45.
    assert result.requests <= 6
    for name, prop in raw["properties"].items():
        href = prop["forms"][0]["href"]
        address = int(href.rsplit("/", 1)[1].split("?")[0])
        (expected,) = struct.unpack(">f", _words(device.tables.input, address, 2))
        assert math.isclose(result.values[name], expected, rel_tol=1e-6), name
    assert math.isclose(result.values["voltage_l1"], 230.0, rel_tol=1e-6)
    assert result.values["import_energy"] > 1000


async def test_em24_profile_reads_the_simulated_meter(started: list[SimModbusDevice]) -> None:
    device = SimModbusDevice("em24", DEVICES["em24"])
    device.frozen = True
    await device.start("127.0.0.1", 0)
    started.append(device)
    raw, result = await _read(device, "carlo-gavazzi-em24", include=set())
    assert result.errors == {}
    for name, prop in raw["properties"].items():
        form = prop["forms"][0]
        address = int(form["href"].rsplit("/", 1)[1].split("?")[0])
        kind = form["modv:type"]
        if kind == "xsd:int":  # CDAB: low word first
            words = _words(device.tables.input, address, 2)
            (value,) = struct.unpack(">i", words[2:] + words[:2])
        else:
            fmt = ">h" if kind == "xsd:short" else ">H"
            (value,) = struct.unpack(fmt, _words(device.tables.input, address, 1))
        expected = value * form["tbm:scale"]
        assert math.isclose(result.values[name], expected, rel_tol=1e-9, abs_tol=1e-9), name
    assert math.isclose(result.values["voltage_l1"], 230.0)
    assert math.isclose(result.values["current_l1"], 5.0)
    assert math.isclose(result.values["power_factor_total"], 0.95)
    assert math.isclose(result.values["frequency"], 50.0)


def full_sdm630(port: int) -> dict[str, Any]:
    """The SDM630 profile with every optional register group, for a meter on ``port``."""
    tm = ProfileLibrary(SHIPPED_PROFILES).get("eastron-sdm630")
    every = {pointer.rsplit("/", 1)[1] for pointer in tm.document.get("tm:optional", [])}
    return instantiate(tm, {"HOST": "127.0.0.1", "PORT": port, "UNIT_ID": 1}, include=every)


async def test_the_full_sdm630_profile_polls_in_four_requests(
    started: list[SimModbusDevice],
) -> None:
    """Every register group of the SDM630, read as the meter allows: 80 registers a read.

    The simulated meter answers a read of more than 80 registers with exception 3, as Eastron's
    do; the profile says so (``tbm:maxSpan``) and that holes may be read across
    (``tbm:maxGap``). Its settings and serial number are polled hourly and daily
    (``modv:pollingTime``), so after the first poll a poll is the four input-register blocks.
    """
    device = SimModbusDevice("sdm630", DEVICES["sdm630"])
    device.frozen = True
    await device.start("127.0.0.1", 0)
    started.append(device)
    raw = full_sdm630(device.port)
    td = parse_td(raw)
    assert len(td.properties) == 92
    now = [1000.0]
    link, unit_id = thing_endpoint(td)
    async with open_unit(link, unit_id, request_timeout=2.0) as unit:
        client = ModbusThingClient(td, unit, clock=lambda: now[0])
        first = await client.read_all()
        now[0] += 10
        second = await client.read_all()
        second_reads = list(device.reads)[-second.requests :]
        now[0] += 3600
        hourly = await client.read_all()
    assert first.errors == {}
    assert set(first.values) == set(td.properties)
    assert all(count <= 80 for _, _, count in device.reads)
    # 4 input blocks (0-79, 80-107, 200-269, 334-381) and 2 holding (settings, serial number).
    assert first.requests == 6
    assert second.errors == {}
    assert second.requests == 4
    assert {code for code, _, _ in second_reads} == {4}
    assert sorted(second.waiting) == sorted(
        name
        for name, prop in raw["properties"].items()
        if prop["forms"][0]["modv:entity"] == "HoldingRegister"
    )
    # An hour on, the settings are read again; the serial number waits for its day.
    assert hourly.requests == 5
    assert hourly.waiting == ["serial_number"]


async def test_a_meter_refusing_reads_across_holes_costs_few_requests(
    started: list[SimModbusDevice],
) -> None:
    """Some firmware answers exception 2 to a read that covers registers its map lacks.

    The meter here has only the registers of the SDM630 profile: every block the profile's
    ``tbm:maxGap`` lets cover a hole is refused once, planned again without holes, and from then
    on a poll costs one request per run of adjacent registers, not one per property.
    """
    mapped: set[int] = set()
    for prop in full_sdm630(1)["properties"].values():
        form = prop["forms"][0]
        if form["modv:entity"] == "InputRegister":
            address = int(form["href"].rsplit("/", 1)[1].split("?")[0])
            mapped |= {address, address + 1}

    def strict_tables(t: float) -> Any:
        tables = DEVICES["sdm630"].build(t)
        tables.input = {a: w for a, w in tables.input.items() if a in mapped}
        return tables

    spec = DeviceSpec(strict_tables, None, Behaviour(max_read=80), "SDM630 with strict holes")
    device = SimModbusDevice("strict", spec)
    device.frozen = True
    await device.start("127.0.0.1", 0)
    started.append(device)
    td = parse_td(full_sdm630(device.port))
    now = [0.0]
    link, unit_id = thing_endpoint(td)
    async with open_unit(link, unit_id, request_timeout=2.0) as unit:
        client = ModbusThingClient(td, unit, clock=lambda: now[0])
        first = await client.read_all()
        now[0] += 10
        second = await client.read_all()
    assert first.errors == {}
    assert set(first.values) == set(td.properties)
    assert second.errors == {}
    for name, value in second.values.items():
        assert value == first.values[name], name
    # The runs of adjacent input registers of the profile (0-43, 46-49, ... 334-381): 14.
    runs = sum(1 for a in mapped if a - 1 not in mapped)
    assert second.requests == runs == 14
