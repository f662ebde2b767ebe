"""Utilization counters of one asset: hours in use, distance and trips, per day and in total.

**In use.** The time between two consecutive fixes counts as use when the first one has the
ignition on, or when the asset moved between them: the first fix's speed is at least
``moving_speed_kmh`` (4 km/h, Traccar's 200 m / 180 s), or the two fixes are at least
``min_move_m`` (15 m, the jitter floor of the trips) apart at that average speed. An
interval longer than ``max_interval_s`` (900 s) counts nothing: nobody knows what
happened in it (a tracker that reports every few minutes while parked with the ignition
on still counts, a coverage gap does not).

**Days.** Intervals are split at local midnight in the configured time zone (``zoneinfo``,
daylight saving time included: a day can have 23 or 25 hours). Distance and trip counts
come from ended trips (:class:`~.trips.Trip`, odometer or GPS as the trip says) and go to
the local day a trip *ended*; a revision (:class:`~.trips.TripsRevised`) takes the old
trips out and puts the new ones in. The trip in progress is the glue's to add (it has
:attr:`~.trips.TripDetector.open_trip`).

**Order.** Fixes may come late: the counter keeps the fixes of the last ``horizon_s``
(2 h) and re-splits the interval a late fix falls into; a resent fix counts once; a fix
older than the horizon is ignored. Amounts are kept in integer milliseconds and
millimetres, so any arrival order of the same fixes gives exactly the same counters.

**State.** :meth:`UsageCounter.to_dict` / :meth:`UsageCounter.from_dict` (JSON-ready);
days older than ``keep_days`` are dropped, the totals keep them.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, time, timedelta
import math
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import StateError, TrackError
from .geo import distance_m
from .trips import TrackFix, Trip, TripEnded, TripEvent, TripsRevised, _fix_from_list, check_fix

STATE_VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageConfig:
    """The counters' settings (see the module's docstring)."""

    time_zone: str = "UTC"
    max_interval_s: float = 900.0
    moving_speed_kmh: float = 4.0
    min_move_m: float = 15.0
    horizon_s: float = 7200.0
    keep_days: int = 62

    def __post_init__(self) -> None:
        """Refuse an unknown time zone and negative numbers."""
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):  # fmt: skip
            raise TrackError(
                f"unknown time zone {str(self.time_zone)[:60]!r}",
                code="bad_time_zone",
                field="time_zone",
            ) from None
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name != "time_zone" and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise TrackError(
                    f"usage setting {item.name} must be a non-negative number",
                    code="bad_setting",
                    field=item.name,
                )

    @property
    def zone(self) -> ZoneInfo:
        """The time zone."""
        return ZoneInfo(self.time_zone)


@dataclass(frozen=True, slots=True)
class Usage:
    """Counters over a day or in total."""

    in_use_s: float
    distance_m: float
    trips: int

    @property
    def in_use_hours(self) -> float:
        """``in_use_s`` in hours."""
        return self.in_use_s / 3600


class UsageCounter:
    """Hours in use, distance and trips of one asset, per local day and in total."""

    def __init__(self, config: UsageConfig | None = None) -> None:
        """Counters at zero, with ``config``'s settings (UTC days when ``None``)."""
        self.config = config or UsageConfig()
        self._zone = self.config.zone
        self._fixes: list[TrackFix] = []  # the horizon's fixes, in time order
        self._days: dict[date, list[int]] = {}  # [in use ms, distance mm, trips]
        self._total = [0, 0, 0]
        self._bounds: tuple[int, int, date] | None = None  # the last day's [start, end) ms

    # -- input ------------------------------------------------------------------------------

    def feed(self, fix: TrackFix) -> bool:
        """Count one fix; ``False`` when it was ignored (seen before, too late, invalid)."""
        try:
            check_fix(fix)
        except TrackError:
            return False
        fixes = self._fixes
        if not fixes or fix.t > fixes[-1].t:
            if fixes:
                self._add(fixes[-1], fix, 1)
            fixes.append(fix)
        else:
            if fix.t < fixes[0].t:
                return False
            low = bisect_left(fixes, fix.t, key=_time)
            high = bisect_right(fixes, fix.t, lo=low, key=_time)
            if any(other.identity == fix.identity for other in fixes[low:high]):
                return False
            at = high
            while at > low and fixes[at - 1].order > fix.order:
                at -= 1
            before = fixes[at - 1] if at > 0 else None
            after = fixes[at] if at < len(fixes) else None
            if before is not None and after is not None:
                self._add(before, after, -1)
            if before is not None:
                self._add(before, fix, 1)
            if after is not None:
                self._add(fix, after, 1)
            fixes.insert(at, fix)
        limit = fixes[-1].t - self.config.horizon_s
        drop = 0
        while drop + 1 < len(fixes) and fixes[drop + 1].t < limit:
            drop += 1
        if drop:
            del fixes[:drop]
        return True

    def feed_many(self, fixes: Iterable[TrackFix]) -> int:
        """Count fixes in any order; return how many were used."""
        return sum(self.feed(fix) for fix in sorted(fixes, key=_order))

    def add_trip(self, trip: Trip, sign: int = 1) -> None:
        """Count an ended trip (``sign=-1`` takes it out again)."""
        day = trip.end.astimezone(self._zone).date()
        amounts = (0, round(trip.distance_m * 1000) * sign, sign)
        self._credit(day, amounts)

    def apply(self, events: Iterable[TripEvent]) -> None:
        """Count the trips a :class:`~.trips.TripDetector`'s events ended or revised."""
        for event in events:
            if isinstance(event, TripEnded):
                self.add_trip(event.trip)
            elif isinstance(event, TripsRevised):
                for trip in event.removed:
                    self.add_trip(trip, -1)
                for trip in event.added:
                    self.add_trip(trip)

    # -- output -----------------------------------------------------------------------------

    def day(self, day: date) -> Usage:
        """The counters of a local day (zero when nothing happened or it was dropped)."""
        in_use, distance, trips = self._days.get(day, (0, 0, 0))
        return Usage(in_use / 1000, distance / 1000, trips)

    def today(self, now: datetime) -> Usage:
        """The counters of the local day of ``now`` (an aware datetime)."""
        if now.tzinfo is None:
            raise TrackError("now has no time zone", code="naive_time")
        return self.day(now.astimezone(self._zone).date())

    @property
    def total(self) -> Usage:
        """The counters since the beginning."""
        in_use, distance, trips = self._total
        return Usage(in_use / 1000, distance / 1000, trips)

    # -- counting ---------------------------------------------------------------------------

    def _in_use(self, a: TrackFix, b: TrackFix) -> bool:
        cfg = self.config
        if a.ignition is True:
            return True
        if a.speed_kmh is not None and a.speed_kmh >= cfg.moving_speed_kmh:
            return True
        moved = distance_m(a.latitude, a.longitude, b.latitude, b.longitude)
        return moved >= cfg.min_move_m and moved / (b.t - a.t) * 3.6 >= cfg.moving_speed_kmh

    def _add(self, a: TrackFix, b: TrackFix, sign: int) -> None:
        if b.t - a.t > self.config.max_interval_s or b.t <= a.t or not self._in_use(a, b):
            return
        for day, ms in self._split(round(a.t * 1000), round(b.t * 1000)):
            self._credit(day, (ms * sign, 0, 0))

    def _split(self, start: int, end: int) -> Iterator[tuple[date, int]]:
        """``[start, end)`` (ms) cut at local midnights."""
        while start < end:
            bounds = self._bounds
            if bounds is None or not bounds[0] <= start < bounds[1]:
                local = datetime.fromtimestamp(start / 1000, self._zone).date()
                first = datetime.combine(local, time(), self._zone)
                after = datetime.combine(local + timedelta(days=1), time(), self._zone)
                bounds = (round(first.timestamp() * 1000), round(after.timestamp() * 1000), local)
                self._bounds = bounds
            cut = min(end, bounds[1])
            yield bounds[2], cut - start
            start = cut

    def _credit(self, day: date, amounts: tuple[int, int, int]) -> None:
        counters = self._days.get(day)
        if counters is None:
            newest = max(self._days, default=day)
            if (newest - day).days > self.config.keep_days:
                counters = [0, 0, 0]  # too old to keep per day: the totals only
            else:
                counters = self._days[day] = [0, 0, 0]
                self._prune(max(newest, day))
        for i in range(3):
            counters[i] += amounts[i]
            self._total[i] += amounts[i]

    def _prune(self, newest: date) -> None:
        oldest = newest - timedelta(days=self.config.keep_days)
        for day in [d for d in self._days if d < oldest]:
            del self._days[day]

    # -- state ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The whole state, JSON-ready."""
        return {
            "version": STATE_VERSION,
            "config": asdict(self.config),
            "fixes": [list(f) for f in self._fixes],
            "days": {d.isoformat(): list(v) for d, v in sorted(self._days.items())},
            "total": list(self._total),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UsageCounter:
        """Counters back from :meth:`to_dict`; :class:`StateError` when it is not one."""
        if not isinstance(data, Mapping) or data.get("version") != STATE_VERSION:
            raise StateError(
                "not a usage state of a known version", code="bad_state", field="version"
            )
        try:
            counter = cls(UsageConfig(**data["config"]))
            fixes = [_fix_from_list(f) for f in data["fixes"]]
            days = {
                date.fromisoformat(d): [int(x) for x in v] for d, v in dict(data["days"]).items()
            }
            total = [int(x) for x in data["total"]]
        except (KeyError, TypeError, ValueError, TrackError) as err:  # fmt: skip
            raise StateError(f"bad usage state: {err}", code="bad_state", field="usage") from None
        if len(total) != 3 or any(len(v) != 3 for v in days.values()):
            raise StateError("bad usage state: counters", code="bad_state", field="usage")
        if fixes != sorted(fixes, key=_order):
            raise StateError("bad usage state: fixes out of order", code="bad_state", field="usage")
        counter._fixes = fixes
        counter._days = days
        counter._total = total
        return counter


def _time(fix: TrackFix) -> float:
    return fix.t


def _order(fix: TrackFix) -> tuple[float, float, float, str]:
    return fix.order
