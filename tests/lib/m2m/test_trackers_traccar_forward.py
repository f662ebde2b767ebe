"""Positions forwarded by Traccar (``forward.type=mqtt``/``json``): decoding and hostile input."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
import io
import json
import math
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.thingbridge.m2m import (
    SOURCES,
    TRACCAR_DEFAULT_TOPIC,
    TRACCAR_PROTOCOL,
    ForwardedPosition,
    Position,
    decode_forwarded,
)
from custom_components.thingbridge.m2m.trackers.__main__ import main as cli_main
from custom_components.thingbridge.m2m.trackers.errors import (
    FieldError,
    FrameError,
    MissingFieldError,
    ProtocolError,
)
from custom_components.thingbridge.m2m.trackers.traccar_forward import MAX_DEPTH, MAX_IO

# A document as Traccar 6 forwards it: PositionData {position, device} through Jackson, dates
# as ISO 8601 with milliseconds and an offset, null members left out.
DOC: dict[str, Any] = {
    "position": {
        "id": 1201,
        "attributes": {
            "priority": 0,
            "sat": 9,
            "event": 0,
            "ignition": True,
            "motion": True,
            "odometer": 123456.0,
            "hours": 7_200_000,
            "power": 12.6,
            "battery": 4.1,
            "batteryLevel": 80,
            "rssi": 4,
            "distance": 12.5,
            "totalDistance": 98765.4,
            "alarm": "powerCut,hardBraking,somethingNew",
        },
        "deviceId": 7,
        "protocol": "teltonika",
        "serverTime": "2026-12-04T10:00:02.120+00:00",
        "deviceTime": "2026-12-04T10:00:00.000+00:00",
        "fixTime": "2026-12-04T10:00:00.000+00:00",
        "outdated": False,
        "valid": True,
        "latitude": 52.370216,
        "longitude": 4.895168,
        "altitude": 12.0,
        "speed": 27.0,
        "course": 181.0,
        "accuracy": 0.0,
        "network": None,
        "geofenceIds": None,
    },
    "device": {
        "id": 7,
        "attributes": {},
        "groupId": 0,
        "calendarId": 0,
        "name": "Van 3",
        "uniqueId": "356307042441013",
        "status": "online",
        "lastUpdate": "2026-12-04T10:00:02.120+00:00",
        "positionId": 1200,
        "phone": None,
        "model": "FMB920",
        "contact": None,
        "category": "van",
        "disabled": False,
        "expirationTime": None,
    },
}


def _doc(**position: Any) -> dict[str, Any]:
    doc = copy.deepcopy(DOC)
    doc["position"].update(position)
    return doc


def test_decodes_traccar_document_into_the_common_model() -> None:
    """Units become the library's: knots to km/h, hours from ms; uniqueId is the device."""
    result = decode_forwarded(json.dumps(DOC).encode())
    assert isinstance(result, ForwardedPosition)
    pos = result.position
    assert isinstance(pos, Position)
    assert pos.protocol == TRACCAR_PROTOCOL == "traccar"
    assert pos.device_id == "356307042441013"
    assert result.device_name == "Van 3"
    assert result.traccar_protocol == "teltonika"
    assert pos.fix_time == datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    assert (pos.latitude, pos.longitude, pos.valid) == (52.370216, 4.895168, True)
    assert pos.speed_kmh == pytest.approx(27.0 * 1.852)
    assert pos.course_deg == 181.0
    assert pos.altitude_m == 12.0
    assert pos.accuracy_m is None  # Traccar's 0 means unknown
    assert pos.ignition is True
    assert pos.motion is True
    assert pos.odometer_m == 123456.0
    assert pos.engine_hours_s == 7200.0
    assert pos.external_voltage_v == 12.6
    assert pos.battery_v == 4.1
    assert pos.battery_percent == 80.0
    assert pos.satellites == 9
    assert pos.gsm_signal == 4
    assert pos.event == 0
    # Traccar's camelCase alarms become the library's names; an unknown one is "general"
    assert pos.alarm == "power_cut,braking,general"
    assert pos.io == {
        "priority": 0,
        "distance": 12.5,
        "totalDistance": 98765.4,
        "protocol": "teltonika",
    }


