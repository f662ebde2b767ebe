"""ThingBridge's WoT client against a real third-party WebThings server: webthing-python.

The peer (``tests/peers/webthing/server.py``, the ``webthing`` package pinned in
requirements_test.txt) runs as a subprocess on 127.0.0.1 with two of the library's own servers:
a single-thing server (a Lamp at ``/``) and a multiple-things server (a Lamp at ``/0`` and a
humidity Sensor at ``/1``, the listing at ``/``). They speak the legacy Web Thing API: links
instead of forms, ``{"name": value}`` bodies, an action queue, and the ``webthing`` WebSocket.
The server's DNS-rebinding Host check stays on.

Its stdout carries JSON lines (requests, WebSocket subscribers, action status changes, replies
to commands); its stdin takes commands that change values or raise events on the device side.
The tests wait on those lines instead of sleeping.

The peer is started by tests/lib/peer_support.py (shared with tests/bridges/wot/test_peers_in_ha.py). Skips
when ``webthing`` is not installed or the peer cannot start.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import aiohttp
import pytest
from yarl import URL

from custom_components.thingbridge.wot import (
    WotClient,
    WotError,
    WotValidationError,
    fetch_json,
    fetch_thing_description,
)
from custom_components.thingbridge.wot.discovery import (
    WEBTHING_SERVICE,
    explore,
    service_from_zeroconf,
)
from custom_components.thingbridge.wot.watch import WEBTHING_SUBPROTOCOL
from tests.lib.peer_support import (
    WEBTHING_SKIP_REASON,
    Recorder,
    WebThingPeer,
    running_webthing,
    stop_peer,
)

SKIP_REASON = WEBTHING_SKIP_REASON
pytestmark = pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")


@pytest.fixture
async def webthing(socket_enabled: None) -> AsyncGenerator[WebThingPeer]:
    """webthing-python's single-thing and multiple-things servers on free 127.0.0.1 ports."""
    async with running_webthing() as peer:
        yield peer


@pytest.fixture
async def session() -> AsyncGenerator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


# --------------------------------------------------------------------------------------------
# descriptions and discovery


async def test_webthing_single_thing_description(
    webthing: WebThingPeer, session: aiohttp.ClientSession
) -> None:
    port = webthing.ports["single"]
    td = await fetch_thing_description(session, webthing.url("single"))

    assert td.title == "Lamp"
    assert td.id == "urn:thingbridge:test:webthing-lamp"
    assert td.description == "A dimmable lamp"
    assert td.dialect == "webthings"
    assert td.semantic_types == ("OnOffSwitch", "Light")
    assert td.schemes == ("nosec",)
    assert not td.requires_credentials
    assert td.skipped == ()
    assert td.base == URL(f"http://127.0.0.1:{port}/")
    assert td.websocket == URL(f"ws://127.0.0.1:{port}/")
    assert set(td.properties) == {"on", "brightness", "temperature"}
    assert set(td.actions) == {"fade", "identify"}
    assert set(td.events) == {"overheated", "faded"}

    on = td.properties["on"]
    assert on.schema.type == "boolean"
    assert on.semantic_types == ("OnOffProperty",)
    assert on.title == "On/Off"
    assert on.readable
    assert on.writable

    brightness = td.properties["brightness"]
    assert brightness.schema.type == "integer"
    assert (brightness.schema.minimum, brightness.schema.maximum) == (0, 100)
    assert brightness.schema.unit == "percent"
    assert brightness.semantic_types == ("BrightnessProperty",)
    read = brightness.form_for("readproperty")
    write = brightness.form_for("writeproperty")
    assert read is not None
    assert write is not None
    assert (read.method, write.method) == ("GET", "PUT")
    assert read.target() == URL(f"http://127.0.0.1:{port}/properties/brightness")

    temperature = td.properties["temperature"]
    assert temperature.schema.type == "number"
    assert temperature.schema.read_only
    assert temperature.schema.unit == "degree celsius"
    assert temperature.readable
    assert not temperature.writable

    fade = td.actions["fade"]
    assert fade.input is not None
    assert fade.input.type == "object"
    assert set(fade.input.required) == {"brightness", "duration"}
    assert fade.input.properties["brightness"].maximum == 100
    assert fade.input.properties["duration"].minimum == 1
    invoke = fade.form_for("invokeaction")
    assert invoke is not None
    assert invoke.method == "POST"
    assert invoke.target() == URL(f"http://127.0.0.1:{port}/actions/fade")

    overheated = td.events["overheated"]
    # WebThings events carry their data schema at the top level.
    assert overheated.data is not None
    assert overheated.data.type == "number"
    assert overheated.data.unit == "degree celsius"

    # The server saw the Host it accepts (it answers 403 to any other).
    (request,) = await webthing.logged("request", server="single", path="/")
    assert (request["method"], request["status"]) == ("GET", 200)
    assert request["host"] == f"127.0.0.1:{port}"


