"""Locks: a LockedProperty with lock/unlock actions, or a writable locked flag."""

from __future__ import annotations

from typing import Any, Final

from homeassistant.components.lock import LockEntity
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .bridges.wot.coordinator import WotThingCoordinator
from .bridges.wot.entity import WotThingEntity, wot_platform
from .kinds import WOT_KINDS, ThingBridgeConfigEntry, async_setup_by_kind
from .wot import LOCK, EntitySpec

PARALLEL_UPDATES = 1
LOCKED_VALUES = frozenset({"locked", "lock", "secured", "true", "on", "closed"})
UNLOCKED_VALUES = frozenset({"unlocked", "unlock", "unsecured", "false", "off", "open"})
JAMMED_VALUES = frozenset({"jammed", "jam", "blocked", "stuck"})


async def async_setup_entry(
    hass: HomeAssistant,
    entry: ThingBridgeConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the Thing's lock."""
    async_setup_by_kind(entry, async_add_entities, FACTORIES)


def _text(value: Any) -> str:
    return str(value).strip().lower()


class WotLock(WotThingEntity, LockEntity):
    """A door lock.

    With lock/unlock actions the entity shows *locking*/*unlocking* while the action runs;
    otherwise it writes the locked property (a boolean, or the enum value that means locked
    or unlocked).
    """

    def __init__(self, coordinator: WotThingCoordinator, spec: EntitySpec) -> None:
        """Find the values to write when the locked property is writable."""
        super().__init__(coordinator, spec)
        schema = self.schema("locked")
        self._write_values: dict[bool, Any] = {True: True, False: False}
        if schema.type != "boolean":
            enum = schema.enum or ()
            self._write_values = {
                True: next((v for v in enum if _text(v) in LOCKED_VALUES), "locked"),
                False: next((v for v in enum if _text(v) in UNLOCKED_VALUES), "unlocked"),
            }

    @property
    def is_locked(self) -> bool | None:
        """Locked, unlocked, or unknown (jammed and unknown states are not a yes or no)."""
        value = _text(self.prop_value("locked"))
        if value in LOCKED_VALUES:
            return True
        if value in UNLOCKED_VALUES:
            return False
        return None

    @property
    def is_jammed(self) -> bool:
        """Jammed when the device says so."""
        return _text(self.prop_value("locked")) in JAMMED_VALUES

    async def _set(self, locked: bool) -> None:
        action = "lock" if locked else "unlock"
        if not self.has(action):
            await self.write("locked", self._write_values[locked])
            return
        self._attr_is_locking, self._attr_is_unlocking = locked, not locked
        self.async_write_ha_state()
        try:
            await self.invoke(action)
        finally:
            self._attr_is_locking = self._attr_is_unlocking = False
            self.async_write_ha_state()
        # Things that cannot push the new state are read again now.
        await self.coordinator.async_request_refresh()

    async def async_lock(self, **kwargs: Any) -> None:
        """Lock."""
        await self._set(True)

    async def async_unlock(self, **kwargs: Any) -> None:
        """Unlock."""
        await self._set(False)


FACTORIES: Final = dict.fromkeys(WOT_KINDS, wot_platform(LOCK, WotLock))
