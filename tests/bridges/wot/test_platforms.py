"""Every entity platform against the simulator's reference Things, through Home Assistant.

Each test adds a simulated Thing as a config entry, then drives it the way a user or an
automation would: Home Assistant service calls and states. What reaches the device is checked
on the simulator itself, and what the device does by itself (``sim.set_property``,
``sim.emit_event``) must show up in Home Assistant through push alone: no test advances the
clock, except the one that checks availability (polling is how a lost Thing is noticed).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from datetime import timedelta
import logging
from typing import Any

from homeassistant.components.climate.const import HVACAction, HVACMode
from homeassistant.components.cover import CoverEntityFeature, CoverState
from homeassistant.components.light.const import ColorMode
from homeassistant.components.lock.const import LockState
from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.config_entries import ConfigEntryDisabler, ConfigEntryState
from homeassistant.const import (
    ATTR_ENTITY_ID,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    Platform,
)
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, State, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.thingbridge.const import CONF_KIND, DOMAIN, KIND_WOT_THING, SCAN_INTERVAL
from simulator.things import (
    DEFAULT_PASSWORD,
    DEFAULT_TOKEN,
    DEFAULT_USERNAME,
    THING_FACTORIES,
    build_things,
    make_blinds,
)
from simulator.wot import WotSimulator

# Generous bound for anything pushed over loopback; a hang fails instead of blocking. It is
# shorter than the 30 s poll interval, so a value that shows up within it came by push.
WAIT_LIMIT = 15.0


# --------------------------------------------------------------------------------------------
# helpers


def thing_id(slug: str) -> str:
    """The ``id`` the simulator gives a Thing (also the config entry's unique ID)."""
    return f"urn:thingbridge:simulator:{slug}"


async def add_thing(
    hass: HomeAssistant, sim: WotSimulator, slug: str, **extra: Any
) -> MockConfigEntry:
    """Add the simulated Thing ``slug`` as a config entry, with the credentials it needs."""
    data: dict[str, Any] = {CONF_KIND: KIND_WOT_THING, "url": sim.url_of(slug), **extra}
    if slug == "plug":
        data.setdefault("token", DEFAULT_TOKEN)
    if slug == "lock":
        data.setdefault("username", DEFAULT_USERNAME)
        data.setdefault("password", DEFAULT_PASSWORD)
    entry = MockConfigEntry(
        domain=DOMAIN, title=sim.thing(slug).title, unique_id=sim.thing(slug).id, data=data
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


def entity_id(hass: HomeAssistant, platform: str, thing: str, key: str) -> str:
    """The entity ID registered for the mapping key ``key`` of Thing ``thing``."""
    found = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{thing}_{key}")
    assert found is not None, f"no {platform} entity for {thing} {key}"
    return found


def state_of(hass: HomeAssistant, entity: str) -> State:
    """The entity's current state (it must exist)."""
    state = hass.states.get(entity)
    assert state is not None, f"{entity} has no state"
    return state


async def wait_for(hass: HomeAssistant, check: Callable[[], bool], what: str) -> None:
    """Let Home Assistant run until ``check()`` holds, failing after a generous bound.

    It sleeps rather than waiting for Home Assistant's tasks: a service call still running
    in the background (an open cover) must not hold the check back.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_LIMIT
    while not check():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def wait_for_push(hass: HomeAssistant, sim: WotSimulator, slug: str) -> None:
    """Wait until the Thing's push channels are open (values change only after that)."""
    thing = sim.thing(slug)
    entry = hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, thing.id)
    assert entry is not None
    coordinator = entry.runtime_data.things[thing.id]

    def connected() -> bool:
        watcher = coordinator.watcher
        return thing.subscriber_count > 0 and watcher is not None and watcher.connected

    await wait_for(hass, connected, f"{slug}'s push channels")


def event_poll_waiting(sim: WotSimulator, event: str) -> bool:
    """True while a subscription to ``event`` is open on the simulator."""
    return any(
        "event" in sub.kinds and (sub.names is None or event in sub.names) and not sub.closed
        for sub in sim.live
    )


class StateLog:
    """Every state an entity goes through, from now on."""

    def __init__(self, hass: HomeAssistant, entity: str) -> None:
        """Start listening."""
        self.states: list[State] = []

        @callback
        def record(event: Event[EventStateChangedData]) -> None:
            if (new := event.data["new_state"]) is not None:
                self.states.append(new)

        self.stop = async_track_state_change_event(hass, [entity], record)

    @property
    def values(self) -> list[str]:
        """The states seen, in order."""
        return [state.state for state in self.states]


async def call(hass: HomeAssistant, domain: str, service: str, entity: str, **data: Any) -> None:
    """Call an entity service and wait for it to finish."""
    await hass.services.async_call(domain, service, {ATTR_ENTITY_ID: entity, **data}, blocking=True)


async def unload_all(hass: HomeAssistant) -> None:
    """Unload every ThingBridge entry (before the simulator goes, so nothing logs it gone)."""
    for entry in hass.config_entries.async_entries(DOMAIN):
        await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


@pytest.fixture
async def sim(hass: HomeAssistant, socket_enabled: None) -> AsyncGenerator[WotSimulator]:
    """Every reference Thing on a free loopback port (blinds travel fully in 0.5 s)."""
    simulator = WotSimulator(
        build_things(list(THING_FACTORIES), travel_time=0.5), tick_interval=3600
    )
    await simulator.start("127.0.0.1", 0)
    yield simulator
    await unload_all(hass)
    await simulator.stop()


# --------------------------------------------------------------------------------------------
# lamp: light, button, event


async def test_lamp_is_one_light_with_color_modes(hass: HomeAssistant, sim: WotSimulator) -> None:
    await add_thing(hass, sim, "lamp")
    light = entity_id(hass, Platform.LIGHT, thing_id("lamp"), "light")
    assert light == "light.simulated_lamp"
    # One light for the lamp: on/off, brightness, color and color temperature are its parts.
    assert len(hass.states.async_entity_ids(Platform.LIGHT)) == 1
    state = state_of(hass, light)
    assert state.state == STATE_OFF
    assert state.attributes["friendly_name"] == "Simulated Lamp"
    assert set(state.attributes["supported_color_modes"]) == {ColorMode.RGB, ColorMode.COLOR_TEMP}
    assert state.attributes["min_color_temp_kelvin"] == 2200
    assert state.attributes["max_color_temp_kelvin"] == 6500

    # Brightness 0-255 in Home Assistant is 0-100 on the lamp.
    await call(hass, "light", "turn_on", light, brightness=128)
    assert sim.get_property("lamp", "on") is True
    assert sim.get_property("lamp", "brightness") == 50
    state = state_of(hass, light)
    assert state.state == STATE_ON
    assert state.attributes["brightness"] == 128

    await call(hass, "light", "turn_on", light, brightness_pct=100)
    assert sim.get_property("lamp", "brightness") == 100
    assert state_of(hass, light).attributes["brightness"] == 255

    # The dimmest request is still lit (1 %), not written as 0.
    await call(hass, "light", "turn_on", light, brightness=1)
    assert sim.get_property("lamp", "brightness") == 1
    assert state_of(hass, light).attributes["brightness"] == 3

    await call(hass, "light", "turn_on", light, rgb_color=[255, 128, 0])
    assert sim.get_property("lamp", "color") == "#ff8000"
    state = state_of(hass, light)
    assert state.attributes["color_mode"] == ColorMode.RGB
    assert state.attributes["rgb_color"] == (255, 128, 0)

    await call(hass, "light", "turn_on", light, color_temp_kelvin=4000)
    assert sim.get_property("lamp", "colorTemperature") == 4000
    state = state_of(hass, light)
    assert state.attributes["color_mode"] == ColorMode.COLOR_TEMP
    assert state.attributes["color_temp_kelvin"] == 4000

    # Beyond the lamp's range: the nearest temperature it can do, not an error.
    await call(hass, "light", "turn_on", light, color_temp_kelvin=9000)
    assert sim.get_property("lamp", "colorTemperature") == 6500

    await call(hass, "light", "turn_off", light)
    assert sim.get_property("lamp", "on") is False
    assert state_of(hass, light).state == STATE_OFF


async def test_lamp_changes_are_pushed(hass: HomeAssistant, sim: WotSimulator) -> None:
    await add_thing(hass, sim, "lamp")
    light = entity_id(hass, Platform.LIGHT, thing_id("lamp"), "light")
    await wait_for_push(hass, sim, "lamp")

    sim.set_property("lamp", "on", True)
    await wait_for(hass, lambda: state_of(hass, light).state == STATE_ON, "the lamp on")
    sim.set_property("lamp", "brightness", 20)
    await wait_for(
        hass, lambda: state_of(hass, light).attributes["brightness"] == 51, "brightness 20 %"
    )
    # Which color mode the lamp is in follows what changed last on the device.
    sim.set_property("lamp", "colorTemperature", 3000)
    await wait_for(
        hass,
        lambda: state_of(hass, light).attributes["color_mode"] == ColorMode.COLOR_TEMP,
        "color temperature mode",
    )
    assert state_of(hass, light).attributes["color_temp_kelvin"] == 3000
    sim.set_property("lamp", "color", "#00ff00")
    await wait_for(
        hass, lambda: state_of(hass, light).attributes["color_mode"] == ColorMode.RGB, "RGB mode"
    )
    assert state_of(hass, light).attributes["rgb_color"] == (0, 255, 0)

    # Values outside the schema (the device's bug, not the user's) are shown as best they can.
    sim.set_property("lamp", "color", "#f80", validate=False)
    await wait_for(
        hass, lambda: state_of(hass, light).attributes["rgb_color"] == (255, 136, 0), "#f80"
    )
    for nonsense in ("#12345", "#gggggg", 7):
        sim.set_property("lamp", "color", nonsense, validate=False)
        await wait_for(
            hass, lambda: state_of(hass, light).attributes["rgb_color"] is None, repr(nonsense)
        )
    sim.set_property("lamp", "colorTemperature", "warm", validate=False)
    await wait_for(
        hass,
        lambda: state_of(hass, light).attributes["color_temp_kelvin"] is None,
        "no color temperature",
    )
    # Barely above the minimum is the dimmest brightness, not 0.
    sim.set_property("lamp", "brightness", 0.1, validate=False)
    await wait_for(hass, lambda: state_of(hass, light).attributes["brightness"] == 1, "dim")


async def test_lamp_toggle_is_a_service_and_overheated_event(
    hass: HomeAssistant, sim: WotSimulator
) -> None:
    """Issue 10: the lamp's light already toggles; its ``toggle`` action is no extra button.

    It stays reachable through ``thingbridge.invoke_action``, and the device's model is what
    the lamp is ("Light"), not its ``@type`` list.
    """
    entry = await add_thing(hass, sim, "lamp")
    light = entity_id(hass, Platform.LIGHT, thing_id("lamp"), "light")
    event = entity_id(hass, Platform.EVENT, thing_id("lamp"), "event:overheated")
    registry = er.async_get(hass)
    assert hass.states.async_entity_ids(Platform.BUTTON) == []
    for key in ("action:toggle", "action:fade"):
        assert (
            registry.async_get_entity_id(Platform.BUTTON, DOMAIN, f"{thing_id('lamp')}_{key}")
            is None
        )
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, thing_id("lamp")), entry.entry_id
    )
    assert device is not None
    assert device.model == "Light"
    assert [s.as_dict() for s in entry.runtime_data.things[thing_id("lamp")].services] == [
        {"affordance": "fade", "kind": "action", "reason": "several inputs"},
        {"affordance": "toggle", "kind": "action", "reason": "repeats the light's on/off"},
    ]
    await wait_for_push(hass, sim, "lamp")

    await hass.services.async_call(
        DOMAIN, "invoke_action", {"device_id": device.id, "action": "toggle"}, blocking=True,
        return_response=True,
    )  # fmt: skip
    assert sim.get_property("lamp", "on") is True
    await wait_for(hass, lambda: state_of(hass, light).state == STATE_ON, "toggled on")

    assert state_of(hass, event).state == STATE_UNKNOWN
    assert state_of(hass, event).attributes["event_types"] == ["overheated"]
    sim.emit_event("lamp", "overheated", 71.5)
    await wait_for(hass, lambda: state_of(hass, event).state != STATE_UNKNOWN, "the event")
    assert state_of(hass, event).attributes["event_type"] == "overheated"
    assert state_of(hass, event).attributes["data"] == 71.5


