"""Config and options flow of a Modbus device described by registers entered by hand.

The device is pymodbus's Modbus TCP server on loopback with an SDM630's registers
(``modbus_support``); every register entered is read through Home Assistant's modbus before the
flow goes on. The entry setup is replaced by a recorder (``test_modbus_registers.py`` sets such
entries up for real).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

import custom_components.thingbridge as integration
from custom_components.thingbridge.bridges.wot import modbus_flow
from custom_components.thingbridge.const import (
    CONF_CONNECTION,
    CONF_KIND,
    CONF_PROFILE,
    CONF_REGISTERS,
    CONF_SCAN_SECONDS,
    CONF_UNIT_ID,
    DOMAIN,
    KIND_MODBUS_DEVICE,
    MODBUS_TCP,
    PROFILE_REGISTERS,
)
from tests.bridges.wot.modbus_support import RegisterServer, sdm630_store
from tests.bridges.wot.test_config_flow import check, check_options, fields, free_port, suggested
from tests.bridges.wot.test_modbus_flow import network, pick, profile_options
from tests.conftest import TRANSLATIONS

type Result = Mapping[str, Any]


@pytest.fixture(autouse=True)
def record_setup(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Entries are recorded, not set up (the flow is the unit under test)."""
    loaded: list[str] = []

    async def setup(hass: HomeAssistant, entry: ConfigEntry[Any]) -> bool:
        loaded.append(entry.entry_id)
        return True

    async def unload(hass: HomeAssistant, entry: ConfigEntry[Any]) -> bool:
        return True

    monkeypatch.setattr(integration, "async_setup_entry", setup)
    monkeypatch.setattr(integration, "async_unload_entry", unload)
    return loaded


@pytest.fixture
async def sdm630(socket_enabled: None) -> AsyncGenerator[RegisterServer]:
    """An SDM630's registers at unit 1 on a free loopback port."""
    server = RegisterServer(sdm630_store())
    await server.start()
    yield server
    await server.stop()


def register(name: str, **fields_: Any) -> dict[str, Any]:
    """A register form's input: a holding uint16 at 0 unless told otherwise."""
    return {
        "name": name,
        "table": "holding_register",
        "address": 0,
        "data_type": "uint16",
        "word_order": "big",
        "scale": 1.0,
        "offset": 0.0,
        "writable": False,
        **fields_,
    }


POWER = register("Total power", table="input_register", address=52, data_type="float32", unit="W")
DEMAND = register("Demand period", address=2, data_type="float32", writable=True)
POWER_STORED = {
    "key": "total_power",
    "name": "Total power",
    "table": "input_register",
    "address": 52,
    "data_type": "float32",
    "word_order": "big",
    "scale": 1.0,
    "offset": 0.0,
    "unit": "W",
    "writable": False,
}
DEMAND_STORED = {
    **POWER_STORED,
    "key": "demand_period",
    "name": "Demand period",
    "table": "holding_register",
    "address": 2,
    "unit": "",
    "writable": True,
}


async def by_hand(hass: HomeAssistant, port: int) -> Result:
    """Through the link and the profile step to the first register's form."""
    result = await network(hass, port)
    assert profile_options(result)[PROFILE_REGISTERS] == "Registers I enter here"
    result = await pick(hass, result, PROFILE_REGISTERS)
    assert result["step_id"] == "modbus_register"
    assert result["description_placeholders"]["unit"] == f"127.0.0.1:{port}:1"
    return result


async def enter(hass: HomeAssistant, result: Result, user_input: dict[str, Any]) -> Result:
    return check(await hass.config_entries.flow.async_configure(result["flow_id"], user_input))


async def choose(hass: HomeAssistant, result: Result, option: str) -> Result:
    assert result["type"] is FlowResultType.MENU
    assert option in result["menu_options"]
    return check(
        await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": option})
    )


