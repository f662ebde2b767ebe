"""The asset register inside Home Assistant: assets, geofences, custody, trips, usage, service.

One register entry per Home Assistant holds every asset and every polygon geofence as config
subentries (an added, changed or removed subentry reloads the entry: what it stored stays in
storage). Each asset follows its location source, any entity with ``latitude`` and
``longitude`` attributes (a ThingBridge GPS tracker, a phone's tracker, a person, another
integration's tracker), or its parent asset's position when it has none of its own. Speed,
ignition and odometer come from the source's siblings on the same device when it has such
sensors (the device registry says which: a speed sensor, an ignition binary sensor, a
total-increasing distance sensor), so nothing here knows any one integration. A fix's time is
the source's ``fix_time`` attribute when it has one (a ThingBridge tracker's location does),
else the time its state was written.

Zone membership is computed here and published through ``TrackerEntity.in_zones``: a zone
that a polygon geofence refines contains the asset if and only if the polygon does; any
other zone uses Home Assistant's own circle test (:func:`homeassistant.components.zone.in_zone`).
Home Assistant's zone triggers and conditions read ``in_zones``, so they follow the polygon.

The pure logic is the assets library's: custody transitions (:class:`.assets.Custody`), trips
(:class:`.assets.TripDetector`, late and resent fixes in time order), usage counters per local
day (:class:`.assets.UsageCounter`) and maintenance plans (:class:`.assets.MaintenancePlan`).
This module feeds them and keeps their state in Home Assistant storage
(``.storage/thingbridge.assets``), saved a few seconds after a change and when the entry
unloads; at setup, what a source reported while the register was not loaded is read back
from the recorder. A scheduler (every minute) re-evaluates what changes with time alone: a
check-out past its expected return, an asset not seen for too long, allowed hours,
maintenance due by date, today's counters; none of it waits for a position.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from functools import partial
import logging
import math
from typing import Any, Final

from homeassistant.components import zone
from homeassistant.components.recorder.history import get_significant_states
from homeassistant.components.tag.const import DEVICE_ID, EVENT_TAG_SCANNED, TAG_ID
from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.const import (
    ATTR_GPS_ACCURACY,
    ATTR_LATITUDE,
    ATTR_LONGITUDE,
    ATTR_UNIT_OF_MEASUREMENT,
    EVENT_HOMEASSISTANT_STOP,
    STATE_ON,
    Platform,
    UnitOfLength,
    UnitOfSpeed,
)
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.helpers.event import async_track_state_change_event, async_track_time_interval
from homeassistant.helpers.recorder import get_instance
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util
from homeassistant.util.unit_conversion import DistanceConverter, SpeedConverter

from ...assets import (
    ALLOWED,
    AssetsError,
    AssetStatus,
    Custody,
    Geofence,
    GeofenceSet,
    MaintenanceDue,
    MaintenancePlan,
    OpenTrip,
    Readings,
    TrackFix,
    Trip,
    TripDetector,
    TripEnded,
    TripEvent,
    TripsRevised,
    Usage,
    UsageConfig,
    UsageCounter,
    distance_m,
    parse_geofence,
)
from ...const import (
    ASSET_CHECK_INTERVAL,
    ASSET_REGISTER_DEVICE_KEY,
    ASSET_STORE_KEY,
    ASSET_STORE_VERSION,
    CONF_ALLOWED_FROM,
    CONF_ALLOWED_UNTIL,
    CONF_ASSET_TAG,
    CONF_CATEGORY,
    CONF_EVERY_DAYS,
    CONF_EVERY_HOURS,
    CONF_EVERY_KM,
    CONF_GEOFENCES,
    CONF_HOME_ZONE,
    CONF_NOT_SEEN_HOURS,
    CONF_OVERDUE_REMINDERS,
    CONF_PARENT,
    CONF_PLAN_NAME,
    CONF_POLYGON,
    CONF_SOURCE,
    CONF_TAG_ID,
    CONF_TAG_PREFIX,
    CONF_ZONE,
    DEFAULT_NOT_SEEN_HOURS,
    DEFAULT_PLAN_NAME,
    DEFAULT_TAG_PREFIX,
    DOMAIN,
    KIND_ASSET_REGISTER,
    SUBENTRY_ASSET,
    SUBENTRY_GEOFENCE,
    device_identifier,
)

_LOGGER = logging.getLogger(__name__)

ASSET_PLATFORMS: Final = (
    Platform.BINARY_SENSOR,
    Platform.CALENDAR,
    Platform.DEVICE_TRACKER,
    Platform.EVENT,
    Platform.SENSOR,
    Platform.TODO,
)
STORE_SAVE_DELAY: Final = 10.0
# Fired on the bus for every asset event (the event entities show the same).
EVENT_ASSET: Final = f"{DOMAIN}_asset_event"
# The event types of an asset's event entity.
EVENT_GEOFENCE_ENTERED: Final = "geofence_entered"
EVENT_GEOFENCE_LEFT: Final = "geofence_left"
EVENT_CHECKED_OUT: Final = "checked_out"
EVENT_CHECKED_IN: Final = "checked_in"
EVENT_TRIP_ENDED: Final = "trip_ended"
EVENT_MAINTENANCE_DONE: Final = "maintenance_done"
ASSET_EVENT_TYPES: Final = (
    EVENT_GEOFENCE_ENTERED,
    EVENT_GEOFENCE_LEFT,
    EVENT_CHECKED_OUT,
    EVENT_CHECKED_IN,
    EVENT_TRIP_ENDED,
    EVENT_MAINTENANCE_DONE,
)
# Custody statuses.
STATUSES: Final = tuple(status.value for status in AssetStatus)
# Attributes that may carry the time of a source's fix (else its state's last update counts).
FIX_TIME_ATTRIBUTES: Final = ("fix_time", "last_fix", "timestamp")
# How far a child may be from its parent while moving before it moves "without its parent".
UNACCOMPANIED_DISTANCE_M: Final = 200.0
# Speed above which an asset counts as moving when its source reports speed.
MOVING_SPEED_KMH: Final = 5.0
# How far back the recorder's history of a source is read at setup (at most).
REPLAY_PERIOD: Final = timedelta(days=7)
# Ended trips kept per asset (the oldest go first); a year of a busy van.
MAX_TRIPS: Final = 5000
# Parents are followed at most this deep (the flow refuses cycles; this bounds old data).
MAX_PARENT_DEPTH: Final = 8

type AssetRegisterConfigEntry = ConfigEntry[AssetRegisterRuntime]


def _time_or_none(value: Any) -> time | None:
    if not value:
        return None
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        return None


def _float_or_none(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):  # fmt: skip
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True, slots=True)
class RegisterSettings:
    """The register's options.

    Attributes:
        tag_prefix: Prefix of the asset tags the register hands out (``VAN-`` → ``VAN-0007``).
        overdue_reminders: Raise a repair issue for a check-out past its expected return.
        not_seen_hours: An asset whose source was silent this long is "not seen".
    """

    tag_prefix: str = DEFAULT_TAG_PREFIX
    overdue_reminders: bool = True
    not_seen_hours: int = DEFAULT_NOT_SEEN_HOURS

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> RegisterSettings:
        """Read an entry's options (missing keys take their defaults)."""
        return cls(
            tag_prefix=str(options.get(CONF_TAG_PREFIX, DEFAULT_TAG_PREFIX)),
            overdue_reminders=bool(options.get(CONF_OVERDUE_REMINDERS, True)),
            not_seen_hours=int(options.get(CONF_NOT_SEEN_HOURS, DEFAULT_NOT_SEEN_HOURS)),
        )

    def as_options(self) -> dict[str, Any]:
        """The entry options that hold these settings."""
        return {
            CONF_TAG_PREFIX: self.tag_prefix,
            CONF_OVERDUE_REMINDERS: self.overdue_reminders,
            CONF_NOT_SEEN_HOURS: self.not_seen_hours,
        }


