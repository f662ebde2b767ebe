"""The reference Things: what each one offers and how its state moves.

Semantic annotations come from the WebThings capability schemas (``https://webthings.io/schemas``:
``Light``, ``OnOffProperty``, ``LockedProperty``, ...). The blinds use SAREF4BLDG's
``ShadingDevice`` because the WebThings schemas have no window-covering capability.

Default credentials (change them with the factory arguments or ``python -m simulator --token``,
``--user`` and ``--password``): the plug takes the bearer token :data:`DEFAULT_TOKEN`, the lock
the Basic user :data:`DEFAULT_USERNAME` with password :data:`DEFAULT_PASSWORD`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import json
import logging
import math
from pathlib import Path
from typing import Any

from .model import (
    WEBTHINGS_CONTEXT,
    ActionRecord,
    BasicAuth,
    BearerAuth,
    SimAction,
    SimEvent,
    SimProperty,
    SimThing,
    now_iso,
)

DEFAULT_TOKEN = "simulator-token"  # noqa: S105 - a documented default, not a secret
DEFAULT_USERNAME = "admin"
DEFAULT_PASSWORD = "simulator"  # noqa: S105 - a documented default, not a secret
DEFAULT_TRAVEL_TIME = 10.0
PLUG_LOAD_WATTS = 100.0
PLUG_INITIAL_KWH = 12.5
"""The plug's meter reading when it has no saved state."""
PLUG_STATE_FILE = "plug.json"
"""The file in the state directory that keeps the plug's meter reading across restarts."""

_LOGGER = logging.getLogger(__name__)

CELSIUS = "degree celsius"


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


# --------------------------------------------------------------------------------------------
# lamp


def _fader(prop_name: str, input_key: str) -> Callable[[SimThing, Any, ActionRecord], Any]:
    """An action handler that ramps ``prop_name`` to ``input[input_key]`` over ``duration`` ms."""

    async def fade(thing: SimThing, value: Any, record: ActionRecord) -> None:
        prop = thing.properties[prop_name]
        start, target = int(prop.value), int(value[input_key])
        seconds = value["duration"] / 1000
        steps = min(abs(target - start), max(1, int(seconds / 0.02)))
        for index in range(1, steps + 1):
            await asyncio.sleep(seconds / steps)
            prop.value = round(start + (target - start) * index / steps)
        prop.value = target

    return fade


def _toggler(prop_name: str) -> Callable[[SimThing, Any, ActionRecord], Any]:
    async def toggle(thing: SimThing, _value: Any, _record: ActionRecord) -> bool:
        prop = thing.properties[prop_name]
        prop.value = not prop.value
        return bool(prop.value)

    return toggle


def _fade_input(key: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            key: {"type": "integer", "minimum": 0, "maximum": 100, "unit": "percent"},
            "duration": {
                "type": "integer",
                "minimum": 0,
                "maximum": 3_600_000,
                "unit": "millisecond",
            },
        },
        "required": [key, "duration"],
    }


def make_lamp() -> SimThing:
    """A dimmable colour lamp: on, brightness, color, colorTemperature; fade and toggle; SSE."""
    return SimThing(
        slug="lamp",
        title="Simulated Lamp",
        semantic_types=["Light", "OnOffSwitch", "ColorControl"],
        description="A dimmable colour lamp",
        properties={
            "on": SimProperty(
                {"@type": "OnOffProperty", "title": "On/Off", "type": "boolean"}, False
            ),
            "brightness": SimProperty(
                {
                    "@type": "BrightnessProperty",
                    "title": "Brightness",
                    "type": "integer",
                    "unit": "percent",
                    "minimum": 0,
                    "maximum": 100,
                },
                80,
            ),
            "color": SimProperty(
                {
                    "@type": "ColorProperty",
                    "title": "Color",
                    "type": "string",
                    "pattern": "^#[0-9a-fA-F]{6}$",
                },
                "#ffd8a8",
            ),
            "colorTemperature": SimProperty(
                {
                    "@type": "ColorTemperatureProperty",
                    "title": "Color temperature",
                    "type": "integer",
                    "unit": "kelvin",
                    "minimum": 2200,
                    "maximum": 6500,
                },
                2700,
            ),
        },
        actions={
            "fade": SimAction(
                {
                    "@type": "FadeAction",
                    "title": "Fade",
                    "description": "Fade to a brightness over a duration",
                    "input": _fade_input("brightness"),
                },
                _fader("brightness", "brightness"),
                synchronous=False,
            ),
            "toggle": SimAction(
                {
                    "@type": "ToggleAction",
                    "title": "Toggle",
                    "description": "Switch on when off, off when on; returns the new state",
                    "output": {"type": "boolean"},
                },
                _toggler("on"),
            ),
        },
        events={
            "overheated": SimEvent(
                {
                    "@type": "OverheatedEvent",
                    "title": "Overheated",
                    "description": "The lamp exceeded its safe operating temperature",
                    "data": {"type": "number", "unit": CELSIUS},
                }
            )
        },
    )