# --------------------------------------------------------------------------------------------
# thermostat: climate


async def test_thermostat_is_a_climate_entity(hass: HomeAssistant, sim: WotSimulator) -> None:
    await add_thing(hass, sim, "thermostat")
    climate = entity_id(hass, Platform.CLIMATE, thing_id("thermostat"), "climate")
    assert climate == "climate.simulated_thermostat"
    state = state_of(hass, climate)
    assert state.state == HVACMode.HEAT
    assert state.attributes["hvac_modes"] == [
        HVACMode.OFF,
        HVACMode.HEAT,
        HVACMode.COOL,
        HVACMode.AUTO,
    ]
    assert state.attributes["min_temp"] == 5
    assert state.attributes["max_temp"] == 30
    assert state.attributes["target_temp_step"] == 0.5
    assert state.attributes["current_temperature"] == 19.0
    assert state.attributes["temperature"] == 21.0
    assert state.attributes["hvac_action"] == HVACAction.HEATING
    # The thermostat's temperature and mode are parts of the climate entity, not extra entities.
    assert hass.states.async_entity_ids(Platform.SENSOR) == []
    assert hass.states.async_entity_ids(Platform.SELECT) == []

    await call(hass, "climate", "set_temperature", climate, temperature=22.5)
    assert sim.get_property("thermostat", "targetTemperature") == 22.5
    assert state_of(hass, climate).attributes["temperature"] == 22.5
    # Off-step values are rounded to the thermostat's multipleOf 0.5.
    await call(hass, "climate", "set_temperature", climate, temperature=20.2)
    assert sim.get_property("thermostat", "targetTemperature") == 20.0

    await call(hass, "climate", "set_hvac_mode", climate, hvac_mode=HVACMode.COOL)
    assert sim.get_property("thermostat", "mode") == "cool"
    assert state_of(hass, climate).state == HVACMode.COOL

    await call(hass, "climate", "set_temperature", climate, temperature=23, hvac_mode=HVACMode.AUTO)
    assert sim.get_property("thermostat", "mode") == "auto"
    assert sim.get_property("thermostat", "targetTemperature") == 23

    await call(hass, "climate", "turn_off", climate)
    assert sim.get_property("thermostat", "mode") == "off"
    assert state_of(hass, climate).state == HVACMode.OFF
    # On again: back to the mode it was in.
    await call(hass, "climate", "turn_on", climate)
    assert sim.get_property("thermostat", "mode") == "auto"


