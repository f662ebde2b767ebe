"""Setting up a Thing whose TD URL redirects to another host: only with the option."""

from __future__ import annotations

from aiohttp import web
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.thingbridge.const import (
    CONF_ALLOW_OTHER_HOSTS,
    CONF_KIND,
    DOMAIN,
    KIND_WOT_THING,
)
from simulator.wot import WotSimulator
from tests.lib.route_server import running_server


async def test_td_behind_a_redirect_to_another_port_needs_the_option(
    hass: HomeAssistant, wot_sim: WotSimulator
) -> None:
    async with running_server() as front:

        async def moved(request: web.Request) -> web.Response:
            return web.Response(status=302, headers={"Location": wot_sim.url_of("sensor")})

        front.routes["/td"] = moved
        refused = MockConfigEntry(
            domain=DOMAIN,
            unique_id="front",
            data={CONF_KIND: KIND_WOT_THING, "url": front.url("/td?token=s3cret")},
        )
        refused.add_to_hass(hass)
        assert not await hass.config_entries.async_setup(refused.entry_id)
        assert refused.state is ConfigEntryState.SETUP_ERROR
        assert f"redirect points to host 127.0.0.1:{wot_sim.port}" in (refused.reason or "")
        assert "s3cret" not in (refused.reason or "")

        allowed = MockConfigEntry(
            domain=DOMAIN,
            unique_id="urn:thingbridge:simulator:sensor",
            data={CONF_KIND: KIND_WOT_THING, "url": front.url("/td")},
            options={CONF_ALLOW_OTHER_HOSTS: True},
        )
        allowed.add_to_hass(hass)
        assert await hass.config_entries.async_setup(allowed.entry_id)
        await hass.async_block_till_done()
        assert allowed.state is ConfigEntryState.LOADED
        assert hass.states.get("sensor.simulated_temperature_sensor_temperature") is not None
        assert await hass.config_entries.async_unload(allowed.entry_id)
