"""Trip reports as CSV and GPX, and safe report file names."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
import io
from xml.etree import ElementTree as ET

import pytest

from custom_components.thingbridge.assets.errors import AssetsError
from custom_components.thingbridge.assets.report import (
    CSV_COLUMNS,
    TripRow,
    check_file_name,
    trips_csv,
    trips_gpx,
)
from custom_components.thingbridge.assets.trips import Trip

TRIP = Trip(
    start=datetime(2026, 12, 4, 8, 0, tzinfo=UTC),
    end=datetime(2026, 12, 4, 8, 30, tzinfo=UTC),
    start_latitude=52.5,
    start_longitude=13.4,
    end_latitude=52.53,
    end_longitude=13.43,
    distance_m=12345.6,
    gps_distance_m=12300.0,
    distance_source="odometer",
    max_speed_kmh=71.26,
    estimated=False,
    odometer_start_m=1_000_000.0,
    odometer_end_m=1_012_345.6,
    ended_by="stop",
)


def test_csv_is_a_logbook() -> None:
    text = trips_csv(
        [TripRow("Van 7", "VAN-0007", TRIP), TripRow("=cmd()", "X-1", TRIP, purpose="private")]
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0]["distance_km"] == "12.346"
    assert rows[0]["duration_min"] == "30.0"
    assert rows[0]["odometer_start_km"] == "1000.000"
    assert rows[0]["estimated"] == "no"
    assert rows[1]["asset"] == "'=cmd()"  # never a formula in a spreadsheet
    assert [r["purpose"] for r in rows] == ["business", "private"]
    assert TripRow("Van 7", "VAN-0007", TRIP).as_dict()["purpose"] == "business"


def test_gpx_has_a_route_per_trip() -> None:
    text = trips_gpx([TripRow("Van <7> & co", "VAN-0007", TRIP)])
    root = ET.fromstring(text)
    ns = {"g": "http://www.topografix.com/GPX/1/1"}
    routes = root.findall("g:rte", ns)
    assert len(routes) == 1
    assert routes[0].findtext("g:name", namespaces=ns).startswith("Van <7> & co (VAN-0007)")
    points = routes[0].findall("g:rtept", ns)
    assert [(p.get("lat"), p.get("lon")) for p in points] == [
        ("52.500000", "13.400000"),
        ("52.530000", "13.430000"),
    ]


@pytest.mark.parametrize(
    "name", ["", "../etc/passwd", "a/b", ".hidden", "x" * 65, "trips.csv", "a b", "-x"]
)
def test_unsafe_file_names_are_refused(name: str) -> None:
    with pytest.raises(AssetsError) as caught:
        check_file_name(name)
    assert caught.value.code == "bad_file_name"


def test_safe_file_name() -> None:
    assert check_file_name("fleet_2026-12") == "fleet_2026-12"