async def test_webthing_multiple_things_listing_and_discovery(
    webthing: WebThingPeer, session: aiohttp.ClientSession
) -> None:
    port = webthing.ports["multiple"]
    # What webthing-python advertises over mDNS (WebThingServer.start): _webthing._tcp with
    # TXT path=/; here handed to the resolver directly instead of over multicast.
    service = service_from_zeroconf(
        WEBTHING_SERVICE,
        f"ThingBridge test.{WEBTHING_SERVICE}",
        "127.0.0.1",
        port,
        {"path": "/"},
    )
    assert service.kind == "webthing"
    assert service.name == "ThingBridge test"
    assert service.url == f"http://127.0.0.1:{port}/"

    result = await explore(session, service.url)
    assert result.rejected == []
    assert [td.title for td in result.things] == ["Second Lamp", "Humidity Sensor"]
    lamp, sensor = result.things
    assert lamp.id == "urn:thingbridge:test:webthing-lamp-2"
    assert sensor.id == "urn:thingbridge:test:webthing-sensor"
    for index, td in enumerate(result.things):
        assert td.dialect == "webthings"
        assert td.schemes == ("nosec",)
        assert td.source_url == URL(f"http://127.0.0.1:{port}/{index}")
        assert td.websocket == URL(f"ws://127.0.0.1:{port}/{index}")
    assert set(lamp.properties) == {"on", "brightness", "temperature"}
    assert set(sensor.properties) == {"level"}
    level = sensor.properties["level"]
    assert level.schema.read_only
    assert level.schema.unit == "percent"
    read = level.form_for("readproperty")
    assert read is not None
    assert read.target() == URL(f"http://127.0.0.1:{port}/1/properties/level")

    # The listing's entries are the same descriptions each Thing serves at its own path.
    direct = await fetch_thing_description(session, webthing.url("multiple", "/1"))
    assert direct.title == "Humidity Sensor"
    assert direct.websocket == sensor.websocket
    assert set(direct.properties) == set(sensor.properties)

    # A single-thing server's root is one description, not a listing.
    single = await explore(session, webthing.url("single"))
    assert single.rejected == []
    assert [td.title for td in single.things] == ["Lamp"]
    assert single.title == "Lamp"

    # An index past the end is a 404 from the server, a WotError here.
    with pytest.raises(WotError):
        await fetch_thing_description(session, webthing.url("multiple", "/2"))


# --------------------------------------------------------------------------------------------
# properties


