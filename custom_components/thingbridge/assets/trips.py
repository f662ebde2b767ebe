"""Trip detection from a stream of fixes, after Traccar's trip logic (6.12 and later).

**Rules** (:class:`TripConfig` holds the numbers; the defaults are Traccar's since 6.12,
``report.trip.newLogic``):

- **Start.** While stopped, a trip starts at the first fix at least ``min_distance_m``
  (200 m) from where the asset stopped. Its start is backdated, as Traccar does, over the
  legs just before that fix that were faster than ``min_distance_m / min_duration_s``
  (1.11 m/s, 4 km/h): the trip starts at the last fix before the asset began to move.
- **Stop.** While moving, the asset has stopped once every fix of the last
  ``min_duration_s`` (180 s) lies within ``min_distance_m`` of the newest one. The trip
  ends where the asset arrived: at the first of those fixes after which no more distance
  was counted (below), not 180 s later.
- **Ignition.** When the source reports ignition, the ignition turning off (a fix with
  ``ignition=False`` after one with ``True``) ends a trip at that fix. A trip that starts
  with the ignition off (a towed trailer) is still found by distance.
- **Gap.** Two consecutive fixes more than ``stop_gap_s`` (3600 s) apart split: a trip in
  progress ends before the gap (where it arrived, as above); if the gap itself covers at least
  ``min_distance_m`` faster than 1.11 m/s, it becomes a trip of its own from the fix before
  to the fix after, flagged ``estimated``. A trip in which two consecutive fixes are more
  than ``estimate_gap_s`` (300 s) apart, with the asset moving between them, is flagged
  ``estimated`` too.
- **Distance.** Summed ellipsoidal steps (:func:`.geo.distance_m`) from the last counted
  point: a step shorter than the fix's accuracy (at least ``min_jitter_m``, 15 m) is not
  counted and the next one is measured from the same point, so a parked or crawling asset's
  GPS jitter adds nothing while real slow movement still adds up. When the device reports
  an odometer that never decreased during the trip and whose difference agrees with the
  GPS sum (within ``odometer_tolerance`` of it, or ``odometer_tolerance_m``), the
  odometer's difference is the trip's distance (``distance_source="odometer"``).
- **Order and duplicates.** Fixes are processed in time order (ties by latitude,
  longitude, key). A fix's identity is its ``key`` when given, otherwise (time, latitude,
  longitude); a fix seen again is ignored. A fix that arrives late (a buffered burst after a
  coverage gap) lands in time order: the detector keeps the fixes of the last
  ``reorder_horizon_s`` (2 h) and the state before them, and replays them with the late
  fix in place. A fix older than that horizon can no longer be placed and is ignored
  (:class:`FixIgnored`, ``"too_late"``); the glue recomputes from its journal if it cares.

**Two faces, one result.** :class:`TripDetector` is fed fixes one at a time (or in bursts)
and returns events: :class:`TripStarted`, :class:`TripProgress` (distance and duration so
far: a trip is visible before it ends), :class:`TripEnded`, :class:`TripsRevised` (a late
fix changed trips already reported) and :class:`FixIgnored`. :func:`detect_trips` folds an
iterable (streamed, memory bounded by the horizon) into a :class:`TripReport`. Both apply
the same rules to the same time-ordered sequence, so recomputing from raw fixes gives the
same trips as the live detector; :meth:`TripDetector.to_dict` / :meth:`TripDetector.from_dict`
carry the whole state through a restart (JSON-ready), after which feeding the remaining
fixes gives the same result as never stopping.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
import math
from typing import Any, Literal, NamedTuple, Protocol

from .errors import StateError, TrackError
from .geo import _E2, WGS84_A, distance_m

_RAD = math.pi / 180
_LOCAL = 0.005  # radians: geo.distance_m's local-ellipsoid limit
_A_1_E2 = WGS84_A * (1 - _E2)
_NONE: list[Any] = []  # shared empty result: never appended to
# Metres per degree of longitude at latitude n°, a lower bound (110 km < 111.32 km).
_LON_SCALE = tuple(110_000 * math.cos(math.radians(n)) for n in range(90))

STATE_VERSION = 1

EndReason = Literal["stop", "ignition", "gap", "data_end"]
DistanceSource = Literal["gps", "odometer", "gap"]


class PositionLike(Protocol):
    """What :meth:`TrackFix.from_position` reads (the M2M library's ``Position`` fits)."""

    @property
    def fix_time(self) -> datetime:  # noqa: D102
        ...
    @property
    def latitude(self) -> float:  # noqa: D102
        ...
    @property
    def longitude(self) -> float:  # noqa: D102
        ...
    @property
    def speed_kmh(self) -> float | None:  # noqa: D102
        ...
    @property
    def ignition(self) -> bool | None:  # noqa: D102
        ...
    @property
    def odometer_m(self) -> float | None:  # noqa: D102
        ...
    @property
    def accuracy_m(self) -> float | None:  # noqa: D102
        ...


class TrackFix(NamedTuple):
    """One located fix, as the detector reads it.

    Attributes:
        t: The fix time as UTC epoch seconds (see :meth:`at` to build from a datetime).
        latitude: Degrees, WGS84.
        longitude: Degrees, WGS84.
        speed_kmh: The device's speed, when reported.
        ignition: The device's ignition, when reported.
        odometer_m: The device's odometer in metres, when reported.
        accuracy_m: The fix's horizontal accuracy in metres, when known.
        key: An identity for duplicates (a journal digest); default (time, lat, lon).

    The plain constructor checks nothing (the batch path builds hundreds of thousands);
    :meth:`at`, :meth:`from_position` and the track readers check every value, and
    :class:`TripDetector` ignores a fix :func:`check_fix` refuses.
    """

    t: float
    latitude: float
    longitude: float
    speed_kmh: float | None = None
    ignition: bool | None = None
    odometer_m: float | None = None
    accuracy_m: float | None = None
    key: str | None = None

    @classmethod
    def at(
        cls,
        time: datetime,
        latitude: float,
        longitude: float,
        *,
        speed_kmh: float | None = None,
        ignition: bool | None = None,
        odometer_m: float | None = None,
        accuracy_m: float | None = None,
        key: str | None = None,
    ) -> TrackFix:
        """A fix at an aware ``time``; raises :class:`TrackError` for a bad value."""
        if time.tzinfo is None:
            raise TrackError("the fix time has no time zone", code="naive_time")
        fix = cls(
            time.timestamp(), latitude, longitude, speed_kmh, ignition, odometer_m, accuracy_m, key
        )
        check_fix(fix)
        return fix

    @classmethod
    def from_position(cls, position: PositionLike, key: str | None = None) -> TrackFix:
        """A fix from a tracker position (the M2M library's ``Position``)."""
        return cls.at(
            position.fix_time,
            position.latitude,
            position.longitude,
            speed_kmh=position.speed_kmh,
            ignition=position.ignition,
            odometer_m=position.odometer_m,
            accuracy_m=position.accuracy_m,
            key=key,
        )

    @property
    def time(self) -> datetime:
        """The fix time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.t, UTC)

    @property
    def identity(self) -> object:
        """What makes two fixes the same record: ``key``, else (time, latitude, longitude)."""
        return self.key if self.key is not None else (self.t, self.latitude, self.longitude)

    @property
    def order(self) -> tuple[float, float, float, str]:
        """The processing order: time, then latitude, longitude and key for ties."""
        return (self.t, self.latitude, self.longitude, self.key or "")


def _order(fix: TrackFix) -> tuple[float, float, float, str]:
    return fix.order


def check_fix(fix: TrackFix) -> None:
    """Raise :class:`TrackError` naming the field when a fix holds an impossible value."""
    for name in ("t", "latitude", "longitude", "speed_kmh", "odometer_m", "accuracy_m"):
        value = getattr(fix, name)
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise TrackError(f"{name} is not a finite number", code="bad_value", field=name)
    if not -90 <= fix.latitude <= 90:
        raise TrackError("latitude outside [-90, 90]", code="bad_value", field="latitude")
    if not -180 <= fix.longitude <= 180:
        raise TrackError("longitude outside [-180, 180]", code="bad_value", field="longitude")
    for name in ("speed_kmh", "odometer_m", "accuracy_m"):
        value = getattr(fix, name)
        if value is not None and value < 0:
            raise TrackError(f"{name} is negative", code="bad_value", field=name)


@dataclass(frozen=True, slots=True, kw_only=True)
class TripConfig:
    """The trip rules' numbers (see the module's docstring); defaults are Traccar 6.12's."""

    min_distance_m: float = 200.0
    min_duration_s: float = 180.0
    stop_gap_s: float = 3600.0
    use_ignition: bool = True
    min_jitter_m: float = 15.0
    estimate_gap_s: float = 300.0
    reorder_horizon_s: float = 7200.0
    odometer_tolerance: float = 0.2
    odometer_tolerance_m: float = 100.0

    def __post_init__(self) -> None:
        """Refuse negative, infinite or zero thresholds."""
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name != "use_ignition" and (
                not isinstance(value, int | float) or not math.isfinite(value) or value < 0
            ):
                raise TrackError(
                    f"trip setting {item.name} must be a non-negative number",
                    code="bad_setting",
                    field=item.name,
                )
        if self.min_duration_s <= 0 or self.min_distance_m <= 0:
            raise TrackError(
                "min_distance_m and min_duration_s must be positive",
                code="bad_setting",
                field="min_duration_s" if self.min_duration_s <= 0 else "min_distance_m",
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TripConfig:
        """Settings back from :meth:`to_dict` (unknown keys refused)."""
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise StateError(
                f"unknown trip setting {unknown[0]!r}", code="bad_state", field=unknown[0]
            )
        try:
            return cls(**dict(data))
        except (TypeError, TrackError) as err:  # fmt: skip
            raise StateError(
                f"bad trip settings: {err}", code="bad_state", field="config"
            ) from None


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class Trip:
    """A trip that ended.

    Attributes:
        start / end: Aware UTC datetimes.
        start_latitude, start_longitude, end_latitude, end_longitude: Where (degrees).
        distance_m: The trip's distance (odometer or GPS, see ``distance_source``).
        gps_distance_m: The summed GPS steps, whatever ``distance_m`` uses.
        distance_source: ``"odometer"``, ``"gps"``, or ``"gap"`` (across a coverage gap:
            the odometer's difference when it is plausible, else the straight line).
        max_speed_kmh: The highest reported speed (or step speed where none is reported).
        estimated: The trip spans a gap in the fixes.
        odometer_start_m / odometer_end_m: The device's odometer at the ends, for a logbook.
        ended_by: ``"stop"``, ``"ignition"``, ``"gap"`` or ``"data_end"`` (a batch
            closed a trip still open at the end of its data).
    """

    start: datetime
    end: datetime
    start_latitude: float
    start_longitude: float
    end_latitude: float
    end_longitude: float
    distance_m: float
    gps_distance_m: float
    distance_source: DistanceSource
    max_speed_kmh: float
    estimated: bool
    odometer_start_m: float | None
    odometer_end_m: float | None
    ended_by: EndReason

    @property
    def duration_s(self) -> float:
        """Seconds from start to end."""
        return (self.end - self.start).total_seconds()

    def summary(self) -> dict[str, Any]:
        """The command line's JSON line.

        Keys: start, end, distance_m, duration_s, max_speed_kmh, estimated.
        """
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "distance_m": round(self.distance_m, 1),
            "duration_s": round(self.duration_s, 3),
            "max_speed_kmh": round(self.max_speed_kmh, 1),
            "estimated": self.estimated,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (times as ISO 8601 text)."""
        data = asdict(self)
        data["start"] = self.start.isoformat()
        data["end"] = self.end.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trip:
        """A trip back from :meth:`to_dict`."""
        try:
            values = dict(data)
            values["start"] = datetime.fromisoformat(values["start"])
            values["end"] = datetime.fromisoformat(values["end"])
            return cls(**values)
        except (KeyError, TypeError, ValueError) as err:  # fmt: skip
            raise StateError(f"bad trip record: {err}", code="bad_state", field="trip") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenTrip:
    """A trip in progress: what it has covered so far."""

    start: datetime
    last: datetime
    start_latitude: float
    start_longitude: float
    latitude: float
    longitude: float
    distance_m: float
    max_speed_kmh: float
    estimated: bool
    odometer_start_m: float | None

    @property
    def duration_s(self) -> float:
        """Seconds from the start to the newest fix."""
        return (self.last - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class TripStarted:
    """A trip began (or, after a late fix, its start moved: this one replaces it)."""

    trip: OpenTrip


@dataclass(frozen=True, slots=True)
class TripProgress:
    """A trip in progress went on."""

    trip: OpenTrip


@dataclass(frozen=True, slots=True)
class TripEnded:
    """A trip ended; store it."""

    trip: Trip


@dataclass(frozen=True, slots=True)
class TripsRevised:
    """A late fix changed trips already reported as ended: drop ``removed``, store ``added``."""

    removed: tuple[Trip, ...]
    added: tuple[Trip, ...]


@dataclass(frozen=True, slots=True)
class FixIgnored:
    """A fix that was not used.

    ``reason`` is ``"duplicate"`` (seen before), ``"too_late"`` (older than the reorder
    horizon) or ``"invalid"`` (a value :func:`check_fix` refuses: NaN, out of range).
    """

    fix: TrackFix
    reason: Literal["duplicate", "too_late", "invalid"]


TripEvent = TripStarted | TripProgress | TripEnded | TripsRevised | FixIgnored

# A window entry: the fix, the trip's GPS distance and max speed up to it, the newest
# odometer reading up to it.
_Entry = tuple[TrackFix, float, float, float | None]


class _Machine:
    """The trip state folded over time-ordered fixes (no reordering, no events)."""

    __slots__ = (
        "anchor",
        "cfg",
        "counted",
        "dist",
        "estimated",
        "ignition",
        "last",
        "max_speed",
        "min_speed",
        "moving",
        "odo_last",
        "odo_ok",
        "odo_start",
        "start",
        "window",
    )

    def __init__(self, cfg: TripConfig) -> None:
        self.cfg = cfg
        self.min_speed = cfg.min_distance_m / cfg.min_duration_s
        self.last: TrackFix | None = None
        self.moving = False
        self.anchor: TrackFix | None = None
        self.window: deque[_Entry] = deque()
        self.ignition: bool | None = None
        # the trip in progress
        self.start: TrackFix | None = None
        self.counted: TrackFix | None = None
        self.dist = 0.0
        self.max_speed = 0.0
        self.estimated = False
        self.odo_start: float | None = None
        self.odo_last: float | None = None
        self.odo_ok = True

    # -- folding ---------------------------------------------------------------------------

    def step(self, f: TrackFix) -> list[Trip]:
        """Fold one fix (newer than every fix before); return the trips it closed."""
        last = self.last
        closed: list[Trip] = _NONE
        if last is None:
            self._rest(f)
        elif f.t - last.t > self.cfg.stop_gap_s:
            closed = self._gap(last, f)
        elif self.moving:
            closed = self._moving(f, f.t - last.t)
        else:
            # Still parked? The common case, inlined: a cheap upper bound of the distance
            # from the stop (a degree is at most 111.7 km either way), then the window.
            anchor = self.anchor
            assert anchor is not None
            dlat = f.latitude - anchor.latitude
            dlon = f.longitude - anchor.longitude
            if ((dlat if dlat > 0 else -dlat) + (dlon if dlon > 0 else -dlon)) * 111_700 < (
                self.cfg.min_distance_m
            ):
                window = self.window
                window.append((f, 0.0, 0.0, f.odometer_m))
                newest = f.t
                duration = self.cfg.min_duration_s
                while newest - window[1][0].t >= duration:
                    window.popleft()
                    if len(window) == 1:
                        break
            else:
                self._stopped(f)
        if f.ignition is not None:
            self.ignition = f.ignition
        self.last = f
        return closed

    def _gap(self, last: TrackFix, f: TrackFix) -> list[Trip]:
        closed: list[Trip] = []
        if self.moving:
            closed.append(self._close(self._arrival(), "gap"))
        jump = distance_m(last.latitude, last.longitude, f.latitude, f.longitude)
        if jump >= self.cfg.min_distance_m and jump / (f.t - last.t) > self.min_speed:
            closed.append(self._gap_trip(last, f, jump))
        self._rest(f)
        return closed

    def _rest(self, f: TrackFix) -> None:
        self.moving = False
        self.anchor = f
        self.start = self.counted = None
        self.window = deque([(f, 0.0, 0.0, f.odometer_m)])

    def _count(self, f: TrackFix, gap: float) -> None:
        """Add the step to ``f`` to the trip in progress."""
        counted = self.counted
        assert counted is not None
        lat0 = counted.latitude
        dlat = (f.latitude - lat0) * _RAD
        dlon = (f.longitude - counted.longitude) * _RAD
        if -_LOCAL < dlat < _LOCAL and -_LOCAL < dlon < _LOCAL:
            # geo.distance_m's local-ellipsoid branch, inlined (this runs for every fix)
            phi = (f.latitude + lat0) * (_RAD / 2)
            sin_phi = math.sin(phi)
            w2 = 1 - _E2 * sin_phi * sin_phi
            w = math.sqrt(w2)
            north = _A_1_E2 / (w2 * w) * dlat
            east = WGS84_A / w * math.cos(phi) * dlon
            step = math.sqrt(north * north + east * east)
        else:
            step = distance_m(lat0, counted.longitude, f.latitude, f.longitude)
        threshold = self.cfg.min_jitter_m
        accuracy = f.accuracy_m
        if accuracy is not None and accuracy > threshold:
            threshold = accuracy
        speed = f.speed_kmh
        if step >= threshold:
            self.dist += step
            self.counted = f
            if gap > self.cfg.estimate_gap_s:
                self.estimated = True  # moved across a gap: the path between is a guess
            if speed is None and f.t > counted.t:
                derived = step / (f.t - counted.t) * 3.6
                self.max_speed = max(self.max_speed, derived)
        if speed is not None and speed > self.max_speed:
            self.max_speed = speed
        odo = f.odometer_m
        if odo is not None:
            if self.odo_start is None:
                self.odo_start = odo
            elif self.odo_last is not None and odo < self.odo_last:
                self.odo_ok = False
            self.odo_last = odo

    def _stopped(self, f: TrackFix) -> None:
        anchor = self.anchor
        assert anchor is not None
        window = self.window
        limit = self.cfg.min_distance_m
        dlat = f.latitude - anchor.latitude
        dlon = f.longitude - anchor.longitude
        if ((dlat if dlat > 0 else -dlat) + (dlon if dlon > 0 else -dlon)) * 111_700 < limit or (
            distance_m(anchor.latitude, anchor.longitude, f.latitude, f.longitude) < limit
        ):
            window.append((f, 0.0, 0.0, f.odometer_m))
            newest = f.t
            duration = self.cfg.min_duration_s
            while len(window) > 1 and newest - window[1][0].t >= duration:
                window.popleft()
            return
        # Departure: backdate the start over the fast legs before this fix.
        chain = [e[0] for e in window if e[0].t >= anchor.t]
        chain.append(f)
        j = len(chain) - 1
        while j > 0:
            a, b = chain[j - 1], chain[j]
            leg = distance_m(a.latitude, a.longitude, b.latitude, b.longitude)
            if b.t > a.t and leg / (b.t - a.t) <= self.min_speed:
                break
            j -= 1
        j = min(j, len(chain) - 2)
        start = chain[j]
        self.moving = True
        self.start = self.counted = start
        self.dist = 0.0
        self.max_speed = start.speed_kmh or 0.0
        self.estimated = False
        self.odo_start = self.odo_last = start.odometer_m
        self.odo_ok = True
        self.window = deque([(start, 0.0, self.max_speed, start.odometer_m)])
        previous = start
        for fix in chain[j + 1 :]:
            self._count(fix, fix.t - previous.t)
            self.window.append((fix, self.dist, self.max_speed, self.odo_last))
            previous = fix
        self._trim()

    def _moving(self, f: TrackFix, gap: float) -> list[Trip]:
        cfg = self.cfg
        window = self.window
        ignition_off = cfg.use_ignition and f.ignition is False and self.ignition is True
        stop = False
        first = window[0][0]
        if not ignition_off and f.t - first.t >= cfg.min_duration_s:
            limit = cfg.min_distance_m
            lat, lon = f.latitude, f.longitude
            # Cheap lower bounds first: a degree of latitude is at least 110.5 km, one of
            # longitude at least 110 km x cos of the highest latitude nearby.
            dlat = lat - first.latitude
            dlon = lon - first.longitude
            if (
                (dlat if dlat > 0 else -dlat) * 110_500 < limit
                and (
                    (dlon if dlon > 0 else -dlon) * self.lon_scale(lat) < limit
                    or not -180 < dlon < 180
                )
                and distance_m(first.latitude, first.longitude, lat, lon) < limit
            ):
                stop = all(
                    distance_m(e[0].latitude, e[0].longitude, lat, lon) < limit
                    for e in list(window)[1:]
                )
        self._count(f, gap)
        window.append((f, self.dist, self.max_speed, self.odo_last))
        if ignition_off:
            trip = self._close(window[-1], "ignition")
            self._rest(f)
            return [trip]
        if stop:
            trip = self._close(self._arrival(), "stop")
            self._rest(f)
            return [trip]
        newest = f.t
        duration = cfg.min_duration_s
        while len(window) > 1 and newest - window[1][0].t >= duration:
            window.popleft()
        return _NONE

    def _arrival(self) -> _Entry:
        """The window's first entry after which the trip added no distance."""
        final = self.dist
        return next(e for e in self.window if e[1] >= final)

    @staticmethod
    def lon_scale(lat: float) -> float:
        """A lower bound of the metres per degree of longitude within 1° of ``lat``."""
        band = int(abs(lat)) + 2
        return _LON_SCALE[band] if band < len(_LON_SCALE) else 0.0

    def _trim(self) -> None:
        window = self.window
        newest = window[-1][0].t
        limit = self.cfg.min_duration_s
        while len(window) > 1 and newest - window[1][0].t >= limit:
            window.popleft()

    def _distance(self, gps: float, odo_end: float | None) -> tuple[float, DistanceSource]:
        start = self.odo_start
        if self.odo_ok and start is not None and odo_end is not None and odo_end >= start:
            delta = odo_end - start
            tolerance = max(self.cfg.odometer_tolerance * gps, self.cfg.odometer_tolerance_m)
            if abs(delta - gps) <= tolerance:
                return delta, "odometer"
        return gps, "gps"

    def _close(self, entry: _Entry, reason: EndReason) -> Trip:
        start = self.start
        assert start is not None
        end, gps, max_speed, odo_end = entry
        distance, source = self._distance(gps, odo_end)
        self.moving = False
        return Trip(
            start=_dt(start.t),
            end=_dt(end.t),
            start_latitude=start.latitude,
            start_longitude=start.longitude,
            end_latitude=end.latitude,
            end_longitude=end.longitude,
            distance_m=distance,
            gps_distance_m=gps,
            distance_source=source,
            max_speed_kmh=max_speed,
            estimated=self.estimated,
            odometer_start_m=self.odo_start,
            odometer_end_m=odo_end,
            ended_by=reason,
        )

    def _gap_trip(self, a: TrackFix, b: TrackFix, jump: float) -> Trip:
        distance = jump
        if a.odometer_m is not None and b.odometer_m is not None:
            delta = b.odometer_m - a.odometer_m
            if jump * (1 - self.cfg.odometer_tolerance) <= delta <= jump * 3 + 1000:
                distance = delta  # a road is longer than the straight line, within reason
        speeds = [s for s in (a.speed_kmh, b.speed_kmh) if s is not None]
        return Trip(
            start=_dt(a.t),
            end=_dt(b.t),
            start_latitude=a.latitude,
            start_longitude=a.longitude,
            end_latitude=b.latitude,
            end_longitude=b.longitude,
            distance_m=distance,
            gps_distance_m=jump,
            distance_source="gap",
            max_speed_kmh=max([*speeds, distance / (b.t - a.t) * 3.6]),
            estimated=True,
            odometer_start_m=a.odometer_m,
            odometer_end_m=b.odometer_m,
            ended_by="gap",
        )

    def close_open(self) -> Trip | None:
        """Close the trip in progress at the newest fix (end of a batch's data)."""
        if not self.moving:
            return None
        trip = self._close(self._arrival(), "data_end")
        assert self.last is not None
        self._rest(self.last)
        return trip

    def open_trip(self) -> OpenTrip | None:
        """The trip in progress, if any."""
        if not self.moving:
            return None
        start, last = self.start, self.last
        assert start is not None
        assert last is not None
        distance, _ = self._distance(self.dist, self.odo_last)
        return OpenTrip(
            start=_dt(start.t),
            last=_dt(last.t),
            start_latitude=start.latitude,
            start_longitude=start.longitude,
            latitude=last.latitude,
            longitude=last.longitude,
            distance_m=distance,
            max_speed_kmh=self.max_speed,
            estimated=self.estimated,
            odometer_start_m=self.odo_start,
        )

    # -- state -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        def fix(f: TrackFix | None) -> list[Any] | None:
            return None if f is None else list(f)

        return {
            "last": fix(self.last),
            "moving": self.moving,
            "anchor": fix(self.anchor),
            "window": [[list(e[0]), e[1], e[2], e[3]] for e in self.window],
            "ignition": self.ignition,
            "start": fix(self.start),
            "counted": fix(self.counted),
            "dist": self.dist,
            "max_speed": self.max_speed,
            "estimated": self.estimated,
            "odo_start": self.odo_start,
            "odo_last": self.odo_last,
            "odo_ok": self.odo_ok,
        }

    @classmethod
    def from_dict(cls, cfg: TripConfig, data: Mapping[str, Any]) -> _Machine:
        def fix(value: Any) -> TrackFix | None:
            return None if value is None else _fix_from_list(value)

        machine = cls(cfg)
        try:
            machine.last = fix(data["last"])
            machine.moving = bool(data["moving"])
            machine.anchor = fix(data["anchor"])
            machine.window = deque(
                (_fix_from_list(e[0]), float(e[1]), float(e[2]), _opt_float(e[3]))
                for e in data["window"]
            )
            machine.ignition = data["ignition"]
            machine.start = fix(data["start"])
            machine.counted = fix(data["counted"])
            machine.dist = float(data["dist"])
            machine.max_speed = float(data["max_speed"])
            machine.estimated = bool(data["estimated"])
            machine.odo_start = _opt_float(data["odo_start"])
            machine.odo_last = _opt_float(data["odo_last"])
            machine.odo_ok = bool(data["odo_ok"])
        except (KeyError, TypeError, ValueError, IndexError) as err:  # fmt: skip
            raise StateError(f"bad trip state: {err!r}", code="bad_state", field="trips") from None
        if machine.last is not None and (machine.anchor is None or not machine.window):
            raise StateError("bad trip state: no anchor", code="bad_state", field="trips")
        if machine.moving and (machine.start is None or machine.counted is None):
            raise StateError("bad trip state: no trip start", code="bad_state", field="trips")
        return machine


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _fix_from_list(value: Any) -> TrackFix:
    if not isinstance(value, list) or len(value) != len(TrackFix._fields):
        raise ValueError("a fix must be a list of 8 values")
    t, lat, lon, speed, ignition, odo, accuracy, key = value
    if ignition is not None and not isinstance(ignition, bool):
        raise ValueError("ignition must be true, false or null")
    if key is not None and not isinstance(key, str):
        raise ValueError("key must be text or null")
    fix = TrackFix(
        float(t),
        float(lat),
        float(lon),
        _opt_float(speed),
        ignition,
        _opt_float(odo),
        _opt_float(accuracy),
        key,
    )
    try:
        check_fix(fix)
    except TrackError as err:
        raise ValueError(str(err)) from None
    return fix


class _Reorder:
    """Fixes of the reorder horizon, in processing order, not yet folded into the base.

    A duplicate has the time of the fix it repeats, so only fixes at or before the newest
    time need a look for one, among the pending fixes of that same time.
    """

    __slots__ = ("head", "newest", "pending", "released")

    def __init__(self) -> None:
        self.pending: list[TrackFix] = []
        self.head = 0
        self.newest = -math.inf  # the newest time added
        self.released: TrackFix | None = None  # the last fix handed to the fold

    def add(self, f: TrackFix) -> Literal["append", "insert", "duplicate", "too_late"]:
        if f.t > self.newest:
            self.pending.append(f)
            self.newest = f.t
            return "append"
        return self._add_slow(f)

    def _add_slow(self, f: TrackFix) -> Literal["append", "insert", "duplicate", "too_late"]:
        pending = self.pending
        released = self.released
        if released is not None and (
            f.t < released.t or (f.t == released.t and f.order <= released.order)
        ):
            return "duplicate" if _same(f, released) else "too_late"
        first = bisect_left(pending, f.t, lo=self.head, key=_time)
        for other in pending[first : bisect_right(pending, f.t, lo=first, key=_time)]:
            if _same(f, other):
                return "duplicate"
        order = f.order
        if len(pending) == self.head or order > pending[-1].order:
            pending.append(f)
            return "append"
        insort(pending, f, lo=self.head, key=_order)
        return "insert"

    def ready(self, horizon: float) -> bool:
        """Whether :meth:`release` has something to give."""
        return self.head < len(self.pending) and self.pending[self.head].t < self.newest - horizon

    def release(self, horizon: float) -> Iterator[TrackFix]:
        """Yield (and forget) the fixes older than the newest one by more than ``horizon``."""
        pending = self.pending
        limit = self.newest - horizon
        while self.head < len(pending) and pending[self.head].t < limit:
            f = pending[self.head]
            self.head += 1
            self.released = f
            yield f
        if self.head > 4096 and self.head * 2 > len(pending):
            del pending[: self.head]
            self.head = 0

    def fixes(self) -> list[TrackFix]:
        return self.pending[self.head :]

    def drain(self) -> Iterator[TrackFix]:
        while self.head < len(self.pending):
            f = self.pending[self.head]
            self.head += 1
            self.released = f
            yield f


def _time(fix: TrackFix) -> float:
    return fix.t


def _same(a: TrackFix, b: TrackFix) -> bool:
    """Whether two fixes are one record (see :attr:`TrackFix.identity`)."""
    return a.identity == b.identity


class TripDetector:
    """The incremental trip detector of one asset (see the module's docstring).

    Feed it fixes as they arrive; it returns the events they cause. Not thread-safe.
    """

    def __init__(self, config: TripConfig | None = None) -> None:
        """A detector with ``config``'s rules (Traccar's defaults when ``None``)."""
        self.config = config or TripConfig()
        self._base = _Machine(self.config)  # everything released from the horizon
        self._live = _Machine(self.config)  # the base and every pending fix
        self._reorder = _Reorder()
        self._live_closed: list[Trip] = []  # trips closed by pending fixes

    @property
    def open_trip(self) -> OpenTrip | None:
        """The trip in progress, if any."""
        return self._live.open_trip()

    @property
    def last_fix(self) -> TrackFix | None:
        """The newest fix used."""
        return self._live.last

    def feed(self, fix: TrackFix) -> list[TripEvent]:
        """Use one fix; return the events it caused."""
        return self.feed_many((fix,))

    def feed_many(self, fixes: Iterable[TrackFix]) -> list[TripEvent]:
        """Use a burst of fixes (any order); return the events, replaying at most once."""
        events: list[TripEvent] = []
        inserted = False
        valid: list[TrackFix] = []
        for fix in fixes:
            try:
                check_fix(fix)
            except TrackError:
                events.append(FixIgnored(fix, "invalid"))
            else:
                valid.append(fix)
        for fix in sorted(valid, key=_order):
            status = self._reorder.add(fix)
            if status in ("duplicate", "too_late"):
                events.append(FixIgnored(fix, status))
            elif status == "insert" or inserted:
                inserted = True
            else:
                was_moving = self._live.moving
                closed = self._live.step(fix)
                self._live_closed.extend(closed)
                events.extend(TripEnded(trip) for trip in closed)
                trip = self._live.open_trip()
                if trip is not None:
                    started = not was_moving or bool(closed)
                    events.append(TripStarted(trip) if started else TripProgress(trip))
        if inserted:
            events.extend(self._replay(self._live.open_trip()))
        self._release()
        return _collapse(events)

    def _replay(self, before: OpenTrip | None) -> list[TripEvent]:
        live = _Machine.from_dict(self.config, self._base.to_dict())
        closed: list[Trip] = []
        for fix in self._reorder.fixes():
            closed.extend(live.step(fix))
        old = self._live_closed
        same = 0
        while same < min(len(old), len(closed)) and old[same] == closed[same]:
            same += 1
        events: list[TripEvent] = []
        if same == len(old):
            events.extend(TripEnded(trip) for trip in closed[same:])
        else:
            events.append(TripsRevised(tuple(old[same:]), tuple(closed[same:])))
        self._live = live
        self._live_closed = closed
        now = live.open_trip()
        if now is not None:
            same_trip = before is not None and before.start == now.start
            events.append(TripProgress(now) if same_trip else TripStarted(now))
        return events

    def _release(self) -> None:
        for fix in self._reorder.release(self.config.reorder_horizon_s):
            for trip in self._base.step(fix):
                # The live fold went through the same fixes in the same order, so its first
                # unreleased trip is this one; it is final now.
                if trip in self._live_closed:
                    self._live_closed.remove(trip)

    def to_dict(self) -> dict[str, Any]:
        """The whole state, JSON-ready."""
        return {
            "version": STATE_VERSION,
            "config": self.config.to_dict(),
            "base": self._base.to_dict(),
            "released": None if self._reorder.released is None else list(self._reorder.released),
            "pending": [list(f) for f in self._reorder.fixes()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TripDetector:
        """A detector back from :meth:`to_dict`; raises :class:`StateError` when it is not one."""
        if not isinstance(data, Mapping) or data.get("version") != STATE_VERSION:
            raise StateError(
                "not a trip detector state of a known version", code="bad_state", field="version"
            )
        config = data.get("config")
        if not isinstance(config, Mapping):
            raise StateError("the trip state has no settings", code="bad_state", field="config")
        detector = cls(TripConfig.from_dict(config))
        base = data.get("base")
        if not isinstance(base, Mapping):
            raise StateError("the trip state has no base", code="bad_state", field="base")
        detector._base = _Machine.from_dict(detector.config, base)
        try:
            released = data["released"]
            if released is not None:
                detector._reorder.released = _fix_from_list(released)
                detector._reorder.newest = detector._reorder.released.t
            pending = [_fix_from_list(f) for f in data["pending"]]
        except (KeyError, TypeError, ValueError, IndexError) as err:  # fmt: skip
            raise StateError(
                f"bad trip state: {err!r}", code="bad_state", field="pending"
            ) from None
        detector._live = _Machine.from_dict(detector.config, detector._base.to_dict())
        for fix in sorted(pending, key=_order):
            if detector._reorder.add(fix) == "append":
                detector._live_closed.extend(detector._live.step(fix))
        return detector


def _collapse(events: list[TripEvent]) -> list[TripEvent]:
    """Drop a progress event that another one about the same trip follows."""
    out: list[TripEvent] = []
    for event in events:
        if (
            isinstance(event, TripProgress)
            and out
            and isinstance(out[-1], TripProgress | TripStarted)
            and out[-1].trip.start == event.trip.start
        ):
            if isinstance(out[-1], TripStarted):
                out[-1] = TripStarted(event.trip)
            else:
                out[-1] = event
            continue
        out.append(event)
    return out


@dataclass(frozen=True, slots=True)
class TripReport:
    """What :func:`detect_trips` found.

    Attributes:
        trips: The trips that ended, oldest first (with ``close_open``, the one still in
            progress at the end of the data too, ``ended_by="data_end"``).
        open_trip: The trip still in progress at the end (``None`` with ``close_open``).
        fixes: Fixes used.
        duplicates: Fixes ignored as already seen.
        too_late: Fixes ignored as older than the reorder horizon allows.
    """

    trips: tuple[Trip, ...]
    open_trip: OpenTrip | None
    fixes: int
    duplicates: int
    too_late: int


def detect_trips(
    fixes: Iterable[TrackFix], config: TripConfig | None = None, *, close_open: bool = False
) -> TripReport:
    """Trips over ``fixes`` (any iterable, consumed once; memory bounded by the horizon).

    Gives the same trips as a :class:`TripDetector` fed the same fixes in the same order.
    """
    cfg = config or TripConfig()
    machine = _Machine(cfg)
    reorder = _Reorder()
    horizon = cfg.reorder_horizon_s
    trips: list[Trip] = []
    used = duplicates = too_late = 0
    step = machine.step
    pending = reorder.pending
    head = 0  # reorder.head, kept here (synced around the slow path)
    newest = -math.inf
    released: TrackFix | None = None  # the last fix folded, when compacted away
    for fix in fixes:
        t = fix.t
        if t > newest:  # in order: _Reorder.add's fast path, inlined
            pending.append(fix)
            newest = t
        else:
            reorder.head = head
            reorder.newest = newest
            reorder.released = pending[head - 1] if head else released
            status = reorder.add(fix)
            if status == "duplicate":
                duplicates += 1
                continue
            if status == "too_late":
                too_late += 1
                continue
        used += 1
        limit = newest - horizon
        # The newest fix is never below the limit, so this stops inside the list.
        while pending[head].t < limit:
            closed = step(pending[head])
            head += 1
            if closed:
                trips.extend(closed)
        if head > 8192:
            released = pending[head - 1]
            del pending[:head]
            head = 0
    reorder.head = head
    reorder.newest = newest
    reorder.released = pending[head - 1] if head else released
    for ready in reorder.drain():
        trips.extend(machine.step(ready))
    if close_open:
        trip = machine.close_open()
        if trip is not None:
            trips.append(trip)
    return TripReport(tuple(trips), machine.open_trip(), used, duplicates, too_late)
