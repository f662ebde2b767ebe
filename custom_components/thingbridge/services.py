"""Actions (services) of ThingBridge: read and write properties, invoke Thing actions; assets'.

The asset register's actions (check-out, check-in) are in :mod:`.bridges.assets.services`.
"""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_CONFIG_ENTRY_ID, ATTR_DEVICE_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr
import probatio

from .bridges.assets.services import async_setup_asset_services
from .bridges.wot.coordinator import WotThingCoordinator
from .const import DOMAIN
from .kinds import ThingBridgeConfigEntry, kind_of
from .wot import schema_error

SERVICE_READ_PROPERTY = "read_property"
SERVICE_WRITE_PROPERTY = "write_property"
SERVICE_INVOKE_ACTION = "invoke_action"
ATTR_PROPERTY = "property"
ATTR_VALUE = "value"
ATTR_ACTION = "action"
ATTR_INPUT = "input"

_TARGET = {
    probatio.Exclusive(ATTR_DEVICE_ID, "target"): cv.string,
    probatio.Exclusive(ATTR_CONFIG_ENTRY_ID, "target"): cv.string,
}
READ_PROPERTY_SCHEMA = probatio.Schema({**_TARGET, probatio.Required(ATTR_PROPERTY): cv.string})
WRITE_PROPERTY_SCHEMA = probatio.Schema(
    {**_TARGET, probatio.Required(ATTR_PROPERTY): cv.string, probatio.Required(ATTR_VALUE): object}
)
INVOKE_ACTION_SCHEMA = probatio.Schema(
    {**_TARGET, probatio.Required(ATTR_ACTION): cv.string, probatio.Optional(ATTR_INPUT): object}
)


def _invalid(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def _loaded(hass: HomeAssistant, entry_id: str) -> ThingBridgeConfigEntry:
    entry: ThingBridgeConfigEntry | None = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise _invalid("entry_not_found", entry_id=entry_id)
    if entry.state is not ConfigEntryState.LOADED:
        raise _invalid("entry_not_loaded", title=entry.title)
    return entry


def _thing(call: ServiceCall) -> WotThingCoordinator:
    """The Thing a call targets: by device, or by an entry that holds exactly one Thing."""
    if device_id := call.data.get(ATTR_DEVICE_ID):
        device = dr.async_get(call.hass).async_get(device_id)
        if device is None:
            raise _invalid("device_not_found", device_id=device_id)
        keys = {ident[1] for ident in device.identifiers if ident[0] == DOMAIN}
        entry = call.hass.config_entries.async_get_entry(device.config_entry_id)
        if entry is not None and entry.domain == DOMAIN:
            loaded = _loaded(call.hass, entry.entry_id)
            by_key = kind_of(loaded).things(loaded)
            for key in keys & set(by_key):
                return by_key[key]
        raise _invalid("device_not_found", device_id=device_id)
    if target_entry := call.data.get(ATTR_CONFIG_ENTRY_ID):
        loaded = _loaded(call.hass, target_entry)
        things = list(kind_of(loaded).things(loaded).values())
        if len(things) != 1:
            raise _invalid("pick_a_device", title=loaded.title)
        return things[0]
    raise _invalid("no_target")


async def _async_read_property(call: ServiceCall) -> ServiceResponse:
    thing = _thing(call)
    name = call.data[ATTR_PROPERTY]
    prop = thing.td.properties.get(name)
    if prop is None or not prop.readable:
        raise _invalid("unknown_property", property=name, title=thing.td.title)
    value = await thing.async_read_property(name)
    return {"value": value}


async def _async_write_property(call: ServiceCall) -> None:
    thing = _thing(call)
    name = call.data[ATTR_PROPERTY]
    value = call.data[ATTR_VALUE]
    prop = thing.td.properties.get(name)
    if prop is None or not prop.writable:
        raise _invalid("unknown_writable_property", property=name, title=thing.td.title)
    if error := schema_error(prop.schema, value, name):
        raise _invalid("invalid_value", error=error)
    await thing.async_write_property(name, value)


async def _async_invoke_action(call: ServiceCall) -> ServiceResponse:
    thing = _thing(call)
    name = call.data[ATTR_ACTION]
    action = thing.td.actions.get(name)
    if action is None:
        raise _invalid("unknown_action", action=name, title=thing.td.title)
    has_input = ATTR_INPUT in call.data
    action_input: Any = call.data.get(ATTR_INPUT)
    if (
        has_input
        and action.input is not None
        and (error := schema_error(action.input, action_input, "input"))
    ):
        raise _invalid("invalid_value", error=error)
    result = await thing.async_invoke_action(name, action_input, has_input=has_input)
    return {
        "status": result.status,
        "output": result.output,
        "href": str(result.href) if result.href is not None else None,
        "error": result.error,
    }


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register ThingBridge's actions."""
    hass.services.async_register(
        DOMAIN, SERVICE_READ_PROPERTY, _async_read_property,
        schema=READ_PROPERTY_SCHEMA, supports_response=SupportsResponse.ONLY,
    )  # fmt: skip
    hass.services.async_register(
        DOMAIN, SERVICE_WRITE_PROPERTY, _async_write_property, schema=WRITE_PROPERTY_SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_INVOKE_ACTION, _async_invoke_action,
        schema=INVOKE_ACTION_SCHEMA, supports_response=SupportsResponse.OPTIONAL,
    )  # fmt: skip
    async_setup_asset_services(hass)
