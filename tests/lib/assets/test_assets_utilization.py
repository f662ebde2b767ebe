"""Utilization counters: hours in use, distance and trips per local day and in total."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
import json
import math
from zoneinfo import ZoneInfo

import pytest

from custom_components.thingbridge.assets.errors import StateError, TrackError
from custom_components.thingbridge.assets.trips import TrackFix, TripDetector, detect_trips
from custom_components.thingbridge.assets.utilization import UsageConfig, UsageCounter

from .synthetic import START, build_day

BERLIN = ZoneInfo("Europe/Berlin")
DAY = START.astimezone(BERLIN).date()


def fixes_every(start: datetime, end: datetime, step_s: float, **fields: object) -> list[TrackFix]:
    out = []
    t = start.timestamp()
    while t <= end.timestamp():
        out.append(TrackFix(t, 52.5, 13.4, **fields))  # type: ignore[arg-type]
        t += step_s
    return out


def test_scripted_day_counts_driving_time_trips_and_distance() -> None:
    day = build_day(ignition=True)
    counter = UsageCounter(UsageConfig(time_zone="Europe/Berlin"))
    detector = TripDetector()
    for fix in day.delivery:  # the late burst included
        counter.feed(fix)
        counter.apply(detector.feed(fix))
    driving = sum(b - a for a, b in zip(day.departures, day.arrivals, strict=True))
    today = counter.today(START + timedelta(hours=10))
    # Each leg adds the interval into its first fix and out of its last one (ignition on).
    assert today.in_use_s == pytest.approx(driving, abs=4 * 20)
    assert today.trips == 4
    trips = detect_trips(day.fixes).trips
    assert today.distance_m == pytest.approx(sum(t.distance_m for t in trips), abs=0.01)
    assert today.distance_m == pytest.approx(sum(day.leg_lengths), rel=0.02)
    assert counter.total == today
    assert today.in_use_hours == today.in_use_s / 3600
    # Arrival order does not matter: exactly the counters of the fixes in time order.
    in_order = UsageCounter(UsageConfig(time_zone="Europe/Berlin"))
    for fix in day.fixes:
        in_order.feed(fix)
    assert in_order.total.in_use_s == counter.total.in_use_s
    assert in_order.day(DAY).in_use_s == counter.day(DAY).in_use_s


@pytest.mark.parametrize("cut", [0.1, 0.4, 0.55, 0.7, 0.95])
def test_restart_mid_day_gives_the_same_counters(cut: float) -> None:
    day = build_day(ignition=True, odometer=True)
    config = UsageConfig(time_zone="Europe/Berlin")
    whole, whole_trips = UsageCounter(config), TripDetector()
    for fix in day.delivery:
        whole.feed(fix)
        whole.apply(whole_trips.feed(fix))
    n = int(len(day.delivery) * cut)
    counter, detector = UsageCounter(config), TripDetector()
    for fix in day.delivery[:n]:
        counter.feed(fix)
        counter.apply(detector.feed(fix))
    counter = UsageCounter.from_dict(json.loads(json.dumps(counter.to_dict())))
    detector = TripDetector.from_dict(json.loads(json.dumps(detector.to_dict())))
    for fix in day.delivery[n:]:
        counter.feed(fix)
        counter.apply(detector.feed(fix))
    assert counter.to_dict() == whole.to_dict()
    assert counter.day(DAY) == whole.day(DAY)


def test_use_is_split_at_local_midnight() -> None:
    start = datetime(2026, 6, 1, 23, 50, tzinfo=BERLIN)
    counter = UsageCounter(UsageConfig(time_zone="Europe/Berlin"))
    for fix in fixes_every(start, start + timedelta(minutes=30), 10, ignition=True):
        counter.feed(fix)
    assert counter.day(date(2026, 6, 1)).in_use_s == 600
    assert counter.day(date(2026, 6, 2)).in_use_s == 1200
    assert counter.today(datetime(2026, 6, 1, 22, 30, tzinfo=UTC)).in_use_s == 1200
    utc = UsageCounter()
    for fix in fixes_every(start, start + timedelta(minutes=30), 10, ignition=True):
        utc.feed(fix)
    assert utc.day(date(2026, 6, 1)).in_use_s == 1800  # 21:50-22:20 UTC


def test_daylight_saving_days_have_23_and_25_hours() -> None:
    for day, hours in ((date(2026, 3, 29), 23), (date(2026, 10, 25), 25)):
        start = datetime.combine(day, datetime.min.time(), BERLIN)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), BERLIN)
        counter = UsageCounter(UsageConfig(time_zone="Europe/Berlin"))
        counter.feed_many(fixes_every(start, end, 60, ignition=True))
        assert counter.day(day).in_use_s == hours * 3600


def test_what_counts_as_use() -> None:
    t0 = datetime(2026, 6, 1, 8, tzinfo=UTC)
    idle_on = fixes_every(t0, t0 + timedelta(minutes=10), 60, ignition=True, speed_kmh=0.0)
    counter = UsageCounter()
    counter.feed_many(idle_on)
    assert counter.total.in_use_s == 600  # ignition on, standing: engine hours
    parked = fixes_every(t0, t0 + timedelta(minutes=10), 60, ignition=False, speed_kmh=0.0)
    counter = UsageCounter()
    counter.feed_many(parked)
    assert counter.total.in_use_s == 0
    towed = [
        TrackFix(t0.timestamp() + 10 * k, 52.5 + 0.001 * k, 13.4, ignition=False) for k in range(7)
    ]
    counter = UsageCounter()
    counter.feed_many(towed)
    assert counter.total.in_use_s == 60  # moving without ignition
    gap = [TrackFix(t0.timestamp(), 52.5, 13.4, ignition=True)]
    gap.append(TrackFix(t0.timestamp() + 1000, 52.5, 13.4, ignition=True))
    counter = UsageCounter()
    counter.feed_many(gap)
    assert counter.total.in_use_s == 0  # longer than max_interval_s: unknown


def test_duplicates_and_too_late_fixes_are_ignored() -> None:
    t0 = datetime(2026, 6, 1, 8, tzinfo=UTC)
    fixes = fixes_every(t0, t0 + timedelta(hours=3), 60, ignition=True)
    counter = UsageCounter(UsageConfig(horizon_s=600))
    assert all(counter.feed(f) for f in fixes)
    assert not counter.feed(fixes[-1])
    assert not counter.feed(fixes[0])  # older than the horizon
    assert not counter.feed(TrackFix(math.inf, 52.5, 13.4))
    assert counter.total.in_use_s == 3 * 3600
    late = TrackFix(fixes[-2].t + 30, 52.5, 13.4, ignition=True)
    assert counter.feed(late)
    assert counter.total.in_use_s == 3 * 3600


def test_revised_trips_are_taken_out_and_old_days_dropped_but_totalled() -> None:
    day = build_day()
    trips = detect_trips(day.fixes).trips
    counter = UsageCounter(UsageConfig(keep_days=2))
    counter.add_trip(trips[0])
    counter.add_trip(trips[0], -1)
    assert counter.day(DAY).trips == 0
    for trip in trips:
        counter.add_trip(trip)
    later = [
        TrackFix((START + timedelta(days=5)).timestamp() + 60 * k, 52.5, 13.4, ignition=True)
        for k in range(3)
    ]
    counter.feed_many(later)
    assert counter.day(DAY).trips == 0  # dropped: more than 2 days before the newest
    assert counter.total.trips == 4
    assert counter.total.in_use_s == 120
    counter.add_trip(trips[0])  # a trip of a dropped day still counts in the total
    assert counter.total.trips == 5
    assert counter.day(DAY).trips == 0


def test_bad_settings_and_states_are_refused() -> None:
    with pytest.raises(TrackError) as caught:
        UsageConfig(time_zone="Mars/Olympus")
    assert caught.value.code == "bad_time_zone"
    with pytest.raises(TrackError):
        UsageConfig(max_interval_s=-1)
    with pytest.raises(TrackError, match="time zone"):
        UsageCounter().today(datetime(2026, 1, 1))
    good = UsageCounter()
    good.feed_many(
        fixes_every(datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 1, 1, tzinfo=UTC), 60)
    )
    state = json.loads(json.dumps(good.to_dict()))
    for damage in (
        lambda s: s.update(version=2),
        lambda s: s["config"].update(time_zone="Nowhere/None"),
        lambda s: s["days"].update({"2026-13-01": [0, 0, 0]}),
        lambda s: s.update(total=[1, 2]),
        lambda s: s["fixes"].reverse(),
        lambda s: s["fixes"].append([1, 2]),
    ):
        broken = json.loads(json.dumps(state))
        damage(broken)
        with pytest.raises(StateError):
            UsageCounter.from_dict(broken)
