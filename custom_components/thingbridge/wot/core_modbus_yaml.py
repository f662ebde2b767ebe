"""Convert Home Assistant core ``modbus:`` YAML to Thing Descriptions ThingBridge can add.

The core integration is configured in YAML only (hubs with ``sensors``, ``binary_sensors``,
``switches`` ...). :func:`convert_modbus_yaml` turns each (hub, unit) pair into one Thing
Description whose forms use the W3C Modbus binding's ``modv:`` terms and ThingBridge's ``tbm:``
extension terms, so that the device can be added to ThingBridge from the UI with the same
registers. Keys that have no faithful equivalent are listed in ``unsupported`` (with their YAML
path), never guessed: e.g. ``precision`` (a display setting), ``min_value``/``max_value``
(clamping), ``custom`` structures, ``float16``, UDP hubs and serial ASCII, and whole platforms
other than sensors, binary sensors and switches.

What maps to what (Home Assistant's ``homeassistant/components/modbus`` 2026.10 schemas):

- hub ``type`` ``tcp`` -> ``modbus+tcp://host:port/unit/address?quantity=N``; ``rtuovertcp`` ->
  the same with ``tbm:framing: rtu-over-tcp``; ``serial`` (method ``rtu``) ->
  ``modbus+rtu:///dev/...`` with ``tbm:framing: rtu`` and ``tbm:baudrate``/``parity``/
  ``stopbits``/``bytesize``; ``timeout`` (seconds) -> ``modv:timeout`` (ms);
- ``slave``/``device_address`` (default 1) -> the unit in the href, one TD per unit;
- sensors: ``input_type`` -> ``modv:entity``, ``data_type`` -> ``modv:type`` (xsd), ``swap``
  -> ``modv:mostSignificantByte``/``mostSignificantWord``, ``scale``/``offset`` ->
  ``tbm:scale``/``tbm:offset`` (value x scale + offset, as in core), ``nan_value`` ->
  ``tbm:notAvailable``, ``unit_of_measurement`` -> ``unit``, ``scan_interval`` ->
  ``modv:pollingTime`` (ms), ``virtual_count``/``slave_count`` -> that many more properties
  at the following addresses;
- binary sensors: coils and discrete inputs as booleans, registers as bit 0
  (``tbm:bitOffset`` 0, as core reads ``register & 1``);
- switches: ``write_type`` -> the write form's entity and function, ``verify`` -> a read form
  (none: the property is write-only, as core's switch without ``verify`` only assumes its
  state); ``command_on``/``command_off`` other than 1/0 make an integer property whose
  ``enum`` is the two commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
import re
from typing import Any
import uuid

import yaml  # type: ignore[import-untyped]  # PyYAML, shipped with Home Assistant; no stubs here

from .errors import WotValidationError
from .modbus.binding import TBM_NAMESPACE, TYPE_WIDTH, XSD_TYPE, ValueType

MAX_YAML_BYTES = 1024 * 1024
"""Largest YAML file read."""
MAX_ENTITIES = 4096
"""Most entities (sensors, binary sensors, switches, virtual ones included) converted per file."""
MAX_PROPERTIES = 256
"""Most properties in one generated TD (the TD parser's affordance limit)."""
MAX_VIRTUAL = 255
"""Largest ``virtual_count`` expanded."""

TD_CONTEXT = "https://www.w3.org/2022/wot/td/v1.1"
MODV_NAMESPACE = "https://www.w3.org/2019/wot/modbus#"
_ID_NAMESPACE = uuid.UUID("5f0c5a44-2f6e-4d8a-9a57-3f6d2a0b7c11")

# core's data_type -> the binding's value type (int, uint and float: core's deprecated aliases).
_CORE_TYPES: dict[str, ValueType] = {
    "int16": "int16",
    "int32": "int32",
    "int64": "int64",
    "uint16": "uint16",
    "uint32": "uint32",
    "uint64": "uint64",
    "float32": "float32",
    "float64": "float64",
    "int": "int16",
    "uint": "uint16",
    "float": "float32",
}
# data_type -> (modv:type, registers, JSON type)
_DATA_TYPES: dict[str, tuple[str, int, str]] = {
    name: (XSD_TYPE[kind], TYPE_WIDTH[kind], "number" if kind.startswith("float") else "integer")
    for name, kind in _CORE_TYPES.items()
}
_SWAPS: dict[str, tuple[bool, bool]] = {
    # swap -> (mostSignificantByte, mostSignificantWord)
    "none": (True, True),
    "byte": (False, True),
    "word": (True, False),
    "word_byte": (False, False),
}
_REGISTER_ENTITIES = {"holding": "HoldingRegister", "input": "InputRegister"}
_BINARY_ENTITIES = {
    "coil": "Coil",
    "discrete_input": "DiscreteInput",
    "holding": "HoldingRegister",
    "input": "InputRegister",
}
# switch write_type -> (entity, modv:function of the write)
_WRITE_TYPES: dict[str, tuple[str, str]] = {
    "holding": ("HoldingRegister", "writeSingleHoldingRegister"),
    "holdings": ("HoldingRegister", "writeMultipleHoldingRegisters"),
    "coil": ("Coil", "writeSingleCoil"),
    "coils": ("Coil", "writeMultipleCoils"),
}
_VERIFY_ENTITIES = {
    "holding": "HoldingRegister",
    "holdings": "HoldingRegister",
    "input": "InputRegister",
    "coil": "Coil",
    "coils": "Coil",
    "discrete_input": "DiscreteInput",
}
_CONVERTED_PLATFORMS = ("sensors", "binary_sensors", "switches")
_OTHER_PLATFORMS = ("climates", "covers", "lights", "fans")
_COMMON_KEYS = {"name", "address", "slave", "device_address", "scan_interval", "unique_id"}
_NOT_CONVERTED: dict[str, str] = {
    # Keys core knows that have no faithful TD equivalent, and why.
    "precision": "a display setting of Home Assistant's entity, not part of the value",
    "min_value": "core clamps the value to it; a TD minimum declares a range instead",
    "max_value": "core clamps the value to it; a TD maximum declares a range instead",
    "zero_suppress": "core's rounding of small values to 0 has no TD equivalent",
    "device_class": "ThingBridge derives the device class from the unit and title",
    "state_class": "ThingBridge derives the state class from the unit",
    "structure": "custom struct formats are not converted",
    "delay": "a wait after connecting or before verifying has no binding term",
    "message_wait_milliseconds": "a pause between requests has no binding term",
}
_SENSOR_KEYS = _COMMON_KEYS | {
    "input_type",
    "data_type",
    "count",
    "swap",
    "scale",
    "offset",
    "nan_value",
    "unit_of_measurement",
    "virtual_count",
    "slave_count",
    "precision",
    "min_value",
    "max_value",
    "zero_suppress",
    "device_class",
    "state_class",
    "structure",
}
_BINARY_KEYS = _COMMON_KEYS | {"input_type", "virtual_count", "slave_count", "device_class"}
_SWITCH_KEYS = _COMMON_KEYS | {"write_type", "command_on", "command_off", "verify", "device_class"}
_VERIFY_KEYS = {"address", "input_type", "state_on", "state_off", "delay"}
_HUB_KEYS = {
    "name",
    "type",
    "host",
    "port",
    "timeout",
    "delay",
    "message_wait_milliseconds",
    "baudrate",
    "bytesize",
    "method",
    "parity",
    "stopbits",
    *_CONVERTED_PLATFORMS,
    *_OTHER_PLATFORMS,
}


class ConversionError(WotValidationError):
    """The YAML cannot be converted at all (not YAML, too big, no ``modbus:`` block)."""


@dataclass
class ConvertedThing:
    """One (hub, unit): its TD and what of its YAML was left out (``$``-paths and reasons)."""

    hub: str
    unit_id: int | None
    td: dict[str, Any] | None
    unsupported: list[str] = field(default_factory=list)

    def as_dict(self, source: str) -> dict[str, Any]:
        """The output line."""
        return {
            "source": source,
            "hub": self.hub,
            "unit_id": self.unit_id,
            "td": self.td,
            "unsupported": self.unsupported,
        }


@dataclass(frozen=True)
class _Tagged:
    """A YAML value behind a Home Assistant tag (``!secret``, ``!include``, ``!env_var``)."""

    tag: str
    value: Any


def _tagged(loader: Any, suffix: str, node: Any) -> _Tagged:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node)
    else:
        value = "…"
    return _Tagged("!" + suffix, value)


