"""The live state of one GPS tracker, folded from the positions and status reports it sends.

Pure Python, part of the tracker library (the gateway glue and, later, business assets fold
positions with it), so the rules below are plain to test:

- **Newest wins.** The location shown is the valid fix with the newest *device* timestamp; a
  burst of buffered older records (sent after a coverage gap, or resent) never moves it
  backwards. Every other value (speed, ignition, voltages…) is the newest one the device
  reported for that field, so a heartbeat that carries only ignition does not blank the speed.
  Reports without a timestamp (most heartbeats) count as new as the newest position. A fix dated more than
  :data:`MAX_FUTURE` ahead of the clock (a device with a broken clock) is journaled by the
  gateway but not shown, or it would pin the tracker there.
- **Odometer.** The device's own odometer (Teltonika IO 16, GT06/TK103 mileage, OsmAnd
  ``odometer``) when it reports one; otherwise the haversine sum over valid fixes in fix-time
  order. Steps under :data:`MIN_ODOMETER_STEP_M` from the last counted point are not added
  (a parked vehicle's GPS drift would otherwise count as driving); a jump faster than
  :data:`MAX_PLAUSIBLE_KMH` is skipped as a glitch, unless the next fix confirms it (then the
  count restarts from there without adding the jump). Fixes older than the newest one counted
  are not added, so the total never decreases.
- **Engine hours.** The device's own counter (Teltonika IO 449) when it reports one;
  otherwise, as Traccar does, the time between consecutive positions that both have the
  ignition on.
- **Checkpoint.** :meth:`TrackerState.checkpoint` is a JSON-ready snapshot (Home Assistant
  stores it); :meth:`TrackerState.restore` reads one back, so the counters survive restarts.
  What arrived after the last checkpoint is replayed from the position journal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import math
from typing import Any

from .model import KNOTS_TO_KMH, DeviceState, Position

# A position is "moving" above Traccar's default event.motion.speedThreshold (0.01 knots)
# unless the device says itself (Teltonika IO 240, OsmAnd is_moving).
MOTION_THRESHOLD_KMH = 0.01 * KNOTS_TO_KMH
MIN_ODOMETER_STEP_M = 10.0
MAX_PLAUSIBLE_KMH = 500.0
MAX_FUTURE = timedelta(days=1)
# Location accuracy when the device gives neither accuracy nor HDOP: a typical open-sky fix of
# the cheap GPS modules these trackers carry. HDOP is turned into metres with a 5 m UERE.
DEFAULT_ACCURACY_M = 20.0
HDOP_TO_METRES = 5.0
EARTH_RADIUS_M = 6_371_008.8
_EARLIEST = datetime.min.replace(tzinfo=UTC)

# The values kept per field: from positions and, for the status ones, from heartbeats and
# status reports too.
POSITION_FIELDS = (
    "speed_kmh",
    "course_deg",
    "altitude_m",
    "satellites",
    "hdop",
    "motion",
    "odometer_m",
    "engine_hours_s",
)
STATUS_FIELDS = (
    "ignition",
    "charging",
    "external_voltage_v",
    "battery_v",
    "battery_percent",
    "gsm_signal",
)
VALUE_FIELDS = POSITION_FIELDS + STATUS_FIELDS

Value = bool | int | float


@dataclass(frozen=True, slots=True)
class Fix:
    """A located point: where the tracker is shown.

    Attributes:
        time: The device's timestamp (UTC).
        latitude: Degrees.
        longitude: Degrees.
        accuracy_m: Radius of the fix's uncertainty, in metres.
    """

    time: datetime
    latitude: float
    longitude: float
    accuracy_m: float


def distance_m(a: Fix, b: Fix) -> float:
    """Great-circle distance between two fixes (haversine, mean Earth radius)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def accuracy_of(position: Position) -> float:
    """The position's accuracy in metres: as reported, else from HDOP, else the default."""
    if position.accuracy_m is not None and position.accuracy_m >= 0:
        return position.accuracy_m
    if position.hdop is not None and position.hdop > 0:
        return position.hdop * HDOP_TO_METRES
    return DEFAULT_ACCURACY_M


