"""The read_property action and diagnostics."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.thingbridge.const import CONF_KIND, DOMAIN, KIND_WOT_THING
from simulator.wot import WotSimulator


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def test_read_property_returns_value(
    hass: HomeAssistant, wot_sim: WotSimulator, sensor_entry: MockConfigEntry
) -> None:
    await _setup(hass, sensor_entry)
    wot_sim.things["sensor"].properties["temperature"].value = 19.75
    response = await hass.services.async_call(
        DOMAIN,
        "read_property",
        {"config_entry_id": sensor_entry.entry_id, "property": "temperature"},
        blocking=True,
        return_response=True,
    )
    assert response == {"value": 19.75}


async def test_read_property_errors(
    hass: HomeAssistant, wot_sim: WotSimulator, sensor_entry: MockConfigEntry
) -> None:
    await _setup(hass, sensor_entry)

    async def call(entry_id: str, prop: str = "temperature") -> None:
        await hass.services.async_call(
            DOMAIN,
            "read_property",
            {"config_entry_id": entry_id, "property": prop},
            blocking=True,
            return_response=True,
        )

    with pytest.raises(ServiceValidationError) as err:
        await call("nope")
    assert err.value.translation_key == "entry_not_found"

    with pytest.raises(ServiceValidationError) as err:
        await call(sensor_entry.entry_id, "humidity")
    assert err.value.translation_key == "unknown_property"

    await wot_sim.stop()
    with pytest.raises(HomeAssistantError) as err:
        await call(sensor_entry.entry_id)
    assert err.value.translation_key == "operation_failed"
    assert "Simulated Temperature Sensor" in str(err.value.translation_placeholders)

    other = MockConfigEntry(
        domain=DOMAIN, title="Off", unique_id="off",
        data={CONF_KIND: KIND_WOT_THING, "url": "http://127.0.0.1:9/"},
    )  # fmt: skip
    other.add_to_hass(hass)
    with pytest.raises(ServiceValidationError) as err:
        await call(other.entry_id)
    assert err.value.translation_key == "entry_not_loaded"


async def test_diagnostics_redacts_credentials(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    wot_sim: WotSimulator,
    sensor_entry: MockConfigEntry,
) -> None:
    sensor_entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(
        sensor_entry, data={**sensor_entry.data, "username": "admin", "password": "hunter2"}
    )
    assert await hass.config_entries.async_setup(sensor_entry.entry_id)
    await hass.async_block_till_done()
    diag = await get_diagnostics_for_config_entry(hass, hass_client, sensor_entry)
    assert diag["entry"]["data"]["password"] == "**REDACTED**"
    assert diag["entry"]["data"]["username"] == "**REDACTED**"
    assert "hunter2" not in str(diag)
    assert diag["thing_description"]["title"] == "Simulated Temperature Sensor"
    assert diag["values"] == {"temperature": 21.5}
    assert diag["last_update_success"] is True
