"""Selects: writable properties with an ``enum``, and actions that take one choice."""

from __future__ import annotations

from typing import Final

from homeassistant.components.select import SelectEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .bridges.wot.coordinator import WotThingCoordinator
from .bridges.wot.entity import WotThingEntity, wot_platform
from .kinds import WOT_KINDS, ThingBridgeConfigEntry, async_setup_by_kind
from .wot import SELECT, EntitySpec

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThingBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a select for every writable enumerated property."""
    async_setup_by_kind(entry, async_add_entities, FACTORIES)


class WotSelect(WotThingEntity, SelectEntity):
    """A writable property whose values are listed in its ``enum``."""

    def __init__(self, coordinator: WotThingCoordinator, spec: EntitySpec) -> None:
        """Options from the enum; remember the original values to write them back typed."""
        super().__init__(coordinator, spec)
        enum = self.value_schema().enum or ()
        self._values = {str(v): v for v in enum}
        self._attr_options = list(self._values)

    @property
    def current_option(self) -> str | None:
        """The current value, if it is one of the options."""
        value = self.current_value()
        return str(value) if value is not None and str(value) in self._values else None

    async def async_select_option(self, option: str) -> None:
        """Write the chosen value."""
        await self.apply_value(self._values[option])


FACTORIES: Final = dict.fromkeys(WOT_KINDS, wot_platform(SELECT, WotSelect))
