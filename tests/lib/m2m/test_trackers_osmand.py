"""OsmAnd / Traccar Client request shapes (query, form, JSON) parsed into positions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
import json
from urllib.parse import urlencode

import pytest

from custom_components.thingbridge.m2m.trackers import (
    FieldError,
    FrameError,
    MissingFieldError,
    Position,
    StatusReport,
    parse_json,
    parse_query,
    parse_request,
)
from custom_components.thingbridge.m2m.trackers.model import KNOTS_TO_KMH, MPS_TO_KMH

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _position(report: object) -> Position:
    assert isinstance(report, Position), report
    return report


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("1700000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("1700000000123", datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)),
        ("2023-11-14T22:13:20Z", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("2023-11-14T23:13:20+01:00", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("2023-11-14 22:13:20", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ],
)
def test_query_timestamp_forms(timestamp: str, expected: datetime) -> None:
    pos = _position(
        parse_query(urlencode({"id": "abc", "lat": "1.5", "lon": "2.5", "timestamp": timestamp}))
    )
    assert pos.fix_time == expected


def test_query_fields_units_and_extras() -> None:
    query = "/?" + urlencode(
        {
            "id": "phone-1", "lat": "-33.8688", "lon": "151.2093", "timestamp": "1700000000",
            "speed": "10", "bearing": "270.5", "altitude": "58.2", "accuracy": "4.5", "hdop": "0.9",
            "batt": "76.0", "charge": "true", "ignition": "false", "rpm": "933", "driver": "Ann",
        }
    )  # fmt: skip
    pos = _position(parse_query(query))
    assert pos.device_id == "phone-1"
    assert (pos.latitude, pos.longitude) == (-33.8688, 151.2093)
    assert pos.speed_kmh == pytest.approx(10 * KNOTS_TO_KMH)
    assert (pos.course_deg, pos.altitude_m, pos.accuracy_m, pos.hdop) == (270.5, 58.2, 4.5, 0.9)
    assert pos.battery_percent == 76.0
    assert pos.charging is True
    assert pos.ignition is False
    assert pos.valid is True
    assert pos.io == {"rpm": 933, "driver": "Ann"}


def test_query_aliases_location_valid_and_missing_timestamp() -> None:
    pos = _position(
        parse_query("deviceid=9&location=60.5,30.25&heading=12&valid=false", received_at=NOW)
    )
    assert pos.device_id == "9"
    assert (pos.latitude, pos.longitude, pos.course_deg) == (60.5, 30.25, 12.0)
    assert pos.valid is False
    assert pos.fix_time == NOW


def test_query_local_time_zone() -> None:
    tz = timezone(timedelta(hours=2))
    pos = _position(parse_query("id=1&lat=1&lon=2&timestamp=2024-01-01+10%3A00%3A00", local_tz=tz))
    assert pos.fix_time == datetime(2024, 1, 1, 8, tzinfo=UTC)


def test_query_without_coordinates_is_a_status_report() -> None:
    report = parse_query(
        "id=7&timestamp=1700000000&batt=50&cell=257,02,16,2224&wifi=00-14-22-01-23-45,-80"
    )
    assert isinstance(report, StatusReport)
    assert report.battery_percent == 50
    assert report.io["cells"] == "257,02,16,2224"
    assert report.io["wifi"] == "00:14:22:01:23:45,-80"


@pytest.mark.parametrize(
    ("query", "error", "field"),
    [
        ("lat=1&lon=2", MissingFieldError, "id"),
        ("id=1&lat=1", MissingFieldError, "lon"),
        ("id=1&lat=abc&lon=2", FieldError, "lat"),
        ("id=1&lat=nan&lon=2", FieldError, "lat"),
        ("id=1&lat=95&lon=2", FieldError, "latitude"),
        ("id=1&lat=1&lon=2&timestamp=yesterday", FieldError, "timestamp"),
        ("id=1&lat=1&lon=2&timestamp=99999999999999999999", FieldError, "timestamp"),
        ("id=1&location=1;2", FieldError, "location"),
        ("id=1&lat=1&lon=2&timestamp=%C2%B2", FieldError, "timestamp"),
        ("id=1&lat=1&lon=2&speed=fast", FieldError, "speed"),
    ],
)
def test_query_errors_name_the_field(query: str, error: type[FieldError], field: str) -> None:
    with pytest.raises(error) as caught:
        parse_query(query)
    assert caught.value.field == field


def test_form_body_via_parse_request() -> None:
    body = urlencode(
        {"id": "form-1", "lat": "48.85", "lon": "2.35", "timestamp": "1700000000", "speed": "0"}
    ).encode()
    (report,) = parse_request(
        query="/", body=body, content_type="application/x-www-form-urlencoded"
    )
    assert _position(report).device_id == "form-1"
    (report,) = parse_request(
        query="/?id=q&lat=1&lon=1", body=b"", content_type=None, received_at=NOW
    )
    assert report.device_id == "q"
    with pytest.raises(MissingFieldError):
        parse_request(query="/", body=b"")


def _json_body(**location: object) -> bytes:
    base: dict[str, object] = {
        "timestamp": "2025-06-15T13:45:12.862Z",
        "coords": {
            "latitude": 37.4219983,
            "longitude": -122.084,
            "accuracy": 5,
            "speed": 18.67,
            "heading": 63,
            "altitude": 5,
        },
        "is_moving": True,
        "odometer": 1234.5,
        "event": "motionchange",
        "battery": {"level": 0.79, "is_charging": True},
        "activity": {"type": "in_vehicle"},
        "extras": {"trip": 4, "note": "x"},
    }
    base.update(location)
    return json.dumps({"device_id": "48241179", "location": base}).encode()


def test_json_body_units_and_fields() -> None:
    (report,) = parse_request(body=_json_body(), content_type="application/json; charset=utf-8")
    pos = _position(report)
    assert pos.device_id == "48241179"
    assert pos.fix_time == datetime(2025, 6, 15, 13, 45, 12, 862000, tzinfo=UTC)
    assert pos.speed_kmh == pytest.approx(18.67 * MPS_TO_KMH)
    assert (pos.course_deg, pos.accuracy_m, pos.altitude_m) == (63, 5, 5)
    assert pos.motion is True
    assert pos.odometer_m == 1234.5
    assert pos.battery_percent == 79
    assert pos.charging is True
    assert pos.io["event"] == "motionchange"
    assert pos.io["activity"] == "in_vehicle"
    assert pos.io["trip"] == 4


def test_json_unknown_speed_and_heading_and_batch() -> None:
    coords = {
        "latitude": 1.0,
        "longitude": 2.0,
        "speed": -1,
        "heading": -1,
        "accuracy": 3,
        "altitude": 0,
    }
    pos = _position(parse_json(_json_body(coords=coords))[0])
    assert pos.speed_kmh is None
    assert pos.course_deg is None
    batch = json.dumps(
        {
            "device_id": 5,
            "location": [
                {"timestamp": "2025-01-01T00:00:00Z", "coords": coords},
                {"timestamp": "2025-01-01T00:01:00Z"},
            ],
        }
    )
    first, second = parse_json(batch)
    assert first.device_id == "5"
    assert isinstance(first, Position)
    assert isinstance(second, StatusReport)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{not json", FrameError),
        (b"[1, 2]", FrameError),
        (b'{"location": {}}', MissingFieldError),
        (b'{"device_id": "1"}', MissingFieldError),
        (b'{"device_id": "1", "location": {"coords": {}}}', MissingFieldError),
        (b'{"device_id": "1", "location": {"timestamp": "soon"}}', FieldError),
        (
            b'{"device_id": "1", "location": {"timestamp": "2025-01-01T00:00:00Z", "coords": {"latitude": "1", "longitude": 2}}}',
            FieldError,
        ),
        (b'{"device_id": true, "location": {}}', MissingFieldError),
        (b"\xff\xfe", FrameError),
    ],
)
def test_json_errors(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_json(body)


def test_oversized_body_is_rejected() -> None:
    with pytest.raises(FrameError, match="larger than"):
        parse_request(body=b"{" + b" " * 70000 + b"}", content_type="application/json")
