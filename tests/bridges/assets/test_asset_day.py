"""The issue's scripted day, in a real Home Assistant: zones, geofence events, trips, restarts.

A van leaves the depot's yard, stops at two customers, makes an excursion to the lane
inside the depot's circle but outside its yard polygon, loses coverage on the way (the
device sends the buffered fixes late, after a newer one), and returns to the yard. Its
position source is an ordinary device tracker entity fed through Home Assistant's state
machine; the clock moves with the fixes.
"""

from __future__ import annotations

from collections.abc import Iterator
import csv
from dataclasses import dataclass
from datetime import datetime, timedelta
import io
from itertools import pairwise
import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from homeassistant.util.location import vincenty
import pytest

from custom_components.thingbridge.assets import TrackFix, detect_trips
from custom_components.thingbridge.bridges.assets.runtime import EVENT_ASSET
from custom_components.thingbridge.const import DOMAIN
from tests.bridges.assets.support import (
    CUSTOMER_A,
    CUSTOMER_B,
    DEPOT_YARD,
    add_asset,
    add_geofence,
    add_register,
    setup_zones,
)
from tests.conftest import TRANSLATIONS

SOURCE = "device_tracker.gps_van"
TRACKER = "device_tracker.van_7"
YARD = (52.5210, 13.4050)
LANE = (52.5185, 13.4050)  # inside the depot's circle, outside the yard polygon
STEP_S = 10
SPEED_MS = 10.0


@dataclass(frozen=True)
class Fix:
    """One fix of the scripted day."""

    time: datetime
    latitude: float
    longitude: float
    speed_kmh: float


def _leg(start: datetime, a: tuple[float, float], b: tuple[float, float]) -> list[Fix]:
    """Fixes every 10 s from ``a`` to ``b`` at 36 km/h (``b`` included, ``a`` not)."""
    length = vincenty(a, b) * 1000
    steps = max(1, round(length / (SPEED_MS * STEP_S)))
    return [
        Fix(
            start + timedelta(seconds=STEP_S * i),
            a[0] + (b[0] - a[0]) * i / steps,
            a[1] + (b[1] - a[1]) * i / steps,
            36.0 if i < steps else 0.0,
        )
        for i in range(1, steps + 1)
    ]


def _stay(start: datetime, at: tuple[float, float], minutes: int) -> list[Fix]:
    return [
        Fix(start + timedelta(seconds=STEP_S * i), at[0], at[1], 0.0)
        for i in range(1, minutes * 60 // STEP_S + 1)
    ]


def scripted_day(start: datetime) -> tuple[list[Fix], list[tuple[float, float]]]:
    """The day's fixes in time order, and the stops in between which the trips run."""
    fixes: list[Fix] = [Fix(start, YARD[0], YARD[1], 0.0)]
    stops = [YARD, CUSTOMER_A, CUSTOMER_B, LANE, YARD]
    fixes += _stay(start, YARD, 5)
    for a, b in pairwise(stops):
        fixes += _leg(fixes[-1].time, a, b)
        fixes += _stay(fixes[-1].time, b, 10)
    return fixes, stops


def route_length_m(fixes: list[Fix], first: int, last: int) -> float:
    """The geodesic length of the fixes ``first`` to ``last`` (Home Assistant's Vincenty)."""
    return sum(
        vincenty((a.latitude, a.longitude), (b.latitude, b.longitude)) * 1000
        for a, b in zip(fixes[first:last], fixes[first + 1 : last + 1], strict=True)
    )


def deliveries(fixes: list[Fix]) -> Iterator[list[Fix]]:
    """The order in which Home Assistant receives them: a burst arrives late after a gap.

    On the way from customer B to the lane, six fixes (a minute) are buffered by the device
    and delivered after the first fix that follows them.
    """
    gap_start = next(i for i, f in enumerate(fixes) if (f.latitude, f.longitude) == CUSTOMER_B)
    gap_start = next(i for i in range(gap_start, len(fixes)) if fixes[i].speed_kmh > 0) + 20
    buffered = fixes[gap_start : gap_start + 6]
    for i, fix in enumerate(fixes):
        if gap_start <= i < gap_start + 6:
            continue
        yield [fix]
        if i == gap_start + 6:
            yield buffered


def send(hass: HomeAssistant, fix: Fix) -> None:
    hass.states.async_set(
        SOURCE,
        "not_home",
        {
            "latitude": fix.latitude,
            "longitude": fix.longitude,
            "gps_accuracy": 8,
            "speed": fix.speed_kmh,
            "fix_time": fix.time.isoformat(),
        },
    )


@pytest.fixture
def hass_config_dir(hass_tmp_config_dir: str) -> str:
    """A configuration directory of the test's own: reports are written there."""
    return hass_tmp_config_dir


async def _report(hass: HomeAssistant, **data: Any) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN, "trip_report", data, blocking=True, return_response=True
    )
    assert response is not None
    return dict(response)


