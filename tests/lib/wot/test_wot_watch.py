"""Push channels (SSE, long-poll, WebSocket) against real loopback servers."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncGenerator, Callable
import json
import logging
from typing import Any

import aiohttp
from aiohttp import web
import pytest

from custom_components.thingbridge.wot import Credentials, ThingDescription, WotClient, parse_td
from custom_components.thingbridge.wot.sse import MAX_LINE_BYTES
from custom_components.thingbridge.wot.watch import Watcher

WAIT = 10.0  # a guard against hangs, never an assertion about speed


class Changes:
    """Wakes waiters whenever something observable happened."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def bump(self) -> None:
        self._event.set()

    async def until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT):
            while not predicate():
                self._event.clear()
                await self._event.wait()


class Recorder:
    """The three callbacks, recorded."""

    def __init__(self, changes: Changes) -> None:
        self.changes = changes
        self.props: list[tuple[str, Any]] = []
        self.events: list[tuple[str, Any]] = []
        self.connection: list[bool] = []

    def on_property(self, name: str, value: Any) -> None:
        self.props.append((name, value))
        self.changes.bump()

    def on_event(self, name: str, data: Any) -> None:
        self.events.append((name, data))
        self.changes.bump()

    def on_connection(self, connected: bool) -> None:
        self.connection.append(connected)
        self.changes.bump()


class PushServer:
    """SSE, long-poll and WebSocket endpoints fed by the test through queues."""

    def __init__(self, changes: Changes) -> None:
        self.changes = changes
        self.feeds: defaultdict[str, asyncio.Queue[bytes | None]] = defaultdict(asyncio.Queue)
        self.connects: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
        self.disconnects: defaultdict[str, int] = defaultdict(int)
        self.values: dict[str, Any] = {}
        self.values_gate = asyncio.Event()  # cleared: /value requests wait for it
        self.values_gate.set()
        self.ws_received: list[Any] = []
        self.refused = 0
        self.missing: list[str] = []
        self.methods: defaultdict[str, list[str]] = defaultdict(list)
        self.content_types: dict[str, list[str]] = {}
        self.runner: web.AppRunner | None = None
        self.port = 0

    def feed(self, path: str, *chunks: bytes | None) -> None:
        for chunk in chunks:
            self.feeds[path].put_nowait(chunk)

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _sse(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        queued = self.content_types.get(path)
        content_type = queued.pop(0) if queued else "text/event-stream"
        response = web.StreamResponse(headers={"Content-Type": content_type})
        await response.prepare(request)
        self.connects[path].append(dict(request.headers))
        self.changes.bump()
        try:
            while (chunk := await self.feeds[path].get()) is not None:
                await response.write(chunk)
        except asyncio.CancelledError:
            self.disconnects[path] += 1
            self.changes.bump()
            raise
        return response

    async def _longpoll(self, request: web.Request) -> web.Response:
        path = request.path
        self.methods[path].append(request.method)
        if path == "/lp/locked":
            self.refused += 1
            self.changes.bump()
            return web.Response(status=401)
        if request.method == "HEAD" and not path.startswith("/lp/hold"):
            self.connects[path].append(dict(request.headers))
            self.changes.bump()
            return web.Response(status=405)
        self.connects[path].append(dict(request.headers))
        self.changes.bump()
        try:
            chunk = await self.feeds[path].get()
        except asyncio.CancelledError:
            self.disconnects[path] += 1
            self.changes.bump()
            raise
        return web.Response(body=chunk, content_type="application/json")

    async def _missing(self, request: web.Request) -> web.Response:
        self.missing.append(request.path)
        self.changes.bump()
        return web.Response(status=404)

    async def _value(self, request: web.Request) -> web.Response:
        await self.values_gate.wait()
        return web.json_response(self.values[request.match_info["name"]])

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        if request.headers.get("Authorization") != "Bearer ws-token":
            self.refused += 1
            self.changes.bump()
            raise web.HTTPUnauthorized
        ws = web.WebSocketResponse(protocols=("webthing",))
        await ws.prepare(request)
        self.connects[request.path].append(dict(request.headers))
        self.changes.bump()
        reader = asyncio.create_task(self._ws_reader(ws))
        try:
            while (chunk := await self.feeds[request.path].get()) is not None:
                await ws.send_str(chunk.decode())
        finally:
            reader.cancel()
            await ws.close()
        return ws

    async def _ws_reader(self, ws: web.WebSocketResponse) -> None:
        async for message in ws:
            self.ws_received.append(json.loads(message.data))
            self.changes.bump()

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_get("/sse/{tail:.*}", self._sse)
        app.router.add_post("/sse/{tail:.*}", self._sse)
        app.router.add_route("*", "/lp/{tail:.*}", self._longpoll)
        app.router.add_get("/value/{name}", self._value)
        app.router.add_get("/ws", self._ws)
        app.router.add_route("*", "/{tail:.*}", self._missing)
        self.runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.1
        )
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture
def changes() -> Changes:
    return Changes()


