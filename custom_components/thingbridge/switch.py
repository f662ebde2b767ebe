"""Switches: writable boolean properties, and actions whose one input is a boolean."""

from __future__ import annotations

from typing import Any, Final

from homeassistant.components.switch import SwitchEntity
from homeassistant.components.switch.const import SwitchDeviceClass
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .bridges.wot.coordinator import WotThingCoordinator
from .bridges.wot.entity import WotThingEntity, wot_platform
from .kinds import WOT_KINDS, ThingBridgeConfigEntry, async_setup_by_kind
from .wot import SWITCH, EntitySpec

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThingBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a switch for every writable boolean property."""
    async_setup_by_kind(entry, async_add_entities, FACTORIES)


class WotSwitch(WotThingEntity, SwitchEntity):
    """A writable boolean property (a plug's or switch's own on/off is the device's main one).

    One that invokes an action with a boolean input sends ``true`` when turned on and
    ``false`` when turned off; its state is the value it last sent (an assumed state, which
    the frontend shows as two buttons).
    """

    def __init__(self, coordinator: WotThingCoordinator, spec: EntitySpec) -> None:
        """Outlet or switch, as the Thing's type says."""
        super().__init__(coordinator, spec)
        if spec.device_class:
            self._attr_device_class = SwitchDeviceClass(spec.device_class)

    @property
    def is_on(self) -> bool | None:
        """The property's value (or the value last sent to the action)."""
        value = self.current_value()
        return value if isinstance(value, bool) else None

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Write (or send) ``true``."""
        await self.apply_value(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Write (or send) ``false``."""
        await self.apply_value(False)


FACTORIES: Final = dict.fromkeys(WOT_KINDS, wot_platform(SWITCH, WotSwitch))
