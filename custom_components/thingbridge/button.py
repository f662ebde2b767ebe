"""Buttons: actions that take no input."""

from __future__ import annotations

from homeassistant.components.button import ButtonEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import ThingBridgeConfigEntry
from .entity import WotThingEntity, async_setup_platform
from .wot import BUTTON

# Actions may run for a while (asynchronous ones are followed to their end): don't queue the
# Thing's other buttons behind one.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThingBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a button for every action without input."""
    async_setup_platform(entry, async_add_entities, BUTTON, WotActionButton)


class WotActionButton(WotThingEntity, ButtonEntity):
    """Invokes one action."""

    async def async_press(self) -> None:
        """Invoke the action; a failure the Thing reports raises an error."""
        await self.invoke(None)