@dataclass(frozen=True, slots=True)
class PlanConfig:
    """An asset's maintenance plan: every N engine hours, N km or N days, whichever first."""

    name: str
    every_hours: float | None = None
    every_km: float | None = None
    every_days: float | None = None


@dataclass(frozen=True, slots=True)
class AssetConfig:
    """One asset subentry, read."""

    subentry_id: str
    name: str
    tag: str
    category: str
    home_zone: str
    parent: str | None
    source: str | None
    geofences: tuple[str, ...]
    allowed_from: time | None
    allowed_until: time | None
    plan: PlanConfig | None
    tag_id: str | None

    @classmethod
    def from_subentry(cls, subentry: ConfigSubentry) -> AssetConfig:
        """Read an asset subentry's data (missing keys take their defaults)."""
        data = subentry.data
        plan: PlanConfig | None = PlanConfig(
            name=str(data.get(CONF_PLAN_NAME) or DEFAULT_PLAN_NAME),
            every_hours=_float_or_none(data.get(CONF_EVERY_HOURS)),
            every_km=_float_or_none(data.get(CONF_EVERY_KM)),
            every_days=_float_or_none(data.get(CONF_EVERY_DAYS)),
        )
        if plan is not None and not (plan.every_hours or plan.every_km or plan.every_days):
            plan = None
        return cls(
            subentry_id=subentry.subentry_id,
            name=subentry.title,
            tag=str(data.get(CONF_ASSET_TAG, "")),
            category=str(data.get(CONF_CATEGORY, "other")),
            home_zone=str(data.get(CONF_HOME_ZONE) or zone.ENTITY_ID_HOME),
            parent=data.get(CONF_PARENT) or None,
            source=data.get(CONF_SOURCE) or None,
            geofences=tuple(data.get(CONF_GEOFENCES) or ()),
            allowed_from=_time_or_none(data.get(CONF_ALLOWED_FROM)),
            allowed_until=_time_or_none(data.get(CONF_ALLOWED_UNTIL)),
            plan=plan,
            tag_id=data.get(CONF_TAG_ID) or None,
        )

    def allowed_now(self, now: datetime) -> bool:
        """Whether ``now`` (local time) is inside the allowed hours (always, without hours)."""
        if self.allowed_from is None or self.allowed_until is None:
            return True
        local = dt_util.as_local(now).time()
        if self.allowed_from <= self.allowed_until:
            return self.allowed_from <= local < self.allowed_until
        return local >= self.allowed_from or local < self.allowed_until  # across midnight


@dataclass(frozen=True, slots=True)
class GeofenceConfig:
    """One geofence subentry: its name, the zone it refines and its polygon."""

    subentry_id: str
    name: str
    zone: str
    geofence: Geofence


@dataclass(frozen=True, slots=True)
class AssetPosition:
    """Where an asset was at one time, with what its source's device also said."""

    time: datetime
    latitude: float
    longitude: float
    accuracy_m: float = 0.0
    speed_kmh: float | None = None
    ignition: bool | None = None
    odometer_m: float | None = None
    from_parent: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "time": self.time.isoformat(),
            "latitude": self.latitude,
            "longitude": self.longitude,
            "accuracy_m": self.accuracy_m,
            "speed_kmh": self.speed_kmh,
            "ignition": self.ignition,
            "odometer_m": self.odometer_m,
            "from_parent": self.from_parent,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AssetPosition:
        """Read :meth:`to_dict`'s output back.

        Raises:
            ValueError: Not such a mapping.
        """
        when = dt_util.parse_datetime(str(data["time"]))
        if when is None:
            raise ValueError(f"bad time {data['time']!r}")
        ignition = data.get("ignition")
        return cls(
            time=when,
            latitude=float(data["latitude"]),
            longitude=float(data["longitude"]),
            accuracy_m=float(data.get("accuracy_m") or 0.0),
            speed_kmh=_float_or_none(data.get("speed_kmh")),
            ignition=ignition if isinstance(ignition, bool) else None,
            odometer_m=_float_or_none(data.get("odometer_m")),
            from_parent=bool(data.get("from_parent", False)),
        )


