"""Diagnostics for ThingBridge, with credentials redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_API_KEY, CONF_PASSWORD, CONF_TOKEN, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from .const import DOMAIN
from .coordinator import ThingBridgeConfigEntry, WotThingCoordinator

TO_REDACT = {
    CONF_API_KEY,
    CONF_PASSWORD,
    CONF_TOKEN,
    CONF_USERNAME,
    "authorization",
    "Authorization",
}


def _thing(coordinator: WotThingCoordinator) -> dict[str, Any]:
    td = coordinator.td
    return {
        "key": coordinator.key,
        "title": td.title,
        "dialect": td.dialect,
        "security": list(td.schemes),
        "observed_properties": sorted(coordinator.observed),
        "last_update_success": coordinator.last_update_success,
        "values": coordinator.data,
        "entities": [spec.as_dict() for spec in coordinator.specs],
        "skipped_affordances": [str(err) for err in td.skipped],
        "thing_description": async_redact_data(dict(td.raw), TO_REDACT),
    }


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: ThingBridgeConfigEntry
) -> dict[str, Any]:
    """The entry, and for each Thing its TD, mapping and last values."""
    runtime = entry.runtime_data
    return {
        "entry": {
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": dict(entry.options),
        },
        "rejected_things": runtime.rejected,
        "things": [_thing(coordinator) for coordinator in runtime.things.values()],
    }


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: ThingBridgeConfigEntry, device: dr.DeviceEntry
) -> dict[str, Any]:
    """One Thing's TD, mapping and last values."""
    keys = {ident[1] for ident in device.identifiers if ident[0] == DOMAIN}
    things = [c for key, c in entry.runtime_data.things.items() if key in keys]
    return _thing(things[0]) if things else {}
