"""Sensors: readable properties that are measured, counted or reported; GPS tracker values."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
import json
from typing import Any, Final, override

from homeassistant.components.sensor import (
    DOMAIN as SENSOR_DOMAIN,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    DEGREE,
    PERCENTAGE,
    EntityCategory,
    UnitOfElectricPotential,
    UnitOfLength,
    UnitOfSpeed,
    UnitOfTime,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType
from homeassistant.util import dt as dt_util

from .assets import Usage
from .bridges.assets.entity import AssetBaseEntity, asset_platform
from .bridges.assets.runtime import STATUSES, Asset, AssetRegisterRuntime
from .bridges.trackers.entity import TrackerBaseEntity, tracker_platform
from .bridges.trackers.runtime import TrackerDevice
from .bridges.wot.coordinator import WotThingCoordinator
from .bridges.wot.entity import WotThingEntity, is_number, wot_platform
from .const import KIND_ASSET_REGISTER, KIND_TRACKER_GATEWAY
from .kinds import WOT_KINDS, PlatformSetup, ThingBridgeConfigEntry, async_setup_by_kind
from .m2m import SOURCES
from .wot import SENSOR, EntitySpec

PARALLEL_UPDATES = 0
MAX_STATE_LENGTH = 255


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThingBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a sensor for every property the mapping made one, or every GPS tracker value."""
    async_setup_by_kind(entry, async_add_entities, FACTORIES)


def device_class(value: str | None) -> SensorDeviceClass | None:
    """The sensor device class the mapping named, if Home Assistant has it."""
    try:
        return SensorDeviceClass(value) if value else None
    except ValueError:
        return None


class WotPropertySensor(WotThingEntity, SensorEntity):
    """The value of one readable property."""

    def __init__(self, coordinator: WotThingCoordinator, spec: EntitySpec) -> None:
        """Describe the sensor from the property's data schema."""
        super().__init__(coordinator, spec)
        self._numeric = self.schema().is_numeric
        self._attr_device_class = device_class(spec.device_class)
        if spec.options is not None:
            self._attr_options = list(spec.options)
        if self._numeric:
            self._attr_native_unit_of_measurement = spec.unit
            if spec.state_class:
                self._attr_state_class = SensorStateClass(spec.state_class)

    @override
    def get_initial_entity_options(self) -> er.EntityOptionsType | None:
        """The new registry entry's options, with the display precision already in them.

        Home Assistant stores a new sensor's display precision in its registry entry just
        after adding it: an update of the entry, and an event, for every sensor (thousands
        for a directory). Given here, the entry is created with it and Home Assistant finds
        nothing to change; should its precision differ, Home Assistant still corrects it.
        """
        options = super().get_initial_entity_options()
        try:
            precision = self._get_adjusted_display_precision()
        except AttributeError:  # a helper of Home Assistant's sensor that may be renamed
            return options
        if precision is None:
            return options
        return {**(options or {}), SENSOR_DOMAIN: {"suggested_display_precision": precision}}

    @property
    def native_value(self) -> Any:
        """The last value read or pushed; ``None`` (unknown) when it is missing or unusable."""
        value = self.prop_value()
        if value is None:
            return None
        if self._numeric:
            return value if is_number(value) else None
        if self._attr_device_class is SensorDeviceClass.ENUM:
            text = str(value)
            return text if text in (self._attr_options or []) else None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dict | list):
            return json.dumps(value, separators=(",", ":"))[:MAX_STATE_LENGTH]
        return str(value)[:MAX_STATE_LENGTH]


# -- GPS trackers ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TrackerSensorDescription(SensorEntityDescription):
    """A value of a GPS tracker.

    Attributes:
        value_fn: Reads the value from the tracker (``None``: unknown).
        position_field: The position field it shows: only trackers whose protocol can fill
            it (the library's ``ProtocolInfo.fields``) get the sensor. ``None``: every
            tracker (the value is computed when the device does not report it).
        held_back: Protocols that can fill the field but whose trackers never had this
            sensor; adding it would add entities to existing installations, so that is left
            to a change of its own.
    """

    value_fn: Callable[[TrackerDevice], StateType | datetime]
    position_field: str | None = None
    held_back: frozenset[str] = frozenset()

    def shown_for(self, protocol: str) -> bool:
        """Whether trackers speaking ``protocol`` get this sensor."""
        return self.position_field is None or (
            self.position_field in SOURCES[protocol].fields and protocol not in self.held_back
        )


def _field(name: str) -> Callable[[TrackerDevice], StateType]:
    """The newest value the tracker reported for a position field (``name``)."""

    def read(device: TrackerDevice) -> StateType:
        value = device.state.value(name)
        return None if isinstance(value, bool) else value

    return read


# Coban's alternative report and OBD status, and H02's LINK heartbeat, carry these too; their
# trackers never had the sensors (see ``held_back``).
_COBAN = frozenset({"coban"})
_COBAN_H02 = frozenset({"coban", "h02"})