async def test_thermostat_out_of_range_is_refused(hass: HomeAssistant, sim: WotSimulator) -> None:
    await add_thing(hass, sim, "thermostat")
    climate = entity_id(hass, Platform.CLIMATE, thing_id("thermostat"), "climate")
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "climate", "set_temperature", climate, temperature=31)
    assert err.value.translation_key == "temp_out_of_range"
    with pytest.raises(ServiceValidationError):
        await call(hass, "climate", "set_hvac_mode", climate, hvac_mode=HVACMode.DRY)
    assert sim.get_property("thermostat", "targetTemperature") == 21.0
    assert sim.get_property("thermostat", "mode") == "heat"


async def test_thermostat_pushes_temperature_and_action(
    hass: HomeAssistant, sim: WotSimulator
) -> None:
    await add_thing(hass, sim, "thermostat")
    climate = entity_id(hass, Platform.CLIMATE, thing_id("thermostat"), "climate")
    await wait_for_push(hass, sim, "thermostat")

    sim.set_property("thermostat", "temperature", 20.4)
    await wait_for(
        hass,
        lambda: state_of(hass, climate).attributes["current_temperature"] == 20.4,
        "the new room temperature",
    )
    # Heating stopped while the mode is still heat: idle, not off.
    sim.set_property("thermostat", "heatingCooling", "off")
    await wait_for(
        hass,
        lambda: state_of(hass, climate).attributes["hvac_action"] == HVACAction.IDLE,
        "idle",
    )
    sim.set_property("thermostat", "heatingCooling", "cooling")
    await wait_for(
        hass,
        lambda: state_of(hass, climate).attributes["hvac_action"] == HVACAction.COOLING,
        "cooling",
    )
    sim.set_property("thermostat", "mode", "off")
    sim.set_property("thermostat", "heatingCooling", "off")
    await wait_for(
        hass,
        lambda: state_of(hass, climate).attributes["hvac_action"] == HVACAction.OFF,
        "off",
    )
    assert state_of(hass, climate).state == HVACMode.OFF


