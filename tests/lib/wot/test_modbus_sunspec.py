"""SunSpec without a profile: the simulated inverter is detected, described and read."""

from __future__ import annotations

from collections.abc import AsyncGenerator
import json
from pathlib import Path

import jsonschema
import pytest

from custom_components.thingbridge.wot import (
    ModbusThingClient,
    map_thing,
    open_unit,
    parse_td,
)
from custom_components.thingbridge.wot.modbus import ModbusLink
from custom_components.thingbridge.wot.modbus.sunspec import detect_sunspec, sunspec_td
from simulator.modbus import DEVICES, SimModbusDevice

TD_SCHEMA = jsonschema.Draft7Validator(
    json.loads(
        (
            Path(__file__).resolve().parents[2] / "schemas" / "td-json-schema-validation.json"
        ).read_text()
    )
)


@pytest.fixture
async def inverter(socket_enabled: None) -> AsyncGenerator[SimModbusDevice]:
    device = SimModbusDevice("sunspec", DEVICES["sunspec"])
    device.frozen = True  # the values at t=0 (sine phase 0), so that they can be stated
    await device.start("127.0.0.1", 0)
    yield device
    await device.stop()


async def test_sunspec_inverter_is_detected_and_scaled(inverter: SimModbusDevice) -> None:
    link = ModbusLink(framing="tcp", host="127.0.0.1", port=inverter.port)
    async with open_unit(link, 1) as unit:
        device = await detect_sunspec(unit)
        assert device is not None
        assert device.base == 40000
        assert [m.model_id for m in device.models.chain] == [1, 103, 160]
        assert (device.manufacturer, device.model, device.serial_number) == (
            "ThingBridge",
            "SimInverter 5000",
            "SN-0042",
        )
        assert device.mppt_modules == 2
        raw = sunspec_td(device, link, 1)
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in TD_SCHEMA.iter_errors(raw)]
        assert errors == []  # a W3C TD 1.1 document
        td = parse_td(raw)
        assert td.title == "ThingBridge SimInverter 5000"
        assert (td.manufacturer, td.serial_number, td.sw_version) == (
            "ThingBridge",
            "SN-0042",
            "1.2.3",
        )
        assert td.skipped == ()
        result = await ModbusThingClient(td, unit).read_all()
    assert result.errors == {}
    values = result.values
    # Raw registers times 10**SF (the simulator's sunspec_update at t=0).
    assert values["inverter_a"] == pytest.approx(13.04)  # 1304, A_SF -2
    assert values["inverter_phvpha"] == pytest.approx(230.1)  # 2301, V_SF -1
    assert values["inverter_w"] == 3000  # 300, W_SF 1
    assert values["inverter_hz"] == pytest.approx(50.02)  # 5002, Hz_SF -2
    assert values["inverter_wh"] == 5_000_000  # acc32, WH_SF 0
    assert values["inverter_tmpcab"] == pytest.approx(41.2)
    assert values["mppt1_dca"] == pytest.approx(4.12)
    assert values["mppt2_dcv"] == pytest.approx(380.0)
    assert values["mppt2_idstr"] == "String 2"
    # Points the inverter does not implement are unknown, not -32768 or 6553.5.
    for name in (
        "inverter_ppvphab",
        "inverter_var",
        "inverter_pf",
        "inverter_dca",
        "inverter_tmpsnk",
        "mppt1_tmp",
    ):
        assert values[name] is None, name
    # The whole Thing in one block read: the chain fits the planner's 125-register span.
    assert result.requests == 1
    classes = {spec.affordance: spec.device_class for spec in map_thing(td)}
    assert classes["inverter_w"] == "power"
    assert classes["inverter_wh"] == "energy"


async def test_no_marker_is_no_sunspec(socket_enabled: None) -> None:
    meter = SimModbusDevice("sdm630", DEVICES["sdm630"])
    await meter.start("127.0.0.1", 0)
    try:
        link = ModbusLink(framing="tcp", host="127.0.0.1", port=meter.port)
        async with open_unit(link, 1) as unit:
            assert await detect_sunspec(unit) is None
    finally:
        await meter.stop()
    # 40000 and 50000 answer exception 2, 0 holds no marker: three tries, nothing else.
    assert meter.requests == 3
