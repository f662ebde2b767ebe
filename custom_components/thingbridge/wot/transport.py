"""The HTTP/WebSocket plumbing shared by :class:`WotClient` and the push channels.

Every request goes through :class:`Transport`, which enforces what a consumer of a possibly
hostile device needs: only ``http``/``https``/``ws``/``wss`` URLs on allowed hosts, a timeout
on every request, a cap on every body, TLS verification unless turned off, the Thing's
security schemes applied, and secrets redacted from every error message. Thin, hand-written
glue over aiohttp (which does the HTTP, TLS, digest and redirects).

The host rule (:class:`HostRule`) also runs on every redirect hop, WebSocket handshakes
included, as a client middleware: a hop to a host (or port) the user did not allow is refused
before anything is sent there, at most ``MAX_REDIRECTS`` redirects are followed, and a hop to
another origin carries none of the credentials (aiohttp itself drops only ``Authorization``
and ``Cookie``, not an API key header).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
import json
import re
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
MAX_REDIRECTS = 5
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*):")
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


def host_key(url: URL) -> tuple[str, int | None]:
    """A URL's lower-cased host and its port (the scheme's default when none is written)."""
    return ((url.host or "").lower(), url.port)


def show_host(url: URL) -> str:
    """``host:port`` of a URL, for messages."""
    host, port = host_key(url)
    return f"{host}:{port}" if port is not None else host


@dataclass(frozen=True, slots=True)
class HostRule:
    """Where requests may go: the origin's host *and* port, and the hosts the user allowed.

    ``allowed`` holds ``host`` (any port of it) or ``host:port`` names, or ``*`` for every
    host. Without an origin (a TD that names no URL of its own) every host is allowed.
    """

    origin: tuple[str, int | None] | None
    allowed: frozenset[str] = frozenset()

    @classmethod
    def of(cls, origin: URL | None, allowed_hosts: Collection[str] | None = None) -> HostRule:
        """The rule for requests made on behalf of ``origin``."""
        key = host_key(origin) if origin is not None and origin.host else None
        if not allowed_hosts:
            return cls(key)  # the class's empty frozenset, shared
        return cls(key, frozenset(h.lower() for h in allowed_hosts))

    def named(self, url: URL) -> bool:
        """Whether ``url`` is on the origin or on a host allowed by name (not only by ``*``)."""
        host, port = key = host_key(url)
        return key == self.origin or host in self.allowed or f"{host}:{port}" in self.allowed

    def allows(self, url: URL) -> bool:
        """Whether a request may go to ``url``'s host and port."""
        return self.origin is None or ANY_HOST in self.allowed or self.named(url)

    def check(
        self,
        url: URL,
        where: Describe,
        schemes: frozenset[str] = HTTP_SCHEMES,
        subject: str = "href",
    ) -> None:
        """Refuse a URL with another scheme, or on a host (or port) that is not allowed.

        ``where`` (text, or a function making it) is described only when the URL is refused.
        """
        try:
            scheme = url.scheme
            allowed = self.allows(url)
        except ValueError as err:  # yarl parses the host and port of some URLs lazily
            raise WotValidationError(
                _label(where), f"{subject} is not a valid URL ({err})"
            ) from err
        if scheme not in schemes:
            raise WotValidationError(
                _label(where),
                f"{subject} uses the {scheme!r} scheme; expected {', '.join(sorted(schemes))}",
            )
        if not allowed:
            raise WotValidationError(
                _label(where),
                f"{subject} points to host {show_host(url)}; allow other hosts in the options",
            )

    def guard(
        self,
        where: Describe,
        schemes: frozenset[str] = HTTP_SCHEMES,
        secret_headers: Collection[str] = (),
    ) -> aiohttp.ClientMiddlewareType:
        """A client middleware applying this rule to every hop of one request.

        It refuses a hop to a host that is not allowed (or with another scheme) and the hop
        after ``MAX_REDIRECTS`` redirects, and takes ``secret_headers`` off any hop to an
        origin other than the first one's.
        """
        return _Guard(self, where, schemes, secret_headers)


