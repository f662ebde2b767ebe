"""Sensors: readable properties that are measured, counted or reported; GPS tracker values."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
import json
from typing import Any, Final

from homeassistant.components.sensor import (
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
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .bridges.trackers.entity import TrackerBaseEntity, tracker_platform
from .bridges.trackers.runtime import TrackerDevice
from .bridges.wot.coordinator import WotThingCoordinator
from .bridges.wot.entity import WotThingEntity, is_number, wot_platform
from .const import KIND_TRACKER_GATEWAY
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


FACTORIES: Final[Mapping[str, PlatformSetup]] = {
    **dict.fromkeys(WOT_KINDS, wot_platform(SENSOR, WotPropertySensor)),
    KIND_TRACKER_GATEWAY: tracker_platform(
        lambda device: [
            TrackerSensor(device, description)
            for description in TRACKER_SENSORS
            if description.shown_for(device.protocol)
        ]
    ),
}