async def test_registers_entered_by_hand_add_the_device(
    hass: HomeAssistant, sdm630: RegisterServer, record_setup: list[str]
) -> None:
    result = await by_hand(hass, sdm630.port)
    assert fields(result) == [
        "name",
        "table",
        "address",
        "data_type",
        "word_order",
        "scale",
        "offset",
        "unit",
        "writable",
    ]
    before = sum(sdm630.store.requests.values())
    result = await enter(hass, result, POWER)
    assert sum(sdm630.store.requests.values()) > before  # read before going on
    assert result["step_id"] == "modbus_register_more"
    assert result["menu_options"] == ["modbus_register", "modbus_registers_done"]
    assert "Total power (input register 52)" in result["description_placeholders"]["registers"]
    result = await choose(hass, result, "modbus_register")
    assert result["step_id"] == "modbus_register"
    result = await enter(hass, result, DEMAND)
    result = await choose(hass, result, "modbus_registers_done")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"Modbus 127.0.0.1:{sdm630.port}:1"
    assert result["data"] == {
        CONF_KIND: KIND_MODBUS_DEVICE,
        CONF_CONNECTION: MODBUS_TCP,
        CONF_HOST: "127.0.0.1",
        CONF_PORT: sdm630.port,
        CONF_UNIT_ID: 1,
        CONF_PROFILE: PROFILE_REGISTERS,
    }
    assert result["options"] == {CONF_REGISTERS: [POWER_STORED, DEMAND_STORED]}
    assert record_setup == [result["result"].entry_id]


@pytest.mark.parametrize(
    ("changes", "field", "error"),
    [
        ({"name": "   "}, "name", "register_name_invalid"),
        ({"name": "n" * 65}, "name", "register_name_invalid"),
        ({"address": 65536}, "address", "register_address_range"),
        ({"address": -1}, "address", "register_address_range"),
        ({"address": 4.5}, "address", "register_address_range"),
        ({"address": 65535, "data_type": "float32"}, "address", "register_address_end"),
        ({"data_type": "boolean"}, "data_type", "register_bool_register"),
        ({"table": "coil", "data_type": "int16"}, "data_type", "register_bool_only"),
        ({"table": "input_register", "writable": True}, "writable", "register_not_writable"),
        (
            {"table": "discrete_input", "data_type": "boolean", "writable": True},
            "writable",
            "register_not_writable",
        ),
        ({"scale": 0}, "scale", "register_scale_invalid"),
        ({"offset": float("inf")}, "offset", "register_offset_invalid"),
        ({"unit": "u" * 33}, "unit", "register_unit_long"),
    ],
)
async def test_a_wrong_register_is_named_by_its_field(
    hass: HomeAssistant,
    sdm630: RegisterServer,
    changes: dict[str, Any],
    field: str,
    error: str,
) -> None:
    result = await by_hand(hass, sdm630.port)
    before = sum(sdm630.store.requests.values())
    entered = {**DEMAND, **changes}
    result = await enter(hass, result, entered)
    assert result["step_id"] == "modbus_register"
    assert result["errors"] == {field: error}
    assert TRANSLATIONS["config"]["error"][error]
    assert TRANSLATIONS["options"]["error"][error]
    assert sum(sdm630.store.requests.values()) == before  # nothing read
    # What was entered stays in the form to be corrected.
    assert suggested(result, field) == entered[field]
    # Corrected, it goes on.
    result = await enter(hass, result, DEMAND)
    assert result["step_id"] == "modbus_register_more"


async def test_a_name_is_used_once_per_device(hass: HomeAssistant, sdm630: RegisterServer) -> None:
    result = await enter(hass, await by_hand(hass, sdm630.port), POWER)
    result = await choose(hass, result, "modbus_register")
    # "Total Power!" has the same key as "Total power": its entities would collide.
    result = await enter(hass, result, {**DEMAND, "name": "Total Power!"})
    assert result["errors"] == {"name": "register_name_taken"}


