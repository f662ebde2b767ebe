"""Third-party Web of Things peers added to Home Assistant the way a user adds them.

The peers are the ones tests/lib/wot/test_*_peer.py talk to directly (started by
tests/lib/peer_support.py): a node-wot 0.9.2 servient exposing a "Counter" Thing (HTTP,
long-poll observation) and webthing-python 0.15.0's single-thing server (a Lamp) and
multiple-things server (a Lamp and a humidity Sensor, WebSocket push).

Each test goes through the config flow's menu, checks the entities Home Assistant shows,
changes the device through Home Assistant's services and asks the peer whether it changed,
changes the device on the peer's side (stdin commands) and waits for Home Assistant to show it,
and takes the peer away and back. Nothing sleeps for a fixed time: the tests wait on the
peer's own reports (its stdout) or on Home Assistant's states.

Skips when a peer cannot run here (no node/npm, the node-wot packages or webthing missing).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
import contextlib
from datetime import timedelta
import logging
from typing import Any

from homeassistant.components.light.const import ColorMode
from homeassistant.components.number import NumberMode
from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import (
    ATTR_CONFIG_ENTRY_ID,
    CONF_URL,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from custom_components.thingbridge.const import (
    CONF_KIND,
    DOMAIN,
    KIND_WOT_DIRECTORY,
    KIND_WOT_THING,
    SCAN_INTERVAL,
)
from tests.lib.peer_support import (
    NODEWOT_SKIP_REASON,
    WEBTHING_SKIP_REASON,
    NodeWotPeer,
    PeerProcess,
    WebThingPeer,
    running_nodewot,
    running_webthing,
    stop_peer,
)

from .test_config_flow import start, submit
from .test_platforms import StateLog, call, state_of, unload_all, wait_for

COUNTER_ID = "urn:thingbridge:test:nodewot-counter"
LAMP_ID = "urn:thingbridge:test:webthing-lamp"
SECOND_LAMP_ID = "urn:thingbridge:test:webthing-lamp-2"
SENSOR_ID = "urn:thingbridge:test:webthing-sensor"


# --------------------------------------------------------------------------------------------
# helpers


class Peer[P: PeerProcess]:
    """A peer the test can stop and start again (on the ports it had)."""

    def __init__(self, launch: Callable[[P | None], contextlib.AbstractAsyncContextManager[P]]):
        """``launch(previous)`` starts the peer (where ``previous`` was, if given)."""
        self._launch = launch
        self._stack: contextlib.AsyncExitStack | None = None
        self._peer: P | None = None

    @property
    def peer(self) -> P:
        """The running peer."""
        assert self._stack is not None, "the peer is stopped"
        assert self._peer is not None
        return self._peer

    async def start(self) -> P:
        """Start it (again)."""
        assert self._stack is None
        self._stack = contextlib.AsyncExitStack()
        self._peer = await self._stack.enter_async_context(self._launch(self._peer))
        return self._peer

    async def stop(self) -> None:
        """Stop it (its process exits; every connection to it is closed)."""
        assert self._stack is not None
        assert await stop_peer(self.peer.process) == 0
        await self._stack.aclose()
        self._stack = None


@contextlib.asynccontextmanager
async def restartable[P: PeerProcess](
    hass: HomeAssistant, launch: Callable[[P | None], contextlib.AbstractAsyncContextManager[P]]
) -> AsyncIterator[Peer[P]]:
    """A started :class:`Peer`; ThingBridge's entries are unloaded before it is stopped."""
    peer = Peer(launch)
    await peer.start()
    try:
        yield peer
    finally:
        await unload_all(hass)
        if peer._stack is not None:
            await peer._stack.aclose()


@pytest.fixture
async def nodewot(hass: HomeAssistant, socket_enabled: None) -> AsyncGenerator[Peer[NodeWotPeer]]:
    """The node-wot servient (the Counter Thing) on a free 127.0.0.1 port."""
    if NODEWOT_SKIP_REASON is not None:
        pytest.skip(NODEWOT_SKIP_REASON)

    def launch(previous: NodeWotPeer | None) -> contextlib.AbstractAsyncContextManager[NodeWotPeer]:
        return running_nodewot(previous.port if previous else 0, not_ready=pytest.skip)

    async with restartable(hass, launch) as peer:
        yield peer