def test_defaults_and_other_time_forms() -> None:
    """A minimal document; ``Z``, naive and epoch-millisecond times are all UTC."""
    minimal = {
        "position": {"latitude": -33.9, "longitude": 151.2, "fixTime": "2026-01-02T03:04:05Z"},
        "device": {"uniqueId": "van-3"},
    }
    result = decode_forwarded(json.dumps(minimal))
    assert result.device_name is None
    assert result.traccar_protocol is None
    pos = result.position
    assert pos.valid is True
    assert pos.speed_kmh is None
    assert pos.io == {}
    assert pos.fix_time == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    naive = decode_forwarded(json.dumps(_doc(fixTime="2026-01-02T03:04:05")))
    assert naive.position.fix_time == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    offset = decode_forwarded(json.dumps(_doc(fixTime="2026-01-02T05:04:05.000+02:00")))
    assert offset.position.fix_time == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    epoch = decode_forwarded(json.dumps(_doc(fixTime=1_767_323_045_000)))
    assert epoch.position.fix_time == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert decode_forwarded(json.dumps(_doc(accuracy=7.5))).position.accuracy_m == 7.5
    assert decode_forwarded(json.dumps(_doc(course=-90.0))).position.course_deg == 270.0


def test_source_is_listed_without_a_listener() -> None:
    """Traccar is a source of positions (entities, labels) but not a protocol we listen to."""
    assert TRACCAR_DEFAULT_TOPIC == "positions"
    assert SOURCES[TRACCAR_PROTOCOL].label == "Traccar"
    assert "ignition" in SOURCES[TRACCAR_PROTOCOL].fields
    from custom_components.thingbridge.m2m import PROTOCOLS  # noqa: PLC0415

    assert TRACCAR_PROTOCOL not in PROTOCOLS


@pytest.mark.parametrize(
    ("payload", "error", "text"),
    [
        (b"x" * (64 * 1024 + 1), FrameError, "65537 bytes exceed"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), FrameError, "nested deeper"),
        (b'{"position": {"latitude": NaN}}', FrameError, "NaN"),
        (b'{"position": Infinity}', FrameError, "Infinity"),
        (b"\xff\xfe{}", FrameError, "not JSON"),
        (b"{not json", FrameError, "not JSON"),
        (b"[]", FrameError, "not a JSON object"),
        (b"{}", MissingFieldError, "field position is required"),
        (b'{"position": 3}', FieldError, "position=3: is not an object"),
        (b'{"position": {}}', MissingFieldError, "device.uniqueId"),
        (b'{"position": {}, "device": {"uniqueId": 356}}', FieldError, "is not text"),
        (b'{"position": {}, "device": {"uniqueId": "a b"}}', FieldError, "device id"),
        (b'{"position": {}, "device": {"uniqueId": "1"}}', MissingFieldError, "latitude"),
    ],
)
def test_hostile_documents_are_typed_errors(
    payload: bytes, error: type[ProtocolError], text: str
) -> None:
    """Each malformed document raises the error naming what is wrong, nothing else."""
    with pytest.raises(error) as info:
        decode_forwarded(payload)
    assert text in str(info.value)
    assert info.value.protocol == "traccar"


