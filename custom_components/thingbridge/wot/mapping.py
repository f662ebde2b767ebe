"""Decide which Home Assistant entities a Thing Description becomes.

Pure data in, pure data out (no Home Assistant imports), so the same decisions drive the
integration's platforms and the ``describe`` dry-run tool.

Order of evidence:

1. semantic annotations: WebThings capability schemas (``Light``, ``OnOffProperty``,
   ``LockedProperty``, ...), iot.schema.org (``iot:SwitchStatus``, ``iot:CurrentLevel``, ...),
   SAREF (``saref:OnOffState``, ...) and ECHONET-style names; prefixes are ignored;
2. composite devices built from several affordances: light, lock, climate, cover, fan;
3. the data schema of what is left: booleans, numbers, enums, strings, objects;
4. actions without input become buttons; an action whose input is one string, number,
   boolean or choice becomes a text, number, switch or select that invokes it; events become
   event entities.

Nothing is dropped: a property no rule recognises still becomes a diagnostic sensor that is
disabled by default, and an action no entity can invoke (several inputs, an array, a URI
variable to fill in) or that only repeats what an entity already does (a ``toggle`` beside a
light) is a *service*: reachable through ``thingbridge.invoke_action`` and listed with the
reason (:func:`plan_thing`). Every affordance of a parsed TD is in exactly one of the two.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
import functools
import re
from typing import Any

from .td import NOTHING, ActionAffordance, DataSchema, PropertyAffordance, ThingDescription
from .units import canonical_unit

# Platforms, as Home Assistant names them.
LIGHT = "light"
SWITCH = "switch"
LOCK = "lock"
CLIMATE = "climate"
COVER = "cover"
FAN = "fan"
SENSOR = "sensor"
BINARY_SENSOR = "binary_sensor"
NUMBER = "number"
SELECT = "select"
TEXT = "text"
BUTTON = "button"
EVENT = "event"


@dataclass(frozen=True, slots=True)
class ActionInput:
    """How an entity that invokes an action (rather than writing a property) fills its input.

    The entity's value is the action's whole input when ``member`` is ``None``, otherwise the
    ``member`` of an object input (``{"member": value}``); ``schema`` is that value's schema.
    """

    schema: DataSchema
    member: str | None = None

    def build(self, value: Any) -> Any:
        """The action input for the entity's ``value``."""
        return value if self.member is None else {self.member: value}


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """One entity ThingBridge creates for a Thing.

    ``key`` is unique within the Thing and stable (it is part of the unique ID). ``name`` is
    ``None`` for the Thing's main entity (it then takes the device's name). ``roles`` maps a
    role (``on``, ``brightness``, ``target_temperature``, ``open`` ...) to the affordance that
    plays it.
    """

    platform: str
    key: str
    name: str | None
    affordance: str
    roles: Mapping[str, str] = NOTHING  # shared when empty (most entities)
    device_class: str | None = None
    unit: str | None = None
    state_class: str | None = None
    entity_category: str | None = None
    enabled_default: bool = True
    options: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    action_input: ActionInput | None = None

    def as_dict(self) -> dict[str, Any]:
        """The parts a person needs (used by the ``describe`` tool)."""
        out: dict[str, Any] = {
            "platform": self.platform,
            "name": self.name,
            "affordance": self.affordance,
        }
        if self.roles:
            out["roles"] = dict(self.roles)
        if self.device_class:
            out["device_class"] = self.device_class
        if self.unit:
            out["unit"] = self.unit
        if not self.enabled_default:
            out["enabled_default"] = False
        if self.action_input is not None:
            out["invokes_action"] = True
            if self.action_input.member is not None:
                out["input_member"] = self.action_input.member
        return out


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """An affordance no entity plays: reachable only through the integration's actions.

    ``kind`` is ``property``, ``action`` or ``event``; ``affordance`` its name in the TD, as
    entities name theirs; ``reason`` says, for a person, why it has no entity.
    """

    kind: str
    affordance: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """The ``describe`` tool's entry."""
        return {"affordance": self.affordance, "kind": self.kind, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ThingPlan:
    """What a Thing becomes: its entities and the affordances left to the services."""

    entities: list[EntitySpec]
    services: list[ServiceSpec]


# Roles that actions (rather than properties) play in composite entities.
ACTION_ROLES = frozenset({"turn_on", "turn_off", "lock", "unlock", "open", "close", "stop"})


def spec_affordances(spec: EntitySpec) -> set[tuple[str, str]]:
    """The ``(kind, name)`` of every affordance ``spec`` plays (kind: property/action/event)."""
    kind, _, name = spec.key.partition(":")
    out = {("action" if role in ACTION_ROLES else "property", n) for role, n in spec.roles.items()}
    if name and kind in ("property", "action", "event"):
        out.add((kind, spec.affordance))
    return out


# --------------------------------------------------------------------------------------------
# vocabulary


# Cached: a directory's Things repeat the same few types (a thousand sensors, one vocabulary).
@functools.lru_cache(maxsize=1024)
def _term(value: str) -> str:
    """``iot:SwitchStatus`` / ``https://webthings.io/schemas#OnOffProperty`` -> ``switchstatus``."""
    value = re.split(r"[#/:]", value)[-1]
    return value.lower()


@functools.lru_cache(maxsize=1024)
def _terms(types: tuple[str, ...]) -> frozenset[str]:
    return frozenset(_term(t) for t in types)


def _words(name: str) -> str:
    """``targetTemperature`` / ``target_temperature`` -> ``target temperature``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return re.sub(r"[_\-\s]+", " ", spaced).strip().lower()


# Property capabilities: our role -> the terms that say so.
ROLE_TERMS: dict[str, set[str]] = {
    "on": {"onoffproperty", "switchstatus", "onoffstate", "onoff", "binaryswitch", "powerstate"},
    "brightness": {"brightnessproperty", "currentlevel", "brightness", "dimmerlevel"},
    "color": {"colorproperty", "colourdata", "colordata", "color", "colour", "rgbcolor"},
    "color_temp": {"colortemperatureproperty", "colortemperature", "colourtemperature"},
    "locked": {"lockedproperty", "lockstate", "lockstatus", "locked"},
    "temperature": {"temperatureproperty", "temperature", "currenttemperature", "temperaturedata"},
    "target_temperature": {
        "targettemperatureproperty",
        "targettemperature",
        "setpoint",
        "temperaturesetpoint",
    },
    "thermostat_mode": {"thermostatmodeproperty", "thermostatmode", "hvacmode"},
    "hvac_action": {"heatingcoolingproperty", "heatingcooling", "hvacaction"},
    "motion": {
        "motionproperty",
        "motiondetected",
        "motion",
        "occupancy",
        "occupancyproperty",
        "presence",
    },
    "open": {"openproperty", "opendetected", "contact", "doorstate"},
    "leak": {"leakproperty", "leak", "waterleak"},
    "smoke": {"smokeproperty", "smoke"},
    "pushed": {"pushedproperty"},
    "power": {"instantaneouspowerproperty", "power", "activepower", "instantaneouspower"},
    "energy": {"energyproperty", "energy", "cumulativeenergy", "energyconsumption"},
    "voltage": {"voltageproperty", "voltage"},
    "current": {"currentproperty", "electriccurrent"},
    "humidity": {"humidityproperty", "humidity", "relativehumidity"},
    "pressure": {"barometricpressureproperty", "pressure", "atmosphericpressure"},
    "illuminance": {"illuminanceproperty", "illuminance", "lightlevel"},
    "co2": {"co2property", "carbondioxide", "co2", "co2concentration"},
    "battery": {"batteryproperty", "batterylevel", "battery"},
    "position": {"positionproperty", "position", "openlevel", "blindposition", "shadeposition"},
    "speed": {"fanspeed", "speed", "airflowrate"},
}

THING_TERMS: dict[str, set[str]] = {
    LIGHT: {"light", "lightswitch", "lighting", "lamp", "dimmablelight", "colorlight",
            "generallighting", "lightcontrol", "colorcontrol"},
    LOCK: {"lock", "doorlock", "electriclock", "smartlock"},
    CLIMATE: {"thermostat", "airconditioner", "homeairconditioner", "hvac", "heater",
              "heatingcooling"},
    COVER: {"blind", "blinds", "windowcovering", "shutter", "curtain", "cover", "awning",
            "electricblind", "electricshutter", "electriccurtain", "garagedoor", "shade"},
    FAN: {"fan", "ventilator", "airfan", "ceilingfan", "electricfan"},
    SWITCH: {"onoffswitch", "multilevelswitch", "smartplug", "plug", "outlet", "poweroutlet",
             "switch", "relay", "binaryswitch", "smartplugswitch"},
}  # fmt: skip

# Name fallbacks when a property carries no semantic type (matched against its words).
NAME_HINTS: dict[str, tuple[str, ...]] = {
    "on": ("on", "on off", "onoff", "power", "power state", "switch", "operation status", "status on"),
    "brightness": ("brightness", "dim level", "dimming level", "illuminance level", "dim", "dimmer",
                   "dimmer level", "dimming", "brightness level"),
    "color": ("color", "colour", "rgb"),
    "color_temp": ("color temperature", "colour temperature", "color temp", "ct"),
    "locked": ("locked", "lock state", "lock status", "main electric lock"),
    "temperature": ("temperature", "room temperature", "current temperature", "measured room temperature"),
    "target_temperature": ("target temperature", "set temperature", "setpoint", "temperature setting",
                           "target temperature1", "set point", "desired temperature", "desired temp",
                           "target temp", "goal temperature", "set temp", "temperature setpoint"),
    "thermostat_mode": ("mode", "operation mode", "thermostat mode", "hvac mode"),
    "position": ("position", "open level", "degree of opening", "blind position"),
    "speed": ("speed", "fan speed", "air flow level", "air flow rate"),
}  # fmt: skip

BINARY_DEVICE_CLASSES = {
    "motion": "motion",
    "open": "opening",
    "leak": "moisture",
    "smoke": "smoke",
}

UNIT_DEVICE_CLASSES: dict[str, tuple[str | None, str]] = {
    # canonical unit -> (device class, state class)
    "°C": ("temperature", "measurement"),
    "°F": ("temperature", "measurement"),
    "K": ("temperature", "measurement"),
    "W": ("power", "measurement"),
    "kW": ("power", "measurement"),
    "Wh": ("energy", "total_increasing"),
    "kWh": ("energy", "total_increasing"),
    "V": ("voltage", "measurement"),
    "A": ("current", "measurement"),
    "VA": ("apparent_power", "measurement"),
    "kVA": ("apparent_power", "measurement"),
    "var": ("reactive_power", "measurement"),
    "kvar": ("reactive_power", "measurement"),
    "VAh": (None, "total_increasing"),
    "kVAh": (None, "total_increasing"),
    "varh": ("reactive_energy", "total_increasing"),
    "kvarh": ("reactive_energy", "total_increasing"),
    "hPa": ("pressure", "measurement"),
    "Pa": ("pressure", "measurement"),
    "lx": ("illuminance", "measurement"),
    "ppm": (None, "measurement"),
    "ppb": (None, "measurement"),
    "µg/m³": (None, "measurement"),
    "%": (None, "measurement"),
    "s": ("duration", "measurement"),
    "min": ("duration", "measurement"),
    "h": ("duration", "measurement"),
    "m": ("distance", "measurement"),
    "km/h": ("speed", "measurement"),
    "m/s": ("speed", "measurement"),
    "dB": ("sound_pressure", "measurement"),
    "dBm": ("signal_strength", "measurement"),
    "Hz": ("frequency", "measurement"),
    "kHz": ("frequency", "measurement"),
    "kPa": ("pressure", "measurement"),
    "bar": ("pressure", "measurement"),
    "mbar": ("pressure", "measurement"),
    "mA": ("current", "measurement"),
    "mV": ("voltage", "measurement"),
    "mm": ("distance", "measurement"),
    "cm": ("distance", "measurement"),
    "km": ("distance", "measurement"),
}
PERCENT_ROLE_CLASSES = {"humidity": "humidity", "battery": "battery"}
ROLE_SENSOR_CLASSES = {"co2": "carbon_dioxide"}

# Measured quantities a numeric property without a (known) unit may still be recognised as:
# quantity -> (device class, the unit assumed when the schema gives none). Temperatures are
# assumed to be Celsius, as in the ECHONET, KETI and Fujitsu plugfest TDs that omit the unit.
QUANTITIES: dict[str, tuple[str, str | None]] = {
    "temperature": ("temperature", "°C"),
    "humidity": ("humidity", "%"),
    "co2": ("carbon_dioxide", "ppm"),
    "voc": ("volatile_organic_compounds_parts", None),
    "illuminance": ("illuminance", "lx"),
    "battery": ("battery", "%"),
    "pressure": ("pressure", None),
    "power_factor": ("power_factor", None),
}
QUANTITY_ROLES = {
    "temperature": "temperature",
    "target_temperature": "temperature",
    "humidity": "humidity",
    "co2": "co2",
    "illuminance": "illuminance",
    "battery": "battery",
    "pressure": "pressure",
}
# The last word of a property's name or title that names its quantity.
QUANTITY_WORDS = {
    "temperature": "temperature",
    "temp": "temperature",
    "humidity": "humidity",
    "co2": "co2",
    "voc": "voc",
    "illuminance": "illuminance",
    "lux": "illuminance",
    "battery": "battery",
    "pressure": "pressure",
}
# Property names that say nothing of the quantity: the Thing's title says it
# (ECHONET "temperatureSensor" / "humiditySensor" with a property "value").
GENERIC_VALUE_NAMES = {"value", "measured value", "current value", "measurement", "reading"}


def _quantity_in(words: str) -> str | None:
    tokens = words.replace("/", " ").split()
    if not tokens:
        return None
    if "co2" in tokens or "carbon dioxide" in words:
        return "co2"
    if "power factor" in words:
        return "power_factor"
    quantity = QUANTITY_WORDS.get(tokens[-1])
    if quantity == "temperature" and {"color", "colour", "white", "balance"} & set(tokens):
        return None  # a colour temperature (kelvin), not a measured one
    return quantity


def property_quantity(
    prop: PropertyAffordance, roles: set[str], td: ThingDescription | None = None
) -> str | None:
    """The measured quantity a numeric property holds, from its roles, name, title or Thing."""
    for role in sorted(roles):
        if role in QUANTITY_ROLES:
            return QUANTITY_ROLES[role]
    names = [_words(prop.name)] + ([_words(prop.title)] if prop.title else [])
    for words in names:
        if quantity := _quantity_in(words):
            return quantity
    if td is not None and any(words in GENERIC_VALUE_NAMES for words in names):
        for part in (td.title, *re.split(r"[:/#]", td.id or "")):
            if part and (quantity := _quantity_in(_words(part).removesuffix(" sensor"))):
                return quantity
    return None


def property_roles(prop: PropertyAffordance) -> set[str]:
    """The roles a property's semantic types (or, failing that, its name) claim."""
    terms = _terms(prop.semantic_types) | _terms(prop.schema.semantic_types)
    roles = {role for role, known in ROLE_TERMS.items() if terms & known}
    if not roles:
        words = _words(prop.name)
        title = _words(prop.title) if prop.title else ""
        roles = {
            role
            for role, hints in NAME_HINTS.items()
            if words in hints or title in hints or words.replace(" ", "") in hints
        }
    return roles


# What a Thing's title may end with to say what it is ("Floor Lamp", "Smart Ventilator").
TITLE_KINDS: dict[str, str] = {
    "lamp": LIGHT, "light": LIGHT, "lights": LIGHT, "bulb": LIGHT, "lightbulb": LIGHT,
    "luminaire": LIGHT, "thermostat": CLIMATE, "fan": FAN, "ventilator": FAN, "lock": LOCK,
    "doorlock": LOCK, "plug": SWITCH, "smartplug": SWITCH, "outlet": SWITCH,
}  # fmt: skip


def thing_kinds(td: ThingDescription) -> set[str]:
    """Composite platforms the Thing's own semantic types (or its id/title) suggest."""
    terms = _terms(td.semantic_types)
    kinds = {platform for platform, known in THING_TERMS.items() if terms & known}
    if not kinds:
        # ECHONET-style TDs carry the class only in the id, e.g. echonet:generalLighting:...
        words = {_term(part) for part in re.split(r"[:/#]", td.id or "") if part}
        kinds = {platform for platform, known in THING_TERMS.items() if words & known}
    if not kinds:
        # Untyped TDs often say it in the title: "Floor Lamp", "Fujitsu LED bulb".
        title = [w for w in _words(td.title).split() if w != "thing"]
        if title and title[-1] in TITLE_KINDS:
            kinds = {TITLE_KINDS[title[-1]]}
    return kinds


# Thing types that name a capability rather than what the device is, least specific first:
# the device's model names another type beside them when there is one.
CAPABILITY_TYPES = ("thing", "device", "colorcontrol", "energymonitor", "binarysensor",
                    "multilevelsensor", "onoffswitch", "multilevelswitch")  # fmt: skip
TYPE_MODELS = {"onoffswitch": "On/off switch", "multilevelswitch": "Dimmer switch"}


def _humanised(semantic_type: str) -> str:
    """``s4bldg:ShadingDevice`` -> ``Shading device``, ``CO2Sensor`` -> ``CO2 sensor``."""
    local = re.split(r"[#/:]", semantic_type)[-1]
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", local)
    words = [w if w.isupper() else w.lower() for w in re.split(r"[_\-\s]+", spaced) if w]
    if not words:
        return semantic_type
    return " ".join([words[0][:1].upper() + words[0][1:], *words[1:]])


def device_model(td: ThingDescription) -> str | None:
    """What the device registry shows as the Thing's model.

    The TD's own model when it names one, else the most specific of its ``@type`` in words:
    ``["Light", "OnOffSwitch", "ColorControl"]`` is a ``Light``, ``s4bldg:ShadingDevice`` a
    ``Shading device``, ``["OnOffSwitch", "MultiLevelSwitch"]`` a ``Dimmer switch``.
    """
    if td.model:
        return td.model
    types = [t for t in td.semantic_types if _term(t) not in CAPABILITY_TYPES[:2]]
    if not types:
        return None
    specific = [t for t in types if _term(t) not in CAPABILITY_TYPES]
    chosen = specific[0] if specific else max(types, key=lambda t: CAPABILITY_TYPES.index(_term(t)))
    return TYPE_MODELS.get(_term(chosen)) or _humanised(chosen)


# --------------------------------------------------------------------------------------------
# composite devices


class _Props:
    """Properties not yet used by an entity, looked up by role."""

    def __init__(self, td: ThingDescription) -> None:
        self.free: dict[str, PropertyAffordance] = dict(td.properties)
        self.roles = {name: property_roles(prop) for name, prop in td.properties.items()}

    def find(
        self, role: str, *, writable: bool | None = None, types: tuple[str, ...] = ()
    ) -> str | None:
        for name, prop in self.free.items():
            if role not in self.roles[name]:
                continue
            if writable is not None and prop.writable != writable:
                continue
            # Untyped properties (common in ECHONET TDs) may play a role their name names.
            if types and prop.schema.type is not None and prop.schema.type not in types:
                continue
            return name
        return None

    def take(self, names: Iterable[str | None]) -> None:
        for name in names:
            if name is not None:
                self.free.pop(name, None)


def _action(td: ThingDescription, *terms: str) -> str | None:
    """An action (without required input) whose semantic type or name is one of ``terms``."""
    for name, action in td.actions.items():
        candidates = _terms(action.semantic_types) | {_words(name).replace(" ", "")}
        if candidates & set(terms) and not _needs_input(action):
            return name
    return None


_REQUIRED_VARIABLE = re.compile(r"\{(?![?&])[^}]*\}")


def _needs_input(action: ActionAffordance) -> bool:
    # A path variable (``/things/{id}``) must be filled in; query ones (``{?x,y}``) may be left out.
    if any(_REQUIRED_VARIABLE.search(form.href) for form in action.forms):
        return True
    schema = action.input
    if schema is None:
        return False
    if schema.type == "object":
        return bool(schema.required)
    return schema.type is not None and schema.type != "null"


# A WebThings ``MultiLevelSwitch`` ("a switch with multiple levels such as a dimmer") dims
# with its ``LevelProperty``: it is a dimmable light, as a Z-Wave multilevel switch is in
# Home Assistant. A smart plug that dims as well stays an outlet (with a level number).
DIMMER_TERMS = frozenset({"multilevelswitch"})
LEVEL_TERMS = frozenset({"levelproperty"})
OUTLET_TERMS = frozenset({"smartplug", "plug", "outlet", "poweroutlet"})


def _dimmer_level(td: ThingDescription, props: _Props) -> str | None:
    """A dimmer's writable numeric level property, when the Thing says it is a dimmer."""
    terms = _terms(td.semantic_types)
    if not terms & DIMMER_TERMS or terms & OUTLET_TERMS:
        return None
    for name, prop in props.free.items():
        terms = _terms(prop.semantic_types) | _terms(prop.schema.semantic_types)
        if terms & LEVEL_TERMS and prop.writable and prop.schema.is_numeric:
            return name
    return None


def _light(td: ThingDescription, props: _Props, kinds: set[str]) -> EntitySpec | None:
    on = props.find("on", writable=True, types=("boolean",))
    brightness = props.find("brightness", writable=True, types=("integer", "number"))
    if brightness is None and (level := _dimmer_level(td, props)) is not None:
        brightness = level
        kinds = kinds | {LIGHT}
    color = props.find("color", writable=True, types=("string",))
    color_temp = props.find("color_temp", writable=True, types=("integer", "number"))
    turn_on = turn_off = None
    if on is None and LIGHT in kinds:
        # Some lights only offer on/off actions (the state is then assumed).
        turn_on = _action(td, "turnon", "turnonaction", "on", "switchon", "lighton", "ledon")
        turn_off = _action(td, "turnoff", "turnoffaction", "off", "switchoff", "lightoff", "ledoff")
        if not (turn_on and turn_off):
            turn_on = turn_off = None
    if LIGHT not in kinds and not (on and (brightness or color or color_temp)):
        return None
    if not (on or brightness or turn_on):
        return None
    roles = {
        role: name
        for role, name in (
            ("on", on),
            ("brightness", brightness),
            ("color", color),
            ("color_temp", color_temp),
            ("turn_on", turn_on),
            ("turn_off", turn_off),
        )
        if name
    }
    props.take([on, brightness, color, color_temp])
    return EntitySpec(LIGHT, "light", None, on or brightness or turn_on or "", roles)


def _lock(td: ThingDescription, props: _Props, kinds: set[str]) -> EntitySpec | None:
    locked = props.find("locked")
    lock_action = _action(td, "lockaction", "lock")
    unlock_action = _action(td, "unlockaction", "unlock")
    writable_bool = locked if locked and td.properties[locked].writable else None
    if locked is None or not ((lock_action and unlock_action) or writable_bool):
        return None
    roles = {"locked": locked}
    if lock_action and unlock_action:
        roles |= {"lock": lock_action, "unlock": unlock_action}
    props.take([locked])
    return EntitySpec(LOCK, "lock", None, locked, roles)


def _climate(td: ThingDescription, props: _Props, kinds: set[str]) -> EntitySpec | None:
    target = props.find("target_temperature", writable=True, types=("integer", "number"))
    if target is None:
        return None
    current = props.find("temperature", types=("integer", "number"))
    mode = props.find("thermostat_mode", writable=True, types=("string",))
    action = props.find("hvac_action", types=("string",))
    roles = {
        role: name
        for role, name in (
            ("target_temperature", target),
            ("temperature", current),
            ("thermostat_mode", mode),
            ("hvac_action", action),
        )
        if name
    }
    if CLIMATE in kinds:
        on = props.find("on", writable=True, types=("boolean",))
        if on:
            roles["on"] = on
    props.take(roles.values())
    return EntitySpec(CLIMATE, "climate", None, target, roles)


def _cover(td: ThingDescription, props: _Props, kinds: set[str]) -> EntitySpec | None:
    position = props.find("position", types=("integer", "number"))
    open_action = _action(td, "open", "openaction", "up", "raise")
    close_action = _action(td, "close", "closeaction", "down", "lower")
    stop_action = _action(td, "stop", "stopaction")
    if COVER not in kinds and not (position and open_action and close_action):
        return None
    if position is None and not (open_action and close_action):
        return None
    roles = {
        role: name
        for role, name in (
            ("position", position),
            ("open", open_action),
            ("close", close_action),
            ("stop", stop_action),
        )
        if name
    }
    props.take([position])
    return EntitySpec(COVER, "cover", None, position or open_action or "", roles)


def _fan(td: ThingDescription, props: _Props, kinds: set[str]) -> EntitySpec | None:
    if FAN not in kinds:
        return None
    on = props.find("on", writable=True, types=("boolean",))
    speed = props.find("speed", writable=True, types=("integer", "number"))
    if not (on or speed):
        return None
    roles = {role: name for role, name in (("on", on), ("speed", speed)) if name}
    props.take(roles.values())
    return EntitySpec(FAN, "fan", None, on or speed or "", roles)


def _switch(td: ThingDescription, props: _Props, kinds: set[str]) -> EntitySpec | None:
    """A switch or plug Thing: its on/off property is the Thing's main entity."""
    if SWITCH not in kinds:
        return None
    on = props.find("on", writable=True, types=("boolean",))
    if on is None:
        return None
    props.take([on])
    outlet = bool(_terms(td.semantic_types) & OUTLET_TERMS)
    return EntitySpec(
        SWITCH, "switch", None, on, {"on": on}, device_class="outlet" if outlet else "switch"
    )


COMPOSITES = (_lock, _climate, _cover, _fan, _light, _switch)


# --------------------------------------------------------------------------------------------
# single properties


def _numeric_sensor_classes(
    prop: PropertyAffordance, roles: set[str], td: ThingDescription | None = None
) -> tuple[str | None, str | None, str]:
    unit = canonical_unit(prop.schema.unit)
    device_class: str | None = None
    state_class = "measurement"
    quantity = property_quantity(prop, roles, td)
    if unit in UNIT_DEVICE_CLASSES:
        device_class, state_class = UNIT_DEVICE_CLASSES[unit]
    if unit == "%":
        device_class = next(
            (PERCENT_ROLE_CLASSES[r] for r in roles if r in PERCENT_ROLE_CLASSES), None
        ) or (quantity if quantity in ("humidity", "battery") else None)
    if unit == "ppm" and quantity == "co2":
        device_class = "carbon_dioxide"
    elif unit in ("ppm", "ppb") and quantity == "voc":
        device_class = "volatile_organic_compounds_parts"
    if prop.schema.unit is None and quantity is not None:
        # No unit at all: the quantity's device class, with the unit it is usually given in.
        quantity_class, assumed = QUANTITIES[quantity]
        if assumed is not None:
            device_class, unit = quantity_class, assumed
    if quantity == "power_factor" and unit in (None, "%"):
        device_class = "power_factor"  # a ratio (-1..1) or a percentage
    return device_class, unit, state_class


def _property_entity(
    prop: PropertyAffordance, roles: set[str], td: ThingDescription | None = None
) -> EntitySpec:
    schema = prop.schema
    name = prop.label
    key = f"property:{prop.name}"
    writable = prop.writable
    readable = prop.readable
    if schema.type == "boolean":
        if writable:
            return EntitySpec(SWITCH, key, name, prop.name)
        device_class = next(
            (BINARY_DEVICE_CLASSES[r] for r in roles if r in BINARY_DEVICE_CLASSES), None
        )
        return EntitySpec(BINARY_SENSOR, key, name, prop.name, device_class=device_class)
    if schema.is_numeric:
        device_class, unit, state_class = _numeric_sensor_classes(prop, roles, td)
        if writable:
            step = schema.multiple_of or (1.0 if schema.type == "integer" else None)
            return EntitySpec(
                NUMBER, key, name, prop.name,
                device_class=device_class if device_class not in ("energy", "duration") else None,
                unit=unit or schema.unit, minimum=schema.minimum, maximum=schema.maximum, step=step,
            )  # fmt: skip
        return EntitySpec(
            SENSOR, key, name, prop.name,
            device_class=device_class, unit=unit or schema.unit, state_class=state_class,
        )  # fmt: skip
    enum = schema.enum
    if enum and all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in enum):
        options = tuple(str(v) for v in enum)
        if writable:
            return EntitySpec(SELECT, key, name, prop.name, options=options)
        return EntitySpec(SENSOR, key, name, prop.name, device_class="enum", options=options)
    if schema.type == "string":
        if writable and readable:
            return EntitySpec(
                TEXT, key, name, prop.name, minimum=schema.min_length, maximum=schema.max_length
            )
        return EntitySpec(SENSOR, key, name, prop.name)
    # Objects, arrays, untyped and write-only-without-type properties: keep them visible.
    return EntitySpec(
        SENSOR, key, name, prop.name, entity_category="diagnostic", enabled_default=False
    )


