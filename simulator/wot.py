r"""Simulated Web of Things devices on real sockets (W3C WoT TD 1.1, HTTP binding, WoT Profile).

One aiohttp server hosts every Thing. URL layout (``<slug>`` is the Thing's short name; hrefs in
TDs are relative to ``base`` = ``http://<host>:<port>/``):

==========================================================  =========================================
``GET  /.well-known/wot``                                   the directory's own TD (``ThingDirectory``)
``GET  /things[?offset=N&limit=M]``                         every TD, sorted by ``id``; ``Link: rel="next"``
``GET  /things/<slug>`` (or ``/things/<urn id>``)           a Thing's TD (``application/td+json``)
``GET  /things/<slug>/properties``                          readallproperties: ``{"name": value, ...}``
``PUT  /things/<slug>/properties``                          writemultipleproperties: ``{"name": value}`` → 204
``GET  /things/<slug>/properties/<name>``                   readproperty: the bare JSON value
``PUT  /things/<slug>/properties/<name>``                   writeproperty: the bare JSON value → 204
``GET|POST /things/<slug>/properties/<name>/observation``   observeproperty (SSE or long-poll)
``GET|POST /things/<slug>/observation``                     observeallproperties (SSE or long-poll)
``POST /things/<slug>/actions/<name>``                      invokeaction: 200 output / 204, or 201 +
                                                            ``Location`` + ActionStatus (asynchronous)
``GET|DELETE /things/<slug>/actions/<name>/<id>``           queryaction (200 ActionStatus) / cancelaction (204)
``GET  /things/<slug>/actions``                             queryallactions: ``{"fade": [ActionStatus...]}``
``GET|POST /things/<slug>/events/<name>``                   subscribeevent (SSE or long-poll)
``GET|POST /things/<slug>/events``                          subscribeallevents (SSE)
``/webthings/...``                                          the WebThings dialect, see :mod:`.webthings`
==========================================================  =========================================

A ``GET`` of a property (or of ``/properties``) with ``Accept: text/event-stream`` also opens an
SSE stream, as the WoT Profile and WebThings Gateway 2.0 do.

**SSE** (WoT Profile, HTTP SSE Profile): ``200 Content-Type: text/event-stream``; the stream
starts with ``retry: 3000``; each change is ``event: <affordance name>\ndata: <JSON>\nid: <n>\n\n``
where ``n`` is a per-Thing sequence number; a ``Last-Event-ID: n`` request header replays the
kept changes after ``n``; ``: keepalive`` comments go out every ``keepalive`` seconds.
Closing the connection unobserves. No value is sent on connect (TD 1.1 section 5.3.1.3: read it).

**Long-poll** (HTTP binding, ``subprotocol: "longpoll"``): a ``GET`` is held until the next
change and answered ``200`` with the JSON value (a property), the event data (an event) or
``{"name": value}`` for the Thing-level observation. After ``longpoll_timeout`` (60 s) without a
change, a property observation answers ``200`` with the *current* value (harmless to repeat) and
an event subscription answers ``204 No Content`` (nothing happened). ``HEAD`` answers at once
(node-wot's handshake).

**Actions** (HTTP Basic Profile): synchronous ones answer ``200`` with the output or ``204``;
asynchronous ones (``lamp.fade``, ``blinds.open``/``close``) answer ``201`` with ``Location`` and
``{"status": "pending", "href": "/things/<slug>/actions/<name>/<id>", "timeRequested": ...}``;
``GET`` on the href gives ``pending``/``running``/``completed``/``failed`` (plus ``timeEnded``,
``output``, ``error``); ``DELETE`` cancels a pending/running one (``204``, the record is deleted;
``409`` once it has finished).

**Errors** are RFC 7807 Problem Details (``application/problem+json``). Secured Things answer
``401`` with ``WWW-Authenticate`` (``Basic realm=...`` or ``Bearer realm=...``) on every
interaction; their TDs stay public unless ``protect_tds`` (then the TD itself needs credentials:
WoT Discovery's security bootstrapping).

The programmatic API (:meth:`WotSimulator.set_property`, :meth:`~WotSimulator.emit_event`,
:meth:`~WotSimulator.get_property`, :meth:`~WotSimulator.tick`) must be called on the server's
event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
import json
import logging
import socket
from typing import Any

from aiohttp import web

from .httputil import authorize, json_body, method_not_allowed, problem, wants_event_stream
from .mdns import Advertiser, ServiceSpec
from .model import (
    DISCOVERY_CONTEXT,
    PROFILE_BASIC,
    PROFILE_SSE,
    TD_CONTEXT,
    ActionRecord,
    BasicAuth,
    BearerAuth,
    InvalidValueError,
    NotFoundError,
    Notification,
    SimProperty,
    SimThing,
    Subscription,
    check_value,
)
from .things import THING_FACTORIES, make_lamp, make_sensor
from .webthings import WebThingsApi

__all__ = [
    "THING_FACTORIES",
    "SimProperty",
    "SimThing",
    "WotSimulator",
    "directory_description",
    "make_lamp",
    "make_sensor",
    "thing_description",
]

_LOGGER = logging.getLogger(__name__)
TD_CONTENT_TYPE = "application/td+json"
JSON = "application/json"
DIRECTORY_ID = "urn:thingbridge:simulator:directory"
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
RETRY_MS = 3000


# --------------------------------------------------------------------------------------------
# Thing Descriptions


def _security(thing: SimThing) -> tuple[dict[str, Any], str]:
    match thing.security:
        case BasicAuth():
            return {"basic_sc": {"scheme": "basic", "in": "header"}}, "basic_sc"
        case BearerAuth():
            return {
                "bearer_sc": {"scheme": "bearer", "in": "header", "name": "Authorization"}
            }, "bearer_sc"
    return {"nosec_sc": {"scheme": "nosec"}}, "nosec_sc"


def _profiles(thing: SimThing) -> list[str]:
    # The profiles' common constraints allow nosec, basic and oauth2 only.
    if isinstance(thing.security, BearerAuth):
        return []
    return [PROFILE_BASIC, PROFILE_SSE] if thing.observe == "sse" else [PROFILE_BASIC]


def _property_ops(prop: SimProperty) -> list[str]:
    if prop.read_only:
        return ["readproperty"]
    if prop.write_only:
        return ["writeproperty"]
    return ["readproperty", "writeproperty"]


def thing_description(thing: SimThing, base: str) -> dict[str, Any]:
    """The TD 1.1 of ``thing``, with hrefs relative to ``base`` (which ends with ``/``)."""
    prefix = f"things/{thing.slug}"
    sub = thing.observe
    properties: dict[str, Any] = {}
    for name, prop in thing.properties.items():
        forms: list[dict[str, Any]] = [
            {"href": f"{prefix}/properties/{name}", "op": _property_ops(prop), "contentType": JSON}
        ]
        if not prop.write_only:
            forms.append(
                {
                    "href": f"{prefix}/properties/{name}/observation",
                    "op": ["observeproperty", "unobserveproperty"],
                    "subprotocol": sub,
                    "contentType": JSON,
                }
            )
        properties[name] = {**prop.schema, "observable": not prop.write_only, "forms": forms}
    actions = {
        name: {
            **action.schema,
            "synchronous": action.synchronous,
            "forms": [
                {"href": f"{prefix}/actions/{name}", "op": "invokeaction", "contentType": JSON}
            ],
        }
        for name, action in thing.actions.items()
    }
    events = {
        name: {
            **event.schema,
            "forms": [
                {
                    "href": f"{prefix}/events/{name}",
                    "op": ["subscribeevent", "unsubscribeevent"],
                    "subprotocol": sub,
                    "contentType": JSON,
                }
            ],
        }
        for name, event in thing.events.items()
    }
    any_writable = any(not p.read_only for p in thing.properties.values())
    thing_forms: list[dict[str, Any]] = [
        {
            "href": f"{prefix}/properties",
            "op": ["readallproperties", "writemultipleproperties"]
            if any_writable
            else ["readallproperties"],
            "contentType": JSON,
        },
        {
            "href": f"{prefix}/observation",
            "op": ["observeallproperties", "unobserveallproperties"],
            "subprotocol": sub,
            "contentType": JSON,
        },
    ]
    if any(not a.synchronous for a in thing.actions.values()):
        thing_forms.append(
            {"href": f"{prefix}/actions", "op": "queryallactions", "contentType": JSON}
        )
    if thing.events and sub == "sse":
        thing_forms.append(
            {
                "href": f"{prefix}/events",
                "op": ["subscribeallevents", "unsubscribeallevents"],
                "subprotocol": "sse",
                "contentType": JSON,
            }
        )
    definitions, scheme = _security(thing)
    td: dict[str, Any] = {
        "@context": [TD_CONTEXT, *thing.context],
        "@type": thing.semantic_types,
        "id": thing.id,
        "title": thing.title,
        "description": thing.description,
        "version": {"instance": "1.0.0"},
        "base": base,
        "securityDefinitions": definitions,
        "security": scheme,
        "properties": properties,
        "actions": actions,
        "events": events,
        "forms": thing_forms,
    }
    if profiles := _profiles(thing):
        td["profile"] = profiles
    return {**td, **thing.extra}


def directory_description(base: str) -> dict[str, Any]:
    """The TD of the simulator's Thing Description Directory (WoT Discovery section 7.3.2)."""
    return {
        "@context": [TD_CONTEXT, DISCOVERY_CONTEXT, {"htv": "http://www.w3.org/2011/http#"}],
        "@type": "ThingDirectory",
        "id": DIRECTORY_ID,
        "title": "ThingBridge Simulator Directory",
        "description": "Lists the simulator's Things (read-only directory)",
        "base": base,
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
        "security": "nosec_sc",
        "properties": {
            "things": {
                "title": "Things",
                "description": "Every Thing Description, sorted by id; page with offset/limit",
                "type": "array",
                "items": {"type": "object"},
                "readOnly": True,
                "uriVariables": {
                    "offset": {"type": "integer", "minimum": 0},
                    "limit": {"type": "integer", "minimum": 1},
                },
                "forms": [
                    {
                        "href": "things{?offset,limit}",
                        "op": "readproperty",
                        "htv:methodName": "GET",
                        "contentType": JSON,
                    }
                ],
            }
        },
        "actions": {
            "retrieveThing": {
                "title": "Retrieve a Thing Description",
                "uriVariables": {
                    "id": {"@type": "ThingID", "type": "string", "format": "iri-reference"}
                },
                "output": {"type": "object"},
                "safe": True,
                "idempotent": True,
                "synchronous": True,
                "forms": [
                    {
                        "href": "things/{id}",
                        "op": "invokeaction",
                        "htv:methodName": "GET",
                        "response": {"contentType": TD_CONTENT_TYPE},
                    }
                ],
            }
        },
    }


