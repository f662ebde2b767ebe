"""Platform variants the reference Things don't have, on Things built for these tests.

The Things are served by the real simulator (:class:`simulator.wot.WotSimulator` over HTTP and
SSE on loopback); only their affordances are made up here: fans, lights and locks of other
shapes, an air conditioner, a plain setpoint, a shade driven by position alone, and a gadget
with the single-property platforms (select, text, number, enum/text/diagnostic sensors) and a
failing action.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from homeassistant.components.climate.const import HVACMode
from homeassistant.components.cover import CoverEntityFeature, CoverState
from homeassistant.components.light.const import ColorMode
from homeassistant.components.lock.const import LockState
from homeassistant.components.number import NumberDeviceClass, NumberMode
from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN, EntityCategory, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest

from custom_components.thingbridge.bridges.wot.entity import ValueRange, describe_error
from custom_components.thingbridge.number import device_class as number_device_class
from custom_components.thingbridge.sensor import device_class as sensor_device_class
from custom_components.thingbridge.wot import DataSchema
from simulator.model import (
    ActionRecord,
    SimAction,
    SimProperty,
    SimThing,
    SimulatorError,
)
from simulator.wot import WotSimulator

from .test_platforms import (
    StateLog,
    add_thing,
    call,
    entity_id,
    state_of,
    thing_id,
    unload_all,
    wait_for,
    wait_for_push,
)

# --------------------------------------------------------------------------------------------
# the Things


def _prop(schema: dict[str, Any], value: Any) -> SimProperty:
    return SimProperty(schema, value)


def _int(low: int, high: int, **extra: Any) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high, **extra}


async def _noop(_thing: SimThing, _value: Any, _record: ActionRecord) -> None:
    return None


async def _fail(_thing: SimThing, _value: Any, _record: ActionRecord) -> None:
    raise SimulatorError("the sensor is covered")


def _thing(slug: str, types: list[str], properties: dict[str, SimProperty], **kw: Any) -> SimThing:
    return SimThing(
        slug=slug, title=f"Test {slug}", semantic_types=types, properties=properties, **kw
    )


ON = {"@type": "OnOffProperty", "title": "Power", "type": "boolean"}


def make_things() -> list[SimThing]:
    """Every Thing these tests use."""
    return [
        # A fan with on/off and a 0-100 speed, one with speeds 1-3, one switched by speed alone.
        _thing("fan", ["Fan"], {"on": _prop(ON, False), "speed": _prop(_int(0, 100), 0)}),
        _thing("fan3", ["Fan"], {"on": _prop(ON, True), "fanSpeed": _prop(_int(1, 3), 2)}),
        _thing("vent", ["Fan"], {"speed": _prop(_int(0, 3), 0)}),
        _thing("blower", ["Fan"], {"on": _prop(ON, False)}),
        # A light that is only a brightness; a bulb with on/off actions and mired color temperature.
        _thing(
            "dimmer",
            ["Light"],
            {"level": _prop({"@type": "BrightnessProperty", **_int(0, 100)}, 0)},
        ),
        _thing(
            "bulb",
            ["Light"],
            {
                "ct": _prop(
                    {"@type": "ColorTemperatureProperty", **_int(153, 500, unit="mired")}, 250
                )
            },
            actions={
                "turnOn": SimAction({"title": "Turn on"}, _noop),
                "turnOff": SimAction({"title": "Turn off"}, _noop),
            },
        ),
        # Locks without actions: a writable flag, and a writable enum of the Thing's own words.
        _thing(
            "lockbox",
            ["Lock"],
            {"locked": _prop({"@type": "LockedProperty", "type": "boolean"}, True)},
        ),
        _thing(
            "gate",
            ["Lock"],
            {
                "lockState": _prop(
                    {"@type": "LockedProperty", "type": "string", "enum": ["secured", "unsecured"]},
                    "unsecured",
                )
            },
        ),
        # An air conditioner (on/off, integer setpoint, ECHONET-like modes) and a bare setpoint.
        _thing(
            "aircon",
            ["AirConditioner"],
            {
                "on": _prop(ON, False),
                "targetTemperature": _prop(
                    {"@type": "TargetTemperatureProperty", **_int(16, 30, unit="celsius")}, 24
                ),
                "operationMode": _prop(
                    {"type": "string", "enum": ["cooling", "dehumidification", "ventilation"]},
                    "cooling",
                ),
            },
        ),
        _thing(
            "heater",
            ["Heater"],
            {"setpoint": _prop({"type": "number", "unit": "°C"}, 20.5)},
        ),
        # A shade moved by writing its position (0-255), without actions.
        _thing("shade", ["Blind"], {"position": _prop(_int(0, 255), 0)}),
        # An awning that cannot go all the way out (a rule the device checks, not its TD), and
        # a garage door with actions and no position, whose close action fails.
        # A curtain that takes a position but never tells it.
        _thing("curtain", ["Curtain"], {"position": _prop(_int(0, 100, writeOnly=True), 0)}),
        _thing("awning", ["Awning"], {"position": _prop(_int(0, 100, exclusiveMaximum=100), 0)}),
        _thing(
            "garage",
            ["GarageDoor"],
            {},
            actions={
                "open": SimAction({"title": "Open"}, _noop),
                "close": SimAction({"title": "Close"}, _fail, synchronous=False),
                "stop": SimAction({"title": "Stop"}, _noop),
            },
        ),
        # One of each single-property platform, and actions.
        _thing(
            "gadget",
            ["Gadget"],
            {
                "preset": _prop({"type": "string", "enum": ["eco", "boost"]}, "eco"),
                "label": _prop({"type": "string", "maxLength": 12, "pattern": "^[a-z ]*$"}, "hall"),
                "status": _prop({"type": "string", "enum": ["idle", "busy"], "readOnly": True}, "idle"),
                "firmware": _prop({"type": "string", "readOnly": True}, "1.2.3"),
                "reading": _prop({"type": "number", "unit": "V", "readOnly": True}, 3.3),
                "ready": _prop({"type": "boolean", "readOnly": True}, True),
                "gain": _prop({"type": "number", "minimum": 0, "maximum": 10, "multipleOf": 0.5}, 1.5),
                "channel": _prop({"type": "integer", "enum": [1, 2, 4]}, 1),
                "offset": _prop({"type": "number", "unit": "volt"}, 0.0),
                "config": _prop({"type": "object", "readOnly": True}, {"a": 1}),
                "history": _prop({"type": "array", "readOnly": True}, [1, 2]),
            },
            actions={
                "reboot": SimAction({"title": "Reboot"}, _noop),
                "calibrate": SimAction({"title": "Calibrate"}, _fail, synchronous=False),
            },
        ),
        # A Thing that only takes commands: actions with one input each, and one with two.
        _thing(
            "speaker",
            ["Speaker"],
            {},
            actions={
                "say": SimAction(
                    {
                        "title": "Say",
                        "input": {
                            "type": "object",
                            "properties": {"text": {"type": "string", "maxLength": 40}},
                            "required": ["text"],
                        },
                    },
                    _record_input,
                ),
                "volume": SimAction({"title": "Volume", "input": _int(0, 10)}, _record_input),
                "voice": SimAction(
                    {"title": "Voice", "input": {"type": "string", "enum": ["alto", "bass"]}},
                    _record_input,
                ),
                "mute": SimAction(
                    {
                        "title": "Mute",
                        "input": {
                            "type": "object",
                            "properties": {"muted": {"type": "boolean"}},
                            "required": ["muted"],
                        },
                    },
                    _record_input,
                ),
                "beep": SimAction(
                    {
                        "title": "Beep",
                        "input": {
                            "type": "object",
                            "properties": {"hz": _int(100, 5000), "ms": _int(1, 1000)},
                            "required": ["hz", "ms"],
                        },
                    },
                    _record_input,
                ),
            },
        ),
    ]  # fmt: skip


SENT: list[tuple[str, Any]] = []


async def _record_input(_thing: SimThing, value: Any, record: ActionRecord) -> None:
    SENT.append((record.name, value))


@pytest.fixture
async def sim(hass: HomeAssistant, socket_enabled: None) -> AsyncGenerator[WotSimulator]:
    """The Things above on a free loopback port."""
    simulator = WotSimulator(make_things(), tick_interval=3600)
    await simulator.start("127.0.0.1", 0)
    yield simulator
    await unload_all(hass)
    await simulator.stop()


def placeholders(err: HomeAssistantError) -> dict[str, str]:
    """The placeholders of a translated error (there must be some)."""
    assert err.translation_placeholders is not None
    return err.translation_placeholders


async def _add(hass: HomeAssistant, sim: WotSimulator, slug: str) -> str:
    """Add Thing ``slug``; return its ``id``."""
    await add_thing(hass, sim, slug)
    await wait_for_push(hass, sim, slug)
    return thing_id(slug)


# --------------------------------------------------------------------------------------------
# fans


async def test_fan_with_on_off_and_speed(hass: HomeAssistant, sim: WotSimulator) -> None:
    fan = entity_id(hass, Platform.FAN, await _add(hass, sim, "fan"), "fan")
    state = state_of(hass, fan)
    assert state.state == STATE_OFF
    assert state.attributes["percentage"] == 0
    assert state.attributes["percentage_step"] == 1

    await call(hass, "fan", "turn_on", fan, percentage=40)
    assert (sim.get_property("fan", "on"), sim.get_property("fan", "speed")) == (True, 40)
    assert state_of(hass, fan).attributes["percentage"] == 40
    await call(hass, "fan", "set_percentage", fan, percentage=0)
    assert sim.get_property("fan", "on") is False
    assert state_of(hass, fan).state == STATE_OFF
    # On again at the speed it had.
    await call(hass, "fan", "turn_on", fan)
    assert (sim.get_property("fan", "on"), sim.get_property("fan", "speed")) == (True, 40)
    await call(hass, "fan", "turn_off", fan)
    await call(hass, "fan", "set_percentage", fan, percentage=1)
    assert (sim.get_property("fan", "on"), sim.get_property("fan", "speed")) == (True, 1)

    sim.set_property("fan", "speed", 70)
    await wait_for(hass, lambda: state_of(hass, fan).attributes["percentage"] == 70, "pushed speed")


async def test_fan_with_three_speeds(hass: HomeAssistant, sim: WotSimulator) -> None:
    fan = entity_id(hass, Platform.FAN, await _add(hass, sim, "fan3"), "fan")
    state = state_of(hass, fan)
    assert state.state == STATE_ON
    # Speeds 1-3 are a third each, as Home Assistant counts them.
    assert state.attributes["percentage"] == 66
    assert state.attributes["percentage_step"] == pytest.approx(100 / 3)

    await call(hass, "fan", "set_percentage", fan, percentage=100)
    assert sim.get_property("fan3", "fanSpeed") == 3
    await call(hass, "fan", "set_percentage", fan, percentage=33)
    assert sim.get_property("fan3", "fanSpeed") == 1
    assert state_of(hass, fan).attributes["percentage"] == 33
    await call(hass, "fan", "turn_off", fan)
    assert sim.get_property("fan3", "on") is False
    await call(hass, "fan", "set_percentage", fan, percentage=50)
    assert (sim.get_property("fan3", "on"), sim.get_property("fan3", "fanSpeed")) == (True, 2)


async def test_fan_switched_by_speed_alone(hass: HomeAssistant, sim: WotSimulator) -> None:
    fan = entity_id(hass, Platform.FAN, await _add(hass, sim, "vent"), "fan")
    assert state_of(hass, fan).state == STATE_OFF
    assert state_of(hass, fan).attributes["percentage_step"] == pytest.approx(100 / 3)

    # Never on before: full speed.
    await call(hass, "fan", "turn_on", fan)
    assert sim.get_property("vent", "speed") == 3
    await call(hass, "fan", "set_percentage", fan, percentage=33)
    assert sim.get_property("vent", "speed") == 1
    assert state_of(hass, fan).attributes["percentage"] == 33
    # A low percentage is the slowest speed, not off.
    await call(hass, "fan", "set_percentage", fan, percentage=10)
    assert sim.get_property("vent", "speed") == 1
    await call(hass, "fan", "turn_off", fan)
    assert sim.get_property("vent", "speed") == 0
    assert state_of(hass, fan).state == STATE_OFF
    # On again: the last speed.
    await call(hass, "fan", "turn_on", fan)
    assert sim.get_property("vent", "speed") == 1

    sim.set_property("vent", "speed", 2)
    await wait_for(hass, lambda: state_of(hass, fan).attributes["percentage"] == 67, "pushed speed")
    assert state_of(hass, fan).state == STATE_ON


async def test_fan_without_speed(hass: HomeAssistant, sim: WotSimulator) -> None:
    fan = entity_id(hass, Platform.FAN, await _add(hass, sim, "blower"), "fan")
    assert state_of(hass, fan).state == STATE_OFF
    assert state_of(hass, fan).attributes.get("percentage") is None
    await call(hass, "fan", "turn_on", fan)
    assert sim.get_property("blower", "on") is True
    await call(hass, "fan", "turn_off", fan)
    assert sim.get_property("blower", "on") is False


# --------------------------------------------------------------------------------------------
# lights


async def test_light_that_is_only_a_brightness(hass: HomeAssistant, sim: WotSimulator) -> None:
    light = entity_id(hass, Platform.LIGHT, await _add(hass, sim, "dimmer"), "light")
    state = state_of(hass, light)
    assert state.state == STATE_OFF
    assert state.attributes["supported_color_modes"] == [ColorMode.BRIGHTNESS]

    await call(hass, "light", "turn_on", light)
    assert sim.get_property("dimmer", "level") == 100
    await call(hass, "light", "turn_on", light, brightness=128)
    assert sim.get_property("dimmer", "level") == 50
    await call(hass, "light", "turn_off", light)
    assert sim.get_property("dimmer", "level") == 0
    assert state_of(hass, light).state == STATE_OFF
    # On again: the last level, not full.
    await call(hass, "light", "turn_on", light)
    assert sim.get_property("dimmer", "level") == 50
    assert state_of(hass, light).attributes["brightness"] == 128


async def test_light_with_actions_and_mired(hass: HomeAssistant, sim: WotSimulator) -> None:
    light = entity_id(hass, Platform.LIGHT, await _add(hass, sim, "bulb"), "light")
    state = state_of(hass, light)
    # No on/off property: the state is assumed, unknown until switched here.
    assert state.state == STATE_UNKNOWN
    assert state.attributes["assumed_state"] is True
    assert state.attributes["supported_color_modes"] == [ColorMode.COLOR_TEMP]
    # 153-500 mired is 2000-6536 K.
    assert state.attributes["min_color_temp_kelvin"] == 2000
    assert state.attributes["max_color_temp_kelvin"] == 6536

    await call(hass, "light", "turn_on", light, color_temp_kelvin=5000)
    assert sim.get_property("bulb", "ct") == 200
    state = state_of(hass, light)
    assert state.state == STATE_ON
    assert state.attributes["color_temp_kelvin"] == 5000
    await call(hass, "light", "turn_off", light)
    assert state_of(hass, light).state == STATE_OFF
    sim.set_property("bulb", "ct", 400)
    await call(hass, "light", "turn_on", light)
    await wait_for(
        hass, lambda: state_of(hass, light).attributes["color_temp_kelvin"] == 2500, "2500 K"
    )


# --------------------------------------------------------------------------------------------
# locks


async def test_lock_by_writing_a_flag(hass: HomeAssistant, sim: WotSimulator) -> None:
    lock = entity_id(hass, Platform.LOCK, await _add(hass, sim, "lockbox"), "lock")
    assert state_of(hass, lock).state == LockState.LOCKED
    await call(hass, "lock", "unlock", lock)
    assert sim.get_property("lockbox", "locked") is False
    assert state_of(hass, lock).state == LockState.UNLOCKED
    await call(hass, "lock", "lock", lock)
    assert sim.get_property("lockbox", "locked") is True
    assert state_of(hass, lock).state == LockState.LOCKED


async def test_lock_by_writing_the_things_own_words(hass: HomeAssistant, sim: WotSimulator) -> None:
    lock = entity_id(hass, Platform.LOCK, await _add(hass, sim, "gate"), "lock")
    assert state_of(hass, lock).state == LockState.UNLOCKED
    await call(hass, "lock", "lock", lock)
    assert sim.get_property("gate", "lockState") == "secured"
    assert state_of(hass, lock).state == LockState.LOCKED
    await call(hass, "lock", "unlock", lock)
    assert sim.get_property("gate", "lockState") == "unsecured"


# --------------------------------------------------------------------------------------------
# climate


async def test_air_conditioner(hass: HomeAssistant, sim: WotSimulator) -> None:
    climate = entity_id(hass, Platform.CLIMATE, await _add(hass, sim, "aircon"), "climate")
    state = state_of(hass, climate)
    assert state.state == HVACMode.OFF
    assert state.attributes["hvac_modes"] == [
        HVACMode.OFF,
        HVACMode.COOL,
        HVACMode.DRY,
        HVACMode.FAN_ONLY,
    ]
    assert (state.attributes["min_temp"], state.attributes["max_temp"]) == (16, 30)
    assert state.attributes["target_temp_step"] == 1
    assert "hvac_action" not in state.attributes

    await call(hass, "climate", "set_hvac_mode", climate, hvac_mode=HVACMode.DRY)
    assert sim.get_property("aircon", "on") is True
    assert sim.get_property("aircon", "operationMode") == "dehumidification"
    assert state_of(hass, climate).state == HVACMode.DRY
    # An integer setpoint gets an integer.
    await call(hass, "climate", "set_temperature", climate, temperature=22.6)
    assert sim.get_property("aircon", "targetTemperature") == 23
    await call(hass, "climate", "turn_off", climate)
    assert sim.get_property("aircon", "on") is False
    assert sim.get_property("aircon", "operationMode") == "dehumidification"
    await call(hass, "climate", "turn_on", climate)
    assert sim.get_property("aircon", "on") is True
    assert state_of(hass, climate).state == HVACMode.DRY
    sim.set_property("aircon", "operationMode", "ventilation")
    await wait_for(hass, lambda: state_of(hass, climate).state == HVACMode.FAN_ONLY, "fan only")


async def test_bare_setpoint(hass: HomeAssistant, sim: WotSimulator) -> None:
    climate = entity_id(hass, Platform.CLIMATE, await _add(hass, sim, "heater"), "climate")
    state = state_of(hass, climate)
    assert state.state == HVACMode.AUTO
    assert state.attributes["hvac_modes"] == [HVACMode.AUTO]
    assert state.attributes["temperature"] == 20.5
    assert state.attributes["target_temp_step"] == 0.5
    await call(hass, "climate", "set_temperature", climate, temperature=21.5)
    assert sim.get_property("heater", "setpoint") == 21.5
    await call(hass, "climate", "set_hvac_mode", climate, hvac_mode=HVACMode.AUTO)
    assert sim.get_property("heater", "setpoint") == 21.5


# --------------------------------------------------------------------------------------------
# cover


async def test_shade_moved_by_position(hass: HomeAssistant, sim: WotSimulator) -> None:
    cover = entity_id(hass, Platform.COVER, await _add(hass, sim, "shade"), "cover")
    state = state_of(hass, cover)
    assert state.state == CoverState.CLOSED
    # Open/close by position; no stop without a stop action.
    assert state.attributes["supported_features"] == (
        CoverEntityFeature.OPEN | CoverEntityFeature.CLOSE | CoverEntityFeature.SET_POSITION
    )
    await call(hass, "cover", "open_cover", cover)
    assert sim.get_property("shade", "position") == 255
    assert state_of(hass, cover).attributes["current_position"] == 100
    assert state_of(hass, cover).state == CoverState.OPEN
    await call(hass, "cover", "set_cover_position", cover, position=50)
    assert sim.get_property("shade", "position") == 128
    assert state_of(hass, cover).attributes["current_position"] == 50
    # It got there at once: not left "opening".
    assert state_of(hass, cover).state == CoverState.OPEN
    await call(hass, "cover", "close_cover", cover)
    assert sim.get_property("shade", "position") == 0
    assert state_of(hass, cover).state == CoverState.CLOSED
    # Moved by hand: the new position, and no movement this entity would have started.
    sim.set_property("shade", "position", 51)
    await wait_for(
        hass, lambda: state_of(hass, cover).attributes["current_position"] == 20, "pushed 20 %"
    )
    assert state_of(hass, cover).state == CoverState.OPEN


async def test_cover_write_refused_by_the_device(hass: HomeAssistant, sim: WotSimulator) -> None:
    cover = entity_id(hass, Platform.COVER, await _add(hass, sim, "awning"), "cover")
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "cover", "open_cover", cover)
    assert err.value.translation_key == "operation_failed"
    assert sim.get_property("awning", "position") == 0
    # Not left "opening" after the refusal.
    assert state_of(hass, cover).state == CoverState.CLOSED
    await call(hass, "cover", "set_cover_position", cover, position=99)
    assert sim.get_property("awning", "position") == 99


async def test_cover_that_does_not_report(hass: HomeAssistant, sim: WotSimulator) -> None:
    await add_thing(hass, sim, "curtain")
    cover = entity_id(hass, Platform.COVER, thing_id("curtain"), "cover")
    assert state_of(hass, cover).state == STATE_UNKNOWN
    await call(hass, "cover", "set_cover_position", cover, position=40)
    assert sim.get_property("curtain", "position") == 40
    await call(hass, "cover", "close_cover", cover)
    assert sim.get_property("curtain", "position") == 0
    # Nothing to show, and no movement it could follow.
    assert state_of(hass, cover).state == STATE_UNKNOWN


async def test_cover_with_actions_only(hass: HomeAssistant, sim: WotSimulator) -> None:
    # Nothing to push (no properties, no events): no push channel to wait for.
    await add_thing(hass, sim, "garage")
    cover = entity_id(hass, Platform.COVER, thing_id("garage"), "cover")
    state = state_of(hass, cover)
    # Without a position nothing says whether it is open.
    assert state.state == STATE_UNKNOWN
    assert state.attributes["supported_features"] == (
        CoverEntityFeature.OPEN | CoverEntityFeature.CLOSE | CoverEntityFeature.STOP
    )
    log = StateLog(hass, cover)
    await call(hass, "cover", "open_cover", cover)
    assert CoverState.OPENING in log.values
    await call(hass, "cover", "stop_cover", cover)
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "cover", "close_cover", cover)
    assert "the sensor is covered" in placeholders(err.value)["error"]
    assert state_of(hass, cover).state == STATE_UNKNOWN
    log.stop()


# --------------------------------------------------------------------------------------------
# single properties and actions


async def test_select_text_and_numbers(hass: HomeAssistant, sim: WotSimulator) -> None:
    gadget = await _add(hass, sim, "gadget")
    select = entity_id(hass, Platform.SELECT, gadget, "property:preset")
    text = entity_id(hass, Platform.TEXT, gadget, "property:label")
    gain = entity_id(hass, Platform.NUMBER, gadget, "property:gain")
    channel = entity_id(hass, Platform.NUMBER, gadget, "property:channel")
    offset = entity_id(hass, Platform.NUMBER, gadget, "property:offset")

    assert state_of(hass, select).state == "eco"
    assert state_of(hass, select).attributes["options"] == ["eco", "boost"]
    await call(hass, "select", "select_option", select, option="boost")
    assert sim.get_property("gadget", "preset") == "boost"
    assert state_of(hass, select).state == "boost"

    assert state_of(hass, text).state == "hall"
    assert state_of(hass, text).attributes["max"] == 12
    await call(hass, "text", "set_value", text, value="kitchen")
    assert sim.get_property("gadget", "label") == "kitchen"
    assert state_of(hass, text).state == "kitchen"
    # Home Assistant's text platform checks the length itself.
    with pytest.raises(ValueError, match="too long"):
        await call(hass, "text", "set_value", text, value="much too long a label")
    # The device's own rule (a pattern): it refuses, and the error says so.
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "text", "set_value", text, value="UPPER")
    assert err.value.translation_key == "operation_failed"
    assert "400" in placeholders(err.value)["error"]
    assert sim.get_property("gadget", "label") == "kitchen"

    state = state_of(hass, gain)
    assert (state.attributes["min"], state.attributes["max"], state.attributes["step"]) == (
        0,
        10,
        0.5,
    )
    assert state.attributes["mode"] == NumberMode.SLIDER
    # Rounded to the schema's multipleOf.
    await call(hass, "number", "set_value", gain, value=2.3)
    assert sim.get_property("gadget", "gain") == 2.5

    assert state_of(hass, channel).attributes["mode"] == NumberMode.BOX
    with pytest.raises(ServiceValidationError) as verr:
        await call(hass, "number", "set_value", channel, value=3)
    assert verr.value.translation_key == "invalid_value"
    assert verr.value.translation_placeholders == {"error": "channel must be one of 1, 2, 4"}
    assert sim.get_property("gadget", "channel") == 1
    await call(hass, "number", "set_value", channel, value=4)
    assert sim.get_property("gadget", "channel") == 4

    assert state_of(hass, offset).attributes["device_class"] == "voltage"
    await call(hass, "number", "set_value", offset, value=-12.25)
    assert sim.get_property("gadget", "offset") == -12.25

    sim.set_property("gadget", "preset", "nonsense", validate=False)
    await wait_for(hass, lambda: state_of(hass, select).state == STATE_UNKNOWN, "no option")
    sim.set_property("gadget", "label", 42, validate=False)
    await wait_for(hass, lambda: state_of(hass, text).state == STATE_UNKNOWN, "not a text")
    sim.set_property("gadget", "offset", "n/a", validate=False)
    await wait_for(hass, lambda: state_of(hass, offset).state == STATE_UNKNOWN, "not a number")


async def test_actions_with_one_input(hass: HomeAssistant, sim: WotSimulator) -> None:
    """An action taking one string, number, boolean or choice is a text, number, switch or select.

    Issue 10: one boolean input made no entity and was listed nowhere; now it is a switch
    whose turning on sends ``true`` and off ``false``. The two-input action is listed as a
    service, with why.
    """
    SENT.clear()
    await add_thing(hass, sim, "speaker")  # nothing to observe: no push channel to wait for
    speaker = thing_id("speaker")
    say = entity_id(hass, Platform.TEXT, speaker, "action:say")
    volume = entity_id(hass, Platform.NUMBER, speaker, "action:volume")
    voice = entity_id(hass, Platform.SELECT, speaker, "action:voice")
    mute = entity_id(hass, Platform.SWITCH, speaker, "action:mute")
    # The two-input action has no entity (thingbridge.invoke_action takes it).
    registry = er.async_get(hass)
    entry = hass.config_entries.async_entries("thingbridge")[-1]
    unique_ids = {e.unique_id for e in er.async_entries_for_config_entry(registry, entry.entry_id)}
    assert {u.rsplit("_", 1)[-1] for u in unique_ids} == {
        "action:say", "action:volume", "action:voice", "action:mute"
    }  # fmt: skip
    assert [s.as_dict() for s in entry.runtime_data.things[speaker].services] == [
        {"affordance": "beep", "kind": "action", "reason": "several inputs"}
    ]

    # Nothing was sent yet: the state is unknown, and assumed (the Thing cannot be read).
    assert state_of(hass, say).state == STATE_UNKNOWN
    assert state_of(hass, say).attributes["max"] == 40
    assert state_of(hass, say).attributes["assumed_state"] is True
    await call(hass, "text", "set_value", say, value="hello")
    assert state_of(hass, say).state == "hello"

    state = state_of(hass, volume)
    assert (state.attributes["min"], state.attributes["max"], state.attributes["step"]) == (
        0,
        10,
        1,
    )
    await call(hass, "number", "set_value", volume, value=7)
    assert state_of(hass, volume).state == "7"

    assert state_of(hass, voice).attributes["options"] == ["alto", "bass"]
    await call(hass, "select", "select_option", voice, option="bass")
    assert state_of(hass, voice).state == "bass"

    assert state_of(hass, mute).state == STATE_UNKNOWN
    assert state_of(hass, mute).attributes["assumed_state"] is True
    await call(hass, "switch", "turn_on", mute)
    assert state_of(hass, mute).state == STATE_ON
    await call(hass, "switch", "turn_off", mute)
    assert state_of(hass, mute).state == STATE_OFF

    # The object input carries the value under its one member; the others go as they are.
    assert SENT == [
        ("say", {"text": "hello"}),
        ("volume", 7),
        ("voice", "bass"),
        ("mute", {"muted": True}),
        ("mute", {"muted": False}),
    ]


async def test_read_only_sensors(hass: HomeAssistant, sim: WotSimulator) -> None:
    gadget = await _add(hass, sim, "gadget")
    status = entity_id(hass, Platform.SENSOR, gadget, "property:status")
    firmware = entity_id(hass, Platform.SENSOR, gadget, "property:firmware")
    reading = entity_id(hass, Platform.SENSOR, gadget, "property:reading")
    ready = entity_id(hass, Platform.BINARY_SENSOR, gadget, "property:ready")

    assert state_of(hass, status).state == "idle"
    assert state_of(hass, status).attributes["device_class"] == "enum"
    assert state_of(hass, status).attributes["options"] == ["idle", "busy"]
    assert state_of(hass, firmware).state == "1.2.3"
    assert state_of(hass, reading).state == "3.3"
    assert state_of(hass, ready).state == STATE_ON
    assert "device_class" not in state_of(hass, ready).attributes

    # Values the schema does not promise become unknown (or text), never an error.
    pushes: list[tuple[str, str, Any, str]] = [
        ("status", status, "busy", "busy"),
        ("status", status, "exploded", STATE_UNKNOWN),
        ("firmware", firmware, True, "true"),
        ("firmware", firmware, {"v": 2}, '{"v":2}'),
        ("firmware", firmware, "x" * 300, "x" * 255),
        ("firmware", firmware, None, STATE_UNKNOWN),
        ("reading", reading, "n/a", STATE_UNKNOWN),
        ("reading", reading, 3.25, "3.25"),
        ("ready", ready, "yes", STATE_UNKNOWN),
        ("ready", ready, False, STATE_OFF),
    ]
    for name, entity, value, expected in pushes:
        sim.set_property("gadget", name, value, validate=False)

        def shown(entity: str = entity, expected: str = expected) -> bool:
            return state_of(hass, entity).state == expected

        await wait_for(hass, shown, f"{name}={value!r}")


async def test_unrecognised_properties_are_disabled_diagnostics(
    hass: HomeAssistant, sim: WotSimulator, entity_registry: er.EntityRegistry
) -> None:
    entry = await add_thing(hass, sim, "gadget")
    ids = {
        name: entity_id(hass, Platform.SENSOR, thing_id("gadget"), f"property:{name}")
        for name in ("config", "history")
    }
    for entity in ids.values():
        registered = entity_registry.async_get(entity)
        assert registered is not None
        assert registered.disabled_by is er.RegistryEntryDisabler.INTEGRATION
        assert registered.entity_category is EntityCategory.DIAGNOSTIC
        assert hass.states.get(entity) is None
    # A user who enables them sees the value as JSON.
    for entity in ids.values():
        entity_registry.async_update_entity(entity, disabled_by=None)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert state_of(hass, ids["config"]).state == '{"a":1}'
    assert state_of(hass, ids["history"]).state == "[1,2]"


async def test_buttons_report_failed_actions(hass: HomeAssistant, sim: WotSimulator) -> None:
    gadget = await _add(hass, sim, "gadget")
    reboot = entity_id(hass, Platform.BUTTON, gadget, "action:reboot")
    calibrate = entity_id(hass, Platform.BUTTON, gadget, "action:calibrate")
    await call(hass, "button", "press", reboot)
    assert state_of(hass, reboot).state != STATE_UNKNOWN
    # The asynchronous action is followed to its end; the Thing says it failed, and why.
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "button", "press", calibrate)
    assert err.value.translation_key == "operation_failed"
    assert placeholders(err.value)["title"] == "Test gadget"
    assert "calibrate" in placeholders(err.value)["error"]
    assert "the sensor is covered" in placeholders(err.value)["error"]


# --------------------------------------------------------------------------------------------
# helpers of the platforms, for shapes no simulated Thing produces


def test_action_errors_are_described_briefly() -> None:
    problem = {"type": "about:blank", "title": "Action failed", "detail": "jammed"}
    assert describe_error(problem) == "Action failed: jammed"
    assert describe_error({"code": 7}) == '{"code": 7}'
    assert describe_error("overheated") == "overheated"
    assert describe_error(None) == "the Thing reported a failure without details"
    assert len(describe_error("x" * 1000)) == 200


def test_value_range_scaling() -> None:
    percent = ValueRange(DataSchema(type="integer", minimum=0, maximum=100))
    assert percent.to_ha(50, 255) == 128
    assert percent.to_ha(150, 255) == 255  # clamped
    assert percent.to_ha(True, 255) is None
    assert percent.from_ha(128, 255) == 50
    unit = ValueRange(DataSchema(type="number", minimum=0, maximum=1))
    assert unit.from_ha(51, 255) == 0.2
    assert unit.native(0.5) == 0.5
    # No range to scale in: nothing to show.
    empty = ValueRange(DataSchema(type="number", minimum=5, maximum=5))
    assert not empty.usable
    assert empty.to_ha(5, 100) is None


def test_unknown_device_classes_are_dropped() -> None:
    assert number_device_class("voltage") is NumberDeviceClass.VOLTAGE
    assert number_device_class("no such class") is None
    assert number_device_class(None) is None
    assert sensor_device_class("energy") is SensorDeviceClass.ENERGY
    assert sensor_device_class("no such class") is None