def _input_slot(action: ActionAffordance) -> ActionInput | None:
    """The one value an action needs, when its input is a single string, number, boolean or choice.

    That is a scalar input, or an object input with exactly one member (required or not).
    Actions with path variables or several inputs have no entity: the
    ``thingbridge.invoke_action`` action takes any input.
    """
    if any(_REQUIRED_VARIABLE.search(form.href) for form in action.forms):
        return None
    schema = action.input
    if schema is None:
        return None
    member: str | None = None
    if schema.type == "object":
        if len(schema.properties) != 1 or len(schema.required) > 1:
            return None
        member, schema = next(iter(schema.properties.items()))
    if schema.type in ("string", "number", "integer", "boolean") or schema.enum:
        return ActionInput(schema, member)
    return None


def _service_reason(action: ActionAffordance) -> str:
    """Why an action that needs input has no entity (:func:`_input_slot` found no one value)."""
    if any(_REQUIRED_VARIABLE.search(form.href) for form in action.forms):
        return "its address takes URI variables"
    schema = action.input
    if schema is not None and schema.type == "object":
        if len(schema.properties) > 1:
            return "several inputs"
        if not schema.properties:
            return "an object input whose members are not described"
        schema = next(iter(schema.properties.values()))
    if schema is None or schema.type is None:
        return "an input of no stated type"
    return f"an input of type {schema.type}"