@pytest.fixture
async def webthing(hass: HomeAssistant, socket_enabled: None) -> AsyncGenerator[Peer[WebThingPeer]]:
    """webthing-python's single-thing and multiple-things servers on free 127.0.0.1 ports."""
    if WEBTHING_SKIP_REASON is not None:
        pytest.skip(WEBTHING_SKIP_REASON)

    def launch(
        previous: WebThingPeer | None,
    ) -> contextlib.AbstractAsyncContextManager[WebThingPeer]:
        if previous is None:
            return running_webthing()
        return running_webthing(previous.ports["single"], previous.ports["multiple"])

    async with restartable(hass, launch) as peer:
        yield peer


async def add_through_menu(hass: HomeAssistant, kind: str, url: str) -> ConfigEntry:
    """Pick ``kind`` in the user menu, enter ``url``; return the loaded entry created."""
    result = await submit(hass, await start(hass, kind), {CONF_URL: url})
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    assert result["data"] == {CONF_KIND: kind, CONF_URL: url}
    assert result["options"] == {}
    entry: ConfigEntry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    return entry


def entities_of(hass: HomeAssistant, thing: str) -> dict[str, str]:
    """The Thing's entities: mapping key (``{thing}_`` stripped from the unique ID) -> ID."""
    registry = er.async_get(hass)
    return {
        e.unique_id.removeprefix(f"{thing}_"): e.entity_id
        for e in registry.entities.values()
        if e.platform == DOMAIN and e.unique_id.startswith(f"{thing}_")
    }


def device_of(hass: HomeAssistant, entry: ConfigEntry, thing: str) -> dr.DeviceEntry:
    device = dr.async_get(hass).async_get_device_by_identifier((DOMAIN, thing), entry.entry_id)
    assert device is not None, f"no device for {thing}"
    return device


async def service(hass: HomeAssistant, name: str, **data: Any) -> Any:
    """Call a ThingBridge action; return its response (``None`` for one that has none)."""
    response = name != "write_property"
    return await hass.services.async_call(
        DOMAIN, name, data, blocking=True, return_response=response
    )


def logged(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if text in r.getMessage()]


async def poll(hass: HomeAssistant) -> None:
    """Let the next poll come (no need to wait the 30 s for real)."""
    async_fire_time_changed(hass, dt_util.utcnow() + SCAN_INTERVAL + timedelta(seconds=1))


