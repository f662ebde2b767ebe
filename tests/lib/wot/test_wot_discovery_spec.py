"""Exploration against what real directories and servers send (W3C WoT Discovery REC and its drafts).

Each server here answers as a third-party implementation does, from its source:

- Eclipse Thingweb domus-tdd-api (``tdd/__init__.py``, ``tdd/data/tdd-description.json``): its
  TD at ``/`` with ``base`` ``http://localhost:5050`` (the default ``TD_REPO_URL``), a
  ``things`` property ``/things{?offset,limit,format}`` without ``readOnly``, pages with one
  ``Link`` header ``</things>; rel="canonical"; etag="…",</things?offset=…>; rel="next"``.
- LinkSmart thing-directory (``discovery.go``, ``catalog/http.go``, ``main.go``): DNS-SD TXT
  ``td=/td`` leading to a paged ``Catalog`` object (``items``, ``page``, ``perPage``, ``total``),
  an HTML root, ``/things`` as one full array that ignores paging, no TD of its own.
- The WoT Discovery drafts: the 2-wd ``DirectoryDescription`` with ``retrieveTDs``, the 2021
  editor's draft ``retrieveThings``, the ``LinkDescription`` type; the REC's Thing Model
  (``directory.tm.json``) and its paging example with two ``Link`` headers.
- node-wot up to 0.8 (``http-server.ts``): the root is a JSON array of TD URLs, one per network
  address of the servient.
- WebThings Gateway (``well-known_controller.ts``, ``models/gateway.ts``, ``models/thing.ts``):
  an oauth2 ``ThingDirectory`` TD at ``/.well-known/wot``, ``/things`` behind a bearer token.

All servers listen on 127.0.0.1. Host names other than ``localhost`` (``tdd.test`` …) are
resolved to 127.0.0.1 by the session's own resolver, which refuses any other name, so no
request can leave loopback.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
import json
import socket
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from multidict import CIMultiDict
import pytest

from custom_components.thingbridge.wot import Credentials
from custom_components.thingbridge.wot.discovery import (
    explore,
    is_directory,
    service_from_zeroconf,
)
from custom_components.thingbridge.wot.errors import WotAuthError
from tests.lib.route_server import Handler, Server, running_server

TEST_NAMES = frozenset({"localhost", "tdd.test", "servient.test", "other.test", "gateway.test"})


class LoopbackResolver(AbstractResolver):
    """Resolves the test names to 127.0.0.1 and refuses every other name."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in TEST_NAMES:
            raise OSError(f"{host!r} is not a test host name")
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None


@pytest.fixture
async def server(socket_enabled: None) -> AsyncGenerator[Server]:
    async with running_server() as srv:
        yield srv


@pytest.fixture
async def session() -> AsyncGenerator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(family=socket.AF_INET, resolver=LoopbackResolver())
    async with aiohttp.ClientSession(connector=connector) as client_session:
        yield client_session


def thing(name: str, **extra: Any) -> dict[str, Any]:
    td: dict[str, Any] = {
        "@context": "https://www.w3.org/2022/wot/td/v1.1",
        "title": name,
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
        "security": "nosec_sc",
        "properties": {
            "level": {"type": "number", "readOnly": True, "forms": [{"href": f"/{name}/level"}]}
        },
    }
    td.update(extra)
    return td


def enriched(index: int) -> dict[str, Any]:
    """A listed TD as a directory returns it: a local urn:uuid id and registration info."""
    return thing(
        f"t{index:03}",
        id=f"urn:uuid:00000000-0000-4000-8000-{index:012}",
        registration={
            "created": "2024-05-01T10:00:00Z",
            "modified": "2024-05-01T10:00:00Z",
            "expires": "2099-01-01T00:00:00Z",
            "ttl": 3600,
        },
    )