async def check_trip_report(hass: HomeAssistant, start: datetime, trips: list[Any]) -> None:
    """The day's trips by the action, as response data and as CSV and GPX files."""
    day = {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat()}
    report = await _report(
        hass, **day, assets=["VAN-0001"], formats=["csv", "gpx"], file_name="day_1"
    )
    assert [t["distance_m"] for t in report["trips"]] == [round(t.distance_m, 1) for t in trips]
    assert report["trips"][0]["asset"] == "Van 7"
    assert report["trips"][0]["start"] == trips[0].start.isoformat()
    folder = Path(hass.config.path("thingbridge_reports"))
    assert report["files"] == [str(folder / "day_1.csv"), str(folder / "day_1.gpx")]
    rows = list(csv.DictReader(io.StringIO((folder / "day_1.csv").read_text())))
    assert [r["tag"] for r in rows] == ["VAN-0001"] * len(trips)
    assert {r["purpose"] for r in rows} == {"business"}
    gpx = ET.fromstring((folder / "day_1.gpx").read_text())
    assert len(gpx.findall("{http://www.topografix.com/GPX/1/1}rte")) == len(trips)
    # all assets by default; a tag prefix filters; a later range is empty
    assert len((await _report(hass, **day))["trips"]) == len(trips)
    assert (await _report(hass, **day, tag_prefix="TRL-"))["trips"] == []
    later = {"start": day["end"], "end": (start + timedelta(days=2)).isoformat()}
    assert (await _report(hass, **later))["trips"] == []

    async def refused(key: str, **data: Any) -> dict[str, str]:
        with pytest.raises(ServiceValidationError) as caught:
            await _report(hass, **data)
        assert caught.value.translation_key == key
        text = TRANSLATIONS["exceptions"][key]["message"]
        placeholders = caught.value.translation_placeholders or {}
        assert all(f"{{{name}}}" in text for name in placeholders)
        return placeholders

    # the second trip was private: marked so, it stays so after a reload
    second = report["trips"][1]["start"]
    await hass.services.async_call(
        DOMAIN, "tag_trip",
        {"asset": "VAN-0001", "trip_start": second, "purpose": "private"}, blocking=True,
    )  # fmt: skip
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    private = (await _report(hass, **day, purpose="private"))["trips"]
    assert [t["start"] for t in private] == [second]
    assert private[0]["purpose"] == "private"
    assert len((await _report(hass, **day, purpose="business"))["trips"]) == len(trips) - 1
    with pytest.raises(ServiceValidationError) as caught:
        await hass.services.async_call(
            DOMAIN, "tag_trip",
            {"asset": "VAN-0001", "trip_start": day["start"], "purpose": "private"},
            blocking=True,
        )  # fmt: skip
    assert caught.value.translation_key == "unknown_trip"
    assert set(caught.value.translation_placeholders or {}) == {"asset", "start"}

    backwards = {"start": day["end"], "end": day["start"]}
    assert set(await refused("bad_date_range", **backwards)) == {"start", "end"}
    assert await refused("unknown_asset", **day, assets=["VAN-0999"]) == {"asset": "VAN-0999"}
    for name in ("../escape", "a/b", ".hidden", "x" * 70):
        assert await refused("bad_file_name", **day, formats=["csv"], file_name=name)
    leaked = await hass.async_add_executor_job(
        lambda: list(Path(hass.config.path()).rglob("escape*"))
    )
    assert leaked == []


