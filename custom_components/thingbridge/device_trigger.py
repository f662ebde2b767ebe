"""Device triggers: automate on the events a Thing emits ("<event> event" in the UI)."""

from __future__ import annotations

from homeassistant.components.device_automation import DEVICE_TRIGGER_BASE_SCHEMA
from homeassistant.components.device_automation.exceptions import InvalidDeviceAutomationConfig
from homeassistant.components.homeassistant.triggers import event as event_trigger
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    CONF_DEVICE_ID,
    CONF_DOMAIN,
    CONF_EVENT_DATA,
    CONF_PLATFORM,
    CONF_TYPE,
)
from homeassistant.core import CALLBACK_TYPE, HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.trigger import TriggerActionType, TriggerInfo
from homeassistant.helpers.typing import ConfigType
import probatio

from .const import DOMAIN, EVENT_THING_EVENT
from .kinds import ThingBridgeConfigEntry, kind_of
from .wot import ThingDescription

CONF_SUBTYPE = "subtype"
TRIGGER_TYPE = "thing_event"
TRIGGER_SCHEMA = DEVICE_TRIGGER_BASE_SCHEMA.extend(
    {
        probatio.Required(CONF_TYPE): TRIGGER_TYPE,
        probatio.Required(CONF_SUBTYPE): str,
    }
)


def _thing_of_device(hass: HomeAssistant, device_id: str) -> ThingDescription | None:
    """The Thing Description of the device's loaded Thing, if there is one."""
    device = dr.async_get(hass).async_get(device_id)
    if device is None:
        return None
    keys = {ident[1] for ident in device.identifiers if ident[0] == DOMAIN}
    entry: ThingBridgeConfigEntry | None = hass.config_entries.async_get_entry(
        device.config_entry_id
    )
    if entry is None or entry.domain != DOMAIN or entry.state is not ConfigEntryState.LOADED:
        return None
    things = kind_of(entry).things(entry)
    for key in keys & set(things):
        return things[key].td
    return None


def _events_of_device(hass: HomeAssistant, device_id: str) -> list[str]:
    td = _thing_of_device(hass, device_id)
    return list(td.events) if td is not None else []


async def async_validate_trigger_config(hass: HomeAssistant, config: ConfigType) -> ConfigType:
    """Check the schema, and that the Thing has the event (when it is loaded to ask)."""
    config = TRIGGER_SCHEMA(config)
    td = _thing_of_device(hass, config[CONF_DEVICE_ID])
    if td is not None and config[CONF_SUBTYPE] not in td.events:
        raise InvalidDeviceAutomationConfig(
            translation_domain=DOMAIN,
            translation_key="unknown_event",
            translation_placeholders={"title": td.title, "event": config[CONF_SUBTYPE]},
        )
    return config


async def async_get_triggers(hass: HomeAssistant, device_id: str) -> list[dict[str, str]]:
    """One trigger per event of the device's Thing."""
    return [
        {
            CONF_PLATFORM: "device",
            CONF_DOMAIN: DOMAIN,
            CONF_DEVICE_ID: device_id,
            CONF_TYPE: TRIGGER_TYPE,
            CONF_SUBTYPE: name,
        }
        for name in _events_of_device(hass, device_id)
    ]


async def async_attach_trigger(
    hass: HomeAssistant,
    config: ConfigType,
    action: TriggerActionType,
    trigger_info: TriggerInfo,
) -> CALLBACK_TYPE:
    """Listen for the Thing's event on the bus."""
    return await event_trigger.async_attach_trigger(
        hass,
        event_trigger.TRIGGER_SCHEMA(
            {
                CONF_PLATFORM: "event",
                event_trigger.CONF_EVENT_TYPE: EVENT_THING_EVENT,
                CONF_EVENT_DATA: {
                    "device_id": config[CONF_DEVICE_ID],
                    "event": config[CONF_SUBTYPE],
                },
            }
        ),
        action,
        trigger_info,
        platform_type="device",
    )