# --------------------------------------------------------------------------------------------
# plug (bearer token): switch and energy sensors


async def test_plug_switch_and_energy_sensors(
    hass: HomeAssistant, sim: WotSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    await add_thing(hass, sim, "plug")
    plug = thing_id("plug")
    switch = entity_id(hass, Platform.SWITCH, plug, "switch")
    power = entity_id(hass, Platform.SENSOR, plug, "property:power")
    energy = entity_id(hass, Platform.SENSOR, plug, "property:energy")
    voltage = entity_id(hass, Platform.SENSOR, plug, "property:voltage")

    assert state_of(hass, switch).state == STATE_ON
    expected = {
        power: ("100.0", "W", SensorDeviceClass.POWER, SensorStateClass.MEASUREMENT),
        # total_increasing kWh with the energy class: what the Energy dashboard accepts.
        energy: ("12.5", "kWh", SensorDeviceClass.ENERGY, SensorStateClass.TOTAL_INCREASING),
        voltage: ("230.0", "V", SensorDeviceClass.VOLTAGE, SensorStateClass.MEASUREMENT),
    }
    for sensor, (value, unit, device_class, state_class) in expected.items():
        state = state_of(hass, sensor)
        assert state.state == value, sensor
        assert state.attributes["unit_of_measurement"] == unit
        assert state.attributes["device_class"] == device_class
        assert state.attributes["state_class"] == state_class
    await wait_for_push(hass, sim, "plug")

    # Switching off goes through the token-protected API; the plug then reports 0 W.
    await call(hass, "switch", "turn_off", switch)
    assert sim.get_property("plug", "on") is False
    assert state_of(hass, switch).state == STATE_OFF
    await wait_for(hass, lambda: state_of(hass, power).state == "0.0", "0 W pushed")
    await call(hass, "switch", "turn_on", switch)
    assert sim.get_property("plug", "on") is True
    await wait_for(hass, lambda: state_of(hass, power).state == "100.0", "100 W pushed")

    sim.set_property("plug", "energy", 12.75)
    await wait_for(hass, lambda: state_of(hass, energy).state == "12.75", "the meter pushed")
    # A meter that goes back to zero (replaced, or reset by its owner) is shown as it is: for a
    # total_increasing sensor Home Assistant's statistics start a new cycle by themselves, and
    # ThingBridge has nothing to add (no warning, no error, the sensor stays available).
    sim.set_property("plug", "energy", 0.0)
    await wait_for(hass, lambda: state_of(hass, energy).state == "0.0", "the reset pushed")
    assert state_of(hass, energy).attributes["state_class"] == SensorStateClass.TOTAL_INCREASING
    assert [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("custom_components.thingbridge") and r.levelno >= logging.WARNING
    ] == []
    sim.set_property("plug", "on", False)
    await wait_for(hass, lambda: state_of(hass, switch).state == STATE_OFF, "off pushed")


# --------------------------------------------------------------------------------------------
# lock (basic auth)


async def test_lock_actions_and_states(hass: HomeAssistant, sim: WotSimulator) -> None:
    await add_thing(hass, sim, "lock")
    lock = entity_id(hass, Platform.LOCK, thing_id("lock"), "lock")
    jammed_event = entity_id(hass, Platform.EVENT, thing_id("lock"), "event:jammed")
    assert lock == "lock.simulated_door_lock"
    assert state_of(hass, lock).state == LockState.LOCKED
    await wait_for_push(hass, sim, "lock")

    log = StateLog(hass, lock)
    await call(hass, "lock", "unlock", lock)
    assert sim.get_property("lock", "locked") == "unlocked"
    await wait_for(hass, lambda: state_of(hass, lock).state == LockState.UNLOCKED, "unlocked")
    # While the unlock action ran the lock showed it.
    assert LockState.UNLOCKING in log.values
    await call(hass, "lock", "lock", lock)
    assert sim.get_property("lock", "locked") == "locked"
    await wait_for(hass, lambda: state_of(hass, lock).state == LockState.LOCKED, "locked")
    assert LockState.LOCKING in log.values
    log.stop()

    sim.set_property("lock", "locked", "jammed")
    await wait_for(hass, lambda: state_of(hass, lock).state == LockState.JAMMED, "jammed")
    await wait_for(
        hass, lambda: state_of(hass, jammed_event).state != STATE_UNKNOWN, "the jammed event"
    )
    assert state_of(hass, jammed_event).attributes["event_type"] == "jammed"
    sim.set_property("lock", "locked", "unknown")
    await wait_for(hass, lambda: state_of(hass, lock).state == STATE_UNKNOWN, "unknown")


# --------------------------------------------------------------------------------------------
# sensor (long-poll): binary sensor, sensors, event


async def test_sensor_thing_over_long_poll(hass: HomeAssistant, sim: WotSimulator) -> None:
    await add_thing(hass, sim, "sensor")
    sensor = thing_id("sensor")
    motion = entity_id(hass, Platform.BINARY_SENSOR, sensor, "property:motion")
    temperature = entity_id(hass, Platform.SENSOR, sensor, "property:temperature")
    humidity = entity_id(hass, Platform.SENSOR, sensor, "property:humidity")
    detected = entity_id(hass, Platform.EVENT, sensor, "event:motionDetected")

    assert state_of(hass, motion).state == STATE_OFF
    assert state_of(hass, motion).attributes["device_class"] == "motion"
    assert state_of(hass, temperature).state == "21.5"
    assert state_of(hass, temperature).attributes["device_class"] == SensorDeviceClass.TEMPERATURE
    assert state_of(hass, temperature).attributes["unit_of_measurement"] == "°C"
    assert state_of(hass, humidity).state == "45.0"
    assert state_of(hass, humidity).attributes["device_class"] == SensorDeviceClass.HUMIDITY
    assert state_of(hass, humidity).attributes["unit_of_measurement"] == "%"
    await wait_for_push(hass, sim, "sensor")

    # Motion starting also fires motionDetected (the simulator's change hook).
    sim.set_property("sensor", "motion", True)
    await wait_for(hass, lambda: state_of(hass, motion).state == STATE_ON, "motion")
    await wait_for(hass, lambda: state_of(hass, detected).state != STATE_UNKNOWN, "the event")
    assert state_of(hass, detected).attributes["event_type"] == "motionDetected"
    first = state_of(hass, detected).state

    # A long-poll misses what happens between two polls: emit once the next poll waits.
    await wait_for(hass, lambda: event_poll_waiting(sim, "motionDetected"), "the next poll")
    sim.emit_event("sensor", "motionDetected", "2026-11-24T10:00:00.000Z")
    await wait_for(
        hass,
        lambda: state_of(hass, detected).attributes.get("data") == "2026-11-24T10:00:00.000Z",
        "the emitted event",
    )
    assert state_of(hass, detected).state >= first

    sim.set_property("sensor", "temperature", 23.25)
    sim.set_property("sensor", "humidity", 51.5)
    sim.set_property("sensor", "motion", False)
    await wait_for(hass, lambda: state_of(hass, temperature).state == "23.25", "temperature")
    await wait_for(hass, lambda: state_of(hass, humidity).state == "51.5", "humidity")
    await wait_for(hass, lambda: state_of(hass, motion).state == STATE_OFF, "no motion")


# --------------------------------------------------------------------------------------------
# blinds: cover


async def test_blinds_position_pushed_while_moving(hass: HomeAssistant, sim: WotSimulator) -> None:
    await add_thing(hass, sim, "blinds")
    cover = entity_id(hass, Platform.COVER, thing_id("blinds"), "cover")
    assert cover == "cover.simulated_window_blinds"
    state = state_of(hass, cover)
    assert state.state == CoverState.CLOSED
    assert state.attributes["current_position"] == 0
    assert state.attributes["supported_features"] == (
        CoverEntityFeature.OPEN
        | CoverEntityFeature.CLOSE
        | CoverEntityFeature.SET_POSITION
        | CoverEntityFeature.STOP
    )
    await wait_for_push(hass, sim, "blinds")

    # Writing the position answers at once; the blinds then move and push every step.
    log = StateLog(hass, cover)
    await call(hass, "cover", "set_cover_position", cover, position=60)
    # The state shows where the blinds are, not where they were asked to go.
    state = state_of(hass, cover)
    assert state.state == CoverState.OPENING
    assert state.attributes["current_position"] < 60
    await wait_for(hass, lambda: sim.get_property("blinds", "position") == 60, "blinds at 60")
    await wait_for(
        hass, lambda: state_of(hass, cover).attributes["current_position"] == 60, "60 in HA"
    )
    assert state_of(hass, cover).state == CoverState.OPEN
    moving = [s for s in log.states if 0 < s.attributes["current_position"] < 60]
    # The blinds push every step of a 0.3 s travel; Home Assistant shows ten a second of them.
    assert len(moving) >= 2, log.values
    assert all(s.state == CoverState.OPENING for s in moving)
    log.stop()

    # The open action runs until the blinds are open; the cover shows "opening" meanwhile.
    log = StateLog(hass, cover)
    await call(hass, "cover", "open_cover", cover)
    await wait_for(
        hass, lambda: state_of(hass, cover).attributes["current_position"] == 100, "open"
    )
    assert sim.get_property("blinds", "position") == 100
    assert CoverState.OPENING in log.values
    assert state_of(hass, cover).state == CoverState.OPEN
    log.stop()

    log = StateLog(hass, cover)
    await call(hass, "cover", "close_cover", cover)
    await wait_for(hass, lambda: state_of(hass, cover).state == CoverState.CLOSED, "closed")
    assert sim.get_property("blinds", "position") == 0
    assert CoverState.CLOSING in log.values
    log.stop()


async def test_blinds_stop_while_opening(hass: HomeAssistant, socket_enabled: None) -> None:
    # Slow blinds (5 s per travel) so that the stop lands half-way.
    sim = WotSimulator([make_blinds(travel_time=5.0)], tick_interval=3600)
    await sim.start("127.0.0.1", 0)
    try:
        await add_thing(hass, sim, "blinds")
        cover = entity_id(hass, Platform.COVER, thing_id("blinds"), "cover")
        await wait_for_push(hass, sim, "blinds")
        opening = asyncio.create_task(call(hass, "cover", "open_cover", cover))
        await wait_for(
            hass, lambda: state_of(hass, cover).attributes["current_position"] >= 5, "moving"
        )
        assert state_of(hass, cover).state == CoverState.OPENING
        assert not opening.done()
        # The stop is not queued behind the running open.
        await call(hass, "cover", "stop_cover", cover)
        # The open call ends without an error: it was stopped on purpose.
        async with asyncio.timeout(WAIT_LIMIT):
            await opening
        stopped = sim.get_property("blinds", "position")
        assert 5 <= stopped < 100
        await wait_for(
            hass,
            lambda: state_of(hass, cover).attributes["current_position"] == stopped,
            "the stopped position",
        )
        assert state_of(hass, cover).state == CoverState.OPEN
        assert sim.get_property("blinds", "position") == stopped
    finally:
        await unload_all(hass)
        await sim.stop()


# --------------------------------------------------------------------------------------------
# webthing-switch (WebThings dialect, WebSocket push)


async def test_webthings_dimmer_is_one_dimmable_light(
    hass: HomeAssistant, sim: WotSimulator
) -> None:
    """Issue 10: ``OnOffSwitch`` + ``MultiLevelSwitch`` is one light dimmed by its level.

    Not a switch beside a "Level" number and a "Toggle" button; brightness is the level
    scaled from the property's 0-100 to 0-255.
    """
    entry = await add_thing(hass, sim, "webthing-switch")
    dimmer = thing_id("webthing-switch")
    light = entity_id(hass, Platform.LIGHT, dimmer, "light")
    assert light == "light.simulated_webthings_dimmer"
    for platform in (Platform.SWITCH, Platform.NUMBER, Platform.BUTTON):
        assert hass.states.async_entity_ids(platform) == [], platform
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, dimmer), entry.entry_id)
    assert device is not None
    assert device.model == "Dimmer switch"
    state = state_of(hass, light)
    assert state.state == STATE_OFF
    assert state.attributes["supported_color_modes"] == [ColorMode.BRIGHTNESS]
    await wait_for_push(hass, sim, "webthing-switch")

    await call(hass, "light", "turn_on", light)
    assert sim.get_property("webthing-switch", "on") is True
    assert state_of(hass, light).attributes["brightness"] == 128  # level 50 of 100
    await call(hass, "light", "turn_on", light, brightness=191)
    assert sim.get_property("webthing-switch", "level") == 75
    assert state_of(hass, light).attributes["brightness"] == 191

    # Pushed over the WebSocket.
    sim.set_property("webthing-switch", "level", 10)
    await wait_for(
        hass, lambda: state_of(hass, light).attributes.get("brightness") == 26, "level pushed"
    )
    sim.set_property("webthing-switch", "on", False)
    await wait_for(hass, lambda: state_of(hass, light).state == STATE_OFF, "off pushed")

    # The toggle action is a service only.
    await hass.services.async_call(
        DOMAIN, "invoke_action", {"device_id": device.id, "action": "toggle"}, blocking=True,
        return_response=True,
    )  # fmt: skip
    await wait_for(hass, lambda: state_of(hass, light).state == STATE_ON, "toggled")


