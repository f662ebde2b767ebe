"""A scripted working day of a van, as fixes: the assets tests' shared route.

Depot, customer A (30 min), customer B (45 min), an excursion to a lay-by outside the
allowed area (20 min), back to the depot, in Berlin. Fixes every 10 s at 50 km/h along
polylines (turns included), parked fixes jitter by a few metres (seeded). On the way back
the tracker loses coverage for 20 minutes: the fixes of that stretch are buffered and
delivered in a burst once the van is back at the depot (:attr:`Day.delivery`).

The route's length is measured with Home Assistant's Vincenty (an implementation
independent of the library under test), segment by segment along the polylines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
import itertools
import math
import random

from homeassistant.util.location import vincenty

from custom_components.thingbridge.assets.trips import TrackFix

DEPOT = (52.5200, 13.4050)
CUSTOMER_A = (52.5450, 13.4400)
CUSTOMER_B = (52.5300, 13.5000)
LAYBY = (52.4800, 13.5600)  # the excursion, outside the allowed polygon
# Drawn around depot, customers and the roads between them; the lay-by is outside.
ALLOWED_WKT = "POLYGON ((13.38 52.50, 13.52 52.50, 13.52 52.56, 13.38 52.56, 13.38 52.50))"

LEGS = [
    [DEPOT, (52.5300, 13.4100), (52.5350, 13.4300), CUSTOMER_A],
    [CUSTOMER_A, (52.5450, 13.4700), (52.5350, 13.4800), CUSTOMER_B],
    [CUSTOMER_B, (52.5100, 13.5200), (52.4900, 13.5400), LAYBY],
    [LAYBY, (52.5000, 13.5000), (52.5100, 13.4500), (52.5150, 13.4200), DEPOT],
]
DWELL_S = [30 * 60, 45 * 60, 20 * 60, 60 * 60]  # parked after each leg
FIRST_PARK_S = 40 * 60  # at the depot before leaving
SPEED_MPS = 50 / 3.6
STEP_S = 10
GAP_LEG = 3  # the way back
GAP_FROM_S, GAP_TO_S = 5 * 60, 25 * 60  # seconds into that leg
START = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)


def geodesic_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    km = vincenty(a, b)
    assert km is not None
    return km * 1000


def leg_length_m(leg: list[tuple[float, float]]) -> float:
    return sum(geodesic_m(a, b) for a, b in itertools.pairwise(leg))


def _along(leg: list[tuple[float, float]], s: float) -> tuple[float, float]:
    for a, b in itertools.pairwise(leg):
        length = geodesic_m(a, b)
        if s <= length:
            k = s / length
            return (a[0] + (b[0] - a[0]) * k, a[1] + (b[1] - a[1]) * k)
        s -= length
    return leg[-1]


@dataclass
class Day:
    fixes: list[TrackFix] = field(default_factory=list)  # time order
    delivery: list[TrackFix] = field(default_factory=list)  # arrival order
    leg_lengths: list[float] = field(default_factory=list)
    departures: list[float] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)


def build_day(*, ignition: bool = False, odometer: bool = False, seed: int = 7) -> Day:
    rng = random.Random(seed)
    day = Day(leg_lengths=[leg_length_m(leg) for leg in LEGS])
    t = START.timestamp()
    odo = 120_000.0
    gap: list[TrackFix] = []

    def fix(lat: float, lon: float, speed: float, on: bool) -> TrackFix:
        return TrackFix(
            t,
            lat,
            lon,
            speed_kmh=speed,
            ignition=on if ignition else None,
            odometer_m=round(odo, 1) if odometer else None,
            accuracy_m=5.0,
        )

    def park(where: tuple[float, float], seconds: float) -> None:
        nonlocal t
        end = t + seconds
        while t < end:
            r = min(6.0, abs(rng.gauss(0, 3)))
            a = rng.uniform(0, 2 * math.pi)
            lat = where[0] + r * math.cos(a) / 111_200
            lon = where[1] + r * math.sin(a) / (111_200 * math.cos(math.radians(where[0])))
            day.fixes.append(fix(lat, lon, 0.0, False))
            t += STEP_S

    park(DEPOT, FIRST_PARK_S)
    for n, leg in enumerate(LEGS):
        length = day.leg_lengths[n]
        day.departures.append(t)
        leg_start = t
        s = 0.0
        while True:
            s = min(length, s + SPEED_MPS * STEP_S)
            odo += SPEED_MPS * STEP_S * 1.01 if s < length else 0
            t += STEP_S
            lat, lon = _along(leg, s)
            f = fix(lat, lon, 50.0, True)
            day.fixes.append(f)
            if n == GAP_LEG and GAP_FROM_S <= t - leg_start < GAP_TO_S:
                gap.append(f)
            if s >= length:
                break
        day.arrivals.append(t)
        t += STEP_S
        park(leg[-1], DWELL_S[n])
    buffered = {f.t for f in gap}
    live = [f for f in day.fixes if f.t not in buffered]
    # The burst arrives 5 minutes after the van is back at the depot.
    cut = next(i for i, f in enumerate(live) if f.t > day.arrivals[-1] + 300)
    day.delivery = live[:cut] + gap + live[cut:]
    return day