# --------------------------------------------------------------------------------------------
# helpers


def _sse_message(note: Notification) -> bytes:
    data = json.dumps(note.data, separators=(",", ":"))
    return f"event: {note.name}\ndata: {data}\nid: {note.seq}\n\n".encode()


def action_status(record: ActionRecord, href: str) -> dict[str, Any]:
    """An ActionStatus object (WoT Profile, HTTP Basic Profile section 6.2.2.1.1)."""
    status: dict[str, Any] = {
        "status": record.status,
        "href": href,
        "timeRequested": record.time_requested,
    }
    if record.time_ended is not None:
        status["timeEnded"] = record.time_ended
    if record.status == "completed" and record.output is not None:
        status["output"] = record.output
    if record.error is not None:
        status["error"] = record.error
    return status


def _last_event_id(request: web.Request) -> int | None:
    raw = request.headers.get("Last-Event-ID", "").strip()
    return int(raw) if raw.isdigit() else None


def _int_param(request: web.Request, name: str, minimum: int) -> int | None:
    raw = request.query.get(name)
    if not raw:  # absent, or empty as some URI-template libraries expand 0
        return None
    if not raw.isdigit() or int(raw) < minimum:
        raise problem(400, f"{name} must be an integer >= {minimum}, got {raw!r}")
    return int(raw)


