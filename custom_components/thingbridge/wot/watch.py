"""Push channels: property changes and events as the Thing sends them.

One :class:`Watcher` per Thing plans its channels from the TD and keeps them open:

- WebThings dialect with an ``alternate`` ``ws(s)://`` link: one WebSocket with the
  ``webthing`` subprotocol (``propertyStatus`` and ``event`` messages, after an
  ``addEventSubscription``) covering every property and event;
- otherwise, for properties, the Thing-level ``observeallproperties`` form if there is one,
  else each property's ``observeproperty`` form; for events, the Thing-level
  ``subscribeallevents`` form, else each event's ``subscribeevent`` form. A form with
  ``subprotocol: "sse"`` is read as Server-Sent Events (WoT Profile, HTTP SSE Profile); one
  with ``longpoll`` or no subprotocol (as node-wot does) is long-polled: a GET held until
  something changes, answered with the value, and sent again at once.

A channel that drops is reopened after an exponential backoff with jitter; the watcher
reports ``on_connection(False)`` once when any channel drops and ``on_connection(True)`` once
when all are up. An SSE or long-poll channel silent for ``idle_timeout`` seconds is reopened at
once, without being reported as down unless the reopening fails: silence is all it can tell a
dead connection by. A WebSocket is kept open while it answers the pings sent every
``idle_timeout / 2`` seconds: a quiet Thing is not a dead one, and reopening would leave a gap.
The Web Thing API sends no values when a WebSocket opens, so each time one does the watcher
reads the Thing's properties once and delivers them (a value pushed meanwhile wins over the
read): a change made while the socket was down is not lost. An SSE stream that dropped reads
its properties the same way when it is back (a Thing need not replay what it missed). Callbacks run in the event loop and
are never called after :meth:`Watcher.stop`.

A Thing may push faster than anyone can use: the values of one read from an SSE stream are
coalesced, the newest value of each property winning, so a stream of tiny events costs one
``on_property`` call per property and read rather than one per event (events are all passed
on). :attr:`Watcher.stats` counts what was received and coalesced; rate limits are the
caller's (Home Assistant's coordinator caps the state writes and events of each Thing).

Connections, TLS and WebSocket framing are aiohttp's. The supervision is hand-written: retry
libraries (tenacity, backoff) wrap one call, while a channel here must report each up/down
transition, honour the SSE ``retry`` field and stay quiet on idle reopenings; and choosing
channels from a TD's forms is specific to WoT.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
import contextlib
import copy
from dataclasses import dataclass
import json
import logging
import random
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
from yarl import URL

from .errors import WotError, WotTimeoutError
from .security import AppliedAuth
from .sse import MAX_EVENT_BYTES, SseEvent, SseLimitError, SseParser
from .td import Form
from .transport import HTTP_SCHEMES, MAX_RESPONSE_BYTES, WS_SCHEMES, RequestText, decode_body

if TYPE_CHECKING:
    from .client import WotClient
    from .transport import Transport

_LOGGER = logging.getLogger(__name__)

WEBTHING_SUBPROTOCOL = "webthing"
_LONGPOLL = frozenset({"longpoll", None})
_NONE: frozenset[str] = frozenset()  # a channel's properties or events when it has none

ChannelKind = Literal["sse", "longpoll", "websocket"]


@dataclass(slots=True)
class WatchStats:
    """What a watcher received: property values and events.

    ``coalesced`` counts the values superseded by a newer value of the same property before
    they were passed on.
    """

    values: int = 0
    coalesced: int = 0
    events: int = 0


class _Idle(Exception):  # noqa: N818 - a signal, not an error
    """The channel was silent for the idle timeout."""


@dataclass(eq=False, slots=True)
class _Channel:
    """One connection to keep open."""

    kind: ChannelKind
    label: str
    url: URL
    method: str
    applied: AppliedAuth
    form: Form | None
    properties: frozenset[str]
    events: frozenset[str]
    single: tuple[Literal["property", "event"], str] | None = None
    content_type: str = "application/json"
    last_event_id: str | None = None
    retry: float | None = None
    dropped: bool = False  # went down since it last caught up (SSE) or was probed (long-poll)
    opened: bool = False  # opened since the supervisor last (re)started it
    # Properties pushed since it (re)opened, kept only while a catch-up read runs.
    pushed: set[str] | None = None


class _Opened:
    """What a channel calls once it is open: marks it opened and reports it up."""

    __slots__ = ("_channel", "_index", "_watcher")

    def __init__(self, watcher: Watcher, index: int, channel: _Channel) -> None:
        self._watcher = watcher
        self._index = index
        self._channel = channel

    def __call__(self) -> None:
        self._channel.opened = True
        self._watcher._mark(self._index, True)  # noqa: SLF001 - the watcher's own helper


class Watcher:
    """Keeps one Thing's push channels open and forwards what they deliver."""

    # Slotted: a directory holds one per Thing, and a __dict__ each is one more object for the
    # garbage collector to walk.
    __slots__ = (
        "_channels",
        "_client",
        "_idle",
        "_longpoll_min_interval",
        "_max_backoff",
        "_min_backoff",
        "_on_connection",
        "_on_event",
        "_on_property",
        "_reported",
        "_stopped",
        "_tasks",
        "_transport",
        "_up",
        "observed_properties",
        "stats",
    )

    def __init__(
        self,
        client: WotClient,
        on_property: Callable[[str, Any], None],
        on_event: Callable[[str, Any], None],
        on_connection: Callable[[bool], None],
        *,
        session: aiohttp.ClientSession | None = None,
        min_backoff: float = 1.0,
        max_backoff: float = 60.0,
        idle_timeout: float = 300.0,
        longpoll_min_interval: float = 0.5,
    ) -> None:
        """Plan the channels of ``client``'s Thing; nothing is opened before :meth:`start`."""
        self._client = client
        self._transport: Transport = client.transport
        if session is not None:
            self._transport = copy.copy(client.transport)
            self._transport.session = session
        self._on_property = on_property
        self._on_event = on_event
        self._on_connection = on_connection
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._idle = idle_timeout
        self._longpoll_min_interval = longpoll_min_interval
        self._channels: list[_Channel] = []
        self._plan()
        self.observed_properties: frozenset[str] = (
            self._channels[0].properties  # the same set (most Things have one channel)
            if len(self._channels) == 1
            else frozenset(name for channel in self._channels for name in channel.properties)
        )
        self._up: set[int] = set()
        self._reported = False
        self._stopped = False
        self._tasks: list[asyncio.Task[None]] = []
        self.stats = WatchStats()

    @property
    def connected(self) -> bool:
        """True while every channel is open (False when there are none)."""
        return self._reported

    @property
    def channels(self) -> list[str]:
        """A description of each planned channel (for diagnostics)."""
        return [
            f"{c.kind} {c.label}: {self._transport.show(c.method, c.url)}" for c in self._channels
        ]

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the channels in background tasks and return at once."""
        if self._tasks or self._stopped:
            return
        title = self._client.td.title
        self._tasks = [
            asyncio.create_task(
                self._supervise(index, channel), name=f"wot watch {title} {channel.label}"
            )
            for index, channel in enumerate(self._channels)
        ]

    async def stop(self) -> None:
        """Close every channel; no callback is called after this returns (or starts)."""
        self._stopped = True
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._up.clear()
        self._reported = False

    # ------------------------------------------------------------------ planning

    def _plan(self) -> None:
        td = self._client.td
        if td.websocket is not None and (td.dialect == "webthings" or not self._http_push_forms()):
            try:
                self._transport.check_url(td.websocket, "$.links (alternate)", WS_SCHEMES)
                applied = self._transport.auth.for_security(None)
            except WotError as err:
                _LOGGER.debug("%s: WebSocket not used: %s", td.title, err)
            else:
                self._channels.append(
                    _Channel(
                        kind="websocket",
                        label="webthing",
                        url=td.websocket,
                        method="GET",
                        applied=applied,
                        form=None,
                        properties=frozenset(n for n, p in td.properties.items() if p.readable),
                        events=frozenset(td.events),
                    )
                )
                return
        self._plan_properties()
        self._plan_events()

    def _http_push_forms(self) -> bool:
        td = self._client.td
        ops = ("observeallproperties", "subscribeallevents")
        return any(f.op in ops for f in td.forms) or any(
            f.op in ("observeproperty", "subscribeevent")
            for affordance in (*td.properties.values(), *td.events.values())
            for f in affordance.forms
        )

    def _channel_for(
        self,
        *,
        forms: tuple[Form, ...],
        op: str,
        where: str,
        properties: frozenset[str],
        events: frozenset[str],
        single: tuple[Literal["property", "event"], str] | None,
    ) -> _Channel | None:
        candidates = [f for f in forms if f.op == op and f.subprotocol in ("sse", *_LONGPOLL)]
        if not candidates:
            if any(f.op == op for f in forms):
                _LOGGER.debug("%s: %s uses no supported subprotocol", where, op)
            return None
        form = next((f for f in candidates if f.subprotocol == "sse"), candidates[0])
        try:
            url, applied = self._transport.target(form, where, {}, HTTP_SCHEMES)
        except WotError as err:
            _LOGGER.debug("%s: %s not used: %s", self._client.td.title, op, err)
            return None
        return _Channel(
            kind="sse" if form.subprotocol == "sse" else "longpoll",
            label=single[1] if single else op,
            url=url,
            method=form.method or "GET",
            applied=applied,
            form=form,
            properties=properties,
            events=events,
            single=single,
            content_type=form.content_type,
        )

    def _plan_properties(self) -> None:
        td = self._client.td
        observable = frozenset(
            name for name, p in td.properties.items() if p.observable or p.observable_form
        )
        if observable and (
            channel := self._channel_for(
                forms=td.forms,
                op="observeallproperties",
                where="$.forms",
                properties=observable,
                events=_NONE,
                single=None,
            )
        ):
            self._channels.append(channel)
            return
        for name, prop in td.properties.items():
            channel = self._channel_for(
                forms=prop.forms,
                op="observeproperty",
                where=f"$.properties.{name}.forms",
                properties=frozenset({name}),
                events=_NONE,
                single=("property", name),
            )
            if channel is not None:
                self._channels.append(channel)

    def _plan_events(self) -> None:
        td = self._client.td
        if td.events and (
            channel := self._channel_for(
                forms=td.forms,
                op="subscribeallevents",
                where="$.forms",
                properties=_NONE,
                events=frozenset(td.events),
                single=None,
            )
        ):
            self._channels.append(channel)
            return
        for name, event in td.events.items():
            channel = self._channel_for(
                forms=event.forms,
                op="subscribeevent",
                where=f"$.events.{name}.forms",
                properties=_NONE,
                events=frozenset({name}),
                single=("event", name),
            )
            if channel is not None:
                self._channels.append(channel)

    # ------------------------------------------------------------------ supervision

    def _mark(self, index: int, up: bool) -> None:
        if self._stopped:
            return
        if up:
            self._up.add(index)
        else:
            self._up.discard(index)
        all_up = len(self._up) == len(self._channels)
        if all_up != self._reported:
            self._reported = all_up
            self._call(self._on_connection, all_up)

    def _call(self, callback: Callable[..., None], *args: Any) -> None:
        if self._stopped:
            return
        try:
            callback(*args)
        except Exception:
            _LOGGER.exception("%s: push callback failed", self._client.td.title)

    def _backoff(self, channel: _Channel, failures: int) -> float:
        base = max(self._min_backoff, channel.retry or 0.0)
        delay = min(self._max_backoff, base * 2.0 ** min(failures, 16))
        jitter: float = random.uniform(0.5, 1.0)  # noqa: S311 - not cryptography
        return delay * jitter

    async def _supervise(self, index: int, channel: _Channel) -> None:
        title = self._client.td.title
        failures = 0
        # Called by the channel once it is open (one small object: held while the channel runs).
        up = _Opened(self, index, channel)
        while True:
            channel.opened = False
            try:
                # The channel's runner, called directly: one coroutine less held per channel.
                if channel.kind == "sse":
                    await self._run_sse(channel, up)
                elif channel.kind == "longpoll":
                    await self._run_longpoll(channel, up)
                else:
                    await self._run_websocket(channel, up)
                reason = "closed by the Thing"
            except _Idle:
                _LOGGER.debug("%s: %s silent for %g s, reopening", title, channel.label, self._idle)
                continue
            except SseLimitError as err:
                reason = str(err)
                _LOGGER.warning(
                    "%s: %s sent a %s; dropping the connection", title, channel.label, reason
                )
            except (WotError, aiohttp.ClientError, OSError, ValueError) as err:
                reason = self._transport.auth.redact(str(err) or type(err).__name__)
            except Exception:
                if self._transport.session.closed:
                    # The caller closed its session (an application shutting down): nothing to
                    # reopen, and nothing unexpected about it.
                    _LOGGER.debug("%s: %s ends, the HTTP session was closed", title, channel.label)
                    self._mark(index, False)
                    return
                _LOGGER.exception("%s: %s failed unexpectedly", title, channel.label)
                reason = "unexpected error"
            self._mark(index, False)
            channel.dropped = True
            if channel.opened:
                failures = 0
            delay = self._backoff(channel, failures)
            failures += 1
            _LOGGER.debug(
                "%s: push channel %s down (%s); reopening in %.1f s",
                title,
                channel.label,
                reason,
                delay,
            )
            await asyncio.sleep(delay)

    # ------------------------------------------------------------------ delivery

    def _deliver(
        self,
        channel: _Channel,
        name: str | None,
        value: Any,
        batch: dict[str, Any] | None = None,
    ) -> None:
        """Route a value: to the named affordance, the channel's own one, or split an object.

        With ``batch``, property values are collected there (the newest wins) for the caller
        to pass on; events are passed on at once.
        """
        if name is not None and name in channel.properties:
            self._push(channel, name, value, batch)
        elif name is not None and name in channel.events:
            self._event(name, value)
        elif channel.single is not None:
            kind, own = channel.single
            if kind == "property":
                self._push(channel, own, value, batch)
            else:
                self._event(own, value)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if key in channel.properties:
                    self._push(channel, key, item, batch)
                elif key in channel.events:
                    self._event(key, item)
        else:
            _LOGGER.debug(
                "%s: %s: ignored a message for %r", self._client.td.title, channel.label, name
            )

    def _push(self, channel: _Channel, name: str, value: Any, batch: dict[str, Any] | None) -> None:
        """A pushed property value: passed on, or kept in ``batch`` until the read is done."""
        self.stats.values += 1
        if channel.pushed is not None:
            channel.pushed.add(name)
        if batch is None:
            self._call(self._on_property, name, value)
            return
        if name in batch:
            self.stats.coalesced += 1
        batch[name] = value

    def _event(self, name: str, data: Any) -> None:
        self.stats.events += 1
        self._call(self._on_event, name, data)

    # ------------------------------------------------------------------ SSE

    async def _run_sse(self, channel: _Channel, up: Callable[[], None]) -> None:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if channel.last_event_id:
            headers["Last-Event-ID"] = channel.last_event_id
        async with self._transport.stream(
            channel.method, channel.url, applied=channel.applied, form=channel.form, headers=headers
        ) as response:
            media = response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
            if media != "text/event-stream":
                raise WotError(
                    f"{self._transport.show(channel.method, channel.url)}: answered "
                    f"{media or 'without a content type'}, not text/event-stream"
                )
            parser = SseParser()
            parser.last_event_id = channel.last_event_id
            up()
            # Values may have changed while the stream was down, and a Thing need not replay
            # them: after a drop, read what can be read (a value pushed meanwhile wins).
            dropped, channel.dropped = channel.dropped, False
            async with self._catching_up(channel, dropped):
                while True:
                    try:
                        async with asyncio.timeout(self._idle):
                            chunk = await response.content.readany()
                    except TimeoutError as err:
                        raise _Idle from err
                    if not chunk:
                        return
                    events = parser.feed(chunk)
                    channel.last_event_id = parser.last_event_id
                    if parser.retry_ms is not None:
                        channel.retry = parser.retry_ms / 1000
                    batch: dict[str, Any] = {}
                    for event in events:
                        self._sse_event(channel, event, batch)
                    for name, value in batch.items():
                        self._call(self._on_property, name, value)

    def _sse_event(self, channel: _Channel, event: SseEvent, batch: dict[str, Any]) -> None:
        try:
            value = json.loads(event.data)
        except (ValueError, RecursionError):  # fmt: skip
            value = event.data
        name = None if event.event == "message" else event.event
        self._deliver(channel, name, value, batch)

    # ------------------------------------------------------------------ long-poll

    async def _run_longpoll(self, channel: _Channel, up: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        readable: str | None = None  # the channel's own property, when it can be read
        dropped, channel.dropped = channel.dropped, False
        if channel.single is not None and channel.single[0] == "property":
            name = channel.single[1]
            prop = self._client.td.properties[name]
            if prop.readable:
                readable = name
                # The handshake: proves the Thing is there and catches up on the value.
                self._deliver(channel, name, await self._client.read_property(name))
        if readable is None and (dropped or not self._transport.answered_at(channel.url)):
            # The handshake of a channel that cannot read: a HEAD. Skipped when the last
            # request to the Thing (its first read, typically) went to this host and port and
            # was answered, and the channel has not failed since: the probe would prove
            # nothing new, and costs a connection of its own per Thing (aiohttp closes it
            # after an answer to HEAD without a length, which aiohttp's own server sends).
            await self._transport.probe(channel.url, applied=channel.applied, form=channel.form)
        up()
        # Described only if an answer cannot be decoded.
        what = RequestText(self._transport, channel.method, channel.url)
        while True:
            started = loop.time()
            try:
                reply = await self._transport.request(
                    channel.method,
                    channel.url,
                    applied=channel.applied,
                    form=channel.form,
                    headers={"Accept": channel.content_type},
                    limit=MAX_RESPONSE_BYTES,
                    hold=self._idle,
                )
            except WotTimeoutError as err:
                raise _Idle from err
            answered = reply.status != 204 and bool(reply.body.strip())
            if answered:
                self._deliver(channel, None, decode_body(reply.body, channel.content_type, what))
            wait = self._longpoll_min_interval - (loop.time() - started)
            if wait > 0:
                # A server that answers at once would otherwise be polled in a tight loop.
                await asyncio.sleep(wait)
                if answered and readable is not None:
                    # It changes faster than it is asked, and a long-poll server keeps
                    # nothing for a listener between two requests (node-wot): read what
                    # the pause may have missed.
                    self._deliver(channel, readable, await self._client.read_property(readable))

    # ------------------------------------------------------------------ WebSocket (webthing)

    async def _run_websocket(self, channel: _Channel, up: Callable[[], None]) -> None:
        ws = await self._transport.websocket(
            channel.url,
            applied=channel.applied,
            protocols=(WEBTHING_SUBPROTOCOL,),
            heartbeat=max(self._idle / 2, 1.0),
            max_msg_size=MAX_EVENT_BYTES,
        )
        async with ws:
            if channel.events:
                await ws.send_json(
                    {
                        "messageType": "addEventSubscription",
                        "data": {name: {} for name in sorted(channel.events)},
                    }
                )
            up()
            async with self._catching_up(channel, bool(channel.properties)):
                while True:
                    # No idle timeout: the heartbeat closes a socket whose pings go unanswered.
                    message = await ws.receive()
                    if message.type == aiohttp.WSMsgType.TEXT:
                        self._webthing_message(channel, message.data)
                    elif message.type == aiohttp.WSMsgType.ERROR:
                        raise WotError(f"WebSocket error: {ws.exception()}")
                    elif message.type in (
                        aiohttp.WSMsgType.CLOSE,
                        aiohttp.WSMsgType.CLOSING,
                        aiohttp.WSMsgType.CLOSED,
                    ):
                        return

    @contextlib.asynccontextmanager
    async def _catching_up(self, channel: _Channel, wanted: bool) -> AsyncIterator[None]:
        """While the body runs, read the channel's properties once (if ``wanted``)."""
        channel.pushed = set() if wanted else None
        task = (
            asyncio.create_task(
                self._catch_up(channel), name=f"wot watch {self._client.td.title} catch-up"
            )
            if wanted
            else None
        )
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            channel.pushed = None

    async def _catch_up(self, channel: _Channel) -> None:
        """Read the channel's properties once it is open; values pushed meanwhile are newer."""
        properties = self._client.td.properties
        readable = sorted(n for n in channel.properties if properties[n].readable)
        if not readable:
            return
        try:
            if len(readable) == 1:
                values = {readable[0]: await self._client.read_property(readable[0])}
            else:
                values = await self._client.read_all_properties()
        except WotError as err:
            _LOGGER.debug(
                "%s: reading the properties after connecting failed: %s", self._client.td.title, err
            )
            return
        except Exception:
            _LOGGER.exception(
                "%s: reading the properties after connecting failed", self._client.td.title
            )
            return
        pushed = channel.pushed or ()
        for name, value in values.items():
            if name in channel.properties and name not in pushed:
                self._call(self._on_property, name, value)

    def _webthing_message(self, channel: _Channel, text: str) -> None:
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):  # fmt: skip
            _LOGGER.debug("%s: WebSocket message is not JSON", self._client.td.title)
            return
        if not isinstance(message, dict) or not isinstance(message.get("data"), dict):
            return
        kind, data = message.get("messageType"), message["data"]
        if kind == "propertyStatus":
            for name, value in data.items():
                if name in channel.properties:
                    self._push(channel, name, value, None)
        elif kind == "event":
            for name, item in data.items():
                if name in channel.events:
                    self._event(name, item.get("data") if isinstance(item, dict) else item)
        elif kind == "error":
            _LOGGER.debug("%s: WebSocket error message: %.200s", self._client.td.title, data)


__all__ = ["WEBTHING_SUBPROTOCOL", "WatchStats", "Watcher"]
