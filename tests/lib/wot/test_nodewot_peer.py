"""ThingBridge's WoT client against a real third-party server: a node-wot servient.

The servient (``tests/peers/nodewot/servient.mjs``, node-wot's ``@node-wot/core`` and
``@node-wot/binding-http`` installed by ``scripts/setup``) runs as a subprocess on 127.0.0.1 and
exposes a "Counter" Thing. Its stdout carries JSON lines: a ready line with the TD URL, a line per
HTTP request it receives, and a line each time node-wot registers or drops a long-poll observer
or event subscriber. The tests wait on those lines instead of sleeping.

The peer is started by tests/lib/peer_support.py (shared with tests/bridges/wot/test_peers_in_ha.py). Skips
when node/npm are not installed or the peer's packages were not installed.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import aiohttp
import pytest
from yarl import URL

from custom_components.thingbridge.wot import (
    WotClient,
    WotError,
    fetch_thing_description,
)
from tests.lib.peer_support import (
    NODEWOT_SKIP_REASON,
    NodeWotPeer,
    Recorder,
    running_nodewot,
    stop_peer,
)

SKIP_REASON = NODEWOT_SKIP_REASON
pytestmark = pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")


@pytest.fixture
async def nodewot(socket_enabled: None) -> AsyncGenerator[NodeWotPeer]:
    """A node-wot servient exposing the Counter Thing on a free 127.0.0.1 port."""
    async with running_nodewot() as peer:
        yield peer


@pytest.fixture
async def session() -> AsyncGenerator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


# --------------------------------------------------------------------------------------------
# the Thing Description


async def test_nodewot_td_parses(nodewot: NodeWotPeer, session: aiohttp.ClientSession) -> None:
    td = await fetch_thing_description(session, nodewot.td_url)

    assert td.title == "Counter"
    assert td.id == "urn:thingbridge:test:nodewot-counter"
    assert td.dialect == "td"
    assert td.schemes == ("nosec",)
    assert not td.requires_credentials
    assert td.skipped == ()
    assert set(td.properties) == {"brightness", "count", "changes"}
    assert set(td.actions) == {"increment", "reset"}
    assert set(td.events) == {"changed"}

    brightness = td.properties["brightness"]
    assert brightness.schema.type == "integer"
    assert (brightness.schema.minimum, brightness.schema.maximum) == (0, 100)
    assert brightness.schema.unit == "percent"
    assert brightness.readable
    assert brightness.writable
    assert brightness.observable_form is None

    count = td.properties["count"]
    assert count.observable
    observe = count.observable_form
    assert observe is not None
    assert observe.subprotocol == "longpoll"
    assert observe.target().path.endswith("/properties/count/observable")

    changes = td.properties["changes"]
    assert changes.schema.read_only
    assert changes.readable
    assert not changes.writable

    # node-wot splits nothing itself: multi-op forms get the TD 1.1 default methods.
    write = brightness.form_for("writeproperty")
    assert write is not None
    assert write.method == "PUT"
    assert write.content_type == "application/json"
    read = changes.form_for("readproperty")
    assert read is not None
    assert read.method == "GET"

    increment = td.actions["increment"]
    assert increment.input is not None
    assert increment.input.type == "object"
    assert increment.input.required == ("step",)
    assert increment.input.properties["step"].maximum == 100
    assert increment.output is not None
    assert increment.output.type == "integer"
    invoke = increment.form_for("invokeaction")
    assert invoke is not None
    assert invoke.method == "POST"
    reset = td.actions["reset"]
    assert reset.input is None
    assert reset.output is None

    changed = td.events["changed"]
    assert changed.data is not None
    assert set(changed.data.properties) == {"property", "value"}
    subscribe = changed.form_for("subscribeevent")
    assert subscribe is not None
    assert subscribe.subprotocol == "longpoll"

    # Every form of every affordance points at the servient on loopback, nowhere else.
    forms = [
        *td.forms,
        *(f for group in (td.properties, td.actions, td.events) for a in group.values() for f in a.forms),
    ]  # fmt: skip
    assert forms
    assert {(f.target().host, f.target().port) for f in forms} == {("127.0.0.1", nodewot.port)}
    # node-wot offers CBOR forms next to the JSON ones; the first form for each op is JSON.
    assert {f.content_type for f in forms} == {"application/json", "application/cbor"}
    for affordance in (brightness, count, changes, increment, reset, changed):
        for form in affordance.forms:
            first = affordance.form_for(form.op)
            assert first is not None
            assert first.content_type == "application/json", (affordance.name, form.op)


# --------------------------------------------------------------------------------------------
# properties and actions


async def test_nodewot_read_write_invoke(
    nodewot: NodeWotPeer, session: aiohttp.ClientSession
) -> None:
    td = await fetch_thing_description(session, nodewot.td_url)
    client = WotClient(session, td)

    assert await client.read_property("brightness") == 50
    assert await client.read_property("count") == 0
    assert await client.read_all_properties() == {"brightness": 50, "count": 0, "changes": 0}

    await client.write_property("brightness", 73)
    assert await client.read_property("brightness") == 73
    writes = [r for r in nodewot.requests("/properties/brightness") if r["method"] == "PUT"]
    assert len(writes) == 1
    assert writes[0]["contentType"].startswith("application/json")

    # Out of range: refused, whether by the client's schema check or by node-wot (HTTP 500).
    with pytest.raises(WotError):
        await client.write_property("brightness", 170)
    assert await client.read_property("brightness") == 73

    first = await client.invoke_action("increment", {"step": 5})
    assert (first.status, first.output) == ("completed", 5)
    second = await client.invoke_action("increment", {"step": 2})
    assert (second.status, second.output) == ("completed", 7)
    assert await client.read_property("count") == 7
    posts = nodewot.requests("/actions/increment")
    assert [r["method"] for r in posts] == ["POST", "POST"]

    reset = await client.invoke_action("reset")  # no input; node-wot answers 204
    assert (reset.status, reset.output) == ("completed", None)
    assert await client.read_property("count") == 0
    assert await client.read_property("changes") == 4  # brightness, increment x2, reset
    (reset_request,) = nodewot.requests("/actions/reset")
    assert reset_request["method"] == "POST"


# --------------------------------------------------------------------------------------------
# observation (node-wot observes by long-poll)


async def test_nodewot_watch_longpoll(nodewot: NodeWotPeer, session: aiohttp.ClientSession) -> None:
    td = await fetch_thing_description(session, nodewot.td_url)
    client = WotClient(session, td)
    seen = Recorder()
    watcher = client.watch(seen.on_property, seen.on_event, seen.on_connection)
    await watcher.start()
    try:
        assert "count" in watcher.observed_properties
        assert "brightness" not in watcher.observed_properties  # it has no observe form
        # node-wot has registered the long-poll observer and subscriber: changes now reach them.
        await nodewot.wait(
            lambda: (
                nodewot.count("observe", "count") >= 1
                and nodewot.count("subscribe", "changed") >= 1
            ),
            "the watcher's long-poll requests for count and changed",
        )
        polls = nodewot.requests("/properties/count/observable") + nodewot.requests(
            "/events/changed"
        )
        assert {r["method"] for r in polls if r["method"] != "HEAD"} == {"GET"}

        result = await client.invoke_action("increment", {"step": 9})
        assert result.output == 9
        await seen.wait(lambda: ("count", 9) in seen.properties, "count = 9 (after increment)")
        await seen.wait(
            lambda: ("changed", {"property": "count", "value": 9}) in seen.events,
            "the changed event for count = 9",
        )
        connected_while_running = watcher.connected
        assert connected_while_running
        assert True in seen.connection

        # Each long-poll answer ends that request; the watcher must poll again to see more.
        await nodewot.wait(
            lambda: (
                nodewot.count("observe", "count") >= 2
                and nodewot.count("subscribe", "changed") >= 2
            ),
            "the watcher's second long-poll requests",
        )
        await client.write_property("count", 42)
        await seen.wait(lambda: ("count", 42) in seen.properties, "count = 42 (after a write)")
        await seen.wait(
            lambda: ("changed", {"property": "count", "value": 42}) in seen.events,
            "the changed event for count = 42",
        )
        assert all(name == "count" for name, _ in seen.properties)
        assert all(name == "changed" for name, _ in seen.events)
    finally:
        await watcher.stop()

    assert not watcher.connected
    # Stopping dropped the pending long-poll requests: every one the servient received has
    # ended. (node-wot itself only drops an event subscriber on a closed request; a property
    # observer stays registered until its next notification fails.)
    await nodewot.wait(
        lambda: all(
            nodewot.open_requests(suffix) == 0
            for suffix in ("/properties/count/observable", "/events/changed")
        ),
        "the watcher's long-poll requests to end after stop()",
    )
    await nodewot.wait(
        lambda: nodewot.count("unsubscribe", "changed") == nodewot.count("subscribe", "changed"),
        "node-wot to drop the event subscriber after stop()",
    )


# --------------------------------------------------------------------------------------------
# the peer itself


@pytest.mark.usefixtures("socket_enabled")
async def test_nodewot_peer_stops_on_sigterm() -> None:
    async with running_nodewot() as peer:
        assert URL(peer.td_url).host == "127.0.0.1"
        assert await stop_peer(peer.process, "sigterm") == 0
        await peer.wait(lambda: peer.closed, "stdout to close after SIGTERM")


@pytest.mark.usefixtures("socket_enabled")
async def test_nodewot_peer_stops_when_stdin_closes() -> None:
    async with running_nodewot() as peer:
        assert await stop_peer(peer.process, "stdin") == 0