def _input_action_entity(name: str, action: ActionAffordance) -> EntitySpec | None:
    """A text, number or select that invokes ``action`` with the value it is set to."""
    slot = _input_slot(action)
    if slot is None:
        return None
    schema = slot.schema
    key = f"action:{name}"
    enum = schema.enum
    if enum and all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in enum):
        options = tuple(str(v) for v in enum)
        return EntitySpec(SELECT, key, action.label, name, options=options, action_input=slot)
    if schema.type == "boolean":
        # Turning it on sends true, off false; its state is the value last sent (assumed).
        return EntitySpec(SWITCH, key, action.label, name, action_input=slot)
    if schema.is_numeric:
        step = schema.multiple_of or (1.0 if schema.type == "integer" else None)
        return EntitySpec(
            NUMBER, key, action.label, name, unit=canonical_unit(schema.unit) or schema.unit,
            minimum=schema.minimum, maximum=schema.maximum, step=step, action_input=slot,
        )  # fmt: skip
    if schema.type == "string":
        return EntitySpec(
            TEXT, key, action.label, name,
            minimum=schema.min_length, maximum=schema.max_length, action_input=slot,
        )  # fmt: skip
    return None


# Actions without input that only repeat what an entity's role already does, by role: a
# ``toggle`` or ``turnOn`` beside a light's on/off, ``lock`` beside a lock.
DUPLICATE_ACTIONS: dict[str, frozenset[str]] = {
    "on": frozenset({"toggle", "toggleaction", "turnon", "turnonaction", "turnoff",
                     "turnoffaction", "switchon", "switchoff", "on", "off", "poweron",
                     "poweroff"}),
    "locked": frozenset({"lock", "lockaction", "unlock", "unlockaction"}),
    "position": frozenset({"open", "openaction", "close", "closeaction"}),
}  # fmt: skip
ROLE_NOUNS = {"on": "on/off", "locked": "locked state", "position": "position"}


