"""Helpers shared by the GPS tracker gateway tests (test_tracker_*.py).

The gateway of these tests listens on 127.0.0.1 only, on free ports (port 0); the tests read
the bound ports back from the running gateway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, HomeAssistant, State, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.thingbridge.bridges.trackers.discovery import tracker_key
from custom_components.thingbridge.bridges.trackers.runtime import (
    GatewaySettings,
    TrackerGatewayRuntime,
)
from custom_components.thingbridge.const import (
    CONF_DEVICE_ID,
    CONF_KIND,
    CONF_PROTOCOL,
    DOMAIN,
    KIND_TRACKER_GATEWAY,
    SUBENTRY_TRACKER,
    TRACKER_GATEWAY_UNIQUE_ID,
    TRACKER_PROTOCOLS,
)
from simulator.trackers import VirtualTracker

HOST = "127.0.0.1"
IDS = {
    "teltonika": "356307042441013",
    "gt06": "864717003283581",
    "tk103": "088048003342",
    "coban": "359586015829802",
    "h02": "4210051415",
    "osmand": "traccar-phone-7",
}


def start_time() -> datetime:
    """A device time for the first fix: an hour ago, in whole seconds."""
    return (dt_util.utcnow() - timedelta(hours=1)).replace(microsecond=0)


def gateway_options(
    protocols: tuple[str, ...] = TRACKER_PROTOCOLS, **changes: Any
) -> dict[str, Any]:
    """Gateway options for tests: loopback, every port picked by the system."""
    settings = GatewaySettings(
        protocols=protocols, ports=dict.fromkeys(TRACKER_PROTOCOLS, 0), host=HOST
    )
    return settings.as_options() | changes


def tracker_subentry(protocol: str, device_id: str, title: str) -> dict[str, Any]:
    """The stored form of a tracker subentry."""
    return {
        "data": {CONF_PROTOCOL: protocol, CONF_DEVICE_ID: device_id},
        "subentry_type": SUBENTRY_TRACKER,
        "title": title,
        "unique_id": tracker_key(protocol, device_id),
    }


def gateway_entry(
    trackers: list[tuple[str, str, str]] | None = None, **options: Any
) -> MockConfigEntry:
    """A gateway entry with ``(protocol, device_id, name)`` trackers (not yet added)."""
    protocols = options.pop("protocols", TRACKER_PROTOCOLS)
    return MockConfigEntry(
        domain=DOMAIN,
        title="GPS trackers",
        unique_id=TRACKER_GATEWAY_UNIQUE_ID,
        data={CONF_KIND: KIND_TRACKER_GATEWAY},
        options=gateway_options(protocols, **options),
        subentries_data=[tracker_subentry(*t) for t in trackers or []],
    )


async def setup_gateway(hass: HomeAssistant, entry: MockConfigEntry) -> TrackerGatewayRuntime:
    """Add and set up the gateway entry; return its runtime."""
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    runtime: TrackerGatewayRuntime = entry.runtime_data
    return runtime


def virtual_tracker(
    runtime: TrackerGatewayRuntime,
    protocol: str,
    route: list[tuple[float, float]],
    *,
    device_id: str | None = None,
    **kw: Any,
) -> VirtualTracker:
    """A simulated tracker pointed at the running gateway's actual port."""
    transport = kw.get("transport")
    ports = runtime.gateway.udp_ports if transport == "udp" else runtime.gateway.ports
    kw.setdefault("ack_timeout", 5.0)
    kw.setdefault("interval", 20.0)
    return VirtualTracker(protocol, device_id or IDS[protocol], route, HOST, ports[protocol], **kw)


def entity_id(hass: HomeAssistant, platform: str, protocol: str, device_id: str, key: str) -> str:
    """The entity ID of a tracker entity, found by its unique ID."""
    found = er.async_get(hass).async_get_entity_id(
        platform, DOMAIN, f"tracker_{protocol}_{device_id}_{key}"
    )
    assert found is not None, f"no {platform} {key} for {protocol} {device_id}"
    return found


def state_of(hass: HomeAssistant, entity: str) -> State:
    """The entity's state (fails when it has none)."""
    state = hass.states.get(entity)
    assert state is not None, entity
    return state


class StateRecorder:
    """Every state an entity was written with, in order."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Listen to state changes."""
        self.states: dict[str, list[State]] = {}
        self._unsub = hass.bus.async_listen(EVENT_STATE_CHANGED, self._record)

    @callback  # run on the loop, in event order (a plain function would go to the executor)
    def _record(self, event: Event[Any]) -> None:
        new = event.data.get("new_state")
        if new is not None:
            self.states.setdefault(event.data["entity_id"], []).append(new)

    def of(self, entity: str) -> list[State]:
        """The states written for ``entity``."""
        return self.states.get(entity, [])

    def stop(self) -> None:
        """Stop listening."""
        self._unsub()


async def wait_for(hass: HomeAssistant, check: Callable[[], bool], what: str) -> None:
    """Let Home Assistant run until ``check()`` holds (bounded, so a hang fails the test).

    The bound counts turns, not a clock (some tests freeze time), and allows at least 30 s,
    so a loaded machine is not taken for a hang.
    """
    for _ in range(3000):
        if check():
            return
        await hass.async_block_till_done()
        await asyncio.sleep(0.01)
    pytest.fail(f"timed out waiting for {what}")
