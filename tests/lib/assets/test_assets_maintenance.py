"""Maintenance plans: whichever of hours, km and days comes first; completion log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
import math
from typing import Any

import pytest

from custom_components.thingbridge.assets.errors import MaintenanceError
from custom_components.thingbridge.assets.maintenance import MaintenancePlan, Readings

T0 = datetime(2026, 1, 1, tzinfo=UTC)
H = 3600.0


def plan(**intervals: Any) -> MaintenancePlan:
    return MaintenancePlan.create(
        "Oil change",
        start=T0,
        readings=Readings(engine_hours_s=100 * H, odometer_m=50_000_000.0),
        **intervals,
    )


def test_whichever_comes_first_with_estimated_dates() -> None:
    oil = plan(every_hours=250, every_km=15_000, every_days=365)
    now = T0 + timedelta(days=30)
    due = oil.due(Readings(engine_hours_s=150 * H, odometer_m=50_000_000.0 + 3_000_000), now)
    assert due.status == "ok"
    by = {m.measure: m for m in due.measures}
    assert by["engine_hours"].used == 50
    assert by["engine_hours"].remaining == 200
    assert by["engine_hours"].due_at == T0 + timedelta(days=150)  # 50 h per 30 days
    assert by["distance"].used == 3000
    assert by["distance"].due_at == T0 + timedelta(days=150)
    assert by["days"].remaining == 335
    assert by["days"].due_at == T0 + timedelta(days=365)
    assert due.next is by["distance"]  # same date: the tie goes by name
    later = oil.due(Readings(engine_hours_s=330 * H, odometer_m=50_000_000.0 + 9e6), now)
    assert later.status == "soon"  # 20 h left of 250: under 10 %
    assert later.next is not None
    assert later.next.measure == "engine_hours"
    over = oil.due(Readings(engine_hours_s=360 * H, odometer_m=50_000_000.0 + 16e6), now)
    assert over.status == "due"
    assert over.next is not None
    assert over.next.measure == "distance"  # 107 % of its km beats 104 % of the hours
    assert over.next.remaining is not None


def test_most_overdue_measure_comes_first() -> None:
    oil = plan(every_hours=250, every_km=15_000)
    due = oil.due(Readings(engine_hours_s=360 * H, odometer_m=50_000_000.0 + 16e6), T0)
    assert due.status == "due"
    assert due.next is not None
    assert due.next.measure == "distance"  # 16000/15000 = 107 % beats 260/250 = 104 %
    fractions = {m.measure: m.fraction_used for m in due.measures}
    assert fractions["engine_hours"] == pytest.approx(1.04)
    assert fractions["distance"] == pytest.approx(16000 / 15000)


def test_a_parked_trailer_comes_due_by_date_alone() -> None:
    """The scheduler calls due() with unchanged readings: no position needed."""
    inspection = plan(every_days=180)
    same = Readings(engine_hours_s=100 * H, odometer_m=50_000_000.0)
    assert inspection.due(same, T0 + timedelta(days=170)).status == "soon"
    due = inspection.due(same, T0 + timedelta(days=181))
    assert due.status == "due"
    assert due.next is not None
    assert due.next.remaining == pytest.approx(-1)


def test_unknown_and_reset_readings_make_a_measure_unknown() -> None:
    oil = plan(every_km=15_000, every_hours=250)
    due = oil.due(Readings(odometer_m=1000.0), T0 + timedelta(days=10))
    assert [m.used for m in due.measures] == [None, None]
    assert due.status == "ok"
    assert due.next is None
    idle = oil.due(
        Readings(engine_hours_s=100 * H, odometer_m=50_000_000.0), T0 + timedelta(days=9)
    )
    assert all(m.due_at is None for m in idle.measures)  # no use: no estimate
    assert idle.next is not None


def test_completion_logs_and_moves_the_baseline() -> None:
    oil = plan(every_hours=250, every_days=365)
    done = T0 + timedelta(days=200)
    readings = Readings(engine_hours_s=352 * H, odometer_m=60_000_000.0)
    serviced = oil.complete(done, readings, cost=189.5, note="5W-30, filter")
    assert serviced.baseline_at == done
    assert serviced.baseline == readings
    assert len(serviced.log) == 1
    assert serviced.log[0].cost == 189.5
    after = serviced.due(readings, done + timedelta(days=1))
    assert after.status == "ok"
    assert oil.log == ()  # plans are immutable
    again = serviced.complete(done + timedelta(days=300), readings, note="")
    assert [c.done_at for c in again.log] == [done, done + timedelta(days=300)]
    restored = MaintenancePlan.from_dict(json.loads(json.dumps(again.to_dict())))
    assert restored == again


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (plan, "no_interval"),
        (lambda: plan(every_hours=0), "bad_interval"),
        (lambda: plan(every_km=math.inf), "bad_interval"),
        (lambda: plan(every_days=True), "bad_interval"),
        (lambda: plan(every_days=1, soon_fraction=1.0), "bad_interval"),
        (
            lambda: MaintenancePlan.create(
                "Oil", start=T0, readings=Readings(odometer_m=1.0), every_hours=10
            ),
            "missing_reading",
        ),
        (
            lambda: MaintenancePlan.create("", start=T0, readings=Readings(), every_days=10),
            "bad_name",
        ),
        (
            lambda: MaintenancePlan.create(
                "x",
                start=datetime(2026, 1, 1),
                readings=Readings(),
                every_days=1,
            ),
            "bad_date",
        ),
        (lambda: Readings(odometer_m=-1.0), "bad_reading"),
        (
            lambda: plan(every_days=1).complete(T0 - timedelta(days=1), Readings()),
            "before_baseline",
        ),
        (lambda: plan(every_km=1).complete(T0, Readings()), "missing_reading"),
        (lambda: plan(every_days=1).complete(T0, Readings(), cost=-5), "bad_cost"),
        (lambda: plan(every_days=1).complete(T0, Readings(), note="x" * 1001), "bad_note"),
        (lambda: plan(every_days=1).due(Readings(), datetime(2026, 1, 1)), "bad_date"),
        (lambda: MaintenancePlan.from_dict({"name": "x"}), "bad_state"),
        (
            lambda: MaintenancePlan.from_dict(
                {**plan(every_days=1).to_dict(), "baseline_at": "soon"}
            ),
            "bad_state",
        ),
    ],
)
def test_bad_plans_and_completions_are_refused(call: Any, code: str) -> None:
    with pytest.raises(MaintenanceError) as caught:
        call()
    assert caught.value.code == code, str(caught.value)
