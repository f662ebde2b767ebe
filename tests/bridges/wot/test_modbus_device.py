"""Modbus devices in a real Home Assistant test instance, against Modbus TCP servers on loopback.

The SDM630 is the simulator's (``simulator/modbus.py``); the failure tests use the tests' own
small meter (``modbus_support``), whose silence, refused registers and outages a test controls,
and whose profile (a user's Thing Model) asks for a short timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Generator
import json
import logging
import shutil
import struct
from typing import Any

from homeassistant.components.modbus import async_get_unit
from homeassistant.components.modbus.connection import async_get_connection_info
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from modbus_connection import ModbusTcpParams
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.thingbridge.bridges.wot.modbus import ModbusThingCoordinator
from custom_components.thingbridge.const import (
    CONF_CONNECTION,
    CONF_KIND,
    CONF_OPTIONAL,
    CONF_PROFILE,
    CONF_UNIT_ID,
    DOMAIN,
    KIND_MODBUS_DEVICE,
    MODBUS_SILENT_ISSUE_AFTER,
    MODBUS_TCP,
    PROFILE_SUNSPEC,
    USER_PROFILE_DIR,
)
from custom_components.thingbridge.kinds import kind_of
from simulator.modbus import DEVICES, SimModbusDevice, float32_words
from tests.bridges.wot.modbus_support import (
    SDM630,
    TEST_METER,
    RegisterServer,
    meter_store,
    meter_tm,
)
from tests.bridges.wot.test_config_flow import free_port
from tests.bridges.wot.test_modbus_flow import network, pick, user_profile


def words_float(words: list[int]) -> float:
    return float(struct.unpack(">f", struct.pack(">HH", *words))[0])


@pytest.fixture(autouse=True)
def no_user_profiles_left(hass: HomeAssistant) -> Generator[None]:
    """The profiles a test writes go with it (the configuration directory is shared)."""
    yield
    shutil.rmtree(hass.config.path(USER_PROFILE_DIR), ignore_errors=True)


@pytest.fixture
async def sdm630(hass: HomeAssistant, socket_enabled: None) -> AsyncGenerator[SimModbusDevice]:
    """The simulator's SDM630, values held still so a test can compare."""
    device = SimModbusDevice("sdm630", DEVICES["sdm630"])
    device.frozen = True
    await device.start()
    yield device
    await _unload_all(hass)
    await device.stop()


@pytest.fixture
async def meter(hass: HomeAssistant, socket_enabled: None) -> AsyncGenerator[RegisterServer]:
    """The tests' small meter, and its profile in the user's folder."""
    user_profile(hass, TEST_METER, meter_tm(timeout_ms=300))
    server = RegisterServer(meter_store())
    await server.start()
    yield server
    await _unload_all(hass)
    await server.stop()


async def _unload_all(hass: HomeAssistant) -> None:
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def add_entry(
    hass: HomeAssistant, port: int, profile: str, optional: list[str] | None = None
) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        options={CONF_OPTIONAL: optional} if optional else {},
        title="Meter",
        unique_id=f"127.0.0.1:{port}:1",
        data={
            CONF_KIND: KIND_MODBUS_DEVICE,
            CONF_CONNECTION: MODBUS_TCP,
            CONF_HOST: "127.0.0.1",
            CONF_PORT: port,
            CONF_UNIT_ID: 1,
            CONF_PROFILE: profile,
        },
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def entity_id(hass: HomeAssistant, port: int, prop: str) -> str:
    """The entity of property ``prop`` of the device at ``port``, unit 1."""
    registry = er.async_get(hass)
    found = [
        e.entity_id
        for e in registry.entities.values()
        if e.platform == DOMAIN
        and e.unique_id.startswith(f"modbus:127.0.0.1:{port}:1_")
        and e.unique_id.endswith(f":{prop}")
    ]
    assert len(found) == 1, f"no entity for {prop}"
    return found[0]


def coordinator_of(entry: MockConfigEntry) -> ModbusThingCoordinator:
    (coordinator,) = entry.runtime_data.things.values()
    assert isinstance(coordinator, ModbusThingCoordinator)
    return coordinator


