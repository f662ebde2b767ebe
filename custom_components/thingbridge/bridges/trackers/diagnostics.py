"""Diagnostics of the GPS tracker gateway and of each tracker (the registry points here).

Coordinates are left out: a tracker's diagnostics say when it was last seen and what its
counters are, not where it is.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from ...const import KIND_TRACKER_GATEWAY, device_identifier
from ...m2m import JournalError
from .runtime import TrackerDevice, TrackerGatewayConfigEntry


def tracker_diagnostics(device: TrackerDevice, connected: set[tuple[str, str]]) -> dict[str, Any]:
    """One tracker's state, without its coordinates (see :mod:`...diagnostics`)."""
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


async def async_gateway_diagnostics(
    hass: HomeAssistant, entry: TrackerGatewayConfigEntry
) -> dict[str, Any]:
    """The gateway's listeners, counters and journal, and every tracker's state."""
    runtime = entry.runtime_data
    gateway = runtime.gateway
    connected = gateway.connected_devices()
    try:
        stored: int | str = await runtime.journal.count()
    except JournalError as err:
        stored = str(err)
    data: dict[str, Any] = {
        "entry": {"data": dict(entry.data), "options": dict(entry.options)},
        "listening": {
            "host": gateway.host,
            "protocols": list(runtime.settings.protocols),
            "tcp_or_http_ports": gateway.ports,
            "udp_ports": gateway.udp_ports,
        },
        "stats": asdict(gateway.stats),
        "journal": {"path": runtime.journal.path, "positions": stored},
        "trackers": [tracker_diagnostics(device, connected) for device in runtime.devices.values()],
    }
    if runtime.settings.traccar_topic:
        data["traccar_mqtt"] = runtime.traccar.diagnostics()
    return data


def tracker_device_diagnostics(
    entry: TrackerGatewayConfigEntry, device: dr.DeviceEntry
) -> dict[str, Any]:
    """One tracker's state (nothing for a device the gateway no longer has)."""
    runtime = entry.runtime_data
    found = [
        t
        for t in runtime.devices.values()
        if device_identifier(KIND_TRACKER_GATEWAY, t.key) in device.identifiers
    ]
    connected = runtime.gateway.connected_devices()
    return tracker_diagnostics(found[0], connected) if found else {}