# --------------------------------------------------------------------------------------------
# availability


async def test_entities_follow_the_device_away_and_back(
    hass: HomeAssistant, sim: WotSimulator
) -> None:
    for slug in ("lamp", "blinds"):
        await add_thing(hass, sim, slug)
        await wait_for_push(hass, sim, slug)
    light = entity_id(hass, Platform.LIGHT, thing_id("lamp"), "light")
    event = entity_id(hass, Platform.EVENT, thing_id("lamp"), "event:overheated")
    cover = entity_id(hass, Platform.COVER, thing_id("blinds"), "cover")
    entities = (light, event, cover)
    assert all(state_of(hass, e).state != STATE_UNAVAILABLE for e in entities)

    port = sim.port
    await sim.stop()
    # The push channels drop; the refresh that follows fails: everything is unavailable.
    await wait_for(
        hass,
        lambda: all(state_of(hass, e).state == STATE_UNAVAILABLE for e in entities),
        "unavailable entities",
    )
    sim.set_property("lamp", "on", True)
    sim.set_property("blinds", "position", 30)
    await sim.start("127.0.0.1", port)
    # The next poll (no need to wait the 30 s for real) finds it again.
    async_fire_time_changed(hass, dt_util.utcnow() + SCAN_INTERVAL + timedelta(seconds=1))
    await wait_for(
        hass,
        lambda: all(state_of(hass, e).state != STATE_UNAVAILABLE for e in entities),
        "entities back",
    )
    assert state_of(hass, light).state == STATE_ON
    assert state_of(hass, cover).attributes["current_position"] == 30

    # Push resumes once the channels reopen (their backoff is skipped with the clock).
    for minutes in range(1, 4):
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=minutes))
        await asyncio.sleep(0.05)
    await wait_for_push(hass, sim, "lamp")
    sim.set_property("lamp", "on", False)
    await wait_for(hass, lambda: state_of(hass, light).state == STATE_OFF, "push after return")


