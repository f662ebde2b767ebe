"""What a directory of many Things costs Home Assistant: per entry, not per Thing, where it can.

Speed itself is measured in bench/ (bench.wot_push); these tests hold the behaviour the
savings rest on, in a real Home Assistant with the simulator's Things.
"""

from __future__ import annotations

from typing import Any

from homeassistant.components.sensor import DOMAIN as SENSOR_DOMAIN
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_URL, EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.thingbridge.const import CONF_KIND, DOMAIN, KIND_WOT_DIRECTORY
from simulator.wot import WotSimulator

TEMP = "sensor.simulated_temperature_sensor_temperature"


def _stop_listeners(hass: HomeAssistant) -> int:
    return hass.bus.async_listeners().get(EVENT_HOMEASSISTANT_STOP, 0)


async def _listeners_once_loaded(hass: HomeAssistant, entry: MockConfigEntry) -> int:
    """The stop listeners after ``entry`` was set up and unloaded once.

    The platforms' integrations it loads listen too, and stay loaded.
    """
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    return _stop_listeners(hass)


async def test_directory_closes_push_channels_at_stop_with_one_listener(
    hass: HomeAssistant, wot_sim: WotSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """An entry listens once for Home Assistant's stop, however many Things it pushes for."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Gateway",
        unique_id=f"{wot_sim.base_url}things",
        data={CONF_KIND: KIND_WOT_DIRECTORY, CONF_URL: f"{wot_sim.base_url}.well-known/wot"},
    )
    entry.add_to_hass(hass)
    before = await _listeners_once_loaded(hass, entry)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinators = list(entry.runtime_data.things.values())
    assert len(coordinators) == 2
    assert all(c.watcher is not None for c in coordinators)
    assert _stop_listeners(hass) == before + 1

    # Home Assistant stops: every Thing's push channels close before its HTTP session does.
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert all(c.watcher is None for c in coordinators)
    assert not entry.runtime_data.pushing

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert "Unable to remove unknown job listener" not in caplog.text


async def test_unload_removes_the_stop_listener(
    hass: HomeAssistant, wot_sim: WotSimulator, sensor_entry: MockConfigEntry
) -> None:
    """Unloading without a stop leaves no listener behind, and reloading adds one again."""
    sensor_entry.add_to_hass(hass)
    before = await _listeners_once_loaded(hass, sensor_entry)
    assert await hass.config_entries.async_setup(sensor_entry.entry_id)
    await hass.async_block_till_done()
    assert _stop_listeners(hass) == before + 1
    assert await hass.config_entries.async_reload(sensor_entry.entry_id)
    await hass.async_block_till_done()
    assert _stop_listeners(hass) == before + 1
    assert await hass.config_entries.async_unload(sensor_entry.entry_id)
    assert _stop_listeners(hass) == before


async def test_new_sensor_entry_is_created_with_its_display_precision(
    hass: HomeAssistant,
    wot_sim: WotSimulator,
    sensor_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """A new sensor's registry entry has its precision at once, not in an update just after."""
    updates: list[dict[str, Any]] = []

    def on_update(event: Event[er.EventEntityRegistryUpdatedData]) -> None:
        if event.data["action"] == "update":
            updates.append(dict(event.data))

    unsubscribe = hass.bus.async_listen(er.EVENT_ENTITY_REGISTRY_UPDATED, on_update)
    sensor_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(sensor_entry.entry_id)
    await hass.async_block_till_done()
    unsubscribe()

    registered = entity_registry.async_get(TEMP)
    assert registered is not None
    # Home Assistant's own choice for a temperature in °C (its device class's precision).
    assert registered.options[SENSOR_DOMAIN] == {"suggested_display_precision": 1}
    assert hass.states.get(TEMP) is not None
    assert [u for u in updates if u["entity_id"] == TEMP] == []
