"""The host rule on every hop: redirects from a hostile Thing or directory on loopback.

Each test runs the Thing (or directory) on one loopback port and an "evil" server on another,
to which the Thing redirects; the evil server records what reached it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
from aiohttp import web
import pytest
from yarl import URL

from custom_components.thingbridge.wot import (
    Credentials,
    WotClient,
    WotError,
    WotResponseError,
    WotValidationError,
    fetch_json,
    fetch_thing_description,
    parse_td,
)
from custom_components.thingbridge.wot.discovery import explore
from custom_components.thingbridge.wot.transport import MAX_REDIRECTS
from tests.lib.route_server import Server, running_server

API_KEY = "k3y-for-the-thing-only"
EVIL_TD = {"title": "Evil", "properties": {"p": {"forms": [{"href": "http://192.0.2.1/p"}]}}}


@pytest.fixture
async def thing(socket_enabled: None) -> AsyncGenerator[Server]:
    async with running_server() as server:
        yield server


@pytest.fixture
async def evil(socket_enabled: None) -> AsyncGenerator[Server]:
    async with running_server() as server:
        server.json("/x", EVIL_TD)
        yield server


@pytest.fixture
async def session() -> AsyncGenerator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def redirect(server: Server, path: str, location: str, status: int = 302) -> None:
    """``path`` on ``server`` answers a redirect to ``location``."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location})

    server.routes[path] = handler


def apikey_td(thing: Server, ws_href: str) -> Any:
    """A WebThings-dialect Thing whose API key goes in a header, with a WebSocket link."""
    return parse_td(
        {
            "title": "Lamp",
            "securityDefinitions": {"k": {"scheme": "apikey", "in": "header", "name": "apikey"}},
            "security": "k",
            "properties": {"on": {"type": "boolean", "links": [{"href": "/on"}]}},
            "links": [{"rel": "alternate", "href": ws_href}],
        },
        source_url=thing.url("/things/lamp"),
    )


def apikeys_seen(server: Server) -> list[str | None]:
    return [headers.get("apikey") for headers in server.headers]


# ------------------------------------------------------------------------------------------
# 1. the WebSocket push channel


async def test_websocket_redirect_to_another_port_is_refused(
    thing: Server, evil: Server, session: aiohttp.ClientSession
) -> None:
    """The Thing answers its WebSocket handshake with a 302 to another port of the same host."""
    redirect(thing, "/ws", evil.url("/x"))
    td = apikey_td(thing, thing.url("/ws").replace("http://", "ws://"))
    client = WotClient(session, td, credentials=Credentials(api_key=API_KEY))
    applied = client.transport.auth.for_security(None)
    with pytest.raises(
        WotValidationError,
        match=rf"^GET ws://127\.0\.0\.1:{thing.port}/ws: redirect points to host "
        rf"127\.0\.0\.1:{evil.port}; allow other hosts in the options$",
    ):
        await client.transport.websocket(
            td.websocket, applied=applied, protocols=("webthing",), heartbeat=None, max_msg_size=1
        )
    assert apikeys_seen(thing) == [API_KEY]
    assert evil.requests == []  # nothing reached the other port, least of all the key


async def test_websocket_redirect_to_an_allowed_host_carries_no_credentials(
    thing: Server, evil: Server, session: aiohttp.ClientSession
) -> None:
    """With every host allowed, the hop is made, but the API key stays with the Thing."""
    redirect(thing, "/ws", evil.url("/x"))
    td = apikey_td(thing, thing.url("/ws").replace("http://", "ws://"))
    client = WotClient(session, td, credentials=Credentials(api_key=API_KEY), allowed_hosts={"*"})
    applied = client.transport.auth.for_security(None)
    with pytest.raises(WotResponseError, match="WebSocket handshake failed"):
        await client.transport.websocket(
            td.websocket, applied=applied, protocols=("webthing",), heartbeat=None, max_msg_size=1
        )
    assert apikeys_seen(thing) == [API_KEY]
    assert evil.paths() == ["/x"]
    assert apikeys_seen(evil) == [None]


async def test_http_redirect_to_an_allowed_host_carries_no_api_key(
    thing: Server, evil: Server, session: aiohttp.ClientSession
) -> None:
    """aiohttp drops ``Authorization`` on a cross-origin redirect, not an API key header."""
    redirect(thing, "/on", evil.url("/x"), status=307)
    td = apikey_td(thing, thing.url("/ws").replace("http://", "ws://"))
    client = WotClient(session, td, credentials=Credentials(api_key=API_KEY), allowed_hosts={"*"})
    assert await client.read_property("on") == EVIL_TD
    assert apikeys_seen(thing) == [API_KEY]
    assert apikeys_seen(evil) == [None]


# ------------------------------------------------------------------------------------------
# 2. fetching Thing Descriptions and exploring directories


async def test_td_fetch_redirect_to_another_port_is_refused(
    thing: Server, evil: Server, session: aiohttp.ClientSession
) -> None:
    redirect(thing, "/td", evil.url("/x"))
    with pytest.raises(
        WotValidationError,
        match=rf"^GET {thing.url('/td')}: redirect points to host 127\.0\.0\.1:{evil.port}; ",
    ):
        await fetch_thing_description(
            session, thing.url("/td"), credentials=Credentials(token=API_KEY)
        )
    assert evil.requests == []
    # Another name of the same host is another host too.
    redirect(thing, "/named", evil.url("/x", host="localhost"))
    with pytest.raises(WotValidationError, match=f"points to host localhost:{evil.port}"):
        await fetch_json(session, thing.url("/named"))
    assert evil.requests == []


