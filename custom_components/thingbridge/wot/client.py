"""HTTP client for Things, on the caller's :class:`aiohttp.ClientSession`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from yarl import URL

from .errors import WotConnectionError, WotResponseError, WotValidationError
from .td import MAX_TD_BYTES, ThingDescription, parse_td

DEFAULT_TIMEOUT = 10.0
MAX_RESPONSE_BYTES = 256 * 1024
TD_ACCEPT = "application/td+json, application/json;q=0.9"


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    if response.content_length is not None and response.content_length > limit:
        raise WotResponseError(
            f"{response.url}: response of {response.content_length} bytes exceeds the {limit}-byte limit",
            response.status,
        )
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > limit:
            raise WotResponseError(
                f"{response.url}: response exceeds the {limit}-byte limit", response.status
            )
    return bytes(body)


async def _request_json(
    session: aiohttp.ClientSession,
    method: str,
    url: URL,
    *,
    limit: int,
    request_timeout: float,
    headers: dict[str, str] | None = None,
    payload: Any = None,
    has_payload: bool = False,
) -> Any:
    """Send one request and decode its JSON answer (``None`` for an empty body)."""
    try:
        async with asyncio.timeout(request_timeout):
            async with session.request(
                method,
                url,
                headers=headers,
                data=json.dumps(payload).encode() if has_payload else None,
                allow_redirects=True,
            ) as response:
                body = await _read_capped(response, limit)
                if response.status >= 400:
                    raise WotResponseError(
                        f"{method} {url}: HTTP {response.status} {response.reason or ''}".rstrip(),
                        response.status,
                    )
    except TimeoutError as err:
        raise WotConnectionError(f"{method} {url}: no answer within {request_timeout:g} s") from err
    except aiohttp.ClientError as err:
        raise WotConnectionError(f"{method} {url}: {err}") from err
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WotResponseError(f"{method} {url}: body is not valid JSON ({err})") from err


async def fetch_thing_description(
    session: aiohttp.ClientSession, url: str | URL, *, request_timeout: float = DEFAULT_TIMEOUT
) -> ThingDescription:
    """Fetch and parse the TD at ``url`` (at most 1 MiB)."""
    target = URL(str(url))
    if target.scheme not in ("http", "https"):
        raise WotValidationError("url", f"unsupported URI scheme {target.scheme!r}")
    raw = await _request_json(
        session,
        "GET",
        target,
        limit=MAX_TD_BYTES,
        request_timeout=request_timeout,
        headers={"Accept": TD_ACCEPT},
    )
    return parse_td(raw, source_url=target)


class WotClient:
    """Performs operations on one Thing."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        td: ThingDescription,
        *,
        request_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Bind the client to a session and a parsed TD."""
        self._session = session
        self.td = td
        self._timeout = request_timeout

    async def read_property(self, name: str) -> Any:
        """Read one property's current value."""
        prop = self.td.properties.get(name)
        if prop is None:
            raise WotValidationError(f"$.properties.{name}", "no such property")
        form = prop.form_for("readproperty")
        if form is None:
            raise WotValidationError(f"$.properties.{name}.forms", "no form offers readproperty")
        return await _request_json(
            self._session,
            form.method or "GET",
            form.target(),
            limit=MAX_RESPONSE_BYTES,
            request_timeout=self._timeout,
            headers={"Accept": form.content_type},
        )
