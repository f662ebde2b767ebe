"""Simulated Web of Things devices served over HTTP (W3C WoT TD 1.1, HTTP binding).

Every Thing is served at ``/things/<slug>``: its TD on GET, properties at
``/things/<slug>/properties/<name>`` (GET reads, PUT writes a JSON value).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import contextlib
from dataclasses import dataclass, field
import json
import random
from typing import Any

from aiohttp import web

TD_CONTEXT = "https://www.w3.org/2022/wot/td/v1.1"
TD_CONTENT_TYPE = "application/td+json"


@dataclass
class SimProperty:
    """A property with its schema (TD property affordance members) and current value."""

    schema: dict[str, Any]
    value: Any
    validate: Callable[[Any], bool] = lambda _value: True


@dataclass
class SimThing:
    """A simulated Thing: a title, properties, and a tick that changes them over time."""

    slug: str
    title: str
    semantic_types: list[str]
    properties: dict[str, SimProperty]
    tick: Callable[[SimThing], None] | None = None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def td(self, base: str) -> dict[str, Any]:
        """The Thing Description, with hrefs relative to ``base``."""
        props: dict[str, Any] = {}
        for name, prop in self.properties.items():
            readonly = prop.schema.get("readOnly", False)
            props[name] = {
                **prop.schema,
                "forms": [
                    {
                        "href": f"things/{self.slug}/properties/{name}",
                        "op": ["readproperty"] if readonly else ["readproperty", "writeproperty"],
                    }
                ],
            }
        return {
            "@context": TD_CONTEXT,
            "@type": self.semantic_types,
            "id": f"urn:thingbridge:simulator:{self.slug}",
            "title": self.title,
            "description": self.description,
            "base": base,
            "securityDefinitions": {"nosec_sc": {"scheme": "nosec"}},
            "security": "nosec_sc",
            "properties": props,
            **self.extra,
        }


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _in_range(low: float, high: float) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high
        )

    return check


def make_lamp() -> SimThing:
    """A dimmable lamp."""
    return SimThing(
        slug="lamp",
        title="Simulated Lamp",
        semantic_types=["Light", "OnOffSwitch"],
        description="A dimmable lamp",
        properties={
            "on": SimProperty(
                {"@type": "OnOffProperty", "title": "On/Off", "type": "boolean"}, False, _is_bool
            ),
            "brightness": SimProperty(
                {
                    "@type": "BrightnessProperty",
                    "title": "Brightness",
                    "type": "integer",
                    "unit": "percent",
                    "minimum": 0,
                    "maximum": 100,
                },
                80,
                _in_range(0, 100),
            ),
        },
    )


def _drift(thing: SimThing) -> None:
    temp = thing.properties["temperature"]
    temp.value = round(min(30.0, max(15.0, temp.value + random.uniform(-0.2, 0.2))), 2)


def make_sensor() -> SimThing:
    """A temperature sensor whose reading drifts."""
    return SimThing(
        slug="sensor",
        title="Simulated Temperature Sensor",
        semantic_types=["TemperatureSensor"],
        description="Temperature drifts by up to 0.2 °C per tick",
        properties={
            "temperature": SimProperty(
                {
                    "@type": "TemperatureProperty",
                    "title": "Temperature",
                    "type": "number",
                    "unit": "degree celsius",
                    "readOnly": True,
                },
                21.5,
            ),
        },
        tick=_drift,
    )


THING_FACTORIES: dict[str, Callable[[], SimThing]] = {
    "lamp": make_lamp,
    "sensor": make_sensor,
}


class WotSimulator:
    """An HTTP server hosting simulated Things."""

    def __init__(self, things: list[SimThing], *, tick_interval: float = 1.0) -> None:
        """Serve ``things``; each one's tick runs every ``tick_interval`` seconds."""
        self.things = {thing.slug: thing for thing in things}
        self.tick_interval = tick_interval
        self.app = web.Application()
        self.app.router.add_get("/things/{slug}", self._get_td)
        self.app.router.add_get("/things/{slug}/properties/{name}", self._read)
        self.app.router.add_put("/things/{slug}/properties/{name}", self._write)
        self.app.router.add_get("/.well-known/wot", self._directory)
        self.app.router.add_get("/things", self._directory)
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.port = 0
        self.host = "127.0.0.1"

    @property
    def base_url(self) -> str:
        """Where the server listens."""
        return f"http://{self.host}:{self.port}/"

    def _thing(self, request: web.Request) -> SimThing:
        thing = self.things.get(request.match_info["slug"])
        if thing is None:
            raise web.HTTPNotFound(text="no such thing")
        return thing

    def _base_for(self, request: web.Request) -> str:
        return f"{request.scheme}://{request.host}/"

    async def _get_td(self, request: web.Request) -> web.Response:
        thing = self._thing(request)
        return web.Response(
            text=json.dumps(thing.td(self._base_for(request))), content_type=TD_CONTENT_TYPE
        )

    async def _directory(self, request: web.Request) -> web.Response:
        base = self._base_for(request)
        return web.Response(
            text=json.dumps([thing.td(base) for thing in self.things.values()]),
            content_type="application/json",
        )

    async def _read(self, request: web.Request) -> web.Response:
        thing = self._thing(request)
        prop = thing.properties.get(request.match_info["name"])
        if prop is None:
            raise web.HTTPNotFound(text="no such property")
        return web.json_response(prop.value)

    async def _write(self, request: web.Request) -> web.Response:
        thing = self._thing(request)
        prop = thing.properties.get(request.match_info["name"])
        if prop is None:
            raise web.HTTPNotFound(text="no such property")
        if prop.schema.get("readOnly"):
            raise web.HTTPMethodNotAllowed("PUT", ["GET"])
        try:
            value = json.loads(await request.read())
        except ValueError as err:
            raise web.HTTPBadRequest(text=f"body is not JSON: {err}") from err
        if not prop.validate(value):
            raise web.HTTPBadRequest(text=f"invalid value {value!r}")
        prop.value = value
        return web.Response(status=204)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            for thing in self.things.values():
                if thing.tick is not None:
                    thing.tick(thing)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start listening; ``port=0`` picks a free port (see :attr:`port`)."""
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server  # noqa: SLF001 - aiohttp exposes the bound port only here
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.host = host
        self.port = sockets[0].getsockname()[1] if sockets else port
        self._ticker = asyncio.create_task(self._tick_forever())

    async def stop(self) -> None:
        """Stop the server and the ticker."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        if self._runner is not None:
            await self._runner.cleanup()
