"""The HTTP/WebSocket plumbing shared by :class:`WotClient` and the push channels.

Every request goes through :class:`Transport`, which enforces what a consumer of a possibly
hostile device needs: only ``http``/``https``/``ws``/``wss`` URLs on allowed hosts, a timeout
on every request, a cap on every body, TLS verification unless turned off, the Thing's
security schemes applied, and secrets redacted from every error message. Thin, hand-written
glue over aiohttp (which does the HTTP, TLS, digest and redirects); the host check also runs on
every redirect hop, as a client middleware.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
import json
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from .errors import (
    WotAuthError,
    WotConnectionError,
    WotResponseError,
    WotTimeoutError,
    WotValidationError,
)
from .security import AppliedAuth, Authenticator, Credentials
from .td import Form, ThingDescription

DEFAULT_TIMEOUT = 10.0
MAX_RESPONSE_BYTES = 256 * 1024
HTTP_SCHEMES = frozenset({"http", "https"})
WS_SCHEMES = frozenset({"ws", "wss"})
ANY_HOST = "*"
_CHUNK = 64 * 1024
_NO_TOTAL = aiohttp.ClientTimeout(total=None)


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer whose body has been read (within the size cap)."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    url: URL


Describe = str | Callable[[], str]


def _label(what: Describe) -> str:
    """The request's description (built only when an error needs it)."""
    return what if isinstance(what, str) else what()


def decode_body(body: bytes, content_type: str, what: Describe) -> Any:
    """A body's value: JSON decoded (``None`` when empty); text kept for ``text/*`` types."""
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as err:  # not JSON, or nested too deep
        if content_type.lower().startswith("text/"):
            return body.decode("utf-8", errors="replace")
        raise WotResponseError(f"{_label(what)}: body is not valid JSON ({err})") from err


def encode_body(value: Any, content_type: str, where: str) -> bytes:
    """The request body for ``value`` in ``content_type`` (JSON, or plain text)."""
    if content_type.lower().startswith("text/") and isinstance(value, str):
        return value.encode()
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":")).encode()
    except (TypeError, ValueError) as err:
        raise WotValidationError(where, f"value cannot be sent as JSON ({err})") from err


async def read_capped(response: aiohttp.ClientResponse, limit: int, what: Describe) -> bytes:
    """The whole body, refusing (without reading on) anything over ``limit`` bytes."""
    length = response.content_length
    if length is not None:
        if length > limit:
            raise WotResponseError(
                f"{_label(what)}: response of {length} bytes exceeds the {limit}-byte limit",
                response.status,
            )
        if not response.headers.get("Content-Encoding"):
            # The declared length bounds what is read (aiohttp stops there).
            return await response.read()
    body = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK):
        body += chunk
        if len(body) > limit:
            raise WotResponseError(
                f"{_label(what)}: response exceeds the {limit}-byte limit", response.status
            )
    return bytes(body)


def _host_key(url: URL) -> tuple[str, int | None]:
    return ((url.host or "").lower(), url.port)


