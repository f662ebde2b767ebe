"""Numbers: writable numeric properties, and actions that take one number."""

from __future__ import annotations

from typing import Final

from homeassistant.components.number import NumberDeviceClass, NumberEntity, NumberMode
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .bridges.wot.coordinator import WotThingCoordinator
from .bridges.wot.entity import WotThingEntity, is_number, wot_platform
from .kinds import WOT_KINDS, ThingBridgeConfigEntry, async_setup_by_kind
from .wot import NUMBER, EntitySpec

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThingBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a number for every writable numeric property."""
    async_setup_by_kind(entry, async_add_entities, FACTORIES)


def device_class(value: str | None) -> NumberDeviceClass | None:
    """The number device class the mapping named, if Home Assistant has it."""
    try:
        return NumberDeviceClass(value) if value else None
    except ValueError:
        return None


class WotNumber(WotThingEntity, NumberEntity):
    """A writable numeric property, bounded by its schema."""

    def __init__(self, coordinator: WotThingCoordinator, spec: EntitySpec) -> None:
        """Range, step and unit from the schema."""
        super().__init__(coordinator, spec)
        schema = self.value_schema()
        self._integer = schema.type == "integer"
        self._multiple_of = schema.multiple_of
        self._attr_native_min_value = spec.minimum if spec.minimum is not None else -1_000_000.0
        self._attr_native_max_value = spec.maximum if spec.maximum is not None else 1_000_000.0
        if spec.step is not None:
            self._attr_native_step = spec.step
        self._attr_native_unit_of_measurement = spec.unit
        bounded = spec.minimum is not None and spec.maximum is not None
        self._attr_mode = NumberMode.SLIDER if bounded else NumberMode.BOX
        self._attr_device_class = device_class(spec.device_class)

    @property
    def native_value(self) -> float | None:
        """The property's value."""
        value = self.current_value()
        return value if is_number(value) else None

    async def async_set_native_value(self, value: float) -> None:
        """Write the value: a multiple of the schema's ``multipleOf``, an integer if it is one."""
        if self._multiple_of:
            value = round(round(value / self._multiple_of) * self._multiple_of, 6)
        await self.apply_value(round(value) if self._integer else value)


FACTORIES: Final = dict.fromkeys(WOT_KINDS, wot_platform(NUMBER, WotNumber))
