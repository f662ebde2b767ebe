"""Binary sensors: read-only boolean properties (motion, open, leak, smoke, ...)."""

from __future__ import annotations

from homeassistant.components.binary_sensor import BinarySensorEntity
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import ThingBridgeConfigEntry, WotThingCoordinator
from .entity import WotThingEntity, async_setup_platform
from .wot.mapping import BINARY_SENSOR, EntitySpec

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThingBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a binary sensor for every read-only boolean property."""
    async_setup_platform(entry, async_add_entities, BINARY_SENSOR, WotBinarySensor)


class WotBinarySensor(WotThingEntity, BinarySensorEntity):
    """A read-only boolean property."""

    def __init__(self, coordinator: WotThingCoordinator, spec: EntitySpec) -> None:
        """Use the mapped device class."""
        super().__init__(coordinator, spec)
        if spec.device_class:
            self._attr_device_class = BinarySensorDeviceClass(spec.device_class)

    @property
    def is_on(self) -> bool | None:
        """The property's value; ``None`` when it is not a boolean."""
        value = self.prop_value()
        return value if isinstance(value, bool) else None
