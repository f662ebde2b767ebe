"""The HTTP client against a real loopback server: limits, timeouts and errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import aiohttp
from aiohttp import web
import pytest

from custom_components.thingbridge.wot import (
    WotClient,
    WotConnectionError,
    WotResponseError,
    WotValidationError,
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
