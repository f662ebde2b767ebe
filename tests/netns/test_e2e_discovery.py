"""End to end inside a private network namespace: mDNS → browser → config flow → control → push.

This module only runs inside the namespace that ``tests/test_e2e_netns.py`` creates (it sets
``THINGBRIDGE_NETNS=1``); multicast never leaves that namespace. Everything is real: the
simulator advertises over mDNS with python-zeroconf, ThingBridge's browser finds it, the
advertisement is resolved the way Home Assistant's zeroconf integration resolves one and fed to
ThingBridge's config flow, a service call changes the device over HTTP, and a change made on the
device reaches Home Assistant's state machine through Server-Sent Events.
"""

from __future__ import annotations

import asyncio
import os

from homeassistant.components.zeroconf.discovery import info_from_service
from homeassistant.config_entries import SOURCE_ZEROCONF
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from custom_components.thingbridge.const import DOMAIN
from custom_components.thingbridge.wot.discovery import browse
from simulator.things import make_lamp, make_sensor
from simulator.wot import WotSimulator
from tests.bridges.wot.test_init import wait_for

pytestmark = pytest.mark.skipif(
    os.environ.get("THINGBRIDGE_NETNS") != "1",
    reason="runs only inside the private network namespace made by tests/test_e2e_netns.py",
)

LAMP = "light.simulated_lamp"


async def _resolve(name: str, type_: str) -> AsyncServiceInfo:
    """Resolve an instance over mDNS, as Home Assistant's zeroconf integration does."""
    aiozc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    try:
        info = AsyncServiceInfo(type_, name)
        assert await info.async_request(aiozc.zeroconf, 3000), f"{name} did not resolve"
        return info
    finally:
        await aiozc.async_close()


async def test_discover_add_control_and_push(hass: HomeAssistant, socket_enabled: None) -> None:
    sim = WotSimulator([make_lamp(), make_sensor()], tick_interval=3600)
    await sim.start("127.0.0.1", 0, advertise=True)
    try:
        found = await browse(timeout=3.0, interfaces=["127.0.0.1"])
        lamp = next(s for s in found if s.kind == "thing" and s.url == sim.url_of("lamp"))
        assert lamp.port == sim.port

        info = await _resolve(f"{lamp.name}._wot._tcp.local.", "_wot._tcp.local.")
        discovery_info = info_from_service(info)
        assert discovery_info is not None
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_ZEROCONF}, data=discovery_info
        )
        assert result["type"] is FlowResultType.FORM
        assert result["step_id"] == "discovery_confirm"
        result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["title"] == "Simulated Lamp"
        await hass.async_block_till_done()

        # Home Assistant → device.
        await hass.services.async_call(
            "light", "turn_on", {"entity_id": LAMP, "brightness": 255}, blocking=True
        )
        assert sim.get_property("lamp", "on") is True
        assert sim.get_property("lamp", "brightness") == 100

        # Device → Home Assistant, pushed over SSE (no clock is advanced).
        await wait_for(hass, lambda: bool(sim.live), "the lamp's SSE stream")
        sim.set_property("lamp", "on", False)
        await wait_for(hass, lambda: hass.states.get(LAMP).state == "off", "the pushed change")
        await hass.config_entries.async_unload(result["result"].entry_id)
        await asyncio.sleep(0)
    finally:
        await sim.stop()