async def test_webthing_read_write(webthing: WebThingPeer, session: aiohttp.ClientSession) -> None:
    td = await fetch_thing_description(session, webthing.url("single"))
    client = WotClient(session, td)

    assert await client.read_property("on") is True
    assert await client.read_property("brightness") == 50
    assert await client.read_property("temperature") == 21.5
    assert await client.read_all_properties() == {"on": True, "brightness": 50, "temperature": 21.5}
    # readallproperties went to the Thing's "properties" link, in one request.
    assert [
        r["method"] for r in await webthing.logged("request", server="single", path="/properties")
    ] == ["GET"]

    await client.write_property("on", False)
    await client.write_property("brightness", 73)
    assert await webthing.command(cmd="get", server="single", name="on") is False
    assert await webthing.command(cmd="get", server="single", name="brightness") == 73
    assert await client.read_property("on") is False
    assert await client.read_property("brightness") == 73
    puts = await webthing.logged("request", server="single", method="PUT")
    assert [(r["path"], r["status"]) for r in puts] == [
        ("/properties/on", 200),
        ("/properties/brightness", 200),
    ]

    # The schema (maximum 100) refuses out of range before anything is sent.
    with pytest.raises(WotValidationError):
        await client.write_property("brightness", 170)
    with pytest.raises(WotError):
        await client.write_property("temperature", 30.0)
    assert len(await webthing.logged("request", server="single", method="PUT")) == 2
    assert await webthing.command(cmd="get", server="single", name="temperature") == 21.5

    # A value changed on the device side is what the next read returns.
    await webthing.command(cmd="set", server="single", name="temperature", value=24.25)
    assert await client.read_property("temperature") == 24.25

    # The multiple-things server: each Thing's requests go under its own index.
    result = await explore(session, webthing.url("multiple"))
    lamp, sensor = result.things
    assert await WotClient(session, sensor).read_all_properties() == {"level": 40.0}
    lamp_client = WotClient(session, lamp)
    await lamp_client.write_property("brightness", 12)
    assert await webthing.command(cmd="get", server="multiple", thing=0, name="brightness") == 12
    assert await lamp_client.read_property("brightness") == 12
    assert [
        r["path"] for r in await webthing.logged("request", server="multiple", method="PUT")
    ] == ["/0/properties/brightness"]


# --------------------------------------------------------------------------------------------
# actions


async def test_webthing_action_queue(
    webthing: WebThingPeer, session: aiohttp.ClientSession
) -> None:
    port = webthing.ports["single"]
    td = await fetch_thing_description(session, webthing.url("single"))
    client = WotClient(session, td, action_poll_interval=0.05)

    result = await client.invoke_action("fade", {"brightness": 20, "duration": 50})
    assert result.status == "completed"
    assert result.error is None
    assert result.href is not None
    assert result.href.host == "127.0.0.1"
    assert result.href.port == port
    assert result.href.path.startswith("/actions/fade/")
    action_id = result.href.name

    # The request went into the action queue and ran there: created, pending, completed.
    states = await webthing.logged("action", server="single", name="fade")
    assert [s["status"] for s in states] == ["created", "pending", "completed"]
    assert {s["href"] for s in states} == {f"/actions/fade/{action_id}"}
    assert states[0]["input"] == {"brightness": 20, "duration": 50}
    (post,) = await webthing.logged("request", server="single", method="POST")
    assert (post["path"], post["status"]) == ("/actions/fade", 201)
    # The client followed the queue entry until it was completed.
    polls = await webthing.logged("request", server="single", path=f"/actions/fade/{action_id}")
    assert polls
    assert {(r["method"], r["status"]) for r in polls} == {("GET", 200)}

    entry = await fetch_json(session, result.href)
    assert entry["fade"]["status"] == "completed"
    assert entry["fade"]["input"] == {"brightness": 20, "duration": 50}
    assert "timeCompleted" in entry["fade"]
    queue = await fetch_json(session, webthing.url("single", "/actions/fade"))
    assert [item["fade"]["href"] for item in queue] == [f"/actions/fade/{action_id}"]

    assert await client.read_property("brightness") == 20

    # An action without input: the request is {"identify": {}}, and it runs in the queue too.
    await client.write_property("on", False)
    identify = await client.invoke_action("identify")
    assert (identify.status, identify.output, identify.error) == ("completed", None, None)
    assert identify.href is not None
    assert identify.href.path.startswith("/actions/identify/")
    assert [s["status"] for s in await webthing.logged("action", name="identify")] == [
        "created",
        "pending",
        "completed",
    ]
    assert await webthing.command(cmd="get", server="single", name="on") is True

    # Input the action's schema refuses is not sent.
    with pytest.raises(WotValidationError):
        await client.invoke_action("fade", {"brightness": 20})
    with pytest.raises(WotValidationError):
        await client.invoke_action("fade", {"brightness": 101, "duration": 10})
    assert len(await webthing.logged("request", server="single", method="POST")) == 2

    # Not finished within the action timeout: webthing's "created" is reported as "pending",
    # with the queue entry to look at later.
    hasty = WotClient(session, td, action_timeout=0.0)
    queued = await hasty.invoke_action("fade", {"brightness": 33, "duration": 200})
    assert queued.status == "pending"
    assert queued.href is not None
    assert queued.href.path.startswith("/actions/fade/")
    await webthing.wait(
        lambda: any(
            s["status"] == "completed" and s["href"] == queued.href.path
            for s in webthing.of("action", name="fade")
        ),
        "the queued fade to complete",
    )
    assert (await fetch_json(session, queued.href))["fade"]["status"] == "completed"

    # On the multiple-things server the queue lives under the Thing's index.
    lamp, _ = (await explore(session, webthing.url("multiple"))).things
    second = await WotClient(session, lamp, action_poll_interval=0.05).invoke_action(
        "fade", {"brightness": 90, "duration": 1}
    )
    assert second.status == "completed"
    assert second.href is not None
    assert second.href.path.startswith("/0/actions/fade/")
    assert await webthing.command(cmd="get", server="multiple", thing=0, name="brightness") == 90


