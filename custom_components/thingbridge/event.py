"""Event entities: the events a Thing emits."""

from __future__ import annotations

from typing import Any, Final

from homeassistant.components.event import EventEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .bridges.wot.coordinator import WotThingCoordinator
from .bridges.wot.entity import WotThingEntity, wot_platform
from .const import SIGNAL_THING_EVENT
from .kinds import WOT_KINDS, ThingBridgeConfigEntry, async_setup_by_kind
from .wot import EVENT, EntitySpec

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThingBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add an event entity for every event of the Thing."""
    async_setup_by_kind(entry, async_add_entities, FACTORIES)


class WotEvent(WotThingEntity, EventEntity):
    """Fires when the Thing emits one event."""

    def __init__(self, coordinator: WotThingCoordinator, spec: EntitySpec) -> None:
        """The event type is the event's name."""
        super().__init__(coordinator, spec)
        self._attr_event_types = [spec.affordance]

    async def async_added_to_hass(self) -> None:
        """Listen for the event once added."""
        await super().async_added_to_hass()
        self.async_on_remove(
            async_dispatcher_connect(
                self.hass,
                SIGNAL_THING_EVENT.format(self.coordinator.key, self.affordance),
                self._handle_event,
            )
        )

    @callback
    def _handle_event(self, data: Any) -> None:
        self._trigger_event(self.affordance, {"data": data})
        self.async_write_ha_state()


FACTORIES: Final = dict.fromkeys(WOT_KINDS, wot_platform(EVENT, WotEvent))