async def test_a_register_the_device_refuses_is_named(
    hass: HomeAssistant, sdm630: RegisterServer
) -> None:
    """Exception 2 for the register: the form names it, whether it is alone or not."""
    result = await by_hand(hass, sdm630.port)
    missing = register("Tariff", table="input_register", address=1000, data_type="int16")
    result = await enter(hass, result, missing)
    assert result["step_id"] == "modbus_register"
    assert result["errors"] == {"base": "modbus_register_failed"}
    assert result["description_placeholders"]["error"].startswith("Tariff (InputRegister 1000): ")
    result = await enter(hass, result, POWER)
    result = await choose(hass, result, "modbus_register")
    # The power answers, the tariff does not: still named.
    result = await enter(hass, result, missing)
    assert result["errors"] == {"base": "modbus_register_failed"}
    assert "Tariff (InputRegister 1000)" in result["description_placeholders"]["error"]
    assert "Total power" in result["description_placeholders"]["registers"]
    assert "Tariff" not in result["description_placeholders"]["registers"]


@pytest.mark.usefixtures("socket_enabled")
async def test_nothing_listening_is_named_at_the_first_register(hass: HomeAssistant) -> None:
    result = await enter(hass, await by_hand(hass, free_port()), POWER)
    assert result["errors"] == {"base": "modbus_cannot_connect"}


async def test_no_more_registers_than_the_most_a_device_may_have(
    hass: HomeAssistant, sdm630: RegisterServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(modbus_flow, "MAX_REGISTERS", 1)
    result = await enter(hass, await by_hand(hass, sdm630.port), POWER)
    assert result["menu_options"] == ["modbus_registers_done"]


# ------------------------------------------------------------------------------------------
# options: add and remove registers


def _entry(hass: HomeAssistant, port: int, registers: Any) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Modbus device",
        unique_id=f"127.0.0.1:{port}:1",
        data={
            CONF_KIND: KIND_MODBUS_DEVICE,
            CONF_CONNECTION: MODBUS_TCP,
            CONF_HOST: "127.0.0.1",
            CONF_PORT: port,
            CONF_UNIT_ID: 1,
            CONF_PROFILE: PROFILE_REGISTERS,
        },
        options={CONF_SCAN_SECONDS: 30, CONF_REGISTERS: registers},
    )
    entry.add_to_hass(hass)
    return entry


async def options_menu(hass: HomeAssistant, entry: MockConfigEntry) -> Result:
    result = check_options(await hass.config_entries.options.async_init(entry.entry_id))
    assert result["type"] is FlowResultType.MENU
    assert result["step_id"] == "modbus_menu"
    menu = TRANSLATIONS["options"]["step"]["modbus_menu"]["menu_options"]
    assert set(result["menu_options"]) <= set(menu)
    return result


async def options_choose(hass: HomeAssistant, result: Result, option: str) -> Result:
    assert option in result["menu_options"]
    return check_options(
        await hass.config_entries.options.async_configure(
            result["flow_id"], {"next_step_id": option}
        )
    )


async def test_options_add_a_register(hass: HomeAssistant, sdm630: RegisterServer) -> None:
    entry = _entry(hass, sdm630.port, [POWER_STORED])
    result = await options_menu(hass, entry)
    assert "Total power (input register 52)" in result["description_placeholders"]["registers"]
    result = await options_choose(hass, result, "modbus_add_register")
    assert result["step_id"] == "modbus_add_register"
    # A name in use, then a register the device refuses: named, nothing saved.
    result = check_options(
        await hass.config_entries.options.async_configure(
            result["flow_id"], {**DEMAND, "name": "total power"}
        )
    )
    assert result["errors"] == {"name": "register_name_taken"}
    result = check_options(
        await hass.config_entries.options.async_configure(
            result["flow_id"], {**DEMAND, "address": 40}
        )
    )
    assert result["errors"] == {"base": "modbus_register_failed"}
    assert TRANSLATIONS["options"]["error"]["modbus_register_failed"]
    assert "Demand period (HoldingRegister 40)" in result["description_placeholders"]["error"]
    assert entry.options[CONF_REGISTERS] == [POWER_STORED]
    result = await hass.config_entries.options.async_configure(result["flow_id"], DEMAND)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_SCAN_SECONDS: 30, CONF_REGISTERS: [POWER_STORED, DEMAND_STORED]}


