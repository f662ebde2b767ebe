"""Actions (services) of ThingBridge."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
import probatio

from .const import DOMAIN
from .coordinator import ThingBridgeConfigEntry
from .wot import WotError

SERVICE_READ_PROPERTY = "read_property"
ATTR_PROPERTY = "property"

READ_PROPERTY_SCHEMA = probatio.Schema(
    {
        probatio.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        probatio.Required(ATTR_PROPERTY): cv.string,
    }
)


def _loaded_entry(call: ServiceCall) -> ThingBridgeConfigEntry:
    entry_id = call.data[ATTR_CONFIG_ENTRY_ID]
    entry: ThingBridgeConfigEntry | None = call.hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_found",
            translation_placeholders={"entry_id": entry_id},
        )
    if entry.state is not ConfigEntryState.LOADED:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="entry_not_loaded",
            translation_placeholders={"title": entry.title},
        )
    return entry


async def _async_read_property(call: ServiceCall) -> ServiceResponse:
    entry = _loaded_entry(call)
    coordinator = entry.runtime_data
    name = call.data[ATTR_PROPERTY]
    prop = coordinator.td.properties.get(name)
    if prop is None or prop.form_for("readproperty") is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_property",
            translation_placeholders={"property": name, "title": entry.title},
        )
    try:
        value = await coordinator.client.read_property(name)
    except WotError as err:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="operation_failed",
            translation_placeholders={"title": entry.title, "error": str(err)},
        ) from err
    return {"value": value}


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register ThingBridge's actions."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_READ_PROPERTY,
        _async_read_property,
        schema=READ_PROPERTY_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
