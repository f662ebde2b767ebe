"""Buttons: actions that take no input."""

from __future__ import annotations

from typing import Final

from homeassistant.components.button import ButtonEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .bridges.wot.entity import WotThingEntity, wot_platform
from .kinds import WOT_KINDS, ThingBridgeConfigEntry, async_setup_by_kind
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
    async_setup_by_kind(entry, async_add_entities, FACTORIES)


class WotActionButton(WotThingEntity, ButtonEntity):
    """Invokes one action."""

    async def async_press(self) -> None:
        """Invoke the action; a failure the Thing reports raises an error."""
        await self.invoke(None)


FACTORIES: Final = dict.fromkeys(WOT_KINDS, wot_platform(BUTTON, WotActionButton))