# --------------------------------------------------------------------------------------------
# motion and temperature sensor


def _sensor_tick(thing: SimThing, _seconds: float) -> None:
    rng = thing.rng
    temp = thing.properties["temperature"]
    temp.value = round(_clamp(temp.value + rng.uniform(-0.2, 0.2), 15.0, 30.0), 2)
    humidity = thing.properties["humidity"]
    humidity.value = round(_clamp(humidity.value + rng.uniform(-0.5, 0.5), 30.0, 70.0), 1)
    motion = thing.properties["motion"]
    if motion.value:
        if rng.random() < 0.3:
            motion.value = False
    elif rng.random() < 0.05:
        motion.value = True


def _sensor_changed(thing: SimThing, name: str, value: Any) -> None:
    if name == "motion" and value is True:
        thing.emit("motionDetected", now_iso())


def make_sensor() -> SimThing:
    """A motion, temperature and humidity sensor; observation by long-poll.

    The Thing-level ``@type`` stays ``TemperatureSensor`` (motion and humidity are marked per
    property) so the device model Home Assistant shows is unchanged from earlier versions.
    """
    return SimThing(
        slug="sensor",
        title="Simulated Temperature Sensor",
        semantic_types=["TemperatureSensor"],
        description="Temperature drifts by up to 0.2 °C per tick; motion comes and goes",
        properties={
            "temperature": SimProperty(
                {
                    "@type": "TemperatureProperty",
                    "title": "Temperature",
                    "type": "number",
                    "unit": CELSIUS,
                    "readOnly": True,
                },
                21.5,
            ),
            "humidity": SimProperty(
                {
                    "@type": "HumidityProperty",
                    "title": "Humidity",
                    "type": "number",
                    "unit": "percent",
                    "minimum": 0,
                    "maximum": 100,
                    "readOnly": True,
                },
                45.0,
            ),
            "motion": SimProperty(
                {"@type": "MotionProperty", "title": "Motion", "type": "boolean", "readOnly": True},
                False,
            ),
        },
        events={
            "motionDetected": SimEvent(
                {
                    "title": "Motion detected",
                    "description": "Motion started; the data is when",
                    "data": {"type": "string", "format": "date-time"},
                }
            )
        },
        tick=_sensor_tick,
        on_change=_sensor_changed,
        observe="longpoll",
    )


# --------------------------------------------------------------------------------------------
# thermostat


AMBIENT = 18.0
HEAT_RATE = 0.05  # °C per second while heating or cooling
LEAK_RATE = 0.01  # °C per second towards ambient while idle


def _thermostat_tick(thing: SimThing, seconds: float) -> None:
    temp = thing.properties["temperature"]
    target = float(thing.properties["targetTemperature"].value)
    mode = thing.properties["mode"].value
    current = float(temp.value)
    action = "off"
    if mode in ("heat", "auto") and current < target - 0.2:
        action = "heating"
    elif mode in ("cool", "auto") and current > target + 0.2:
        action = "cooling"
    if action == "heating":
        current = min(target, current + HEAT_RATE * seconds)
    elif action == "cooling":
        current = max(target, current - HEAT_RATE * seconds)
    elif current > AMBIENT:
        current = max(AMBIENT, current - LEAK_RATE * seconds)
    else:
        current = min(AMBIENT, current + LEAK_RATE * seconds)
    temp.value = round(current, 2)
    thing.properties["heatingCooling"].value = action


