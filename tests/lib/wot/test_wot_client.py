"""The HTTP client against a real loopback server: limits, timeouts and errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
from aiohttp import web
import pytest
from yarl import URL

from custom_components.thingbridge.wot import (
    ActionResult,
    Credentials,
    WotAuthError,
    WotClient,
    WotConnectionError,
    WotResponseError,
    WotValidationError,
    fetch_json,
    fetch_thing_description,
    parse_td,
)
from custom_components.thingbridge.wot.client import MAX_RESPONSE_BYTES
from tests.conftest import StaticServer


@pytest.fixture
async def session() -> AsyncGenerator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_fetch_td_and_read(http_server: StaticServer, session: aiohttp.ClientSession) -> None:
    url = http_server.add(
        "/td",
        {"title": "T", "properties": {
            "p": {"type": "number", "forms": [{"href": "p"}]},
            "empty": {"forms": [{"href": "empty"}]},
            "post": {"forms": [{"href": "post", "op": "readproperty", "htv:methodName": "POST"}]},
            "w": {"writeOnly": True, "forms": [{"href": "w"}]},
        }},
        content_type="application/td+json",
    )  # fmt: skip
    http_server.add("/p", 4)
    http_server.add("/empty", b"")
    http_server.add("/post", '"x"')
    td = await fetch_thing_description(session, url)
    client = WotClient(session, td)
    assert await client.read_property("p") == 4
    assert await client.read_property("empty") is None
    assert await client.read_property("post") == "x"
    assert ("POST", "/post", b"") in http_server.requests
    with pytest.raises(WotValidationError, match=r"\$\.properties\.nope: no such property"):
        await client.read_property("nope")
    with pytest.raises(WotValidationError, match="no form offers readproperty"):
        await client.read_property("w")


async def test_http_errors_and_bad_bodies(
    http_server: StaticServer, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(WotResponseError, match="HTTP 404") as err:
        await fetch_thing_description(session, http_server.url("/missing"))
    assert err.value.status == 404
    with pytest.raises(WotResponseError, match="not valid JSON"):
        await fetch_thing_description(session, http_server.add("/garbage", b"\xff{not json"))
    with pytest.raises(WotValidationError, match="unsupported URI scheme 'file'"):
        await fetch_thing_description(session, "file:///etc/passwd")


async def test_response_size_caps(
    http_server: StaticServer, session: aiohttp.ClientSession
) -> None:
    td = parse_td(
        {"title": "T", "properties": {"big": {"forms": [{"href": http_server.url("/big")}]}}}
    )
    http_server.add("/big", b"1" * (MAX_RESPONSE_BYTES + 1))
    with pytest.raises(WotResponseError, match="exceeds the 262144-byte limit"):
        await WotClient(session, td).read_property("big")
    with pytest.raises(WotResponseError, match="exceeds the 1048576-byte limit"):
        await fetch_thing_description(
            session, http_server.add("/hugetd", b" " * (1024 * 1024 + 10))
        )


async def test_chunked_response_over_the_cap(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    """A streamed body without Content-Length is cut off at the limit, not read to the end."""

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(100):
            await response.write(b"9" * 65536)
        return response

    app = web.Application()
    app.router.add_get("/stream", endless)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        td = parse_td(
            {
                "title": "T",
                "properties": {"s": {"forms": [{"href": f"http://127.0.0.1:{port}/stream"}]}},
            }
        )
        with pytest.raises(WotResponseError, match="exceeds the 262144-byte limit"):
            await WotClient(session, td).read_property("s")
    finally:
        await runner.cleanup()


async def test_timeout_and_refused(socket_enabled: None, session: aiohttp.ClientSession) -> None:
    release = asyncio.Event()

    async def silent(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/slow", silent)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        td = parse_td(
            {
                "title": "T",
                "properties": {"s": {"forms": [{"href": f"http://127.0.0.1:{port}/slow"}]}},
            }
        )
        with pytest.raises(WotConnectionError, match=r"no answer within 0\.2 s"):
            await WotClient(session, td, request_timeout=0.2).read_property("s")
    finally:
        release.set()
        await runner.cleanup()
    with pytest.raises(WotConnectionError, match=r"GET http://127\.0\.0\.1:9/td"):
        await fetch_thing_description(session, "http://127.0.0.1:9/td")


# ------------------------------------------------------------------------------------------
# writes, actions, read-all, hosts


class Recording:
    """A loopback server whose routes are handlers set by the test; it records requests."""

    def __init__(self) -> None:
        self.handlers: dict[tuple[str, str], Any] = {}
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.runner: web.AppRunner | None = None
        self.base = ""

    def route(self, method: str, path: str, handler: Any) -> None:
        self.handlers[(method, path)] = handler

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append((request.method, request.path_qs, dict(request.headers), body))
        handler = self.handlers.get((request.method, request.path))
        if handler is None:
            return web.Response(status=404)
        result: web.StreamResponse = await handler(request, body)
        return result

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.base = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self.base


@pytest.fixture
async def rec(socket_enabled: None) -> AsyncGenerator[Recording]:
    server = Recording()
    await server.start()
    yield server
    assert server.runner is not None
    await server.runner.cleanup()


def reply(value: Any = None, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    async def handler(request: web.Request, body: bytes) -> web.Response:
        if value is None:
            return web.Response(status=status, headers=headers)
        return web.json_response(value, status=status, headers=headers)

    return handler


LAMP = {
    "title": "Lamp",
    "properties": {
        "level": {
            "type": "integer",
            "minimum": 0,
            "maximum": 100,
            "forms": [{"href": "/properties/level"}],
        },
        "on": {"type": "boolean", "forms": [{"href": "/properties/on"}]},
        "room": {
            "type": "string",
            "readOnly": True,
            "uriVariables": {"unit": {"type": "string"}},
            "forms": [{"href": "/properties/room{?unit}"}],
        },
    },
    "actions": {
        "toggle": {"forms": [{"href": "/actions/toggle"}]},
        "fade": {
            "input": {"type": "object", "properties": {"level": {"type": "integer"}}},
            "forms": [{"href": "/actions/fade"}],
        },
    },
}


async def test_write_property_td_and_webthings(
    rec: Recording, session: aiohttp.ClientSession
) -> None:
    rec.route("PUT", "/properties/level", reply(status=204))
    rec.route("PUT", "/properties/on", reply({"on": True}))
    td = parse_td(LAMP, source_url=f"{rec.base}/td")
    client = WotClient(session, td)
    await client.write_property("level", 40)
    method, path, headers, body = rec.seen[-1]
    assert (method, path, body) == ("PUT", "/properties/level", b"40")
    assert headers["Content-Type"] == "application/json"
    with pytest.raises(
        WotValidationError, match=r"\$\.properties\.level: level must be at most 100"
    ):
        await client.write_property("level", 140)
    with pytest.raises(WotValidationError, match="no form offers writeproperty"):
        await client.write_property("room", "x")
    assert len(rec.seen) == 1

    webthing = parse_td(
        {
            "title": "Lamp",
            "properties": {"on": {"type": "boolean", "links": [{"href": "/properties/on"}]}},
        },
        source_url=f"{rec.base}/things/lamp",
    )
    assert webthing.dialect == "webthings"
    await WotClient(session, webthing).write_property("on", True)
    assert rec.seen[-1][0::3] == ("PUT", b'{"on":true}')


async def test_read_webthings_unwraps_and_uri_variables(
    rec: Recording, session: aiohttp.ClientSession
) -> None:
    rec.route("GET", "/properties/on", reply({"on": False}))
    rec.route("GET", "/properties/room", reply("kitchen"))
    webthing = parse_td(
        {"title": "L", "properties": {"on": {"links": [{"href": "/properties/on"}]}}},
        source_url=f"{rec.base}/things/lamp",
    )
    assert await WotClient(session, webthing).read_property("on") is False
    client = WotClient(session, parse_td(LAMP, source_url=f"{rec.base}/td"))
    assert await client.read_property("room", {"unit": "m 2"}) == "kitchen"
    assert rec.seen[-1][1] == "/properties/room?unit=m%202"


async def test_invoke_synchronous(rec: Recording, session: aiohttp.ClientSession) -> None:
    rec.route("POST", "/actions/toggle", reply(status=204))
    rec.route("POST", "/actions/fade", reply({"done": True}))
    client = WotClient(session, parse_td(LAMP, source_url=f"{rec.base}/td"))
    result = await client.invoke_action("toggle")
    assert result == ActionResult(status="completed", output=None)
    _, _, headers, body = rec.seen[-1]
    assert body == b""
    assert "Content-Type" not in headers
    result = await client.invoke_action("fade", {"level": 3})
    assert result.output == {"done": True}
    assert rec.seen[-1][2]["Content-Type"] == "application/json"
    assert rec.seen[-1][3] == b'{"level":3}'
    with pytest.raises(WotValidationError, match=r"\$\.actions\.fade: input\.level must be"):
        await client.invoke_action("fade", {"level": "high"})
    with pytest.raises(WotValidationError, match="no such action"):
        await client.invoke_action("explode")


async def test_invoke_asynchronous_201_location(
    rec: Recording, session: aiohttp.ClientSession
) -> None:
    statuses = iter(
        [
            {"status": "running"},
            {"status": "completed", "output": 17, "href": "/actions/fade/1"},
        ]
    )

    async def status(request: web.Request, body: bytes) -> web.Response:
        return web.json_response(next(statuses))

    rec.route(
        "POST", "/actions/fade", reply({"status": "pending"}, 201, {"Location": "/actions/fade/1"})
    )
    rec.route("GET", "/actions/fade/1", status)
    client = WotClient(
        session, parse_td(LAMP, source_url=f"{rec.base}/td"), action_poll_interval=0.001
    )
    result = await client.invoke_action("fade", {"level": 5})
    assert result.status == "completed"
    assert result.output == 17
    assert str(result.href) == f"{rec.base}/actions/fade/1"
    assert [s[:2] for s in rec.seen].count(("GET", "/actions/fade/1")) == 2

    # An ActionStatus body (no Location) that reports failure.
    rec.route(
        "POST",
        "/actions/toggle",
        reply({"status": "pending", "href": "/actions/toggle/9"}, 201),
    )
    rec.route("GET", "/actions/toggle/9", reply({"status": "failed", "error": {"title": "jam"}}))
    result = await client.invoke_action("toggle")
    assert (result.status, result.error) == ("failed", {"title": "jam"})


async def test_invoke_asynchronous_gives_up_after_the_action_timeout(
    rec: Recording, session: aiohttp.ClientSession
) -> None:
    rec.route("POST", "/actions/toggle", reply({"status": "pending", "href": "/q/1"}, 201))
    rec.route("GET", "/q/1", reply({"status": "running"}))
    client = WotClient(
        session,
        parse_td(LAMP, source_url=f"{rec.base}/td"),
        action_timeout=0.05,
        action_poll_interval=0.01,
    )
    result = await client.invoke_action("toggle")
    assert result.status == "running"
    assert result.href == URL(f"{rec.base}/q/1")


async def test_invoke_status_href_on_another_host_is_refused(
    rec: Recording, session: aiohttp.ClientSession
) -> None:
    rec.route(
        "POST", "/actions/toggle", reply({"status": "pending", "href": "http://10.0.0.1/x"}, 201)
    )
    client = WotClient(session, parse_td(LAMP, source_url=f"{rec.base}/td"))
    with pytest.raises(WotValidationError, match=r"points to host 10\.0\.0\.1:80"):
        await client.invoke_action("toggle")


async def test_invoke_webthings_queue(rec: Recording, session: aiohttp.ClientSession) -> None:
    polls = iter(
        [
            {"fade": {"status": "pending", "href": "/things/lamp/actions/fade/abc"}},
            {"fade": {"status": "completed", "href": "/things/lamp/actions/fade/abc"}},
        ]
    )

    async def poll(request: web.Request, body: bytes) -> web.Response:
        return web.json_response(next(polls))

    rec.route(
        "POST",
        "/things/lamp/actions/fade",
        reply(
            {
                "fade": {
                    "input": {"level": 1},
                    "href": "/things/lamp/actions/fade/abc",
                    "status": "created",
                }
            },
            201,
        ),
    )
    rec.route("GET", "/things/lamp/actions/fade/abc", poll)
    td = parse_td(
        {
            "title": "Lamp",
            "properties": {"on": {"links": [{"href": "/things/lamp/properties/on"}]}},
            "actions": {
                "fade": {
                    "input": {"type": "object"},
                    "links": [{"href": "/things/lamp/actions/fade"}],
                }
            },
        },
        source_url=f"{rec.base}/things/lamp",
    )
    client = WotClient(session, td, action_poll_interval=0.001)
    result = await client.invoke_action("fade", {"level": 1})
    assert rec.seen[0][3] == b'{"fade":{"input":{"level":1}}}'
    assert result.status == "completed"
    assert result.href == URL(f"{rec.base}/things/lamp/actions/fade/abc")


async def test_read_all_with_thing_level_form(
    rec: Recording, session: aiohttp.ClientSession
) -> None:
    rec.route("GET", "/properties", reply({"level": 3, "on": True, "stray": 1}))
    td = parse_td(
        {**LAMP, "forms": [{"op": "readallproperties", "href": "/properties"}]},
        source_url=f"{rec.base}/td",
    )
    assert await WotClient(session, td).read_all_properties() == {"level": 3, "on": True}
    assert [s[1] for s in rec.seen] == ["/properties"]
    # An unusable answer from the Thing-level form falls back to single reads.
    rec.route("GET", "/properties", reply(status=500))
    rec.route("GET", "/properties/level", reply(9))
    rec.route("GET", "/properties/on", reply(False))
    values = await WotClient(session, td).read_all_properties()
    assert values == {"level": 9, "on": False}  # room failed with HTTP 404 and is left out


async def test_read_all_one_by_one(rec: Recording, session: aiohttp.ClientSession) -> None:
    rec.route("GET", "/properties/level", reply(9))
    rec.route("GET", "/properties/on", reply(status=500))
    td = parse_td(LAMP, source_url=f"{rec.base}/td")
    assert await WotClient(session, td).read_all_properties() == {"level": 9}
    rec.route("GET", "/properties/on", reply(status=401))
    with pytest.raises(WotAuthError):
        await WotClient(session, td).read_all_properties()
    unreachable = parse_td(LAMP, source_url="http://127.0.0.1:9/td")
    with pytest.raises(WotConnectionError):
        await WotClient(session, unreachable).read_all_properties()


async def test_allowed_hosts(rec: Recording, session: aiohttp.ClientSession) -> None:
    rec.route("GET", "/p", reply(1))
    other = StaticServer()
    await other.start()
    try:
        other.add("/q", 2)
        port = URL(rec.base).port
        raw = {
            "title": "T",
            "properties": {
                "here": {"forms": [{"href": "/p"}]},
                "named": {"forms": [{"href": f"http://localhost:{port}/p"}]},
                "other_port": {"forms": [{"href": other.url("/q")}]},
            },
        }
        td = parse_td(raw, source_url=f"{rec.base}/td")
        client = WotClient(session, td)
        assert await client.read_property("here") == 1
        with pytest.raises(
            WotValidationError,
            match=rf"\$\.properties\.named\.forms: href points to host localhost:{port}; "
            "allow other hosts in the options",
        ):
            await client.read_property("named")
        with pytest.raises(WotValidationError, match=f"points to host 127.0.0.1:{other.port}"):
            await client.read_property("other_port")
        assert other.requests == []
        for allowed in ({"127.0.0.1"}, {f"127.0.0.1:{other.port}"}, frozenset({"*"})):
            assert (
                await WotClient(session, td, allowed_hosts=allowed).read_property("other_port") == 2
            )
        with pytest.raises(WotValidationError, match="points to host"):
            await WotClient(session, td, allowed_hosts={"127.0.0.1:1"}).read_property("other_port")
        # Without source_url the TD's base names the Thing's host.
        based = parse_td({**raw, "base": f"{rec.base}/"})
        with pytest.raises(WotValidationError, match="points to host localhost"):
            await WotClient(session, based).read_property("named")
        assert len(rec.seen) == 1
    finally:
        await other.stop()


async def test_fetch_json_refuses_other_schemes(session: aiohttp.ClientSession) -> None:
    with pytest.raises(WotValidationError, match="unsupported URI scheme 'ftp'"):
        await fetch_json(session, "ftp://127.0.0.1/x")
    with pytest.raises(WotValidationError, match="no host"):
        await fetch_json(session, "http:///x")


async def test_redirects_follow_the_host_rules(
    rec: Recording, session: aiohttp.ClientSession
) -> None:
    other = StaticServer()
    await other.start()
    try:
        other.add("/elsewhere", 5)
        rec.route("GET", "/moved", reply(status=302, headers={"Location": "/p"}))
        rec.route("GET", "/p", reply(4))
        rec.route("GET", "/away", reply(status=307, headers={"Location": other.url("/elsewhere")}))
        td = parse_td(
            {
                "title": "T",
                "properties": {
                    "moved": {"forms": [{"href": "/moved"}]},
                    "away": {"forms": [{"href": "/away"}]},
                },
            },
            source_url=f"{rec.base}/td",
        )
        assert await WotClient(session, td).read_property("moved") == 4
        with pytest.raises(
            WotValidationError, match=rf"^GET {rec.base}/away: redirect points to host 127.0.0.1:"
        ):
            await WotClient(session, td).read_property("away")
        assert other.requests == []
        assert await WotClient(session, td, allowed_hosts={"*"}).read_property("away") == 5
    finally:
        await other.stop()


async def test_read_all_webthings_properties_link(
    rec: Recording, session: aiohttp.ClientSession
) -> None:
    rec.route("GET", "/things/lamp/properties", reply({"on": True, "level": 3}))
    td = parse_td(
        {
            "title": "Lamp",
            "properties": {
                "on": {"links": [{"href": "/things/lamp/properties/on"}]},
                "level": {"links": [{"href": "/things/lamp/properties/level"}]},
            },
            "links": [{"rel": "properties", "href": "/things/lamp/properties"}],
        },
        source_url=f"{rec.base}/things/lamp",
    )
    assert await WotClient(session, td).read_all_properties() == {"on": True, "level": 3}
    assert [s[1] for s in rec.seen] == ["/things/lamp/properties"]


async def test_text_bodies_defaults_and_odd_answers(
    rec: Recording, session: aiohttp.ClientSession
) -> None:
    rec.route("GET", "/text", _text("hello there"))
    rec.route("PUT", "/text", reply(status=204))
    rec.route("GET", "/values", reply([1, 2]))
    rec.route("GET", "/room", reply("hall"))
    td = parse_td(
        {
            "title": "T",
            "uriVariables": {"unit": {"type": "string", "default": "m"}},
            "properties": {
                "label": {"forms": [{"href": "/text", "contentType": "text/plain"}]},
                "num": {"type": "number", "forms": [{"href": "/num"}]},
                "room": {"forms": [{"href": "/room{?unit}"}]},
                "ws_only": {"forms": [{"href": "ws://127.0.0.1:9/x"}]},
            },
            "forms": [{"op": "readallproperties", "href": "/values"}],
        },
        source_url=f"{rec.base}/td",
    )
    client = WotClient(session, td)
    assert await client.read_property("label") == "hello there"
    await client.write_property("label", "plain words")
    assert rec.seen[-1][3] == b"plain words"
    with pytest.raises(WotValidationError, match=r"\$\.properties\.num: value cannot be sent"):
        await client.write_property("num", float("nan"))
    assert await client.read_property("room") == "hall"
    assert rec.seen[-1][1] == "/room?unit=m"  # the schema's default
    with pytest.raises(WotValidationError, match="no readproperty form uses http/https"):
        await client.read_property("ws_only")
    # A readallproperties answer that is not an object: read one by one instead.
    values = await client.read_all_properties()
    assert values == {"label": "hello there", "room": "hall"}


def _text(body: str) -> Any:
    async def handler(request: web.Request, _: bytes) -> web.Response:
        return web.Response(text=body, content_type="text/plain")

    return handler


async def test_action_edge_cases(rec: Recording, session: aiohttp.ClientSession) -> None:
    rec.route("POST", "/a/ftp", reply({"status": "pending", "href": "ftp://127.0.0.1/x"}, 201))
    rec.route("POST", "/a/list", reply({"status": "pending", "href": "/q/list"}, 201))
    rec.route("GET", "/q/list", reply(["not", "a", "status"]))
    rec.route("POST", "/a/key", reply({"status": "running", "href": "/q/key"}, 201))
    rec.route("GET", "/q/key", _keyed_status())
    rec.route("POST", "/things/t/actions/go", reply({"go": {}}))
    td = parse_td(
        {
            "title": "T",
            "securityDefinitions": {"k": {"scheme": "apikey", "in": "query", "name": "key"}},
            "security": "k",
            "actions": {
                "ftp": {"forms": [{"href": "/a/ftp"}]},
                "list": {"forms": [{"href": "/a/list"}]},
                "key": {"forms": [{"href": "/a/key"}]},
            },
        },
        source_url=f"{rec.base}/td",
    )
    client = WotClient(
        session, td, credentials=Credentials(api_key="sek"), action_poll_interval=0.001
    )
    with pytest.raises(WotValidationError, match="'ftp' scheme"):
        await client.invoke_action("ftp")
    with pytest.raises(WotResponseError, match=r"action status is not an object"):
        await client.invoke_action("list")
    result = await client.invoke_action("key")
    assert result.status == "completed"
    assert rec.seen[-1][1] == "/q/key?key=sek"  # the status is queried with the credentials
    webthing = parse_td(
        {"title": "T", "actions": {"go": {"links": [{"href": "/things/t/actions/go"}]}}},
        source_url=f"{rec.base}/things/t",
    )
    # A WebThings answer without a request status is a plain synchronous result.
    assert await WotClient(session, webthing).invoke_action("go") == ActionResult(
        status="completed", output={"go": {}}
    )
    assert rec.seen[-1][3] == b'{"go":{}}'


def _keyed_status() -> Any:
    async def handler(request: web.Request, _: bytes) -> web.Response:
        if request.query.get("key") != "sek":
            return web.Response(status=401)
        return web.json_response({"status": "completed"})

    return handler


async def test_fetch_json_bad_url_and_timeout(
    socket_enabled: None, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(WotValidationError, match="not a valid URL"):
        await fetch_json(session, "http://[::1")
    release = asyncio.Event()

    async def silent(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="1")

    app = web.Application()
    app.router.add_get("/slow", silent)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/slow"
        with pytest.raises(WotConnectionError, match=r"no answer within 0\.1 s"):
            await fetch_json(session, url, request_timeout=0.1)
    finally:
        release.set()
        await runner.cleanup()


async def test_output_that_looks_like_a_status_is_output(
    rec: Recording, session: aiohttp.ClientSession
) -> None:
    """A 200 answer is the action's output even when it has a ``status`` member (node-wot)."""
    rec.route("POST", "/actions/start", reply({"status": "running", "count": 0}))
    td = {"title": "T", "actions": {"start": {"forms": [{"href": "/actions/start"}]}}}
    client = WotClient(session, parse_td(td, source_url=f"{rec.base}/td"))
    result = await client.invoke_action("start")
    assert result == ActionResult(status="completed", output={"status": "running", "count": 0})


async def test_json_forms_are_preferred_over_other_content_types(
    rec: Recording, session: aiohttp.ClientSession
) -> None:
    rec.route("PUT", "/json/level", reply(status=204))
    td = {
        "title": "T",
        "properties": {
            "level": {
                "type": "integer",
                "forms": [
                    {"href": "/cbor/level", "contentType": "application/cbor"},
                    {"href": "/json/level", "contentType": "application/json"},
                ],
            }
        },
    }
    client = WotClient(session, parse_td(td, source_url=f"{rec.base}/td"))
    await client.write_property("level", 4)
    method, path, headers, body = rec.seen[-1]
    assert (method, path, body) == ("PUT", "/json/level", b"4")
    assert headers["Content-Type"] == "application/json"