# ------------------------------------------------------------------------------------------
# the SDM630, end to end


async def test_sdm630_added_through_the_flow_shows_its_values(
    hass: HomeAssistant, sdm630: SimModbusDevice
) -> None:
    result = await pick(hass, await network(hass, sdm630.port), SDM630)
    entry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    inputs = sdm630.tables.input
    expected = {
        # property: (register, unit, device class, state class)
        "voltage_l1": (0, "V", "voltage", "measurement"),
        "current_l2": (8, "A", "current", "measurement"),
        "active_power_total": (52, "W", "power", "measurement"),
        "frequency": (70, "Hz", "frequency", "measurement"),
        "import_energy": (72, "kWh", "energy", "total_increasing"),
        "export_energy": (74, "kWh", "energy", "total_increasing"),
    }
    for prop, (address, unit, device_class, state_class) in expected.items():
        state = hass.states.get(entity_id(hass, sdm630.port, prop))
        assert state is not None, prop
        value = words_float([inputs[address], inputs[address + 1]])
        assert float(state.state) == pytest.approx(value, rel=1e-6), prop
        assert state.attributes["unit_of_measurement"] == unit, prop
        assert state.attributes["device_class"] == device_class, prop
        assert state.attributes["state_class"] == state_class, prop


async def test_a_write_reaches_the_meter_and_out_of_range_sends_nothing(
    hass: HomeAssistant, sdm630: SimModbusDevice
) -> None:
    """The demand period (holding 2, float32; one of 0, 5, 8, 10, 15, 20, 30, 60 minutes)."""
    # An optional register group of the profile: chosen in the options.
    entry = await add_entry(hass, sdm630.port, SDM630, optional=["demand_period"])
    target = entity_id(hass, sdm630.port, "demand_period")
    domain = target.split(".")[0]
    if domain == "select":
        await hass.services.async_call(
            "select", "select_option", {"entity_id": target, "option": "15"}, blocking=True
        )
    else:
        await hass.services.async_call(
            "number", "set_value", {"entity_id": target, "value": 15}, blocking=True
        )
    assert sdm630.writes == [(16, 2, float32_words(15.0))]
    assert words_float([sdm630.tables.holding[2], sdm630.tables.holding[3]]) == 15.0

    sent = dict(sdm630.requests_by_function)
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN,
            "write_property",
            {"config_entry_id": entry.entry_id, "property": "demand_period", "value": 7},
            blocking=True,
        )
    assert caught.value.translation_key == "invalid_value"
    assert "demand_period" in str(caught.value.translation_placeholders)
    assert sdm630.writes == [(16, 2, float32_words(15.0))]
    assert sdm630.requests_by_function == sent  # nothing was sent at all


async def test_two_consumers_share_one_link_to_a_single_client_gateway(
    hass: HomeAssistant, sdm630: SimModbusDevice
) -> None:
    """ThingBridge and another integration read one gateway at once, over one connection."""
    entry = await add_entry(hass, sdm630.port, SDM630)
    other = MockConfigEntry(domain="other_modbus_integration")
    other.add_to_hass(hass)
    unit = async_get_unit(hass, other, ModbusTcpParams(host="127.0.0.1", port=sdm630.port), 1)
    coordinator = coordinator_of(entry)
    before = sdm630.requests

    async def other_reads() -> list[list[int]]:
        return [await unit.read_input_registers(0, 2) for _ in range(5)]

    _, theirs = await asyncio.gather(coordinator.async_refresh(), other_reads())
    assert coordinator.last_update_success
    assert not coordinator.unavailable_properties
    assert theirs == [[sdm630.tables.input[0], sdm630.tables.input[1]]] * 5
    # One connection to the device, held by both entries.
    (info,) = async_get_connection_info(hass)
    assert info.endpoint == ("tcp", "127.0.0.1", sdm630.port)
    assert info.units == {entry.entry_id: [1], other.entry_id: [1]}
    assert len(sdm630.server.active_connections) == 1  # type: ignore[union-attr]
    # ThingBridge's poll was a few block reads; the other integration's were its own five.
    assert sdm630.requests - before - 5 <= 8


# ------------------------------------------------------------------------------------------
# failures, on the tests' meter


