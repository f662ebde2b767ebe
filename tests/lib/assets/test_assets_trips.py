"""Trip detection: Traccar 6.12's rules, ignition, odometer, gaps, late and resent fixes,
restarts; on the scripted day of :mod:`.synthetic` and on small hand-made tracks."""

from __future__ import annotations

from datetime import UTC, datetime
import json
import math
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.thingbridge.assets.errors import StateError, TrackError
from custom_components.thingbridge.assets.geo import parse_geofence
from custom_components.thingbridge.assets.trips import (
    FixIgnored,
    TrackFix,
    Trip,
    TripConfig,
    TripDetector,
    TripEnded,
    TripEvent,
    TripProgress,
    TripsRevised,
    TripStarted,
    detect_trips,
)
from custom_components.thingbridge.m2m import Position

from .synthetic import ALLOWED_WKT, CUSTOMER_A, CUSTOMER_B, DEPOT, LAYBY, build_day

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC).timestamp()
LAT0, LON0 = 48.0, 11.0
M_PER_DEG_LAT = 111_200.0


def north(metres: float) -> float:
    return LAT0 + metres / M_PER_DEG_LAT


def track(points: list[tuple[float, float]], **fields: Any) -> list[TrackFix]:
    """Fixes at (seconds after T0, metres north of the origin)."""
    return [TrackFix(T0 + s, north(m), LON0, **fields) for s, m in points]


def feed_all(detector: TripDetector, fixes: list[TrackFix]) -> list[TripEvent]:
    events: list[TripEvent] = []
    for fix in fixes:
        events += detector.feed(fix)
    return events


def ended(events: list[TripEvent]) -> list[Trip]:
    """The trips stored by a glue that follows the events."""
    trips: list[Trip] = []
    for event in events:
        if isinstance(event, TripEnded):
            trips.append(event.trip)
        elif isinstance(event, TripsRevised):
            for trip in event.removed:
                trips.remove(trip)
            trips += event.added
    return sorted(trips, key=lambda t: t.start)


# -- the scripted day ----------------------------------------------------------------------------


def test_scripted_day_batch_counts_trips_and_distance_within_two_percent() -> None:
    day = build_day()
    report = detect_trips(day.fixes)
    assert len(report.trips) == 4
    assert report.open_trip is None
    for trip, length, departure, arrival in zip(
        report.trips, day.leg_lengths, day.departures, day.arrivals, strict=True
    ):
        assert trip.distance_m == pytest.approx(length, rel=0.02)
        assert trip.distance_source == "gps"
        assert not trip.estimated
        assert trip.ended_by == "stop"
        # Backdated start: the last parked fix; the end is the arrival, not 180 s later.
        assert abs(trip.start.timestamp() - departure) <= 10
        assert abs(trip.end.timestamp() - arrival) <= 20
        assert trip.max_speed_kmh == 50.0
    total = sum(t.distance_m for t in report.trips)
    assert total == pytest.approx(sum(day.leg_lengths), rel=0.02)


def test_scripted_day_live_with_the_late_burst_ends_as_the_batch() -> None:
    """Fed in arrival order, the buffered burst revises the trip it belongs to."""
    day = build_day()
    batch = detect_trips(day.fixes).trips
    detector = TripDetector()
    events = feed_all(detector, day.delivery)
    assert ended(events) == list(batch)
    # Before the burst, the way back was reported with a straight line across the hole.
    first_report = next(
        e.trip for e in events if isinstance(e, TripEnded) and e.trip.start == batch[3].start
    )
    assert first_report.estimated
    assert first_report.distance_m < batch[3].distance_m
    revisions = [e for e in events if isinstance(e, TripsRevised)]
    assert revisions[0].removed == (first_report,)
    assert not revisions[-1].added[-1].estimated
    # A trip is visible while it runs: progress with distance and duration so far.
    progress = [e.trip for e in events if isinstance(e, TripProgress)]
    assert any(0 < p.distance_m < 4000 and p.duration_s > 60 for p in progress)
    starts = [e.trip.start for e in events if isinstance(e, TripStarted)]
    assert starts[:4] == [t.start for t in batch]


