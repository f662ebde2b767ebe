"""The hooks Home Assistant calls on ThingBridge (the package re-exports them).

Every hook below makes one call through the kind of the entry (:mod:`.kinds`).
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN, entry_kind
from .kinds import KINDS, ThingBridgeConfigEntry, kind_of
from .services import async_setup_services

__all__ = [
    "CONFIG_SCHEMA",
    "async_remove_config_entry_device",
    "async_remove_entry",
    "async_setup",
    "async_setup_entry",
    "async_unload_entry",
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions once, whatever entries exist."""
    async_setup_services(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: ThingBridgeConfigEntry) -> bool:
    """Set up one Thing, every Thing of a directory, or the GPS tracker gateway."""
    kind = kind_of(entry)
    await kind.async_setup(hass, entry)
    await hass.config_entries.async_forward_entry_setups(entry, kind.platforms)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: ThingBridgeConfigEntry) -> bool:
    """Unload a config entry (coordinators close their push channels on unload)."""
    kind = kind_of(entry)
    if not await hass.config_entries.async_unload_platforms(entry, kind.platforms):
        return False
    await kind.async_unload(hass, entry)
    return True


async def async_remove_entry(hass: HomeAssistant, entry: ConfigEntry[Any]) -> None:
    """An entry was deleted: what it stored goes with it (the gateway's journal and counters)."""
    # An entry of a kind this version does not know stored nothing it knows of.
    if (kind := KINDS.get(entry_kind(entry.data))) is not None:
        await kind.async_remove(hass, entry)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: ThingBridgeConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let the user delete a device whose Thing (or tracker subentry) is no longer there."""
    return kind_of(entry).can_remove_device(entry, device)