class Asset:
    """One asset while the register is loaded: its configuration, custody, position, states."""

    def __init__(self, config: AssetConfig, time_zone: str = "UTC") -> None:
        """Start with nothing known (the runtime restores what was saved)."""
        self.config = config
        self.time_zone = time_zone
        self.custody = Custody()  # the library's: status and the open check-out
        self.custodian_entity: str | None = None  # the person of the open check-out
        self.position: AssetPosition | None = None
        self.last_seen: datetime | None = None
        self.inside: frozenset[str] = frozenset()
        self.in_zones: list[str] | None = None
        self.outside_allowed: bool | None = None
        self.not_seen: bool | None = None
        self.overdue = False
        self.unaccompanied = False
        # Trips exist only for an asset with a position source of its own.
        self.detector: TripDetector | None = TripDetector() if config.source else None
        self.trips: list[Trip] = []
        # Trips marked private (by their start, ISO); every other trip is business.
        self.private_trips: set[str] = set()
        self.usage: UsageCounter | None = (
            UsageCounter(UsageConfig(time_zone=time_zone)) if config.source else None
        )
        # The maintenance plan (made at the first start from the subentry's intervals).
        self.plan: MaintenancePlan | None = None
        self.maintenance: MaintenanceDue | None = None
        self._listeners: list[Callable[[], None]] = []
        self._event_listeners: list[Callable[[str, dict[str, Any]], None]] = []

    @property
    def subentry_id(self) -> str:
        """The asset's subentry (its identity; the tag may change)."""
        return self.config.subentry_id

    @property
    def name(self) -> str:
        """The asset's name."""
        return self.config.name

    @property
    def custodian(self) -> str | None:
        """Who has the asset (a person's name or a name), when it is checked out."""
        checkout = self.custody.checkout
        return checkout.custodian if checkout is not None else None

    @property
    def expected_return(self) -> datetime | None:
        """When the asset is due back, when it is checked out with a date."""
        checkout = self.custody.checkout
        return checkout.expected_return if checkout is not None else None

    def readings(self) -> Readings:
        """Engine hours (time in use) and odometer now.

        The odometer is the device's when it reports one, else the distance of the asset's
        trips; both are ``None`` for an asset without a source of its own.
        """
        if self.usage is None:
            return Readings()
        total = self.usage.total
        odometer = self.position.odometer_m if self.position is not None else None
        return Readings(
            engine_hours_s=total.in_use_s,
            odometer_m=odometer if odometer is not None else total.distance_m,
        )

    def trip_purpose(self, trip: Trip) -> str:
        """``private`` for a trip marked so, else ``business``."""
        return "private" if trip.start.isoformat() in self.private_trips else "business"

    def today(self, now: datetime) -> Usage | None:
        """Today's counters (``None`` without a source of its own)."""
        return self.usage.today(now) if self.usage is not None else None

    @property
    def open_trip(self) -> OpenTrip | None:
        """The trip in progress, if any."""
        return self.detector.open_trip if self.detector is not None else None

    @property
    def moving(self) -> bool:
        """Whether the asset moves now: a trip is in progress, or its source's speed says so."""
        position = self.position
        if position is None or position.from_parent:
            return False
        if self.open_trip is not None:
            return True
        return position.speed_kmh is not None and position.speed_kmh >= MOVING_SPEED_KMH

    def apply_trip_events(self, events: list[TripEvent]) -> list[Trip]:
        """Keep the trips the detector's events ended or revised; return the newly ended."""
        ended: list[Trip] = []
        for event in events:
            if isinstance(event, TripEnded):
                self.trips.append(event.trip)
                ended.append(event.trip)
            elif isinstance(event, TripsRevised):
                for trip in event.removed:
                    if trip in self.trips:
                        self.trips.remove(trip)
                self.trips.extend(event.added)
                self.trips.sort(key=lambda trip: trip.start)
                ended.extend(event.added)
        del self.trips[:-MAX_TRIPS]
        starts = {trip.start.isoformat() for trip in self.trips}
        self.private_trips &= starts
        return ended

    @callback
    def async_add_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call ``listener`` whenever something changed; returns the remover."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @callback
    def async_add_event_listener(
        self, listener: Callable[[str, dict[str, Any]], None]
    ) -> CALLBACK_TYPE:
        """Call ``listener`` with every event of the asset; returns the remover."""
        self._event_listeners.append(listener)
        return lambda: self._event_listeners.remove(listener)

    @callback
    def async_notify(self) -> None:
        """Tell the entities that something changed."""
        for listener in list(self._listeners):
            listener()

    @callback
    def async_event(self, event_type: str, data: Mapping[str, Any]) -> None:
        """Tell the event entity."""
        for listener in list(self._event_listeners):
            listener(event_type, dict(data))

    def to_dict(self) -> dict[str, Any]:
        """What survives a restart, JSON-ready."""
        return {
            "custody": self.custody.to_dict(),
            "custodian_entity": self.custodian_entity,
            "position": self.position.to_dict() if self.position else None,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "inside": sorted(self.inside),
            "detector": self.detector.to_dict() if self.detector is not None else None,
            "trips": [trip.to_dict() for trip in self.trips],
            "private_trips": sorted(self.private_trips),
            "usage": self.usage.to_dict() if self.usage is not None else None,
            "plan": self.plan.to_dict() if self.plan is not None else None,
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Read :meth:`to_dict`'s output back.

        Raises:
            ValueError, KeyError, TypeError: The saved data is damaged.
        """
        custody = data.get("custody")
        self.custody = Custody.from_dict(custody) if custody else Custody()
        entity = data.get("custodian_entity")
        self.custodian_entity = str(entity) if entity and self.custody.checkout else None
        position = data.get("position")
        self.position = AssetPosition.from_dict(position) if position else None
        seen = data.get("last_seen")
        self.last_seen = dt_util.parse_datetime(str(seen)) if seen else None
        self.inside = frozenset(str(g) for g in data.get("inside") or ())
        self.trips = [Trip.from_dict(trip) for trip in data.get("trips") or ()][-MAX_TRIPS:]
        self.private_trips = {str(start) for start in data.get("private_trips") or ()}
        detector = data.get("detector")
        if self.detector is not None and detector:
            self.detector = TripDetector.from_dict(detector)
        usage = data.get("usage")
        if self.usage is not None and usage:
            self.usage = UsageCounter.from_dict(usage)
        plan = data.get("plan")
        self.plan = MaintenancePlan.from_dict(plan) if plan else None

    def sync_plan(self, now: datetime) -> None:
        """Make the plan follow the subentry's intervals (its baseline and log stay).

        A plan counting engine hours or km needs those readings: an asset without a source
        of its own keeps only its days, and none without them.
        """
        wanted = self.config.plan
        if wanted is None:
            self.plan = None
            return
        readings = self.readings()
        hours = wanted.every_hours if readings.engine_hours_s is not None else None
        km = wanted.every_km if readings.odometer_m is not None else None
        days = wanted.every_days
        if hours is None and km is None and days is None:
            self.plan = None
            return
        try:
            if self.plan is None:
                self.plan = MaintenancePlan.create(
                    wanted.name, start=now, readings=readings,
                    every_hours=hours, every_km=km, every_days=days,
                )  # fmt: skip
            else:
                self.plan = replace(
                    self.plan, name=wanted.name, every_hours=hours, every_km=km, every_days=days
                )
        except AssetsError as err:
            _LOGGER.warning("Maintenance plan of %r not kept: %s", self.name, err)
            self.plan = None


def read_geofences(entry: ConfigEntry[Any]) -> dict[str, GeofenceConfig]:
    """The register's geofences, parsed (one whose polygon no longer parses is left out)."""
    geofences: dict[str, GeofenceConfig] = {}
    for subentry in entry.get_subentries_of_type(SUBENTRY_GEOFENCE):
        try:
            shape = parse_geofence(str(subentry.data.get(CONF_POLYGON, "")))
        except AssetsError as err:
            _LOGGER.warning("Geofence %r ignored: %s", subentry.title, err)
            continue
        geofences[subentry.subentry_id] = GeofenceConfig(
            subentry_id=subentry.subentry_id,
            name=subentry.title,
            zone=str(subentry.data.get(CONF_ZONE, "")),
            geofence=shape,
        )
    return geofences


@dataclass(slots=True)
class _Siblings:
    """The entities next to a source on its device that say more than the position."""

    speed: str | None = None
    ignition: str | None = None
    odometer: str | None = None


def _siblings(hass: HomeAssistant, source: str) -> _Siblings:
    """Find the source's speed, ignition and odometer entities through the registries."""
    found = _Siblings()
    registry = er.async_get(hass)
    entity = registry.async_get(source)
    if entity is None or entity.device_id is None:
        return found
    for sibling in er.async_entries_for_device(registry, entity.device_id):
        if sibling.entity_id == source or sibling.disabled_by is not None:
            continue
        device_class = sibling.device_class or sibling.original_device_class
        state_class = (sibling.capabilities or {}).get("state_class")
        key = (sibling.translation_key or "").lower()
        if sibling.domain == "sensor" and device_class == "speed" and found.speed is None:
            found.speed = sibling.entity_id
        elif sibling.domain == "binary_sensor" and "ignition" in (key or sibling.entity_id.lower()):
            found.ignition = sibling.entity_id
        elif (
            sibling.domain == "sensor"
            and device_class == "distance"
            and (key == "odometer" or state_class == "total_increasing")
        ):
            found.odometer = sibling.entity_id
    return found


def _number(state: State | None) -> float | None:
    if state is None:
        return None
    return _float_or_none(state.state)


def _fix_time(state: State) -> datetime:
    """When the source's fix was taken: a time attribute when it has one, else its update."""
    for name in FIX_TIME_ATTRIBUTES:
        value = state.attributes.get(name)
        if isinstance(value, datetime):
            return dt_util.as_utc(value)
        if isinstance(value, str) and (parsed := dt_util.parse_datetime(value)) is not None:
            return dt_util.as_utc(parsed)
    return state.last_updated


class AssetRegisterRuntime:
    """What the register entry holds while loaded."""

    def __init__(
        self, hass: HomeAssistant, entry: AssetRegisterConfigEntry, store: Store[dict[str, Any]]
    ) -> None:
        """Read the subentries; nothing is followed until :meth:`async_start`."""
        self.hass = hass
        self.entry = entry
        self.store = store
        self.settings = RegisterSettings.from_options(entry.options)
        self.geofences = read_geofences(entry)
        # One index of every polygon: a position update tests only those near it.
        self.geofence_set = GeofenceSet({k: g.geofence for k, g in self.geofences.items()})
        self.assets: dict[str, Asset] = {
            s.subentry_id: Asset(AssetConfig.from_subentry(s), hass.config.time_zone)
            for s in entry.get_subentries_of_type(SUBENTRY_ASSET)
        }
        self._siblings: dict[str, _Siblings] = {}
        self._pending: list[tuple[str, State]] = []
        self._register_listeners: list[Callable[[], None]] = []
        self._stopped = False

    # -- lifecycle --------------------------------------------------------------------------

    async def async_start(self) -> None:
        """Restore what was saved, follow the sources, evaluate the due states."""
        stored = await self.store.async_load() or {}
        saved = stored.get("assets") or {}
        for asset in self.assets.values():
            if (data := saved.get(asset.subentry_id)) is not None:
                try:
                    asset.restore(data)
                except (AssetsError, ValueError, KeyError, TypeError) as err:  # fmt: skip
                    _LOGGER.warning("Saved state of asset %r ignored: %s", asset.name, err)
            asset.sync_plan(dt_util.utcnow())
        sources = sorted({a.config.source for a in self.assets.values() if a.config.source})
        for source in sources:
            self._siblings[source] = _siblings(self.hass, source)
            await self._async_replay_history(source)
            if (state := self.hass.states.get(source)) is not None:
                self._apply_source(source, state)
        for asset in self.assets.values():
            if asset.position is not None:
                self._update_zones(asset, fire=False)
        if sources:
            self.entry.async_on_unload(
                async_track_state_change_event(self.hass, sources, self._async_source_changed)
            )
        self.async_tick(dt_util.utcnow())

    async def _async_replay_history(self, source: str) -> None:
        """Feed the trips what the source reported while the register was not loaded.

        The recorder's history of the source since the newest fix the assets' trip detectors
        used (a reload, a restart of the entry; at most :data:`REPLAY_PERIOD`); fixes seen
        before count once. Without the recorder, or for assets without trips yet, there is
        nothing to replay.
        """
        assets = [a for a in self.assets.values() if a.config.source == source and a.detector]
        newest = [a.detector.last_fix for a in assets if a.detector and a.detector.last_fix]
        if not newest:
            return
        since = datetime.fromtimestamp(min(fix.t for fix in newest), dt_util.UTC)
        since = max(since, dt_util.utcnow() - REPLAY_PERIOD)
        for position in await self.async_history(source, since, None):
            for asset in assets:
                self._feed_trips(asset, position)

    async def async_history(
        self, source: str, start: datetime, end: datetime | None
    ) -> list[AssetPosition]:
        """The positions the recorder kept of ``source`` from ``start`` to ``end``.

        Every state written, not only state changes (a tracker that stays ``not_home``
        while it moves changes only its attributes); empty without the recorder or when it
        cannot be read.
        """
        if "recorder" not in self.hass.config.components:
            return []
        try:
            history = await get_instance(self.hass).async_add_executor_job(
                partial(
                    get_significant_states,
                    self.hass,
                    start,
                    end,
                    entity_ids=[source],
                    include_start_time_state=False,
                    significant_changes_only=False,
                )
            )
        except Exception as err:  # noqa: BLE001 - a recorder that fails costs the history only
            _LOGGER.warning("History of %s could not be read: %s", source, err)
            return []
        positions = []
        for state in history.get(source, ()):
            if not isinstance(state, State):  # pragma: no cover - full states were asked for
                continue
            if (position := self._read_position(source, state, siblings=False)) is not None:
                positions.append(position)
        return positions

    @callback
    def async_replace_trips(
        self, asset: Asset, start: datetime, end: datetime, trips: list[Trip]
    ) -> int:
        """Put ``trips`` in place of the asset's trips that started from ``start`` to ``end``.

        Private marks stay with the trips that keep their start. Returns how many were removed.
        """
        kept = [t for t in asset.trips if not start <= t.start < end]
        removed = len(asset.trips) - len(kept)
        asset.trips = sorted(kept + trips, key=lambda trip: trip.start)[-MAX_TRIPS:]
        asset.private_trips &= {trip.start.isoformat() for trip in asset.trips}
        asset.async_notify()
        self._schedule_save()
        return removed

    async def async_stop(self) -> None:
        """Save everything now."""
        if self._stopped:
            return
        self._stopped = True
        await self.store.async_save(self._store_data())

    async def async_stop_event(self, _event: Event) -> None:
        """Home Assistant stops: save before it exits."""
        await self.async_stop()

    # -- lookups ----------------------------------------------------------------------------

    def asset_by_tag(self, tag: str) -> Asset | None:
        """The asset whose tag is ``tag`` (case-insensitive)."""
        wanted = tag.strip().casefold()
        return next((a for a in self.assets.values() if a.config.tag.casefold() == wanted), None)

    def asset_by_tag_id(self, tag_id: str) -> Asset | None:
        """The asset that an NFC tag or QR code with ``tag_id`` is stuck on."""
        return next((a for a in self.assets.values() if a.config.tag_id == tag_id), None)

    def asset_of_device(self, identifiers: set[tuple[str, str]]) -> Asset | None:
        """The asset whose device has these ``identifiers``."""
        for asset in self.assets.values():
            if device_identifier(KIND_ASSET_REGISTER, asset.subentry_id) in identifiers:
                return asset
        return None

    @callback
    def async_add_register_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call ``listener`` when anything the register's own entities show changed."""
        self._register_listeners.append(listener)
        return lambda: self._register_listeners.remove(listener)

    @callback
    def _notify_register(self) -> None:
        for listener in list(self._register_listeners):
            listener()

    # -- positions --------------------------------------------------------------------------

    @callback
    def _async_source_changed(self, event: Event[EventStateChangedData]) -> None:
        """Collect the source's new state; the batch is used once the loop turns.

        A source can write several fixes at once (a tracker's packet of records) before its
        sibling sensors (speed, ignition, odometer) are updated once, with the newest
        record's values: those values belong to the batch's last fix only.
        """
        new_state = event.data["new_state"]
        if new_state is None:
            return
        self._pending.append((event.data["entity_id"], new_state))
        if len(self._pending) == 1:
            self.hass.loop.call_soon(self._async_apply_pending)

    @callback
    def _async_apply_pending(self) -> None:
        pending, self._pending = self._pending, []
        if self._stopped:
            return
        last = {source: index for index, (source, _state) in enumerate(pending)}
        for index, (source, state) in enumerate(pending):
            self._apply_source(source, state, siblings=last[source] == index)

    def _read_position(
        self, source: str, state: State, *, siblings: bool = True
    ) -> AssetPosition | None:
        latitude = _float_or_none(state.attributes.get(ATTR_LATITUDE))
        longitude = _float_or_none(state.attributes.get(ATTR_LONGITUDE))
        if latitude is None or longitude is None:
            return None
        if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
            return None
        found = self._siblings.get(source) if siblings else None
        siblings_of = found or _Siblings()
        speed = _float_or_none(state.attributes.get("speed"))
        speed_unit: str | None = UnitOfSpeed.KILOMETERS_PER_HOUR
        if siblings_of.speed is not None and (sibling := self.hass.states.get(siblings_of.speed)):
            speed = _number(sibling)
            speed_unit = sibling.attributes.get(ATTR_UNIT_OF_MEASUREMENT, speed_unit)
        if speed is not None and speed_unit in SpeedConverter.VALID_UNITS:
            speed = SpeedConverter.convert(speed, speed_unit, UnitOfSpeed.KILOMETERS_PER_HOUR)
        ignition: bool | None = None
        if siblings_of.ignition is not None and (
            sibling := self.hass.states.get(siblings_of.ignition)
        ):
            ignition = sibling.state == STATE_ON if sibling.state in ("on", "off") else None
        odometer: float | None = None
        if siblings_of.odometer is not None and (
            sibling := self.hass.states.get(siblings_of.odometer)
        ):
            odometer = _number(sibling)
            unit = sibling.attributes.get(ATTR_UNIT_OF_MEASUREMENT, UnitOfLength.METERS)
            if odometer is not None and unit in DistanceConverter.VALID_UNITS:
                odometer = DistanceConverter.convert(odometer, unit, UnitOfLength.METERS)
            else:
                odometer = None
        return AssetPosition(
            time=_fix_time(state),
            latitude=latitude,
            longitude=longitude,
            accuracy_m=max(0.0, _float_or_none(state.attributes.get(ATTR_GPS_ACCURACY)) or 0.0),
            speed_kmh=speed,
            ignition=ignition,
            odometer_m=odometer,
        )

    @callback
    def _apply_source(self, source: str, state: State, *, siblings: bool = True) -> None:
        position = self._read_position(source, state, siblings=siblings)
        if position is None:
            return
        for asset in self.assets.values():
            if asset.config.source == source:
                self._feed_trips(asset, position)
                self._apply_position(asset, position)
        self._schedule_save()

    def _feed_trips(self, asset: Asset, position: AssetPosition) -> None:
        """Give the fix to the asset's trip detector (late fixes land in time order)."""
        if asset.detector is None:
            return
        try:
            fix = TrackFix.at(
                position.time,
                position.latitude,
                position.longitude,
                speed_kmh=position.speed_kmh,
                ignition=position.ignition,
                odometer_m=position.odometer_m,
                accuracy_m=position.accuracy_m or None,
            )
        except AssetsError as err:
            _LOGGER.debug("Fix of %r not used for trips: %s", asset.name, err)
            return
        events = asset.detector.feed(fix)
        if asset.usage is not None:
            asset.usage.feed(fix)
            asset.usage.apply(events)
        for trip in asset.apply_trip_events(events):
            self._fire(asset, EVENT_TRIP_ENDED, **trip.summary())
        if position.time < (asset.position.time if asset.position else position.time):
            asset.async_notify()  # a late fix: only the trips changed

    def _apply_position(self, asset: Asset, position: AssetPosition, depth: int = 0) -> None:
        """A new position of ``asset``: zones, geofence events, states; then its children."""
        if asset.position is not None and position.time < asset.position.time:
            # A late fix: it counts for the trips, but the newest position stays shown.
            return
        asset.position = position
        if not position.from_parent:
            asset.last_seen = max(asset.last_seen or position.time, position.time)
        self._update_zones(asset, fire=True)
        self._update_states(asset, dt_util.utcnow())
        asset.async_notify()
        if depth >= MAX_PARENT_DEPTH:
            return
        for child in self.assets.values():
            if child.config.parent == asset.subentry_id:
                if child.config.source is None:
                    self._apply_position(
                        child,
                        AssetPosition(
                            time=position.time,
                            latitude=position.latitude,
                            longitude=position.longitude,
                            accuracy_m=position.accuracy_m,
                            speed_kmh=position.speed_kmh,
                            from_parent=True,
                        ),
                        depth + 1,
                    )
                elif self._update_unaccompanied(child):
                    child.async_notify()

    def zones_containing(
        self, latitude: float, longitude: float, accuracy: float, geofences: frozenset[str]
    ) -> list[str]:
        """The zones that contain a point: by polygon where a geofence refines the zone.

        ``geofences`` are the geofences that hold the point; any other zone is Home
        Assistant's circle.
        """
        refined = {g.zone for g in self.geofences.values()}
        holding = {self.geofences[g].zone for g in geofences}
        found = []
        for zone_state in self.hass.states.async_all("zone"):
            if zone_state.entity_id in refined:
                inside = zone_state.entity_id in holding
            else:
                inside = zone.in_zone(zone_state, latitude, longitude, accuracy)
            if inside:
                found.append(zone_state.entity_id)
        return found

    def _update_zones(self, asset: Asset, *, fire: bool) -> None:
        position = asset.position
        if position is None:  # pragma: no cover - callers check
            return
        inside = frozenset(self.geofence_set.containing(position.latitude, position.longitude))
        asset.in_zones = self.zones_containing(
            position.latitude, position.longitude, position.accuracy_m, inside
        )
        if fire:
            for subentry_id in sorted(inside - asset.inside):
                self._fire(asset, EVENT_GEOFENCE_ENTERED, geofence=subentry_id)
            for subentry_id in sorted(asset.inside - inside):
                self._fire(asset, EVENT_GEOFENCE_LEFT, geofence=subentry_id)
        asset.inside = inside

    def _update_unaccompanied(self, asset: Asset) -> bool:
        """Re-evaluate "moving without its parent"; return whether it changed."""
        parent = self.assets.get(asset.config.parent or "")
        value = False
        if (
            parent is not None
            and asset.moving
            and asset.position is not None
            and parent.position is not None
        ):
            value = (
                distance_m(
                    asset.position.latitude,
                    asset.position.longitude,
                    parent.position.latitude,
                    parent.position.longitude,
                )
                > UNACCOMPANIED_DISTANCE_M
            )
        changed = value != asset.unaccompanied
        asset.unaccompanied = value
        return changed

    def home_distance_m(self, asset: Asset) -> float | None:
        """How far the asset is from the centre of its home zone."""
        home = self.hass.states.get(asset.config.home_zone)
        if asset.position is None or home is None:
            return None
        latitude = _float_or_none(home.attributes.get(ATTR_LATITUDE))
        longitude = _float_or_none(home.attributes.get(ATTR_LONGITUDE))
        if latitude is None or longitude is None:
            return None
        return distance_m(asset.position.latitude, asset.position.longitude, latitude, longitude)

    # -- due states -------------------------------------------------------------------------

    def _update_states(self, asset: Asset, now: datetime) -> bool:
        """Re-evaluate the asset's time- and place-dependent states; whether any changed."""
        before = (
            asset.outside_allowed,
            asset.not_seen,
            asset.overdue,
            asset.unaccompanied,
            asset.maintenance,
        )
        asset.maintenance = (
            asset.plan.due(asset.readings(), now) if asset.plan is not None else None
        )
        config = asset.config
        if not config.geofences or asset.position is None:
            asset.outside_allowed = None if config.geofences else False
        elif config.allowed_now(now):
            asset.outside_allowed = not (set(config.geofences) & asset.inside)
        else:
            asset.outside_allowed = config.home_zone not in (asset.in_zones or ())
        if config.source is None:
            asset.not_seen = None
        else:
            limit = timedelta(hours=self.settings.not_seen_hours)
            asset.not_seen = asset.last_seen is None or now - asset.last_seen > limit
        asset.overdue = asset.custody.overdue(now)
        self._update_unaccompanied(asset)
        self._update_overdue_issue(asset)
        return before != (
            asset.outside_allowed,
            asset.not_seen,
            asset.overdue,
            asset.unaccompanied,
            asset.maintenance,
        )

    def _update_overdue_issue(self, asset: Asset) -> None:
        issue_id = f"asset_overdue_{asset.subentry_id}"
        expected_return = asset.expected_return
        if asset.overdue and self.settings.overdue_reminders and expected_return:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                issue_id,
                is_fixable=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key="asset_overdue",
                translation_placeholders={
                    "name": asset.name,
                    "tag": asset.config.tag,
                    "custodian": asset.custodian or "",
                    "expected_return": dt_util.as_local(expected_return).strftime("%Y-%m-%d %H:%M"),
                },
            )
        else:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)

    @callback
    def async_tick(self, now: datetime) -> None:
        """Re-evaluate what changes with time alone (runs every minute)."""
        for asset in self.assets.values():
            self._update_states(asset, now)
            asset.async_notify()  # today's counters and time-based values move with the clock
        self._notify_register()

    # -- custody ----------------------------------------------------------------------------

    @callback
    def async_check_out(
        self,
        asset: Asset,
        custodian: str,
        custodian_entity: str | None,
        expected_return: datetime | None,
        *,
        via: str,
    ) -> None:
        """Give ``asset`` to ``custodian`` until ``expected_return``.

        Raises:
            CustodyError: The library refuses (not available, bad name, return in the past).
        """
        now = dt_util.utcnow()
        asset.custody = asset.custody.check_out(custodian, now, expected_return)
        asset.custodian_entity = custodian_entity
        self._fire(
            asset,
            EVENT_CHECKED_OUT,
            custodian=asset.custodian,
            custodian_entity=custodian_entity,
            expected_return=expected_return.isoformat() if expected_return else None,
            via=via,
        )
        self._custody_changed(asset, now)

    @callback
    def async_check_in(self, asset: Asset, *, via: str) -> None:
        """Take ``asset`` back.

        Raises:
            CustodyError: It is not checked out.
        """
        now = dt_util.utcnow()
        asset.custody, record = asset.custody.check_in(now)
        custodian_entity, asset.custodian_entity = asset.custodian_entity, None
        self._fire(
            asset,
            EVENT_CHECKED_IN,
            custodian=record.custodian,
            custodian_entity=custodian_entity,
            late=record.late,
            via=via,
        )
        self._custody_changed(asset, now)

    @callback
    def async_set_trip_purpose(self, asset: Asset, trip: Trip, purpose: str) -> None:
        """Mark one of ``asset``'s trips as business or private (for the logbook)."""
        if purpose == "private":
            asset.private_trips.add(trip.start.isoformat())
        else:
            asset.private_trips.discard(trip.start.isoformat())
        self._schedule_save()

    @callback
    def async_set_status(self, asset: Asset, status: AssetStatus) -> None:
        """Send ``asset`` to maintenance (or back to available), retire or reinstate it.

        Raises:
            CustodyError: The library does not allow that change from the asset's status
                (a checked-out asset is checked in, not made available).
        """
        now = dt_util.utcnow()
        custody = asset.custody
        if status is AssetStatus.RETIRED:
            asset.custody, _record = custody.retire(now)
            asset.custodian_entity = None
        elif status is AssetStatus.IN_MAINTENANCE:
            asset.custody = custody.start_maintenance()
        elif status is AssetStatus.AVAILABLE and custody.status is AssetStatus.RETIRED:
            asset.custody = custody.reinstate()
        else:
            asset.custody = custody.end_maintenance()
        self._custody_changed(asset, now)

    def _custody_changed(self, asset: Asset, now: datetime) -> None:
        self._update_states(asset, now)
        asset.async_notify()
        self._notify_register()
        self._schedule_save()

    @callback
    def async_tag_scanned(self, event: Event[Mapping[str, Any]]) -> None:
        """An NFC tag or QR code was scanned: check its asset out to the scanner, or back in.

        The custodian is the person of the user of the scanning device (a companion app's
        device belongs to one user); without one, the user who scanned (the event's
        context), else the device's name.
        """
        asset = self.asset_by_tag_id(str(event.data.get(TAG_ID) or ""))
        if asset is None:
            return
        if asset.custody.status in ALLOWED["check_in"]:
            self.async_check_in(asset, via="tag")
            return
        if asset.custody.status not in ALLOWED["check_out"]:
            return  # in maintenance or retired: a scan changes nothing
        custodian, person = self._scanner(event.data.get(DEVICE_ID), event.context.user_id)
        self.async_check_out(asset, custodian, person, None, via="tag")

    def _scanner(self, device_id: Any, context_user: str | None) -> tuple[str, str | None]:
        """Who scanned: (name, person entity or ``None``)."""
        device = dr.async_get(self.hass).async_get(str(device_id)) if device_id else None
        user_id = context_user
        if device is not None:
            for entry_id in device.config_entries:
                scanner_entry = self.hass.config_entries.async_get_entry(entry_id)
                if scanner_entry is not None and scanner_entry.domain == "mobile_app":
                    user_id = scanner_entry.data.get("user_id") or user_id
        if user_id:
            for person in self.hass.states.async_all("person"):
                if person.attributes.get("user_id") == user_id:
                    return str(
                        person.attributes.get("friendly_name", person.name)
                    ), person.entity_id
        if device is not None:
            return device.name_by_user or device.name or str(device_id), None
        return "?", None

    @callback
    def async_record_maintenance(
        self,
        asset: Asset,
        done_at: datetime,
        readings: Readings,
        *,
        cost: float | None = None,
        note: str = "",
        via: str,
    ) -> None:
        """Log a maintenance done on ``asset``'s plan; its counts start again from there.

        Raises:
            MaintenanceError: The library refuses (dated before the plan's last baseline,
                a reading the plan needs is missing); the asset has a plan (callers check).
        """
        assert asset.plan is not None
        asset.plan = asset.plan.complete(done_at, readings, cost=cost, note=note)
        self._fire(
            asset,
            EVENT_MAINTENANCE_DONE,
            plan=asset.plan.name,
            done_at=done_at.isoformat(),
            cost=cost,
            note=note,
            via=via,
        )
        self._custody_changed(asset, dt_util.utcnow())

    # -- events and persistence ------------------------------------------------------------

    def _fire(self, asset: Asset, event_type: str, **data: Any) -> None:
        if "geofence" in data:
            geofence = self.geofences.get(data["geofence"])
            data["geofence_name"] = geofence.name if geofence else None
            data["zone"] = geofence.zone if geofence else None
        asset.async_event(event_type, data)
        self.hass.bus.async_fire(
            EVENT_ASSET,
            {"asset": asset.config.tag, "name": asset.name, "type": event_type, **data},
        )

    def _store_data(self) -> dict[str, Any]:
        return {"assets": {sid: asset.to_dict() for sid, asset in self.assets.items()}}

    def _schedule_save(self) -> None:
        self.store.async_delay_save(self._store_data, STORE_SAVE_DELAY)


