"""Setting up, updating and unloading a Thing entry in a real Home Assistant."""

from __future__ import annotations

from datetime import timedelta
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_URL, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.thingbridge.const import CONF_KIND, DOMAIN, KIND_WOT_THING
from simulator.wot import WotSimulator

from .conftest import StaticServer

TEMP = "sensor.simulated_temperature_sensor_temperature"


async def test_setup_and_unload(
    hass: HomeAssistant,
    wot_sim: WotSimulator,
    sensor_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    sensor_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(sensor_entry.entry_id)
    await hass.async_block_till_done()
    assert sensor_entry.state is ConfigEntryState.LOADED

    state = hass.states.get(TEMP)
    assert state is not None
    assert state.state == "21.5"
    assert state.attributes["unit_of_measurement"] == "°C"
    assert state.attributes["device_class"] == "temperature"
    assert state.attributes["state_class"] == "measurement"

    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, "urn:thingbridge:simulator:sensor"), sensor_entry.entry_id
    )
    assert device is not None
    assert device.name == "Simulated Temperature Sensor"
    assert device.model == "TemperatureSensor"
    assert device.configuration_url == wot_sim.base_url.rstrip("/")
    entity = entity_registry.async_get(TEMP)
    assert entity is not None
    assert entity.unique_id == "urn:thingbridge:simulator:sensor_temperature"
    assert entity.device_id == device.id

    assert await hass.config_entries.async_unload(sensor_entry.entry_id)
    await hass.async_block_till_done()
    assert sensor_entry.state is ConfigEntryState.NOT_LOADED
    assert hass.states.get(TEMP).state == STATE_UNAVAILABLE


async def test_values_follow_the_device_and_availability(
    hass: HomeAssistant,
    wot_sim: WotSimulator,
    sensor_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sensor_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(sensor_entry.entry_id)
    await hass.async_block_till_done()

    wot_sim.things["sensor"].properties["temperature"].value = 23.25
    freezer.tick(timedelta(seconds=31))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(TEMP).state == "23.25"

    # The device goes away: the entity becomes unavailable, logged once at info level.
    await wot_sim.stop()
    caplog.clear()
    caplog.set_level(logging.INFO)
    for _ in range(2):
        freezer.tick(timedelta(seconds=31))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(TEMP).state == STATE_UNAVAILABLE
    unavailable_logs = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert len(unavailable_logs) == 1

    # It comes back on the same address: available again, logged once.
    port = wot_sim.port
    await wot_sim.start("127.0.0.1", port)
    for _ in range(2):
        freezer.tick(timedelta(seconds=31))
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.states.get(TEMP).state == "23.25"
    recovered = [r for r in caplog.records if "recovered" in r.getMessage()]
    assert len(recovered) == 1
    assert recovered[0].levelno == logging.INFO


async def test_property_that_fails_alone_is_unknown(
    hass: HomeAssistant, http_server: StaticServer
) -> None:
    td = {
        "title": "Partial",
        "id": "urn:test:partial",
        "properties": {
            "good": {"type": "number", "unit": "W", "forms": [{"href": "/good"}]},
            "bad": {"type": "number", "forms": [{"href": "/bad"}]},
            "label": {"type": "string", "forms": [{"href": "/label"}]},
            "obj": {"type": "object", "forms": [{"href": "/obj"}]},
            "flag": {"type": "number", "forms": [{"href": "/flag"}]},
        },
    }
    http_server.add("/good", 12.5)
    http_server.add("/bad", "oops", status=500)
    http_server.add("/label", '"hello"')
    http_server.add("/obj", {"a": 1})
    http_server.add("/flag", True)
    td["properties"]["switch"] = {"type": "boolean", "forms": [{"href": "/switch"}]}
    http_server.add("/switch", False)
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="urn:test:partial", title="Partial",
        data={CONF_KIND: KIND_WOT_THING, CONF_URL: http_server.add("/td", td)},
    )  # fmt: skip
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("sensor.partial_good").state == "12.5"
    assert hass.states.get("sensor.partial_good").attributes["device_class"] == "power"
    assert hass.states.get("sensor.partial_bad").state == STATE_UNKNOWN
    assert hass.states.get("sensor.partial_label").state == "hello"
    assert hass.states.get("sensor.partial_obj").state == STATE_UNKNOWN
    assert hass.states.get("sensor.partial_flag").state == STATE_UNKNOWN
    assert hass.states.get("sensor.partial_switch").state == "false"


async def test_unknown_unit_is_kept(hass: HomeAssistant, http_server: StaticServer) -> None:
    td = {
        "title": "U",
        "properties": {"rpm": {"type": "integer", "unit": "rpm", "forms": [{"href": "/r"}]}},
    }
    http_server.add("/r", 900)
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="u", title="U",
        data={CONF_KIND: KIND_WOT_THING, CONF_URL: http_server.add("/td", td)},
    )  # fmt: skip
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    state = hass.states.get("sensor.u_rpm")
    assert state.state == "900"
    assert state.attributes["unit_of_measurement"] == "rpm"


async def test_unreachable_thing_retries(hass: HomeAssistant, socket_enabled: None) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="x", title="X",
        data={CONF_KIND: KIND_WOT_THING, CONF_URL: "http://127.0.0.1:9/td"},
    )  # fmt: skip
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert "Could not fetch the Thing Description at http://127.0.0.1:9/td" in entry.reason


async def test_invalid_td_is_a_setup_error(hass: HomeAssistant, http_server: StaticServer) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN, unique_id="y", title="Y",
        data={CONF_KIND: KIND_WOT_THING, CONF_URL: http_server.add("/td", {"title": ""})},
    )  # fmt: skip
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert "$.title: missing or empty" in entry.reason
