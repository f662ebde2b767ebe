"""Config flow of a Modbus device: every step, error and abort, against real Modbus servers.

The devices are pymodbus's Modbus TCP server on loopback (``modbus_support``); the flow reads
them through Home Assistant's modbus (``async_get_temporary_unit``). The entry setup is
replaced by a recorder (the flow is the unit here; ``test_modbus_device.py`` sets entries up).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Mapping
import json
from pathlib import Path
import shutil
from typing import Any

from homeassistant import config_entries
from homeassistant.components.modbus import async_get_unit
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from modbus_connection import ModbusSerialParams
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

import custom_components.thingbridge as integration
from custom_components.thingbridge.const import (
    CONF_BAUDRATE,
    CONF_BYTESIZE,
    CONF_CONNECTION,
    CONF_DEVICE,
    CONF_KIND,
    CONF_OPTIONAL,
    CONF_PARITY,
    CONF_PROFILE,
    CONF_SCAN_SECONDS,
    CONF_STOPBITS,
    CONF_UNIT_ID,
    DOMAIN,
    KIND_MODBUS_DEVICE,
    MODBUS_RTU_OVER_TCP,
    MODBUS_SERIAL,
    MODBUS_TCP,
    PROFILE_SUNSPEC,
    USER_PROFILE_DIR,
)
from simulator.modbus import DEVICES, SimModbusDevice
from tests.bridges.wot.modbus_support import (
    SDM630,
    TEST_METER,
    RegisterServer,
    RegisterStore,
    meter_store,
    meter_tm,
    sdm630_store,
)
from tests.bridges.wot.test_config_flow import check, check_options, free_port, suggested

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


async def _serve(store: RegisterStore) -> RegisterServer:
    server = RegisterServer(store)
    await server.start()
    return server


@pytest.fixture
async def sdm630(socket_enabled: None) -> AsyncGenerator[RegisterServer]:
    """A simulated SDM630 at unit 1 on a free loopback port."""
    server = await _serve(sdm630_store())
    yield server
    await server.stop()


@pytest.fixture
async def meter(socket_enabled: None) -> AsyncGenerator[RegisterServer]:
    """The tests' small meter at unit 1."""
    server = await _serve(meter_store())
    yield server
    await server.stop()


@pytest.fixture(autouse=True)
def no_user_profiles_left(hass: HomeAssistant) -> Generator[None]:
    """The profiles a test writes go with it (the configuration directory is shared)."""
    yield
    shutil.rmtree(hass.config.path(USER_PROFILE_DIR), ignore_errors=True)


def user_profile(hass: HomeAssistant, name: str, document: Any) -> Path:
    """Write a user's Thing Model into the profiles folder of the configuration directory."""
    folder = Path(hass.config.path(USER_PROFILE_DIR))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.tm.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


async def start(hass: HomeAssistant, connection: str = MODBUS_TCP) -> Result:
    """Open the menu, pick a Modbus device and its connection type."""
    result = check(
        await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": config_entries.SOURCE_USER}
        )
    )
    result = check(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": KIND_MODBUS_DEVICE}
        )
    )
    assert result["step_id"] == KIND_MODBUS_DEVICE
    return check(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_CONNECTION: connection}
        )
    )


async def network(hass: HomeAssistant, port: int, unit: int = 1) -> Result:
    """Through the network step to the profile step."""
    result = await start(hass)
    assert result["step_id"] == "modbus_network"
    return check(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_HOST: " 127.0.0.1 ", CONF_PORT: port, CONF_UNIT_ID: unit}
        )
    )


async def pick(hass: HomeAssistant, result: Result, profile: str) -> Result:
    return check(
        await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_PROFILE: profile})
    )


def profile_options(result: Result) -> dict[str, str]:
    """The profile dropdown's options, value → label."""
    for marker, selector in result["data_schema"].schema.items():
        if str(marker) == CONF_PROFILE:
            return {o["value"]: o["label"] for o in selector.config["options"]}
    raise AssertionError("no profile field")


async def test_an_sdm630_is_added_after_one_read(
    hass: HomeAssistant, sdm630: RegisterServer, record_setup: list[str]
) -> None:
    result = await network(hass, sdm630.port)
    assert result["step_id"] == "modbus_profile"
    options = profile_options(result)
    assert SDM630 in options
    assert options[PROFILE_SUNSPEC] == "SunSpec"
    # The generic one-register model needs more than an address: not a device's profile.
    assert "generic-modbus" not in options
    assert result["description_placeholders"]["unit"] == f"127.0.0.1:{sdm630.port}:1"
    before = sum(sdm630.store.requests.values())
    result = await pick(hass, result, SDM630)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"].startswith("Eastron SDM630")
    assert result["data"] == {
        CONF_KIND: KIND_MODBUS_DEVICE,
        CONF_CONNECTION: MODBUS_TCP,
        CONF_HOST: "127.0.0.1",
        CONF_PORT: sdm630.port,
        CONF_UNIT_ID: 1,
        CONF_PROFILE: SDM630,
    }
    assert result["result"].unique_id == f"127.0.0.1:{sdm630.port}:1"
    # The test read read the meter: every register of the profile, in a few block requests.
    assert 0 < sum(sdm630.store.requests.values()) - before <= 10
    assert record_setup == [result["result"].entry_id]