def listing_td(name: str, href: str, **prop: Any) -> dict[str, Any]:
    """A listing property as real directory TDs write it: GET, no readOnly, no default op."""
    return {
        name: {
            "description": "Retrieve all Thing Descriptions",
            "forms": [
                {
                    "href": href,
                    "htv:methodName": "GET",
                    "response": {"htv:statusCodeValue": 200, "contentType": "application/ld+json"},
                }
            ],
            **prop,
        }
    }


# --------------------------------------------------------------------------------------------
# domus-tdd-api


DOMUS_PAGING = {
    "format": {"type": "string", "enum": ["array", "collection"]},
    "offset": {"type": "integer"},
    "limit": {"type": "integer"},
}


def domus_td(base: str) -> dict[str, Any]:
    return {
        "@context": [
            "https://www.w3.org/2022/wot/td/v1.1",
            "https://www.w3.org/2022/wot/discovery",
        ],
        "@type": "ThingDirectory",
        "title": "Thing Description Directory (TDD)",
        "version": {"instance": "1.0.0-alpha"},
        "securityDefinitions": {"no_sec": {"scheme": "nosec"}},
        "security": "no_sec",
        "base": base,
        "properties": {
            **listing_td("things", "/things{?offset,limit,format}", uriVariables=DOMUS_PAGING),
            "retrieveThing": {
                "uriVariables": {"id": {"type": "string", "format": "iri-reference"}},
                "forms": [{"href": "/things/{id}", "htv:methodName": "GET"}],
            },
        },
        "actions": {
            "createThing": {
                "uriVariables": {"id": {"type": "string"}},
                "forms": [{"href": "/things/{id}", "htv:methodName": "PUT"}],
            }
        },
    }


def domus_things(tds: list[dict[str, Any]]) -> Handler:
    """domus's GET /things: all TDs without ``limit``; a page and one Link header with it."""

    async def handler(request: web.Request) -> web.Response:
        if "limit" not in request.query:
            return web.Response(body=json.dumps(tds), content_type="application/ld+json")
        limit = int(request.query["limit"])
        offset = int(request.query.get("offset", 0))
        link = '</things>; rel="canonical"; etag="2024-05-01T10:00:00.123456"'
        if offset + limit < len(tds):
            link += f',</things?offset={offset + limit}&limit={limit}>; rel="next"'
        return web.Response(
            body=json.dumps(tds[offset : offset + limit]),
            content_type="application/ld+json",
            headers={"Link": link},
        )

    return handler


async def test_domus_directory_with_its_default_localhost_base(
    server: Server, session: aiohttp.ClientSession
) -> None:
    """domus-tdd-api's TD names ``http://localhost:5050`` as its base unless configured; reached
    at another address, that base is the directory itself, not another host."""
    tds = [enriched(i) for i in range(230)]
    server.json("/", domus_td("http://localhost:5050"), content_type="application/td+json")
    server.routes["/things"] = domus_things(tds)

    result = await explore(session, server.url("/", host="tdd.test"))

    assert result.title == "Thing Description Directory (TDD)"
    assert result.rejected == []
    assert [td.id for td in result.things] == [td["id"] for td in tds]
    assert server.paths() == [
        "/",
        "/things?offset=0&limit=100",
        "/things?offset=100&limit=100",
        "/things?offset=200&limit=100",
    ]
    # Every request went to the address the directory was reached at.
    assert server.hosts() == {"tdd.test"}
    assert {host for _path, host in server.requests} == {f"tdd.test:{server.port}"}


async def test_domus_base_naming_another_real_host_is_still_refused(
    server: Server, session: aiohttp.ClientSession
) -> None:
    """Only a loopback base is taken for the directory itself; a real other host is not, and a
    loopback base met while exploring a loopback address is left as it is."""
    server.routes["/things"] = domus_things([enriched(0)])
    server.json("/", domus_td(server.url("", host="other.test")))
    result = await explore(session, server.url("/", host="tdd.test"))
    assert result.things == []
    assert f"link to another host 'other.test:{server.port}' not followed" in str(
        result.rejected[0][1]
    )
    assert server.paths() == ["/"]

    server.requests.clear()
    server.json("/", domus_td(server.url("", host="localhost")))
    result = await explore(session, server.url("/"))
    assert result.things == []
    assert f"another host 'localhost:{server.port}'" in str(result.rejected[0][1])
    assert server.paths() == ["/"]