async def test_options_add_no_more_than_the_most(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(modbus_flow, "MAX_REGISTERS", 1)
    entry = _entry(hass, 1502, [POWER_STORED])
    result = await options_choose(hass, await options_menu(hass, entry), "modbus_add_register")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "modbus_registers_full"
    assert TRANSLATIONS["options"]["abort"]["modbus_registers_full"]


async def test_options_remove_registers_and_their_entities(hass: HomeAssistant) -> None:
    entry = _entry(hass, 1502, [POWER_STORED, DEMAND_STORED])
    registry = er.async_get(hass)
    prefix = "modbus:127.0.0.1:1502:1_property:"
    power = registry.async_get_or_create(
        "sensor", DOMAIN, f"{prefix}total_power", config_entry=entry
    )
    demand = registry.async_get_or_create(
        "number", DOMAIN, f"{prefix}demand_period", config_entry=entry
    )
    result = await options_choose(hass, await options_menu(hass, entry), "modbus_remove_registers")
    assert result["step_id"] == "modbus_remove_registers"
    (selector,) = result["data_schema"].schema.values()
    assert selector.config["options"] == [
        {"value": "total_power", "label": "Total power (input register 52)"},
        {"value": "demand_period", "label": "Demand period (holding register 2)"},
    ]
    # Not every one: a device keeps at least one register.
    result = check_options(
        await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_REGISTERS: ["total_power", "demand_period"]}
        )
    )
    assert result["errors"] == {"base": "modbus_registers_none_left"}
    assert registry.async_get(power.entity_id) is not None
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_REGISTERS: ["total_power"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_SCAN_SECONDS: 30, CONF_REGISTERS: [DEMAND_STORED]}
    assert registry.async_get(power.entity_id) is None
    assert registry.async_get(demand.entity_id) is not None


async def test_options_scan_interval_keeps_the_registers(hass: HomeAssistant) -> None:
    entry = _entry(hass, 1502, [POWER_STORED])
    result = await options_choose(hass, await options_menu(hass, entry), "modbus")
    assert result["step_id"] == "modbus"
    assert fields(result) == [CONF_SCAN_SECONDS]  # no optional groups
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SCAN_SECONDS: 5.0}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_SCAN_SECONDS: 5, CONF_REGISTERS: [POWER_STORED]}


async def test_options_of_registers_stored_wrong_show_none(hass: HomeAssistant) -> None:
    """A register list that no longer reads (edited by hand) is shown as none, not a crash."""
    entry = _entry(hass, 1502, "not a list")
    result = await options_menu(hass, entry)
    assert result["description_placeholders"]["registers"] == "-"
    result = await options_choose(hass, result, "modbus_remove_registers")
    (selector,) = result["data_schema"].schema.values()
    assert selector.config["options"] == []


async def test_reconfigure_reads_the_registers_at_the_new_address(
    hass: HomeAssistant, sdm630: RegisterServer
) -> None:
    entry = _entry(hass, free_port(), [POWER_STORED])
    result = check(await entry.start_reconfigure_flow(hass))
    assert result["step_id"] == "modbus_reconfigure_network"
    before = sum(sdm630.store.requests.values())
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: sdm630.port, CONF_UNIT_ID: 1}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert sum(sdm630.store.requests.values()) > before
    assert entry.data[CONF_PORT] == sdm630.port
    assert entry.options[CONF_REGISTERS] == [POWER_STORED]
    # A register the device at the new address refuses is named there too.
    entry2 = _entry(hass, free_port(), [{**POWER_STORED, "address": 1000}])
    result = check(await entry2.start_reconfigure_flow(hass))
    result = check(
        await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {CONF_HOST: "127.0.0.1", CONF_PORT: sdm630.port, CONF_UNIT_ID: 2},
        )
    )
    assert result["errors"] == {"base": "modbus_register_failed"}
    assert "Total power (InputRegister 1000)" in result["description_placeholders"]["error"]