# --------------------------------------------------------------------------------------------
# entities an earlier version made


async def test_entities_the_mapping_no_longer_makes_are_removed(
    hass: HomeAssistant, sim: WotSimulator
) -> None:
    """Issue 10: an installation's toggle buttons, and the dimmer's switch and level number.

    They were registered by the version before; now the lamp's light toggles and the dimmer
    is one light, so they are removed from the registry at setup rather than left "no longer
    provided". What the mapping still makes keeps its registry entry (a user's choice to
    disable it included), and another entry's entities are left alone.
    """
    registry = er.async_get(hass)
    devices = dr.async_get(hass)
    old = {
        "lamp": [(Platform.BUTTON, "action:toggle")],
        "webthing-switch": [
            (Platform.SWITCH, "switch"),
            (Platform.NUMBER, "property:level"),
            (Platform.BUTTON, "action:toggle"),
        ],
    }
    entries: dict[str, MockConfigEntry] = {}
    for slug, entities in old.items():
        entry = MockConfigEntry(
            domain=DOMAIN,
            title=sim.thing(slug).title,
            unique_id=thing_id(slug),
            data={CONF_KIND: KIND_WOT_THING, "url": sim.url_of(slug)},
        )
        entry.add_to_hass(hass)
        entries[slug] = entry
        device = devices.async_get_or_create(
            config_entry_id=entry.entry_id, identifiers={(DOMAIN, thing_id(slug))}
        )
        for platform, key in entities:
            registry.async_get_or_create(
                platform, DOMAIN, f"{thing_id(slug)}_{key}", config_entry=entry, device_id=device.id
            )
    kept = registry.async_get_or_create(
        Platform.EVENT,
        DOMAIN,
        f"{thing_id('lamp')}_event:overheated",
        config_entry=entries["lamp"],
        device_id=devices.async_get_device_by_identifier(
            (DOMAIN, thing_id("lamp")), entries["lamp"].entry_id
        ).id,  # type: ignore[union-attr]
        disabled_by=er.RegistryEntryDisabler.USER,
    )
    other = MockConfigEntry(
        domain=DOMAIN,
        unique_id="urn:other",
        data={CONF_KIND: KIND_WOT_THING, "url": sim.url_of("lamp")},
        disabled_by=ConfigEntryDisabler.USER,
    )
    other.add_to_hass(hass)
    foreign = registry.async_get_or_create(
        Platform.BUTTON, DOMAIN, "urn:other_action:toggle", config_entry=other
    )

    # Setting one entry up sets the integration up, and with it every entry.
    assert await hass.config_entries.async_setup(entries["lamp"].entry_id)
    await hass.async_block_till_done()
    assert all(entry.state is ConfigEntryState.LOADED for entry in entries.values())

    for slug, entities in old.items():
        for platform, key in entities:
            assert registry.async_get_entity_id(platform, DOMAIN, f"{thing_id(slug)}_{key}") is None
    assert entity_id(hass, Platform.LIGHT, thing_id("webthing-switch"), "light")
    still = registry.async_get(kept.entity_id)
    assert still is not None
    assert still.disabled_by is er.RegistryEntryDisabler.USER
    assert registry.async_get(foreign.entity_id) is not None