async def test_a_silent_device_is_unavailable_logged_once_and_recovers(
    hass: HomeAssistant, meter: RegisterServer, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await add_entry(hass, meter.port, TEST_METER)
    coordinator = coordinator_of(entry)
    voltage = entity_id(hass, meter.port, "voltage")
    assert float(hass.states.get(voltage).state) == 230.0  # type: ignore[union-attr]
    caplog.set_level(logging.INFO)
    caplog.clear()
    meter.store.silent = True
    await coordinator.async_refresh()
    await coordinator.async_refresh()
    assert hass.states.get(voltage).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert "Meter" in errors[0].getMessage() or "Test meter" in errors[0].getMessage()
    meter.store.silent = False
    meter.store.set_float("input", 0, 231.5)
    await coordinator.async_refresh()
    assert float(hass.states.get(voltage).state) == 231.5  # type: ignore[union-attr]
    assert entry.state is ConfigEntryState.LOADED
    assert coordinator_of(entry) is coordinator  # recovered without a reload
    assert any("recovered" in r.getMessage() for r in caplog.records)


async def test_a_dropped_link_is_unavailable_and_recovers_without_a_reload(
    hass: HomeAssistant, meter: RegisterServer
) -> None:
    entry = await add_entry(hass, meter.port, TEST_METER)
    coordinator = coordinator_of(entry)
    power = entity_id(hass, meter.port, "power")
    port = meter.port
    await meter.stop()  # the gateway goes away, with the connection
    await coordinator.async_refresh()
    assert hass.states.get(power).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    back = RegisterServer(meter.store, port)  # and comes back at the same address
    await back.start()
    try:
        meter.store.set_float("input", 2, 1234.0)
        await coordinator.async_refresh()
        assert float(hass.states.get(power).state) == 1234.0  # type: ignore[union-attr]
        assert coordinator_of(entry) is coordinator
    finally:
        await _unload_all(hass)
        await back.stop()


async def test_a_refused_block_leaves_the_others_updating(
    hass: HomeAssistant, meter: RegisterServer, caplog: pytest.LogCaptureFixture
) -> None:
    entry = await add_entry(hass, meter.port, TEST_METER)
    coordinator = coordinator_of(entry)
    energy = entity_id(hass, meter.port, "energy")
    voltage = entity_id(hass, meter.port, "voltage")
    caplog.clear()
    meter.store.refused = {300, 301}  # exception 2 for the energy register's block
    meter.store.set_float("input", 0, 229.0)
    await coordinator.async_refresh()
    meter.store.set_float("input", 0, 228.0)
    await coordinator.async_refresh()
    assert hass.states.get(energy).state == STATE_UNAVAILABLE  # type: ignore[union-attr]
    assert float(hass.states.get(voltage).state) == 228.0  # type: ignore[union-attr]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "energy" in warnings[0]
    meter.store.refused = set()
    meter.store.set_float("input", 300, 43.0)
    await coordinator.async_refresh()
    assert float(hass.states.get(energy).state) == 43.0  # type: ignore[union-attr]


async def test_a_repair_issue_while_the_device_does_not_answer(
    hass: HomeAssistant, meter: RegisterServer
) -> None:
    entry = await add_entry(hass, meter.port, TEST_METER)
    coordinator = coordinator_of(entry)
    issues = ir.async_get(hass)
    meter.store.silent = True
    await coordinator.async_refresh()
    assert issues.async_get_issue(DOMAIN, coordinator.issue_id) is None  # not yet
    # Its last answer was as long ago as the issue waits for (a frozen clock would also stop
    # the request timeouts, so the clock is left running and the last answer moved back).
    coordinator.last_answer -= MODBUS_SILENT_ISSUE_AFTER
    await coordinator.async_refresh()
    issue = issues.async_get_issue(DOMAIN, coordinator.issue_id)
    assert issue is not None
    assert issue.translation_key == "modbus_silent"
    meter.store.silent = False
    await coordinator.async_refresh()
    assert issues.async_get_issue(DOMAIN, coordinator.issue_id) is None


async def test_diagnostics_hold_the_raw_registers_of_the_last_poll(
    hass: HomeAssistant, meter: RegisterServer
) -> None:
    entry = await add_entry(hass, meter.port, TEST_METER)
    diagnostics: dict[str, Any] = await kind_of(entry).diagnostics(hass, entry)
    (thing,) = diagnostics["things"]
    poll = thing["modbus"]["last_poll"]
    registers = poll["registers"]["input"]
    for address in (0, 1, 2, 3, 300, 301):
        assert registers[str(address)] == meter.store.input[address]
    assert poll["values"]["voltage"] == 230.0
    assert poll["errors"] == {}
    assert 1 <= poll["requests"] <= 2
    json.dumps(diagnostics)  # serialisable


# ------------------------------------------------------------------------------------------
# SunSpec


@pytest.mark.usefixtures("socket_enabled")
async def test_a_sunspec_inverter_is_detected_with_scaled_values(hass: HomeAssistant) -> None:
    inverter = SimModbusDevice("sunspec", DEVICES["sunspec"])
    inverter.frozen = True
    await inverter.start()
    try:
        result = await pick(hass, await network(hass, inverter.port), PROFILE_SUNSPEC)
        assert result["title"] == "ThingBridge SimInverter 5000"
        assert result["data"][CONF_PROFILE] == PROFILE_SUNSPEC
        await hass.async_block_till_done()
        port = inverter.port
        expected = {
            # property: (value, unit, device class, state class); raw words x 10^SF
            "inverter_a": (13.04, "A", "current", "measurement"),  # 1304, A_SF -2
            "inverter_phvpha": (230.1, "V", "voltage", "measurement"),  # 2301, V_SF -1
            "inverter_w": (3000, "W", "power", "measurement"),  # 300, W_SF 1
            "inverter_hz": (50.02, "Hz", "frequency", "measurement"),  # 5002, Hz_SF -2
            "inverter_wh": (5_000_000, "Wh", "energy", "total_increasing"),  # acc32, WH_SF 0
        }
        for prop, (value, unit, device_class, state_class) in expected.items():
            state = hass.states.get(entity_id(hass, port, prop))
            assert state is not None, prop
            assert float(state.state) == pytest.approx(value), prop
            assert state.attributes["unit_of_measurement"] == unit, prop
            assert state.attributes["device_class"] == device_class, prop
            assert state.attributes["state_class"] == state_class, prop
        # A point the inverter does not implement (0x8000) is unknown, not -32768.
        assert hass.states.get(entity_id(hass, port, "inverter_var")).state == "unknown"  # type: ignore[union-attr]
    finally:
        await _unload_all(hass)
        await inverter.stop()


async def test_a_meter_is_not_sunspec(hass: HomeAssistant, sdm630: SimModbusDevice) -> None:
    result = await pick(hass, await network(hass, sdm630.port), PROFILE_SUNSPEC)
    assert result["errors"] == {"base": "modbus_not_sunspec"}


# ------------------------------------------------------------------------------------------
# setup failures, actions


@pytest.mark.usefixtures("socket_enabled")
async def test_a_profile_that_is_gone_fails_setup_clearly(hass: HomeAssistant) -> None:
    """The user deleted the profile file: refused with the reason, not retried forever."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Meter",
        data={
            CONF_KIND: KIND_MODBUS_DEVICE,
            CONF_CONNECTION: MODBUS_TCP,
            CONF_HOST: "127.0.0.1",
            CONF_PORT: free_port(),
            CONF_UNIT_ID: 1,
            CONF_PROFILE: "deleted-profile",
        },
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.error_reason_translation_key == "modbus_profile"
    assert "deleted-profile" in (entry.reason or "")


@pytest.mark.usefixtures("socket_enabled")
async def test_a_sunspec_device_down_at_start_is_retried(hass: HomeAssistant) -> None:
    """Its TD comes from what it answers: nothing answers yet, so setup is retried."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Inverter",
        data={
            CONF_KIND: KIND_MODBUS_DEVICE,
            CONF_CONNECTION: MODBUS_TCP,
            CONF_HOST: "127.0.0.1",
            CONF_PORT: free_port(),
            CONF_UNIT_ID: 1,
            CONF_PROFILE: PROFILE_SUNSPEC,
        },
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    await hass.config_entries.async_unload(entry.entry_id)


async def test_read_property_reads_a_register_now(
    hass: HomeAssistant, meter: RegisterServer
) -> None:
    entry = await add_entry(hass, meter.port, TEST_METER)
    meter.store.set_float("input", 300, 44.25)
    response = await hass.services.async_call(
        DOMAIN,
        "read_property",
        {"config_entry_id": entry.entry_id, "property": "energy"},
        blocking=True,
        return_response=True,
    )
    assert response == {"value": 44.25}
    state = hass.states.get(entity_id(hass, meter.port, "energy"))
    assert float(state.state) == 44.25  # type: ignore[union-attr]


async def test_a_write_the_device_refuses_is_an_error(
    hass: HomeAssistant, sdm630: SimModbusDevice
) -> None:
    """The register is not writable on this device (exception 2): the action fails, named."""
    sdm630.tables.writable.difference_update({2, 3})  # a meter locked by its password
    entry = await add_entry(hass, sdm630.port, SDM630, optional=["demand_period"])
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            DOMAIN,
            "write_property",
            {"config_entry_id": entry.entry_id, "property": "demand_period", "value": 15},
            blocking=True,
        )
    assert not isinstance(caught.value, ServiceValidationError)
    assert caught.value.translation_key == "operation_failed"
    assert sdm630.writes == []


