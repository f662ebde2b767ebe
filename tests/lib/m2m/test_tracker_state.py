"""The folding rules of a tracker's state: newest wins, odometer, engine hours, checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from typing import Any

import pytest

from custom_components.thingbridge.m2m.trackers import Heartbeat, Position, StatusReport
from custom_components.thingbridge.m2m.trackers.state import (
    DEFAULT_ACCURACY_M,
    MIN_ODOMETER_STEP_M,
    Fix,
    TrackerState,
    distance_m,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
T0 = NOW - timedelta(hours=1)
LAT, LON = 54.6872, 25.2797
METRE_LAT = 1 / 111_195  # degrees of latitude per metre (mean Earth radius)


def pos(seconds: float, north_m: float = 0.0, **kw: Any) -> Position:
    """A valid fix ``north_m`` metres north of the start, ``seconds`` after T0."""
    kw.setdefault("valid", True)
    return Position(
        protocol="h02",
        device_id="4210051415",
        fix_time=T0 + timedelta(seconds=seconds),
        latitude=LAT + north_m * METRE_LAT,
        longitude=LON,
        **kw,
    )


def test_newest_fix_wins_and_values_keep_their_newest() -> None:
    state = TrackerState("h02", "4210051415")
    shown = state.apply_positions(
        [pos(20, 200, speed_kmh=36.0), pos(0, 0, speed_kmh=10.0, ignition=True)], NOW
    )
    assert [f.time for f in shown] == [T0, T0 + timedelta(seconds=20)]  # sorted, both newer
    assert state.value("speed_kmh") == 36.0
    assert state.value("ignition") is True  # only the older one carried it
    # buffered history arrives: nothing moves back
    assert state.apply_positions([pos(10, 100, speed_kmh=99.0, ignition=False)], NOW) == []
    assert state.fix is not None
    assert state.fix.time == T0 + timedelta(seconds=20)
    assert state.value("speed_kmh") == 36.0
    assert state.value("ignition") is False  # newer than the ignition it had (t=0)
    # an invalid fix updates the values but not the location
    assert state.apply_positions([pos(30, 5000, valid=False, satellites=0)], NOW) == []
    assert state.value("satellites") == 0
    assert state.fix.latitude == pytest.approx(LAT + 200 * METRE_LAT)
    # a fix dated days ahead (a broken clock) is not shown
    future = Position(protocol="h02", device_id="x", fix_time=NOW + timedelta(days=2),
                      latitude=1.0, longitude=2.0, valid=True)  # fmt: skip
    assert state.apply_positions([future], NOW) == []
    assert state.newest == T0 + timedelta(seconds=30)


def test_motion_from_speed_unless_reported() -> None:
    state = TrackerState("h02", "1")
    state.apply_positions([pos(0, speed_kmh=0.0)], NOW)
    assert state.value("motion") is False
    state.apply_positions([pos(10, speed_kmh=12.0)], NOW)
    assert state.value("motion") is True
    state.apply_positions([pos(20, speed_kmh=12.0, motion=False)], NOW)
    assert state.value("motion") is False


def test_accuracy_from_report_hdop_or_default() -> None:
    state = TrackerState("osmand", "1")
    state.apply_positions([pos(0, accuracy_m=7.5)], NOW)
    assert state.fix is not None
    assert state.fix.accuracy_m == 7.5
    state.apply_positions([pos(1, hdop=1.2)], NOW)
    assert state.fix.accuracy_m == pytest.approx(6.0)
    state.apply_positions([pos(2)], NOW)
    assert state.fix.accuracy_m == DEFAULT_ACCURACY_M


def test_computed_odometer_ignores_drift_glitches_and_history() -> None:
    state = TrackerState("h02", "1")
    state.apply_positions([pos(0, 0)], NOW)
    # parked: GPS drift of a few metres does not count
    state.apply_positions([pos(10, 3), pos(20, -4), pos(30, 2)], NOW)
    assert state.odometer_m == 0
    # driving 500 m north in 50 s (36 km/h)
    state.apply_positions([pos(40 + i * 10, 100 * (i + 1)) for i in range(5)], NOW)
    assert state.odometer_m == pytest.approx(500, abs=0.5)
    # a glitch 50 km away for one fix, then back on the road: skipped
    state.apply_positions([pos(100, 50_000), pos(110, 600)], NOW)
    assert state.odometer_m == pytest.approx(600, abs=0.5)
    # history older than what was counted is not added
    state.apply_positions([pos(95, 2000)], NOW)
    assert state.odometer_m == pytest.approx(600, abs=0.5)
    # a relocation confirmed by two fixes restarts the count there, without the jump
    state.apply_positions([pos(120, 90_000), pos(130, 90_100), pos(140, 90_200)], NOW)
    assert state.odometer_m == pytest.approx(700, abs=0.5)
    # the device's own odometer wins once it reports one
    state.apply_positions([pos(150, 90_300, odometer_m=123_456.0)], NOW)
    assert state.odometer_m == 123_456.0
    assert state.computed_odometer_m == pytest.approx(800, abs=0.5)
    assert MIN_ODOMETER_STEP_M > 4


def test_engine_hours_while_ignition_is_on() -> None:
    state = TrackerState("gt06", "1")
    state.apply_positions(
        [
            pos(0, ignition=False),
            pos(60, ignition=True),
            pos(120, ignition=True),  # +60 s
            pos(180),  # no ignition field: ignored
            pos(240, ignition=True),  # +120 s
            pos(300, ignition=False),  # on → off: not counted
            pos(360, ignition=False),
        ],
        NOW,
    )
    assert state.engine_hours_s == 180
    state.apply_positions([pos(200, ignition=True)], NOW)  # older: not counted
    assert state.engine_hours_s == 180
    state.apply_positions([pos(400, engine_hours_s=7200.0)], NOW)
    assert state.engine_hours_s == 7200
    assert state.computed_engine_s == 180


def test_status_messages() -> None:
    state = TrackerState("gt06", "1")
    beat = Heartbeat(protocol="gt06", device_id="1", ignition=True, gsm_signal=4)
    assert state.apply_status(beat, NOW)
    assert (state.value("ignition"), state.value("gsm_signal")) == (True, 4)
    assert not state.apply_status(beat, NOW)  # nothing new
    # a position after it (device time) still updates ignition: untimed reports do not block
    state.apply_positions([pos(0, ignition=False)], NOW)
    assert state.value("ignition") is False
    old = StatusReport(protocol="gt06", device_id="1", time=T0 - timedelta(hours=1),
                       ignition=True, battery_percent=50.0)  # fmt: skip
    assert state.apply_status(old, NOW)  # the battery is new; the ignition is older
    assert (state.value("ignition"), state.value("battery_percent")) == (False, 50.0)
    ahead = StatusReport(protocol="gt06", device_id="1", time=NOW + timedelta(days=3),
                         ignition=True)  # fmt: skip
    assert not state.apply_status(ahead, NOW)


def test_checkpoint_round_trip_through_json() -> None:
    state = TrackerState("teltonika", "356307042441013")
    state.apply_positions(
        [
            pos(0, 0, ignition=True, external_voltage_v=12.8),
            pos(10, 100, ignition=True),
            pos(20, 50_000),
        ],
        NOW,
    )
    state.last_seen = NOW
    data = json.loads(json.dumps(state.checkpoint()))
    copy = TrackerState("teltonika", "356307042441013")
    copy.restore(data)
    assert copy.checkpoint() == state.checkpoint()
    assert copy.odometer_m == state.odometer_m
    assert copy.engine_hours_s == 10
    assert copy.value("external_voltage_v") == 12.8
    # both go on the same way (the pending glitch is kept too)
    more = [pos(30, 50_100), pos(40, 50_200, ignition=True)]
    state.apply_positions(more, NOW)
    copy.apply_positions(more, NOW)
    assert copy.checkpoint() == state.checkpoint()
    empty = TrackerState("h02", "1")
    empty.restore(json.loads(json.dumps(TrackerState("h02", "1").checkpoint())))
    assert empty.fix is None


@pytest.mark.parametrize(
    "bad",
    [
        {"fix": [1, 2]},
        {"fix": ["2026-11-25T10:00:00", 1.0, 2.0, 3.0]},  # no time zone
        {"odometer_m": "far"},
        {"engine_s": float("inf")},
        {"values": {"speed_kmh": "fast"}},
        {"ignition": ["yesterday", True]},
    ],
)
def test_a_broken_checkpoint_is_refused_and_changes_nothing(bad: dict[str, Any]) -> None:
    state = TrackerState("h02", "1")
    state.apply_positions([pos(0, 0, speed_kmh=5.0)], NOW)
    before = state.checkpoint()
    with pytest.raises(ValueError, match="not a tracker checkpoint"):
        state.restore(before | bad)
    assert state.checkpoint() == before


def test_unknown_or_unusable_values_are_dropped_from_a_checkpoint() -> None:
    state = TrackerState("h02", "1")
    stamp = T0.isoformat()
    state.restore(
        {"values": {"speed_kmh": [stamp, None], "colour": [stamp, 3], "hdop": [stamp, 1.5]}}
    )
    assert state.value("speed_kmh") is None
    assert state.value("colour") is None
    assert state.value("hdop") == 1.5


def test_distance() -> None:
    a = Fix(T0, LAT, LON, 5.0)
    b = Fix(T0, LAT + 1000 * METRE_LAT, LON, 5.0)
    assert distance_m(a, b) == pytest.approx(1000, abs=0.01)
    assert distance_m(a, a) == 0