async def test_td_fetch_redirects_the_user_allowed(
    thing: Server, evil: Server, session: aiohttp.ClientSession
) -> None:
    """Same origin: followed with the credentials. An allowed host: followed, without them."""
    thing.json("/real", {**EVIL_TD, "title": "Real"})
    redirect(thing, "/moved", "/real", status=301)
    redirect(thing, "/away", evil.url("/x"))
    creds = Credentials(token=API_KEY)
    assert (await fetch_thing_description(session, thing.url("/moved"), credentials=creds)).title
    assert [h.get("Authorization") for h in thing.headers] == [f"Bearer {API_KEY}"] * 2
    for allowed in ({"*"}, {f"127.0.0.1:{evil.port}"}):
        td = await fetch_thing_description(
            session, thing.url("/away"), credentials=creds, allowed_hosts=allowed
        )
        assert td.title == "Evil"
    assert [h.get("Authorization") for h in evil.headers] == [None, None]


async def test_redirects_are_bounded(thing: Server, session: aiohttp.ClientSession) -> None:
    for hop in range(MAX_REDIRECTS + 1):
        redirect(thing, f"/r{hop}", f"/r{hop + 1}")
    thing.json(f"/r{MAX_REDIRECTS}", {"title": "End"})
    assert await fetch_json(session, thing.url("/r0")) == {"title": "End"}
    redirect(thing, f"/r{MAX_REDIRECTS}", "/r0")  # now a loop
    thing.requests.clear()
    with pytest.raises(WotResponseError, match=f"more than {MAX_REDIRECTS} redirects"):
        await fetch_json(session, thing.url("/r0"))
    assert len(thing.requests) == MAX_REDIRECTS + 1


async def test_explore_redirect_to_another_port_is_refused(
    thing: Server, evil: Server, session: aiohttp.ClientSession
) -> None:
    """``explore`` compared the host of each hop, not its port."""
    redirect(thing, "/td", evil.url("/x"))
    with pytest.raises(
        WotValidationError, match=f"link to another host '127.0.0.1:{evil.port}' not followed"
    ):
        await explore(session, thing.url("/td"), credentials=Credentials(token=API_KEY))
    assert evil.requests == []
    # A listing whose entry links to another port of the directory's host.
    thing.json(
        "/things",
        [{"@type": "ThingLink", "links": [{"rel": "describedby", "href": evil.url("/x")}]}],
    )
    result = await explore(session, thing.url("/things"))
    assert result.things == []
    assert "another host '127.0.0.1:" in str(result.rejected[0][1])
    assert evil.requests == []
    # Allowed by host:port, it is followed, without the credentials.
    result = await explore(
        session,
        thing.url("/td"),
        credentials=Credentials(token=API_KEY),
        allowed_hosts=frozenset({f"127.0.0.1:{evil.port}"}),
    )
    assert [td.title for td in result.things] == ["Evil"]
    assert [h.get("Authorization") for h in evil.headers] == [f"Bearer {API_KEY}"]


# ------------------------------------------------------------------------------------------
# 3. template hrefs that are no URL


@pytest.mark.parametrize("value", ["@127.0.0.1:{port}/x", ".evil:{port}/x"])
async def test_template_href_expanding_to_another_host_is_a_wot_error(
    thing: Server, evil: Server, session: aiohttp.ClientSession, value: str
) -> None:
    """``http://127.0.0.1:PORT{+v}``: a user-info trick, or a port yarl cannot parse."""
    td = parse_td(
        {
            "title": "T",
            "properties": {
                "p": {
                    "uriVariables": {"v": {"type": "string"}},
                    "forms": [{"href": f"http://127.0.0.1:{thing.port}{{+v}}"}],
                }
            },
        },
        source_url=thing.url("/td"),
    )
    with pytest.raises(WotError, match=r"^\$\.properties\.p\.forms: ") as err:
        await WotClient(session, td).read_property("p", {"v": value.format(port=evil.port)})
    assert isinstance(err.value, WotValidationError)
    assert thing.requests == evil.requests == []


async def test_listed_td_url_moved_to_the_listing_host_keeps_its_path(
    thing: Server, evil: Server, session: aiohttp.ClientSession
) -> None:
    """node-wot entries on another name are read from the listing's host: a path starting with
    ``//`` must not become another host and port there."""
    thing.json(
        "/",
        [
            f"http://other.test:{thing.port}//127.0.0.1:{evil.port}/x",
            f"http://other.test:{thing.port}//127.0.0.1:1x/x",
        ],
    )
    result = await explore(session, thing.url("/"), credentials=Credentials(token=API_KEY))
    assert result.things == []
    assert len(result.rejected) == 2
    assert evil.requests == []
    assert len(thing.requests) == 3  # the listing, then each path on the listing's host


async def test_a_url_yarl_parses_lazily_is_refused_with_a_wot_error(
    session: aiohttp.ClientSession,
) -> None:
    """yarl checks the port of a URL built from encoded text only when it is asked for."""
    td = parse_td(EVIL_TD, source_url="http://127.0.0.1:8000/td")
    transport = WotClient(session, td).transport
    with pytest.raises(WotValidationError, match=r"^where: href is not a valid URL \(.*port"):
        transport.check_url(URL("http://127.0.0.1:1x/p", encoded=True), "where")