# --------------------------------------------------------------------------------------------
# LinkSmart thing-directory


def linksmart_catalog(tds: list[dict[str, Any]]) -> Handler:
    """LinkSmart's deprecated GET /td (catalog.GetMany with utils.GetPagingAttr)."""

    async def handler(request: web.Request) -> web.Response:
        page = int(request.query.get("page", 1))
        per_page = int(request.query.get("per_page", 100))
        total = len(tds)
        if page == 1:
            items = tds[:per_page]
        elif page == total // per_page + 1:
            items = tds[per_page * (page - 1) :]
        elif page * per_page <= total:
            items = tds[(page - 1) * per_page : page * per_page]
        else:
            items = []
        body = {
            "@context": "https://linksmart.eu/thing-directory/context.jsonld",
            "@type": "Catalog",
            "items": items,
            "page": page,
            "perPage": per_page,
            "total": total,
        }
        return web.Response(body=json.dumps(body), content_type="application/ld+json")

    return handler


async def test_linksmart_dns_sd_td_path_leads_to_a_paged_catalog(
    server: Server, session: aiohttp.ClientSession
) -> None:
    tds = [enriched(i) for i in range(230)]
    server.routes["/td"] = linksmart_catalog(tds)
    # LinkSmart registers _wot._tcp with the _directory subtype and TXT td=/td (no type).
    service = service_from_zeroconf(
        "_directory._sub._wot._tcp.local.",
        "LinkSmart Thing Directory._wot._tcp.local.",
        "127.0.0.1",
        server.port,
        {"td": "/td", "version": "1.0.0"},
    )
    assert service.kind == "directory"
    assert service.url == server.url("/td")

    result = await explore(session, service.url)

    assert result.rejected == []
    assert [td.id for td in result.things] == [td["id"] for td in tds]
    assert server.paths() == ["/td", "/td?page=2&per_page=100", "/td?page=3&per_page=100"]


async def test_catalog_paging_keeps_the_query_and_stops_on_odd_pages(
    server: Server, session: aiohttp.ClientSession
) -> None:
    server.routes["/td"] = linksmart_catalog([enriched(i) for i in range(5)])
    result = await explore(session, server.url("/td?per_page=2"))
    assert len(result.things) == 5
    assert server.paths() == ["/td?per_page=2", "/td?per_page=2&page=2", "/td?per_page=2&page=3"]

    # A catalog without usable paging members is one page.
    for extra in ({}, {"page": True, "perPage": 1, "total": 9}, {"page": 0, "perPage": 1}):
        server.requests.clear()
        url = server.json("/cat", {"items": [thing("a")], "total": 9, **extra})
        result = await explore(session, url)
        assert [td.title for td in result.things] == ["a"]
        assert server.paths() == ["/cat"]


async def test_linksmart_bare_origin_falls_back_to_the_things_listing(
    server: Server, session: aiohttp.ClientSession
) -> None:
    """LinkSmart's root is an HTML page and it serves no TD: ``/things`` is the listing."""

    async def index(request: web.Request) -> web.Response:
        return web.Response(text="<h1>Thing Directory</h1>", content_type="text/html")

    async def things(request: web.Request) -> web.Response:
        # catalog.GetAll streams every TD and ignores paging arguments.
        return web.Response(
            body=json.dumps([enriched(0), enriched(1)]), content_type="application/ld+json"
        )

    server.routes["/"] = index
    server.routes["/things"] = things
    result = await explore(session, server.url("/"))
    assert [td.title for td in result.things] == ["t000", "t001"]
    assert server.paths() == [
        "/",
        "/.well-known/wot",
        "/.well-known/wot-thing-description",
        "/things",
    ]


# --------------------------------------------------------------------------------------------
# WoT Discovery: the REC's Thing Model and the drafts' vocabulary