# --------------------------------------------------------------------------------------------
# the server


def _listening_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket for ``host``/``port`` (the simulator keeps it to stop accepting)."""
    family, kind, proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class WotSimulator:
    """An HTTP server hosting simulated Things (TD dialect and WebThings dialect)."""

    def __init__(
        self,
        things: list[SimThing],
        *,
        tick_interval: float = 1.0,
        keepalive: float = 15.0,
        longpoll_timeout: float = 60.0,
        protect_tds: bool = False,
    ) -> None:
        """Serve ``things``.

        Args:
            things: the Things; slugs must be unique.
            tick_interval: seconds between state ticks (tests use a huge one and call
                :meth:`tick` or :meth:`set_property` instead).
            keepalive: seconds between SSE keepalive comments.
            longpoll_timeout: seconds a long-poll request is held without a change.
            protect_tds: require a secured Thing's credentials for its TD too.
        """
        self.things: dict[str, SimThing] = {}
        for thing in things:
            if thing.slug in self.things:
                raise ValueError(f"two Things have the slug {thing.slug!r}")
            self.things[thing.slug] = thing
        if tick_interval <= 0:
            raise ValueError(f"tick_interval must be positive, got {tick_interval}")
        self.tick_interval = tick_interval
        self.keepalive = keepalive
        self.longpoll_timeout = longpoll_timeout
        self.protect_tds = protect_tds
        self.host = "127.0.0.1"
        self.port = 0
        self.live: set[Subscription] = set()
        self._runner: web.AppRunner | None = None
        self._socket: socket.socket | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._advertiser: Advertiser | None = None
        self._webthings = WebThingsApi(self)

    # ---- public API

    @property
    def base_url(self) -> str:
        """Where the server listens, ending with ``/``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def url_of(self, slug: str) -> str:
        """The URL of a Thing's description (``/things/<slug>`` or ``/webthings/<slug>``)."""
        thing = self.thing(slug)
        folder = "webthings" if thing.dialect == "webthings" else "things"
        return f"{self.base_url}{folder}/{slug}"

    def thing(self, slug: str) -> SimThing:
        """The Thing ``slug``; :class:`~simulator.model.NotFoundError` if there is none."""
        try:
            return self.things[slug]
        except KeyError:
            raise NotFoundError(f"no Thing {slug!r}; have {', '.join(self.things)}") from None

    def get_property(self, slug: str, name: str) -> Any:
        """The current value of a property."""
        return self.thing(slug).prop(name).value

    def set_property(self, slug: str, name: str, value: Any, *, validate: bool = True) -> None:
        """Set a property (as the device itself would) and push it to every observer.

        Pushes even when the value is unchanged. ``readOnly`` does not apply (it limits
        consumers, not the device); the schema does unless ``validate`` is false.
        """
        thing = self.thing(slug)
        prop = thing.prop(name)
        thing.set(name, prop.check(value) if validate else value)

    def emit_event(self, slug: str, name: str, data: Any = None) -> None:
        """Fire an event: SSE/long-poll subscribers and WebThings WebSockets get ``data``."""
        thing = self.thing(slug)
        schema = thing.event(name).schema.get("data")
        if isinstance(schema, dict) and data is not None:
            data = check_value(schema, data, "data")
        thing.emit(name, data)

    def tick(self, seconds: float | None = None) -> None:
        """Advance every Thing's state by one tick of ``seconds`` (default: the tick interval)."""
        elapsed = self.tick_interval if seconds is None else seconds
        for thing in self.things.values():
            if thing.tick is not None:
                thing.tick(thing, elapsed)

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, *, advertise: bool = False
    ) -> None:
        """Start listening; ``port=0`` picks a free port (see :attr:`port`).

        With ``advertise``, each Thing, the directory and the WebThings server are announced
        over mDNS/DNS-SD on ``host`` (see :mod:`simulator.mdns`): do that only on an address
        and network you own, or inside a private network namespace.
        """
        if self._runner is not None:
            raise RuntimeError("the simulator is already running; stop() it first")
        app = web.Application()
        self._add_routes(app)
        app.on_shutdown.append(self._on_shutdown)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=5.0
        )
        await self._runner.setup()
        self._socket = _listening_socket(host, port)
        site = web.SockSite(self._runner, self._socket)
        await site.start()
        self.host = host
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else port
        self._ticker = asyncio.create_task(self._tick_forever())
        if advertise:
            try:
                self._advertiser = Advertiser(host, self.port, self._services())
                await self._advertiser.start()
            except BaseException:
                await self.stop()
                raise

    async def stop(self) -> None:
        """Withdraw mDNS, end every stream and WebSocket, stop actions, the ticker and server."""
        if self._advertiser is not None:
            await self._advertiser.stop()
            self._advertiser = None
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._runner is not None:
            # Stop listening first, then end the streams (on_shutdown): a consumer that
            # reconnects the moment its stream ends must find the port closed, not a server
            # half-way through shutting down. Connections asyncio has accepted but not yet
            # set up get one loop turn to finish before the server closes (closing in between
            # makes asyncio report "Error on transport creation" for them).
            if self._socket is not None:
                asyncio.get_running_loop().remove_reader(self._socket.fileno())
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                self._socket = None
            await self._runner.cleanup()
            self._runner = None
        await self._close_observers()
        for thing in self.things.values():
            await thing.cancel_all_actions()

    # ---- internals

    def _services(self) -> list[ServiceSpec]:
        specs = [
            ServiceSpec.thing(thing.title, f"/things/{thing.slug}")
            for thing in self.things.values()
            if thing.dialect == "td"
        ]
        specs.append(ServiceSpec.directory("ThingBridge Simulator Directory", "/.well-known/wot"))
        if any(thing.dialect == "webthings" for thing in self.things.values()):
            specs.append(ServiceSpec.webthing("ThingBridge Simulator WebThings", "/webthings/"))
        return specs

    async def _close_observers(self) -> None:
        """End every SSE stream, long-poll and WebSocket (each handler then finishes itself)."""
        for sub in list(self.live):
            sub.close()
        await asyncio.sleep(0)

    async def _on_shutdown(self, _app: web.Application) -> None:
        await self._close_observers()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            for thing in self.things.values():
                if thing.tick is None:
                    continue
                try:
                    thing.tick(thing, self.tick_interval)
                except Exception:
                    # A broken tick (e.g. a test set an odd value) must not stop the others.
                    _LOGGER.exception("tick of Thing %s failed", thing.slug)

    def _add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/.well-known/wot", self._directory_td)
        r.add_get("/things", self._directory)
        r.add_get("/things/", self._directory)
        r.add_get("/things/{slug}", self._get_td)
        r.add_get("/things/{slug}/properties", self._read_all)
        r.add_put("/things/{slug}/properties", self._write_many)
        r.add_get("/things/{slug}/properties/{name}", self._read)
        r.add_put("/things/{slug}/properties/{name}", self._write)
        # Observation and subscription answer GET (and HEAD), and POST as the binding
        # templates' diagrams draw it.
        for add in (r.add_get, r.add_post):
            add("/things/{slug}/properties/{name}/observation", self._observe)
            add("/things/{slug}/observation", self._observe_all)
            add("/things/{slug}/events", self._subscribe_all)
            add("/things/{slug}/events/{name}", self._subscribe)
        r.add_get("/things/{slug}/actions", self._query_all_actions)
        r.add_post("/things/{slug}/actions/{name}", self._invoke)
        r.add_get("/things/{slug}/actions/{name}/{id}", self._query_action)
        r.add_delete("/things/{slug}/actions/{name}/{id}", self._cancel_action)
        self._webthings.add_routes(app)

    def _base_for(self, request: web.Request) -> str:
        return f"{request.scheme}://{request.host}/"

    def _td_thing(self, request: web.Request) -> SimThing:
        """The TD-dialect Thing named in the URL, after checking credentials."""
        key = request.match_info["slug"]
        thing = self.things.get(key) or next((t for t in self.things.values() if t.id == key), None)
        if thing is None or thing.dialect != "td":
            raise problem(404, f"no Thing {key!r} here")
        authorize(request, thing.security)
        return thing

    def _property(self, request: web.Request, thing: SimThing) -> SimProperty:
        try:
            return thing.prop(request.match_info["name"])
        except NotFoundError as err:
            raise problem(404, str(err)) from None

    # ---- directory

    async def _directory_td(self, request: web.Request) -> web.Response:
        return web.json_response(
            directory_description(self._base_for(request)), content_type=TD_CONTENT_TYPE
        )

    async def _directory(self, request: web.Request) -> web.Response:
        offset = _int_param(request, "offset", 0) or 0
        limit = _int_param(request, "limit", 1)
        base = self._base_for(request)
        # Sorted by id, and only the page's TDs are built: a directory of thousands of Things
        # read page by page would otherwise build every TD for every page.
        listed = sorted(
            (t for t in self.things.values() if t.dialect == "td"), key=lambda t: str(t.id)
        )
        end = len(listed) if limit is None else offset + limit
        headers = {}
        if end < len(listed):
            headers["Link"] = f'</things?offset={end}&limit={limit}>; rel="next"'
        accept = request.headers.get("Accept", "")
        content_type = "application/ld+json" if "application/ld+json" in accept else JSON
        tds = [thing_description(t, base) for t in listed[offset:end]]
        return web.json_response(tds, content_type=content_type, headers=headers)

    async def _get_td(self, request: web.Request) -> web.Response:
        key = request.match_info["slug"]
        thing = self.things.get(key) or next((t for t in self.things.values() if t.id == key), None)
        if thing is None or thing.dialect != "td":
            raise problem(404, f"no Thing {key!r} here")
        if self.protect_tds:
            authorize(request, thing.security)
        return web.json_response(
            thing_description(thing, self._base_for(request)), content_type=TD_CONTENT_TYPE
        )

    # ---- properties

    async def _read_all(self, request: web.Request) -> web.StreamResponse:
        thing = self._td_thing(request)
        if thing.observe == "sse" and wants_event_stream(request):
            return await self._event_stream(request, thing, Subscription(["property"]))
        return web.json_response(thing.readable_values())

    async def _read(self, request: web.Request) -> web.StreamResponse:
        thing = self._td_thing(request)
        prop = self._property(request, thing)
        if prop.write_only:
            raise method_not_allowed("GET", ["PUT"], f"{prop.name} is write-only")
        if thing.observe == "sse" and wants_event_stream(request):
            sub = Subscription(["property"], [prop.name])
            return await self._event_stream(request, thing, sub)
        return web.json_response(prop.value)

    def _checked_write(self, prop: SimProperty, value: Any) -> Any:
        if prop.read_only:
            raise method_not_allowed("PUT", ["GET", "HEAD"], f"{prop.name} is read-only")
        try:
            return prop.check(value)
        except InvalidValueError as err:
            raise problem(400, str(err)) from None

    @staticmethod
    def _apply_write(thing: SimThing, prop: SimProperty, value: Any) -> None:
        if prop.on_write is not None:
            prop.on_write(thing, value)
        else:
            prop.value = value

    async def _write(self, request: web.Request) -> web.Response:
        thing = self._td_thing(request)
        prop = self._property(request, thing)
        value = self._checked_write(prop, await json_body(request))
        self._apply_write(thing, prop, value)
        return web.Response(status=204)

    async def _write_many(self, request: web.Request) -> web.Response:
        thing = self._td_thing(request)
        body = await json_body(request)
        if not isinstance(body, dict) or not body:
            raise problem(400, 'expected a non-empty object {"property": value, ...}')
        checked: list[tuple[SimProperty, Any]] = []
        for name, value in body.items():
            try:
                prop = thing.prop(name)
            except NotFoundError as err:
                raise problem(400, str(err)) from None
            checked.append((prop, self._checked_write(prop, value)))
        for prop, value in checked:
            self._apply_write(thing, prop, value)
        return web.Response(status=204)

    # ---- observation

    async def _observe(self, request: web.Request) -> web.StreamResponse:
        thing = self._td_thing(request)
        prop = self._property(request, thing)
        sub = Subscription(["property"], [prop.name])
        if thing.observe == "sse":
            return await self._event_stream(request, thing, sub)
        return await self._long_poll(request, thing, sub, lambda: prop.value)

    async def _observe_all(self, request: web.Request) -> web.StreamResponse:
        thing = self._td_thing(request)
        sub = Subscription(["property"])
        if thing.observe == "sse":
            return await self._event_stream(request, thing, sub)
        return await self._long_poll(request, thing, sub, thing.readable_values, merge=True)

    async def _subscribe(self, request: web.Request) -> web.StreamResponse:
        thing = self._td_thing(request)
        name = request.match_info["name"]
        if name not in thing.events:
            raise problem(404, f"Thing {thing.slug!r} has no event {name!r}")
        sub = Subscription(["event"], [name])
        if thing.observe == "sse":
            return await self._event_stream(request, thing, sub)
        return await self._long_poll(request, thing, sub, None)

    async def _subscribe_all(self, request: web.Request) -> web.StreamResponse:
        thing = self._td_thing(request)
        sub = Subscription(["event"])
        if thing.observe == "sse":
            return await self._event_stream(request, thing, sub)
        return await self._long_poll(request, thing, sub, None, merge=True)

    async def _event_stream(
        self, request: web.Request, thing: SimThing, sub: Subscription
    ) -> web.StreamResponse:
        """Serve ``sub`` as Server-Sent Events until the client leaves or the server stops."""
        if request.method == "HEAD":
            return web.Response(headers=SSE_HEADERS)
        last = _last_event_id(request)
        # Everything after ``start`` arrives through the queue; older missed changes (asked
        # for with Last-Event-ID) come from the history.
        start = thing.last_seq
        thing.subscribe(sub)
        self.live.add(sub)
        response = web.StreamResponse(headers=SSE_HEADERS)
        try:
            await response.prepare(request)
            await response.write(f"retry: {RETRY_MS}\n\n".encode())
            if last is not None:
                for missed in thing.history_after(last):
                    if missed.seq <= start and sub.matches(missed):
                        await response.write(_sse_message(missed))
            while True:
                try:
                    note = await sub.next(self.keepalive)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")
                    continue
                if note is None:
                    break
                await response.write(_sse_message(note))
        except ConnectionError:
            pass  # the consumer went away: that is how it unobserves
        finally:
            thing.unsubscribe(sub)
            self.live.discard(sub)
        return response

    async def _long_poll(
        self,
        request: web.Request,
        thing: SimThing,
        sub: Subscription,
        current: Callable[[], Any] | None,
        *,
        merge: bool = False,
    ) -> web.Response:
        """Hold the request until a matching change (see the module docstring for timeouts)."""
        if request.method == "HEAD":
            return web.Response(content_type=JSON)
        thing.subscribe(sub)
        self.live.add(sub)
        try:
            try:
                note = await sub.next(self.longpoll_timeout)
            except TimeoutError:
                if current is None:
                    return web.Response(status=204)
                return web.json_response(current())
            if note is None:
                raise problem(503, "the Thing is shutting down")
            if not merge:
                return web.json_response(note.data)
            merged = {note.name: note.data}
            while not sub.queue.empty():
                more = sub.queue.get_nowait()
                if more is not None:
                    merged[more.name] = more.data
            return web.json_response(merged)
        finally:
            thing.unsubscribe(sub)
            self.live.discard(sub)

    # ---- actions

    def _action_href(self, record: ActionRecord) -> str:
        return f"/things/{record.thing}/actions/{record.name}/{record.id}"

    async def _invoke(self, request: web.Request) -> web.Response:
        thing = self._td_thing(request)
        name = request.match_info["name"]
        try:
            action = thing.action(name)
        except NotFoundError as err:
            raise problem(404, str(err)) from None
        value = await json_body(request, optional=True)
        if action.synchronous:
            try:
                output = await thing.invoke_now(name, value)
            except InvalidValueError as err:
                raise problem(400, str(err)) from None
            if "output" in action.schema:
                return web.json_response(output)
            return web.Response(status=204)
        try:
            record = thing.start_action(name, value)
        except InvalidValueError as err:
            raise problem(400, str(err)) from None
        href = self._action_href(record)
        return web.json_response(
            action_status(record, href), status=201, headers={"Location": href}
        )

    def _record(self, request: web.Request, thing: SimThing) -> ActionRecord:
        record = thing.action_records.get(request.match_info["id"])
        if record is None or record.name != request.match_info["name"]:
            raise problem(404, "no such action request (finished ones are kept for a while)")
        return record

    async def _query_action(self, request: web.Request) -> web.Response:
        thing = self._td_thing(request)
        record = self._record(request, thing)
        return web.json_response(action_status(record, self._action_href(record)))

    async def _cancel_action(self, request: web.Request) -> web.Response:
        thing = self._td_thing(request)
        record = self._record(request, thing)
        if record.finished:
            raise problem(409, f"the action request has already {record.status}")
        thing.cancel_action(record)
        return web.Response(status=204)

    async def _query_all_actions(self, request: web.Request) -> web.Response:
        thing = self._td_thing(request)
        body: dict[str, list[dict[str, Any]]] = {
            name: [] for name, action in thing.actions.items() if not action.synchronous
        }
        for record in reversed(thing.action_records.values()):
            body.setdefault(record.name, []).append(
                action_status(record, self._action_href(record))
            )
        return web.json_response(body)