@pytest.mark.parametrize("restart", [False, True], ids=["straight", "restart_in_the_middle"])
async def test_scripted_day(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, restart: bool
) -> None:
    start = dt_util.as_utc(dt_util.start_of_local_day() + timedelta(hours=8)).replace(microsecond=0)
    freezer.move_to(start)
    fixes, stops = scripted_day(start)
    await setup_zones(hass)
    send(hass, fixes[0])
    entry = await add_register(hass)
    yard = await add_geofence(hass, entry, "Yard", "zone.depot", json.dumps(DEPOT_YARD))
    van = await add_asset(
        hass, entry, name="Van 7", source=SOURCE, geofences=[yard], every_km=5, every_days=90
    )
    assert hass.states.get("binary_sensor.van_7_maintenance_due").state == "off"
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": [
                {
                    "triggers": [{"trigger": "zone", "entity_id": TRACKER,
                                  "zone": "zone.depot", "event": event}],
                    "actions": [{"event": "depot_trigger", "event_data": {"event": event}}],
                }
                for event in ("enter", "leave")
            ]
        },
    )  # fmt: skip
    triggers: list[str] = []
    geofence_events: list[str] = []
    trip_events: list[dict[str, Any]] = []

    @callback
    def on_trigger(event: Event[dict[str, Any]]) -> None:
        triggers.append(event.data["event"])

    @callback
    def on_asset(event: Event[dict[str, Any]]) -> None:
        if event.data["type"].startswith("geofence"):
            geofence_events.append(event.data["type"])
        elif event.data["type"] == "trip_ended":
            trip_events.append(event.data)

    hass.bus.async_listen("depot_trigger", on_trigger)
    hass.bus.async_listen(EVENT_ASSET, on_asset)

    states: dict[tuple[float, float], set[str]] = {}
    in_progress_seen = False
    batches = list(deliveries(fixes))
    for number, batch in enumerate(batches):
        if restart and number == len(batches) // 2:
            assert await hass.config_entries.async_unload(entry.entry_id)
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
        for fix in batch:
            freezer.move_to(max(fix.time, dt_util.utcnow()))
            send(hass, fix)
        await hass.async_block_till_done()
        state = hass.states.get(TRACKER)
        states.setdefault((batch[-1].latitude, batch[-1].longitude), set()).add(state.state)
        distance = hass.states.get("sensor.van_7_trip_in_progress_distance")
        if float(distance.state) > 0.5:  # km: a trip is visible before it ends
            in_progress_seen = True

    # zones: the polygon, not the circle
    assert states[YARD] == {"Depot"}
    assert states[CUSTOMER_A] == {"Customer A"}
    assert states[CUSTOMER_B] == {"Customer B"}
    assert states[LANE] == {"not_home"}
    # Home Assistant's zone trigger fired on leaving the yard and on coming back, never
    # when the van drove into the depot's circle at the lane
    assert triggers == ["leave", "enter"]
    assert geofence_events == ["geofence_left", "geofence_entered"]
    assert in_progress_seen

    # trips: one per leg, each within 2 % of the route's geodesic length
    runtime = entry.runtime_data
    trips = runtime.assets[van].trips
    assert len(trips) == len(stops) - 1 == len(trip_events)
    index = {(f.latitude, f.longitude, f.time): i for i, f in enumerate(fixes)}
    ends = [i for i, f in enumerate(fixes) if f.speed_kmh == 0 and i and fixes[i - 1].speed_kmh]
    starts = [i - 1 for i, f in enumerate(fixes) if f.speed_kmh and not fixes[i - 1].speed_kmh]
    assert len(starts) == len(ends) == len(trips)
    for trip, first, last in zip(trips, starts, ends, strict=True):
        expected = route_length_m(fixes, first, last)
        assert trip.distance_m == pytest.approx(expected, rel=0.02), (trip, expected)
    assert trips[2].estimated is False  # the burst filled the gap: nothing is estimated
    assert index  # every fix is distinct

    # the same day as a batch (no restart, fixes in time order) gives the same trips
    report = detect_trips(
        TrackFix.at(f.time, f.latitude, f.longitude, speed_kmh=f.speed_kmh, accuracy_m=8)
        for f in fixes
    )
    assert [t.summary() for t in report.trips] == [t.summary() for t in trips]
    assert hass.states.get("sensor.van_7_trip_in_progress_distance").state == "0.0"

    # utilization: the time between fixes while driving; distance and trips of the day
    driving_s = sum(
        (b.time - a.time).total_seconds()
        for a, b in pairwise(fixes)
        if a.speed_kmh > 0 or (a.latitude, a.longitude) != (b.latitude, b.longitude)
    )
    hours = float(hass.states.get("sensor.van_7_hours_in_use_today").state)
    assert hours == pytest.approx(driving_s / 3600, abs=1e-4)
    assert float(hass.states.get("sensor.van_7_hours_in_use").state) == hours
    total_km = sum(t.distance_m for t in trips) / 1000
    distance = float(hass.states.get("sensor.van_7_distance_today").state)
    assert distance == pytest.approx(total_km, abs=0.001)
    assert hass.states.get("sensor.van_7_trips_today").state == "4"
    # today's counters start again at midnight: their last_reset says so, or long-term
    # statistics would book the drop as negative use
    for counter in ("trips_today", "distance_today", "hours_in_use_today"):
        state = hass.states.get(f"sensor.van_7_{counter}")
        assert state is not None, counter
        assert state.attributes["state_class"] == "total"
        assert state.attributes["last_reset"] == dt_util.start_of_local_day().isoformat()
    assert float(hass.states.get("sensor.van_7_odometer").state) == pytest.approx(
        total_km, abs=0.01
    )
    # about 8 km driven: the 5 km service is due, the scheduler says so without a new fix
    assert total_km > 5
    assert hass.states.get("binary_sensor.van_7_maintenance_due").state == "on"
    assert hass.states.get("sensor.van_7_next_maintenance").attributes["measure"] == "distance"
    await check_trip_report(hass, start, trips)