TRACKER_SENSORS: tuple[TrackerSensorDescription, ...] = (
    TrackerSensorDescription(
        key="speed",
        translation_key="speed",
        device_class=SensorDeviceClass.SPEED,
        native_unit_of_measurement=UnitOfSpeed.KILOMETERS_PER_HOUR,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=_field("speed_kmh"),
        position_field="speed_kmh",
    ),
    TrackerSensorDescription(
        key="course",
        translation_key="course",
        native_unit_of_measurement=DEGREE,
        state_class=SensorStateClass.MEASUREMENT_ANGLE,
        suggested_display_precision=0,
        value_fn=_field("course_deg"),
        position_field="course_deg",
    ),
    TrackerSensorDescription(
        key="altitude",
        translation_key="altitude",
        device_class=SensorDeviceClass.DISTANCE,
        native_unit_of_measurement=UnitOfLength.METERS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=_field("altitude_m"),
        position_field="altitude_m",
    ),
    TrackerSensorDescription(
        key="satellites",
        translation_key="satellites",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_field("satellites"),
        position_field="satellites",
        held_back=_COBAN,
    ),
    TrackerSensorDescription(
        key="battery",
        device_class=SensorDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_field("battery_percent"),
        position_field="battery_percent",
    ),
    TrackerSensorDescription(
        key="battery_voltage",
        translation_key="battery_voltage",
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        suggested_display_precision=2,
        value_fn=_field("battery_v"),
        position_field="battery_v",
    ),
    TrackerSensorDescription(
        key="external_voltage",
        translation_key="external_voltage",
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=_field("external_voltage_v"),
        position_field="external_voltage_v",
        held_back=_COBAN,
    ),
    TrackerSensorDescription(
        key="gsm_signal",
        translation_key="gsm_signal",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_field("gsm_signal"),
        position_field="gsm_signal",
        held_back=_COBAN_H02,
    ),
    TrackerSensorDescription(
        key="odometer",
        translation_key="odometer",
        device_class=SensorDeviceClass.DISTANCE,
        native_unit_of_measurement=UnitOfLength.METERS,
        suggested_unit_of_measurement=UnitOfLength.KILOMETERS,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=1,
        value_fn=lambda device: round(device.state.odometer_m, 1),
    ),
    TrackerSensorDescription(
        key="engine_hours",
        translation_key="engine_hours",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        suggested_unit_of_measurement=UnitOfTime.HOURS,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=1,
        value_fn=lambda device: round(device.state.engine_hours_s),
    ),
    TrackerSensorDescription(
        key="last_fix",
        translation_key="last_fix",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda device: device.state.fix.time if device.state.fix else None,
    ),
)


class TrackerSensor(TrackerBaseEntity, SensorEntity):
    """One value of a GPS tracker."""

    entity_description: TrackerSensorDescription

    def __init__(self, device: TrackerDevice, description: TrackerSensorDescription) -> None:
        """Describe the sensor."""
        super().__init__(device, description.key)
        self.entity_description = description

    @property
    def native_value(self) -> StateType | datetime:
        """The tracker's newest value."""
        return self.entity_description.value_fn(self.device)


# -- assets -----------------------------------------------------------------------------------

_UNITS: Final = {"engine_hours": "h", "distance": "km", "days": "d"}


@dataclass(frozen=True, kw_only=True)
class AssetSensorDescription(SensorEntityDescription):
    """A value of an asset.

    Attributes:
        value_fn: Reads the value from the register and the asset.
        daily: A counter of the local day (state class ``total``): it starts again at
            midnight, which its ``last_reset`` says, so long-term statistics do not take the
            drop for negative use.
    """

    value_fn: Callable[[AssetRegisterRuntime, Asset], StateType | datetime]
    daily: bool = False