# Safe YAML that keeps Home Assistant's tags as markers instead of failing on them.
_Loader: Any = type("_Loader", (yaml.SafeLoader,), {})
_Loader.add_multi_constructor("!", _tagged)


def load_modbus_yaml(path: str | Path) -> Any:
    """Read a YAML file (at most ``MAX_YAML_BYTES``); HA tags become markers.

    Raises:
        ConversionError: unreadable, too big or not YAML.
    """
    try:
        with Path(path).open("rb") as file:
            data = file.read(MAX_YAML_BYTES + 1)
    except OSError as err:
        raise ConversionError("$", f"cannot read the file: {err.strerror or err}") from err
    if len(data) > MAX_YAML_BYTES:
        raise ConversionError("$", f"larger than the {MAX_YAML_BYTES}-byte limit")
    return parse_modbus_yaml(data)


def parse_modbus_yaml(text: str | bytes) -> Any:
    """Decode YAML text (HA tags become markers).

    Raises:
        ConversionError: not YAML, or nested too deeply.
    """
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ConversionError("$", f"not YAML: {err}") from err
    except RecursionError as err:
        raise ConversionError("$", "YAML nested too deeply") from err


def _hubs(document: Any) -> tuple[list[Any], str]:
    """The list of hubs and the path it is at: ``modbus:`` of a configuration, a list, one hub."""
    if isinstance(document, Mapping) and "modbus" in document:
        hubs = document["modbus"]
        path = "$.modbus"
    else:
        hubs, path = document, "$"
    if isinstance(hubs, Mapping):
        return [hubs], path
    if isinstance(hubs, list):
        return hubs, path
    raise ConversionError(path, "expected a modbus: block (a hub or a list of hubs)")


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return slug or "value"


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            return None
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool | _Tagged):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