async def test_rec_thing_model_directory_with_two_link_headers(
    server: Server, session: aiohttp.ClientSession
) -> None:
    """A TD instantiated from directory.tm.json; the server caps ``limit`` at 10 and sends the
    REC's example headers: ``Link`` for ``next`` and another for ``canonical``."""
    tds = [enriched(i) for i in range(25)]
    td = {
        "@context": [
            "https://www.w3.org/2022/wot/td/v1.1",
            "https://www.w3.org/2022/wot/discovery",
        ],
        "@type": "ThingDirectory",
        "title": "TDD",
        "base": server.url("/api/"),
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
        "security": "nosec_sc",
        "properties": listing_td(
            "things",
            "things{?offset,limit,format}",
            uriVariables={
                "offset": {"type": "number", "default": 0},
                "limit": {"type": "number"},
                "format": {"type": "string", "enum": ["array", "collection"]},
            },
        ),
    }

    async def things(request: web.Request) -> web.Response:
        offset = int(request.query.get("offset", 0))
        limit = min(int(request.query.get("limit", 10)), 10)
        headers: CIMultiDict[str] = CIMultiDict()
        if offset + limit < len(tds):
            headers.add("Link", f'<things?offset={offset + limit}&limit={limit}>; rel="next"')
        headers.add("Link", '</api/things>; rel="canonical"; etag="v1"')
        return web.Response(
            body=json.dumps(tds[offset : offset + limit]),
            content_type="application/ld+json",
            headers=headers,
        )

    server.routes["/api/things"] = things
    result = await explore(session, server.json("/.well-known/wot", td))
    assert len(result.things) == 25
    assert server.paths() == [
        "/.well-known/wot",
        "/api/things?offset=0&limit=100",
        "/api/things?offset=10&limit=10",
        "/api/things?offset=20&limit=10",
    ]


def draft_directory(kind: str, name: str, href: str) -> dict[str, Any]:
    return {
        "@context": [
            "http://www.w3.org/ns/td",
            "https://w3c.github.io/wot-discovery/context/discovery-context.jsonld",
        ],
        "@type": kind,
        "title": f"{name} directory",
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
        "security": "nosec_sc",
        "properties": {
            "retrieveThing": {
                "uriVariables": {"id": {"type": "string"}},
                "forms": [{"href": "/td/{id}", "htv:methodName": "GET"}],
            },
            **listing_td(name, href),
            "searchJSONPath": {
                "uriVariables": {"query": {"type": "string"}},
                "forms": [{"href": "/search/jsonpath?query={query}", "htv:methodName": "GET"}],
            },
        },
    }


async def test_draft_directory_descriptions_and_link_descriptions(
    server: Server, session: aiohttp.ClientSession
) -> None:
    """2-wd (2020): ``DirectoryDescription``, ``retrieveTDs`` at ``/td``, ``LinkDescription``;
    the 2021 editor's draft: ``retrieveThings``."""
    server.json("/real", thing("linked"))
    server.json(
        "/td",
        [
            thing("listed"),
            {
                "@context": "https://w3c.github.io/wot-discovery/context/discovery-context.jsonld",
                "@type": "LinkDescription",
                "title": "link",
                "links": [{"rel": "describedby", "href": "/real", "type": "application/td+json"}],
            },
        ],
    )
    two_wd = draft_directory("DirectoryDescription", "retrieveTDs", "/td")
    assert is_directory(two_wd)
    result = await explore(session, server.json("/dir-2wd", two_wd))
    assert result.title == "retrieveTDs directory"
    assert [td.title for td in result.things] == ["listed", "linked"]
    assert result.rejected == []
    assert server.paths() == ["/dir-2wd", "/td", "/real"]

    # The 2021 draft, untyped: recognised by the Discovery context and its listing property.
    server.requests.clear()
    ed = draft_directory("Thing", "retrieveThings", "/td")
    assert is_directory(ed)
    result = await explore(session, server.json("/dir-ed", ed))
    assert [td.title for td in result.things] == ["listed", "linked"]
    assert server.paths() == ["/dir-ed", "/td", "/real"]

    # A top-level LinkDescription is followed too.
    url = server.json(
        "/link",
        {
            "@type": "LinkDescription",
            "title": "l",
            "links": [{"rel": "describedby", "href": "/real"}],
        },
    )
    result = await explore(session, url)
    assert [td.title for td in result.things] == ["linked"]

    # A draft directory TD whose listing property cannot be read names that property.
    unreadable = draft_directory("DirectoryDescription", "retrieveTDs", "/td")
    unreadable["properties"]["retrieveTDs"]["writeOnly"] = True
    result = await explore(session, server.json("/dir-bad", unreadable))
    assert [str(err) for _s, err in result.rejected] == [
        "$.properties.retrieveTDs: no readproperty form"
    ]


