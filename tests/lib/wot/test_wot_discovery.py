"""WoT discovery: DNS-SD advertisements, exploring directories and multi-Thing servers.

The HTTP tests run real aiohttp servers on 127.0.0.1 ("localhost" plays another host: it
resolves to the same loopback address but is a different host name, which is what the
same-host rule looks at). The mDNS round trip runs inside a private network namespace.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Mapping
import json
import os
from pathlib import Path
import socket
import subprocess
import sys
import textwrap
from typing import Any

import aiohttp
from aiohttp import web
import pytest
from zeroconf import ServiceInfo

from custom_components.thingbridge.wot import Credentials, WotClient, WotValidationError
from custom_components.thingbridge.wot.discovery import (
    MAX_THINGS,
    PAGE_SIZE,
    DiscoveredService,
    _merge_services,
    _pick_address,
    explore,
    is_directory,
    service_from_info,
    service_from_zeroconf,
)
from custom_components.thingbridge.wot.errors import (
    WotAuthError,
    WotConnectionError,
    WotResponseError,
    WotTimeoutError,
)
from custom_components.thingbridge.wot.td import MAX_TD_BYTES
from tests.lib.route_server import Handler, Server, running_server

REPO = Path(__file__).resolve().parents[3]

# --------------------------------------------------------------------------------------------
# service_from_zeroconf


ZEROCONF_CASES: list[tuple[str, str, str, str, int, dict[str, Any], tuple[str, str, str]]] = [
    # id, service type, instance name, host, port, TXT -> (kind, name, url)
    (
        "spec td+type+scheme",
        "_wot._tcp.local.", "Lamp._wot._tcp.local.", "192.168.1.20", 80,
        {"td": "/things/lamp", "type": "Thing", "scheme": "http"},
        ("thing", "Lamp", "http://192.168.1.20/things/lamp"),
    ),
    (
        "https scheme and port",
        "_wot._tcp.local.", "Lamp._wot._tcp.local.", "192.168.1.20", 8443,
        {"td": "/td", "scheme": "HTTPS"},
        ("thing", "Lamp", "https://192.168.1.20:8443/td"),
    ),
    (
        "missing TXT -> well-known",
        "_wot._tcp.local.", "Meter._wot._tcp.local.", "10.0.0.7", 8080, {},
        ("thing", "Meter", "http://10.0.0.7:8080/.well-known/wot"),
    ),
    (
        "TXT keys without values",
        "_wot._tcp.local.", "Meter._wot._tcp.local.", "10.0.0.7", 8080,
        {"td": None, "scheme": None, "type": None},
        ("thing", "Meter", "http://10.0.0.7:8080/.well-known/wot"),
    ),
    (
        "old well-known path (Hitachi ESP32)",
        "_wot._tcp.local.", "ktom5stack._wot._tcp.local.", "192.168.0.9", 80,
        {"td": "/.well-known/wot-thing-description", "type": "Thing"},
        ("thing", "ktom5stack", "http://192.168.0.9/.well-known/wot-thing-description"),
    ),
    (
        "IPv6 host is bracketed",
        "_wot._tcp.local.", "Six._wot._tcp.local.", "fd00::1a", 8080, {"td": "/td"},
        ("thing", "Six", "http://[fd00::1a]:8080/td"),
    ),
    (
        "IPv6 host given with brackets",
        "_wot._tcp.local.", "Six._wot._tcp.local.", "[2001:db8::5]", 80, {},
        ("thing", "Six", "http://[2001:db8::5]/.well-known/wot"),
    ),
    (
        "path + tls variant (wot-adapter)",
        "_wot._tcp.local.", "Sensor._wot._tcp.local.", "192.168.1.30", 443,
        {"path": "/wot/td", "tls": "1"},
        ("thing", "Sensor", "https://192.168.1.30/wot/td"),
    ),
    (
        "td wins over path; relative td gets a leading slash",
        "_wot._tcp.local.", "S._wot._tcp.local.", "192.168.1.30", 80,
        {"td": "things/s", "path": "/ignored"},
        ("thing", "S", "http://192.168.1.30/things/s"),
    ),
    (
        "td as an absolute URL",
        "_wot._tcp.local.", "S._wot._tcp.local.", "192.168.1.30", 80,
        {"td": "https://192.168.1.31:8443/td?v=1"},
        ("thing", "S", "https://192.168.1.31:8443/td?v=1"),
    ),
    (
        "TXT type=Directory",
        "_wot._tcp.local.", "TDD._wot._tcp.local.", "192.168.1.2", 8081,
        {"td": "/.well-known/wot", "type": "Directory"},
        ("directory", "TDD", "http://192.168.1.2:8081/.well-known/wot"),
    ),
    (
        "_directory subtype",
        "_directory._sub._wot._tcp.local.", "TDD._wot._tcp.local.", "192.168.1.2", 8081, {},
        ("directory", "TDD", "http://192.168.1.2:8081/.well-known/wot"),
    ),
    (
        "upper-case keys, bytes values, dotted instance name",
        "_wot._tcp.local.", "Kitchen.Lamp._wot._tcp.local.", "192.168.1.5", 80,
        {"TD": b"/k", "Type": b"thing"},
        ("thing", "Kitchen.Lamp", "http://192.168.1.5/k"),
    ),
    (
        "webthing path=/ (webthing-python, webthing-arduino)",
        "_webthing._tcp.local.", "Plug._webthing._tcp.local.", "192.168.1.40", 8888,
        {"path": "/"},
        ("webthing", "Plug", "http://192.168.1.40:8888/"),
    ),
    (
        "webthing without TXT, tls=1",
        "_webthing._tcp.local", "Plug._webthing._tcp.local", "192.168.1.40", 8888,
        {"tls": "1"},
        ("webthing", "Plug", "https://192.168.1.40:8888/"),
    ),
    (
        "webthing single-thing path",
        "_webthing._tcp.local.", "Lamp._webthing._tcp.local.", "192.168.1.41", 80,
        {"path": "/things/lamp"},
        ("webthing", "Lamp", "http://192.168.1.41/things/lamp"),
    ),
    (
        "CoAP scheme kept for the fetch to refuse",
        "_wot._tcp.local.", "C._wot._tcp.local.", "192.168.1.50", 5683,
        {"td": "/td", "scheme": "coap+tcp"},
        ("thing", "C", "coap+tcp://192.168.1.50:5683/td"),
    ),
    (
        "unknown instance suffix kept whole",
        "_wot._tcp.local.", "Odd", "192.168.1.50", 80, {},
        ("thing", "Odd", "http://192.168.1.50/.well-known/wot"),
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("service_type", "name", "host", "port", "txt", "expected"),
    [pytest.param(*case[1:], id=case[0]) for case in ZEROCONF_CASES],
)
def test_service_from_zeroconf(  # noqa: PLR0917
    service_type: str,
    name: str,
    host: str,
    port: int,
    txt: Mapping[str, Any],
    expected: tuple[str, str, str],
) -> None:
    service = service_from_zeroconf(service_type, name, host, port, txt)
    assert (service.kind, service.name, service.url) == expected
    assert service.host == host.strip("[]")
    assert service.port == port


def test_service_from_zeroconf_bad_input() -> None:
    with pytest.raises(WotValidationError, match="port: 0 is not a TCP port"):
        service_from_zeroconf("_wot._tcp.local.", "X._wot._tcp.local.", "10.0.0.1", 0, {})
    with pytest.raises(WotValidationError, match="host: empty host"):
        service_from_zeroconf("_wot._tcp.local.", "X._wot._tcp.local.", " ", 80, {})
    with pytest.raises(WotValidationError, match=r"txt\.td: unusable TD path"):
        service_from_zeroconf(
            "_wot._tcp.local.", "X._wot._tcp.local.", "10.0.0.1", 80, {"td": "http://[::1"}
        )


def test_service_from_resolved_info() -> None:
    info = ServiceInfo(
        "_wot._tcp.local.",
        "Lamp._wot._tcp.local.",
        addresses=[socket.inet_pton(socket.AF_INET6, "fd00::5"), socket.inet_aton("10.0.0.5")],
        port=8080,
        properties={"td": "/td", "flag": None},
        server="lamp.local.",
    )
    assert service_from_info("_wot._tcp.local.", info) == DiscoveredService(
        "thing", "Lamp", "http://10.0.0.5:8080/td", "10.0.0.5", 8080
    )
    # No address: the advertised host name is used.
    bare = ServiceInfo("_wot._tcp.local.", "Bare._wot._tcp.local.", port=80, server="bare.local.")
    assert service_from_info("_wot._tcp.local.", bare) == DiscoveredService(
        "thing", "Bare", "http://bare.local/.well-known/wot", "bare.local", 80
    )
    unusable = ServiceInfo("_wot._tcp.local.", "X._wot._tcp.local.", port=0, server="x.local.")
    assert service_from_info("_wot._tcp.local.", unusable) is None
    assert (
        service_from_info("_wot._tcp.local.", ServiceInfo("_wot._tcp.local.", "Y._wot._tcp.local."))
        is None
    )


def test_address_choice_and_merging() -> None:
    assert _pick_address(["fe80::1%2", "fd00::1", "169.254.3.3", "192.168.1.9"]) == "192.168.1.9"
    assert _pick_address(["fe80::1%2", "169.254.3.3"]) == "169.254.3.3"
    assert _pick_address(["fe80::1%2", "fd00::1"]) == "fd00::1"
    assert _pick_address(["fe80::1%2", "not-an-ip"]) == "fe80::1%2"
    assert _pick_address([]) is None
    thing_view = DiscoveredService("thing", "TDD", "http://10.0.0.2/td", "10.0.0.2", 80)
    directory_view = DiscoveredService("directory", "TDD", "http://10.0.0.2/td", "10.0.0.2", 80)
    lamp = DiscoveredService("thing", "lamp", "http://10.0.0.3/td", "10.0.0.3", 80)
    assert _merge_services([thing_view, None, directory_view, lamp, thing_view]) == [
        lamp,
        directory_view,
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"@type": "ThingDirectory"}, True),
        ({"@type": ["Thing", "discovery:ThingDirectory"]}, True),
        ({"@type": "https://www.w3.org/2022/wot/discovery#ThingDirectory"}, True),
        (
            {"@context": ["https://www.w3.org/2022/wot/td/v1.1",
                          {"discovery": "https://www.w3.org/2022/wot/discovery"}],
             "properties": {"things": {"forms": []}}},
            True,
        ),
        (
            {"@context": "https://w3c.github.io/wot-discovery/context/discovery-context.jsonld",
             "properties": {"things": {}}},
            True,
        ),
        (
            {"links": [{"rel": "type", "href": "https://example.org/directory.tm.json"}],
             "properties": {"things": {}}},
            True,
        ),
        ({"links": [{"rel": "type", "href": "lamp.tm.json"}], "properties": {"things": {}}}, False),
        ({"@context": "https://www.w3.org/2022/wot/td/v1.1", "properties": {"things": {}}}, False),
        ({"@type": "Light", "properties": {"on": {}}}, False),
        ({"properties": []}, False),
    ],
)  # fmt: skip
def test_is_directory(raw: dict[str, Any], expected: bool) -> None:
    assert is_directory(raw) is expected


# --------------------------------------------------------------------------------------------
# a loopback server whose routes the test writes


@pytest.fixture
async def server(socket_enabled: None) -> AsyncGenerator[Server]:
    async with running_server() as srv:
        yield srv


@pytest.fixture
async def session() -> AsyncGenerator[aiohttp.ClientSession]:
    # IPv4 only: "localhost" must resolve to 127.0.0.1 and nothing else.
    connector = aiohttp.TCPConnector(family=socket.AF_INET)
    async with aiohttp.ClientSession(connector=connector) as client_session:
        yield client_session


def thing(name: str, *, thing_id: str | None = None, href: str | None = None) -> dict[str, Any]:
    """A small valid TD with one readable property at an absolute-path href."""
    td: dict[str, Any] = {
        "@context": "https://www.w3.org/2022/wot/td/v1.1",
        "title": name,
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
        "security": "nosec_sc",
        "properties": {
            "temperature": {
                "type": "number",
                "unit": "°C",
                "readOnly": True,
                "forms": [{"href": href or f"/things/{name}/temperature"}],
            }
        },
    }
    if thing_id is not None:
        td["id"] = thing_id
    return td


def directory_td(things_href: str, *, paged: bool = False, **extra: Any) -> dict[str, Any]:
    things: dict[str, Any] = {
        "type": "array",
        "readOnly": True,
        "forms": [{"href": things_href, "contentType": "application/ld+json"}],
    }
    if paged:
        things["uriVariables"] = {
            "offset": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 1},
        }
    return {
        "@context": [
            "https://www.w3.org/2022/wot/td/v1.1",
            "https://www.w3.org/2022/wot/discovery",
        ],
        "@type": "ThingDirectory",
        "title": "Building directory",
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
        "security": "nosec_sc",
        "properties": {"things": things},
        **extra,
    }


# --------------------------------------------------------------------------------------------
# explore


async def test_single_td(server: Server, session: aiohttp.ClientSession) -> None:
    url = server.json("/td", thing("lamp", thing_id="urn:lamp"))
    result = await explore(session, url)
    assert result.title == "lamp"
    assert [td.id for td in result.things] == ["urn:lamp"]
    assert str(result.things[0].source_url) == url
    target = result.things[0].properties["temperature"].form_for("readproperty")
    assert target is not None
    assert str(target.target()) == server.url("/things/lamp/temperature")
    assert result.rejected == []
    # The client prefers TD media types.
    assert server.headers[0]["Accept"].startswith("application/td+json")


async def test_bare_origin_falls_back_to_well_known(
    server: Server, session: aiohttp.ClientSession
) -> None:
    server.json("/.well-known/wot-thing-description", thing("old"))
    result = await explore(session, server.url("/"))
    assert [td.title for td in result.things] == ["old"]
    assert server.paths() == ["/", "/.well-known/wot", "/.well-known/wot-thing-description"]
    # When nothing answers, the first error is the one reported.
    server.routes.clear()
    with pytest.raises(WotResponseError, match=r"GET http://127\.0\.0\.1:\d+/?: HTTP 404"):
        await explore(session, server.url(""))


async def test_listing_paged_by_link_header_with_a_broken_td(
    server: Server, session: aiohttp.ClientSession
) -> None:
    server.json(
        "/things",
        [thing("a", thing_id="urn:a"), thing("b", thing_id="urn:b")],
        headers={
            "Link": '</things>; rel="canonical", </things/page2?offset=2&limit=2>; rel="next"'
        },
    )
    broken = thing("c", thing_id="urn:c")
    broken["properties"]["temperature"]["forms"] = [{"href": "ftp://x/y"}]
    server.json(
        "/things/page2",
        [broken, thing("d", thing_id="urn:d")],
        headers={"Link": f'<{server.url("/things/page3")}>; rel="next"'},
    )
    server.json("/things/page3", [thing("e", thing_id="urn:e"), "not a TD"])
    result = await explore(session, server.url("/things"))
    assert result.title is None
    assert [td.title for td in result.things] == ["a", "b", "d", "e"]
    assert [(source, type(err)) for source, err in result.rejected] == [
        (server.url("/things/page2?offset=2&limit=2#0"), WotValidationError),
        (server.url("/things/page3#1"), WotValidationError),
    ]
    reason = result.rejected[0][1]
    assert isinstance(reason, WotValidationError)
    assert reason.path == "$.properties.temperature.forms[0].href"
    assert "unsupported URI scheme 'ftp'" in str(reason)
    assert str(result.rejected[1][1]) == "$: a Thing Description must be a JSON object"
    assert server.paths() == ["/things", "/things/page2?offset=2&limit=2", "/things/page3"]


async def test_directory_td_with_offset_limit_paging(
    server: Server, session: aiohttp.ClientSession
) -> None:
    tds = [thing(f"t{i:03}", thing_id=f"urn:t{i:03}") for i in range(PAGE_SIZE + 50)]

    async def things(request: web.Request) -> web.Response:
        offset = int(request.query.get("offset", "0"))
        limit = int(request.query.get("limit", "1000"))
        return web.json_response(tds[offset : offset + limit])

    server.routes["/things"] = things
    url = server.json("/.well-known/wot", directory_td("/things{?offset,limit}", paged=True))
    result = await explore(session, url)
    assert result.title == "Building directory"
    assert len(result.things) == PAGE_SIZE + 50
    assert result.things[-1].id == f"urn:t{PAGE_SIZE + 49:03}"
    assert result.rejected == []
    assert server.paths() == [
        "/.well-known/wot",
        f"/things?offset=0&limit={PAGE_SIZE}",
        f"/things?offset={PAGE_SIZE}&limit={PAGE_SIZE}",
    ]


async def test_a_larger_max_things_gets_the_pages_and_bytes_to_read_them(
    server: Server, session: aiohttp.ClientSession
) -> None:
    """A cap of 5,000 reads a 5,000-Thing directory paged at PAGE_SIZE to the end.

    The budgets that fit the default cap (50 documents, 32 MiB) stopped such a walk after 49
    listing pages (4,900 Things) before they grew with ``max_things``.
    """
    count = 5000
    tds = [thing(f"t{i:04}", thing_id=f"urn:t{i:04}") for i in range(count + 3)]

    async def things(request: web.Request) -> web.Response:
        offset = int(request.query.get("offset", "0"))
        limit = int(request.query.get("limit", "1000"))
        return web.json_response(tds[offset : offset + limit])

    server.routes["/things"] = things
    url = server.json("/.well-known/wot", directory_td("/things{?offset,limit}", paged=True))
    result = await explore(session, url, max_things=count)
    assert len(result.things) == count
    assert result.things[-1].id == f"urn:t{count - 1:04}"
    assert result.left_out == 3
    assert [str(err) for _source, err in result.rejected] == [
        f"stopped after {count} Things (max_things)"
    ]


async def test_server_ignoring_offset_does_not_loop(
    server: Server, session: aiohttp.ClientSession
) -> None:
    server.json("/things", [thing(f"t{i}") for i in range(PAGE_SIZE)])
    url = server.json("/.well-known/wot", directory_td("/things{?offset,limit}", paged=True))
    result = await explore(session, url)
    assert len(result.things) == PAGE_SIZE
    # The second page repeats the first one, which ends the walk.
    assert len(server.paths()) == 3


async def test_directory_without_paging_and_duplicate_ids(
    server: Server, session: aiohttp.ClientSession
) -> None:
    server.json(
        "/things",
        [thing("a", thing_id="urn:a"), thing("a again", thing_id="urn:a"), thing("no id")],
    )
    url = server.json("/dir", directory_td("/things"))
    result = await explore(session, url)
    assert [td.title for td in result.things] == ["a", "no id"]
    # An entry without id or href is told apart by its position in the listing.
    assert str(result.things[1].source_url) == server.url("/things#2")
    assert server.paths() == ["/dir", "/things"]


async def test_thing_collection_format(server: Server, session: aiohttp.ClientSession) -> None:
    server.json(
        "/things",
        {"@type": "ThingCollection", "total": 3, "members": [thing("a"), thing("b")],
         "next": "/things?page=2"},
    )  # fmt: skip

    async def page2(request: web.Request) -> web.Response:
        assert request.query["page"] == "2"
        return web.json_response({"@type": "ThingCollection", "members": [thing("c")]})

    server.routes["/things"] = _by_query(server.routes["/things"], "page", page2)
    result = await explore(session, server.url("/things"))
    assert [td.title for td in result.things] == ["a", "b", "c"]


def _by_query(first: Handler, key: str, other: Handler) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return await (other if key in request.query else first)(request)

    return handler


async def test_webthings_multi_thing_root(server: Server, session: aiohttp.ClientSession) -> None:
    def webthing(index: int, title: str) -> dict[str, Any]:
        return {
            "@context": "https://webthings.io/schemas",
            "@type": ["OnOffSwitch"],
            "id": f"urn:dev:ops:{index}",
            "title": title,
            "href": f"/{index}",
            "properties": {
                "on": {"@type": "OnOffProperty", "type": "boolean",
                       "links": [{"rel": "property", "href": f"/{index}/properties/on"}]},
            },
            "links": [{"rel": "alternate", "href": f"ws://127.0.0.1:{server.port}/{index}"}],
        }  # fmt: skip

    server.json("/", [webthing(0, "Plug"), webthing(1, "Lamp")])
    result = await explore(session, server.url("/"))
    assert [td.title for td in result.things] == ["Plug", "Lamp"]
    assert [str(td.source_url) for td in result.things] == [server.url("/0"), server.url("/1")]
    lamp = result.things[1]
    assert lamp.dialect == "webthings"
    form = lamp.properties["on"].form_for("readproperty")
    assert form is not None
    assert str(form.target()) == server.url("/1/properties/on")
    assert server.paths() == ["/"]


async def test_thing_link_is_followed(server: Server, session: aiohttp.ClientSession) -> None:
    server.json("/real", thing("target"))
    url = server.json(
        "/link",
        {"@context": ["https://www.w3.org/2022/wot/td/v1.1", "https://www.w3.org/2022/wot/discovery"],
         "@type": "ThingLink", "title": "link",
         "links": [{"rel": "describedby", "href": "/real", "type": "application/td+json"}]},
    )  # fmt: skip
    result = await explore(session, url)
    assert [td.title for td in result.things] == ["target"]
    assert result.title == "target"


async def test_listing_with_links_and_directories(
    server: Server, session: aiohttp.ClientSession
) -> None:
    def link(href: str) -> dict[str, Any]:
        return {
            "@type": "ThingLink",
            "title": "link",
            "links": [{"rel": "describedby", "href": href}],
        }

    server.json("/real", thing("linked"))
    server.json("/dir-td", directory_td("/things"))
    server.json(
        "/things",
        [
            thing("plain"),
            link("/real"),
            link("/missing"),
            link(server.url("/real", host="localhost")),
            link("/dir-td"),
            directory_td("/things"),  # a directory listing its own TD
        ],
    )
    result = await explore(session, server.url("/things"))
    assert [td.title for td in result.things] == ["plain", "linked"]
    assert [(source, str(err)) for source, err in result.rejected] == [
        (server.url("/missing"), f"GET {server.url('/missing')}: HTTP 404 Not Found"),
        (
            server.url("/real", host="localhost"),
            (
                f"{server.url('/things')}#3: link to another host 'localhost:{server.port}' "
                "not followed "
                "(allow it with allowed_hosts)"
            ),
        ),
        (server.url("/dir-td"), "$: a listed ThingLink must lead to a Thing's TD"),
        (server.url("/things#5"), "$.@type: a directory's TD, not a Thing: left out"),
    ]


async def test_cross_host_links_refused_unless_allowed(
    server: Server, session: aiohttp.ClientSession
) -> None:
    server.json("/things", [thing("remote")])
    url = server.json("/dir", directory_td(server.url("/things", host="localhost")))
    result = await explore(session, url)
    assert result.things == []
    [(source, err)] = result.rejected
    assert source == server.url("/things", host="localhost")
    assert f"link to another host 'localhost:{server.port}' not followed" in str(err)
    assert server.paths() == ["/dir"]  # nothing was sent to the other host

    for allowed in (frozenset({"LOCALHOST"}), frozenset({"*"})):
        result = await explore(session, url, allowed_hosts=allowed)
        assert [td.title for td in result.things] == ["remote"]
    assert ("/things", f"localhost:{server.port}") in server.requests

    # A next-page link to another host: the first page is kept.
    server.requests.clear()
    server.json(
        "/list",
        [thing("local")],
        headers={"Link": f'<{server.url("/things", host="localhost")}>; rel="next"'},
    )
    result = await explore(session, server.url("/list"))
    assert [td.title for td in result.things] == ["local"]
    assert f"another host 'localhost:{server.port}'" in str(result.rejected[0][1])
    assert server.paths() == ["/list"]


async def test_redirects(server: Server, session: aiohttp.ClientSession) -> None:
    server.json("/td", thing("moved"))
    server.json("/old", b"", status=301, headers={"Location": "/td"})
    result = await explore(session, server.url("/old"))
    assert [td.title for td in result.things] == ["moved"]
    assert str(result.things[0].source_url) == server.url("/td")

    server.json("/away", b"", status=302, headers={"Location": server.url("/td", host="localhost")})
    with pytest.raises(WotValidationError, match=f"link to another host 'localhost:{server.port}'"):
        await explore(session, server.url("/away"))

    server.json("/ftp", b"", status=303, headers={"Location": "ftp://127.0.0.1/td"})
    with pytest.raises(WotValidationError, match=r"ftp://127\.0\.0\.1/td: not an http"):
        await explore(session, server.url("/ftp"))

    server.json("/loop", b"", status=307, headers={"Location": "/loop"})
    with pytest.raises(WotResponseError, match="more than 5 redirects"):
        await explore(session, server.url("/loop"))


async def test_things_past_the_cap_are_counted_not_dropped_silently(
    server: Server, session: aiohttp.ClientSession
) -> None:
    """The attack: a directory of 2,000 Things gave 1,000 and said nothing of the rest."""
    # The default cap, on one page (cheap: tiny TDs).
    server.json("/many", [thing(f"t{i}") for i in range(MAX_THINGS + 7)])
    result = await explore(session, server.url("/many"))
    assert len(result.things) == MAX_THINGS
    assert (result.truncated, result.left_out) == (True, 7)
    assert "stopped after 1000 Things (max_things)" in str(result.rejected[-1][1])

    # Past the cap, the next pages are read to count what is left out.
    for page in range(1, 5):
        server.json(
            f"/p{page}",
            [thing(f"p{page}a"), thing(f"p{page}b")],
            headers={"Link": f'</p{page + 1}>; rel="next"'} if page < 4 else None,
        )
    result = await explore(session, server.url("/p1"), max_things=3)
    assert [td.title for td in result.things] == ["p1a", "p1b", "p2a"]
    assert (result.truncated, result.left_out) == (True, 5)
    assert [str(err) for _source, err in result.rejected] == ["stopped after 3 Things (max_things)"]
    # ... within the page budget: then the count is a lower bound.
    result = await explore(session, server.url("/p1"), max_things=3, max_pages=3)
    assert result.left_out == 3
    # A listing within the cap is not truncated.
    result = await explore(session, server.url("/p1"), max_things=8)
    assert (len(result.things), result.truncated, result.left_out) == (8, False, 0)


async def test_limits(server: Server, session: aiohttp.ClientSession) -> None:
    server.json("/five", [thing(f"t{i}") for i in range(5)])
    result = await explore(session, server.url("/five"), max_things=3)
    assert len(result.things) == 3
    assert result.rejected[-1][0] == server.url("/five")
    assert "stopped after 3 Things (max_things)" in str(result.rejected[-1][1])

    for page in range(1, 5):
        server.json(
            f"/p{page}", [thing(f"p{page}")], headers={"Link": f'</p{page + 1}>; rel="next"'}
        )
    result = await explore(session, server.url("/p1"), max_pages=2)
    assert [td.title for td in result.things] == ["p1", "p2"]
    assert result.rejected == [(server.url("/p3"), result.rejected[0][1])]
    assert "stopped after 2 pages (max_pages)" in str(result.rejected[0][1])

    with pytest.raises(WotResponseError, match=r"byte budget \(max_bytes\)"):
        await explore(session, server.url("/p1"), max_bytes=600)

    big = thing("big")
    big["description"] = "x" * MAX_TD_BYTES
    server.json("/big", big)
    result = await explore(session, server.url("/big"))
    assert result.things == []
    assert f"exceeds {MAX_TD_BYTES} bytes" in str(result.rejected[0][1])


async def test_fetch_failures_raise(server: Server, session: aiohttp.ClientSession) -> None:
    server.json("/secret", {"error": "no"}, status=401)
    with pytest.raises(WotAuthError) as auth:
        await explore(session, server.url("/secret"))
    assert auth.value.status == 401

    server.json("/html", b"<html></html>")
    with pytest.raises(WotResponseError, match="body is not valid JSON"):
        await explore(session, server.url("/html"))

    # A page that fails after the first one fails the whole exploration (no partial list).
    server.json("/list", [thing("a")], headers={"Link": '</gone>; rel="next"'})
    with pytest.raises(WotResponseError, match="HTTP 404"):
        await explore(session, server.url("/list"))

    with pytest.raises(WotValidationError, match="url: not an http"):
        await explore(session, "file:///etc/passwd")

    closed = Server()
    await closed.runner.setup()
    site = web.TCPSite(closed.runner, "127.0.0.1", 0)
    await site.start()
    closed.port = closed.runner.addresses[0][1]
    await closed.runner.cleanup()
    with pytest.raises(WotConnectionError, match=r"GET http://127\.0\.0\.1"):
        await explore(session, closed.url("/td"))


async def test_timeouts(server: Server, session: aiohttp.ClientSession) -> None:
    release = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response(thing("late"))

    server.routes["/slow"] = slow
    try:
        with pytest.raises(WotTimeoutError, match=r"no answer within 0\.05 s"):
            await explore(session, server.url("/slow"), request_timeout=0.05)
        with pytest.raises(WotTimeoutError, match=r"took longer than 0\.05 s"):
            await explore(session, server.url("/slow"), total_timeout=0.05)
    finally:
        release.set()


async def test_credentials_are_sent(server: Server, session: aiohttp.ClientSession) -> None:
    url = server.json("/td", thing("a"))
    await explore(session, url, credentials=Credentials(username="u", password="p"))
    await explore(session, url, credentials=Credentials(token="tok"))
    assert server.headers[0]["Authorization"] == "Basic dTpw"
    assert server.headers[1]["Authorization"] == "Bearer tok"

    # Credentials go to another host only when it is allowed by name, not by "*".
    server.json("/things", [thing("remote")])
    directory = server.json("/dir", directory_td(server.url("/things", host="localhost")))
    token = Credentials(token="tok")
    for allowed, expected in ((frozenset({"*"}), None), (frozenset({"localhost"}), "Bearer tok")):
        server.requests.clear()
        server.headers.clear()
        result = await explore(session, directory, credentials=token, allowed_hosts=allowed)
        assert [td.title for td in result.things] == ["remote"]
        assert [h.get("Authorization") for h in server.headers] == ["Bearer tok", expected]

    # A password written into the URL stays out of error messages.
    with pytest.raises(WotResponseError) as err:
        await explore(session, server.url("/missing").replace("//", "//user:hunter2@"))
    assert "hunter2" not in str(err.value)
    with pytest.raises(WotValidationError) as bad:
        await explore(session, "ftp://user:hunter2@127.0.0.1/td")
    assert str(bad.value) == "url: not an http(s) URL: 'ftp://user:***@127.0.0.1/td'"


async def test_directory_td_problems_are_reported(
    server: Server, session: aiohttp.ClientSession
) -> None:
    no_things = directory_td("/things")
    no_things["properties"]["things"]["writeOnly"] = True
    no_things["properties"]["things"].pop("readOnly")
    url = server.json("/d1", no_things)
    result = await explore(session, url)
    assert result.title == "Building directory"
    assert [str(err) for _source, err in result.rejected] == [
        "$.properties.things: no readproperty form"
    ]

    invalid = directory_td("/things")
    invalid["security"] = "missing_sc"
    result = await explore(session, server.json("/d2", invalid))
    assert "undefined security definition 'missing_sc'" in str(result.rejected[0][1])


async def test_more_edges(server: Server, session: aiohttp.ClientSession) -> None:
    # A directory whose listing would be one page too many.
    url = server.json("/dir", directory_td("/things"))
    server.json("/things", [thing("a")])
    with pytest.raises(WotResponseError, match=r"more than 1 pages \(max_pages\)"):
        await explore(session, url, max_pages=1)

    # A Location yarl cannot parse.
    server.json("/badloc", b"", status=302, headers={"Location": "http://[::1"})
    with pytest.raises(WotResponseError, match="unusable link"):
        await explore(session, server.url("/badloc"))

    # A streamed body (no Content-Length) over the byte budget.
    async def streamed(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(4):
            await response.write(b" " * 1024)
        await response.write_eof()
        return response

    server.routes["/stream"] = streamed
    with pytest.raises(WotResponseError, match="byte budget"):
        await explore(session, server.url("/stream"), max_bytes=2048)

    # A bare origin whose well-known path needs credentials: that is what is reported.
    server.routes.clear()
    server.json("/.well-known/wot", {"error": "who are you"}, status=401)
    with pytest.raises(WotAuthError):
        await explore(session, server.url("/"))

    # ThingLinks nested too deep, and one whose link is unusable.
    for depth in range(5):
        server.json(
            f"/l{depth}",
            {"@type": "ThingLink", "title": "l",
             "links": [{"rel": "describedby", "href": f"/l{depth + 1}"}]},
        )  # fmt: skip
    result = await explore(session, server.url("/l0"))
    assert result.things == []
    assert "links nested deeper than 3 levels" in str(result.rejected[0][1])
    result = await explore(
        session,
        server.json(
            "/badlinks",
            [
                {
                    "@type": "ThingLink",
                    "title": "l",
                    "links": [{"rel": "describedby", "href": "http://[x"}],
                }
            ],
        ),
    )
    assert [str(e) for _s, e in result.rejected] == [
        "$.links: unusable describedby link 'http://[x'"
    ]
    for body in (
        {
            "@type": "ThingLink",
            "title": "l",
            "links": [{"rel": "describedby", "href": "http://[x"}],
        },
        {"@type": "ThingLink", "title": "l", "links": [{"rel": "self", "href": "/x"}]},
        [{"@type": "ThingLink", "title": "l"}],
    ):
        result = await explore(session, server.json("/odd-link", body))
        assert result.things == []
        assert "$.links: " in str(result.rejected[0][1])

    # A top-level ThingLink to another host.
    result = await explore(
        session,
        server.json(
            "/away",
            {"@type": "ThingLink", "title": "l",
             "links": [{"rel": "describedby", "href": server.url("/td", host="localhost")}]},
        ),
    )  # fmt: skip
    assert "another host" in str(result.rejected[0][1])

    # A collection whose next link is unusable; max_things reached exactly before a next page.
    result = await explore(
        session,
        server.json("/coll", {"members": [thing("a")], "next": "http://[x"}),
    )
    assert [td.title for td in result.things] == ["a"]
    assert "unusable next-page link 'http://[x'" in str(result.rejected[0][1])
    server.json("/two", [thing("a"), thing("b")], headers={"Link": '</more>; rel="next"'})
    result = await explore(session, server.url("/two"), max_things=2)
    assert len(result.things) == 2
    assert "stopped after 2 Things" in str(result.rejected[0][1])

    with pytest.raises(WotValidationError, match="url: not a valid URL"):
        await explore(session, "http://[::1")


# --------------------------------------------------------------------------------------------
# browse: a real mDNS round trip in a private network namespace

BROWSE_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, socket, subprocess, sys
    from zeroconf import ServiceInfo
    from zeroconf.asyncio import AsyncZeroconf
    from custom_components.thingbridge.wot.discovery import browse

    def info(type_, name, port, txt):
        return ServiceInfo(type_, name, addresses=[socket.inet_aton("127.0.0.1")], port=port,
                           properties=txt, server=name.split(".")[0].lower() + ".local.")

    async def main():
        # The command-line browser starts first: it listens while the responder announces.
        cli = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "custom_components.thingbridge.wot", "browse",
            "--timeout", "2.5", "--interface", "127.0.0.1", stdout=subprocess.PIPE)
        responder = AsyncZeroconf(interfaces=["127.0.0.1"])
        services = [
            info("_wot._tcp.local.", "Lamp._wot._tcp.local.", 8080,
                 {"td": "/things/lamp", "type": "Thing", "scheme": "http"}),
            info("_directory._sub._wot._tcp.local.", "TDD._wot._tcp.local.", 8081,
                 {"td": "/.well-known/wot", "type": "Directory"}),
            info("_webthing._tcp.local.", "Plug._webthing._tcp.local.", 8888, {"path": "/"}),
        ]
        announced = await asyncio.gather(*(responder.async_register_service(s) for s in services))
        await asyncio.gather(*announced)
        found = await browse(timeout=2.0, interfaces=["127.0.0.1"])
        print(json.dumps([[s.kind, s.name, s.url, s.host, s.port] for s in found]))
        out, _ = await cli.communicate()
        print(json.dumps({"rc": cli.returncode, "lines": out.decode().splitlines()}))
        await responder.async_close()

    asyncio.run(main())
    """
)