def test_a_burst_fed_at_once_replays_once() -> None:
    day = build_day()
    batch = detect_trips(day.fixes).trips
    assert sorted(day.delivery) == sorted(day.fixes)  # every fix is delivered, some late
    detector = TripDetector()
    burst_start = next(
        i for i, (a, b) in enumerate(zip(day.delivery, day.delivery[1:], strict=False)) if b.t < a.t
    )
    events = feed_all(detector, day.delivery[: burst_start + 1])
    burst_end = next(
        i
        for i in range(burst_start + 1, len(day.delivery))
        if day.delivery[i].t > day.delivery[burst_start].t
    )
    burst = day.delivery[burst_start + 1 : burst_end]
    events += detector.feed_many(burst)
    assert sum(isinstance(e, TripsRevised) for e in events) == 1
    events += feed_all(detector, day.delivery[burst_end:])
    assert ended(events) == list(batch)


@pytest.mark.parametrize("cut", [0.2, 0.35, 0.5, 0.62, 0.8, 0.9])
def test_restart_mid_day_from_serialised_state_gives_the_same_trips(cut: float) -> None:
    """The state goes through JSON text at a point of the day, the rest is fed to the copy."""
    day = build_day(ignition=True, odometer=True)
    whole = TripDetector()
    reference = feed_all(whole, day.delivery)
    n = int(len(day.delivery) * cut)
    first = TripDetector()
    events = feed_all(first, day.delivery[:n])
    restored = TripDetector.from_dict(json.loads(json.dumps(first.to_dict())))
    assert restored.open_trip == first.open_trip
    events += feed_all(restored, day.delivery[n:])
    assert ended(events) == ended(reference)
    assert restored.to_dict() == whole.to_dict()


def test_ignition_off_ends_trips_and_odometer_gives_the_distance() -> None:
    day = build_day(ignition=True, odometer=True)
    trips = detect_trips(day.fixes).trips
    assert [t.ended_by for t in trips] == ["ignition"] * 4
    for trip, length in zip(trips, day.leg_lengths, strict=True):
        assert trip.distance_source == "odometer"
        assert trip.odometer_start_m is not None
        assert trip.odometer_end_m is not None
        assert trip.distance_m == trip.odometer_end_m - trip.odometer_start_m
        assert trip.distance_m == pytest.approx(length * 1.01, rel=0.02)
        assert trip.gps_distance_m == pytest.approx(length, rel=0.02)


def test_a_bad_odometer_is_not_used() -> None:
    moving = [(10.0 * k, 139.0 * k) for k in range(40)] + [
        (400 + 10.0 * k, 5421.0) for k in range(30)
    ]
    zeros = [f._replace(odometer_m=0.0) for f in track(moving)]
    assert detect_trips(zeros).trips[0].distance_source == "gps"
    backwards = [f._replace(odometer_m=10_000.0 - k) for k, f in enumerate(track(moving))]
    assert detect_trips(backwards).trips[0].distance_source == "gps"
    far_off = [f._replace(odometer_m=30.0 * k) for k, f in enumerate(track(moving))]
    trip = detect_trips(far_off).trips[0]
    assert trip.distance_source == "gps"
    assert trip.distance_m == pytest.approx(5421, rel=0.01)


# -- Traccar's rules on small tracks -------------------------------------------------------------


def test_199_metres_is_no_trip_and_200_is() -> None:
    parked = [(10.0 * k, 0.0) for k in range(20)]
    near = parked + [(200.0 + 10 * k, 199.0) for k in range(40)]
    assert detect_trips(track(near)).trips == ()
    far = parked + [(200.0, 100.0), (210.0, 201.0)] + [(220.0 + 10 * k, 201.0) for k in range(40)]
    [trip] = detect_trips(track(far)).trips
    assert trip.start == datetime.fromtimestamp(T0 + 190, UTC)  # the last parked fix
    assert trip.end == datetime.fromtimestamp(T0 + 210, UTC)
    assert trip.distance_m == pytest.approx(201, abs=1)