async def test_one_entry_per_unit(hass: HomeAssistant, sdm630: RegisterServer) -> None:
    MockConfigEntry(
        domain=DOMAIN, unique_id=f"127.0.0.1:{sdm630.port}:1", data={CONF_KIND: KIND_MODBUS_DEVICE}
    ).add_to_hass(hass)
    result = await network(hass, sdm630.port)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    # Another unit behind the same gateway is another device.
    result = await network(hass, sdm630.port, unit=2)
    assert result["step_id"] == "modbus_profile"


@pytest.mark.usefixtures("socket_enabled")
async def test_nothing_listening_is_named(hass: HomeAssistant) -> None:
    result = await network(hass, free_port())
    result = await pick(hass, result, SDM630)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "modbus_cannot_connect"}
    assert result["description_placeholders"]["error"]


async def test_a_silent_unit_is_named(hass: HomeAssistant, meter: RegisterServer) -> None:
    user_profile(hass, TEST_METER, meter_tm(timeout_ms=300))
    meter.store.silent = True
    result = await pick(hass, await network(hass, meter.port), TEST_METER)
    assert result["errors"] == {"base": "modbus_no_answer"}


async def test_refused_registers_are_named(hass: HomeAssistant, meter: RegisterServer) -> None:
    """The unit answers, but with exception 2 for every register: the wrong profile."""
    user_profile(hass, TEST_METER, meter_tm())
    meter.store.refused = {0, 1, 2, 3, 300, 301}
    result = await pick(hass, await network(hass, meter.port), TEST_METER)
    assert result["errors"] == {"base": "modbus_refused"}
    assert "exception 2" in result["description_placeholders"]["error"]


async def test_a_broken_user_profile_is_named(hass: HomeAssistant, meter: RegisterServer) -> None:
    """Unreadable user profiles are listed by file; a profile that makes no usable TD too."""
    broken = user_profile(hass, "broken-meter", "{not json")
    bad = meter_tm()
    for prop in bad["properties"].values():  # each is skipped: no Thing is left
        prop["forms"][0]["modv:entity"] = "Nonsense"
    user_profile(hass, "bad-type", bad)
    result = await network(hass, meter.port)
    assert "broken-meter" not in profile_options(result)
    assert broken.name in result["description_placeholders"]["broken"]
    result = await pick(hass, result, "bad-type")
    assert result["errors"] == {"base": "modbus_profile_error"}
    error = result["description_placeholders"]["error"]
    assert error.startswith(
        "thingbridge/profiles/bad-type.tm.json: $.properties.voltage.forms[0].modv:entity: "
        "unknown entity 'Nonsense'"
    )


async def test_a_link_in_use_with_other_settings_is_named(
    hass: HomeAssistant, meter: RegisterServer
) -> None:
    """Another integration holds the serial line at 9600 baud; ThingBridge asks for 19200."""
    device = f"socket://127.0.0.1:{meter.port}"
    other = MockConfigEntry(domain="other_modbus_integration")
    other.add_to_hass(hass)
    async_get_unit(hass, other, ModbusSerialParams(device=device, baudrate=9600), 1)
    user_profile(hass, TEST_METER, meter_tm())
    result = await start(hass, MODBUS_SERIAL)
    assert result["step_id"] == "modbus_serial"
    assert suggested(result, CONF_BAUDRATE) is None  # defaults, not suggestions
    result = check(
        await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {
                CONF_DEVICE: device,
                CONF_BAUDRATE: "19200",
                CONF_BYTESIZE: "8",
                CONF_PARITY: "N",
                CONF_STOPBITS: "1",
                CONF_UNIT_ID: 1,
            },
        )
    )
    assert result["description_placeholders"]["unit"] == f"{device}:1"
    result = await pick(hass, result, TEST_METER)
    assert result["errors"] == {"base": "modbus_link_in_use"}
    assert "9600" in result["description_placeholders"]["error"]


@pytest.mark.usefixtures("socket_enabled")
async def test_an_sdm630_behind_an_rtu_over_tcp_gateway(hass: HomeAssistant) -> None:
    """RTU frames on a TCP socket (a transparent RS-485 gateway): host, port, unit; one read."""
    gateway = SimModbusDevice("sdm630", DEVICES["sdm630"])
    await gateway.start(rtu=True)
    try:
        result = await start(hass, MODBUS_RTU_OVER_TCP)
        assert result["step_id"] == "modbus_network"
        result = check(
            await hass.config_entries.flow.async_configure(
                result["flow_id"],
                {CONF_HOST: "127.0.0.1", CONF_PORT: gateway.port, CONF_UNIT_ID: 1},
            )
        )
        result = await pick(hass, result, SDM630)
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["data"][CONF_CONNECTION] == MODBUS_RTU_OVER_TCP
        assert gateway.requests > 0
    finally:
        await gateway.stop()


