"""The WebThings dialect: Things served the way a webthing-python server serves them.

This is the legacy Mozilla/WebThings "Web Thing API" (webthings.io/api), mirrored from
webthing-python's ``server.py``, ``thing.py`` and ``action.py``, on the same aiohttp app:

==============================================  ==============================================
``GET /webthings/``                             array of every description (multi-thing server)
``GET /webthings/<slug>``                       the description; a WebSocket upgrade here opens
                                                the ``webthing`` subprotocol
``GET /webthings/<slug>/properties``            ``{"on": true, "level": 50}``
``GET|PUT /webthings/<slug>/properties/<n>``    ``{"<n>": value}`` both ways; PUT answers 200
``GET|POST /webthings/<slug>/actions[/<n>]``    queue: POST ``{"<n>": {"input": {...}}}`` → 201
                                                ``{"<n>": {"href", "timeRequested", "status"}}``
``GET|DELETE /webthings/<slug>/actions/<n>/<id>``  one request / remove it (204)
``GET /webthings/<slug>/events[/<n>]``          event log ``[{"<n>": {"data", "timestamp"}}]``
==============================================  ==============================================

Descriptions use ``links`` (rel ``property``/``action``/``event``, path-absolute hrefs), carry
``base``, ``href`` and a ``nosec`` security definition as webthing-python adds them, put event
schemas at the top level, and link the WebSocket as ``rel: "alternate"`` with a ``ws://`` URL.

WebSocket messages (JSON text frames):

- server → client: ``{"messageType": "propertyStatus", "data": {"on": true}}``,
  ``{"messageType": "actionStatus", "data": {"fade": {"href", "status", ...}}}`` and, for events
  the client subscribed to, ``{"messageType": "event", "data": {"overheated":
  {"data": 90, "timestamp": "..."}}}``; errors are ``{"messageType": "error", "data":
  {"status": "400 Bad Request", "message": "..."}}``;
- client → server: ``setProperty`` (``data: {"on": true}``), ``requestAction``
  (``data: {"fade": {"input": {...}}}``), ``addEventSubscription`` (``data: {"overheated": {}}``).

Action statuses follow webthing-python: ``created`` → ``pending`` (running) → ``completed``
(``failed`` when an action fails). webthing-python's Host-header check (DNS-rebinding
protection) is not reproduced.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .httputil import json_body, problem
from .model import (
    WEBTHINGS_CONTEXT,
    ActionRecord,
    InvalidValueError,
    NotFoundError,
    Notification,
    SimThing,
    Subscription,
)

if TYPE_CHECKING:
    from .wot import WotSimulator

WS_PROTOCOL = "webthing"
_STATUS_NAMES = {"pending": "created", "running": "pending"}


def webthing_description(thing: SimThing, origin: str, ws_origin: str) -> dict[str, Any]:
    """The Web Thing Description of ``thing`` served under ``origin`` (``http://host:port``)."""
    prefix = f"/webthings/{thing.slug}"
    properties = {
        name: {**prop.schema, "links": [{"rel": "property", "href": f"{prefix}/properties/{name}"}]}
        for name, prop in thing.properties.items()
    }
    actions = {
        name: {**action.schema, "links": [{"rel": "action", "href": f"{prefix}/actions/{name}"}]}
        for name, action in thing.actions.items()
    }
    events: dict[str, Any] = {}
    for name, event in thing.events.items():
        flat = {key: value for key, value in event.schema.items() if key != "data"}
        flat.update(event.schema.get("data") or {})
        flat["links"] = [{"rel": "event", "href": f"{prefix}/events/{name}"}]
        events[name] = flat
    return {
        "@context": WEBTHINGS_CONTEXT,
        "@type": thing.semantic_types,
        "id": thing.id,
        "title": thing.title,
        "description": thing.description,
        "properties": properties,
        "actions": actions,
        "events": events,
        "links": [
            {"rel": "properties", "href": f"{prefix}/properties"},
            {"rel": "actions", "href": f"{prefix}/actions"},
            {"rel": "events", "href": f"{prefix}/events"},
            {"rel": "alternate", "href": f"{ws_origin}{prefix}"},
        ],
        "href": prefix,
        "base": f"{origin}{prefix}",
        "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
        "security": "nosec_sc",
    }


def action_description(record: ActionRecord) -> dict[str, Any]:
    """``{"<name>": {"href", "timeRequested", "status", "input"?, "timeCompleted"?}}``."""
    body: dict[str, Any] = {
        "href": f"/webthings/{record.thing}/actions/{record.name}/{record.id}",
        "timeRequested": record.time_requested,
        "status": _STATUS_NAMES.get(record.status, record.status),
    }
    if record.input is not None:
        body["input"] = record.input
    if record.time_ended is not None:
        body["timeCompleted"] = record.time_ended
    return {record.name: body}


def _event_description(note: Notification) -> dict[str, Any]:
    body: dict[str, Any] = {"timestamp": note.time}
    if note.data is not None:
        body["data"] = note.data
    return {note.name: body}


def _error(message: str) -> dict[str, Any]:
    return {"messageType": "error", "data": {"status": "400 Bad Request", "message": message}}


class WebThingsApi:
    """HTTP and WebSocket handlers of the WebThings dialect, bound to a :class:`WotSimulator`."""

    def __init__(self, sim: WotSimulator) -> None:
        """Serve ``sim``'s Things whose dialect is ``webthings``."""
        self.sim = sim

    def add_routes(self, app: web.Application) -> None:
        """Register the ``/webthings/...`` routes."""
        r = app.router
        r.add_get("/webthings", self._list)
        r.add_get("/webthings/", self._list)
        r.add_get("/webthings/{slug}", self._thing_or_socket)
        r.add_get("/webthings/{slug}/properties", self._properties)
        r.add_get("/webthings/{slug}/properties/{name}", self._read)
        r.add_put("/webthings/{slug}/properties/{name}", self._write)
        r.add_get("/webthings/{slug}/actions", self._actions)
        r.add_post("/webthings/{slug}/actions", self._request_action)
        r.add_get("/webthings/{slug}/actions/{name}", self._actions)
        r.add_post("/webthings/{slug}/actions/{name}", self._request_action)
        r.add_get("/webthings/{slug}/actions/{name}/{id}", self._action)
        r.add_delete("/webthings/{slug}/actions/{name}/{id}", self._remove_action)
        r.add_get("/webthings/{slug}/events", self._events)
        r.add_get("/webthings/{slug}/events/{name}", self._events)

    # ---- helpers

    def _things(self) -> list[SimThing]:
        return [t for t in self.sim.things.values() if t.dialect == "webthings"]

    def _thing(self, request: web.Request) -> SimThing:
        thing = self.sim.things.get(request.match_info["slug"])
        if thing is None or thing.dialect != "webthings":
            raise problem(404, f"no WebThing {request.match_info['slug']!r} here")
        return thing

    @staticmethod
    def _origins(request: web.Request) -> tuple[str, str]:
        ws_scheme = "wss" if request.scheme == "https" else "ws"
        return f"{request.scheme}://{request.host}", f"{ws_scheme}://{request.host}"

    @staticmethod
    def _set(thing: SimThing, name: str, value: Any) -> None:
        """Validate and apply a consumer's write (raises the model's typed errors)."""
        prop = thing.prop(name)
        if prop.read_only:
            raise InvalidValueError(f"{name} is read-only")
        value = prop.check(value)
        if prop.on_write is not None:
            prop.on_write(thing, value)
        else:
            prop.value = value

    # ---- REST

    async def _list(self, request: web.Request) -> web.Response:
        origin, ws_origin = self._origins(request)
        return web.json_response(
            [webthing_description(t, origin, ws_origin) for t in self._things()]
        )

    async def _thing_or_socket(self, request: web.Request) -> web.StreamResponse:
        thing = self._thing(request)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._socket(request, thing)
        origin, ws_origin = self._origins(request)
        return web.json_response(webthing_description(thing, origin, ws_origin))

    async def _properties(self, request: web.Request) -> web.Response:
        return web.json_response(self._thing(request).readable_values())

    async def _read(self, request: web.Request) -> web.Response:
        thing = self._thing(request)
        name = request.match_info["name"]
        try:
            return web.json_response({name: thing.prop(name).value})
        except NotFoundError as err:
            raise problem(404, str(err)) from None

    async def _write(self, request: web.Request) -> web.Response:
        thing = self._thing(request)
        name = request.match_info["name"]
        if name not in thing.properties:
            raise problem(404, f"WebThing {thing.slug!r} has no property {name!r}")
        body = await json_body(request)
        if not isinstance(body, dict) or name not in body:
            raise problem(400, f'expected {{"{name}": value}}')
        try:
            self._set(thing, name, body[name])
        except InvalidValueError as err:
            raise problem(400, str(err)) from None
        return web.json_response({name: thing.properties[name].value})

    async def _actions(self, request: web.Request) -> web.Response:
        thing = self._thing(request)
        wanted = request.match_info.get("name")
        return web.json_response(
            [
                action_description(record)
                for record in thing.action_records.values()
                if wanted is None or record.name == wanted
            ]
        )

    async def _request_action(self, request: web.Request) -> web.Response:
        thing = self._thing(request)
        body = await json_body(request)
        if not isinstance(body, dict) or len(body) != 1:
            raise problem(400, 'expected {"<action>": {"input": ...}}')
        name, params = next(iter(body.items()))
        wanted = request.match_info.get("name")
        if wanted is not None and name != wanted:
            raise problem(400, f"the body names action {name!r}, the URL {wanted!r}")
        try:
            record = self._start(thing, name, params)
        except (NotFoundError, InvalidValueError) as err:
            raise problem(400, str(err)) from None
        return web.json_response(action_description(record), status=201)

    @staticmethod
    def _start(thing: SimThing, name: str, params: Any) -> ActionRecord:
        if params is not None and not isinstance(params, dict):
            raise InvalidValueError(f'expected {{"{name}": {{"input": ...}}}}')
        return thing.start_action(name, (params or {}).get("input"))

    def _record(self, request: web.Request) -> tuple[SimThing, ActionRecord]:
        thing = self._thing(request)
        record = thing.action_records.get(request.match_info["id"])
        if record is None or record.name != request.match_info["name"]:
            raise problem(404, "no such action request")
        return thing, record

    async def _action(self, request: web.Request) -> web.Response:
        _thing, record = self._record(request)
        return web.json_response(action_description(record))

    async def _remove_action(self, request: web.Request) -> web.Response:
        thing, record = self._record(request)
        if record.finished:
            thing.action_records.pop(record.id, None)
        else:
            thing.cancel_action(record)
        return web.Response(status=204)

    async def _events(self, request: web.Request) -> web.Response:
        thing = self._thing(request)
        wanted = request.match_info.get("name")
        if wanted is not None and wanted not in thing.events:
            raise problem(404, f"WebThing {thing.slug!r} has no event {wanted!r}")
        return web.json_response(
            [
                _event_description(note)
                for note in thing.event_log
                if wanted is None or note.name == wanted
            ]
        )

    # ---- WebSocket

    async def _socket(self, request: web.Request, thing: SimThing) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=(WS_PROTOCOL,), heartbeat=30.0, timeout=2.0)
        await ws.prepare(request)
        sub = thing.subscribe(Subscription(["property", "action", "event"]))
        events: set[str] = set()
        self.sim.live.add(sub)
        sender = asyncio.create_task(self._send_loop(ws, sub, events))
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    reply = self._handle(thing, message.data, events)
                    if reply is not None:
                        await ws.send_json(reply)
                elif message.type == WSMsgType.ERROR:
                    break
        except ConnectionError:
            pass
        finally:
            thing.unsubscribe(sub)
            self.sim.live.discard(sub)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await sender
            await ws.close()
        return ws

    @staticmethod
    async def _send_loop(ws: web.WebSocketResponse, sub: Subscription, events: set[str]) -> None:
        while (note := await sub.next()) is not None:
            if note.kind == "property":
                message = {"messageType": "propertyStatus", "data": {note.name: note.data}}
            elif note.kind == "action":
                message = {"messageType": "actionStatus", "data": action_description(note.data)}
            elif note.name in events:
                message = {"messageType": "event", "data": _event_description(note)}
            else:
                continue
            await ws.send_json(message)
        await ws.close()

    def _handle(self, thing: SimThing, text: str, events: set[str]) -> dict[str, Any] | None:
        """Act on one client message; return an error message to send back, if any."""
        try:
            message = json.loads(text)
        except ValueError:
            return _error("Parsing request failed")
        if not isinstance(message, dict) or not isinstance(message.get("data"), dict):
            return _error("Invalid message: expected {messageType, data}")
        kind, data = message.get("messageType"), message["data"]
        try:
            if kind == "setProperty":
                for name, value in data.items():
                    self._set(thing, name, value)
            elif kind == "requestAction":
                for name, params in data.items():
                    self._start(thing, name, params)
            elif kind == "addEventSubscription":
                for name in data:
                    thing.event(name)
                    events.add(name)
            else:
                return _error(f"Unknown messageType: {kind}")
        except (NotFoundError, InvalidValueError) as err:
            return _error(str(err))
        return None