def make_thermostat() -> SimThing:
    """A thermostat: the temperature approaches the target while heating or cooling; SSE."""
    return SimThing(
        slug="thermostat",
        title="Simulated Thermostat",
        semantic_types=["Thermostat", "TemperatureSensor"],
        description="The room warms or cools towards the target at 3 °C per minute",
        properties={
            "temperature": SimProperty(
                {
                    "@type": "TemperatureProperty",
                    "title": "Temperature",
                    "type": "number",
                    "unit": CELSIUS,
                    "readOnly": True,
                },
                19.0,
            ),
            "targetTemperature": SimProperty(
                {
                    "@type": "TargetTemperatureProperty",
                    "title": "Target temperature",
                    "type": "number",
                    "unit": CELSIUS,
                    "minimum": 5,
                    "maximum": 30,
                    "multipleOf": 0.5,
                },
                21.0,
            ),
            "mode": SimProperty(
                {
                    "@type": "ThermostatModeProperty",
                    "title": "Mode",
                    "type": "string",
                    "enum": ["off", "heat", "cool", "auto"],
                },
                "heat",
            ),
            "heatingCooling": SimProperty(
                {
                    "@type": "HeatingCoolingProperty",
                    "title": "Heating/cooling",
                    "type": "string",
                    "enum": ["off", "heating", "cooling"],
                    "readOnly": True,
                },
                "heating",
            ),
        },
        tick=_thermostat_tick,
    )


# --------------------------------------------------------------------------------------------
# smart plug


def _plug_tick(thing: SimThing, seconds: float) -> None:
    rng = thing.rng
    voltage = thing.properties["voltage"]
    voltage.value = round(_clamp(voltage.value + rng.uniform(-0.5, 0.5), 225.0, 235.0), 1)
    power = thing.properties["power"]
    if thing.properties["on"].value:
        power.value = round(PLUG_LOAD_WATTS * rng.uniform(0.97, 1.03), 1)
        energy = thing.properties["energy"]
        total = thing.state.get("energy_kwh")
        if total is None or round(total, 4) != energy.value:
            total = float(energy.value)  # set from outside (set_property): continue from there
        total += power.value * seconds / 3_600_000
        thing.state["energy_kwh"] = total
        # The meter reports 0.1 Wh steps, like a real one.
        energy.value = round(total, 4)


def _plug_changed(thing: SimThing, name: str, value: Any) -> None:
    if name == "on":
        thing.properties["power"].value = PLUG_LOAD_WATTS if value else 0.0
    elif name == "energy":
        _save_energy(thing, value)