def asset_store(hass: HomeAssistant) -> Store[dict[str, Any]]:
    """The storage of the assets' custody, counters, trips and logs."""
    return Store(hass, ASSET_STORE_VERSION, ASSET_STORE_KEY)


async def async_setup_register(hass: HomeAssistant, entry: AssetRegisterConfigEntry) -> None:
    """Restore the assets and follow their sources (the entities come next)."""
    runtime = AssetRegisterRuntime(hass, entry, asset_store(hass))
    entry.runtime_data = runtime
    await runtime.async_start()
    entry.async_on_unload(async_track_time_interval(hass, runtime.async_tick, ASSET_CHECK_INTERVAL))
    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))
    entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, runtime.async_stop_event))
    entry.async_on_unload(hass.bus.async_listen(EVENT_TAG_SCANNED, runtime.async_tag_scanned))


async def async_unload_register(hass: HomeAssistant, entry: AssetRegisterConfigEntry) -> None:
    """Its entities are gone: save now."""
    await entry.runtime_data.async_stop()


async def _async_entry_updated(hass: HomeAssistant, entry: AssetRegisterConfigEntry) -> None:
    """Options or subentries changed: reload (what was saved stays)."""
    hass.config_entries.async_schedule_reload(entry.entry_id)


async def async_remove_register(hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
    """The register was deleted: delete what it saved and its reminders."""
    await asset_store(hass).async_remove()
    for subentry in entry.get_subentries_of_type(SUBENTRY_ASSET):
        ir.async_delete_issue(hass, DOMAIN, f"asset_overdue_{subentry.subentry_id}")


def async_can_remove_device(entry: AssetRegisterConfigEntry, device: dr.DeviceEntry) -> bool:
    """An asset's device goes with its subentry; only a leftover device may be deleted."""
    runtime = entry.runtime_data
    if device_identifier(KIND_ASSET_REGISTER, ASSET_REGISTER_DEVICE_KEY) in device.identifiers:
        return False
    return runtime.asset_of_device(device.identifiers) is None


async def async_register_diagnostics(
    hass: HomeAssistant, entry: AssetRegisterConfigEntry
) -> dict[str, Any]:
    """The register's settings, geofences and every asset's state."""
    runtime = entry.runtime_data
    return {
        "settings": runtime.settings.as_options(),
        "geofences": {
            g.subentry_id: {"name": g.name, "zone": g.zone, "vertices": g.geofence.vertex_count}
            for g in runtime.geofences.values()
        },
        "assets": {sid: _asset_diagnostics(asset) for sid, asset in runtime.assets.items()},
    }


def _asset_diagnostics(asset: Asset) -> dict[str, Any]:
    return {
        "name": asset.name,
        "tag": asset.config.tag,
        "category": asset.config.category,
        "source": asset.config.source,
        **{k: v for k, v in asset.to_dict().items() if k not in ("detector", "trips", "usage")},
        "trips": len(asset.trips),
        "open_trip": asset.open_trip is not None,
        "in_zones": asset.in_zones,
        "outside_allowed": asset.outside_allowed,
        "not_seen": asset.not_seen,
        "overdue": asset.overdue,
    }


def asset_device_diagnostics(
    entry: AssetRegisterConfigEntry, device: dr.DeviceEntry
) -> dict[str, Any]:
    """One asset's diagnostics (``{}`` for a device the register lost)."""
    asset = entry.runtime_data.asset_of_device(device.identifiers)
    return _asset_diagnostics(asset) if asset is not None else {}


__all__ = [
    "ASSET_EVENT_TYPES",
    "ASSET_PLATFORMS",
    "Asset",
    "AssetConfig",
    "AssetPosition",
    "AssetRegisterConfigEntry",
    "AssetRegisterRuntime",
    "GeofenceConfig",
    "PlanConfig",
    "RegisterSettings",
]