class _Guard:
    """:meth:`HostRule.guard`'s middleware: one object, not a closure and its cells.

    A long-poll request is held for minutes, middleware included; a directory holds
    thousands, each walked by every full garbage collection.
    """

    __slots__ = ("_first", "_hops", "_rule", "_schemes", "_secret_headers", "_where")

    def __init__(
        self,
        rule: HostRule,
        where: Describe,
        schemes: frozenset[str],
        secret_headers: Collection[str],
    ) -> None:
        self._rule = rule
        self._where = where
        self._schemes = schemes
        self._secret_headers = secret_headers
        self._first: URL | None = None
        self._hops = 0

    async def __call__(
        self, request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        """Check one hop, then send it."""
        self._hops += 1
        if self._hops > MAX_REDIRECTS + 1:
            raise WotResponseError(f"{_label(self._where)}: more than {MAX_REDIRECTS} redirects")
        if self._first is None:
            self._rule.check(request.url, self._where, self._schemes)
            self._first = request.url.origin()
        else:
            self._rule.check(request.url, self._where, self._schemes, "redirect")
            if request.url.origin() != self._first:
                for name in self._secret_headers:
                    request.headers.popall(name, None)
        return await handler(request)


class RequestText:
    """``METHOD url`` of a request (secrets redacted), made only when a message needs it."""

    __slots__ = ("_method", "_transport", "_url")

    def __init__(self, transport: Transport, method: str, url: URL) -> None:
        """Describe ``method`` ``url``, sent through ``transport``."""
        self._transport = transport
        self._method = method
        self._url = url

    def __call__(self) -> str:
        """The description."""
        return self._transport.show(self._method, self._url)


class Transport:
    """Sends requests to one Thing on the caller's session."""

    # Slotted: a directory holds one per Thing, and a __dict__ each is one more object for the
    # garbage collector to walk.
    __slots__ = (
        "_answered",
        "_has_credentials",
        "_picked",
        "_targets",
        "auth",
        "hosts",
        "request_timeout",
        "session",
        "ssl",
        "td",
    )

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
        self.hosts = HostRule.of(td.source_url or td.base, allowed_hosts)
        self._targets: dict[int, tuple[Form, URL]] = {}
        self._picked: dict[tuple[int, str, frozenset[str]], tuple[tuple[Form, ...], Form]] = {}
        # The host and port of the last request, if the Thing answered it (see answered_at).
        self._answered: tuple[str, int | None] | None = None

    # ------------------------------------------------------------------ checks

    def check_url(self, url: URL, where: str, schemes: frozenset[str] = HTTP_SCHEMES) -> None:
        """Refuse a URL with another scheme, or on a host the user did not allow."""
        self.hosts.check(url, where, schemes)

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
        try:
            url = form.target(merged)
        except WotValidationError as err:  # named after the form, secrets in the values hidden
            raise WotValidationError(where, self.auth.redact(str(err))) from err
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
            # The scheme is read off the text: a template href such as
            # "http://h:8080{+path}" is no URL until expanded.
            written = _SCHEME.match(form.href)
            scheme = written.group(1).lower() if written else None
            if scheme is None and form.base is not None:
                scheme = form.base.scheme
            if scheme in schemes:
                return form
        raise WotValidationError(
            where, f"no {op} form uses {'/'.join(sorted(schemes))} (only other protocols)"
        )

    def _middlewares(
        self,
        applied: AppliedAuth,
        url: URL,
        where: Describe,
        schemes: frozenset[str] = HTTP_SCHEMES,
    ) -> tuple[aiohttp.ClientMiddlewareType, ...]:
        return (
            self.hosts.guard(where, schemes, tuple(applied.headers)),
            *self.auth.middlewares(applied, url),
        )

    def answered_at(self, url: URL) -> bool:
        """Whether the last request went to ``url``'s host and port, and the Thing answered it.

        A request that could not connect, timed out or was refused clears it. A long-poll
        channel opening right after such an answer needs no handshake of its own.
        """
        return self._answered is not None and self._answered == host_key(url)

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
        what = RequestText(self, method, url)
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
                    middlewares=self._middlewares(applied, url, what),
                ) as response:
                    self._answered = None
                    self._check_status(response, what)
                    body = await read_capped(response, limit, what)
                    self._answered = host_key(url)
                    return Reply(response.status, response.headers, body, response.url)
        except TimeoutError as err:
            self._answered = None
            raise WotTimeoutError(f"{what()}: no answer within {seconds:g} s") from err
        except aiohttp.ClientError as err:
            self._answered = None
            raise self._failure(what(), url, err) from err

    async def probe(self, url: URL, *, applied: AppliedAuth, form: Form | None = None) -> None:
        """Check that the Thing accepts connections at ``url`` (a long-poll handshake).

        Sends HEAD. Any answer other than 401/403 proves the endpoint is there, and so does a
        server that accepts the connection but holds the request; refusals, unreachable hosts
        and connection timeouts raise :class:`WotConnectionError`.
        """

        def what() -> str:
            return self.show("HEAD", url)

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
                middlewares=self._middlewares(applied, url, what),
            ) as response:
                if response.status in (401, 403):
                    raise self._refused(what, response.status)
        except aiohttp.SocketTimeoutError:
            return  # connected, and the server holds the request: a long-poll endpoint
        except TimeoutError as err:
            raise WotTimeoutError(
                f"{what()}: no connection within {self.request_timeout:g} s"
            ) from err
        except aiohttp.ClientError as err:
            raise self._failure(what(), url, err) from err

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
                    middlewares=self._middlewares(applied, url, what),
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
        """Open a WebSocket (the handshake bounded by the request timeout).

        The handshake goes through the host rule like every request, redirects included.
        ``ws_connect`` takes no per-request middlewares, so it runs on a short-lived session
        that shares the caller's connection pool (and its headers and cookies) and adds them.
        """
        what = self.show("GET", url)
        if applied.digest:
            raise WotAuthError(f"{what}: digest authentication is not supported on WebSockets")
        connector = self.session.connector
        if connector is None:
            raise RuntimeError("Session is closed")  # what aiohttp says for a closed session
        guarded = aiohttp.ClientSession(
            connector=connector,
            connector_owner=False,
            headers=self.session.headers,
            cookie_jar=self.session.cookie_jar,
            middlewares=self._middlewares(applied, url, what, HTTP_SCHEMES | WS_SCHEMES),
        )
        try:
            async with asyncio.timeout(self.request_timeout):
                return await guarded.ws_connect(
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
        finally:
            # Leaves the shared pool, and the open WebSocket's connection, alone.
            await guarded.close()


def _is_json(content_type: str) -> bool:
    """``application/json``, ``application/td+json``, ``application/ld+json; x=y`` ..."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")