def test_a_stop_needs_min_duration_within_min_distance() -> None:
    drive = [(10.0 * k, 100.0 * k) for k in range(10)]
    short_halt = [(100 + 10.0 * k, 1000.0) for k in range(17)]  # 160 s
    more = [(270 + 10.0 * k, 1000.0 + 100 * (k + 1)) for k in range(5)]
    long_halt = [(320 + 10.0 * k, 1500.0) for k in range(20)]
    trips = detect_trips(track(drive + short_halt + more + long_halt)).trips
    assert len(trips) == 1
    assert trips[0].distance_m == pytest.approx(1500, abs=2)
    assert trips[0].end == datetime.fromtimestamp(T0 + 310, UTC)


def test_a_slow_creep_is_backdated_only_over_fast_legs() -> None:
    """4 km/h is Traccar's speed limit for backdating the start."""
    walk = [(60.0 * k, 60.0 * k) for k in range(6)]  # 1 m/s: 240 m after 240 s
    trips = detect_trips(track(walk), close_open=True).trips
    assert trips[0].start == datetime.fromtimestamp(T0 + 180, UTC)  # one leg back only
    assert trips[0].ended_by == "data_end"


def test_long_gap_splits_and_becomes_an_estimated_trip() -> None:
    before = [(10.0 * k, 100.0 * k) for k in range(20)]  # moving when the gap begins
    after = [(5800 + 10.0 * k, 30_000.0) for k in range(30)]
    trips = detect_trips(track(before + after)).trips
    assert [t.ended_by for t in trips] == ["gap", "gap"]
    first, gap = trips
    assert not first.estimated
    assert first.end == datetime.fromtimestamp(T0 + 190, UTC)
    assert gap.estimated
    assert gap.distance_source == "gap"
    assert gap.start == first.end
    assert gap.distance_m == pytest.approx(30_000 - 1900, rel=0.001)
    # Parked across the gap: no trip at all.
    still = [(10.0 * k, 0.0) for k in range(20)] + [(9000 + 10.0 * k, 0.0) for k in range(20)]
    assert detect_trips(track(still)).trips == ()


def test_a_short_gap_inside_a_trip_flags_it_estimated() -> None:
    points = [(10.0 * k, 100.0 * k) for k in range(10)]
    points += [(600 + 10.0 * k, 5000.0 + 100 * k) for k in range(10)]
    points += [(700 + 10.0 * k, 5900.0) for k in range(30)]
    [trip] = detect_trips(track(points)).trips
    assert trip.estimated
    assert trip.distance_m == pytest.approx(5900, abs=2)


def test_jitter_below_accuracy_adds_nothing_while_slow_movement_does() -> None:
    parked = [(10.0 * k, 12.0 * (k % 2)) for k in range(500)]  # 12 m jumps, 15 m floor
    assert detect_trips(track(parked)).trips == ()
    detector = TripDetector()
    feed_all(detector, track(parked))
    assert detector.open_trip is None
    poor = [(10.0 * k, 35.0 * (k % 2)) for k in range(50)]
    drive = [(500 + 10.0 * k, 100.0 * k) for k in range(1, 11)] + [
        (600 + 10.0 * k, 1000.0 + 35.0 * (k % 2)) for k in range(30)
    ]
    [trip] = detect_trips(track(poor + drive, accuracy_m=40.0)).trips
    assert trip.distance_m == pytest.approx(1000, abs=40)
    crawl = [(10.0 * k, 0.0) for k in range(20)] + [(200 + 10.0 * k, 12.0 * k) for k in range(60)]
    crawl += [(800 + 10.0 * k, 720.0) for k in range(30)]
    [trip] = detect_trips(track(crawl)).trips
    assert trip.distance_m == pytest.approx(720, abs=20)


