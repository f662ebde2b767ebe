"""Fans: on/off and speed.

A speed property whose minimum is 0 (or that is the fan's only switch) is linear: the minimum
is off, the maximum 100 %. One whose minimum is above 0 counts speeds as Home Assistant does:
with 1-3, speed 1 is 33 %.
"""

from __future__ import annotations

import math
from typing import Any, Final

from homeassistant.components.fan import FanEntity
from homeassistant.components.fan.const import FanEntityFeature
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util.percentage import percentage_to_ranged_value, ranged_value_to_percentage
from homeassistant.util.scaling import int_states_in_range

from .bridges.wot.coordinator import WotThingCoordinator
from .bridges.wot.entity import ValueRange, WotThingEntity, is_number, wot_platform
from .kinds import WOT_KINDS, ThingBridgeConfigEntry, async_setup_by_kind
from .wot import FAN, EntitySpec

PARALLEL_UPDATES = 1


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThingBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the Thing's fan."""
    async_setup_by_kind(entry, async_add_entities, FACTORIES)


class WotFan(WotThingEntity, FanEntity):
    """A fan: on/off and/or a speed property (a speed at its minimum means off)."""

    def __init__(self, coordinator: WotThingCoordinator, spec: EntitySpec) -> None:
        """Speed range from the speed property's schema."""
        super().__init__(coordinator, spec)
        # Either property can switch the fan, so both services are always offered.
        features = FanEntityFeature.TURN_ON | FanEntityFeature.TURN_OFF
        self._range: ValueRange | None = None
        self._stepped = False
        if self.has("speed"):
            self._range = ValueRange(self.schema("speed"))
            features |= FanEntityFeature.SET_SPEED
            rng = self._range
            self._stepped = self.has("on") and rng.integer and rng.low > 0 and rng.usable
            if self._stepped:
                self._attr_speed_count = int_states_in_range((self._range.low, self._range.high))
            elif self._range.integer and self._range.usable:
                self._attr_speed_count = int(self._range.high - self._range.low)
        self._attr_supported_features = features
        # The speed to restore when a fan without an on/off property is switched on.
        self._last_percentage: int | None = None
        self._remember_speed()

    def _remember_speed(self) -> None:
        if (percentage := self.percentage) is not None and percentage > 0:
            self._last_percentage = percentage

    @callback
    def _handle_coordinator_update(self) -> None:
        """Remember the last speed above off."""
        self._remember_speed()
        super()._handle_coordinator_update()

    @property
    def is_on(self) -> bool | None:
        """On/off, or speed above minimum when there is no on/off property."""
        if self.has("on"):
            value = self.prop_value("on")
            return value if isinstance(value, bool) else None
        percentage = self.percentage
        return None if percentage is None else percentage > 0

    @property
    def percentage(self) -> int | None:
        """Speed as a percentage."""
        if self._range is None:
            return None
        speed = self.prop_value("speed")
        if self._stepped and is_number(speed):
            bounds = (self._range.low, self._range.high)
            return ranged_value_to_percentage(bounds, min(max(speed, bounds[0]), bounds[1]))
        return self._range.to_ha(speed, 100)

    async def async_set_percentage(self, percentage: int) -> None:
        """Set the speed (0 switches off)."""
        if percentage == 0:
            await self.async_turn_off()
            return
        assert self._range is not None
        if self._stepped:
            bounds = (self._range.low, self._range.high)
            value = self._range.native(math.ceil(percentage_to_ranged_value(bounds, percentage)))
        else:
            value = self._range.from_ha(percentage, 100)
        if value <= self._range.low and not self._stepped:
            # A low but non-zero percentage is the slowest speed, not off.
            step = 1 if self._range.integer else (self._range.high - self._range.low) / 100
            value = self._range.native(min(self._range.low + step, self._range.high))
        await self.write("speed", value)
        if self.has("on") and self.prop_value("on") is not True:
            await self.write("on", True)

    async def async_turn_on(
        self, percentage: int | None = None, preset_mode: str | None = None, **kwargs: Any
    ) -> None:
        """Switch on, at a speed if given (else at the last speed when speed is the switch)."""
        if percentage is not None and self._range is not None:
            await self.async_set_percentage(percentage)
        elif self.has("on"):
            await self.write("on", True)
        elif self._range is not None and not self.is_on:
            await self.async_set_percentage(self._last_percentage or 100)

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Switch off."""
        if self.has("on"):
            await self.write("on", False)
        elif self._range is not None:
            await self.write("speed", self._range.native(self._range.low))


FACTORIES: Final = dict.fromkeys(WOT_KINDS, wot_platform(FAN, WotFan))