# --------------------------------------------------------------------------------------------
# push: the webthing WebSocket


async def test_webthing_watch_websocket(
    webthing: WebThingPeer, session: aiohttp.ClientSession
) -> None:
    td = await fetch_thing_description(session, webthing.url("single"))
    client = WotClient(session, td)
    seen = Recorder()
    watcher = client.watch(seen.on_property, seen.on_event, seen.on_connection)
    assert len(watcher.channels) == 1
    assert watcher.channels[0].startswith(f"websocket {WEBTHING_SUBPROTOCOL}:")
    assert watcher.observed_properties == {"on", "brightness", "temperature"}
    await watcher.start()
    try:
        await webthing.wait(
            lambda: (
                len(webthing.of("subscriber", server="single", added=True)) == 1
                and {e["event"] for e in webthing.of("event_subscriber", server="single")}
                == {"overheated", "faded"}
            ),
            "the watcher's WebSocket and its event subscriptions",
        )
        await seen.wait(lambda: seen.connection == [True], "the connection report")
        assert watcher.connected
        # The Web Thing API pushes nothing on connect: the watcher reads the values once.
        await seen.wait(lambda: len(seen.properties) == 3, "the values read after connecting")
        assert sorted(seen.properties) == [("brightness", 50), ("on", True), ("temperature", 21.5)]
        assert [r["method"] for r in await webthing.logged("request", path="/properties")] == [
            "GET"
        ]
        seen.properties.clear()

        # A change made on the device side, not through the client, arrives pushed.
        await webthing.command(cmd="set", server="single", name="temperature", value=26.5)
        await seen.wait(lambda: ("temperature", 26.5) in seen.properties, "temperature = 26.5")
        await webthing.command(cmd="set", server="single", name="on", value=False)
        await seen.wait(lambda: ("on", False) in seen.properties, "on = false")

        # An event raised on the device.
        await webthing.command(cmd="event", server="single", name="overheated", data=102)
        await seen.wait(lambda: ("overheated", 102) in seen.events, "the overheated event")

        # A write through HTTP is pushed back too, and so is what an action does.
        await client.write_property("brightness", 64)
        await seen.wait(lambda: ("brightness", 64) in seen.properties, "brightness = 64")
        await client.invoke_action("fade", {"brightness": 5, "duration": 1})
        await seen.wait(lambda: ("brightness", 5) in seen.properties, "brightness = 5 (fade)")
        await seen.wait(lambda: ("faded", 5) in seen.events, "the faded event")

        assert seen.properties == [
            ("temperature", 26.5),
            ("on", False),
            ("brightness", 64),
            ("brightness", 5),
        ]
        assert seen.events == [("overheated", 102), ("faded", 5)]
        assert seen.connection == [True]
    finally:
        await watcher.stop()

    assert not watcher.connected
    await webthing.wait(
        lambda: len(webthing.of("subscriber", server="single", added=False)) == 1,
        "the server to drop the WebSocket subscriber after stop()",
    )