@pytest.fixture
async def push(socket_enabled: None, changes: Changes) -> AsyncGenerator[PushServer]:
    server = PushServer(changes)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def session() -> AsyncGenerator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def watcher_for(
    session: aiohttp.ClientSession,
    td: ThingDescription,
    recorder: Recorder,
    credentials: Credentials | None = None,
    request_timeout: float = 10.0,
    **options: float,
) -> Watcher:
    client = WotClient(session, td, credentials=credentials, request_timeout=request_timeout)
    settings: dict[str, float] = {
        "min_backoff": 0.01,
        "max_backoff": 0.05,
        "longpoll_min_interval": 0.0,
        **options,
    }
    return client.watch(recorder.on_property, recorder.on_event, recorder.on_connection, **settings)


def sse_form(href: str, op: str | list[str], **extra: Any) -> dict[str, Any]:
    return {"href": href, "op": op, "subprotocol": "sse", **extra}


async def test_sse_per_affordance(
    push: PushServer, session: aiohttp.ClientSession, changes: Changes
) -> None:
    td = parse_td(
        {
            "title": "Sensor",
            "properties": {
                "temp": {
                    "type": "number",
                    "forms": [
                        {"href": "/value/temp"},
                        sse_form("/sse/temp", ["observeproperty", "unobserveproperty"]),
                    ],
                },
                "polled": {"type": "number", "forms": [{"href": "/value/polled"}]},
            },
            "events": {
                "alarm": {"forms": [sse_form("/sse/alarm", "subscribeevent")]},
            },
        },
        source_url=push.url("/td"),
    )
    recorder = Recorder(changes)
    watcher = watcher_for(session, td, recorder)
    assert watcher.observed_properties == {"temp"}
    await watcher.start()
    await changes.until(lambda: recorder.connection == [True])
    assert watcher.connected
    headers = push.connects["/sse/temp"][0]
    assert headers["Accept"] == "text/event-stream"
    push.feed(
        "/sse/temp",
        b"event: te",
        b"mp\ndata: 21",
        b".5\n\n: keep-alive\n\n",
        b'data: {"a":\ndata: [1, 2]}\r\n\r\n',
        b"event: temp\ndata: not json\n\n",
    )
    push.feed("/sse/alarm", b'event: alarm\ndata: {"level": 3}\n\n')
    sent = [("temp", 21.5), ("temp", {"a": [1, 2]}), ("temp", "not json")]
    await changes.until(lambda: recorder.props[-1:] == sent[-1:] and len(recorder.events) == 1)
    # Values that arrived in one read are coalesced (the newest wins): the ones passed on
    # are the values sent, in order, ending with the last.
    assert [value for value in sent if value in recorder.props] == recorder.props
    assert (watcher.stats.values, watcher.stats.events) == (3, 1)
    assert watcher.stats.coalesced == 3 - len(recorder.props)
    assert recorder.events == [("alarm", {"level": 3})]
    await watcher.stop()
    assert recorder.connection == [True]


async def test_sse_coalesces_what_arrives_at_once(
    push: PushServer, session: aiohttp.ClientSession, changes: Changes
) -> None:
    """A flood of tiny SSE events costs a callback per property and read, not per event.

    The attack: one stream of "data: n" events drove millions of callbacks. 5,000 values
    sent in one write arrive in a few reads; the newest value always gets through.
    """
    td = parse_td(
        {
            "title": "Flood",
            "properties": {"n": {"forms": [sse_form("/sse/n", "observeproperty")]}},
            "events": {"e": {"forms": [sse_form("/sse/e", "subscribeevent")]}},
        },
        source_url=push.url("/td"),
    )
    recorder = Recorder(changes)
    watcher = watcher_for(session, td, recorder)
    await watcher.start()
    await changes.until(lambda: recorder.connection == [True])
    push.feed("/sse/n", b"".join(b"data: %d\n\n" % i for i in range(5000)))
    push.feed("/sse/e", b"".join(b"event: e\ndata: %d\n\n" % i for i in range(50)))
    await changes.until(lambda: recorder.props[-1:] == [("n", 4999)] and len(recorder.events) == 50)
    await watcher.stop()
    assert len(recorder.props) < 100  # one per read of the socket
    assert [value for _name, value in recorder.props] == sorted(v for _n, v in recorder.props)
    assert (watcher.stats.values, watcher.stats.events) == (5000, 50)
    assert watcher.stats.coalesced == 5000 - len(recorder.props)
    # Events are not coalesced: each one is passed on, in order.
    assert recorder.events == [("e", i) for i in range(50)]