# --------------------------------------------------------------------------------------------
# node-wot (<= 0.8): the root lists TD URLs, one per address of the servient


async def test_node_wot_root_listing_td_urls(
    server: Server, session: aiohttp.ClientSession
) -> None:
    server.json("/counter", thing("counter", id="urn:counter"))
    server.json("/lamp", thing("lamp"))
    port = server.port
    # Helpers.getAddresses(): every non-internal address, each Thing listed at each of them.
    server.json(
        "/",
        [
            f"http://other.test:{port}/counter",
            f"http://127.0.0.1:{port}/counter",
            f"http://other.test:{port}/lamp",
            f"http://127.0.0.1:{port}/lamp",
            "http://other.test:9/elsewhere",
        ],
    )

    # Reached at one of the listed addresses: those entries are read, the others are the
    # same Things at the servient's other addresses.
    result = await explore(session, server.url("/"))
    assert [td.title for td in result.things] == ["counter", "lamp"]
    assert server.paths() == ["/", "/counter", "/lamp"]
    assert server.hosts() == {"127.0.0.1"}
    assert [
        (source, "another host 'other.test:9'" in str(err)) for source, err in result.rejected
    ] == [("http://other.test:9/elsewhere", True)]

    # Reached by a name it does not list: the entries are read from that name.
    server.requests.clear()
    result = await explore(session, server.url("/", host="servient.test"))
    assert [td.title for td in result.things] == ["counter", "lamp"]
    assert [str(td.source_url) for td in result.things] == [
        server.url("/counter", host="servient.test"),
        server.url("/lamp", host="servient.test"),
    ]
    assert server.paths() == ["/", "/counter", "/lamp"]
    assert server.hosts() == {"servient.test"}
    assert [source for source, _err in result.rejected] == ["http://other.test:9/elsewhere"]

    # allowed_hosts lets the other address be read as listed; the id keeps one copy.
    server.requests.clear()
    result = await explore(session, server.url("/"), allowed_hosts=frozenset({"other.test"}))
    assert [td.title for td in result.things] == ["counter", "lamp", "lamp"]
    assert server.hosts() == {"127.0.0.1", "other.test"}


async def test_listed_td_urls_that_fail(server: Server, session: aiohttp.ClientSession) -> None:
    server.json("/dir-td", {**thing("d"), "@type": "ThingDirectory"})
    port = server.port
    server.json(
        "/",
        [
            f"http://127.0.0.1:{port}/missing",
            f"http://other.test:{port}/gone",
            f"http://127.0.0.1:{port}/dir-td",
            "relative/not-a-url",
        ],
    )
    result = await explore(session, server.url("/"))
    assert result.things == []
    assert [(source, str(err)) for source, err in result.rejected] == [
        (server.url("/missing"), f"GET {server.url('/missing')}: HTTP 404 Not Found"),
        (
            f"http://other.test:{port}/gone",
            (
                f"{server.url('/')}#1: link to another host 'other.test:{port}' not followed "
                "(allow it with allowed_hosts)"
            ),
        ),
        (server.url("/dir-td"), "$: a listed TD URL must lead to a Thing's TD"),
        (server.url("/#3"), "$: a Thing Description must be a JSON object"),
    ]
    # Nothing was sent to the other host: its entry was tried at the listing's own host.
    assert server.paths() == ["/", "/missing", "/gone", "/dir-td"]
    assert server.hosts() == {"127.0.0.1"}