ASSET_SENSORS: tuple[AssetSensorDescription, ...] = (
    AssetSensorDescription(
        key="status",
        translation_key="asset_status",
        device_class=SensorDeviceClass.ENUM,
        options=list(STATUSES),
        value_fn=lambda runtime, asset: asset.custody.status.value,
    ),
    AssetSensorDescription(
        key="custodian",
        translation_key="custodian",
        value_fn=lambda runtime, asset: asset.custodian,
    ),
    AssetSensorDescription(
        key="home_distance",
        translation_key="home_distance",
        device_class=SensorDeviceClass.DISTANCE,
        native_unit_of_measurement=UnitOfLength.METERS,
        suggested_unit_of_measurement=UnitOfLength.KILOMETERS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda runtime, asset: (
            None if (d := runtime.home_distance_m(asset)) is None else round(d, 1)
        ),
    ),
    AssetSensorDescription(
        key="trip_distance",
        translation_key="trip_distance",
        device_class=SensorDeviceClass.DISTANCE,
        native_unit_of_measurement=UnitOfLength.METERS,
        suggested_unit_of_measurement=UnitOfLength.KILOMETERS,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda runtime, asset: (
            round(trip.distance_m, 1) if (trip := asset.open_trip) is not None else 0.0
        ),
    ),
    AssetSensorDescription(
        key="trip_duration",
        translation_key="trip_duration",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.SECONDS,
        suggested_unit_of_measurement=UnitOfTime.MINUTES,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda runtime, asset: (
            round(trip.duration_s) if (trip := asset.open_trip) is not None else 0
        ),
    ),
    AssetSensorDescription(
        key="odometer",
        translation_key="asset_odometer",
        device_class=SensorDeviceClass.DISTANCE,
        native_unit_of_measurement=UnitOfLength.METERS,
        suggested_unit_of_measurement=UnitOfLength.KILOMETERS,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=1,
        value_fn=lambda runtime, asset: _round(asset.readings().odometer_m, 1),
    ),
    AssetSensorDescription(
        key="hours_today",
        daily=True,
        translation_key="hours_today",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.HOURS,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=2,
        value_fn=lambda runtime, asset: _today(asset, lambda u: u.in_use_hours, 4),
    ),
    AssetSensorDescription(
        key="hours_total",
        translation_key="hours_total",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.HOURS,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=1,
        value_fn=lambda runtime, asset: (
            round(asset.usage.total.in_use_hours, 4) if asset.usage is not None else None
        ),
    ),
    AssetSensorDescription(
        key="distance_today",
        daily=True,
        translation_key="distance_today",
        device_class=SensorDeviceClass.DISTANCE,
        native_unit_of_measurement=UnitOfLength.METERS,
        suggested_unit_of_measurement=UnitOfLength.KILOMETERS,
        state_class=SensorStateClass.TOTAL,
        suggested_display_precision=1,
        value_fn=lambda runtime, asset: _today(asset, lambda u: u.distance_m, 1),
    ),
    AssetSensorDescription(
        key="trips_today",
        daily=True,
        translation_key="trips_today",
        state_class=SensorStateClass.TOTAL,
        value_fn=lambda runtime, asset: _today(asset, lambda u: u.trips, 0),
    ),
    AssetSensorDescription(
        key="next_maintenance",
        translation_key="next_maintenance",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda runtime, asset: (
            due.next.due_at
            if (due := asset.maintenance) is not None and due.next is not None
            else None
        ),
    ),
    AssetSensorDescription(
        key="last_seen",
        translation_key="last_seen",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda runtime, asset: asset.last_seen,
    ),
)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _today(asset: Asset, pick: Callable[[Usage], float], digits: int) -> float | None:
    """One of today's counters (local day), ``None`` without a source of its own."""
    usage = asset.today(dt_util.utcnow())
    return None if usage is None else round(pick(usage), digits)


class AssetSensor(AssetBaseEntity, SensorEntity):
    """One value of an asset."""

    entity_description: AssetSensorDescription

    def __init__(
        self, runtime: AssetRegisterRuntime, asset: Asset, description: AssetSensorDescription
    ) -> None:
        """Describe the sensor."""
        super().__init__(runtime, asset, description.key)
        self.entity_description = description

    @property
    def native_value(self) -> StateType | datetime:
        """The asset's value now."""
        return self.entity_description.value_fn(self.runtime, self.asset)

    @property
    def last_reset(self) -> datetime | None:
        """The start of the local day for today's counters (``None`` for the others)."""
        if not self.entity_description.daily:
            return None
        return dt_util.start_of_local_day()

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        """What the custodian and the next maintenance sensors say besides their state.

        The custodian's person and expected return; the plan and what comes due first.
        """
        if self.entity_description.key == "next_maintenance":
            return self._maintenance_attributes()
        if self.entity_description.key != "custodian":
            return None
        checkout = self.asset.custody.checkout
        if checkout is None:
            return {"person": None, "expected_return": None, "since": None}
        return {
            "person": self.asset.custodian_entity,
            "expected_return": checkout.expected_return.isoformat()
            if checkout.expected_return
            else None,
            "since": checkout.since.isoformat(),
        }

    def _maintenance_attributes(self) -> dict[str, Any] | None:
        plan, due = self.asset.plan, self.asset.maintenance
        if plan is None or due is None:
            return None
        first = due.next
        return {
            "plan": plan.name,
            "status": due.status,
            "measure": first.measure if first else None,
            "remaining": round(first.remaining, 2)
            if first and first.remaining is not None
            else None,
            "unit": _UNITS[first.measure] if first else None,
            "last_done": plan.log[-1].done_at.isoformat() if plan.log else None,
        }


FACTORIES: Final[Mapping[str, PlatformSetup]] = {
    **dict.fromkeys(WOT_KINDS, wot_platform(SENSOR, WotPropertySensor)),
    KIND_TRACKER_GATEWAY: tracker_platform(
        lambda device: [
            TrackerSensor(device, description)
            for description in TRACKER_SENSORS
            if description.shown_for(device.protocol)
        ]
    ),
    KIND_ASSET_REGISTER: asset_platform(
        lambda runtime, asset: [AssetSensor(runtime, asset, d) for d in ASSET_SENSORS]
    ),
}