def test_ignition_off_ends_a_trip_only_after_it_was_on() -> None:
    tow = track([(10.0 * k, 100.0 * k) for k in range(20)], ignition=False)
    tow += track([(200 + 10.0 * k, 1900.0) for k in range(30)], ignition=False)
    [trip] = detect_trips(tow).trips
    assert trip.ended_by == "stop"
    drive = track([(10.0 * k, 100.0 * k) for k in range(20)], ignition=True)
    off = track([(200.0, 1950.0)], ignition=False)
    [trip] = detect_trips(drive + off).trips
    assert trip.ended_by == "ignition"
    assert trip.end == datetime.fromtimestamp(T0 + 200, UTC)
    no_ignition = TripConfig(use_ignition=False)
    assert detect_trips(drive + off, no_ignition).open_trip is not None


def test_duplicates_count_once_and_too_late_fixes_are_reported() -> None:
    fixes = track(
        [(10.0 * k, 100.0 * k) for k in range(20)] + [(200 + 10.0 * k, 1900.0) for k in range(30)]
    )
    resent = fixes[:25] + fixes[5:15] + fixes[25:] + fixes[-3:]
    report = detect_trips(resent)
    assert report.duplicates == 13
    assert report.trips == detect_trips(fixes).trips
    detector = TripDetector(TripConfig(reorder_horizon_s=100))
    events = feed_all(detector, resent)
    ignored = [e for e in events if isinstance(e, FixIgnored)]
    assert len(ignored) == 13
    assert {e.reason for e in ignored} == {"duplicate", "too_late"}
    assert ended(events) == list(detect_trips(fixes).trips)
    # With a key, identity is the key: same time and place, another record.
    a = TrackFix(T0, LAT0, LON0, key="a")
    b = TrackFix(T0, LAT0, LON0, key="b")
    assert detect_trips([a, b, a]).duplicates == 1


def test_invalid_fixes_are_ignored_by_the_live_detector() -> None:
    detector = TripDetector()
    bad = [TrackFix(math.nan, 1.0, 2.0), TrackFix(T0, 95.0, 2.0), TrackFix(T0, 1.0, 2.0, -5.0)]
    assert detector.feed_many(bad) == [FixIgnored(f, "invalid") for f in bad]
    assert detector.last_fix is None
    json.dumps(detector.to_dict(), allow_nan=False)


def test_a_fix_older_than_the_horizon_is_ignored_consistently() -> None:
    fixes = track([(10.0 * k, 100.0 * k) for k in range(50)])
    old = TrackFix(T0 - 10_000, LAT0, LON0)
    config = TripConfig(reorder_horizon_s=60)
    detector = TripDetector(config)
    feed_all(detector, fixes)
    assert detector.feed(old) == [FixIgnored(old, "too_late")]
    assert detect_trips([*fixes, old], config).too_late == 1


def test_detector_and_batch_agree_on_shuffled_input_within_the_horizon() -> None:
    import random  # noqa: PLC0415

    day = build_day(seed=11)
    rng = random.Random(2)
    shuffled = list(day.fixes)
    for i in range(0, len(shuffled) - 30, 30):  # shuffle within 5-minute blocks
        block = shuffled[i : i + 30]
        rng.shuffle(block)
        shuffled[i : i + 30] = block
    batch = detect_trips(day.fixes).trips
    assert detect_trips(shuffled).trips == batch
    detector = TripDetector()
    assert ended(feed_all(detector, shuffled)) == list(batch)


# -- values and state ------------------------------------------------------------------------------


