"""Sensors: readable properties that are measured, counted or reported."""

from __future__ import annotations

import json
from typing import Any

from homeassistant.components.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import ThingBridgeConfigEntry, WotThingCoordinator
from .entity import WotThingEntity, async_setup_platform, is_number
from .wot.mapping import SENSOR, EntitySpec

PARALLEL_UPDATES = 0
MAX_STATE_LENGTH = 255


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThingBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a sensor for every property the mapping made one."""
    async_setup_platform(entry, async_add_entities, SENSOR, WotPropertySensor)


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
