"""HTTP client for Things, on the caller's :class:`aiohttp.ClientSession`.

Operations follow the HTTP binding (TD 1.1 Table 32 defaults) and the WoT Profile's HTTP Basic
Profile; a TD in the WebThings dialect gets that API's shapes instead (``{"name": value}``
bodies, an action queue). Push channels are in :mod:`.watch`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
import logging
import time
from typing import Any, Final

import aiohttp
from yarl import URL

from .errors import (
    WotAuthError,
    WotConnectionError,
    WotError,
    WotResponseError,
    WotValidationError,
    WotValueError,
)
from .security import Credentials, safe_url, simple_auth_headers
from .td import (
    MAX_TD_BYTES,
    ActionAffordance,
    Form,
    PropertyAffordance,
    ThingDescription,
    parse_td,
)
from .transport import (
    DEFAULT_TIMEOUT,
    HTTP_SCHEMES,
    MAX_RESPONSE_BYTES,
    HostRule,
    Reply,
    Transport,
    decode_body,
    encode_body,
    read_capped,
)
from .validation import schema_error
from .watch import Watcher

__all__ = [
    "DEFAULT_ACTION_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "MAX_RESPONSE_BYTES",
    "TD_ACCEPT",
    "ActionResult",
    "Credentials",
    "WotClient",
    "fetch_json",
    "fetch_thing_description",
]

_LOGGER = logging.getLogger(__name__)

TD_ACCEPT = "application/td+json, application/json;q=0.9"
DEFAULT_ACTION_TIMEOUT = 60.0
MAX_CONCURRENT_READS = 4
ACTION_STATES: Final = frozenset({"pending", "running", "completed", "failed"})
_WEBTHINGS_DONE: Final = frozenset({"completed", "failed", "cancelled", "error"})


OMITTED: Final[Any] = object()
"""Marker for "no action input given" (``None`` is a valid input)."""


@dataclass(frozen=True, slots=True)
class ActionResult:
    """The outcome of an action invocation.

    ``status`` is ``completed`` or ``failed`` once known; ``pending`` or ``running`` when the
    Thing had not finished within the action timeout (``href`` then tells where to look).
    """

    status: str
    output: Any = None
    href: URL | None = None
    error: Any = None


# ------------------------------------------------------------------------------------------
# requests without a TD


async def fetch_json(
    session: aiohttp.ClientSession,
    url: str | URL,
    *,
    credentials: Credentials | None = None,
    allowed_hosts: Collection[str] | None = None,
    accept: str = "application/json",
    limit: int = MAX_RESPONSE_BYTES,
    request_timeout: float = DEFAULT_TIMEOUT,
    ssl: bool = True,
) -> Any:
    """GET ``url`` and decode its JSON body (``None`` when empty).

    With ``credentials`` the request carries HTTP basic authentication when a user name is
    set, else a bearer token when one is set. Redirects are followed (at most
    ``MAX_REDIRECTS``) only to ``url``'s own host and port or to ``allowed_hosts`` (as for
    :class:`WotClient`), and credentials only to ``url``'s origin. A redirect elsewhere
    raises :class:`WotValidationError`; HTTP 401/403 raise :class:`WotAuthError`; other
    failures raise :class:`WotConnectionError` or :class:`WotResponseError`.
    """
    try:
        target = URL(str(url))
    except (TypeError, ValueError) as err:
        raise WotValidationError("url", "not a valid URL") from err
    if target.scheme not in HTTP_SCHEMES:
        raise WotValidationError("url", f"unsupported URI scheme {target.scheme!r}")
    if not target.host:
        raise WotValidationError("url", "the URL has no host")
    what = f"GET {safe_url(target)}"
    auth = simple_auth_headers(credentials)
    guard = HostRule.of(target, allowed_hosts).guard(what, HTTP_SCHEMES, tuple(auth))
    try:
        async with asyncio.timeout(request_timeout):
            async with session.get(
                target,
                headers={"Accept": accept, **auth},
                ssl=ssl,
                allow_redirects=True,
                middlewares=(guard,),
            ) as response:
                if response.status in (401, 403):
                    reason = "refused the credentials" if credentials else "needs credentials"
                    raise WotAuthError(
                        f"{what}: HTTP {response.status}: the server {reason}", response.status
                    )
                if response.status >= 400:
                    raise WotResponseError(
                        f"{what}: HTTP {response.status} {response.reason or ''}".rstrip(),
                        response.status,
                    )
                body = await read_capped(response, limit, what)
    except TimeoutError as err:
        raise WotConnectionError(f"{what}: no answer within {request_timeout:g} s") from err
    except aiohttp.ClientError as err:
        text = str(err).replace(str(target), safe_url(target))  # aiohttp may quote the URL
        raise WotConnectionError(f"{what}: {text}") from err
    return decode_body(body, "application/json", what)


async def fetch_thing_description(
    session: aiohttp.ClientSession,
    url: str | URL,
    *,
    credentials: Credentials | None = None,
    allowed_hosts: Collection[str] | None = None,
    request_timeout: float = DEFAULT_TIMEOUT,
    ssl: bool = True,
) -> ThingDescription:
    """Fetch and parse the TD at ``url`` (at most 1 MiB; redirects as :func:`fetch_json`)."""
    raw = await fetch_json(
        session,
        url,
        credentials=credentials,
        allowed_hosts=allowed_hosts,
        accept=TD_ACCEPT,
        limit=MAX_TD_BYTES,
        request_timeout=request_timeout,
        ssl=ssl,
    )
    return parse_td(raw, source_url=URL(str(url)))


# ------------------------------------------------------------------------------------------
# the client


class WotClient:
    """Performs operations on one Thing.

    ``allowed_hosts``: ``None`` lets forms point only at the host and port the TD came from
    (``td.source_url``, else ``td.base``); ``{"*"}`` allows any host; other names (``host``
    or ``host:port``) are allowed besides the TD's own host. ``ssl=False`` turns off TLS
    certificate verification. ``request_timeout`` bounds every request; ``action_timeout``
    bounds how long an asynchronous action is followed.
    """

    # Slotted: a directory holds one per Thing, and a __dict__ each is one more object for the
    # garbage collector to walk.
    __slots__ = ("_action_timeout", "_poll_interval", "td", "transport")

    def __init__(
        self,
        session: aiohttp.ClientSession,
        td: ThingDescription,
        *,
        credentials: Credentials | None = None,
        allowed_hosts: Collection[str] | None = None,
        ssl: bool = True,
        request_timeout: float = DEFAULT_TIMEOUT,
        action_timeout: float = DEFAULT_ACTION_TIMEOUT,
        action_poll_interval: float = 0.5,
    ) -> None:
        """Bind the client to a session and a parsed TD."""
        self.td = td
        self.transport = Transport(
            session,
            td,
            credentials=credentials,
            allowed_hosts=allowed_hosts,
            ssl=ssl,
            request_timeout=request_timeout,
        )
        self._action_timeout = action_timeout
        self._poll_interval = action_poll_interval

    # ------------------------------------------------------------------ properties

    def _property(self, name: str) -> PropertyAffordance:
        prop = self.td.properties.get(name)
        if prop is None:
            raise WotValidationError(f"$.properties.{name}", "no such property")
        return prop

    def _variables(
        self, affordance_vars: Mapping[str, Any], given: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """URI variables: defaults from the schemas (Thing, then affordance), then the given."""
        out: dict[str, Any] = {}
        for schemas in (self.td.uri_variables, affordance_vars):
            for key, schema in schemas.items():
                if schema.default is not None:
                    out[key] = schema.default
        out.update(given or {})
        return out

    def _unwrap(self, name: str, value: Any) -> Any:
        """WebThings answers ``{"name": value}``; a TD Thing the bare value."""
        if self.td.dialect == "webthings" and isinstance(value, dict) and name in value:
            return value[name]
        return value

    async def read_property(self, name: str, uri_variables: Mapping[str, Any] | None = None) -> Any:
        """Read one property's current value."""
        prop = self._property(name)
        where = f"$.properties.{name}.forms"
        form = self.transport.pick_form(prop.forms, "readproperty", where)
        variables = self._variables(prop.uri_variables, uri_variables)
        return self._unwrap(name, await self._get(form, where, variables))

    async def _get(self, form: Form, where: str, variables: Mapping[str, Any] | None = None) -> Any:
        url, applied = self.transport.target(form, where, variables)
        method = form.method or "GET"
        reply = await self.transport.request(
            method, url, applied=applied, form=form, headers={"Accept": form.content_type}
        )
        return decode_body(reply.body, form.content_type, lambda: self.transport.show(method, url))

    async def read_all_properties(self) -> dict[str, Any]:
        """Read every readable property.

        Uses the Thing-level ``readallproperties`` form when there is one (falling back to
        single reads if it answers with something unusable); otherwise reads each readable
        property concurrently and keeps what succeeded. :class:`WotAuthError` propagates;
        when nothing succeeded and a connection failed, that error is raised.
        """
        form = self._thing_form("readallproperties")
        if form is not None:
            try:
                values = await self._get(form, "$.forms")
            except WotAuthError:
                raise
            except (WotResponseError, WotValidationError) as err:
                _LOGGER.debug(
                    "%s: readallproperties failed (%s); reading one by one", self.td.title, err
                )
            else:
                if isinstance(values, dict):
                    return {k: v for k, v in values.items() if k in self.td.properties}
                _LOGGER.debug(
                    "%s: readallproperties answered %s, not an object; reading one by one",
                    self.td.title,
                    type(values).__name__,
                )
        return await self._read_each()

    def _thing_form(self, op: str) -> Form | None:
        # (a Web Thing's rel "properties" link is such a form: parse_td adds it)
        try:
            return self.transport.pick_form(self.td.forms, op, "$.forms")
        except WotValidationError:
            return None

    async def _read_each(self) -> dict[str, Any]:
        names = [name for name, prop in self.td.properties.items() if prop.readable]
        gate = asyncio.Semaphore(MAX_CONCURRENT_READS)

        async def read(name: str) -> Any:
            async with gate:
                return await self.read_property(name)

        results = await asyncio.gather(*(read(n) for n in names), return_exceptions=True)
        values: dict[str, Any] = {}
        connection_error: WotConnectionError | None = None
        for name, result in zip(names, results, strict=True):
            if isinstance(result, WotAuthError):
                raise result
            if isinstance(result, WotConnectionError):
                connection_error = connection_error or result
            if isinstance(result, BaseException):
                if not isinstance(result, WotError):
                    raise result
                _LOGGER.debug("%s: reading %s failed: %s", self.td.title, name, result)
                continue
            values[name] = result
        if not values and connection_error is not None:
            raise connection_error
        return values

    async def write_property(
        self, name: str, value: Any, uri_variables: Mapping[str, Any] | None = None
    ) -> None:
        """Write one property, after checking ``value`` against its schema."""
        prop = self._property(name)
        where = f"$.properties.{name}"
        if error := schema_error(prop.schema, value, name):
            raise WotValueError(where, error)
        form = self.transport.pick_form(prop.forms, "writeproperty", f"{where}.forms")
        url, applied = self.transport.target(
            form, f"{where}.forms", self._variables(prop.uri_variables, uri_variables)
        )
        payload = {name: value} if self.td.dialect == "webthings" else value
        await self.transport.request(
            form.method or "PUT",
            url,
            applied=applied,
            form=form,
            headers={"Content-Type": form.content_type, "Accept": form.content_type},
            data=encode_body(payload, form.content_type, where),
        )

    # ------------------------------------------------------------------ actions

    async def invoke_action(
        self,
        name: str,
        action_input: Any = OMITTED,
        uri_variables: Mapping[str, Any] | None = None,
    ) -> ActionResult:
        """Invoke an action and return its outcome.

        A synchronous answer (HTTP 200/204) is the output. An asynchronous one (HTTP 201 with
        ``Location``, a WoT Profile ActionStatus body, or a WebThings action request) is
        followed by polling the status URL until the action completed or failed, for at most
        the action timeout.
        """
        action = self.td.actions.get(name)
        where = f"$.actions.{name}"
        if action is None:
            raise WotValidationError(where, "no such action")
        has_input = action_input is not OMITTED
        if (
            has_input
            and action.input is not None
            and (error := schema_error(action.input, action_input, "input"))
        ):
            raise WotValueError(where, error)
        form = self.transport.pick_form(action.forms, "invokeaction", f"{where}.forms")
        url, applied = self.transport.target(
            form, f"{where}.forms", self._variables(action.uri_variables, uri_variables)
        )
        headers = {"Accept": "application/json"}
        data: bytes | None = None
        if self.td.dialect == "webthings":
            request = {"input": action_input} if has_input else {}
            data = encode_body({name: request}, "application/json", where)
            headers["Content-Type"] = "application/json"
        elif has_input:
            data = encode_body(action_input, form.content_type, where)
            headers["Content-Type"] = form.content_type
        method = form.method or "POST"
        reply = await self.transport.request(
            method, url, applied=applied, form=form, headers=headers, data=data
        )
        body = decode_body(reply.body, form.content_type, lambda: self.transport.show(method, url))
        return await self._action_outcome(action, form, reply, body)

    def _status_of(
        self, action: ActionAffordance, reply: Reply, body: Any
    ) -> dict[str, Any] | None:
        """The action status object in ``body``, if it is one.

        A 200 answer is the action's output (WoT Profile: synchronous actions answer 200,
        asynchronous ones 201 + ActionStatus), unless it carries a status ``href`` to follow and
        the action's own output schema does not describe a ``status`` member: a result such as
        ``{"status": "running", "count": 0}`` is output, not a progress report.
        """
        if self.td.dialect == "webthings":
            inner = body.get(action.name) if isinstance(body, dict) else None
            if isinstance(inner, dict) and ("status" in inner or "href" in inner):
                return inner
            return None
        if action.synchronous is True or not isinstance(body, dict):
            return None
        if body.get("status") not in ACTION_STATES:
            return None
        if reply.status == 201:
            return body
        output = action.output
        describes_status = output is not None and "status" in output.properties
        if isinstance(body.get("href"), str) and not describes_status:
            return body
        return None

    async def _action_outcome(
        self, action: ActionAffordance, form: Form, reply: Reply, body: Any
    ) -> ActionResult:
        status = self._status_of(action, reply, body)
        location = reply.headers.get("Location")
        if status is None and not (reply.status == 201 and location):
            return ActionResult(status="completed", output=body)
        status = status or {"status": "pending"}
        href_raw = status.get("href") if isinstance(status.get("href"), str) else location
        where = f"$.actions.{action.name}"
        try:
            href = reply.url.join(URL(href_raw)) if href_raw else None
        except ValueError as err:
            raise WotResponseError(f"{where}: unusable action status href ({err})") from err
        if href is not None:
            self.transport.check_url(href, f"{where} status href")
        deadline = time.monotonic() + self._action_timeout
        delay = self._poll_interval
        while True:
            state = str(status.get("status") or "pending")
            if state in _WEBTHINGS_DONE or (self.td.dialect == "td" and state == "completed"):
                failed = state != "completed" or status.get("error") is not None
                return ActionResult(
                    status="failed" if failed else "completed",
                    output=status.get("output"),
                    href=href,
                    error=status.get("error"),
                )
            if href is None or time.monotonic() + delay > deadline:
                # Not finished: webthing-python's "created" (queued, not started) and any other
                # word a server uses for it is "pending" to the caller.
                shown = state if state in ACTION_STATES else "pending"
                return ActionResult(status=shown, output=status.get("output"), href=href)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            status = await self._query_action(action, form, href)

    async def _query_action(
        self, action: ActionAffordance, form: Form, href: URL
    ) -> dict[str, Any]:
        applied = self.transport.auth.for_security(form.security)
        if applied.query:
            href = href.update_query(applied.query)
        reply = await self.transport.request(
            "GET", href, applied=applied, headers={"Accept": "application/json"}
        )
        what = self.transport.show("GET", href)
        body = decode_body(reply.body, "application/json", what)
        if self.td.dialect == "webthings" and isinstance(body, dict) and action.name in body:
            body = body[action.name]
        if not isinstance(body, dict):
            raise WotResponseError(f"{what}: action status is not an object")
        return body

    # ------------------------------------------------------------------ push

    def watch(
        self,
        on_property: Callable[[str, Any], None],
        on_event: Callable[[str, Any], None],
        on_connection: Callable[[bool], None],
        *,
        min_backoff: float = 1.0,
        max_backoff: float = 60.0,
        idle_timeout: float = 300.0,
        longpoll_min_interval: float = 0.5,
        session: aiohttp.ClientSession | None = None,
    ) -> Watcher:
        """A :class:`Watcher` for this Thing's push channels (not yet started).

        ``session``, if given, carries the push channels instead of the client's own session:
        long-poll and SSE hold a connection each for as long as they run, so a caller watching
        many Things on one host gives them a session whose pool they cannot exhaust for others.
        """
        return Watcher(
            self,
            on_property,
            on_event,
            on_connection,
            session=session,
            min_backoff=min_backoff,
            max_backoff=max_backoff,
            idle_timeout=idle_timeout,
            longpoll_min_interval=longpoll_min_interval,
        )
