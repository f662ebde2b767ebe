"""Texts: writable string properties, and actions that take one string."""

from __future__ import annotations

from typing import Final

from homeassistant.components.text import TextEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .bridges.wot.coordinator import WotThingCoordinator
from .bridges.wot.entity import WotThingEntity, wot_platform
from .kinds import WOT_KINDS, ThingBridgeConfigEntry, async_setup_by_kind
from .wot import TEXT, EntitySpec

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThingBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a text entity for every writable string property."""
    async_setup_by_kind(entry, async_add_entities, FACTORIES)


class WotText(WotThingEntity, TextEntity):
    """A writable string property, or an action taking one string."""

    def __init__(self, coordinator: WotThingCoordinator, spec: EntitySpec) -> None:
        """Length limits from the schema (Home Assistant keeps texts to 255 characters)."""
        super().__init__(coordinator, spec)
        self._attr_native_min = int(spec.minimum or 0)
        self._attr_native_max = int(min(spec.maximum or 255, 255))

    @property
    def native_value(self) -> str | None:
        """The property's value."""
        value = self.current_value()
        return value[:255] if isinstance(value, str) else None

    async def async_set_value(self, value: str) -> None:
        """Write the new text (or send it to the action)."""
        await self.apply_value(value)


FACTORIES: Final = dict.fromkeys(WOT_KINDS, wot_platform(TEXT, WotText))
