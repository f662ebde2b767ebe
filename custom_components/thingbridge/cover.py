"""Covers: blinds, shutters and curtains (position and/or open/close/stop actions).

Opening or closing with an action lasts as long as the Thing's action runs (an asynchronous
WoT action is followed until it ends), so the platform allows calls in parallel: a stop must
get through while an open is still running.

The entity shows *opening*/*closing* while it knows of a movement: an open/close action that
is running, or a position it wrote and the Thing has not reached yet (followed through the
positions the Thing reports; a report that goes the other way, or past the target, ends it).
After writing a position the coordinator shows the written value at once, before the Thing has
moved; the entity reads the real position back so that the state does not jump to the target.
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.components.cover import ATTR_POSITION, CoverEntity, CoverEntityFeature
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .bridges.wot.coordinator import WotThingCoordinator
from .bridges.wot.entity import ValueRange, WotThingEntity, wot_platform
from .kinds import WOT_KINDS, ThingBridgeConfigEntry, async_setup_by_kind
from .wot import COVER, EntitySpec, WotError

# Calls must not queue behind a running open/close (see the module docstring).
PARALLEL_UPDATES = 0
OPEN = 100
CLOSED = 0


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThingBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the Thing's cover."""
    async_setup_by_kind(entry, async_add_entities, FACTORIES)


class WotCover(WotThingEntity, CoverEntity):
    """A cover; position 100 is fully open."""

    def __init__(self, coordinator: WotThingCoordinator, spec: EntitySpec) -> None:
        """Features from what the Thing offers."""
        super().__init__(coordinator, spec)
        features = CoverEntityFeature(0)
        self._range: ValueRange | None = None
        if self.has("position"):
            self._range = ValueRange(self.schema("position"))
            if coordinator.td.properties[spec.roles["position"]].writable:
                features |= (
                    CoverEntityFeature.SET_POSITION
                    | CoverEntityFeature.OPEN
                    | CoverEntityFeature.CLOSE
                )
        if self.has("open"):
            features |= CoverEntityFeature.OPEN
        if self.has("close"):
            features |= CoverEntityFeature.CLOSE
        if self.has("stop"):
            features |= CoverEntityFeature.STOP
        self._attr_supported_features = features
        # The movement this entity knows of: +1 opening, -1 closing, 0 none; where it heads
        # (0-100, if known); and a counter that tells a command from the ones that replaced it.
        self._moving = 0
        self._target: int | None = None
        self._command = 0
        # While a position is being written the reports are not followed (see the docstring).
        self._settling = False
        self._last_position = self.current_cover_position

    @property
    def current_cover_position(self) -> int | None:
        """Position scaled to 0-100."""
        if self._range is None:
            return None
        return self._range.to_ha(self.prop_value("position"), 100)

    @property
    def is_closed(self) -> bool | None:
        """Closed at position 0."""
        position = self.current_cover_position
        return None if position is None else position == CLOSED

    @property
    def is_opening(self) -> bool:
        """Opening, as far as this entity knows."""
        return self._moving > 0

    @property
    def is_closing(self) -> bool:
        """Closing, as far as this entity knows."""
        return self._moving < 0

    def _follow(self, position: int | None) -> None:
        """Take a reported position; end the movement once it is over."""
        last, self._last_position = self._last_position, position
        if not self._moving or position is None:
            return
        against = last is not None and (position - last) * self._moving < 0
        arrived = self._target is not None and (position - self._target) * self._moving >= 0
        if against or arrived:
            self._moving, self._target = 0, None

    @callback
    def _handle_coordinator_update(self) -> None:
        """Follow the reported position."""
        if not self._settling:
            self._follow(self.current_cover_position)
        super()._handle_coordinator_update()

    def _start(self, moving: int, target: int | None) -> int:
        """Note a new command (and where it heads); returns its number."""
        self._command += 1
        self._moving, self._target = moving, target
        self.async_write_ha_state()
        return self._command

    def _end(self, command: int) -> None:
        """Forget the movement ``command`` started, unless a later command replaced it."""
        if command == self._command:
            self._moving, self._target = 0, None
            self.async_write_ha_state()

    async def _move(self, role: str, target: int) -> None:
        if not self.has(role):
            await self.async_set_cover_position(**{ATTR_POSITION: target})
            return
        command = self._start(1 if target == OPEN else -1, target)
        try:
            await self.invoke(role)
        except HomeAssistantError:
            # An action interrupted by a later command (stop, the other direction) is no error.
            if command == self._command:
                raise
        finally:
            self._end(command)
        # Things that cannot push their position are read again now.
        await self.coordinator.async_request_refresh()

    async def async_open_cover(self, **kwargs: Any) -> None:
        """Open."""
        await self._move("open", OPEN)

    async def async_close_cover(self, **kwargs: Any) -> None:
        """Close."""
        await self._move("close", CLOSED)

    async def async_stop_cover(self, **kwargs: Any) -> None:
        """Stop moving."""
        self._start(0, None)
        await self.invoke("stop")
        await self.coordinator.async_request_refresh()

    async def async_set_cover_position(self, **kwargs: Any) -> None:
        """Move to a position (the Thing answers at once and moves; its reports show progress)."""
        assert self._range is not None
        target = int(kwargs[ATTR_POSITION])
        current = self.current_cover_position
        moving = 0 if current is None or current == target else (1 if target > current else -1)
        command = self._start(moving, target)
        self._settling = True
        try:
            await self.write("position", self._range.from_ha(target, 100))
            await self._read_back()
        except HomeAssistantError:
            self._end(command)
            raise
        finally:
            self._settling = False
        self._follow(self.current_cover_position)
        self.async_write_ha_state()

    async def _read_back(self) -> None:
        """Show the Thing's real position instead of the value just written."""
        name = self.property_name("position")
        if not self.coordinator.td.properties[name].readable:
            return
        shown = self.prop_value("position")
        try:
            value = await self.coordinator.client.read_property(name)
        except WotError:
            return  # its reports or the next poll will tell
        # A report that arrived meanwhile is at least as new as this read.
        if self.prop_value("position") == shown:
            self.coordinator.async_set_updated_data({**(self.coordinator.data or {}), name: value})


FACTORIES: Final = dict.fromkeys(WOT_KINDS, wot_platform(COVER, WotCover))