@pytest.mark.parametrize(
    ("field", "value", "text"),
    [
        ("latitude", 90.5, "position.latitude=90.5: is outside -90..90"),
        ("longitude", -181.0, "is outside -180..180"),
        ("latitude", "52.1", "is not a number"),
        ("latitude", True, "is not a number"),
        ("longitude", 1e400, "is not finite"),
        ("fixTime", "yesterday", "is not an ISO 8601 time"),
        ("fixTime", 2**60, "is not an ISO 8601 time"),
        ("fixTime", None, "is not an ISO 8601 time"),
        ("valid", "yes", "is not true or false"),
        ("speed", -1.0, "is not a speed in knots"),
        ("speed", 1e9, "is not a speed in knots"),
        ("course", 720.0, "is not a course"),
        ("altitude", 1e12, "is not an altitude"),
        ("attributes", [1, 2], "is not an object"),
    ],
)
def test_bad_fields_are_named(field: str, value: object, text: str) -> None:
    """A field of the wrong type or out of range is a FieldError naming it."""
    payload = json.dumps(_doc(**{field: value})).replace("Infinity", "1e400")
    with pytest.raises(FieldError) as info:
        decode_forwarded(payload)
    assert text in str(info.value)


def test_missing_fix_time() -> None:
    """Without a fix time the position cannot be ordered: refused."""
    doc = copy.deepcopy(DOC)
    del doc["position"]["fixTime"]
    with pytest.raises(MissingFieldError, match=r"position\.fixTime"):
        decode_forwarded(json.dumps(doc))


def test_hostile_attributes_are_dropped_not_kept() -> None:
    """Wrong types, nesting, huge text and too many attributes never reach the position."""
    attributes: dict[str, Any] = {
        "ignition": "yes",
        "odometer": "12",
        "hours": float("nan"),
        "sat": 10**9,
        "alarm": 5,
        "event": "e" * 1000,
        "nested": {"a": [1]},
        "long": "x" * 1000,
        "k" * 100: 1,
        "nan": float("nan"),
    }
    attributes.update({f"a{i}": i for i in range(200)})
    doc = _doc(attributes=attributes)
    pos = decode_forwarded(json.dumps(doc).replace("NaN", "1e400")).position
    assert pos.ignition is None
    assert pos.odometer_m is None
    assert pos.engine_hours_s is None
    assert pos.satellites is None
    assert pos.alarm is None
    assert pos.event is None
    assert "nested" not in pos.io
    assert "long" not in pos.io
    assert "nan" not in pos.io
    assert len(pos.io) <= MAX_IO + 1  # the attributes, plus the protocol Traccar used


def test_depth_check_ignores_brackets_inside_strings() -> None:
    """Brackets and escaped quotes inside text do not count as nesting."""
    doc = _doc()
    doc["position"]["attributes"]["note"] = '[[[[[[[[[[\\"{{{{{{{{{{ "' + "[" * 20
    pos = decode_forwarded(json.dumps(doc)).position
    assert pos.io["note"].startswith("[[[[")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512) | st.text(max_size=512).map(str.encode))
def test_fuzz_only_typed_errors(data: bytes) -> None:
    """Arbitrary bytes give a position or a ProtocolError, never another exception."""
    try:
        result = decode_forwarded(data)
    except ProtocolError:
        return
    assert math.isfinite(result.position.latitude)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=10), children, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_fuzz_structured_fields(value: object) -> None:
    """Any JSON value in any field gives a position or a ProtocolError."""
    for key in ("latitude", "fixTime", "speed", "attributes", "valid"):
        payload = json.dumps(_doc(**{key: value})).replace("NaN", "1e400")
        try:
            pos = decode_forwarded(payload).position
        except ProtocolError:
            continue
        assert -90.0 <= pos.latitude <= 90.0


def test_cli_decodes_traccar_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    """``decode --protocol traccar`` prints one JSON line per document; errors exit 2."""
    out = io.StringIO()
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(DOC) + "\n\n[]\n"))
    assert cli_main(["decode", "--protocol", "traccar"], out) == 2
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["protocol"] == "traccar"
    assert first["device_id"] == "356307042441013"
    assert first["messages"][0]["speed_kmh"] == pytest.approx(50.004)
    assert (second["error"], second["message"]) == ("FrameError", "not a JSON object")
    out = io.StringIO()
    assert cli_main(["decode", "-p", "traccar", json.dumps(DOC)], out) == 0
