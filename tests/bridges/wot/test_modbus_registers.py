"""A Modbus device described by registers entered by hand, in a real Home Assistant.

The device is the simulator's SDM630 (``simulator/modbus.py``, values held still), added
through the config flow with two registers of its map entered by hand; the entities show the
simulator's values, a write through the number entity reaches its holding register, and the
options flow adds and removes registers (and their entities) for real.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.thingbridge.const import (
    CONF_CONNECTION,
    CONF_KIND,
    CONF_PROFILE,
    CONF_REGISTERS,
    CONF_UNIT_ID,
    DOMAIN,
    KIND_MODBUS_DEVICE,
    MODBUS_TCP,
    PROFILE_REGISTERS,
)
from simulator.modbus import DEVICES, SimModbusDevice, float32_words
from tests.bridges.wot.test_config_flow import check_options, free_port
from tests.bridges.wot.test_modbus_device import entity_id, words_float
from tests.bridges.wot.test_modbus_registers_flow import (
    DEMAND,
    POWER,
    POWER_STORED,
    by_hand,
    choose,
    enter,
    register,
)


@pytest.fixture
async def sdm630(hass: HomeAssistant, socket_enabled: None) -> AsyncGenerator[SimModbusDevice]:
    """The simulator's SDM630, values held still; its demand period writable, as on a real one."""
    device = SimModbusDevice("sdm630", DEVICES["sdm630"])
    device.frozen = True
    device.tables.writable.update({2, 3})
    await device.start()
    yield device
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is ConfigEntryState.LOADED:
            await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    await device.stop()


async def add_by_hand(hass: HomeAssistant, port: int) -> str:
    """Add the device with the total power (input, float32) and demand period (holding)."""
    result = await enter(hass, await by_hand(hass, port), POWER)
    result = await choose(hass, result, "modbus_register")
    result = await enter(hass, result, DEMAND)
    result = await choose(hass, result, "modbus_registers_done")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    entry = result["result"]
    assert entry.state is ConfigEntryState.LOADED
    return str(entry.entry_id)


async def test_registers_by_hand_show_the_meters_values_and_write(
    hass: HomeAssistant, sdm630: SimModbusDevice
) -> None:
    entry_id = await add_by_hand(hass, sdm630.port)
    inputs, holding = sdm630.tables.input, sdm630.tables.holding
    power = hass.states.get(entity_id(hass, sdm630.port, "total_power"))
    assert power is not None
    assert float(power.state) == pytest.approx(words_float([inputs[52], inputs[53]]), rel=1e-6)
    # The unit makes the device class and state class (the form says so).
    assert power.attributes["unit_of_measurement"] == "W"
    assert power.attributes["device_class"] == "power"
    assert power.attributes["state_class"] == "measurement"
    demand_id = entity_id(hass, sdm630.port, "demand_period")
    assert demand_id.startswith("number.")
    demand = hass.states.get(demand_id)
    assert demand is not None
    assert float(demand.state) == words_float([holding[2], holding[3]])

    await hass.services.async_call(
        "number", "set_value", {"entity_id": demand_id, "value": 15}, blocking=True
    )
    assert sdm630.writes == [(16, 2, float32_words(15.0))]
    assert words_float([holding[2], holding[3]]) == 15.0
    demand = hass.states.get(demand_id)
    assert demand is not None
    assert float(demand.state) == 15.0
    # A value its registers cannot hold is refused, with nothing sent.
    sent = dict(sdm630.requests_by_function)
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN,
            "write_property",
            {"config_entry_id": entry_id, "property": "demand_period", "value": 1e39},
            blocking=True,
        )
    assert caught.value.translation_key == "invalid_value"
    assert sdm630.writes == [(16, 2, float32_words(15.0))]
    assert sdm630.requests_by_function == sent

    # Restarted, the entities are the same ones (their unique IDs end with the register's key);
    # one of a register that is no longer there (options changed while the entry was not
    # loaded) leaves the registry.
    registry = er.async_get(hass)
    before = {
        e.unique_id: e.entity_id for e in er.async_entries_for_config_entry(registry, entry_id)
    }
    assert f"modbus:127.0.0.1:{sdm630.port}:1_property:total_power" in before
    power_entry = registry.async_get(entity_id(hass, sdm630.port, "total_power"))
    assert power_entry is not None
    stale = registry.async_get_or_create(
        "sensor",
        DOMAIN,
        f"modbus:127.0.0.1:{sdm630.port}:1_property:gone",
        config_entry=hass.config_entries.async_get_entry(entry_id),
        device_id=power_entry.device_id,
    )
    assert await hass.config_entries.async_reload(entry_id)
    await hass.async_block_till_done()
    after = {
        e.unique_id: e.entity_id for e in er.async_entries_for_config_entry(registry, entry_id)
    }
    assert after == before
    assert registry.async_get(stale.entity_id) is None