async def test_webthing_watch_multiple_things(
    webthing: WebThingPeer, session: aiohttp.ClientSession
) -> None:
    lamp_td, sensor_td = (await explore(session, webthing.url("multiple"))).things
    lamp_seen, sensor_seen = Recorder(), Recorder()
    lamp = WotClient(session, lamp_td).watch(
        lamp_seen.on_property, lamp_seen.on_event, lamp_seen.on_connection
    )
    sensor = WotClient(session, sensor_td).watch(
        sensor_seen.on_property, sensor_seen.on_event, sensor_seen.on_connection
    )
    await lamp.start()
    await sensor.start()
    try:
        await webthing.wait(
            lambda: (
                {s["thing"] for s in webthing.of("subscriber", server="multiple", added=True)}
                == {0, 1}
                and len(webthing.of("event_subscriber", server="multiple", thing=0)) == 2
            ),
            "both watchers' WebSockets",
        )
        await sensor_seen.wait(lambda: sensor_seen.properties == [("level", 40.0)], "level read")
        await lamp_seen.wait(lambda: len(lamp_seen.properties) == 3, "the lamp's values read")
        sensor_seen.properties.clear()
        lamp_seen.properties.clear()
        await webthing.command(cmd="set", server="multiple", thing=0, name="brightness", value=8)
        await webthing.command(cmd="set", server="multiple", thing=1, name="level", value=55.5)
        await webthing.command(
            cmd="event", server="multiple", thing=0, name="overheated", data=99.5
        )
        await sensor_seen.wait(lambda: ("level", 55.5) in sensor_seen.properties, "level = 55.5")
        await lamp_seen.wait(lambda: ("brightness", 8) in lamp_seen.properties, "brightness = 8")
        await lamp_seen.wait(lambda: ("overheated", 99.5) in lamp_seen.events, "overheated")
        # Each Thing's WebSocket carries that Thing's changes only.
        assert sensor_seen.properties == [("level", 55.5)]
        assert sensor_seen.events == []
        assert lamp_seen.properties == [("brightness", 8)]
    finally:
        await lamp.stop()
        await sensor.stop()


# --------------------------------------------------------------------------------------------
# the peer itself


@pytest.mark.usefixtures("socket_enabled")
async def test_webthing_peer_stops_when_stdin_closes() -> None:
    async with running_webthing() as peer:
        assert set(peer.ports) == {"single", "multiple"}
        assert await stop_peer(peer.process) == 0


async def test_webthing_watch_quiet_and_dropped(
    webthing: WebThingPeer, session: aiohttp.ClientSession
) -> None:
    td = await fetch_thing_description(session, webthing.url("single"))
    client = WotClient(session, td)
    seen = Recorder()
    watcher = client.watch(
        seen.on_property, seen.on_event, seen.on_connection, idle_timeout=0.5, min_backoff=0.5
    )
    await watcher.start()
    try:
        await webthing.wait(
            lambda: len(webthing.of("event_subscriber", server="single")) == 2,
            "the watcher's WebSocket",
        )
        # A quiet Thing is not a dead one: the WebSocket's pings prove it is there.
        await asyncio.sleep(2.0)
        assert len(webthing.of("subscriber", server="single", added=True)) == 1
        assert seen.connection == [True]

        # The device drops the socket; a change made before the watcher is back is not lost.
        await webthing.command(cmd="drop", server="single")
        await webthing.command(cmd="set", server="single", name="temperature", value=30.0)
        await seen.wait(lambda: seen.connection == [True, False, True], "down, then up again")
        await seen.wait(lambda: ("temperature", 30.0) in seen.properties, "temperature = 30")
        await webthing.wait(
            lambda: len(webthing.of("event_subscriber", server="single")) == 4,
            "the event subscriptions to be renewed",
        )
        await webthing.command(cmd="event", server="single", name="overheated", data=120)
        await seen.wait(lambda: ("overheated", 120) in seen.events, "overheated after reconnect")
    finally:
        await watcher.stop()
