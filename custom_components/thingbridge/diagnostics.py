"""Diagnostics for ThingBridge, with credentials redacted.

The GPS tracker gateway's diagnostics list its listeners, counters and trackers with when
each was last seen; tracker IMEIs are identifiers, not secrets. Coordinates are left out:
where a company's vans are is not needed to debug the gateway and should not end up in an
issue report.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import REDACTED, async_redact_data
from homeassistant.const import CONF_API_KEY, CONF_PASSWORD, CONF_TOKEN, CONF_URL, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from .const import DOMAIN, KIND_TRACKER_GATEWAY
from .coordinator import (
    EVENT_BURST,
    EVENTS_PER_SECOND,
    PUSH_UPDATES_PER_SECOND,
    WotThingCoordinator,
)
from .kinds import device_identifier
from .m2m import JournalError
from .tracker_runtime import (
    AnyThingBridgeConfigEntry,
    TrackerDevice,
    TrackerGatewayConfigEntry,
    is_tracker_gateway,
)
from .wot import clip_depth, safe_url

TO_REDACT = {
    CONF_API_KEY,
    CONF_PASSWORD,
    CONF_TOKEN,
    CONF_USERNAME,
    "authorization",
    "Authorization",
}


def _push(coordinator: WotThingCoordinator) -> dict[str, Any]:
    """What the Thing pushed, and what was coalesced or dropped on the way to the states."""
    stats = coordinator.push_stats
    watched = coordinator.watcher.stats if coordinator.watcher is not None else None
    return {
        "values_received": watched.values if watched else stats.values,
        # Superseded by a newer value of the same property: in one read of the push channel
        # (the library), or between two state writes (the coordinator).
        "values_coalesced": (watched.coalesced if watched else 0) + stats.coalesced,
        "state_updates": stats.state_updates,
        "events_received": stats.events,
        "events_dropped": stats.events_dropped,
        "limits": {
            "state_updates_per_second": PUSH_UPDATES_PER_SECOND,
            "event_burst": EVENT_BURST,
            "events_per_second": EVENTS_PER_SECOND,
        },
    }


def _thing(coordinator: WotThingCoordinator) -> dict[str, Any]:
    td = coordinator.td
    return {
        "key": coordinator.key,
        "title": td.title,
        "dialect": td.dialect,
        "security": list(td.schemes),
        "observed_properties": sorted(coordinator.observed),
        "push": _push(coordinator),
        "last_update_success": coordinator.last_update_success,
        # Values come from the Thing and may nest absurdly deep: clipped, like the TD, so that
        # redaction and serialisation (both recursive) cannot run out of stack.
        "values": clip_depth(coordinator.data),
        "entities": [spec.as_dict() for spec in coordinator.specs],
        "skipped_affordances": [str(err) for err in td.skipped],
        "thing_description": async_redact_data(clip_depth(td.raw), TO_REDACT),
    }


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: AnyThingBridgeConfigEntry
) -> dict[str, Any]:
    """The entry, and for each Thing its TD, mapping and last values (or the gateway's)."""
    if is_tracker_gateway(entry):
        return await _gateway(entry)
    runtime = entry.runtime_data
    data = async_redact_data(dict(entry.data), TO_REDACT)
    data[CONF_URL] = safe_url(data[CONF_URL], REDACTED)  # entries made before the flow refused it
    return {
        "entry": {"data": data, "options": dict(entry.options)},
        "rejected_things": {safe_url(url, REDACTED): err for url, err in runtime.rejected.items()},
        "things": [_thing(coordinator) for coordinator in runtime.things.values()],
    }


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: AnyThingBridgeConfigEntry, device: dr.DeviceEntry
) -> dict[str, Any]:
    """One Thing's TD, mapping and last values (or one tracker's state)."""
    keys = {ident[1] for ident in device.identifiers if ident[0] == DOMAIN}
    if is_tracker_gateway(entry):
        runtime = entry.runtime_data
        found = [
            t
            for t in runtime.devices.values()
            if device_identifier(KIND_TRACKER_GATEWAY, t.key) in device.identifiers
        ]
        connected = runtime.gateway.connected_devices()
        return _tracker(found[0], connected) if found else {}
    things = [c for key, c in entry.runtime_data.things.items() if key in keys]
    return _thing(things[0]) if things else {}


def _tracker(device: TrackerDevice, connected: set[tuple[str, str]]) -> dict[str, Any]:
    state = device.state
    return {
        "name": device.name,
        "protocol": device.protocol,
        "device_id": device.device_id,
        "online": device.online,
        "connected": (device.protocol, device.device_id) in connected,
        "last_seen": state.last_seen.isoformat() if state.last_seen else None,
        "last_fix_time": state.fix.time.isoformat() if state.fix else None,
        "newest_report_time": state.newest.isoformat() if state.newest else None,
        "odometer_m": state.odometer_m,
        "computed_odometer_m": state.computed_odometer_m,
        "engine_hours_s": state.engine_hours_s,
        "computed_engine_s": state.computed_engine_s,
    }


async def _gateway(entry: TrackerGatewayConfigEntry) -> dict[str, Any]:
    runtime = entry.runtime_data
    gateway = runtime.gateway
    connected = gateway.connected_devices()
    try:
        stored: int | str = await runtime.journal.count()
    except JournalError as err:
        stored = str(err)
    return {
        "entry": {"data": dict(entry.data), "options": dict(entry.options)},
        "listening": {
            "host": gateway.host,
            "protocols": list(runtime.settings.protocols),
            "tcp_or_http_ports": gateway.ports,
            "udp_ports": gateway.udp_ports,
        },
        "stats": asdict(gateway.stats),
        "journal": {"path": runtime.journal.path, "positions": stored},
        "trackers": [_tracker(device, connected) for device in runtime.devices.values()],
    }