def _duplicated_role(action_name: str, action: ActionAffordance, specs: list[EntitySpec]) -> str:
    """The reason an input-less action repeats a role an entity already plays, else ``""``."""
    candidates = _terms(action.semantic_types) | {_words(action_name).replace(" ", "")}
    for spec in specs:
        for role, terms in DUPLICATE_ACTIONS.items():
            if role in spec.roles and candidates & terms:
                return f"repeats the {spec.platform}'s {ROLE_NOUNS[role]}"
    return ""


def map_thing(td: ThingDescription) -> list[EntitySpec]:
    """Every entity ThingBridge creates for ``td``, main entities first."""
    return plan_thing(td).entities


def plan_thing(td: ThingDescription) -> ThingPlan:
    """The entities ThingBridge creates for ``td`` (main ones first) and what is left to services.

    Every property, action and event of ``td`` is played by an entity or listed as a service,
    never both.
    """
    services: list[ServiceSpec] = []
    kinds = thing_kinds(td)
    props = _Props(td)
    specs: list[EntitySpec] = []
    for composite in COMPOSITES:
        spec = composite(td, props, kinds)
        if spec is not None:
            specs.append(spec)
    used_actions = {
        name for spec in specs for role, name in spec.roles.items() if role in ACTION_ROLES
    }
    for name, prop in props.free.items():
        specs.append(_property_entity(prop, props.roles[name], td))
    composites = list(specs)
    for name, action in td.actions.items():
        if name in used_actions:
            continue
        if not _needs_input(action):
            if reason := _duplicated_role(name, action, composites):
                services.append(ServiceSpec("action", name, reason))
            else:
                specs.append(EntitySpec(BUTTON, f"action:{name}", action.label, name))
        elif (spec := _input_action_entity(name, action)) is not None:
            specs.append(spec)
        else:
            services.append(ServiceSpec("action", name, _service_reason(action)))
    for name, event in td.events.items():
        specs.append(EntitySpec(EVENT, f"event:{name}", event.label, name))
    return ThingPlan(specs, services)