def _entry(hass: HomeAssistant, port: int, **data: Any) -> MockConfigEntry:
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Test meter",
        unique_id=f"127.0.0.1:{port}:1",
        data={
            CONF_KIND: KIND_MODBUS_DEVICE,
            CONF_CONNECTION: MODBUS_TCP,
            CONF_HOST: "127.0.0.1",
            CONF_PORT: port,
            CONF_UNIT_ID: 1,
            CONF_PROFILE: TEST_METER,
            **data,
        },
    )
    entry.add_to_hass(hass)
    return entry


async def test_reconfigure_moves_the_device(hass: HomeAssistant, meter: RegisterServer) -> None:
    user_profile(hass, TEST_METER, meter_tm(timeout_ms=300))
    old_port = free_port()
    entry = _entry(hass, old_port)
    result = check(await entry.start_reconfigure_flow(hass))
    assert result["step_id"] == "modbus_reconfigure_network"
    assert suggested(result, CONF_PORT) == old_port
    # Nothing answers there: the form says so and nothing changes.
    result = check(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: free_port(), CONF_UNIT_ID: 1}
        )
    )
    assert result["errors"] == {"base": "modbus_cannot_connect"}
    result = check(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: meter.port, CONF_UNIT_ID: 1}
        )
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_PORT] == meter.port
    assert entry.unique_id == f"127.0.0.1:{meter.port}:1"


async def test_reconfigure_onto_another_entrys_unit_aborts(
    hass: HomeAssistant, meter: RegisterServer
) -> None:
    entry = _entry(hass, free_port())
    _entry(hass, meter.port)
    result = check(await entry.start_reconfigure_flow(hass))
    result = check(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_HOST: "127.0.0.1", CONF_PORT: meter.port, CONF_UNIT_ID: 1}
        )
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@pytest.mark.usefixtures("socket_enabled")
async def test_reconfigure_a_serial_device(hass: HomeAssistant) -> None:
    device = f"socket://127.0.0.1:{free_port()}"
    entry = MockConfigEntry(
        domain=DOMAIN,
        unique_id=f"{device}:3",
        data={
            CONF_KIND: KIND_MODBUS_DEVICE,
            CONF_CONNECTION: MODBUS_SERIAL,
            CONF_DEVICE: device,
            CONF_BAUDRATE: 9600,
            CONF_BYTESIZE: 8,
            CONF_PARITY: "E",
            CONF_STOPBITS: 1,
            CONF_UNIT_ID: 3,
            CONF_PROFILE: SDM630,
        },
    )
    entry.add_to_hass(hass)
    result = check(await entry.start_reconfigure_flow(hass))
    assert result["step_id"] == "modbus_reconfigure_serial"
    assert suggested(result, CONF_BAUDRATE) == "9600"
    assert suggested(result, CONF_PARITY) == "E"
    assert suggested(result, CONF_UNIT_ID) == 3
    result = check(
        await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {
                CONF_DEVICE: device,
                CONF_BAUDRATE: "9600",
                CONF_BYTESIZE: "8",
                CONF_PARITY: "E",
                CONF_STOPBITS: "1",
                CONF_UNIT_ID: 3,
            },
        )
    )
    assert result["errors"] == {"base": "modbus_cannot_connect"}


async def test_options_scan_interval_and_optional_groups(hass: HomeAssistant) -> None:
    entry = _entry(hass, 1502, **{CONF_PROFILE: SDM630})
    result = check_options(await hass.config_entries.options.async_init(entry.entry_id))
    assert result["step_id"] == "modbus"
    optional = next(
        selector
        for marker, selector in result["data_schema"].schema.items()
        if str(marker) == CONF_OPTIONAL
    )
    choices = optional.config["options"]
    assert "voltage_thd_l1" in choices
    assert "voltage_l1" not in choices  # always read
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SCAN_SECONDS: 10.0, CONF_OPTIONAL: ["voltage_thd_l1"]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_SCAN_SECONDS: 10, CONF_OPTIONAL: ["voltage_thd_l1"]}


@pytest.mark.parametrize("profile", [PROFILE_SUNSPEC, "no-such-profile"])
async def test_options_without_optional_groups(hass: HomeAssistant, profile: str) -> None:
    """SunSpec devices (and a profile that is gone) have only the scan interval."""
    entry = _entry(hass, 1502, **{CONF_PROFILE: profile})
    result = check_options(await hass.config_entries.options.async_init(entry.entry_id))
    assert [str(marker) for marker in result["data_schema"].schema] == [CONF_SCAN_SECONDS]