def fix_of(position: Position) -> Fix:
    """The location part of a position."""
    return Fix(position.fix_time, position.latitude, position.longitude, accuracy_of(position))


def _plain(value: object) -> Value | None:
    """A field value as stored: bool, int or finite float; anything else is unknown."""
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


class TrackerState:
    """What one tracker last reported, plus its odometer and engine hours.

    Args:
        protocol: The protocol name (``"teltonika"``…).
        device_id: The device's IMEI or ID.
    """

    def __init__(self, protocol: str, device_id: str) -> None:
        """Start with nothing known."""
        self.protocol = protocol
        self.device_id = device_id
        self.fix: Fix | None = None
        """The location shown: the newest valid fix."""
        self.newest: datetime | None = None
        """The newest device timestamp of any position folded in."""
        self.last_seen: datetime | None = None
        """When the gateway last accepted data from the device (Home Assistant's clock)."""
        self.computed_odometer_m = 0.0
        self.computed_engine_s = 0.0
        self._values: dict[str, tuple[datetime, Value]] = {}
        self._anchor: Fix | None = None  # the last point the odometer counted
        self._pending: Fix | None = None  # an implausible jump waiting for confirmation
        self._ignition: tuple[datetime, bool] | None = None  # for engine hours

    # -- reading ----------------------------------------------------------------------------

    def value(self, name: str) -> Value | None:
        """The newest value the device reported for ``name`` (a :class:`Position` field)."""
        item = self._values.get(name)
        return item[1] if item is not None else None

    @property
    def odometer_m(self) -> float:
        """The device's odometer when it reports one, else the distance computed from fixes."""
        reported = self.value("odometer_m")
        return float(reported) if reported is not None else self.computed_odometer_m

    @property
    def engine_hours_s(self) -> float:
        """The device's engine-hours counter when it reports one, else the computed one."""
        reported = self.value("engine_hours_s")
        return float(reported) if reported is not None else self.computed_engine_s

    # -- folding ----------------------------------------------------------------------------

    def apply_positions(self, positions: list[Position], now: datetime) -> list[Fix]:
        """Fold positions in, oldest fix first; return the fixes that became the shown one.

        Args:
            positions: Positions of one device, in any order.
            now: The current time (aware), to recognise fixes dated in the future.
        """
        shown: list[Fix] = []
        for position in sorted(positions, key=lambda p: p.fix_time):
            if position.fix_time > now + MAX_FUTURE:
                continue
            if self._apply(position):
                assert self.fix is not None
                shown.append(self.fix)
        return shown

    def _apply(self, position: Position) -> bool:
        stamp = position.fix_time
        for name in VALUE_FIELDS:
            self._set(name, getattr(position, name), stamp)
        if position.motion is None and position.speed_kmh is not None:
            self._set("motion", position.speed_kmh > MOTION_THRESHOLD_KMH, stamp)
        self._count_engine(position)
        if self.newest is None or stamp > self.newest:
            self.newest = stamp
        if not position.valid:
            return False
        fix = fix_of(position)
        self._count_distance(fix)
        if self.fix is None or stamp >= self.fix.time:
            self.fix = fix
            return True
        return False

    def apply_status(self, message: DeviceState, now: datetime) -> bool:
        """Fold in a heartbeat, status report or alarm; return whether a value changed."""
        # Untimed reports are as new as the newest position, so a later position still wins.
        stamp = message.time or self.newest or _EARLIEST
        if message.time is not None and message.time > now + MAX_FUTURE:
            return False
        before = dict(self._values)
        for name in STATUS_FIELDS:
            self._set(name, getattr(message, name), stamp)
        return self._values != before

    def _set(self, name: str, raw: object, stamp: datetime) -> None:
        value = _plain(raw)
        if value is None:
            return
        current = self._values.get(name)
        if current is None or stamp >= current[0]:
            self._values[name] = (stamp, value)

    def _count_distance(self, fix: Fix) -> None:
        anchor = self._anchor
        if anchor is None:
            self._anchor = fix
            return
        if fix.time <= anchor.time:
            return  # buffered history older than what was counted: never subtract or re-add
        step = distance_m(anchor, fix)
        if step < MIN_ODOMETER_STEP_M:
            return
        seconds = (fix.time - anchor.time).total_seconds()
        if step / seconds * 3.6 <= MAX_PLAUSIBLE_KMH:
            self.computed_odometer_m += step
            self._anchor = fix
            self._pending = None
        elif self._pending is not None and fix.time > self._pending.time:
            # A second implausible fix in a row: the anchor itself was wrong. Restart there.
            self._anchor = fix
            self._pending = None
        else:
            self._pending = fix

    def _count_engine(self, position: Position) -> None:
        if position.ignition is None:
            return
        last = self._ignition
        if last is not None and position.fix_time <= last[0]:
            return
        if last is not None and last[1] and position.ignition:
            self.computed_engine_s += (position.fix_time - last[0]).total_seconds()
        self._ignition = (position.fix_time, position.ignition)

    # -- persistence ------------------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        """A JSON-ready snapshot of everything :meth:`restore` needs."""

        def point(fix: Fix | None) -> list[Any] | None:
            if fix is None:
                return None
            return [fix.time.isoformat(), fix.latitude, fix.longitude, fix.accuracy_m]

        return {
            "fix": point(self.fix),
            "newest": self.newest.isoformat() if self.newest else None,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "values": {k: [t.isoformat(), v] for k, (t, v) in self._values.items()},
            "odometer_m": self.computed_odometer_m,
            "engine_s": self.computed_engine_s,
            "anchor": point(self._anchor),
            "pending": point(self._pending),
            "ignition": [self._ignition[0].isoformat(), self._ignition[1]]
            if self._ignition
            else None,
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Take over a :meth:`checkpoint`.

        Raises:
            ValueError: ``data`` is not a checkpoint (the state is left as it was).
        """
        try:
            values: dict[str, tuple[datetime, Value]] = {}
            for name, (stamp, raw) in dict(data.get("values") or {}).items():
                value = _plain(raw)
                if name in VALUE_FIELDS and value is not None:
                    values[str(name)] = (_time(stamp), value)
            ignition = data.get("ignition")
            restored = (
                _point(data.get("fix")),
                _optional_time(data.get("newest")),
                _optional_time(data.get("last_seen")),
                _number(data.get("odometer_m", 0.0)),
                _number(data.get("engine_s", 0.0)),
                _point(data.get("anchor")),
                _point(data.get("pending")),
                (_time(ignition[0]), bool(ignition[1])) if ignition else None,
            )
        except (TypeError, ValueError, KeyError, IndexError) as err:
            raise ValueError(f"not a tracker checkpoint: {err}") from err
        (
            self.fix,
            self.newest,
            self.last_seen,
            self.computed_odometer_m,
            self.computed_engine_s,
            self._anchor,
            self._pending,
            self._ignition,
        ) = restored
        self._values = values


def _time(text: object) -> datetime:
    moment = datetime.fromisoformat(str(text))
    if moment.tzinfo is None:
        raise ValueError(f"time without a time zone: {text}")
    return moment


def _optional_time(text: object) -> datetime | None:
    return None if text is None else _time(text)


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"not a number: {value!r}")
    return float(value)


def _point(data: object) -> Fix | None:
    if data is None:
        return None
    if not isinstance(data, list | tuple) or len(data) != 4:
        raise ValueError(f"not a fix: {data!r}")
    return Fix(_time(data[0]), _number(data[1]), _number(data[2]), _number(data[3]))
