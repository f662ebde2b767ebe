"""A loopback aiohttp server whose routes the test writes (the discovery tests share it)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
import contextlib
import json
from typing import Any

from aiohttp import web

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Server:
    """An aiohttp server on 127.0.0.1 recording every request's path, Host and headers."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[tuple[str, str]] = []
        self.headers: list[Mapping[str, str]] = []
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app)
        self.port = 0

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def json(
        self,
        path: str,
        body: Any,
        *,
        headers: Mapping[str, str] | None = None,
        status: int = 200,
        content_type: str = "application/json",
    ) -> str:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()

        async def handler(request: web.Request) -> web.Response:
            return web.Response(
                body=data, status=status, headers=headers, content_type=content_type
            )

        self.routes[path] = handler
        return self.url(path)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path_qs, request.host))
        self.headers.append(dict(request.headers))
        handler = self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="404 page not found")
        return await handler(request)

    def paths(self) -> list[str]:
        return [path for path, _host in self.requests]

    def hosts(self) -> set[str]:
        return {host.rsplit(":", 1)[0] for _path, host in self.requests}


@contextlib.asynccontextmanager
async def running_server() -> AsyncGenerator[Server]:
    """A :class:`Server` listening on a free 127.0.0.1 port."""
    srv = Server()
    await srv.runner.setup()
    site = web.TCPSite(srv.runner, "127.0.0.1", 0)
    await site.start()
    srv.port = srv.runner.addresses[0][1]
    try:
        yield srv
    finally:
        await srv.runner.cleanup()
