"""Diagnostics for ThingBridge, with credentials redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_API_KEY, CONF_PASSWORD, CONF_TOKEN, CONF_USERNAME
from homeassistant.core import HomeAssistant

from .coordinator import ThingBridgeConfigEntry

TO_REDACT = {CONF_API_KEY, CONF_PASSWORD, CONF_TOKEN, CONF_USERNAME, "authorization"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: ThingBridgeConfigEntry
) -> dict[str, Any]:
    """Return the entry, the Thing Description and the last values read."""
    coordinator = entry.runtime_data
    return {
        "entry": {
            "data": async_redact_data(dict(entry.data), TO_REDACT),
            "options": async_redact_data(dict(entry.options), TO_REDACT),
        },
        "thing_description": async_redact_data(dict(coordinator.td.raw), TO_REDACT),
        "last_update_success": coordinator.last_update_success,
        "values": coordinator.data,
    }