# --------------------------------------------------------------------------------------------
# WebThings Gateway


async def test_webthings_gateway_directory_behind_a_bearer_token(
    server: Server, session: aiohttp.ClientSession
) -> None:
    def gateway_td(request: web.Request) -> dict[str, Any]:
        origin = f"http://{request.host}"
        return {
            "@context": [
                "https://www.w3.org/2022/wot/td/v1.1",
                "https://www.w3.org/2022/wot/discovery",
            ],
            "@type": "ThingDirectory",
            "id": origin,
            "base": origin,
            "title": "WebThings Gateway",
            "securityDefinitions": {
                "oauth2_sc": {
                    "scheme": "oauth2",
                    "flow": "code",
                    "authorization": f"{origin}/oauth/authorize",
                    "token": f"{origin}/oauth/token",
                    "scopes": ["/things", "/things:readwrite"],
                }
            },
            "security": "oauth2_sc",
            "properties": {
                "things": {
                    "title": "Things",
                    "type": "array",
                    "items": {"type": "object"},
                    "forms": [
                        {
                            "href": "/things",
                            "htv:methodName": "GET",
                            "response": {"contentType": "application/json"},
                        }
                    ],
                }
            },
            "links": [{"rel": "canonical", "href": "/", "type": "application/td+json"}],
        }

    def lamp(request: web.Request) -> dict[str, Any]:
        origin = f"http://{request.host}"
        return {
            "@context": "https://webthings.io/schemas",
            "@type": ["Light", "OnOffSwitch"],
            "title": "Lamp",
            "href": "/things/lamp",
            "id": f"{origin}/things/lamp",
            "base": f"{origin}/",
            "properties": {
                "on": {
                    "@type": "OnOffProperty",
                    "type": "boolean",
                    "links": [{"rel": "property", "href": "/things/lamp/properties/on"}],
                    "forms": [{"href": "/things/lamp/properties/on"}],
                }
            },
            "links": [{"rel": "alternate", "href": f"ws://{request.host}/things/lamp"}],
            "securityDefinitions": {
                "oauth2_sc": {
                    "scheme": "oauth2",
                    "flow": "code",
                    "authorization": f"{origin}/oauth/authorize",
                    "token": f"{origin}/oauth/token",
                }
            },
            "security": "oauth2_sc",
        }

    async def well_known(request: web.Request) -> web.Response:
        return web.Response(
            body=json.dumps(gateway_td(request)), content_type="application/td+json"
        )

    async def things(request: web.Request) -> web.Response:
        accept = request.headers.get("Accept", "")
        if "html" in accept or "*/*" in accept:
            return web.Response(text="<html>app</html>", content_type="text/html")
        if request.headers.get("Authorization") != "Bearer jwt-token":
            return web.Response(status=401, text="Unauthorized")
        return web.Response(body=json.dumps([lamp(request)]), content_type="application/json")

    server.routes["/.well-known/wot"] = well_known
    server.routes["/things"] = things

    with pytest.raises(WotAuthError) as refused:
        await explore(session, server.url("/", host="gateway.test"))
    assert refused.value.status == 401

    result = await explore(
        session, server.url("/", host="gateway.test"), credentials=Credentials(token="jwt-token")
    )
    assert result.title == "WebThings Gateway"
    [td] = result.things
    assert td.title == "Lamp"
    assert str(td.source_url) == server.url("/things/lamp", host="gateway.test")
    form = td.properties["on"].form_for("readproperty")
    assert form is not None
    assert str(form.target()) == server.url("/things/lamp/properties/on", host="gateway.test")
    assert server.hosts() == {"gateway.test"}
