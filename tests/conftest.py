"""Fixtures shared by ThingBridge's tests."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
import json
from pathlib import Path
from typing import Any

from aiohttp import web
from homeassistant.config_entries import ConfigEntryState
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

# Imported at module level so Home Assistant finds this repository's custom_components
# package rather than the one inside the test plugin's own testing config.
from custom_components.thingbridge.const import CONF_KIND, DOMAIN, KIND_WOT_THING
from simulator.things import THING_FACTORIES, build_things
from simulator.wot import WotSimulator, make_lamp, make_sensor

REPO = Path(__file__).resolve().parent.parent
INTEGRATION = REPO / "custom_components" / DOMAIN
TRANSLATIONS: dict[str, Any] = json.loads((INTEGRATION / "translations" / "en.json").read_text())


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom integrations in every test."""


async def stop_after_unloading(request: pytest.FixtureRequest, sim: WotSimulator) -> None:
    """Unload ThingBridge's entries first (when the test has a hass), then stop ``sim``.

    The simulator shares the test's event loop with Home Assistant. Stopping it while a push
    channel is reconnecting to it can close the listening socket between asyncio's accept and
    its transport creation, which asyncio reports through the loop's exception handler (and the
    test harness turns into a failure). A real device is not stopped that way from inside Home
    Assistant's loop, so tests take the clients away first.
    """
    if "hass" in request.fixturenames:
        hass = request.getfixturevalue("hass")
        for entry in hass.config_entries.async_entries(DOMAIN):
            if entry.state is ConfigEntryState.LOADED:
                await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    await sim.stop()


@pytest.fixture
async def wot_sim(
    request: pytest.FixtureRequest, socket_enabled: None
) -> AsyncGenerator[WotSimulator]:
    """The reference Things (a lamp and a temperature sensor) on a free loopback port."""
    sim = WotSimulator([make_lamp(), make_sensor()], tick_interval=3600)
    await sim.start("127.0.0.1", 0)
    yield sim
    await stop_after_unloading(request, sim)


@pytest.fixture
async def wot_sim_all(
    request: pytest.FixtureRequest, socket_enabled: None
) -> AsyncGenerator[WotSimulator]:
    """Every reference Thing (see simulator/things.py) on a free loopback port.

    The plug and the lock use the documented default credentials; the blinds travel fully in
    0.5 s; state only changes when a test says so (huge tick interval).
    """
    sim = WotSimulator(build_things(list(THING_FACTORIES), travel_time=0.5), tick_interval=3600)
    await sim.start("127.0.0.1", 0)
    yield sim
    await stop_after_unloading(request, sim)


def thing_url(sim: WotSimulator, slug: str) -> str:
    """URL of a simulated Thing's TD (``sim.url_of(slug)`` also knows WebThings-dialect ones)."""
    return f"{sim.base_url}things/{slug}"


@pytest.fixture
def sensor_entry(wot_sim: WotSimulator) -> MockConfigEntry:
    """A config entry for the simulated temperature sensor (not yet added to hass)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Simulated Temperature Sensor",
        unique_id="urn:thingbridge:simulator:sensor",
        data={CONF_KIND: KIND_WOT_THING, "url": thing_url(wot_sim, "sensor")},
    )


def assert_translated(result: Mapping[str, Any]) -> None:
    """Fail when a flow result names a step, error or abort reason that has no English text."""
    config = TRANSLATIONS["config"]
    if result["type"] == "form":
        assert result["step_id"] in config["step"], f"step {result['step_id']} has no translation"
        for error in (result.get("errors") or {}).values():
            assert error in config["error"], f"error {error} has no translation"
    elif result["type"] == "menu":
        options = config["step"][result["step_id"]]["menu_options"]
        for option in result["menu_options"]:
            assert option in options, f"menu option {option} has no translation"
    elif result["type"] == "abort":
        assert result["reason"] in config["abort"], f"abort {result['reason']} has no translation"


class StaticServer:
    """A real HTTP server on loopback that answers each path with a body set by the test."""

    def __init__(self) -> None:
        """Create the server (not yet listening)."""
        self.routes: dict[str, tuple[int, bytes, str]] = {}
        self.requests: list[tuple[str, str, bytes]] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(self.app, access_log=None)
        self.port = 0

    def add(
        self, path: str, body: Any, status: int = 200, content_type: str = "application/json"
    ) -> str:
        """Serve ``body`` (JSON-encoded unless bytes/str) at ``path``; return its URL."""
        if isinstance(body, str):
            data = body.encode()
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
        self.routes[path] = (status, data, content_type)
        return self.url(path)

    def url(self, path: str) -> str:
        """Absolute URL of ``path``."""
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path_qs, await request.read()))
        if request.path not in self.routes:
            return web.Response(status=404, text="not found")
        status, data, content_type = self.routes[request.path]
        return web.Response(status=status, body=data, content_type=content_type)

    async def start(self) -> None:
        """Listen on a free loopback port."""
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop listening."""
        await self.runner.cleanup()


@pytest.fixture
async def http_server(socket_enabled: None) -> AsyncGenerator[StaticServer]:
    """A loopback HTTP server whose answers the test chooses."""
    server = StaticServer()
    await server.start()
    yield server
    await server.stop()
