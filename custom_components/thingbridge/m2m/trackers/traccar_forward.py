"""Positions a Traccar server forwards (``forward.type=mqtt``, ``json``, ``amqp``, ``kafka``).

When a fleet outgrows one host, a clustered Traccar runs the protocol decoders and forwards
every position it stores. Each forwarder sends the same JSON document, Traccar's
``PositionData`` serialised by its Jackson ``ObjectMapper`` (``forward/PositionData.java``,
``forward/PositionForwarderMqtt.java``; dates as ISO 8601 text since
``MainModule.provideObjectMapper`` disables ``WRITE_DATES_AS_TIMESTAMPS``; null members
omitted)::

    {"position": {"id": 1, "deviceId": 7, "protocol": "teltonika",
                  "serverTime": "…", "deviceTime": "…", "fixTime": "2026-12-04T10:00:00.000+00:00",
                  "valid": true, "latitude": 52.1, "longitude": 4.3, "altitude": 12.0,
                  "speed": 27.0, "course": 90.0, "accuracy": 0.0,
                  "attributes": {"ignition": true, "odometer": 12345.0, "hours": 3600000,
                                 "batteryLevel": 80, "power": 12.6, "sat": 9, "motion": true}},
     "device": {"id": 7, "name": "Van 3", "uniqueId": "356307042441013", …}}

Traccar's units (``model/Position.java``): speed in knots, altitude and accuracy in metres
(``0`` accuracy: unknown), ``odometer``/``tripOdometer`` in metres, ``hours`` in
milliseconds, ``power``/``battery`` in volts, ``batteryLevel`` in percent, ``sat`` the
satellites in use, ``rssi`` the signal, ``alarm`` camelCase names (``powerCut``), several
joined with ``","``.

:func:`decode_forwarded` turns one such document into the library's :class:`.Position` with
``protocol`` ``"traccar"`` and ``device_id`` the Traccar ``uniqueId`` (normally the IMEI),
so the gateway's state, journal and entities take it like any decoded position; the protocol
Traccar decoded it with goes to ``io["protocol"]``, other plain attributes to ``io``.

Hostile input is bounded: at most :data:`MAX_PAYLOAD` bytes, nesting at most
:data:`MAX_DEPTH` deep (checked before parsing), no ``NaN``/``Infinity``, coordinates in
range, every field's type checked; anything wrong is a :class:`.FieldError`,
:class:`.MissingFieldError` or :class:`.FrameError` naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
import json
import math
import re
from typing import Any

from .errors import FieldError, FrameError, MissingFieldError
from .ids import check_device_id
from .model import ALARMS, KNOTS_TO_KMH, IoValue, Position, join_alarms

PROTOCOL = "traccar"
"""The protocol name of positions forwarded by Traccar (their trackers' key in the gateway)."""

DEFAULT_TOPIC = "positions"
"""Traccar's default ``forward.topic`` (``config/Keys.java``): one topic for every device."""

MAX_PAYLOAD = 64 * 1024
"""The largest document accepted, in bytes (a real one is well under 2 KiB)."""

MAX_DEPTH = 8
"""The deepest nesting of objects and arrays accepted (Traccar's documents use 3)."""

MAX_IO = 64
"""At most this many attributes are kept in ``io``; the rest are dropped."""

MAX_TEXT = 256
"""Longer text attributes are dropped from ``io``."""

_NESTING = re.compile(rb'[\[\]{}"\\]')

# Traccar's alarm names (model/Position.java ALARM_*) → the library's (model.ALARMS).
_ALARMS = {
    "general": "general", "sos": "sos", "vibration": "vibration", "movement": "movement",
    "lowspeed": "low_speed", "overspeed": "overspeed", "fallDown": "fall_down",
    "lowPower": "low_power", "lowBattery": "low_battery", "fault": "fault",
    "powerOff": "power_off", "powerOn": "power_on", "door": "door", "lock": "lock",
    "unlock": "unlock", "geofence": "geofence", "geofenceEnter": "geofence_enter",
    "geofenceExit": "geofence_exit", "accident": "accident", "tow": "tow", "idle": "idle",
    "hardAcceleration": "acceleration", "hardBraking": "braking",
    "hardCornering": "cornering", "powerCut": "power_cut", "jamming": "jamming",
    "temperature": "temperature", "bonnet": "bonnet", "footBrake": "foot_brake",
    "fuelLeak": "fuel_leak", "tampering": "tampering", "removing": "removing",
}  # fmt: skip
assert set(_ALARMS.values()) <= ALARMS

# Attributes that become Position fields: Traccar key → (field, kind, scale).
_NUMBERS = {
    "odometer": ("odometer_m", 1.0),
    "tripOdometer": ("trip_odometer_m", 1.0),
    "hours": ("engine_hours_s", 0.001),
    "power": ("external_voltage_v", 1.0),
    "battery": ("battery_v", 1.0),
    "batteryLevel": ("battery_percent", 1.0),
    "hdop": ("hdop", 1.0),
}
_INTS = {"sat": "satellites", "rssi": "gsm_signal"}
_BOOLS = {"ignition": "ignition", "motion": "motion", "charge": "charging", "archive": "archive"}


@dataclass(frozen=True, slots=True)
class ForwardedPosition:
    """One forwarded document.

    Attributes:
        position: The position, ``protocol`` :data:`PROTOCOL`, ``device_id`` the uniqueId.
        device_name: The device's name in Traccar, when the document carries it.
        traccar_protocol: The protocol Traccar decoded it with, when given.
    """

    position: Position
    device_name: str | None
    traccar_protocol: str | None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _check_depth(data: bytes) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` without parsing (bounded recursion)."""
    depth = 0
    in_string = False
    escaped = False
    for match in _NESTING.finditer(data):
        char = match.group()
        if in_string:
            if escaped:
                escaped = False
            elif char == b"\\":
                # an escape consumes the next byte: only matters if that byte is a quote or
                # a backslash, which the pattern also matches at the very next position
                escaped = match.end() < len(data) and data[match.end() : match.end() + 1] in (
                    b'"',
                    b"\\",
                )
            elif char == b'"':
                in_string = False
        elif char == b'"':
            in_string = True
        elif char in (b"{", b"["):
            depth += 1
            if depth > MAX_DEPTH:
                raise FrameError(f"JSON nested deeper than {MAX_DEPTH} levels", protocol=PROTOCOL)
        elif char in (b"}", b"]"):
            depth -= 1


def _number(obj: dict[str, Any], key: str, *, required: bool = False) -> float | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise MissingFieldError(f"position.{key}", protocol=PROTOCOL)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError(f"position.{key}", value, "is not a number", protocol=PROTOCOL)
    number = float(value)
    if not math.isfinite(number):
        raise FieldError(f"position.{key}", value, "is not finite", protocol=PROTOCOL)
    return number


def _time(value: object, field: str) -> datetime:
    """Jackson's ISO 8601 text (``…T10:00:00.000+00:00``), or epoch milliseconds."""
    if isinstance(value, str) and len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC)
    elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**45:
        return datetime.fromtimestamp(value / 1000, UTC)
    raise FieldError(field, value, "is not an ISO 8601 time", protocol=PROTOCOL)


def _attributes(raw: object) -> tuple[dict[str, Any], dict[str, IoValue]]:
    """The Position fields Traccar's attributes fill, and the other plain attributes."""
    if raw is None:
        return {}, {}
    if not isinstance(raw, dict):
        raise FieldError("position.attributes", raw, "is not an object", protocol=PROTOCOL)
    fields: dict[str, Any] = {}
    io: dict[str, IoValue] = {}
    for key, value in raw.items():
        if key in _NUMBERS:
            name, scale = _NUMBERS[key]
            if isinstance(value, int | float) and not isinstance(value, bool):
                if math.isfinite(value):
                    fields[name] = float(value) * scale
                continue
        elif key in _INTS:
            if isinstance(value, int) and not isinstance(value, bool) and -1000 < value < 1000:
                fields[_INTS[key]] = value
                continue
        elif key in _BOOLS:
            if isinstance(value, bool):
                fields[_BOOLS[key]] = value
                continue
        elif key == "alarm":
            if isinstance(value, str):
                names = [_ALARMS.get(n.strip(), "general") for n in value[:MAX_TEXT].split(",")]
                fields["alarm"] = join_alarms(names)
                continue
        elif (
            key == "event"
            and isinstance(value, int | str)
            and not isinstance(value, bool)
            and (isinstance(value, int) or len(value) <= MAX_TEXT)
        ):
            fields["event"] = value
            continue
        if len(io) >= MAX_IO or len(key) > 64:
            continue
        if (
            isinstance(value, bool | int | str)
            and not (isinstance(value, str) and len(value) > MAX_TEXT)
        ) or (isinstance(value, float) and math.isfinite(value)):
            io[key] = value
    return fields, io


def _coordinates(position: dict[str, Any]) -> tuple[float, float]:
    latitude = _number(position, "latitude", required=True) or 0.0
    longitude = _number(position, "longitude", required=True) or 0.0
    if not -90.0 <= latitude <= 90.0:
        raise FieldError("position.latitude", latitude, "is outside -90..90", protocol=PROTOCOL)
    if not -180.0 <= longitude <= 180.0:
        raise FieldError("position.longitude", longitude, "is outside -180..180", protocol=PROTOCOL)
    return latitude, longitude


def _motion(position: dict[str, Any]) -> dict[str, Any]:
    """Speed (knots to km/h), course, altitude and accuracy, each checked for its range."""
    speed = _number(position, "speed")
    if speed is not None and not 0.0 <= speed < 10_000.0:
        raise FieldError("position.speed", speed, "is not a speed in knots", protocol=PROTOCOL)
    course = _number(position, "course")
    if course is not None and not -360.0 <= course <= 360.0:
        raise FieldError("position.course", course, "is not a course", protocol=PROTOCOL)
    altitude = _number(position, "altitude")
    if altitude is not None and not -20_000.0 < altitude < 1_000_000.0:
        raise FieldError("position.altitude", altitude, "is not an altitude", protocol=PROTOCOL)
    accuracy = _number(position, "accuracy")
    return {
        "altitude_m": altitude,
        "speed_kmh": None if speed is None else speed * KNOTS_TO_KMH,
        "course_deg": None if course is None else course % 360.0,
        # Traccar's 0 means unknown
        "accuracy_m": accuracy if accuracy and 0.0 < accuracy < 1e7 else None,
    }


def decode_forwarded(payload: bytes | str) -> ForwardedPosition:
    """Decode one document a Traccar forwarder sent.

    Args:
        payload: The MQTT message's payload (or Kafka/AMQP body), UTF-8 JSON.

    Raises:
        FrameError: Too large, nested too deep, not JSON, not an object.
        MissingFieldError: No ``position``, ``device.uniqueId``, coordinates or fix time.
        FieldError: A field of the wrong type or out of range (names the field).
    """
    data = payload.encode() if isinstance(payload, str) else bytes(payload)
    if len(data) > MAX_PAYLOAD:
        raise FrameError(
            f"{len(data)} bytes exceed the {MAX_PAYLOAD}-byte limit", protocol=PROTOCOL
        )
    if data.count(b"{") + data.count(b"[") > MAX_DEPTH:  # else it cannot nest deeper
        _check_depth(data)
    try:
        doc = json.loads(data, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as err:  # fmt: skip
        raise FrameError(f"not JSON: {err}", protocol=PROTOCOL, raw=data) from err
    if not isinstance(doc, dict):
        raise FrameError("not a JSON object", protocol=PROTOCOL, raw=data)
    position = doc.get("position")
    device = doc.get("device")
    if position is None:
        raise MissingFieldError("position", protocol=PROTOCOL, raw=data)
    if not isinstance(position, dict):
        raise FieldError("position", position, "is not an object", protocol=PROTOCOL, raw=data)
    if not isinstance(device, dict) or device.get("uniqueId") is None:
        # Traccar omits the device when its cache lost it: the position cannot be attributed.
        raise MissingFieldError("device.uniqueId", protocol=PROTOCOL, raw=data)
    unique_id = device["uniqueId"]
    if not isinstance(unique_id, str):
        raise FieldError("device.uniqueId", unique_id, "is not text", protocol=PROTOCOL)
    device_id = check_device_id(PROTOCOL, unique_id, data)
    name = device.get("name")
    device_name = name.strip()[:MAX_TEXT] or None if isinstance(name, str) else None
    protocol = position.get("protocol")
    traccar_protocol = protocol[:64] if isinstance(protocol, str) and protocol else None

    latitude, longitude = _coordinates(position)
    if "fixTime" not in position:
        raise MissingFieldError("position.fixTime", protocol=PROTOCOL, raw=data)
    fix_time = _time(position["fixTime"], "position.fixTime")
    valid = position.get("valid", True)
    if not isinstance(valid, bool):
        raise FieldError("position.valid", valid, "is not true or false", protocol=PROTOCOL)
    motion = _motion(position)
    fields, io = _attributes(position.get("attributes"))
    if traccar_protocol is not None:
        io["protocol"] = traccar_protocol
    return ForwardedPosition(
        Position(
            protocol=PROTOCOL,
            device_id=device_id,
            fix_time=fix_time,
            latitude=latitude,
            longitude=longitude,
            valid=valid,
            io=io,
            **motion,
            **fields,
        ),
        device_name,
        traccar_protocol,
    )