def _namespace_command() -> tuple[list[str] | None, str]:
    """How to enter a private network namespace here (``unshare -n``, else ``unshare -rn``
    for an unprivileged user), or ``None`` and why not."""
    reasons = []
    for command in (["unshare", "-n"], ["unshare", "-r", "-n"]):
        try:
            probe = subprocess.run(
                [*command, "ip", "link", "set", "lo", "up"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            reasons.append(f"{' '.join(command)}: {err}")
            continue
        if probe.returncode == 0:
            return command, ""
        reasons.append(f"{' '.join(command)}: {probe.stderr.strip()}")
    return None, "no private network namespace here (" + "; ".join(reasons) + ")"


def test_browse_finds_services_in_a_private_network_namespace(tmp_path: Path) -> None:
    unshare, reason = _namespace_command()
    if unshare is None:
        pytest.skip(reason)
    script = tmp_path / "browse_round_trip.py"
    script.write_text(BROWSE_SCRIPT)
    # Multicast stays on the namespace's own loopback interface: it has no other.
    command = (
        f'ip link set lo up && ip link set lo multicast on && exec "{sys.executable}" "{script}"'
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run(
        [*unshare, "sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    library_line, cli_line = run.stdout.splitlines()[-2:]
    found = [DiscoveredService(*item) for item in json.loads(library_line)]
    assert found == [
        DiscoveredService("thing", "Lamp", "http://127.0.0.1:8080/things/lamp", "127.0.0.1", 8080),
        DiscoveredService("webthing", "Plug", "http://127.0.0.1:8888/", "127.0.0.1", 8888),
        DiscoveredService(
            "directory", "TDD", "http://127.0.0.1:8081/.well-known/wot", "127.0.0.1", 8081
        ),
    ]
    cli = json.loads(cli_line)
    assert cli["rc"] == 0
    assert [json.loads(line) for line in cli["lines"]] == [
        {"kind": s.kind, "name": s.name, "url": s.url, "host": s.host, "port": s.port}
        for s in found
    ]


async def test_listed_things_talk_to_their_own_base(
    server: Server, session: aiohttp.ClientSession
) -> None:
    """A directory on one host listing a Thing on another: the Thing's base is its origin."""
    elsewhere = {
        **thing("lamp", thing_id="urn:lamp", href="p"),
        "base": server.url("/", host="localhost"),
    }
    server.json("/things", [elsewhere])
    server.json("/p", 5)
    result = await explore(session, server.json("/dir", directory_td("/things")))
    [td] = result.things
    assert td.source_url is not None
    assert td.source_url.host == "localhost"
    # Requests to the Thing's own host pass the host rule.
    assert await WotClient(session, td).read_all_properties() == {"temperature": 5}


async def test_deeply_nested_json_is_a_named_error(
    server: Server, session: aiohttp.ClientSession
) -> None:
    url = server.json("/deep", b"[" * 100_000)
    with pytest.raises(WotResponseError, match="not valid JSON"):
        await explore(session, url)
