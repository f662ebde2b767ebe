"""Diagnostics for ThingBridge, with credentials redacted.

The GPS tracker gateway's diagnostics list its listeners, counters and trackers with when
each was last seen; tracker IMEIs are identifiers, not secrets. Coordinates are left out:
where a company's vans are is not needed to debug the gateway and should not end up in an
issue report.
"""

from __future__ import annotations

from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from .kinds import ThingBridgeConfigEntry, kind_of


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: ThingBridgeConfigEntry
) -> dict[str, Any]:
    """The entry, and for each Thing its TD, mapping and last values (or the gateway's)."""
    return await kind_of(entry).diagnostics(hass, entry)


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: ThingBridgeConfigEntry, device: dr.DeviceEntry
) -> dict[str, Any]:
    """One Thing's TD, mapping and last values (or one tracker's state)."""
    return kind_of(entry).device_diagnostics(entry, device)