async def test_sse_over_long_line_drops_and_reconnects(
    push: PushServer,
    session: aiohttp.ClientSession,
    changes: Changes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    td = parse_td(
        {
            "title": "Sensor",
            "properties": {
                "temp": {
                    "forms": [
                        sse_form("/sse/temp", "observeproperty", **{"htv:methodName": "POST"})
                    ]
                }
            },
        },
        source_url=push.url("/td"),
    )
    recorder = Recorder(changes)
    watcher = watcher_for(session, td, recorder)
    await watcher.start()
    await changes.until(lambda: recorder.connection == [True])
    push.feed("/sse/temp", b"id: e1\ndata: 1\n\n")
    await changes.until(lambda: recorder.props == [("temp", 1)])
    push.feed("/sse/temp", b"data: " + b"x" * MAX_LINE_BYTES)
    await changes.until(lambda: recorder.connection == [True, False, True])
    assert len(push.connects["/sse/temp"]) == 2
    assert push.connects["/sse/temp"][1]["Last-Event-ID"] == "e1"
    assert "line longer than 65536 bytes" in caplog.text
    assert any(r.levelno == logging.WARNING for r in caplog.records)
    push.feed("/sse/temp", b"data: 2\n\n")
    await changes.until(lambda: recorder.props == [("temp", 1), ("temp", 2)])
    await watcher.stop()


async def test_thing_level_sse_forms(
    push: PushServer, session: aiohttp.ClientSession, changes: Changes
) -> None:
    td = parse_td(
        {
            "title": "Lamp",
            "properties": {
                "on": {"observable": True, "forms": [{"href": "/value/on"}]},
                "level": {"observable": True, "forms": [{"href": "/value/level"}]},
                "model": {"forms": [{"href": "/value/model"}]},
            },
            "events": {"overheated": {"forms": [{"href": "/lp/overheated"}]}},
            "forms": [
                sse_form("/sse/properties", ["observeallproperties", "unobserveallproperties"]),
                sse_form("/sse/events", ["subscribeallevents", "unsubscribeallevents"]),
            ],
        },
        source_url=push.url("/td"),
    )
    recorder = Recorder(changes)
    watcher = watcher_for(session, td, recorder)
    assert watcher.observed_properties == {"on", "level"}
    assert len(watcher.channels) == 2
    await watcher.start()
    await changes.until(lambda: recorder.connection == [True])
    # Values read at once are coalesced (see test_sse_coalesces_what_arrives_at_once).
    push.feed("/sse/properties", b"event: level\ndata: 5\n\n")
    await changes.until(lambda: recorder.props == [("level", 5)])
    push.feed(
        "/sse/properties",
        b'data: {"on": true, "level": 6, "unknown": 1}\n\n',
        b"event: unknown\ndata: 1\n\n",
    )
    push.feed("/sse/events", b"event: overheated\ndata: 102\n\n")
    await changes.until(lambda: len(recorder.props) == 3 and len(recorder.events) == 1)
    assert recorder.props == [("level", 5), ("on", True), ("level", 6)]
    assert recorder.events == [("overheated", 102)]
    assert "/lp/overheated" not in push.connects
    await watcher.stop()


async def test_longpoll(push: PushServer, session: aiohttp.ClientSession, changes: Changes) -> None:
    push.values["count"] = 1
    td = parse_td(
        {
            "title": "Counter",
            "properties": {
                "count": {
                    "type": "integer",
                    "forms": [
                        {"href": "/value/count"},
                        # No subprotocol: long-poll, as node-wot does.
                        {"href": "/lp/count", "op": "observeproperty"},
                    ],
                }
            },
            "events": {
                "tick": {"forms": [{"href": "/lp/tick", "subprotocol": "longpoll"}]},
            },
        },
        source_url=push.url("/td"),
    )
    recorder = Recorder(changes)
    watcher = watcher_for(session, td, recorder)
    assert watcher.observed_properties == {"count"}
    await watcher.start()
    await changes.until(lambda: recorder.connection == [True])
    # The handshake read the current value; the event channel was probed with HEAD.
    assert recorder.props == [("count", 1)]
    assert push.connects["/lp/tick"][0]["Host"] == f"127.0.0.1:{push.port}"
    push.feed("/lp/count", b"2", b"3")
    push.feed("/lp/tick", b'{"n": 1}', b"")
    await changes.until(lambda: len(recorder.props) == 3 and len(recorder.events) == 1)
    assert recorder.props == [("count", 1), ("count", 2), ("count", 3)]
    assert recorder.events == [("tick", {"n": 1})]
    await changes.until(lambda: len(push.connects["/lp/tick"]) >= 4)  # HEAD + 3 GETs
    assert recorder.events == [("tick", {"n": 1})]  # the empty answer delivered nothing
    await watcher.stop()


def webthing_td(push: PushServer) -> ThingDescription:
    return parse_td(
        {
            "title": "Lamp",
            "securityDefinitions": {"t": {"scheme": "bearer"}},
            "security": "t",
            "properties": {
                "on": {"type": "boolean", "links": [{"href": "/value/on"}]},
                "level": {"type": "integer", "links": [{"href": "/value/level"}]},
            },
            "events": {"overheated": {"type": "number", "links": [{"href": "/events/o"}]}},
            "links": [
                {"rel": "properties", "href": "/properties"},
                {"rel": "alternate", "href": f"ws://127.0.0.1:{push.port}/ws"},
            ],
        },
        source_url=push.url("/things/lamp"),
    )


async def test_websocket_webthing(
    push: PushServer, session: aiohttp.ClientSession, changes: Changes
) -> None:
    td = webthing_td(push)
    assert td.dialect == "webthings"
    push.values.update(on=False, level=3)
    recorder = Recorder(changes)
    watcher = watcher_for(session, td, recorder, Credentials(token="ws-token"))
    assert watcher.observed_properties == {"on", "level"}
    await watcher.start()
    await changes.until(lambda: recorder.connection == [True] and bool(push.ws_received))
    assert push.ws_received == [{"messageType": "addEventSubscription", "data": {"overheated": {}}}]
    assert push.connects["/ws"][0]["Sec-WebSocket-Protocol"] == "webthing"
    # The Web Thing API pushes no values on connect: they are read once the socket is open.
    await changes.until(lambda: len(recorder.props) == 2)
    assert recorder.props == [("on", False), ("level", 3)]
    recorder.props.clear()
    push.feed(
        "/ws",
        b'{"messageType": "propertyStatus", "data": {"on": true, "stranger": 1}}',
        b"not json",
        b'{"messageType": "actionStatus", "data": {"fade": {"status": "completed"}}}',
        b'{"messageType": "event", "data": {"overheated": {"data": 102, "timestamp": "t"}}}',
        b'{"messageType": "propertyStatus", "data": {"level": 7}}',
    )
    await changes.until(lambda: len(recorder.props) == 2)
    assert recorder.props == [("on", True), ("level", 7)]
    assert recorder.events == [("overheated", 102)]
    # The server closes: the channel is reported down, then up again on its own.
    push.values["level"] = 9  # a change the socket does not carry
    push.feed("/ws", None)
    await changes.until(lambda: recorder.connection == [True, False, True])
    # Back up: the values are read again, so what changed while the socket was down is seen.
    await changes.until(lambda: ("level", 9) in recorder.props)
    await watcher.stop()


async def test_websocket_push_wins_over_the_catch_up_read(
    push: PushServer, session: aiohttp.ClientSession, changes: Changes
) -> None:
    push.values.update(on=False, level=3)
    push.values_gate.clear()
    recorder = Recorder(changes)
    watcher = watcher_for(session, webthing_td(push), recorder, Credentials(token="ws-token"))
    await watcher.start()
    await changes.until(lambda: recorder.connection == [True])
    # Pushed while the read after connecting is still out: the read's answer may be older.
    push.feed("/ws", b'{"messageType": "propertyStatus", "data": {"level": 7}}')
    await changes.until(lambda: recorder.props == [("level", 7)])
    push.values_gate.set()
    await changes.until(lambda: len(recorder.props) == 2)
    assert recorder.props == [("level", 7), ("on", False)]
    await watcher.stop()


async def test_websocket_refused_credentials_keep_retrying(
    push: PushServer, session: aiohttp.ClientSession, changes: Changes
) -> None:
    recorder = Recorder(changes)
    watcher = watcher_for(session, webthing_td(push), recorder, Credentials(token="wrong"))
    await watcher.start()
    await changes.until(lambda: push.refused >= 3)
    assert recorder.connection == []
    assert not watcher.connected
    await watcher.stop()


async def test_reconnect_after_server_restart(
    push: PushServer, session: aiohttp.ClientSession, changes: Changes
) -> None:
    td = parse_td(
        {"title": "S", "properties": {"t": {"forms": [sse_form("/sse/t", "observeproperty")]}}},
        source_url=push.url("/td"),
    )
    recorder = Recorder(changes)
    watcher = watcher_for(session, td, recorder)
    await watcher.start()
    await changes.until(lambda: recorder.connection == [True])
    port = push.port
    await push.stop()
    await changes.until(lambda: recorder.connection == [True, False])
    assert not watcher.connected
    await push.start(port)
    await changes.until(lambda: recorder.connection == [True, False, True])
    push.feed("/sse/t", b"data: 5\n\n")
    await changes.until(lambda: recorder.props == [("t", 5)])
    await watcher.stop()


async def test_idle_channel_is_reopened_quietly(
    push: PushServer, session: aiohttp.ClientSession, changes: Changes
) -> None:
    td = parse_td(
        {"title": "S", "properties": {"t": {"forms": [sse_form("/sse/t", "observeproperty")]}}},
        source_url=push.url("/td"),
    )
    recorder = Recorder(changes)
    watcher = watcher_for(session, td, recorder, idle_timeout=0.05)
    await watcher.start()
    await changes.until(lambda: len(push.connects["/sse/t"]) >= 3)
    assert recorder.connection == [True]
    await watcher.stop()


async def test_wrong_content_type_is_retried(
    push: PushServer, session: aiohttp.ClientSession, changes: Changes
) -> None:
    push.content_types["/sse/t"] = ["application/json"]
    td = parse_td(
        {"title": "S", "properties": {"t": {"forms": [sse_form("/sse/t", "observeproperty")]}}},
        source_url=push.url("/td"),
    )
    recorder = Recorder(changes)
    watcher = watcher_for(session, td, recorder)
    await watcher.start()
    await changes.until(lambda: recorder.connection == [True])
    assert len(push.connects["/sse/t"]) == 2
    await watcher.stop()


async def test_callback_errors_do_not_break_the_channel(
    push: PushServer,
    session: aiohttp.ClientSession,
    changes: Changes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    td = parse_td(
        {"title": "S", "properties": {"t": {"forms": [sse_form("/sse/t", "observeproperty")]}}},
        source_url=push.url("/td"),
    )
    recorder = Recorder(changes)

    def fragile(name: str, value: Any) -> None:
        recorder.on_property(name, value)
        if value == 1:
            raise RuntimeError("consumer bug")

    watcher = WotClient(session, td).watch(
        fragile, recorder.on_event, recorder.on_connection, min_backoff=0.01
    )
    await watcher.start()
    push.feed("/sse/t", b"data: 1\n\n")
    await changes.until(lambda: len(recorder.props) == 1)
    push.feed("/sse/t", b"data: 2\n\n")
    await changes.until(lambda: len(recorder.props) == 2)
    assert "push callback failed" in caplog.text
    assert len(push.connects["/sse/t"]) == 1
    await watcher.stop()


async def test_stop_leaves_nothing_running(
    push: PushServer, session: aiohttp.ClientSession, changes: Changes
) -> None:
    push.values["n"] = 0
    td = parse_td(
        {
            "title": "S",
            "properties": {
                "t": {"forms": [sse_form("/sse/t", "observeproperty")]},
                "n": {"forms": [{"href": "/value/n"}, {"href": "/lp/n", "op": "observeproperty"}]},
            },
            "events": {"e": {"forms": [sse_form("/sse/e", "subscribeevent")]}},
        },
        source_url=push.url("/td"),
    )
    recorder = Recorder(changes)
    watcher = watcher_for(session, td, recorder)
    await watcher.start()
    await watcher.start()  # a second start opens nothing more
    await changes.until(lambda: recorder.connection == [True] and len(push.connects["/lp/n"]) == 1)
    await watcher.stop()
    assert not any(t.get_name().startswith("wot watch") for t in asyncio.all_tasks())
    assert not watcher.connected
    # The server sees every connection closed.
    await changes.until(
        lambda: (
            push.disconnects["/sse/t"] == 1
            and push.disconnects["/sse/e"] == 1
            and push.disconnects["/lp/n"] == 1
        )
    )
    assert recorder.connection == [True]
    await watcher.start()  # a stopped watcher stays stopped
    assert not any(t.get_name().startswith("wot watch") for t in asyncio.all_tasks())


async def test_channel_plan(push: PushServer, session: aiohttp.ClientSession) -> None:
    td = parse_td(
        {
            "title": "Mixed",
            "properties": {
                "hook": {
                    "forms": [{"href": "/h", "op": "observeproperty", "subprotocol": "webhook"}]
                },
                "far": {"forms": [sse_form("http://192.0.2.1/sse", "observeproperty")]},
                "near": {"forms": [sse_form("/sse/near", "observeproperty")]},
                "plain": {"forms": [{"href": "/value/plain"}]},
            },
            "events": {
                "coap": {"forms": [{"href": "coap://127.0.0.1/e", "op": "subscribeevent"}]},
            },
        },
        source_url=push.url("/td"),
    )
    recorder = Recorder(Changes())
    watcher = watcher_for(session, td, recorder)
    assert watcher.observed_properties == {"near"}
    assert len(watcher.channels) == 1
    nothing = watcher_for(
        session,
        parse_td(
            {"title": "N", "properties": {"p": {"forms": [{"href": "/p"}]}}},
            source_url=push.url("/td"),
        ),
        recorder,
    )
    assert nothing.observed_properties == frozenset()
    await nothing.start()
    assert not nothing.connected
    await nothing.stop()
    assert recorder.connection == []


class LogWaiter(logging.Handler):
    """Records the watcher's log messages and wakes waiters."""

    def __init__(self, changes: Changes) -> None:
        super().__init__(logging.DEBUG)
        self.changes = changes
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        self.changes.bump()


@pytest.fixture
def watch_log(changes: Changes) -> Any:
    handler = LogWaiter(changes)
    logger = logging.getLogger("custom_components.thingbridge.wot.watch")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_refused_while_down_then_back(
    push: PushServer, session: aiohttp.ClientSession, changes: Changes, watch_log: LogWaiter
) -> None:
    td = parse_td(
        {"title": "S", "properties": {"t": {"forms": [sse_form("/sse/t", "observeproperty")]}}},
        source_url=push.url("/td"),
    )
    recorder = Recorder(changes)
    watcher = watcher_for(session, td, recorder)
    await watcher.start()
    await changes.until(lambda: recorder.connection == [True])
    port = push.port
    await push.stop()
    # Wait until reopening has failed (connection refused) a few times.
    await changes.until(lambda: sum("down" in m for m in watch_log.messages) >= 3)
    assert recorder.connection == [True, False]
    await push.start(port)
    await changes.until(lambda: recorder.connection == [True, False, True])
    await watcher.stop()


async def test_sse_closed_by_the_thing_and_retry_field(
    push: PushServer, session: aiohttp.ClientSession, changes: Changes, watch_log: LogWaiter
) -> None:
    td = parse_td(
        {
            "title": "S",
            "events": {"a": {"forms": [{"href": "/lp/a"}]}, "b": {"forms": [{"href": "/lp/b"}]}},
            "properties": {"p": {"forms": [{"href": "/value/p"}]}},
            "forms": [sse_form("/sse/events", "subscribeallevents")],
        },
        source_url=push.url("/td"),
    )
    recorder = Recorder(changes)
    watcher = watcher_for(session, td, recorder)
    assert watcher.observed_properties == frozenset()
    await watcher.start()
    await changes.until(lambda: recorder.connection == [True])
    push.feed("/sse/events", b'retry: 20\ndata: {"a": 1, "b": 2, "c": 3}\n\n', b"data: 4\n\n", None)
    await changes.until(lambda: recorder.connection == [True, False, True])
    assert recorder.events == [("a", 1), ("b", 2)]
    assert any("closed by the Thing" in m for m in watch_log.messages)
    assert any("ignored a message" in m for m in watch_log.messages)
    await watcher.stop()


async def test_longpoll_edges(
    push: PushServer, session: aiohttp.ClientSession, changes: Changes
) -> None:
    td = parse_td(
        {
            "title": "S",
            "properties": {
                "w": {
                    "writeOnly": True,
                    "forms": [
                        {"href": "/value/w", "op": "writeproperty"},
                        {"href": "/lp/w", "op": "observeproperty", "subprotocol": "longpoll"},
                    ],
                },
            },
        },
        source_url=push.url("/td"),
    )
    recorder = Recorder(changes)
    watcher = watcher_for(session, td, recorder, idle_timeout=0.05, longpoll_min_interval=0.01)
    await watcher.start()
    # Not readable: the handshake is a HEAD probe; then held GETs, reopened quietly when idle.
    await changes.until(lambda: recorder.connection == [True] and len(push.connects["/lp/w"]) >= 4)
    assert "Accept" in push.connects["/lp/w"][1]
    push.feed("/lp/w", b"true")
    await changes.until(lambda: recorder.props == [("w", True)])
    assert recorder.connection == [True]
    await watcher.stop()


async def test_longpoll_refused_credentials(
    push: PushServer, session: aiohttp.ClientSession, changes: Changes
) -> None:
    td = parse_td(
        {"title": "S", "events": {"e": {"forms": [{"href": "/lp/locked"}]}}},
        source_url=push.url("/td"),
    )
    recorder = Recorder(changes)
    watcher = watcher_for(session, td, recorder)
    await watcher.start()
    await changes.until(lambda: push.refused >= 3)
    assert recorder.connection == []
    await watcher.stop()


async def test_websocket_edges(
    push: PushServer, session: aiohttp.ClientSession, changes: Changes, watch_log: LogWaiter
) -> None:
    push.values.update(on=True, level=1)
    recorder = Recorder(changes)
    watcher = watcher_for(
        session, webthing_td(push), recorder, Credentials(token="ws-token"), idle_timeout=0.05
    )
    await watcher.start()
    push.feed(
        "/ws",
        b"[1, 2]",
        b'{"messageType": "event", "data": {"other": {"data": 1}}}',
        b'{"messageType": "error", "data": {"message": "bad request"}}',
        b'{"messageType": "event", "data": {"overheated": 5}}',
    )
    await changes.until(lambda: recorder.events == [("overheated", 5)])
    assert any("WebSocket error message" in m for m in watch_log.messages)
    # Silence does not reopen a WebSocket (its heartbeat tells a dead one): a quiet Thing keeps
    # its socket, where an SSE stream would be reopened after this long.
    await asyncio.sleep(0.3)
    assert len(push.connects["/ws"]) == 1
    assert recorder.connection == [True]
    await watcher.stop()


async def test_websocket_not_usable(
    push: PushServer, session: aiohttp.ClientSession, changes: Changes, watch_log: LogWaiter
) -> None:
    raw: dict[str, Any] = {
        "title": "L",
        "properties": {"on": {"links": [{"href": "/value/on"}]}},
        "links": [{"rel": "alternate", "href": "ws://192.0.2.1/ws"}],
    }
    recorder = Recorder(changes)
    # A WebSocket on another host is not used (nothing else pushes here).
    far = watcher_for(session, parse_td(raw, source_url=push.url("/t")), recorder)
    assert far.channels == []
    raw["links"] = [{"rel": "alternate", "href": f"ws://127.0.0.1:{push.port}/nows"}]
    missing = watcher_for(session, parse_td(raw, source_url=push.url("/t")), recorder)
    await missing.start()
    await changes.until(lambda: push.missing.count("/nows") >= 3)
    assert recorder.connection == []
    await missing.stop()
    # Digest cannot be used on a WebSocket handshake.
    raw["securityDefinitions"] = {"d": {"scheme": "digest"}}
    raw["security"] = "d"
    digest = watcher_for(
        session,
        parse_td(raw, source_url=push.url("/t")),
        recorder,
        Credentials(username="u", password="p"),
    )
    await digest.start()
    await changes.until(lambda: any("not supported on WebSockets" in m for m in watch_log.messages))
    await digest.stop()
    assert recorder.connection == []


async def test_longpoll_probe_held_by_the_server(
    push: PushServer, session: aiohttp.ClientSession, changes: Changes
) -> None:
    """A server that holds the HEAD handshake too is connected all the same."""
    td = parse_td(
        {"title": "S", "events": {"e": {"forms": [{"href": "/lp/hold"}]}}},
        source_url=push.url("/td"),
    )
    recorder = Recorder(changes)
    watcher = watcher_for(session, td, recorder, request_timeout=0.05)
    await watcher.start()
    await changes.until(lambda: recorder.connection == [True])
    assert push.methods["/lp/hold"][0] == "HEAD"
    push.feed("/lp/hold", None, b'"ding"')  # the HEAD's queued answer, then the GET's
    await changes.until(lambda: recorder.events == [("e", "ding")])
    await watcher.stop()


async def test_sse_reads_what_changed_while_it_was_down(
    push: PushServer, session: aiohttp.ClientSession, changes: Changes
) -> None:
    """A Thing need not replay what changed between a drop and the reconnect: it is read."""
    td = parse_td(
        {
            "title": "S",
            "properties": {
                "t": {
                    "type": "number",
                    "forms": [
                        {"href": "/value/t", "op": "readproperty"},
                        sse_form("/sse/t", "observeproperty"),
                    ],
                }
            },
        },
        source_url=push.url("/td"),
    )
    push.values["t"] = 1
    recorder = Recorder(changes)
    watcher = watcher_for(session, td, recorder)
    await watcher.start()
    await changes.until(lambda: recorder.connection == [True])
    assert recorder.props == []  # the first connection reads nothing: the caller just did
    push.values["t"] = 2  # changed on the device while the stream drops
    push.feed("/sse/t", None)
    await changes.until(lambda: recorder.connection == [True, False, True])
    await changes.until(lambda: recorder.props == [("t", 2)])
    # A value pushed while the catch-up read is under way wins over the read.
    push.values_gate.clear()
    push.values["t"] = 3
    push.feed("/sse/t", None)
    await changes.until(lambda: len(push.connects["/sse/t"]) == 3)
    push.feed("/sse/t", b"data: 4\n\n")
    await changes.until(lambda: recorder.props[-1] == ("t", 4))
    push.values_gate.set()
    await asyncio.sleep(0.1)
    assert recorder.props == [("t", 2), ("t", 4)]
    await watcher.stop()


async def test_longpoll_reads_what_changed_during_its_pause(
    push: PushServer, session: aiohttp.ClientSession, changes: Changes
) -> None:
    """A Thing that answers at once is asked again only after a pause; a change in it is read."""
    push.values["count"] = 1
    td = parse_td(
        {
            "title": "Counter",
            "properties": {
                "count": {
                    "type": "integer",
                    "forms": [
                        {"href": "/value/count"},
                        {"href": "/lp/count", "op": "observeproperty"},
                    ],
                }
            },
        },
        source_url=push.url("/td"),
    )
    recorder = Recorder(changes)
    watcher = watcher_for(session, td, recorder, longpoll_min_interval=0.3)
    await watcher.start()
    await changes.until(lambda: recorder.props == [("count", 1)])  # the handshake
    push.values["count"] = 3  # changes again at once, with nobody listening (node-wot)
    push.feed("/lp/count", b"2")
    await changes.until(lambda: len(recorder.props) == 3)
    assert recorder.props == [("count", 1), ("count", 2), ("count", 3)]
    await watcher.stop()


async def test_longpoll_skips_the_probe_right_after_an_answer(
    push: PushServer, session: aiohttp.ClientSession, changes: Changes
) -> None:
    """A Thing that just answered a read is not probed with HEAD (a connection of its own).

    Once the channel fails, its next opening is probed as before; the push session (a copy
    of the transport) knows what the client's read found.
    """
    push.values["count"] = 1
    td = parse_td(
        {
            "title": "Counter",
            "properties": {
                "count": {
                    "type": "integer",
                    "observable": True,
                    "forms": [{"href": "/value/count"}],
                }
            },
            "forms": [{"href": "/lp/all", "op": "observeallproperties"}],
        },
        source_url=push.url("/td"),
    )
    recorder = Recorder(changes)
    client = WotClient(session, td)
    assert await client.read_property("count") == 1
    async with aiohttp.ClientSession() as push_session:
        watcher = client.watch(
            recorder.on_property,
            recorder.on_event,
            recorder.on_connection,
            session=push_session,
            min_backoff=0.01,
            max_backoff=0.05,
            longpoll_min_interval=0.0,
        )
        await watcher.start()
        try:
            await changes.until(lambda: recorder.connection == [True] and push.methods["/lp/all"])
            assert push.methods["/lp/all"] == ["GET"]  # held at once, no HEAD before it
            push.feed("/lp/all", b'{"count": 2}', b"not JSON")  # a value, then a broken answer
            await changes.until(
                lambda: (
                    recorder.connection == [True, False, True] and len(push.methods["/lp/all"]) >= 4
                )
            )
            assert recorder.props == [("count", 2)]
            # After the broken answer, the channel is probed again before it is held.
            assert push.methods["/lp/all"][:4] == ["GET", "GET", "HEAD", "GET"]
        finally:
            await watcher.stop()
