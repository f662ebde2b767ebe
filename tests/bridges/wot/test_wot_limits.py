"""Hostile Things against a real Home Assistant: push floods and oversized directories.

Each test reproduces an attack found on loopback (a Thing or directory served by a real
aiohttp server on 127.0.0.1) and checks the limit that now bounds it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from aiohttp import web
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import CONF_URL, EVENT_STATE_CHANGED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.thingbridge.bridges.wot import runtime as wot_runtime
from custom_components.thingbridge.bridges.wot.coordinator import (
    EVENT_BURST,
    EVENTS_PER_SECOND,
    PUSH_UPDATES_PER_SECOND,
)
from custom_components.thingbridge.const import (
    CONF_KIND,
    DIRECTORY_SCAN_INTERVAL,
    DOMAIN,
    EVENT_THING_EVENT,
    KIND_WOT_DIRECTORY,
    KIND_WOT_THING,
)
from tests.conftest import TRANSLATIONS, StaticServer

from .test_init import wait_for

VALUES = 3000
EVENTS = 200
FLOOD_TD: dict[str, Any] = {
    "title": "Flood",
    "id": "urn:test:flood",
    "properties": {
        "level": {
            "type": "integer",
            "readOnly": True,
            "observable": True,
            "forms": [
                {"href": "/level"},
                {"href": "/level/sse", "op": "observeproperty", "subprotocol": "sse"},
            ],
        }
    },
    "events": {
        "tick": {
            "data": {"type": "integer"},
            "forms": [{"href": "/tick/sse", "subprotocol": "sse"}],
        }
    },
}


class FloodThing:
    """A Thing that, once told to, pushes VALUES values and EVENTS events as fast as it can."""

    def __init__(self) -> None:
        self.go = asyncio.Event()
        self.streams: set[str] = set()
        self.sent: set[str] = set()
        app = web.Application()
        app.router.add_get("/td", self._td)
        app.router.add_get("/level", self._level)
        app.router.add_get("/level/sse", self._values)
        app.router.add_get("/tick/sse", self._events)
        self.runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        self.port = 0

    async def _td(self, request: web.Request) -> web.Response:
        return web.json_response(FLOOD_TD)

    async def _level(self, request: web.Request) -> web.Response:
        return web.json_response(-1)

    async def _stream(self, request: web.Request, chunks: list[bytes]) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        self.streams.add(request.path)
        await self.go.wait()
        for chunk in chunks:
            await response.write(chunk)
            await asyncio.sleep(0.001)  # separate reads on the other side, over some time
        self.sent.add(request.path)
        await asyncio.Event().wait()  # keep the stream open, as a Thing does
        return response

    async def _values(self, request: web.Request) -> web.StreamResponse:
        tens = [range(start, start + 10) for start in range(0, VALUES, 10)]
        chunks = [b"".join(b"data: %d\n\n" % value for value in ten) for ten in tens]
        return await self._stream(request, chunks)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        chunks = [b"event: tick\ndata: %d\n\n" % i for i in range(EVENTS)]
        return await self._stream(request, chunks)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def flood_thing(socket_enabled: None) -> AsyncGenerator[FloodThing]:
    thing = FloodThing()
    await thing.runner.setup()
    await web.TCPSite(thing.runner, "127.0.0.1", 0).start()
    thing.port = thing.runner.addresses[0][1]
    yield thing
    await thing.runner.cleanup()


async def test_push_flood_is_coalesced_and_rate_limited(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, flood_thing: FloodThing
) -> None:
    """The attack: 20,400 pushed values in 10 s made 20,902 state_changed events.

    Now the values reach the state at most PUSH_UPDATES_PER_SECOND times a second (the
    last one always), events beyond the Thing's budget are dropped, and the diagnostics
    count both.
    """
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Flood",
        unique_id="urn:test:flood",
        data={CONF_KIND: KIND_WOT_THING, CONF_URL: flood_thing.url("/td")},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, "urn:test:flood_property:level"
    )
    assert entity_id is not None
    assert hass.states.get(entity_id).state == "-1"
    await wait_for(hass, lambda: len(flood_thing.streams) == 2, "both SSE streams")

    states: list[str] = []
    fired: list[Any] = []

    # Callbacks run in the event loop, in order; a plain function would run in the executor,
    # where the last state can still be on its way when the check below sees it in the state
    # machine.
    @callback
    def on_state(event: Event[Any]) -> None:
        if event.data["entity_id"] == entity_id:
            states.append(event.data["new_state"].state)

    @callback
    def on_event(event: Event[Any]) -> None:
        fired.append(event.data["data"])

    hass.bus.async_listen(EVENT_STATE_CHANGED, on_state)
    hass.bus.async_listen(EVENT_THING_EVENT, on_event)
    coordinator = entry.runtime_data.things["urn:test:flood"]
    loop = asyncio.get_running_loop()
    started = loop.time()
    flood_thing.go.set()
    await wait_for(
        hass,
        lambda: (
            hass.states.get(entity_id).state == str(VALUES - 1)
            and coordinator.push_stats.events == EVENTS
        ),
        "the last pushed value and every event",
    )
    elapsed = loop.time() - started

    # Bounded by the rate, whatever the speed of the machine (a slower one is allowed more).
    assert len(states) <= PUSH_UPDATES_PER_SECOND * elapsed + 2
    assert states[-1] == str(VALUES - 1)
    assert states == sorted(states, key=int)  # newest value wins, never an older one
    assert len(fired) <= EVENT_BURST + EVENTS_PER_SECOND * elapsed + 1
    assert fired == sorted(fired)

    diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
    push = diag["things"][0]["push"]
    assert push["values_received"] == VALUES
    assert push["state_updates"] == len(states)
    assert push["values_coalesced"] == VALUES - len(states)
    assert push["events_received"] == EVENTS
    assert push["events_dropped"] == EVENTS - len(fired)
    assert push["limits"]["state_updates_per_second"] == PUSH_UPDATES_PER_SECOND

    # Two values in a row: the second waits for its turn, and unloading cancels that wait.
    coordinator._on_property("level", VALUES)
    coordinator._on_property("level", VALUES + 1)
    assert coordinator._flush_timer is not None
    await hass.config_entries.async_unload(entry.entry_id)
    assert coordinator._flush_timer is None
    assert str(VALUES + 1) not in states


def _listed(count: int) -> list[dict[str, Any]]:
    return [
        {
            "title": f"t{i}",
            "id": f"urn:test:t{i}",
            "properties": {"t": {"type": "number", "readOnly": True, "forms": [{"href": "/t"}]}},
        }
        for i in range(count)
    ]


async def test_directory_over_the_cap_raises_a_repair_issue(
    hass: HomeAssistant,
    http_server: StaticServer,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The attack: a directory listing 2,000 Things got 1,000 set up, and nobody was told.

    The cap is the entry's option (set low to keep the test small; the library's default is
    tested in tests/lib/wot/test_wot_discovery.py); the directory is a real loopback server.
    """
    http_server.add("/t", 20)
    http_server.add("/things", _listed(5))
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Big directory",
        unique_id="dir",
        data={CONF_KIND: KIND_WOT_DIRECTORY, CONF_URL: http_server.url("/things")},
        options={wot_runtime.CONF_MAX_THINGS: 3},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert len(entry.runtime_data.things) == 3
    issues = ir.async_get(hass)
    issue = issues.async_get_issue(DOMAIN, f"directory_truncated_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_key == "directory_truncated"
    assert issue.translation_placeholders == {
        "title": "Big directory",
        "url": http_server.url("/things"),
        "max_things": "3",
        "left_out": "2",
    }
    text = TRANSLATIONS["issues"]["directory_truncated"]["description"]
    assert "(3). 2 of them were left out" in text.format(**issue.translation_placeholders)

    async def rescan() -> None:
        freezer.tick(DIRECTORY_SCAN_INTERVAL)
        async_fire_time_changed(hass)
        await hass.async_block_till_done(wait_background_tasks=True)

    http_server.add("/things", _listed(7))
    await rescan()
    issue = issues.async_get_issue(DOMAIN, f"directory_truncated_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_placeholders["left_out"] == "4"
    # Back within the cap: the issue goes.
    http_server.add("/things", _listed(3))
    await rescan()
    assert issues.async_get_issue(DOMAIN, f"directory_truncated_{entry.entry_id}") is None
    # Over it again, then unloaded: the issue goes with the entry.
    http_server.add("/things", _listed(4))
    await rescan()
    assert issues.async_get_issue(DOMAIN, f"directory_truncated_{entry.entry_id}") is not None
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert issues.async_get_issue(DOMAIN, f"directory_truncated_{entry.entry_id}") is None