def load_energy(path: Path) -> float:
    """The meter reading saved in ``path``; :data:`PLUG_INITIAL_KWH` when there is none.

    A file that cannot be read or holds no non-negative number is reported and ignored.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        value = float(data["energy_kwh"])
    except FileNotFoundError:
        return PLUG_INITIAL_KWH
    except (OSError, ValueError, KeyError, TypeError) as err:  # fmt: skip
        _LOGGER.warning("ignoring the plug's saved state %s: %s", path, err)
        return PLUG_INITIAL_KWH
    if not math.isfinite(value) or value < 0:
        _LOGGER.warning("ignoring the plug's saved state %s: energy_kwh %r", path, value)
        return PLUG_INITIAL_KWH
    return value


def _save_energy(thing: SimThing, reading: Any) -> None:
    """Write the meter reading to the plug's state file (atomically), if it has one."""
    path: Path | None = thing.state.get("state_file")
    if path is None:
        return
    total = thing.state.get("energy_kwh")
    if total is None or round(total, 4) != reading:
        total = float(reading)
    temporary = path.with_name(f"{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps({"energy_kwh": total}), encoding="utf-8")
        temporary.replace(path)
    except OSError as err:
        if not thing.state.get("save_failed"):  # once: the meter keeps counting in memory
            _LOGGER.warning("cannot save the plug's meter reading to %s: %s", path, err)
        thing.state["save_failed"] = True


def make_plug(*, token: str = DEFAULT_TOKEN, state_dir: Path | None = None) -> SimThing:
    """A smart plug with an energy meter, behind a bearer token; SSE.

    With ``state_dir`` the meter reading is kept in ``state_dir/plug.json``: a plug made again
    with the same directory (a restarted simulator) counts on from there, as a real meter does,
    instead of starting again at :data:`PLUG_INITIAL_KWH`.
    """
    state_file = state_dir / PLUG_STATE_FILE if state_dir is not None else None
    energy_kwh = load_energy(state_file) if state_file is not None else PLUG_INITIAL_KWH
    return SimThing(
        slug="plug",
        title="Simulated Smart Plug",
        semantic_types=["OnOffSwitch", "SmartPlug", "EnergyMonitor"],
        description="Draws about 100 W while on; energy counts up while on",
        properties={
            "on": SimProperty(
                {"@type": "OnOffProperty", "title": "On/Off", "type": "boolean"}, True
            ),
            "power": SimProperty(
                {
                    "@type": "InstantaneousPowerProperty",
                    "title": "Power",
                    "type": "number",
                    "unit": "watt",
                    "readOnly": True,
                },
                PLUG_LOAD_WATTS,
            ),
            "energy": SimProperty(
                {
                    "title": "Energy",
                    "description": "Energy used since the plug was installed",
                    "type": "number",
                    "unit": "kilowatt hour",
                    "minimum": 0,
                    "readOnly": True,
                },
                round(energy_kwh, 4),
            ),
            "voltage": SimProperty(
                {
                    "@type": "VoltageProperty",
                    "title": "Voltage",
                    "type": "number",
                    "unit": "volt",
                    "readOnly": True,
                },
                230.0,
            ),
        },
        tick=_plug_tick,
        on_change=_plug_changed,
        security=BearerAuth(token),
        state={"state_file": state_file, "energy_kwh": energy_kwh},
    )


# --------------------------------------------------------------------------------------------
# door lock


def _lock_to(state: str) -> Callable[[SimThing, Any, ActionRecord], Any]:
    async def act(thing: SimThing, _value: Any, _record: ActionRecord) -> None:
        thing.properties["locked"].value = state

    return act


def _lock_changed(thing: SimThing, name: str, value: Any) -> None:
    if name == "locked" and value == "jammed":
        thing.emit("jammed")


def make_lock(*, username: str = DEFAULT_USERNAME, password: str = DEFAULT_PASSWORD) -> SimThing:
    """A door lock behind HTTP Basic auth: ``locked`` enum, ``lock``/``unlock`` actions; SSE."""
    return SimThing(
        slug="lock",
        title="Simulated Door Lock",
        semantic_types=["Lock"],
        description="Setting locked to 'jammed' fires the jammed event; lock/unlock clear it",
        properties={
            "locked": SimProperty(
                {
                    "@type": "LockedProperty",
                    "title": "Current state",
                    "type": "string",
                    "enum": ["locked", "unlocked", "jammed", "unknown"],
                    "readOnly": True,
                },
                "locked",
            )
        },
        actions={
            "lock": SimAction(
                {"@type": "LockAction", "title": "Lock", "description": "Lock the door"},
                _lock_to("locked"),
            ),
            "unlock": SimAction(
                {"@type": "UnlockAction", "title": "Unlock", "description": "Unlock the door"},
                _lock_to("unlocked"),
            ),
        },
        events={
            "jammed": SimEvent(
                {"title": "Jammed", "description": "The bolt is stuck between positions"}
            )
        },
        on_change=_lock_changed,
        security=BasicAuth(username, password),
    )


# --------------------------------------------------------------------------------------------
# window blinds


async def _move_blinds(thing: SimThing, target: int) -> None:
    """Move one percent at a time (a full travel takes the Thing's travel time)."""
    prop = thing.properties["position"]
    step = float(thing.state["travel_time"]) / 100
    while prop.value != target:
        await asyncio.sleep(step)
        prop.value = prop.value + (1 if target > prop.value else -1)


def _interrupt_motor(thing: SimThing) -> None:
    current = asyncio.current_task()
    motor: asyncio.Task[None] | None = thing.state.get("motor")
    if motor is not None and motor is not current and not motor.done():
        motor.cancel()
    thing.state["motor"] = None


def _blinds_mover(target: int) -> Callable[[SimThing, Any, ActionRecord], Any]:
    async def move(thing: SimThing, _value: Any, _record: ActionRecord) -> None:
        _interrupt_motor(thing)
        thing.state["motor"] = asyncio.current_task()
        await _move_blinds(thing, target)

    return move


async def _blinds_stop(thing: SimThing, _value: Any, _record: ActionRecord) -> None:
    _interrupt_motor(thing)


def _blinds_write(thing: SimThing, value: Any) -> None:
    _interrupt_motor(thing)
    thing.state["motor"] = thing.spawn(_move_blinds(thing, int(value)))


def make_blinds(*, travel_time: float = DEFAULT_TRAVEL_TIME) -> SimThing:
    """Window blinds: ``position`` moves over ``travel_time`` seconds per full travel; SSE.

    Writing ``position`` answers at once and the blinds start moving (reads show the current
    position); ``open`` and ``close`` are asynchronous actions; ``stop`` halts any movement.
    """
    if travel_time <= 0:
        raise ValueError(f"travel_time must be positive, got {travel_time}")
    return SimThing(
        slug="blinds",
        title="Simulated Window Blinds",
        semantic_types=["s4bldg:ShadingDevice"],
        context=[WEBTHINGS_CONTEXT, {"s4bldg": "https://saref.etsi.org/saref4bldg/"}],
        description=f"0 % is closed, 100 % open; a full travel takes {travel_time:g} s",
        properties={
            "position": SimProperty(
                {
                    "@type": "LevelProperty",
                    "title": "Position",
                    "description": "0 = closed, 100 = fully open",
                    "type": "integer",
                    "unit": "percent",
                    "minimum": 0,
                    "maximum": 100,
                },
                0,
                on_write=_blinds_write,
            )
        },
        actions={
            "open": SimAction(
                {"title": "Open", "description": "Open fully"},
                _blinds_mover(100),
                synchronous=False,
            ),
            "close": SimAction(
                {"title": "Close", "description": "Close fully"},
                _blinds_mover(0),
                synchronous=False,
            ),
            "stop": SimAction({"title": "Stop", "description": "Stop moving"}, _blinds_stop),
        },
        state={"travel_time": travel_time, "motor": None},
    )


# --------------------------------------------------------------------------------------------
# a Thing in the WebThings (Mozilla Web Thing API) dialect


def make_webthing_switch() -> SimThing:
    """A dimmer switch served the way a webthing-python server serves its Things."""
    return SimThing(
        slug="webthing-switch",
        title="Simulated WebThings Dimmer",
        semantic_types=["OnOffSwitch", "MultiLevelSwitch"],
        description="A dimmer switch speaking the Web Thing API (links, WebSocket)",
        dialect="webthings",
        properties={
            "on": SimProperty(
                {"@type": "OnOffProperty", "title": "On/Off", "type": "boolean"}, False
            ),
            "level": SimProperty(
                {
                    "@type": "LevelProperty",
                    "title": "Level",
                    "type": "integer",
                    "unit": "percent",
                    "minimum": 0,
                    "maximum": 100,
                },
                50,
            ),
        },
        actions={
            "toggle": SimAction(
                {"@type": "ToggleAction", "title": "Toggle", "description": "Flip on/off"},
                _toggler("on"),
            ),
            "fade": SimAction(
                {
                    "@type": "FadeAction",
                    "title": "Fade",
                    "description": "Fade to a level over a duration",
                    "input": _fade_input("level"),
                },
                _fader("level", "level"),
                synchronous=False,
            ),
        },
        events={
            "overheated": SimEvent(
                {
                    "@type": "OverheatedEvent",
                    "title": "Overheated",
                    "description": "The dimmer exceeded its safe operating temperature",
                    "data": {"type": "number", "unit": CELSIUS},
                }
            )
        },
    )


THING_FACTORIES: dict[str, Callable[[], SimThing]] = {
    "lamp": make_lamp,
    "sensor": make_sensor,
    "thermostat": make_thermostat,
    "plug": make_plug,
    "lock": make_lock,
    "blinds": make_blinds,
    "webthing-switch": make_webthing_switch,
}


def build_things(
    names: list[str],
    *,
    token: str = DEFAULT_TOKEN,
    username: str = DEFAULT_USERNAME,
    password: str = DEFAULT_PASSWORD,
    travel_time: float = DEFAULT_TRAVEL_TIME,
    state_dir: Path | None = None,
) -> list[SimThing]:
    """Make the Things ``names`` (keys of :data:`THING_FACTORIES`) with these settings.

    ``state_dir`` keeps state that must survive a restart (the plug's meter reading);
    ``None`` keeps nothing.
    """
    unknown = [name for name in names if name not in THING_FACTORIES]
    if unknown:
        raise ValueError(
            f"unknown thing(s) {', '.join(unknown)}; choose from {', '.join(THING_FACTORIES)}"
        )
    made: list[SimThing] = []
    for name in names:
        if name == "plug":
            made.append(make_plug(token=token, state_dir=state_dir))
        elif name == "lock":
            made.append(make_lock(username=username, password=password))
        elif name == "blinds":
            made.append(make_blinds(travel_time=travel_time))
        else:
            made.append(THING_FACTORIES[name]())
    return made