async def skip_backoff_until(hass: HomeAssistant, check: Callable[[], bool], what: str) -> None:
    """Move Home Assistant's clock on, a minute at a time, until ``check()`` holds.

    A push channel that lost its peer retries with a backoff; the clock skips it.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15.0
    minutes = 0
    while not check():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        minutes += 1
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=minutes))
        await asyncio.sleep(0.05)


async def longpolls_waiting(peer: NodeWotPeer) -> None:
    """Wait until node-wot holds one long-poll request for count and one for changed.

    A long-poll answer ends its request, and node-wot keeps nothing for an observer or
    subscriber that is not there: a change made before the next request arrives is only seen
    at the next poll (an event not at all). Tests that expect a push wait for this first.
    """

    def waiting() -> bool:
        polls = [
            [r for r in peer.requests(suffix) if r["method"] == "GET"]
            for suffix in ("/properties/count/observable", "/events/changed")
        ]
        return (
            peer.open_requests("/properties/count/observable") == 1
            and peer.open_requests("/events/changed") == 1
            and peer.count("observe", "count") == len(polls[0])
            and peer.count("subscribe", "changed") == len(polls[1])
        )

    # A barrier first: every line the servient wrote before its reply (a long-poll answered
    # just now, whose push Home Assistant may already have shown) has been read.
    await peer.command(cmd="get", name="count")
    await peer.wait(waiting, "Home Assistant's long-poll requests for count and changed")


def event_data(hass: HomeAssistant, entity: str = "event.counter_changed") -> Any:
    """The data of the last event the event entity fired."""
    return state_of(hass, entity).attributes.get("data")


def push_connected(entry: ConfigEntry, thing: str) -> bool:
    watcher = entry.runtime_data.things[thing].watcher
    return watcher is not None and watcher.connected


# --------------------------------------------------------------------------------------------
# node-wot: the Counter


async def test_nodewot_counter_through_home_assistant(
    hass: HomeAssistant, nodewot: Peer[NodeWotPeer]
) -> None:
    peer = nodewot.peer
    entry = await add_through_menu(hass, KIND_WOT_THING, peer.td_url)
    assert entry.title == "Counter"
    assert entry.unique_id == COUNTER_ID

    device = device_of(hass, entry, COUNTER_ID)
    assert device.name == "Counter"
    assert device.configuration_url == f"http://127.0.0.1:{peer.port}"
    ids = entities_of(hass, COUNTER_ID)
    assert ids == {
        "property:brightness": "number.counter_brightness",
        "property:count": "number.counter_count",
        "property:changes": "sensor.counter_changes",
        "action:increment": "number.counter_increment",
        "action:reset": "button.counter_reset",
        "event:changed": "event.counter_changed",
    }
    assert {
        e.device_id for e in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    } == {device.id}

    brightness = state_of(hass, "number.counter_brightness")
    assert brightness.state == "50"
    assert brightness.attributes["friendly_name"] == "Counter Brightness"
    assert brightness.attributes["unit_of_measurement"] == "%"
    assert (brightness.attributes["min"], brightness.attributes["max"]) == (0, 100)
    assert brightness.attributes["step"] == 1
    assert brightness.attributes["mode"] == NumberMode.SLIDER
    count = state_of(hass, "number.counter_count")
    assert count.state == "0"
    assert (count.attributes["min"], count.attributes["mode"]) == (0, NumberMode.BOX)
    changes = state_of(hass, "sensor.counter_changes")
    assert changes.state == "0"
    assert changes.attributes["friendly_name"] == "Counter Changes"
    assert "device_class" not in changes.attributes
    increment = state_of(hass, "number.counter_increment")
    assert increment.state == STATE_UNKNOWN
    assert (increment.attributes["min"], increment.attributes["max"]) == (1, 100)
    assert increment.attributes["assumed_state"] is True
    assert state_of(hass, "button.counter_reset").state == STATE_UNKNOWN
    changed = state_of(hass, "event.counter_changed")
    assert changed.state == STATE_UNKNOWN
    assert changed.attributes["event_types"] == ["changed"]

    await wait_for(hass, lambda: push_connected(entry, COUNTER_ID), "the push channels")
    await longpolls_waiting(peer)

    # Home Assistant -> device.
    await call(hass, "number", "set_value", "number.counter_brightness", value=73)
    assert await peer.command(cmd="get", name="brightness") == 73
    assert state_of(hass, "number.counter_brightness").state == "73"
    # node-wot emits "changed" for it: the event entity fires (by long-poll).
    await wait_for(
        hass, lambda: event_data(hass) == {"property": "brightness", "value": 73}, "changed"
    )
    assert state_of(hass, "event.counter_changed").attributes["event_type"] == "changed"
    with pytest.raises(ServiceValidationError):
        await call(hass, "number", "set_value", "number.counter_brightness", value=170)
    assert await peer.command(cmd="get", name="brightness") == 73

    await longpolls_waiting(peer)
    await call(hass, "number", "set_value", "number.counter_increment", value=5)
    assert await peer.command(cmd="get", name="count") == 5
    assert state_of(hass, "number.counter_increment").state == "5"
    # The new count comes back by long-poll, and so does the event node-wot emits for it.
    await wait_for(hass, lambda: state_of(hass, "number.counter_count").state == "5", "count 5")
    await wait_for(
        hass, lambda: event_data(hass) == {"property": "count", "value": 5}, "changed: count 5"
    )

    await longpolls_waiting(peer)
    await call(hass, "button", "press", "button.counter_reset")
    assert await peer.command(cmd="get", name="count") == 0
    await wait_for(hass, lambda: state_of(hass, "number.counter_count").state == "0", "count 0")

    target = {ATTR_CONFIG_ENTRY_ID: entry.entry_id}
    assert await service(hass, "write_property", **target, property="count", value=42) is None
    assert await peer.command(cmd="get", name="count") == 42
    assert state_of(hass, "number.counter_count").state == "42"
    # brightness, increment, reset, count: four changes, read on demand.
    assert await service(hass, "read_property", **target, property="changes") == {"value": 4}
    assert state_of(hass, "sensor.counter_changes").state == "4"
    response = await service(hass, "invoke_action", **target, action="increment", input={"step": 3})
    assert response == {"status": "completed", "output": 45, "href": None, "error": None}
    assert await peer.command(cmd="get", name="count") == 45
    with pytest.raises(ServiceValidationError):
        await service(hass, "invoke_action", **target, action="increment", input={"step": 0})
    await longpolls_waiting(peer)
    response = await service(hass, "invoke_action", device_id=device.id, action="reset")
    assert response == {"status": "completed", "output": None, "href": None, "error": None}
    assert await peer.command(cmd="get", name="count") == 0
    await wait_for(hass, lambda: state_of(hass, "number.counter_count").state == "0", "count 0")

    # Device -> Home Assistant: count is pushed (long-poll) with its event ...
    await longpolls_waiting(peer)
    await peer.command(cmd="set", name="count", value=9)
    await wait_for(hass, lambda: state_of(hass, "number.counter_count").state == "9", "count 9")
    await wait_for(
        hass, lambda: event_data(hass) == {"property": "count", "value": 9}, "changed: count 9"
    )
    await longpolls_waiting(peer)
    await peer.command(cmd="event", data={"property": "brightness", "value": 1})
    await wait_for(
        hass,
        lambda: event_data(hass) == {"property": "brightness", "value": 1},
        "an event raised on the device",
    )
    # ... brightness, which node-wot cannot push, at the next poll.
    await peer.command(cmd="set", name="brightness", value=12)
    await poll(hass)
    await wait_for(
        hass, lambda: state_of(hass, "number.counter_brightness").state == "12", "brightness 12"
    )
    assert state_of(hass, "sensor.counter_changes").state == "8"

    # Unloading ends every long-poll request and node-wot drops the event subscriber.
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    await peer.wait(
        lambda: all(
            peer.open_requests(suffix) == 0
            for suffix in ("/properties/count/observable", "/events/changed")
        ),
        "the long-poll requests to end after unloading",
    )
    await peer.wait(
        lambda: peer.count("unsubscribe", "changed") == peer.count("subscribe", "changed"),
        "node-wot to drop the event subscriber",
    )
    assert state_of(hass, "number.counter_count").state == STATE_UNAVAILABLE


async def test_nodewot_counter_goes_away_and_comes_back(
    hass: HomeAssistant, nodewot: Peer[NodeWotPeer], caplog: pytest.LogCaptureFixture
) -> None:
    entry = await add_through_menu(hass, KIND_WOT_THING, nodewot.peer.td_url)
    ids = entities_of(hass, COUNTER_ID)
    await wait_for(hass, lambda: push_connected(entry, COUNTER_ID), "the push channels")
    assert all(state_of(hass, e).state != STATE_UNAVAILABLE for e in ids.values())
    caplog.set_level(logging.INFO)

    # The servient stops: the long-poll requests fail, the refresh that follows too.
    await nodewot.stop()
    await wait_for(
        hass,
        lambda: all(state_of(hass, e).state == STATE_UNAVAILABLE for e in ids.values()),
        "every entity unavailable",
    )
    for _ in range(2):  # polls that keep failing are not logged again
        await poll(hass)
        await hass.async_block_till_done()
    assert len(logged(caplog, "Counter cannot be reached")) == 1

    # It comes back on the same port, its count restarted at 0 and then set on the device.
    peer = await nodewot.start()
    await peer.command(cmd="set", name="count", value=3)
    await poll(hass)
    await wait_for(
        hass,
        lambda: all(state_of(hass, e).state != STATE_UNAVAILABLE for e in ids.values()),
        "every entity back",
    )
    assert state_of(hass, "number.counter_count").state == "3"
    assert state_of(hass, "sensor.counter_changes").state == "1"
    recovered = logged(caplog, "recovered")
    assert len(recovered) == 1
    assert recovered[0].levelno == logging.INFO

    # Push resumes once the long-poll requests are back.
    await skip_backoff_until(
        hass,
        lambda: peer.count("observe", "count") >= 1 and peer.count("subscribe", "changed") >= 1,
        "the long-poll requests after the restart",
    )
    await peer.command(cmd="set", name="count", value=11)
    await wait_for(hass, lambda: state_of(hass, "number.counter_count").state == "11", "count 11")
    assert len(logged(caplog, "cannot be reached")) == 1
    assert len(logged(caplog, "recovered")) == 1

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED


# --------------------------------------------------------------------------------------------
# webthing-python: the single-thing server's Lamp


async def test_webthing_lamp_through_home_assistant(
    hass: HomeAssistant, webthing: Peer[WebThingPeer]
) -> None:
    peer = webthing.peer
    url = peer.url("single")
    entry = await add_through_menu(hass, KIND_WOT_THING, url)
    assert entry.title == "Lamp"
    assert entry.unique_id == LAMP_ID

    device = device_of(hass, entry, LAMP_ID)
    assert device.name == "Lamp"
    assert device.model == "Light"  # the device it is, not its @type list (issue 10)
    assert device.configuration_url == url.rstrip("/")
    assert entities_of(hass, LAMP_ID) == {
        "light": "light.lamp",
        "property:temperature": "sensor.lamp_temperature",
        "action:identify": "button.lamp_identify",
        "event:overheated": "event.lamp_overheated",
        "event:faded": "event.lamp_faded",
    }
    light = state_of(hass, "light.lamp")
    assert light.state == STATE_ON
    assert light.attributes["friendly_name"] == "Lamp"
    assert light.attributes["supported_color_modes"] == [ColorMode.BRIGHTNESS]
    assert light.attributes["brightness"] == 128  # 50 %
    temperature = state_of(hass, "sensor.lamp_temperature")
    assert temperature.state == "21.5"
    assert temperature.attributes["device_class"] == SensorDeviceClass.TEMPERATURE
    assert temperature.attributes["state_class"] == SensorStateClass.MEASUREMENT
    assert temperature.attributes["unit_of_measurement"] == "°C"
    assert temperature.attributes["friendly_name"] == "Lamp Temperature"
    assert state_of(hass, "button.lamp_identify").attributes["friendly_name"] == "Lamp Identify"
    assert state_of(hass, "event.lamp_overheated").attributes["event_types"] == ["overheated"]
    assert state_of(hass, "event.lamp_faded").attributes["event_types"] == ["faded"]

    # The WebSocket is open and subscribed to both events.
    await peer.wait(
        lambda: (
            len(peer.of("subscriber", server="single", added=True)) == 1
            and {e["event"] for e in peer.of("event_subscriber", server="single")}
            == {"overheated", "faded"}
        ),
        "Home Assistant's WebSocket",
    )
    await wait_for(hass, lambda: push_connected(entry, LAMP_ID), "the push channel")

    # Home Assistant -> device.
    await call(hass, "light", "turn_off", "light.lamp")
    assert await peer.command(cmd="get", name="on") is False
    assert state_of(hass, "light.lamp").state == STATE_OFF
    await call(hass, "light", "turn_on", "light.lamp", brightness=64)
    assert await peer.command(cmd="get", name="on") is True
    assert await peer.command(cmd="get", name="brightness") == 25
    assert state_of(hass, "light.lamp").attributes["brightness"] == 64
    await call(hass, "light", "turn_off", "light.lamp")
    await call(hass, "button", "press", "button.lamp_identify")  # switches the lamp on
    assert [s["status"] for s in await peer.logged("action", name="identify")] == [
        "created",
        "pending",
        "completed",
    ]
    assert await peer.command(cmd="get", name="on") is True
    await wait_for(hass, lambda: state_of(hass, "light.lamp").state == STATE_ON, "lamp on")

    target = {ATTR_CONFIG_ENTRY_ID: entry.entry_id}
    await service(hass, "write_property", **target, property="brightness", value=73)
    assert await peer.command(cmd="get", name="brightness") == 73
    assert state_of(hass, "light.lamp").attributes["brightness"] == 186
    with pytest.raises(ServiceValidationError):
        await service(hass, "write_property", **target, property="temperature", value=30)
    with pytest.raises(ServiceValidationError):
        await service(hass, "write_property", **target, property="brightness", value=101)
    assert await peer.command(cmd="get", name="brightness") == 73
    await peer.command(cmd="set", name="temperature", value=22.75)
    assert await service(hass, "read_property", **target, property="temperature") == {
        "value": 22.75
    }
    assert state_of(hass, "sensor.lamp_temperature").state == "22.75"

    # An action with two inputs has no entity: invoke_action queues it and follows the queue.
    response = await service(
        hass, "invoke_action", **target, action="fade", input={"brightness": 20, "duration": 10}
    )
    (fade,) = [s for s in await peer.logged("action", name="fade") if s["status"] == "completed"]
    assert response == {
        "status": "completed",
        "output": None,
        "href": f"http://127.0.0.1:{peer.ports['single']}{fade['href']}",
        "error": None,
    }
    assert fade["input"] == {"brightness": 20, "duration": 10}
    assert await peer.command(cmd="get", name="brightness") == 20
    await wait_for(
        hass, lambda: state_of(hass, "light.lamp").attributes["brightness"] == 51, "20 % pushed"
    )
    await wait_for(
        hass, lambda: state_of(hass, "event.lamp_faded").attributes.get("data") == 20, "faded"
    )
    with pytest.raises(ServiceValidationError):
        await service(hass, "invoke_action", **target, action="fade", input={"brightness": 20})

    # Device -> Home Assistant, pushed over the WebSocket.
    await peer.command(cmd="set", name="temperature", value=26.5)
    await wait_for(
        hass, lambda: state_of(hass, "sensor.lamp_temperature").state == "26.5", "26.5 °C"
    )
    await peer.command(cmd="set", name="on", value=False)
    await wait_for(hass, lambda: state_of(hass, "light.lamp").state == STATE_OFF, "lamp off")
    await peer.command(cmd="event", name="overheated", data=102)
    await wait_for(
        hass,
        lambda: state_of(hass, "event.lamp_overheated").attributes.get("data") == 102,
        "the overheated event",
    )
    assert state_of(hass, "event.lamp_overheated").attributes["event_type"] == "overheated"

    # The device drops its WebSocket: the channel comes back (HTTP never went away, so the
    # entities stay available), and a change made meanwhile is not lost.
    log = StateLog(hass, "light.lamp")
    await peer.command(cmd="drop", server="single")
    await peer.command(cmd="set", name="on", value=True)
    # The first retry comes within a second (no clock skipped: that would cut requests short).
    await peer.wait(
        lambda: len(peer.of("subscriber", server="single", added=True)) == 2,
        "the WebSocket to be reopened",
    )
    await wait_for(hass, lambda: state_of(hass, "light.lamp").state == STATE_ON, "lamp on again")
    await peer.wait(
        lambda: len(peer.of("event_subscriber", server="single")) == 4,
        "the event subscriptions to be renewed",
    )
    await peer.command(cmd="event", name="overheated", data=120)
    await wait_for(
        hass,
        lambda: state_of(hass, "event.lamp_overheated").attributes.get("data") == 120,
        "the overheated event after the drop",
    )
    log.stop()
    assert STATE_UNAVAILABLE not in log.values
    assert log.values[-1] == STATE_ON

    gone = len(peer.of("subscriber", server="single", added=False))
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    await peer.wait(
        lambda: len(peer.of("subscriber", server="single", added=False)) > gone,
        "the server to drop the WebSocket subscriber after unloading",
    )


async def test_webthing_lamp_goes_away_and_comes_back(
    hass: HomeAssistant, webthing: Peer[WebThingPeer], caplog: pytest.LogCaptureFixture
) -> None:
    entry = await add_through_menu(hass, KIND_WOT_THING, webthing.peer.url("single"))
    ids = entities_of(hass, LAMP_ID)
    await wait_for(hass, lambda: push_connected(entry, LAMP_ID), "the push channel")
    assert all(state_of(hass, e).state != STATE_UNAVAILABLE for e in ids.values())
    caplog.set_level(logging.INFO)

    await webthing.stop()
    await wait_for(
        hass,
        lambda: all(state_of(hass, e).state == STATE_UNAVAILABLE for e in ids.values()),
        "every entity unavailable",
    )
    for _ in range(2):
        await poll(hass)
        await hass.async_block_till_done()
    assert len(logged(caplog, "Lamp cannot be reached")) == 1

    # Back on the same ports (its values restarted: on, 50 %, 21.5 °C), one changed since.
    peer = await webthing.start()
    await peer.command(cmd="set", name="temperature", value=18.0)
    await poll(hass)
    await wait_for(
        hass,
        lambda: all(state_of(hass, e).state != STATE_UNAVAILABLE for e in ids.values()),
        "every entity back",
    )
    assert state_of(hass, "sensor.lamp_temperature").state == "18.0"
    assert state_of(hass, "light.lamp").state == STATE_ON
    recovered = logged(caplog, "recovered")
    assert len(recovered) == 1
    assert recovered[0].levelno == logging.INFO

    await skip_backoff_until(
        hass,
        lambda: len(peer.of("subscriber", server="single", added=True)) == 1,
        "the WebSocket after the restart",
    )
    await wait_for(hass, lambda: push_connected(entry, LAMP_ID), "the push channel again")
    await peer.command(cmd="set", name="temperature", value=19.5)
    await wait_for(
        hass, lambda: state_of(hass, "sensor.lamp_temperature").state == "19.5", "19.5 pushed"
    )
    assert len(logged(caplog, "cannot be reached")) == 1
    assert len(logged(caplog, "recovered")) == 1

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED


# --------------------------------------------------------------------------------------------
# webthing-python: the multiple-things server, as a Thing and as a directory


async def test_webthing_multiple_things_through_home_assistant(
    hass: HomeAssistant, webthing: Peer[WebThingPeer]
) -> None:
    peer = webthing.peer
    # One Thing of the server, by its own URL ...
    single = await add_through_menu(hass, KIND_WOT_THING, peer.url("multiple", "/1"))
    assert (single.title, single.unique_id) == ("Humidity Sensor", SENSOR_ID)
    assert await hass.config_entries.async_remove(single.entry_id)
    await hass.async_block_till_done()

    # ... or all of them, from the server's root.
    root = peer.url("multiple")
    entry = await add_through_menu(hass, KIND_WOT_DIRECTORY, root)
    # The listing is a bare array (the server's name only goes out over mDNS): named by host.
    assert entry.title == "127.0.0.1"
    assert entry.unique_id == root
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    assert sorted(d.name or "" for d in devices) == ["Humidity Sensor", "Second Lamp"]
    assert entities_of(hass, SENSOR_ID) == {"property:level": "sensor.humidity_sensor_humidity"}
    assert set(entities_of(hass, SECOND_LAMP_ID)) == {
        "light",
        "property:temperature",
        "action:identify",
        "event:overheated",
        "event:faded",
    }
    humidity = state_of(hass, "sensor.humidity_sensor_humidity")
    assert humidity.state == "40.0"
    assert humidity.attributes["device_class"] == SensorDeviceClass.HUMIDITY
    assert humidity.attributes["unit_of_measurement"] == "%"
    assert state_of(hass, "light.second_lamp").attributes["brightness"] == 128

    await peer.wait(
        lambda: (
            {s["thing"] for s in peer.of("subscriber", server="multiple", added=True)} == {0, 1}
        ),
        "a WebSocket to each Thing",
    )
    for thing in (SENSOR_ID, SECOND_LAMP_ID):
        await wait_for(hass, lambda thing=thing: push_connected(entry, thing), "push channels")

    # The entry holds two Things: its actions need the device.
    with pytest.raises(ServiceValidationError):
        await service(hass, "read_property", config_entry_id=entry.entry_id, property="level")
    sensor = device_of(hass, entry, SENSOR_ID)
    lamp = device_of(hass, entry, SECOND_LAMP_ID)
    assert await service(hass, "read_property", device_id=sensor.id, property="level") == {
        "value": 40.0
    }
    await service(hass, "write_property", device_id=lamp.id, property="brightness", value=12)
    assert await peer.command(cmd="get", server="multiple", thing=0, name="brightness") == 12
    await call(hass, "light", "turn_off", "light.second_lamp")
    assert await peer.command(cmd="get", server="multiple", thing=0, name="on") is False
    puts = await peer.logged("request", server="multiple", method="PUT")
    assert [r["path"] for r in puts] == ["/0/properties/brightness", "/0/properties/on"]

    # Each Thing's own WebSocket carries its changes.
    await peer.command(cmd="set", server="multiple", thing=1, name="level", value=55.5)
    await peer.command(cmd="event", server="multiple", thing=0, name="overheated", data=99.5)
    await wait_for(
        hass,
        lambda: state_of(hass, "sensor.humidity_sensor_humidity").state == "55.5",
        "humidity 55.5",
    )
    await wait_for(
        hass,
        lambda: state_of(hass, "event.second_lamp_overheated").attributes.get("data") == 99.5,
        "the second lamp's overheated event",
    )
    assert state_of(hass, "light.second_lamp").state == STATE_OFF

    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    await peer.wait(
        lambda: (
            len(peer.of("subscriber", server="multiple", added=False))
            == len(peer.of("subscriber", server="multiple", added=True))
        ),
        "the server to drop both WebSocket subscribers",
    )