def test_fix_values_are_checked() -> None:
    with pytest.raises(TrackError, match="time zone"):
        TrackFix.at(datetime(2026, 1, 1), 1.0, 2.0)
    with pytest.raises(TrackError, match="latitude"):
        TrackFix.at(datetime(2026, 1, 1, tzinfo=UTC), 91.0, 2.0)
    with pytest.raises(TrackError, match="speed_kmh"):
        TrackFix.at(datetime(2026, 1, 1, tzinfo=UTC), 1.0, 2.0, speed_kmh=math.nan)
    with pytest.raises(TrackError, match="odometer_m is negative"):
        TrackFix.at(datetime(2026, 1, 1, tzinfo=UTC), 1.0, 2.0, odometer_m=-1)
    when = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert TrackFix.at(when, 1.0, 2.0).time == when
    with pytest.raises(TrackError) as caught:
        TripConfig(min_duration_s=0)
    assert caught.value.placeholders == {"field": "min_duration_s"}
    with pytest.raises(TrackError):
        TripConfig(stop_gap_s=math.inf)


def test_from_position_reads_the_tracker_model() -> None:
    position = Position(
        protocol="teltonika",
        device_id="356307042441013",
        fix_time=datetime(2026, 5, 4, 8, 0, tzinfo=UTC),
        latitude=LAT0,
        longitude=LON0,
        valid=True,
        speed_kmh=42.0,
        ignition=True,
        odometer_m=1234.0,
        accuracy_m=8.0,
    )
    fix = TrackFix.from_position(position, key="digest")
    assert fix == TrackFix(T0, LAT0, LON0, 42.0, True, 1234.0, 8.0, "digest")


def test_trip_and_config_round_trip_through_json() -> None:
    trip = detect_trips(build_day(odometer=True).fixes).trips[0]
    assert Trip.from_dict(json.loads(json.dumps(trip.to_dict()))) == trip
    config = TripConfig(min_distance_m=150, reorder_horizon_s=60)
    assert TripConfig.from_dict(config.to_dict()) == config
    summary = trip.summary()
    assert list(summary) == [
        "start",
        "end",
        "distance_m",
        "duration_s",
        "max_speed_kmh",
        "estimated",
    ]
    assert summary["start"].endswith("+00:00")


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s.update(version=99),
        lambda s: s.pop("config"),
        lambda s: s["config"].update(bogus=1),
        lambda s: s["config"].update(min_distance_m="far"),
        lambda s: s.pop("base"),
        lambda s: s["base"].pop("window"),
        lambda s: s["base"].update(moving=True, start=None),
        lambda s: s["base"].update(anchor=None),
        lambda s: s["base"]["window"][0].__setitem__(0, [1, 2]),
        lambda s: s["pending"].append([0, 95.0, 0, None, None, None, None, None]),
        lambda s: s["pending"].append([0, 1.0, 0, None, "yes", None, None, None]),
        lambda s: s["pending"].append([0, 1.0, 0, None, None, None, None, 5]),
        lambda s: s.update(released=[1, 2]),
        lambda s: s.pop("pending"),
    ],
)
def test_a_damaged_state_is_refused(damage: Any) -> None:
    detector = TripDetector(TripConfig(reorder_horizon_s=60))
    feed_all(detector, track([(10.0 * k, 100.0 * k) for k in range(30)]))
    state = json.loads(json.dumps(detector.to_dict()))
    damage(state)
    with pytest.raises(StateError):
        TripDetector.from_dict(state)


def test_a_fresh_detector_round_trips() -> None:
    detector = TripDetector.from_dict(json.loads(json.dumps(TripDetector().to_dict())))
    assert detector.open_trip is None
    assert detector.last_fix is None
    events = feed_all(detector, track([(10.0 * k, 100.0 * k) for k in range(30)]))
    assert isinstance(events[-1], TripProgress)
    assert detector.last_fix is not None
    assert detector.open_trip is not None
    assert detector.open_trip.distance_m == pytest.approx(2900, abs=2)
    assert detector.open_trip.duration_s == 290


# -- properties ---------------------------------------------------------------------------------

