"""OsmAnd / Traccar Client over HTTP: pure parsers for the three request shapes.

The Traccar Client apps and OsmAnd send one of (see ``gps-trackers.md`` §2.5):

- **query string** (legacy Android app, POST with an empty body; OsmAnd): ``id`` or
  ``deviceid``, ``lat``/``lon`` or ``location=lat,lon``, ``timestamp`` (Unix seconds
  below 2³¹-1, milliseconds above, ISO 8601 when it contains ``T``, else
  ``yyyy-MM-dd HH:mm:ss`` in ``local_tz``), ``speed`` in **knots**, ``bearing``/``heading``,
  ``altitude``, ``accuracy``, ``hdop``, ``batt`` (%), ``charge``, ``valid``, repeatable
  ``cell``/``wifi``; any other key is kept in ``io`` (numbers, booleans or text);
- **form body** (app 10.1): the same keys, ``application/x-www-form-urlencoded``;
- **JSON body** (app 9.x, ``application/json``): ``{"device_id": …, "location":
  {"timestamp": ISO, "coords": {"latitude", "longitude", "speed" (**m/s**, -1 unknown),
  "heading" (-1 unknown), "altitude", "accuracy"}, "battery": {"level" 0-1,
  "is_charging"}, "is_moving", "odometer", "event", "activity", "extras"}}``; ``location``
  may also be a list (batch upload).

A report without coordinates (cell/Wi-Fi only) becomes a :class:`StatusReport`. Bad
input raises :class:`ProtocolError` subclasses naming the field (a missing ``id`` is a
:class:`MissingFieldError`, an ID outside ``[A-Za-z0-9._:-]{1,64}`` a :class:`FieldError`,
see :mod:`.ids`). What to answer is the gateway's decision; Traccar answers 200
for a known device, 400 (query/form) or 404 (JSON) for an unknown one, and the apps
keep re-sending until they get a 2xx.

Pure functions with no I/O: the gateway hands over the decoded request parts. ``json``
and ``urllib.parse`` from the standard library do the parsing.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
import json
import math
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ._util import check_coordinates, from_epoch, parse_float
from .errors import FieldError, FrameError, MissingFieldError, ProtocolError
from .ids import check_device_id
from .model import KNOTS_TO_KMH, MPS_TO_KMH, IoValue, Position, StatusReport

PROTOCOL = "osmand"
MAX_BODY = 64 * 1024
"""Largest body accepted (Traccar's HTTP aggregator limit)."""

Report = Position | StatusReport

_INT32_MAX = 2**31 - 1


def _text(data: str | bytes, what: str) -> str:
    if isinstance(data, str):
        return data
    if len(data) > MAX_BODY:
        raise FrameError(f"{what} is larger than {MAX_BODY} bytes", protocol=PROTOCOL)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FrameError(f"{what} is not UTF-8", protocol=PROTOCOL, raw=data) from None


def _bool(text: str) -> bool:
    return text.strip().lower() in ("true", "1", "yes", "on")


def _timestamp(value: str, local_tz: tzinfo) -> datetime:
    text = value.strip()
    if text.isascii() and text.lstrip("-").isdigit() and len(text) <= 20:
        number = int(text)
        seconds = number if number < _INT32_MAX else number / 1000.0
        return from_epoch(seconds, field="timestamp", protocol=PROTOCOL)
    if "T" in text:
        return _iso(text)
    try:
        naive = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise FieldError(
            "timestamp",
            value,
            "not seconds, milliseconds, ISO 8601 or yyyy-MM-dd HH:mm:ss",
            protocol=PROTOCOL,
        ) from None
    return naive.replace(tzinfo=local_tz).astimezone(UTC)


def _iso(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise FieldError("timestamp", text, "not ISO 8601", protocol=PROTOCOL) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _io_value(text: str) -> IoValue:
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if math.isfinite(number) and text.strip().lstrip("+-").replace(".", "", 1).isdigit():
        return int(number) if number.is_integer() and "." not in text else number
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return text


def parse_query(
    query: str | bytes,
    *,
    received_at: datetime | None = None,
    local_tz: tzinfo = UTC,
) -> Report:
    """Parse a query string or form body (``id=…&lat=…``) into one report.

    Args:
        query: The query string (with or without a leading ``/?`` path) or form body.
        received_at: Used as the time when the request has no ``timestamp``
            (default: now).
        local_tz: Zone of ``yyyy-MM-dd HH:mm:ss`` timestamps.
    """
    text = _text(query, "query")
    if "?" in text:
        text = urlsplit(text).query
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=500)
    except ValueError as err:
        raise FrameError(f"malformed query: {err}", protocol=PROTOCOL) from None
    params: dict[str, str] = {}
    cells: list[str] = []
    wifis: list[str] = []
    for key, value in pairs:
        if key == "cell":
            cells.append(value)
        elif key == "wifi":
            mac, sep, rest = value.partition(",")
            wifis.append(mac.replace("-", ":") + sep + rest)
        else:
            params[key] = value
    device_id = params.get("id") or params.get("deviceid")
    if not device_id:
        raise MissingFieldError("id", protocol=PROTOCOL, raw=text.encode("utf-8", "replace"))
    check_device_id(PROTOCOL, device_id, text.encode("utf-8", "replace"))
    try:
        return _from_params(
            device_id,
            params=params,
            cells=cells,
            wifis=wifis,
            received_at=received_at,
            local_tz=local_tz,
            text=text,
        )
    except ProtocolError as err:
        err.device_id = device_id
        raise


_KNOWN = frozenset(
    {
        "id",
        "deviceid",
        "lat",
        "lon",
        "location",
        "timestamp",
        "speed",
        "bearing",
        "heading",
        "altitude",
        "accuracy",
        "hdop",
        "batt",
        "charge",
        "valid",
    }
)


def _from_params(
    device_id: str,
    *,
    params: dict[str, str],
    cells: list[str],
    wifis: list[str],
    received_at: datetime | None,
    local_tz: tzinfo,
    text: str,
) -> Report:
    def num(key: str) -> float | None:
        value = params.get(key)
        if value is None or value.strip() == "":
            return None
        return parse_float(value, key, protocol=PROTOCOL)

    lat, lon = num("lat"), num("lon")
    if "location" in params:
        parts = params["location"].split(",")
        if len(parts) != 2:
            raise FieldError("location", params["location"], "expected lat,lon", protocol=PROTOCOL)
        lat = parse_float(parts[0], "location", protocol=PROTOCOL)
        lon = parse_float(parts[1], "location", protocol=PROTOCOL)
    if (lat is None) != (lon is None):
        raise MissingFieldError("lon" if lon is None else "lat", protocol=PROTOCOL)
    stamp = params.get("timestamp")
    time = (
        _timestamp(stamp, local_tz) if stamp else (received_at or datetime.now(UTC)).astimezone(UTC)
    )
    io: dict[str, IoValue] = {k: _io_value(v) for k, v in params.items() if k not in _KNOWN}
    if cells:
        io["cells"] = ";".join(cells)
    if wifis:
        io["wifi"] = ";".join(wifis)
    battery = num("batt")
    charging = _bool(params["charge"]) if "charge" in params else None
    ignition = _pop_bool(io, "ignition")
    motion = _pop_bool(io, "motion")
    alarm = io.pop("alarm", None)
    raw = text.encode("utf-8", "replace")
    if lat is None or lon is None:
        return StatusReport(
            protocol=PROTOCOL, device_id=device_id, raw=raw, time=time, battery_percent=battery,
            charging=charging, ignition=ignition, alarm=str(alarm) if alarm is not None else None, io=io,
        )  # fmt: skip
    check_coordinates(lat, lon, protocol=PROTOCOL)
    speed = num("speed")
    course = num("bearing") if "bearing" in params else num("heading")
    valid = _bool(params["valid"]) if "valid" in params else True
    return Position(
        protocol=PROTOCOL,
        device_id=device_id,
        raw=raw,
        fix_time=time,
        latitude=lat,
        longitude=lon,
        valid=valid,
        altitude_m=num("altitude"),
        speed_kmh=None if speed is None else speed * KNOTS_TO_KMH,
        course_deg=course,
        hdop=num("hdop"),
        accuracy_m=num("accuracy"),
        battery_percent=battery,
        charging=charging,
        ignition=ignition,
        motion=motion,
        odometer_m=_pop_float(io, "odometer"),
        alarm=str(alarm) if alarm is not None else None,
        io=io,
    )


def _pop_bool(io: dict[str, IoValue], key: str) -> bool | None:
    value = io.get(key)
    if isinstance(value, bool):
        del io[key]
        return value
    return None


def _pop_float(io: dict[str, IoValue], key: str) -> float | None:
    value = io.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        del io[key]
        return float(value)
    return None


def parse_json(body: str | bytes) -> list[Report]:
    """Parse a Traccar Client JSON body (one location or a ``location`` list)."""
    text = _text(body, "body")
    try:
        root = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise FrameError(
            f"body is not JSON: {err}", protocol=PROTOCOL, raw=text.encode("utf-8", "replace")
        ) from None
    if not isinstance(root, dict):
        raise FrameError("JSON body must be an object", protocol=PROTOCOL)
    device = root.get("device_id")
    if isinstance(device, bool) or not isinstance(device, (str, int)) or str(device) == "":
        raise MissingFieldError("device_id", protocol=PROTOCOL)
    device_id = check_device_id(PROTOCOL, str(device), text.encode("utf-8", "replace"))
    locations = root.get("location")
    items = locations if isinstance(locations, list) else [locations]
    raw = text.encode("utf-8")
    try:
        return [_location(device_id, item, raw) for item in items]
    except ProtocolError as err:
        err.device_id = device_id
        raise


def _number(obj: dict[str, Any], key: str, *, required: bool = False) -> float | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise MissingFieldError(f"coords.{key}", protocol=PROTOCOL)
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FieldError(key, value, "not a number", protocol=PROTOCOL)
    return float(value)


def _location(device_id: str, location: object, raw: bytes) -> Report:
    if not isinstance(location, dict):
        raise MissingFieldError("location", protocol=PROTOCOL)
    stamp = location.get("timestamp")
    if not isinstance(stamp, str):
        raise MissingFieldError("location.timestamp", protocol=PROTOCOL)
    time = _iso(stamp)
    io: dict[str, IoValue] = {}
    for key in ("event", "uuid"):
        if isinstance(location.get(key), str):
            io[key] = location[key]
    if isinstance(location.get("mock"), bool):
        io["mock"] = location["mock"]
    activity = location.get("activity")
    if isinstance(activity, dict) and isinstance(activity.get("type"), str):
        io["activity"] = activity["type"]
    extras = location.get("extras")
    if isinstance(extras, dict):
        for key, value in extras.items():
            if isinstance(value, (str, int, float, bool)) and not (
                isinstance(value, float) and not math.isfinite(value)
            ):
                io[str(key)] = value
    motion = location.get("is_moving") if isinstance(location.get("is_moving"), bool) else None
    odometer = _number(location, "odometer")
    battery_percent: float | None = None
    charging: bool | None = None
    battery = location.get("battery")
    if isinstance(battery, dict):
        level = _number(battery, "level")
        if level is not None and level >= 0:
            battery_percent = float(int(level * 100)) if level <= 1 else level
        if isinstance(battery.get("is_charging"), bool):
            charging = battery["is_charging"]
    alarm = location.get("alarm") if isinstance(location.get("alarm"), str) else None
    coords = location.get("coords")
    if not isinstance(coords, dict):
        return StatusReport(
            protocol=PROTOCOL, device_id=device_id, raw=raw, time=time, battery_percent=battery_percent,
            charging=charging, alarm=alarm, io=io,
        )  # fmt: skip
    lat = _number(coords, "latitude", required=True)
    lon = _number(coords, "longitude", required=True)
    assert lat is not None
    assert lon is not None
    check_coordinates(lat, lon, protocol=PROTOCOL)
    speed = _number(coords, "speed")
    heading = _number(coords, "heading")
    for key in ("speed_accuracy", "heading_accuracy", "altitude_accuracy"):
        value = coords.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            io[key] = value
    return Position(
        protocol=PROTOCOL,
        device_id=device_id,
        raw=raw,
        fix_time=time,
        latitude=lat,
        longitude=lon,
        valid=True,
        altitude_m=_number(coords, "altitude"),
        speed_kmh=speed * MPS_TO_KMH if speed is not None and speed >= 0 else None,
        course_deg=heading if heading is not None and heading >= 0 else None,
        accuracy_m=_number(coords, "accuracy"),
        battery_percent=battery_percent,
        charging=charging,
        motion=motion,
        odometer_m=odometer,
        alarm=alarm,
        io=io,
    )


def parse_request(
    *,
    query: str | bytes = "",
    body: str | bytes = b"",
    content_type: str | None = None,
    received_at: datetime | None = None,
    local_tz: tzinfo = UTC,
) -> list[Report]:
    """Parse an OsmAnd/Traccar Client HTTP request, whatever its shape.

    A JSON content type (or a body starting with ``{``) selects the JSON format;
    otherwise the query string is used, or the form body when the query is empty.
    """
    body_text = _text(body, "body")
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "application/json" or (not media and body_text.lstrip().startswith("{")):
        return parse_json(body_text)
    query_text = _text(query, "query")
    if "?" in query_text or query_text.startswith("/"):
        query_text = urlsplit(query_text).query  # a request target: keep the query part
    source = query_text if query_text.strip() else body_text
    if not source.strip():
        raise MissingFieldError("id", protocol=PROTOCOL)
    return [parse_query(source, received_at=received_at, local_tz=local_tz)]


def parse_text(text: str | bytes, *, received_at: datetime | None = None) -> list[Report]:
    """Parse a request given as one string: a JSON body, a ``/?query`` or a form body."""
    body = _text(text, "input")
    if body.lstrip().startswith("{"):
        return parse_json(body)
    return [parse_query(body, received_at=received_at)]