class Transport:
    """Sends requests to one Thing on the caller's session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        td: ThingDescription,
        *,
        credentials: Credentials | None = None,
        allowed_hosts: Collection[str] | None = None,
        ssl: bool = True,
        request_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Bind to a session and a TD; see :class:`WotClient` for the arguments."""
        self.session = session
        self.td = td
        self.ssl = ssl
        self.request_timeout = request_timeout
        self.auth = Authenticator(td, credentials)
        self._has_credentials = credentials is not None and bool(
            credentials.has_login or credentials.secrets()
        )
        origin_url = td.source_url or td.base
        self._origin = _host_key(origin_url) if origin_url is not None and origin_url.host else None
        self._any_host = allowed_hosts is not None and ANY_HOST in allowed_hosts
        self._allowed = frozenset(h.lower() for h in allowed_hosts or ())
        self._targets: dict[int, tuple[Form, URL]] = {}
        self._picked: dict[tuple[int, str, frozenset[str]], tuple[tuple[Form, ...], Form]] = {}

    # ------------------------------------------------------------------ checks

    def check_url(self, url: URL, where: str, schemes: frozenset[str] = HTTP_SCHEMES) -> None:
        """Refuse a URL with another scheme, or on a host the user did not allow."""
        if url.scheme not in schemes:
            raise WotValidationError(
                where, f"href uses the {url.scheme!r} scheme; expected {', '.join(sorted(schemes))}"
            )
        if self._any_host or self._origin is None:
            return
        host, port = _host_key(url)
        if (host, port) == self._origin:
            return
        if host in self._allowed or f"{host}:{port}" in self._allowed:
            return
        shown = f"{host}:{port}" if port is not None else host
        raise WotValidationError(
            where, f"href points to host {shown}; allow other hosts in the options"
        )

    def target(
        self,
        form: Form,
        where: str,
        variables: Mapping[str, Any] | None = None,
        schemes: frozenset[str] = HTTP_SCHEMES,
    ) -> tuple[URL, AppliedAuth]:
        """The checked URL of ``form`` (credentials for the query and URI included)."""
        applied = self.auth.for_security(form.security)
        fixed = not form.is_template
        if fixed and (cached := self._targets.get(id(form))) is not None and cached[0] is form:
            return cached[1], applied
        merged = {**(variables or {}), **applied.uri_variables}
        url = form.target(merged)
        self.check_url(url, where, schemes)
        if applied.query:
            url = url.update_query(applied.query)
        if fixed:
            self._targets[id(form)] = (form, url)
        return url, applied

    def pick_form(
        self,
        forms: tuple[Form, ...],
        op: str,
        where: str,
        schemes: frozenset[str] = HTTP_SCHEMES,
    ) -> Form:
        """The first form for ``op`` whose href uses one of ``schemes``."""
        key = (id(forms), op, schemes)
        if (cached := self._picked.get(key)) is not None and cached[0] is forms:
            return cached[1]
        form = self._pick_form(forms, op, where, schemes)
        self._picked[key] = (forms, form)
        return form

    def _pick_form(
        self, forms: tuple[Form, ...], op: str, where: str, schemes: frozenset[str]
    ) -> Form:
        candidates = [form for form in forms if form.op == op]
        if not candidates:
            raise WotValidationError(where, f"no form offers {op}")
        # JSON is what this client speaks: prefer JSON forms over CBOR, XML and the like
        # (node-wot lists a CBOR form beside each JSON one). The sort is stable.
        candidates.sort(key=lambda form: not _is_json(form.content_type))
        for form in candidates:
            if URL(form.href).scheme in schemes or (
                not URL(form.href).is_absolute()
                and form.base is not None
                and form.base.scheme in schemes
            ):
                return form
        raise WotValidationError(
            where, f"no {op} form uses {'/'.join(sorted(schemes))} (only other protocols)"
        )

    async def _guard(
        self, request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        """Apply the host rules to every hop, redirects included (aiohttp runs it per hop)."""
        self.check_url(request.url, "redirect from the Thing")
        return await handler(request)

    def _middlewares(
        self, applied: AppliedAuth, url: URL
    ) -> tuple[aiohttp.ClientMiddlewareType, ...]:
        return (self._guard, *self.auth.middlewares(applied, url))

    def show(self, method: str, url: URL) -> str:
        """``METHOD url`` for messages, secrets redacted."""
        return f"{method} {self.auth.redact_url(url)}"

    def _failure(self, what: str, url: URL, err: Exception) -> WotConnectionError:
        """A connection error whose text (aiohttp's, which may quote the URL) is redacted."""
        text = str(err).replace(str(url), self.auth.redact_url(url))
        return WotConnectionError(self.auth.redact(f"{what}: {text}"))

    def _headers(
        self, applied: AppliedAuth, form: Form | None, extra: Mapping[str, str]
    ) -> dict[str, str]:
        headers = dict(form.headers) if form is not None else {}
        headers.update(extra)
        headers.update(applied.headers)
        return headers

    def _refused(self, what: Describe, status: int) -> WotAuthError:
        reason = "refused the credentials" if self._has_credentials else "needs credentials"
        return WotAuthError(f"{_label(what)}: HTTP {status}: the Thing {reason}", status)

    def _check_status(self, response: aiohttp.ClientResponse, what: Describe) -> None:
        if response.status in (401, 403):
            raise self._refused(what, response.status)
        if response.status >= 400:
            raise WotResponseError(
                f"{_label(what)}: HTTP {response.status} {response.reason or ''}".rstrip(),
                response.status,
            )

    # ------------------------------------------------------------------ requests

    async def request(
        self,
        method: str,
        url: URL,
        *,
        applied: AppliedAuth,
        form: Form | None = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        limit: int = MAX_RESPONSE_BYTES,
        hold: float | None = None,
    ) -> Reply:
        """Send one request and read its answer; HTTP errors raise.

        ``hold`` (default: the request timeout) bounds the whole exchange; long-polls pass
        their longer hold time.
        """
        seconds = self.request_timeout if hold is None else hold

        def what() -> str:
            return self.show(method, url)

        try:
            async with asyncio.timeout(seconds):
                async with self.session.request(
                    method,
                    url,
                    headers=self._headers(applied, form, headers or {}),
                    data=data,
                    skip_auto_headers=("Content-Type",) if data is None else (),
                    ssl=self.ssl,
                    allow_redirects=True,
                    # The session's own total timeout would cut long holds; ours bounds all.
                    timeout=_NO_TOTAL,
                    middlewares=self._middlewares(applied, url),
                ) as response:
                    self._check_status(response, what)
                    body = await read_capped(response, limit, what)
                    return Reply(response.status, response.headers, body, response.url)
        except TimeoutError as err:
            raise WotTimeoutError(f"{what()}: no answer within {seconds:g} s") from err
        except aiohttp.ClientError as err:
            raise self._failure(what(), url, err) from err

    async def probe(self, url: URL, *, applied: AppliedAuth, form: Form | None = None) -> None:
        """Check that the Thing accepts connections at ``url`` (a long-poll handshake).

        Sends HEAD. Any answer other than 401/403 proves the endpoint is there, and so does a
        server that accepts the connection but holds the request; refusals, unreachable hosts
        and connection timeouts raise :class:`WotConnectionError`.
        """
        what = self.show("HEAD", url)
        try:
            async with self.session.request(
                "HEAD",
                url,
                headers=self._headers(applied, form, {}),
                ssl=self.ssl,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    total=None, connect=self.request_timeout, sock_read=self.request_timeout
                ),
                middlewares=self._middlewares(applied, url),
            ) as response:
                if response.status in (401, 403):
                    raise self._refused(what, response.status)
        except aiohttp.SocketTimeoutError:
            return  # connected, and the server holds the request: a long-poll endpoint
        except TimeoutError as err:
            raise WotTimeoutError(
                f"{what}: no connection within {self.request_timeout:g} s"
            ) from err
        except aiohttp.ClientError as err:
            raise self._failure(what, url, err) from err

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        url: URL,
        *,
        applied: AppliedAuth,
        form: Form | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Open a response to be read incrementally (server-sent events).

        Only waiting for the response head is bounded (by the request timeout); the caller
        bounds each read. The connection is closed on exit.
        """
        what = self.show(method, url)
        try:
            async with asyncio.timeout(self.request_timeout):
                response = await self.session.request(
                    method,
                    url,
                    headers=self._headers(applied, form, headers or {}),
                    ssl=self.ssl,
                    allow_redirects=True,
                    timeout=_NO_TOTAL,
                    middlewares=self._middlewares(applied, url),
                )
        except TimeoutError as err:
            raise WotTimeoutError(f"{what}: no answer within {self.request_timeout:g} s") from err
        except aiohttp.ClientError as err:
            raise self._failure(what, url, err) from err
        try:
            self._check_status(response, what)
            yield response
        finally:
            response.close()

    async def websocket(
        self,
        url: URL,
        *,
        applied: AppliedAuth,
        protocols: tuple[str, ...],
        heartbeat: float | None,
        max_msg_size: int,
    ) -> aiohttp.ClientWebSocketResponse:
        """Open a WebSocket (the handshake bounded by the request timeout)."""
        what = self.show("GET", url)
        if applied.digest:
            raise WotAuthError(f"{what}: digest authentication is not supported on WebSockets")
        try:
            async with asyncio.timeout(self.request_timeout):
                return await self.session.ws_connect(
                    url,
                    protocols=protocols,
                    headers=dict(applied.headers),
                    ssl=self.ssl,
                    heartbeat=heartbeat,
                    max_msg_size=max_msg_size,
                    autoping=True,
                )
        except TimeoutError as err:
            raise WotTimeoutError(f"{what}: no answer within {self.request_timeout:g} s") from err
        except aiohttp.WSServerHandshakeError as err:
            if err.status in (401, 403):
                raise self._refused(what, err.status) from err
            raise WotResponseError(
                f"{what}: WebSocket handshake failed (HTTP {err.status})", err.status
            ) from err
        except aiohttp.ClientError as err:
            raise self._failure(what, url, err) from err


def _is_json(content_type: str) -> bool:
    """``application/json``, ``application/td+json``, ``application/ld+json; x=y`` ..."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")