async def test_options_add_and_remove_registers_for_real(
    hass: HomeAssistant, sdm630: SimModbusDevice
) -> None:
    entry_id = await add_by_hand(hass, sdm630.port)
    entry = hass.config_entries.async_get_entry(entry_id)
    assert entry is not None
    registry = er.async_get(hass)
    demand_id = entity_id(hass, sdm630.port, "demand_period")

    # Add the import energy (kWh: an energy total) and a coil (writable: a switch).
    for added in (
        register(
            "Import energy", table="input_register", address=72, data_type="float32", unit="kWh"
        ),
        register("Relay", table="coil", address=0, data_type="boolean", writable=True),
    ):
        result = check_options(await hass.config_entries.options.async_init(entry_id))
        result = check_options(
            await hass.config_entries.options.async_configure(
                result["flow_id"], {"next_step_id": "modbus_add_register"}
            )
        )
        result = await hass.config_entries.options.async_configure(result["flow_id"], added)
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done()
    assert [r["key"] for r in entry.options[CONF_REGISTERS]] == [
        "total_power",
        "demand_period",
        "import_energy",
        "relay",
    ]
    energy = hass.states.get(entity_id(hass, sdm630.port, "import_energy"))
    assert energy is not None
    inputs = sdm630.tables.input
    assert float(energy.state) == pytest.approx(words_float([inputs[72], inputs[73]]), rel=1e-6)
    assert energy.attributes["device_class"] == "energy"
    assert energy.attributes["state_class"] == "total_increasing"
    relay_id = entity_id(hass, sdm630.port, "relay")
    assert relay_id.startswith("switch.")
    await hass.services.async_call("switch", "turn_on", {"entity_id": relay_id}, blocking=True)
    assert (5, 0, [True]) in sdm630.writes

    # Remove the demand period: its number entity leaves the registry, the others stay.
    result = check_options(await hass.config_entries.options.async_init(entry_id))
    result = check_options(
        await hass.config_entries.options.async_configure(
            result["flow_id"], {"next_step_id": "modbus_remove_registers"}
        )
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_REGISTERS: ["demand_period"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert registry.async_get(demand_id) is None
    assert hass.states.get(demand_id) is None
    assert hass.states.get(entity_id(hass, sdm630.port, "total_power")) is not None
    assert hass.states.get(entity_id(hass, sdm630.port, "import_energy")) is not None


@pytest.mark.usefixtures("socket_enabled")
@pytest.mark.parametrize(
    ("registers", "named"),
    [
        ("not a list", "$.registers: expected a list of registers"),
        ([{"key": "x", "name": "X", "table": "coil", "address": 1}], "$.registers[0]"),
        (
            [{**POWER_STORED, "address": 70000}],
            "$.registers[0].address",
        ),
        ([], "$.registers: no register"),
    ],
)
async def test_registers_stored_wrong_fail_setup_naming_them(
    hass: HomeAssistant, registers: Any, named: str
) -> None:
    """Options edited by hand (or a bad restore) fail the setup with the path, not a crash."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Modbus device",
        unique_id="127.0.0.1:1502:1",
        data={
            CONF_KIND: KIND_MODBUS_DEVICE,
            CONF_CONNECTION: MODBUS_TCP,
            CONF_HOST: "127.0.0.1",
            CONF_PORT: free_port(),
            CONF_UNIT_ID: 1,
            CONF_PROFILE: PROFILE_REGISTERS,
        },
        options={CONF_REGISTERS: registers},
    )
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert named in str(entry.reason)