async def test_settings_keep_their_value_between_their_hourly_reads(
    hass: HomeAssistant, sdm630: SimModbusDevice
) -> None:
    """A poll skips the settings (``modv:pollingTime``): their entities keep the last value."""
    entry = await add_entry(hass, sdm630.port, SDM630, optional=["demand_period"])
    target = entity_id(hass, sdm630.port, "demand_period")
    assert float(hass.states.get(target).state) == 60.0  # type: ignore[union-attr]
    (coordinator,) = entry.runtime_data.things.values()
    assert isinstance(coordinator, ModbusThingCoordinator)
    holding_reads = sdm630.requests_by_function[3]
    await coordinator.async_refresh()
    assert coordinator.last_update_success
    assert sdm630.requests_by_function[3] == holding_reads  # no settings read
    assert coordinator.last_report is not None
    assert "demand_period" in coordinator.last_report.waiting
    assert float(hass.states.get(target).state) == 60.0  # type: ignore[union-attr]
    diagnostics = coordinator.extra_diagnostics()["modbus"]["last_poll"]
    assert "demand_period" in diagnostics["waiting"]
    assert "demand_period" not in diagnostics["values"]


async def test_a_poll_with_nothing_due_is_no_outage(
    hass: HomeAssistant, meter: RegisterServer
) -> None:
    """Every register polled hourly, one property unusable: a poll reading nothing is fine."""
    tm = meter_tm()
    for prop in tm["properties"].values():
        prop["forms"][0]["modv:pollingTime"] = 3_600_000
    tm["properties"]["scaled"] = {
        "type": "number",
        "readOnly": True,
        "forms": [
            {
                "href": "modbus+tcp://{{HOST}}:{{PORT}}/{{UNIT_ID}}/4?quantity=1",
                "modv:entity": "InputRegister",
                "modv:type": "xsd:short",
                # A scale factor in another table: a form ThingBridge cannot execute.
                "tbm:scaleFactor": {"address": 9, "entity": "HoldingRegister"},
            }
        ],
    }
    user_profile(hass, "hourly-meter", tm)
    entry = await add_entry(hass, meter.port, "hourly-meter")
    (coordinator,) = entry.runtime_data.things.values()
    assert isinstance(coordinator, ModbusThingCoordinator)
    assert set(coordinator.modbus.unusable) == {"scaled"}
    answered = coordinator.last_answer
    await coordinator.async_refresh()
    assert coordinator.last_update_success
    assert coordinator.last_report is not None
    assert coordinator.last_report.requests == 0
    assert coordinator.last_answer == answered  # nothing was asked, nothing answered
    state = hass.states.get(entity_id(hass, meter.port, "voltage"))
    assert state is not None
    assert state.state != STATE_UNAVAILABLE