_legs = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=120),  # fixes in the leg
        st.sampled_from([1.0, 5, 10, 30, 200, 4000]),  # seconds between them
        st.floats(min_value=0, max_value=40),  # metres per second
        st.floats(min_value=0, max_value=2 * math.pi),  # heading
        st.sampled_from([None, True, False]),  # ignition
    ),
    min_size=1,
    max_size=12,
)


def _random_track(legs: list[tuple[int, float, float, float, bool | None]]) -> list[TrackFix]:
    fixes = []
    t, y, x = T0, 0.0, 0.0
    for count, step, speed, heading, ignition in legs:
        for _ in range(count):
            t += step
            y = max(-1e5, min(1e5, y + speed * step * math.cos(heading)))  # stay on Earth
            x = max(-1e5, min(1e5, x + speed * step * math.sin(heading)))
            fixes.append(
                TrackFix(
                    t,
                    LAT0 + y / M_PER_DEG_LAT,
                    LON0 + x / (M_PER_DEG_LAT * math.cos(math.radians(LAT0))),
                    speed * 3.6,
                    ignition,
                )
            )
    return fixes


@settings(max_examples=60, deadline=None)
@given(legs=_legs, seed=st.integers(0, 2**16), cut=st.floats(0, 1))
def test_live_batch_and_restart_agree_on_random_tracks(
    legs: list[tuple[int, float, float, float, bool | None]], seed: int, cut: float
) -> None:
    """Disordered within the horizon and resent: live, batch and a restart give one answer."""
    import random  # noqa: PLC0415

    fixes = _random_track(legs)
    rng = random.Random(seed)
    arrival = sorted(
        fixes + rng.sample(fixes, len(fixes) // 5), key=lambda f: f.t + rng.uniform(0, 900)
    )
    config = TripConfig(reorder_horizon_s=1200)
    batch = detect_trips(fixes, config)
    assert detect_trips(arrival, config).trips == batch.trips
    live = TripDetector(config)
    n = int(len(arrival) * cut)
    events = feed_all(live, arrival[:n])
    live = TripDetector.from_dict(json.loads(json.dumps(live.to_dict())))
    events += feed_all(live, arrival[n:])
    assert ended(events) == list(batch.trips)
    assert live.open_trip == batch.open_trip
    for trip in batch.trips:
        assert trip.start < trip.end or trip.ended_by in ("ignition", "gap")
        assert trip.distance_m >= 0


def test_a_long_batch_compacts_its_buffer_and_still_recognises_old_fixes() -> None:
    """30,000 fixes (more than the buffer keeps), then resends of old ones."""
    # 100 fixes driving 50 m apart, then 100 parked, and again: 150 trips.
    drive = [(10.0 * k, 5000.0 * (k // 200) + 50.0 * min(k % 200, 100)) for k in range(30_000)]
    fixes = track(drive)
    config = TripConfig(reorder_horizon_s=60)
    report = detect_trips([*fixes, fixes[100], fixes[-20], fixes[-1]], config)
    assert (report.duplicates, report.too_late) == (1, 2)
    clean = detect_trips(fixes, config)
    assert report.trips == clean.trips
    assert report.open_trip == clean.open_trip
    assert len(report.trips) == 150


def test_scripted_day_leaves_the_allowed_polygon_once_for_the_excursion() -> None:
    """The day's allowed area (WKT): depot and customers inside, the lay-by outside."""
    allowed = parse_geofence(ALLOWED_WKT)
    inside = [allowed.contains(f.latitude, f.longitude) for f in build_day().fixes]
    assert inside[0]
    assert inside[-1]
    changes = [i for i in range(1, len(inside)) if inside[i] != inside[i - 1]]
    assert len(changes) == 2  # out once (on the way to the lay-by), back once
    assert not allowed.contains(*LAYBY)
    assert all(allowed.contains(*p) for p in (DEPOT, CUSTOMER_A, CUSTOMER_B))
