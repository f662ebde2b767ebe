"""Event entities: the events a Thing emits, and each asset's events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from homeassistant.components.event import EventEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .bridges.assets.entity import AssetBaseEntity, asset_platform
from .bridges.assets.runtime import ASSET_EVENT_TYPES, Asset, AssetRegisterRuntime
from .bridges.wot.coordinator import WotThingCoordinator
from .bridges.wot.entity import WotThingEntity, wot_platform
from .const import KIND_ASSET_REGISTER, SIGNAL_THING_EVENT
from .kinds import WOT_KINDS, PlatformSetup, ThingBridgeConfigEntry, async_setup_by_kind
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


class AssetEvent(AssetBaseEntity, EventEntity):
    """An asset's geofence crossings, check-outs and check-ins, ended trips, maintenance done."""

    _attr_translation_key = "asset_event"

    def __init__(self, runtime: AssetRegisterRuntime, asset: Asset) -> None:
        """One event entity per asset."""
        super().__init__(runtime, asset, "event")
        self._attr_event_types = list(ASSET_EVENT_TYPES)

    async def async_added_to_hass(self) -> None:
        """Listen for the asset's events (nothing else changes this entity)."""
        await super().async_added_to_hass()
        self.async_on_remove(self.asset.async_add_event_listener(self._handle_event))

    @callback
    def _handle_update(self) -> None:
        """Other values changed: the event entity has nothing new to write."""

    @callback
    def _handle_event(self, event_type: str, data: dict[str, Any]) -> None:
        self._trigger_event(event_type, data)
        self.async_write_ha_state()


FACTORIES: Final[Mapping[str, PlatformSetup]] = {
    **dict.fromkeys(WOT_KINDS, wot_platform(EVENT, WotEvent)),
    KIND_ASSET_REGISTER: asset_platform(lambda runtime, asset: [AssetEvent(runtime, asset)]),
}