@dataclass
class _Hub:
    name: str
    path: str
    href_base: str  # "modbus+tcp://host:port" / "modbus+rtu:///dev/ttyUSB0"
    form_terms: dict[str, Any]
    issues: list[str]


class _Converter:
    def __init__(self) -> None:
        self.entities = 0
        self.things: dict[tuple[int, int], ConvertedThing] = {}

    def count_entity(self, path: str, issues: list[str]) -> bool:
        """Count one more entity; ``False`` (and a note, once) past ``MAX_ENTITIES``."""
        self.entities += 1
        if self.entities > MAX_ENTITIES:
            if self.entities == MAX_ENTITIES + 1:
                issues.append(f"{path}: more than {MAX_ENTITIES} entities; the rest are not read")
            return False
        return True

    def hub(self, raw: Any, path: str) -> _Hub | list[str]:
        """The hub's link, or the reasons it cannot be converted."""
        if not isinstance(raw, Mapping):
            return [f"{path}: expected a hub (a mapping)"]
        issues: list[str] = []
        name = raw.get("name", "modbus_hub")
        name = name if isinstance(name, str) else "modbus_hub"
        for key in raw:
            if key not in _HUB_KEYS:
                issues.append(f"{path}.{key}: not a key of a core modbus hub; not converted")
            elif key in _NOT_CONVERTED:
                issues.append(f"{path}.{key}: not converted ({_NOT_CONVERTED[key]})")
            elif key in _OTHER_PLATFORMS:
                count = len(raw[key]) if isinstance(raw[key], list) else 1
                issues.append(
                    f"{path}.{key}: {count} {key} not converted (only sensors, binary sensors "
                    "and switches are)"
                )
        tagged = [k for k, v in raw.items() if isinstance(v, _Tagged)]
        if tagged:
            return [
                *issues,
                *(
                    f"{path}.{k}: {raw[k].tag} values are not read by the converter; "
                    "write the value in the file you convert"
                    for k in tagged
                ),
            ]
        kind = raw.get("type")
        terms: dict[str, Any] = {}
        timeout = _number(raw.get("timeout"))
        if "timeout" in raw:
            if timeout is None or timeout <= 0:
                issues.append(f"{path}.timeout: {raw.get('timeout')!r} is not a number of seconds")
            else:
                terms["modv:timeout"] = round(timeout * 1000)
        if kind in ("tcp", "rtuovertcp"):
            host = raw.get("host")
            port = _int(raw.get("port"))
            if not isinstance(host, str) or not host or port is None or not 0 < port < 65536:
                return [*issues, f"{path}: a {kind} hub needs host and port"]
            shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
            if kind == "rtuovertcp":
                terms["tbm:framing"] = "rtu-over-tcp"
            return _Hub(name, path, f"modbus+tcp://{shown}:{port}", terms, issues)
        if kind == "serial":
            method = raw.get("method", "rtu")
            device = raw.get("port")
            if method != "rtu":
                return [*issues, f"{path}.method: {method!r} is not converted (RTU only)"]
            if not isinstance(device, str) or not device.startswith("/"):
                return [*issues, f"{path}.port: {device!r} is not a serial device path"]
            terms["tbm:framing"] = "rtu"
            for key in ("baudrate", "parity", "stopbits", "bytesize"):
                if key in raw:
                    terms[f"tbm:{key}"] = raw[key]
            return _Hub(name, path, f"modbus+rtu://{device}", terms, issues)
        if kind == "udp":
            return [*issues, f"{path}.type: udp hubs are not converted (Modbus over UDP)"]
        return [*issues, f"{path}.type: {kind!r} is not a hub type (tcp, rtuovertcp, serial)"]

    def _thing(self, hub: _Hub, index: int, unit: int) -> ConvertedThing:
        key = (index, unit)
        if key not in self.things:
            self.things[key] = ConvertedThing(hub.name, unit, {"properties": {}})
        return self.things[key]

    def _unit(self, entity: Mapping[str, Any], path: str, issues: list[str]) -> int | None:
        raw = entity.get("slave", entity.get("device_address", 1))
        unit = _int(raw)
        if unit is None or not 0 <= unit <= 255:
            issues.append(f"{path}.slave: {raw!r} is not a unit id (0..255)")
            return None
        return unit

    def _href(self, hub: _Hub, unit: int, address: int, quantity: int) -> str:
        return f"{hub.href_base}/{unit}/{address}?quantity={quantity}"

    def _name(self, entity: Mapping[str, Any], default: str) -> tuple[str, str]:
        title = entity.get("name")
        title = title if isinstance(title, str) and title else default
        unique = entity.get("unique_id")
        key = _slug(unique if isinstance(unique, str) and unique else title)
        return title, key

    @staticmethod
    def _poll(entity: Mapping[str, Any], form: dict[str, Any]) -> None:
        seconds = _number(entity.get("scan_interval"))
        if seconds is not None and seconds > 0:
            form["modv:pollingTime"] = round(seconds * 1000)

    def _add(
        self, hub: _Hub, index: int, unit: int, entry: tuple[str, dict[str, Any], str]
    ) -> bool:
        """Add one property; ``False`` when the unit's TD is full."""
        key, prop, path = entry
        thing = self._thing(hub, index, unit)
        assert thing.td is not None
        props: dict[str, Any] = thing.td["properties"]
        if len(props) >= MAX_PROPERTIES:
            note = f"unit {unit} has {MAX_PROPERTIES} properties; the rest are not converted"
            if not any(note in item for item in thing.unsupported):
                thing.unsupported.append(f"{path}: {note}")
            return False
        name, n = key, 2
        while name in props:
            name, n = f"{key}_{n}", n + 1
        props[name] = prop
        return True

    def _unknown_keys(
        self, entity: Mapping[str, Any], known: set[str], path: str, platform: str
    ) -> list[str]:
        issues = []
        for key in entity:
            if key not in known:
                issues.append(f"{path}.{key}: not a key of a core modbus {platform}; not converted")
            elif key in _NOT_CONVERTED:
                issues.append(f"{path}.{key}: not converted ({_NOT_CONVERTED[key]})")
            elif isinstance(entity[key], _Tagged):
                issues.append(f"{path}.{key}: {entity[key].tag} values are not read")
        return issues

    def _head(
        self,
        raw: Any,
        keys: set[str],
        path: str,
        issues: list[str],
        kind: str,
    ) -> tuple[int, int] | None:
        """An entity's address and unit (issues noted), or None when it cannot be converted."""
        if not isinstance(raw, Mapping):
            issues.append(f"{path}: expected a {kind} (a mapping)")
            return None
        issues += self._unknown_keys(raw, keys, path, kind)
        address = _int(raw.get("address"))
        unit = self._unit(raw, path, issues)
        if address is None or not 0 <= address <= 0xFFFF:
            issues.append(f"{path}.address: {raw.get('address')!r} is not a register address")
            return None
        if unit is None:
            return None
        return address, unit

    def _virtual(self, entity: Mapping[str, Any], path: str, issues: list[str]) -> int:
        raw = entity.get("virtual_count", entity.get("slave_count", 0))
        count = _int(raw)
        if count is None or count < 0:
            issues.append(f"{path}.virtual_count: {raw!r} is not a count")
            return 0
        if count > MAX_VIRTUAL:
            issues.append(f"{path}.virtual_count: {count} > {MAX_VIRTUAL}; only {MAX_VIRTUAL} made")
            return MAX_VIRTUAL
        return count

    def sensor(  # noqa: PLR0915 - one pass over core's sensor keys
        self, hub: _Hub, index: int, raw: Any, path: str, issues: list[str]
    ) -> None:
        if (head := self._head(raw, _SENSOR_KEYS, path, issues, "sensor")) is None:
            return
        address, unit = head
        data_type = str(raw.get("data_type", "int16"))
        count = _int(raw.get("count"))
        string = data_type == "string"
        if string:
            if count is None or not 0 < count <= 125:
                issues.append(f"{path}.count: a string sensor needs a count of 1..125 registers")
                return
            modv_type, width, json_type = "xsd:string", count, "string"
        elif data_type in _DATA_TYPES:
            modv_type, width, json_type = _DATA_TYPES[data_type]
            if count is not None and count != width:
                issues.append(
                    f"{path}.count: {count} registers do not fit {data_type}; sensor not converted"
                )
                return
        else:
            issues.append(
                f"{path}.data_type: {data_type!r} is not converted"
                + (" (no half-precision float in the binding)" if data_type == "float16" else "")
            )
            return
        form: dict[str, Any] = {
            "op": ["readproperty"],
            "contentType": "application/octet-stream",
            "modv:entity": _REGISTER_ENTITIES.get(str(raw.get("input_type", "holding")), ""),
            "modv:type": modv_type,
            **hub.form_terms,
        }
        if not form["modv:entity"]:
            issues.append(f"{path}.input_type: {raw.get('input_type')!r} is not holding or input")
            return
        swap = str(raw.get("swap", "none"))
        if swap not in _SWAPS:
            issues.append(f"{path}.swap: {swap!r} is not converted")
            return
        if swap in ("word", "word_byte") and width < 2:
            issues.append(f"{path}.swap: {swap} needs a type of two or more registers")
            return
        form["modv:mostSignificantByte"], form["modv:mostSignificantWord"] = _SWAPS[swap]
        scale = _number(raw.get("scale", 1))
        offset = _number(raw.get("offset", 0))
        if scale is None or scale == 0 or offset is None:
            issues.append(f"{path}: scale and offset must be numbers (scale not 0)")
            return
        if not string and (scale != 1 or offset != 0):
            form["tbm:scale"] = scale
            form["tbm:offset"] = offset
            json_type = "number"
        if "nan_value" in raw:
            nan = _int(raw["nan_value"])
            if nan is None or nan < 0:
                issues.append(f"{path}.nan_value: {raw['nan_value']!r} is not converted")
            else:
                form["tbm:notAvailable"] = [nan]
        self._poll(raw, form)
        title, key = self._name(raw, f"Register {address}")
        prop: dict[str, Any] = {"title": title, "type": json_type}
        if isinstance(raw.get("unit_of_measurement"), str):
            prop["unit"] = raw["unit_of_measurement"]
        prop["readOnly"] = True
        prop["observable"] = True
        virtual = self._virtual(raw, path, issues)
        for i in range(virtual + 1):
            at = address + i * width
            if at + width - 1 > 0xFFFF:
                issues.append(f"{path}.virtual_count: register {at} is past 65535")
                break
            if i and not self.count_entity(path, issues):
                break
            one = dict(prop, forms=[dict(form, href=self._href(hub, unit, at, width))])
            if i:
                one["title"] = f"{title} {i}"
            if not self._add(hub, index, unit, (key if not i else f"{key}_{i}", one, path)):
                break

    def binary_sensor(self, hub: _Hub, index: int, raw: Any, path: str, issues: list[str]) -> None:
        if (head := self._head(raw, _BINARY_KEYS, path, issues, "binary sensor")) is None:
            return
        address, unit = head
        input_type = str(raw.get("input_type", "coil"))
        entity = _BINARY_ENTITIES.get(input_type)
        if entity is None:
            issues.append(f"{path}.input_type: {input_type!r} is not converted")
            return
        form: dict[str, Any] = {
            "op": ["readproperty"],
            "contentType": "application/octet-stream",
            "modv:entity": entity,
            **hub.form_terms,
        }
        if entity in ("HoldingRegister", "InputRegister"):
            # Core reads bit 0 of the register (register & 1).
            form["modv:type"] = "xsd:unsignedShort"
            form["tbm:bitOffset"] = 0
            form["tbm:bitLength"] = 1
        self._poll(raw, form)
        title, key = self._name(raw, f"Input {address}")
        prop = {"title": title, "type": "boolean", "readOnly": True, "observable": True}
        virtual = self._virtual(raw, path, issues)
        for i in range(virtual + 1):
            if address + i > 0xFFFF or (i and not self.count_entity(path, issues)):
                break
            one = dict(prop, forms=[dict(form, href=self._href(hub, unit, address + i, 1))])
            if i:
                one["title"] = f"{title} {i}"
            if not self._add(hub, index, unit, (key if not i else f"{key}_{i}", one, path)):
                break

    def switch(  # noqa: PLR0915 - one pass over core's switch keys
        self, hub: _Hub, index: int, raw: Any, path: str, issues: list[str]
    ) -> None:
        if (head := self._head(raw, _SWITCH_KEYS, path, issues, "switch")) is None:
            return
        address, unit = head
        write_type = str(raw.get("write_type", "holding"))
        if write_type not in _WRITE_TYPES:
            issues.append(f"{path}.write_type: {write_type!r} is not converted")
            return
        entity, function = _WRITE_TYPES[write_type]
        on = _int(raw.get("command_on", 1))
        off = _int(raw.get("command_off", 0))
        if on is None or off is None or on == off:
            issues.append(f"{path}: command_on and command_off must be two different integers")
            return
        boolean = (on, off) == (1, 0)
        if entity == "Coil" and not boolean:
            issues.append(f"{path}: a coil switch with commands other than 1/0 is not converted")
            return
        title, key = self._name(raw, f"Switch {address}")
        prop: dict[str, Any] = {"title": title}
        if boolean:
            prop["type"] = "boolean"
        else:
            prop.update(type="integer", enum=[off, on])
            prop["description"] = f"{off}: off, {on}: on (core's command_off and command_on)"
        value_terms: dict[str, Any] = {}
        if entity == "HoldingRegister":
            value_terms["modv:type"] = "xsd:boolean" if boolean else "xsd:unsignedShort"
        write: dict[str, Any] = {
            "href": self._href(hub, unit, address, 1),
            "op": ["writeproperty"],
            "contentType": "application/octet-stream",
            "modv:entity": entity,
            "modv:function": function,
            **value_terms,
            **hub.form_terms,
        }
        forms = [write]
        verify: Any = None
        if "verify" in raw:
            verify = raw["verify"] if raw["verify"] is not None else {}
            if not isinstance(verify, Mapping):
                issues.append(f"{path}.verify: expected a mapping")
        if isinstance(verify, Mapping):
            issues.extend(
                f"{path}.verify.{vkey}: not a key of verify; not converted"
                for vkey in verify
                if vkey not in _VERIFY_KEYS
            )
            if "delay" in verify:
                issues.append(f"{path}.verify.delay: not converted ({_NOT_CONVERTED['delay']})")
            v_address = _int(verify.get("address", address))
            v_type = str(verify.get("input_type", write_type))
            v_entity = _VERIFY_ENTITIES.get(v_type)
            if v_address is None or v_entity is None:
                issues.append(f"{path}.verify: address or input_type not converted")
            else:
                state_on = verify.get("state_on", [on])
                state_off = verify.get("state_off", [off])
                state_on = state_on if isinstance(state_on, list) else [state_on]
                state_off = state_off if isinstance(state_off, list) else [state_off]
                if state_on != [on] or state_off != [off]:
                    issues.append(
                        f"{path}.verify: state_on {state_on} / state_off {state_off}: only the "
                        f"commands {on} (on) and {off} (off) are read as states"
                    )
                read: dict[str, Any] = {
                    "href": self._href(hub, unit, v_address, 1),
                    "op": ["readproperty"],
                    "contentType": "application/octet-stream",
                    "modv:entity": v_entity,
                    **hub.form_terms,
                }
                if v_entity in ("HoldingRegister", "InputRegister"):
                    read["modv:type"] = value_terms.get("modv:type", "xsd:unsignedShort")
                self._poll(raw, read)
                forms.insert(0, read)
        if len(forms) == 1:
            prop["writeOnly"] = True
        else:
            prop["observable"] = True
        prop["forms"] = forms
        self._add(hub, index, unit, (key, prop, path))


def convert_modbus_yaml(document: Any) -> list[ConvertedThing]:
    """One :class:`ConvertedThing` per (hub, unit) of a decoded core ``modbus:`` block.

    ``document`` may be a whole configuration (with a ``modbus:`` key), the block's list of
    hubs or one hub. A hub that cannot be converted gives an entry with ``td`` ``None``.

    Raises:
        ConversionError: there is no modbus block.
    """
    hubs, base_path = _hubs(document)
    converter = _Converter()
    results: list[ConvertedThing] = []
    for index, raw in enumerate(hubs[:64]):
        path = f"{base_path}[{index}]"
        hub = converter.hub(raw, path)
        if not isinstance(hub, _Hub):
            name = raw.get("name", "modbus_hub") if isinstance(raw, Mapping) else "?"
            results.append(ConvertedThing(str(name), None, None, hub))
            continue
        issues = list(hub.issues)
        handlers = {
            "sensors": converter.sensor,
            "binary_sensors": converter.binary_sensor,
            "switches": converter.switch,
        }
        for platform, handler in handlers.items():
            entities = raw.get(platform) or []
            entities = entities if isinstance(entities, list) else [entities]
            for position, entity in enumerate(entities):
                epath = f"{path}.{platform}[{position}]"
                if converter.count_entity(epath, issues):
                    handler(hub, index, entity, epath, issues)
        things = [t for (i, _u), t in sorted(converter.things.items()) if i == index]
        if not things:
            results.append(ConvertedThing(hub.name, None, None, issues))
            continue
        several = len(things) > 1
        for position, thing in enumerate(things):
            thing.td = _finish(hub, thing, several=several)
            if position == 0:
                thing.unsupported = issues + thing.unsupported
            results.append(thing)
    if len(hubs) > 64:
        results.append(
            ConvertedThing("?", None, None, [f"{base_path}: more than 64 hubs; the rest skipped"])
        )
    return results


def _finish(hub: _Hub, thing: ConvertedThing, *, several: bool) -> dict[str, Any]:
    assert thing.td is not None
    unit = thing.unit_id
    link = f"{hub.href_base}/{unit}"
    return {
        "@context": [TD_CONTEXT, {"modv": MODV_NAMESPACE, "tbm": TBM_NAMESPACE}],
        "id": uuid.uuid5(_ID_NAMESPACE, f"{hub.name}|{link}").urn,
        "title": f"{hub.name} unit {unit}" if several else hub.name,
        "description": (
            f"Converted from Home Assistant's modbus YAML: hub {hub.name!r}, unit {unit}."
        ),
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
        "security": "nosec_sc",
        "properties": thing.td["properties"],
    }


def convert_file(path: str | Path) -> list[ConvertedThing]:
    """:func:`convert_modbus_yaml` of a YAML file.

    Raises:
        ConversionError: unreadable, not YAML, too big, or no modbus block.
    """
    return convert_modbus_yaml(load_modbus_yaml(path))
