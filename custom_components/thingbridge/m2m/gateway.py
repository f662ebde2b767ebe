"""The GPS tracker gateway: TCP, UDP and HTTP listeners in front of the tracker decoders.

One listener per enabled protocol, on Traccar's ports by default (:data:`.trackers.PROTOCOLS`:
teltonika 5027 TCP+UDP, gt06 5023, tk103 5002 TCP+UDP, coban 5001 TCP+UDP, h02 5013
TCP+UDP, osmand 5055 HTTP). The gateway owns the sockets, timeouts and the accept decision;
the sans-IO decoders in :mod:`.trackers` turn bytes into frames and say what to reply.

Acknowledgement rules (``gps-trackers.md`` §5-6), which make delivery exactly-once:

- Only devices for which ``is_registered(protocol, device_id)`` is true get their data
  acknowledged. Any other device gets the frame's ``reject_reply`` (Teltonika login ``00``)
  or silence, also to handshakes and heartbeats (TK103, Coban and H02 devices take their
  answers for delivery), so it keeps its buffer and resends later; ``on_unknown_device``
  is called at most once per device per ``unknown_interval`` seconds (device IDs are
  well-formed: the decoders turn a malformed one into a ``FieldError``). OsmAnd answers 400 (query/form) or 404 (JSON).
- A registered device's positions are appended to the journal, and its ``frame.reply`` is
  written **only after** the append returned (committed). A message no decoder understands
  that still expects an answer (a model-specific layout) is stored as received first
  (``store_frames``): nothing is acknowledged that is not stored. If journaling fails there is no
  reply and the connection is closed (OsmAnd: HTTP 503), so the device resends; resends
  of stored records are recognised by the journal and not reported again.
- Frames read together (one read of at most ``max_buffer`` bytes) are journaled in one
  append, then their callbacks run and their replies are written in stream order. A TCP
  connection is an :class:`asyncio.Protocol`: it decodes in ``data_received``, hands the
  positions to the journal's group commit (``submit``) and writes the replies from the
  commit's completion callback; what arrives meanwhile waits its turn.

Hardening (every port faces the internet; ``README.md`` "Security" lists the defaults):

- **Admission.** A connection is *pending* until it identifies a registered device (a
  frame of that device is accepted and journaled); keep-alives, unknown devices and
  malformed frames never make it identified. Pending connections are capped per protocol
  (``max_pending``) and per source address and protocol (``max_pending_per_address``); at
  either cap the *oldest* pending connection is closed to make room, never the new one,
  so strangers holding slots cannot keep a registered device out. ``max_connections``
  bounds all connections (TCP and HTTP) together; only when every one of them is an
  identified device is a new connection refused.
- **One connection per device.** When a device identifies itself on a new TCP connection,
  its older one is closed (a tracker that reconnects left a dead one behind; a stranger
  who knows a registered ID can hold one slot with it, not all of them).
- **Login deadline.** A connection that has not identified a registered device within
  ``login_timeout`` seconds of its accept is closed; so is one that identified an unknown
  device (after its reject reply, if the protocol has one): it has nothing more to say.
- **Error budget.** Each connection may cost ``max_errors`` decoder errors; only a frame of
  a registered device that carries data refills one, keep-alives do not. Before the device
  is identified the first error closes the connection (port scanners, a device pointed at
  the wrong port). Decoder errors are logged at debug level with the peer and reason, never
  the payload.
- **Bytes.** A connection is dropped when more than ``max_buffer`` bytes arrive without an
  accepted frame (or the decoder's own buffer bound overflows), after ``idle_timeout``
  seconds without data, or when a reply cannot be written within ``idle_timeout``.
- **HTTP (OsmAnd).** The same admission rules; a request's headers must arrive within
  ``http_timeout`` seconds (aiohttp's keep-alive timer) and its body within
  ``http_timeout`` more; bodies are bounded (``osmand.MAX_BODY``).
- **Accept.** The gateway accepts connections itself. A process out of file descriptors
  closes the oldest pending connection (as for a cap) and accepts again; with none pending
  it backs off for a second and logs one warning a minute instead of one per attempt.
  Sources are IPv4 addresses and IPv6 /64 networks; at a protocol's cap the connection
  evicted is the oldest of the source holding the most pending ones.
- **Malformed HTTP** is logged at debug level and counted as an error, not logged as an
  error with a traceback.

UDP datagrams are decoded one by one (in order per sender) and answered to the sender's
address; at most ``max_connections`` are processed at a time.

All callbacks run on the event loop and must not block; an exception in one is logged
and does not affect the device. Nothing here blocks the loop: the journal writes on its
own thread.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
import contextlib
import contextvars
from dataclasses import dataclass, field
from datetime import UTC, datetime
import errno
import fcntl
import ipaddress
import itertools
import logging
import operator
import socket
import struct
import sys
import time
from typing import Any, Protocol

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler

from .errors import M2MError
from .journal import JournalError
from .trackers import (
    ALIASES,
    PROTOCOLS,
    BufferOverflowError,
    CobanDecoder,
    Frame,
    Gt06Decoder,
    H02Decoder,
    Message,
    Position,
    ProtocolError,
    StreamDecoder,
    TeltonikaDecoder,
    TeltonikaUdpDecoder,
    Tk103Decoder,
    UnsupportedMessage,
    parse_request,
)
from .trackers.osmand import MAX_BODY
from .trackers.stream import DEFAULT_MAX_BUFFER, Item

_LOGGER = logging.getLogger(__name__)

DEFAULT_IDLE_TIMEOUT = 600.0
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_MAX_PENDING = 512
DEFAULT_MAX_PENDING_PER_ADDRESS = 256
DEFAULT_LOGIN_TIMEOUT = 30.0
DEFAULT_HTTP_TIMEOUT = 20.0
DEFAULT_MAX_ERRORS = 10
DEFAULT_UNKNOWN_INTERVAL = 600.0
_ACCEPT_BACKOFF = 1.0  # seconds to wait after the process ran out of descriptors
_ACCEPT_WARN_INTERVAL = 60.0
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_UNKNOWN_MEMORY = 4096
_UNKNOWN_RATE = 10.0  # on_unknown_device calls a second, all devices together...
_UNKNOWN_BURST = 500.0  # ...after a burst of this many
_EOF = "closed by the device"
_TIMER_SLACK = 0.001  # a timer may fire this much early
_FIX_TIME = operator.attrgetter("fix_time")

_STREAM_DECODERS: dict[str, Callable[..., StreamDecoder]] = {
    "teltonika": TeltonikaDecoder,
    "gt06": Gt06Decoder,
    "tk103": Tk103Decoder,
    "coban": CobanDecoder,
    "h02": H02Decoder,
}


class PositionJournal(Protocol):
    """What the gateway needs from a journal (:class:`.journal.TrackerJournal`)."""

    async def append(self, positions: Sequence[Position]) -> list[bool]:
        """Store positions durably; return which were new; raise ``JournalError``."""
        ...

    def submit(self, positions: Sequence[Position]) -> asyncio.Future[list[bool]]:
        """``append`` as a future (its result, or its ``JournalError``)."""
        ...

    async def store_frames(self, frames: Sequence[tuple[str, str, str, bytes]]) -> list[bool]:
        """Store undecodable frames ``(protocol, device_id, kind, raw)`` durably."""
        ...


class GatewayError(M2MError):
    """A listener could not be started.

    Attributes:
        protocol: The protocol whose listener failed.
        port: The port it tried to bind.
    """

    def __init__(self, protocol: str, transport: str, port: int, reason: str) -> None:
        """Name the protocol, transport, port and cause."""
        super().__init__(f"cannot listen for {protocol} on {transport} port {port}: {reason}")
        self.protocol = protocol
        self.transport = transport
        self.port = port


class _NoJournal:
    """The journal of a gateway started only to check its ports: it stores nothing."""

    async def append(self, positions: Sequence[Position]) -> list[bool]:
        raise JournalError("append", "(port check)", "the gateway is only being tested")

    def submit(self, positions: Sequence[Position]) -> asyncio.Future[list[bool]]:
        future: asyncio.Future[list[bool]] = asyncio.get_running_loop().create_future()
        future.set_exception(
            JournalError("append", "(port check)", "the gateway is only being tested")
        )
        return future

    async def store_frames(self, frames: Sequence[tuple[str, str, str, bytes]]) -> list[bool]:
        raise JournalError("append", "(port check)", "the gateway is only being tested")


@dataclass(slots=True)
class GatewayStats:
    """Counters since :meth:`TrackerGateway.start`.

    Attributes:
        connections: TCP and HTTP connections open now.
        connections_total: TCP and HTTP connections admitted.
        refused: Connections closed at once (every slot held by an identified device)
            and UDP datagrams dropped over ``max_connections``.
        evicted: Unidentified connections closed to make room for a new one (the
            per-protocol, per-address or total cap was reached).
        dropped: Connections the gateway closed (overflow, errors, idle, login deadline,
            journal failure, eviction).
        idle_timeouts: Of those, closed for being idle.
        login_timeouts: Of those, closed for not identifying a registered device in time.
        replaced: Of those, closed because the same device logged in on a newer connection.
        accept_errors: Accepts that failed because the process ran out of resources.
        datagrams: UDP datagrams received.
        http_requests: OsmAnd HTTP requests received.
        frames: Frames decoded.
        errors: Decoder errors (garbage, bad checksum, malformed…).
        unsupported: Well-formed messages of types the decoders do not handle.
        frames_kept: Of those, frames of registered devices stored as received before
            their answer (:meth:`.journal.TrackerJournal.store_frames`; resends not counted).
        acks: Replies written to registered devices.
        rejected: Frames or requests from devices that are not registered.
        unknown_suppressed: ``on_unknown_device`` calls left out by the global rate limit.
        positions: New positions journaled.
        duplicates: Positions the journal already had (resends).
        journal_errors: Appends that failed (their data was not acknowledged).
    """

    connections: int = 0
    connections_total: int = 0
    refused: int = 0
    evicted: int = 0
    dropped: int = 0
    idle_timeouts: int = 0
    login_timeouts: int = 0
    replaced: int = 0
    accept_errors: int = 0
    datagrams: int = 0
    http_requests: int = 0
    frames: int = 0
    errors: int = 0
    unsupported: int = 0
    frames_kept: int = 0
    acks: int = 0
    rejected: int = 0
    unknown_suppressed: int = 0
    positions: int = 0
    duplicates: int = 0
    journal_errors: int = 0


@dataclass(slots=True)
class _Outcome:
    """What to do after a batch of decoded items."""

    replies: list[bytes] = field(default_factory=list)
    close: str | None = None  # the reason to close the connection
    accepted: bool = False  # a registered device's frame was stored


@dataclass(slots=True, eq=False)
class _Conn:
    """Per-connection (or per-datagram) state: decoding and admission."""

    protocol: str
    peer: str
    stream: bool = True  # a TCP connection (tracked in connected_devices)
    host: str = ""  # the peer's address, for the per-address cap
    budget: int = 0  # decoder errors it may still cost
    unparsed: int = 0  # bytes received since the last accepted frame
    device: tuple[str, str] | None = None
    identified: bool = False  # a registered device's frame was accepted
    rejected: bool = False  # an unknown device identified itself on it
    pending: bool = False  # counted in the pending queues
    counted: bool = False  # counted in the live connections
    serial: int = 0  # accept order, for "the oldest pending connection"
    deadline: asyncio.TimerHandle | None = None
    abort: Callable[[], None] | None = None  # closes the transport (once there is one)
    closing: str | None = None  # why the gateway closed it

    def closed_by_gateway(self) -> str | None:
        """Why the gateway closed the connection (eviction, login deadline), if it did."""
        return self.closing


_LINGER_RESET = struct.pack("ii", 1, 0)
# Linux's SIOCOUTQNSD: the bytes of a socket's send queue not yet sent at all, because the
# peer's receive window is closed (the bytes sent and not yet acknowledged, which any reply on
# a slow link has for a while, are not counted: TIOCOUTQ would count them).
_UNSENT: int | None = 0x894B if sys.platform.startswith("linux") else None


def _abort(transport: asyncio.BaseTransport) -> None:
    """Drop a connection; with a TCP reset when its peer left our replies unread.

    Closed in order, a socket whose replies the peer does not read sits in the kernel
    (FIN_WAIT1, holding the unsent bytes) for minutes, and the peer, blocked on its own sends,
    never hears that it was closed: a reset frees both at once. A peer that reads (its
    window is open, so nothing waits unsent) gets the orderly close: a reset would drop a
    reply still in flight, such as the refusal just written to an unknown device.
    """
    sock = transport.get_extra_info("socket")
    if sock is not None and _UNSENT is not None and sock.fileno() >= 0:
        with contextlib.suppress(OSError):
            unsent = struct.unpack("i", fcntl.ioctl(sock.fileno(), _UNSENT, b"\0" * 4))
            if unsent[0] > 0:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    transport.abort()  # type: ignore[attr-defined]


class _IdleWatch:
    """A connection's idle timeout, without a timer per read.

    The read loop sets ``reading_since`` before each read and clears it after; one timer
    per connection wakes up every ``timeout`` seconds and, when the loop has been waiting
    for data for ``timeout`` seconds, marks the connection ``expired`` and aborts it (the
    pending read then returns). Time spent journaling does not count, as before.
    """

    __slots__ = ("_handle", "_loop", "_timeout", "_transport", "expired", "reading_since")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, timeout: float, transport: asyncio.WriteTransport
    ) -> None:
        self._loop = loop
        self._timeout = timeout
        self._transport = transport
        self.expired = False
        self.reading_since: float | None = None
        self._handle = loop.call_at(loop.time() + timeout, self._check)

    def _check(self) -> None:
        since = self.reading_since
        now = self._loop.time()
        if since is not None and now + _TIMER_SLACK >= since + self._timeout:
            self.expired = True
            _abort(self._transport)
            return
        start = now if since is None else since
        self._handle = self._loop.call_at(start + self._timeout, self._check)

    def cancel(self) -> None:
        self._handle.cancel()


def _peer(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


def _source(address: object) -> str:
    """Whom a peer counts as for the per-source cap: its IPv4 address, its IPv6 /64.

    One IPv6 subscriber holds a whole /64, so its addresses count as one source.
    """
    text = str(address[0]) if isinstance(address, tuple) and address else str(address)
    try:
        ip = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return text
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return text


class _HttpServer(web.Server):
    """aiohttp's low-level server, telling the gateway when a connection ends.

    It keeps its own loop and handler options rather than reading the base class's private
    attributes, so an aiohttp release that renames them does not break it.
    """

    def __init__(
        self,
        handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
        on_lost: Callable[[RequestHandler], None],
        on_bad_request: Callable[[], None],
        **handler_options: Any,
    ) -> None:
        super().__init__(
            handler,
            request_factory=self._bounded_request,
            handler_cancellation=True,  # a request whose peer went away stops at once
            **handler_options,
        )
        self._gateway_loop = asyncio.get_running_loop()
        self._handler_options = handler_options
        self._on_lost = on_lost
        self._on_bad_request = on_bad_request

    def _bounded_request(
        self,
        message: RawRequestMessage,
        payload: StreamReader,
        protocol: RequestHandler,
        writer: AbstractStreamWriter,
        task: asyncio.Task[None],
    ) -> web.BaseRequest:
        return web.BaseRequest(
            message, payload, protocol, writer, task, self._gateway_loop, client_max_size=MAX_BODY
        )

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        super().connection_lost(handler, exc)
        self._on_lost(handler)

    def __call__(self) -> RequestHandler:
        return _QuietRequestHandler(
            self, self._on_bad_request, loop=self._gateway_loop, **self._handler_options
        )


class _QuietRequestHandler(RequestHandler):
    """aiohttp's connection handler; a malformed request is a peer's error, not ours.

    aiohttp logs those (a bad header, an HTTP/2 preface, a line too long...) as ERROR with a
    traceback: anyone could fill the log. Here they are logged at debug level and counted.
    """

    def __init__(
        self, manager: _HttpServer, on_bad_request: Callable[[], None], **kwargs: Any
    ) -> None:
        super().__init__(manager, **kwargs)
        self._on_bad_request = on_bad_request

    def log_exception(self, *args: Any, **kw: Any) -> None:
        kw.pop("exc_info", None)
        _LOGGER.debug(*args, **kw)
        self._on_bad_request()


class TrackerGateway:
    """Listeners for tracker protocols that journal positions and acknowledge them.

    Args:
        journal: Where positions go (a :class:`.journal.TrackerJournal`); not opened or
            closed by the gateway.
        ports: The enabled protocols and their ports (0 picks a free port; see
            :attr:`ports`). Protocol aliases (``gps103``, ``concox``…) are accepted.
        is_registered: ``(protocol, device_id) -> bool``: whether the user added the device.
        on_positions: ``(protocol, positions)``: new positions of one frame (one device),
            called after they were journaled and before the ACK is written, sorted by fix
            time (newest last). Resent duplicates are not reported again; buffered history
            may be older than positions reported before, so compare ``fix_time``.
        on_unknown_device: ``(protocol, device_id)``: an unregistered device sent data;
            called at most once per device per ``unknown_interval``, and at most 10 times
            a second for all devices together (after a burst of 500).
        on_message: ``(protocol, message)``: a registered device's non-position messages
            (logins, heartbeats, status reports, alarms without a fix, command responses),
            in stream order.
        host: The address to listen on (``"0.0.0.0"``: every IPv4 interface).
        udp: Also listen on UDP for the protocols that have a UDP transport.
        lenient: Accept frames with bad checksums (Traccar never checks them); one value
            for all protocols or a mapping by protocol.
        idle_timeout: Seconds without data before a TCP connection is closed.
        max_connections: Concurrent TCP and HTTP connections of all protocols together
            (and UDP datagrams in process per protocol).
        max_pending: Concurrent connections per protocol that have not identified a
            registered device yet; at the cap the oldest of them is closed.
        max_pending_per_address: The same per protocol and source address.
        login_timeout: Seconds a connection has to identify a registered device.
        http_timeout: Seconds an HTTP request's headers, and then its body, may take.
        max_buffer: Bound on a connection's unparsed bytes.
        max_errors: A connection's error budget: decoder errors it may cost; each
            accepted frame with data earns one back (up to this many).
        unknown_interval: Seconds between two ``on_unknown_device`` calls for one device.
    """

    def __init__(  # noqa: PLR0915 - one checked assignment per option
        self,
        journal: PositionJournal,
        *,
        ports: Mapping[str, int],
        is_registered: Callable[[str, str], bool],
        on_positions: Callable[[str, list[Position]], None],
        on_unknown_device: Callable[[str, str], None],
        on_message: Callable[[str, Message], None] | None = None,
        host: str = "0.0.0.0",  # noqa: S104 - trackers reach the gateway from outside
        udp: bool = True,
        lenient: bool | Mapping[str, bool] = False,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        max_pending: int = DEFAULT_MAX_PENDING,
        max_pending_per_address: int = DEFAULT_MAX_PENDING_PER_ADDRESS,
        login_timeout: float = DEFAULT_LOGIN_TIMEOUT,
        http_timeout: float = DEFAULT_HTTP_TIMEOUT,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        max_errors: int = DEFAULT_MAX_ERRORS,
        unknown_interval: float = DEFAULT_UNKNOWN_INTERVAL,
    ) -> None:
        """Check the configuration; nothing listens until :meth:`start`."""
        self._requested: dict[str, int] = {}
        for name, port in ports.items():
            key = ALIASES.get(name, name)
            if key not in PROTOCOLS:
                raise ValueError(
                    f"unknown tracker protocol {name!r}; known: {', '.join(PROTOCOLS)}"
                )
            if not isinstance(port, int) or not 0 <= port <= 65535:
                raise ValueError(f"port for {name} must be an integer 0-65535, got {port!r}")
            self._requested[key] = port
        if not self._requested:
            raise ValueError("no protocol enabled")
        if isinstance(lenient, Mapping):
            self._lenient = {ALIASES.get(k, k): bool(v) for k, v in lenient.items()}
        else:
            self._lenient = dict.fromkeys(PROTOCOLS, bool(lenient))
        if not (idle_timeout > 0 and login_timeout > 0 and http_timeout > 0):
            raise ValueError("idle_timeout, login_timeout and http_timeout must be positive")
        if min(max_connections, max_pending, max_pending_per_address, max_errors) < 1:
            raise ValueError(
                "max_connections, max_pending, max_pending_per_address and max_errors"
                " must be at least 1"
            )
        if max_buffer < 1024:
            raise ValueError("max_buffer must be at least 1024 bytes")
        self.journal = journal
        self.host = host
        self.udp = udp
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.max_pending = max_pending
        self.max_pending_per_address = max_pending_per_address
        self.login_timeout = login_timeout
        self.http_timeout = http_timeout
        self.max_buffer = max_buffer
        self.max_errors = max_errors
        self.unknown_interval = unknown_interval
        self._is_registered = is_registered
        self._on_positions = on_positions
        self._on_unknown = on_unknown_device
        self._on_message = on_message
        self.stats = GatewayStats()
        self._ports: dict[str, int] = {}
        self._udp_ports: dict[str, int] = {}
        self._listeners: list[socket.socket] = []
        self._accept_tasks: list[asyncio.Task[None]] = []
        self._udp: list[_UdpListener] = []
        self._http: _HttpServer | None = None
        self._http_conns: dict[RequestHandler, _Conn] = {}
        self._conn_tasks: dict[asyncio.Task[None], _Conn] = {}
        # pending connections: protocol -> source -> connections, oldest first
        self._buckets: dict[str, dict[str, OrderedDict[_Conn, None]]] = {}
        self._pending_count: dict[str, int] = {}
        self._live = 0  # TCP and HTTP connections counted against max_connections
        self._serials = itertools.count()
        self._accept_warned = -_ACCEPT_WARN_INTERVAL
        self._unknown_seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._unknown_tokens = _UNKNOWN_BURST
        self._unknown_refilled = time.monotonic()
        self._last_seen: dict[tuple[str, str], datetime] = {}
        self._connected: dict[tuple[str, str], int] = {}
        self._device_conns: dict[tuple[str, str], _Conn] = {}  # each device's newest
        self._started = False

    # -- public state ---------------------------------------------------------------------

    @property
    def ports(self) -> dict[str, int]:
        """The bound TCP (HTTP for OsmAnd) port of each enabled protocol."""
        return dict(self._ports)

    @property
    def udp_ports(self) -> dict[str, int]:
        """The bound UDP port of each protocol listening on UDP (the TCP port if it was free)."""
        return dict(self._udp_ports)

    def last_seen(self, protocol: str, device_id: str) -> datetime | None:
        """When the registered device last sent a valid frame (UTC), if it did since start."""
        return self._last_seen.get((ALIASES.get(protocol, protocol), device_id))

    def connected_devices(self) -> set[tuple[str, str]]:
        """``(protocol, device_id)`` of registered devices with an open TCP connection."""
        return {key for key, n in self._connected.items() if n > 0}

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind every listener.

        Raises:
            GatewayError: A port could not be bound (listeners already started are closed).
        """
        if self._started:
            raise RuntimeError("gateway already started")
        self._started = True
        self.stats = GatewayStats()
        try:
            for protocol, port in self._requested.items():
                transports = PROTOCOLS[protocol].transports
                if "http" in transports:
                    await self._start_http(protocol, port)
                    continue
                await self._listen(protocol, "TCP", port)
                if self.udp and "udp" in transports:
                    await self._start_udp(protocol, port)
        except BaseException:
            await self.stop()
            raise

    async def _listen(self, protocol: str, kind: str, port: int) -> None:
        """Bind the protocol's stream socket(s) and start accepting on them."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(
                self.host or None,
                port,
                family=socket.AF_UNSPEC,
                type=socket.SOCK_STREAM,
                flags=socket.AI_PASSIVE,
            )
        except OSError as err:
            raise GatewayError(protocol, kind, port, str(err)) from err
        bound: list[socket.socket] = []
        for family, type_, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, type_, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                if bound and port == 0:  # the other families on the port the first one got
                    sock.bind((address[0], bound[0].getsockname()[1], *address[2:]))
                else:
                    sock.bind(address)
                # a fleet reconnecting at once (after a restart) should not overflow the queue
                sock.listen(min(max(self.max_connections, 100), 4096))
                sock.setblocking(False)
            except OSError as err:
                sock.close()
                for other in bound:
                    other.close()
                raise GatewayError(protocol, kind, port, str(err)) from err
            bound.append(sock)
        self._listeners.extend(bound)
        self._ports[protocol] = bound[0].getsockname()[1]
        for sock in bound:
            self._accept_tasks.append(
                loop.create_task(
                    self._accept_loop(protocol, sock), name=f"tracker-gateway-accept-{protocol}"
                )
            )
        _LOGGER.debug("%s: listening on %s %s:%d", protocol, kind, self.host, self._ports[protocol])

    async def _start_udp(self, protocol: str, requested: int) -> None:
        loop = asyncio.get_running_loop()
        port = self._ports[protocol]
        try:
            transport, listener = await loop.create_datagram_endpoint(
                lambda: _UdpListener(self, protocol), local_addr=(self.host, port)
            )
        except OSError as err:
            if requested != 0:
                raise GatewayError(protocol, "UDP", port, str(err)) from err
            # a free TCP port may be taken on UDP: any free UDP port will do
            try:
                transport, listener = await loop.create_datagram_endpoint(
                    lambda: _UdpListener(self, protocol), local_addr=(self.host, 0)
                )
            except OSError as again:
                raise GatewayError(protocol, "UDP", port, str(again)) from again
        self._udp.append(listener)
        self._udp_ports[protocol] = transport.get_extra_info("sockname")[1]
        _LOGGER.debug("%s: listening on UDP %s:%d", protocol, self.host, self._udp_ports[protocol])

    async def _start_http(self, protocol: str, port: int) -> None:
        self._http = _HttpServer(
            self._osmand,
            self._http_connection_lost,
            self._bad_http_request,
            access_log=None,
            # also the time a new connection has to send its request's headers
            keepalive_timeout=min(self.idle_timeout, self.http_timeout),
            lingering_time=0,  # an answered request's unread body is not waited for
        )
        await self._listen(protocol, "HTTP", port)

    async def stop(self) -> None:
        """Close every listener and connection at once (no graceful flush).

        Replies not yet written are dropped; the devices resend that data.
        """
        for task in self._accept_tasks:  # first: each has a reader on its socket
            task.cancel()
        if self._accept_tasks:
            await asyncio.wait(self._accept_tasks)
        for sock in self._listeners:
            sock.close()
        for listener in self._udp:
            listener.close()
        tasks = list(self._conn_tasks)
        for task, conn in list(self._conn_tasks.items()):
            if conn.abort is not None:
                conn.abort()
            task.cancel()
        udp_tasks = [t for listener in self._udp for t in listener.tasks]
        for task in udp_tasks:
            task.cancel()
        if tasks or udp_tasks:
            await asyncio.wait([*tasks, *udp_tasks])
        if self._udp:  # until their sockets are closed: the ports are free when stop returns
            await asyncio.wait([listener.closed for listener in self._udp])
        if self._http is not None:
            for conn in list(self._http_conns.values()):
                if conn.abort is not None:
                    conn.abort()
            await self._http.shutdown(1.0)
        for conn in [c for b in self._buckets.values() for q in b.values() for c in q]:
            self._release(conn)
        self._listeners.clear()
        self._accept_tasks.clear()
        self._udp.clear()
        self._http = None
        self._http_conns.clear()
        self._buckets.clear()
        self._pending_count.clear()
        self._live = 0
        self._ports.clear()
        self._udp_ports.clear()
        self._connected.clear()
        self._device_conns.clear()
        self._started = False

    @classmethod
    async def check_ports(cls, host: str, ports: Mapping[str, int], *, udp: bool = True) -> None:
        """Bind every listener a gateway with these settings would open, and close them again.

        A gateway that acknowledges nobody and stores nothing is started and stopped, so
        exactly what :meth:`start` binds is checked (TCP and UDP, or HTTP for OsmAnd). A
        device that connects meanwhile is treated as unknown and gets no reply.

        Args:
            host: The address to listen on.
            ports: Protocols and ports to check (``0``: any free port).
            udp: Also bind UDP for the protocols that have it.

        Raises:
            GatewayError: A port cannot be bound; names the protocol, transport and port.
            ValueError: An unknown protocol, a port out of range or no protocol at all.
        """
        gateway = cls(
            _NoJournal(),
            ports=ports,
            host=host,
            udp=udp,
            is_registered=lambda _protocol, _device_id: False,
            on_positions=lambda _protocol, _positions: None,
            on_unknown_device=lambda _protocol, _device_id: None,
        )
        await gateway.start()
        await gateway.stop()

    async def __aenter__(self) -> TrackerGateway:
        """Start the gateway."""
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop the gateway."""
        await self.stop()

    # -- admission ------------------------------------------------------------------------

    async def _accept_loop(self, protocol: str, sock: socket.socket) -> None:
        """Accept connections on one listening socket for as long as the gateway runs."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                client, address = await loop.sock_accept(sock)
            except OSError as err:
                if err.errno not in _OUT_OF_RESOURCES:
                    if sock.fileno() == -1:  # closed by stop()
                        return
                    _LOGGER.debug("%s: accept failed: %s", protocol, err)
                    continue
                self.stats.accept_errors += 1
                if self._evict_one(None, "out of file descriptors"):
                    continue  # a stranger's descriptor is free now: accept again at once
                now = time.monotonic()
                if now - self._accept_warned >= _ACCEPT_WARN_INTERVAL:
                    self._accept_warned = now
                    _LOGGER.warning(
                        "%s: cannot accept connections: %s (%d open); retrying every %g s",
                        protocol,
                        err.strerror,
                        self._live,
                        _ACCEPT_BACKOFF,
                    )
                await asyncio.sleep(_ACCEPT_BACKOFF)
                continue
            conn = _Conn(
                protocol,
                _peer(address),
                stream=protocol != "osmand",  # HTTP requests are no device connections
                host=_source(address),
                budget=self.max_errors,
            )
            conn.abort = client.close  # until its serving task takes the socket
            if not self._admit(conn):
                self.stats.refused += 1
                _LOGGER.debug(
                    "%s %s: refused, %d connections open", protocol, conn.peer, self._live
                )
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
                client.close()
                continue
            serve = self._serve_http if protocol == "osmand" else self._serve_tcp
            task = loop.create_task(serve(conn, client))
            self._conn_tasks[task] = conn
            task.add_done_callback(self._conn_tasks.pop)
            await asyncio.sleep(0)  # a flood of accepts must not starve the connections

    def _admit(self, conn: _Conn) -> bool:
        """Count a new connection in, closing the oldest pending ones at a cap.

        Returns False (refuse it) only when every connection is an identified device.
        """
        buckets = self._buckets.setdefault(conn.protocol, {})
        same_source = buckets.get(conn.host)
        if same_source and len(same_source) >= self.max_pending_per_address:
            self._evict(next(iter(same_source)), "too many unidentified connections from it")
        if self._pending_count.get(conn.protocol, 0) >= self.max_pending:
            self._evict_one(conn.protocol, "too many unidentified connections")
        if self._live >= self.max_connections and not self._evict_one(
            None, "connection limit reached"
        ):
            return False
        conn.serial = next(self._serials)
        conn.counted = conn.pending = True
        self._live += 1
        self.stats.connections = self._live
        self.stats.connections_total += 1
        self._pending_count[conn.protocol] = self._pending_count.get(conn.protocol, 0) + 1
        buckets.setdefault(conn.host, OrderedDict())[conn] = None
        conn.deadline = asyncio.get_running_loop().call_later(
            self.login_timeout, self._login_expired, conn
        )
        return True

    def _evict_one(self, protocol: str | None, reason: str) -> bool:
        """Close the oldest pending connection of the source holding the most of them.

        Among the protocol's pending connections (or all, for ``None``). A stranger who
        spreads connections over many sources still loses them before a device that
        connected once; returns False when nothing is pending.
        """
        biggest: OrderedDict[_Conn, None] | None = None
        for name, buckets in self._buckets.items():
            if protocol is not None and name != protocol:
                continue
            for bucket in buckets.values():
                if biggest is None or len(bucket) > len(biggest):
                    biggest = bucket
        if not biggest:
            return False
        self._evict(next(iter(biggest)), reason)
        return True

    def _unpend(self, conn: _Conn) -> None:
        """Take the connection out of the pending queues and stop its login deadline."""
        if not conn.pending:
            return
        conn.pending = False
        if conn.deadline is not None:
            conn.deadline.cancel()
            conn.deadline = None
        self._pending_count[conn.protocol] -= 1
        buckets = self._buckets[conn.protocol]
        bucket = buckets[conn.host]
        del bucket[conn]
        if not bucket:
            del buckets[conn.host]

    def _release(self, conn: _Conn) -> None:
        """The connection is gone (or going): free its slot. Idempotent."""
        self._unpend(conn)
        if conn.counted:
            conn.counted = False
            self._live -= 1
            self.stats.connections = self._live

    def _close(self, conn: _Conn, reason: str) -> None:
        """Close a connection from the gateway's side (eviction, login deadline)."""
        if conn.closing is None:
            conn.closing = reason
            self.stats.dropped += 1
        self._release(conn)
        if conn.abort is not None:
            conn.abort()

    def _evict(self, conn: _Conn, reason: str) -> None:
        self.stats.evicted += 1
        _LOGGER.debug("%s %s: closing to make room (%s)", conn.protocol, conn.peer, reason)
        self._close(conn, reason)

    def _login_expired(self, conn: _Conn) -> None:
        conn.deadline = None
        if conn.pending:
            self.stats.login_timeouts += 1
            self._close(conn, f"no registered device within {self.login_timeout:g} s")

    # -- TCP ------------------------------------------------------------------------------

    def _stream_decoder(self, protocol: str) -> StreamDecoder:
        return _STREAM_DECODERS[protocol](
            lenient=self._lenient.get(protocol, False), max_buffer=self.max_buffer
        )

    async def _serve_tcp(self, conn: _Conn, client: socket.socket) -> None:
        """Serve one admitted TCP connection (a :class:`_TcpConnection`) until it ends."""
        reason = "connection error"
        transport: asyncio.BaseTransport | None = None
        protocol: _TcpConnection | None = None
        try:
            if conn.closing is not None:  # evicted before it was served: its socket is closed
                return
            conn.abort = None  # while the transport is made, eviction only marks it closing
            protocol = _TcpConnection(self, conn)
            transport, _ = await asyncio.get_running_loop().connect_accepted_socket(
                lambda: protocol, client
            )
            conn.abort = transport.abort
            if conn.closing is None:
                reason = await protocol.ended
        except (ConnectionError, OSError) as err:
            reason = f"connection error: {err}"
        finally:
            if protocol is not None:
                protocol.detach()
            reason = conn.closing or reason
            _LOGGER.debug("%s %s: closing (%s)", conn.protocol, conn.peer, reason)
            if transport is None:
                client.close()
            elif reason == _EOF:
                transport.close()
            else:
                _abort(transport)
            self._release(conn)
            if conn.device is not None:
                if self._device_conns.get(conn.device) is conn:
                    del self._device_conns[conn.device]
                self._connected[conn.device] = self._connected.get(conn.device, 1) - 1
                if self._connected[conn.device] <= 0:
                    del self._connected[conn.device]

    # -- shared frame handling ------------------------------------------------------------

    def _registered(self, protocol: str, device_id: str | None) -> bool:
        if device_id is None:
            return False
        try:
            return bool(self._is_registered(protocol, device_id))
        except Exception:
            _LOGGER.exception("is_registered(%r, %r) failed", protocol, device_id)
            return False

    def _unknown(self, protocol: str, device_id: str, peer: str) -> None:
        """Count a rejected device and raise ``on_unknown_device`` (rate-limited)."""
        self.stats.rejected += 1
        key = (protocol, device_id)
        now = time.monotonic()
        last = self._unknown_seen.get(key)
        if last is not None and now - last < self.unknown_interval:
            return
        # all devices together: IDs cost nothing to invent (UDP sources even less)
        self._unknown_tokens = min(
            _UNKNOWN_BURST, self._unknown_tokens + (now - self._unknown_refilled) * _UNKNOWN_RATE
        )
        self._unknown_refilled = now
        if self._unknown_tokens < 1:
            self.stats.unknown_suppressed += 1
            return
        self._unknown_tokens -= 1
        self._unknown_seen[key] = now
        self._unknown_seen.move_to_end(key)
        while len(self._unknown_seen) > _UNKNOWN_MEMORY:
            self._unknown_seen.popitem(last=False)
        _LOGGER.debug("%s %s: unknown device %r, not acknowledged", protocol, peer, device_id)
        try:
            self._on_unknown(protocol, device_id)
        except Exception:
            _LOGGER.exception("on_unknown_device callback failed")

    def _error(self, conn: _Conn, err: ProtocolError) -> str | None:
        """Count and log a decoder error; return a reason to close the connection, if any."""
        if isinstance(err, UnsupportedMessage):
            self.stats.unsupported += 1
            _LOGGER.debug("%s %s: %s", conn.protocol, conn.peer, err.reason)
            return None
        self.stats.errors += 1
        conn.budget -= 1
        _LOGGER.debug("%s %s: %s: %s", conn.protocol, conn.peer, type(err).__name__, err.reason)
        if isinstance(err, BufferOverflowError):
            return f"more than {err.limit} bytes of unparsed data"
        if not conn.identified:
            return "not a valid frame of this protocol"
        if conn.budget <= 0:
            return f"error budget of {self.max_errors} decoder errors spent"
        return None

    async def _handle_items(self, conn: _Conn, items: list[Item]) -> _Outcome:
        """Journal what registered devices sent; decide the replies (in stream order)."""
        outcome, accepted, kept = self._sort_items(conn, items)
        return await self._journal_items(conn, outcome, accepted, kept)

    def _sort_items(
        self, conn: _Conn, items: list[Item]
    ) -> tuple[_Outcome, list[Frame], list[tuple[str, str, str, bytes]]]:
        """Decide the replies; which frames to journal; which undecodable ones to keep."""
        outcome = _Outcome()
        accepted: list[Frame] = []
        kept: list[tuple[str, str, str, bytes]] = []  # undecodable, answered: stored first
        for item in items:
            if isinstance(item, ProtocolError):
                if (
                    isinstance(item, UnsupportedMessage)
                    and item.reply is not None
                    and item.device_id is not None
                    and self._registered(conn.protocol, item.device_id)
                ):
                    kept.append((conn.protocol, item.device_id, item.message_type, item.raw))
                    outcome.replies.append(item.reply)
                reason = self._error(conn, item)
                if reason is not None:
                    outcome.close = reason
                    break
                continue
            self.stats.frames += 1
            if not self._registered(conn.protocol, item.device_id):
                if item.device_id is not None:
                    conn.rejected = True
                    self._unknown(conn.protocol, item.device_id, conn.peer)
                if item.reject_reply is not None:
                    outcome.replies.append(item.reject_reply)
                continue
            self._identify(conn)  # now, not after the journal: it must not be evicted
            accepted.append(item)
            if item.reply is not None:
                outcome.replies.append(item.reply)
        if accepted:
            outcome.accepted = True
        return outcome, accepted, kept

    async def _journal_items(
        self,
        conn: _Conn,
        outcome: _Outcome,
        accepted: list[Frame],
        kept: list[tuple[str, str, str, bytes]],
    ) -> _Outcome:
        """Store what :meth:`_sort_items` chose, then run the callbacks; the outcome."""
        if kept:
            try:
                stored = await self.journal.store_frames(kept)
            except JournalError as err:
                self.stats.journal_errors += 1
                _LOGGER.warning(
                    "%s %s: not answering %d undecodable frame(s): %s",
                    conn.protocol,
                    conn.peer,
                    len(kept),
                    err,
                )
                return _Outcome(close="journal failure")
            self.stats.frames_kept += sum(stored)
        if not accepted:
            return outcome
        positions = [p for frame in accepted for p in frame.positions]
        fresh: list[bool] = []
        if positions:
            try:
                fresh = await self.journal.append(positions)
            except JournalError as err:
                return self._journal_failed(conn, len(positions), err)
        self._accepted(conn, accepted, fresh)
        return outcome

    def _journal_failed(self, conn: _Conn, count: int, err: JournalError) -> _Outcome:
        self.stats.journal_errors += 1
        _LOGGER.warning(
            "%s %s: not acknowledging %d position(s): %s", conn.protocol, conn.peer, count, err
        )
        return _Outcome(close="journal failure")

    def _accepted(self, conn: _Conn, accepted: list[Frame], fresh: list[bool]) -> None:
        """The frames are journaled: run their callbacks and count their ACKs."""
        self._deliver(conn, accepted, fresh)
        self.stats.acks += sum(1 for frame in accepted if frame.reply is not None)

    def _identify(self, conn: _Conn) -> None:
        """A registered device's frame arrived on the connection: it is pending no more."""
        if not conn.identified:
            conn.identified = True
            self._unpend(conn)

    def _deliver(self, conn: _Conn, frames: list[Frame], fresh: list[bool]) -> None:
        """Run the callbacks for journaled frames, in stream order."""
        now = datetime.now(UTC)
        flags = iter(fresh)
        for frame in frames:
            assert frame.device_id is not None
            if conn.budget < self.max_errors and frame.positions:
                conn.budget += 1  # a frame with data earns back an error; keep-alives do not
            key = (conn.protocol, frame.device_id)
            self._last_seen[key] = now
            # a connection closed meanwhile (replaced, journal slow) is not the device's
            if conn.stream and conn.device != key and conn.closed_by_gateway() is None:
                if conn.device is not None:
                    self._connected[conn.device] -= 1
                    if self._device_conns.get(conn.device) is conn:
                        del self._device_conns[conn.device]
                conn.device = key
                self._connected[key] = self._connected.get(key, 0) + 1
                previous = self._device_conns.get(key)
                if previous is not None:  # a tracker has one connection: the newest
                    self.stats.replaced += 1
                    self._close(previous, "the device connected again")
                self._device_conns[key] = conn
            new: list[Position] = []
            for message in frame.messages:
                if isinstance(message, Position):
                    if next(flags):
                        new.append(message)
                        self.stats.positions += 1
                    else:
                        self.stats.duplicates += 1
                elif self._on_message is not None:
                    try:
                        self._on_message(conn.protocol, message)
                    except Exception:
                        _LOGGER.exception("on_message callback failed")
            if new:
                if len(new) > 1:
                    new.sort(key=_FIX_TIME)  # devices may send newest first
                try:
                    self._on_positions(conn.protocol, new)
                except Exception:
                    _LOGGER.exception("on_positions callback failed")

    # -- UDP ------------------------------------------------------------------------------

    async def _handle_datagram(
        self, listener: _UdpListener, data: bytes, addr: tuple[str, int]
    ) -> None:
        protocol = listener.protocol
        # a datagram stands alone: it is not admitted, never "closes", has its own budget
        conn = _Conn(protocol, _peer(addr), stream=False, identified=True, budget=self.max_errors)
        if protocol == "teltonika":
            items = TeltonikaUdpDecoder(lenient=self._lenient.get(protocol, False)).decode_datagram(
                data
            )
        else:
            items = self._stream_decoder(protocol).decode_datagram(data)
        outcome = await self._handle_items(conn, items)
        if outcome.close:
            return
        for reply in outcome.replies:
            listener.send(reply, addr)

    # -- HTTP (OsmAnd) --------------------------------------------------------------------

    async def _serve_http(self, conn: _Conn, client: socket.socket) -> None:
        """Hand an admitted connection to aiohttp's HTTP protocol."""
        server = self._http
        assert server is not None
        handler: RequestHandler | None = None

        def factory() -> RequestHandler:
            nonlocal handler
            handler = server()
            self._http_conns[handler] = conn
            return handler

        if conn.closing is not None:  # evicted before it was served: its socket is closed
            return
        conn.abort = None  # while the transport is made, eviction only marks it closing
        try:
            transport, _ = await asyncio.get_running_loop().connect_accepted_socket(factory, client)
        except (OSError, RuntimeError) as err:
            _LOGGER.debug("%s %s: connection error: %s", conn.protocol, conn.peer, err)
            client.close()
            if handler is not None:
                self._http_conns.pop(handler, None)
            self._release(conn)
            return
        conn.abort = transport.abort
        if conn.closed_by_gateway() is not None:  # evicted while the transport was made
            transport.abort()

    def _bad_http_request(self) -> None:
        self.stats.errors += 1

    def _http_connection_lost(self, handler: RequestHandler) -> None:
        conn = self._http_conns.pop(handler, None)
        if conn is not None:
            self._release(conn)

    async def _osmand(self, request: web.BaseRequest) -> web.StreamResponse:
        protocol = "osmand"
        self.stats.http_requests += 1
        conn = self._http_conns.get(request.protocol)
        if conn is None:  # pragma: no cover - every connection is admitted first
            conn = _Conn(protocol, request.remote or "?", stream=False)
        if request.path != "/":
            return self._http_refuse(conn, 404, "not found")
        if request.method not in ("GET", "POST"):
            return self._http_refuse(conn, 405, "method not allowed")
        peer = conn.peer
        try:
            async with asyncio.timeout(self.http_timeout):
                body = await request.read()
        except TimeoutError:
            return self._http_refuse(conn, 408, "request body too slow")
        except web.HTTPRequestEntityTooLarge:
            return self._http_refuse(conn, 413, f"request body larger than {MAX_BODY} bytes")
        content_type = request.headers.get("Content-Type")
        is_json = (content_type or "").split(";")[0].strip().lower() == "application/json" or (
            not content_type and body.lstrip().startswith(b"{")
        )
        try:
            reports = parse_request(
                query=request.query_string, body=body, content_type=content_type
            )
        except ProtocolError as err:
            response = web.Response(status=400, text=err.reason)
            if self._error(conn, err) is not None:
                response.force_close()
            return response
        self.stats.frames += 1
        devices = list(dict.fromkeys(r.device_id for r in reports))
        unknown = [d for d in devices if not self._registered(protocol, d)]
        if unknown:
            conn.rejected = True
            for device_id in unknown:
                self._unknown(protocol, device_id, peer)
            response = web.Response(status=404 if is_json else 400, text="unknown device")
            if not conn.identified:
                response.force_close()
            return response
        self._identify(conn)
        positions = [r for r in reports if isinstance(r, Position)]
        fresh: list[bool] = []
        if positions:
            try:
                fresh = await self.journal.append(positions)
            except JournalError as err:
                self.stats.journal_errors += 1
                _LOGGER.warning("%s %s: not acknowledging: %s", protocol, peer, err)
                return web.Response(status=503, text="storage unavailable, retry later")
        frames = [
            Frame(protocol=protocol, kind="http", device_id=r.device_id, messages=(r,), raw=b"")
            for r in reports
        ]
        self._deliver(conn, frames, fresh)
        self.stats.acks += 1
        return web.Response(status=200)

    def _http_refuse(self, conn: _Conn, status: int, text: str) -> web.Response:
        """An error answer that also closes the connection."""
        self.stats.errors += 1
        _LOGGER.debug("%s %s: HTTP %d: %s", conn.protocol, conn.peer, status, text)
        response = web.Response(status=status, text=text)
        response.force_close()
        return response


_NO_OUTCOME = _Outcome()
_NO_FRAMES: list[Frame] = []


class _TcpConnection(asyncio.Protocol):
    """One TCP connection: decode what arrives, journal it, write the replies once committed.

    No task and no stream objects per read: ``data_received`` decodes at once, hands the
    positions to the journal (:meth:`.journal.TrackerJournal.submit`) and the commit's
    completion callback runs the callbacks and writes the replies, in stream order, as the
    read loop of asyncio streams did. While a batch is being journaled (or the replies
    cannot be written), what arrives waits in ``backlog``; beyond ``max_buffer`` bytes
    reading pauses. At most ``max_buffer`` bytes are decoded at a time, and the device's
    end of the stream is handled after what came before it (the transport stays open
    for the last replies). A rarer batch that holds frames to keep as received
    (``store_frames``) runs as a task. :attr:`ended` gets the reason the connection ends;
    :meth:`TrackerGateway._serve_tcp` then closes the transport and frees the slot.
    """

    def __init__(self, gateway: TrackerGateway, conn: _Conn) -> None:
        self.gateway = gateway
        self.conn = conn
        self.decoder = gateway._stream_decoder(conn.protocol)  # noqa: SLF001
        self.loop = asyncio.get_running_loop()
        self.max_buffer = gateway.max_buffer
        self.ended: asyncio.Future[str] = self.loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.idle: _IdleWatch | None = None
        self.backlog = bytearray()  # received while a batch was in process
        self.busy = False  # a batch waits for the journal
        # the batch that waits: its outcome, frames, position count and bytes read (kept
        # here, not in a closure or a tuple: fewer objects for the garbage collector)
        self.outcome = _NO_OUTCOME
        self.frames = _NO_FRAMES
        self.count = 0
        self.size = 0
        # made once, not for every batch (each would be one more object for the collector)
        self._on_committed = self._committed
        self.context = contextvars.copy_context()
        self.eof = False  # the device closed its side
        self.lost: str | None = None  # the transport is gone: why
        self.reading_paused = False
        self.writing_paused = False
        self.drain_timer: asyncio.TimerHandle | None = None
        self.detached = False  # the gateway is done with it (stopped)
        self.store_task: asyncio.Task[_Outcome] | None = None  # kept frames being stored

    # -- transport callbacks -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.idle = _IdleWatch(self.loop, self.gateway.idle_timeout, transport)
        self.idle.reading_since = self.loop.time()

    def data_received(self, data: bytes) -> None:
        if self.ended.done() or self.lost is not None:
            return
        if self.busy or self.writing_paused or self.backlog or len(data) > self.max_buffer:
            self.backlog += data
            if len(self.backlog) > self.max_buffer and not self.reading_paused:
                assert self.transport is not None
                self.reading_paused = True
                self.transport.pause_reading()
            if not (self.busy or self.writing_paused):
                self._run(None)
            return
        self._run(data)

    def eof_received(self) -> bool:
        self.eof = True
        if not (self.busy or self.writing_paused or self.backlog):
            self._end(_EOF)
        return True  # keep the transport open: the replies to what came before still go out

    def connection_lost(self, exc: Exception | None) -> None:
        if self.drain_timer is not None:
            self.drain_timer.cancel()
            self.drain_timer = None
        gateway = self.gateway
        if self.idle is not None and self.idle.expired:
            gateway.stats.idle_timeouts += 1
            gateway.stats.dropped += 1
            reason = f"idle for {gateway.idle_timeout:g} s"
        elif exc is not None:
            reason = f"connection error: {exc}"
        else:
            reason = _EOF
        self.lost = self.conn.closing or reason
        if not self.busy:  # a batch in the journal ends it when its callbacks have run
            self._end(self.lost)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.drain_timer is not None:
            self.drain_timer.cancel()
            self.drain_timer = None
            if not self.busy:
                self._run(None)

    # -- processing ----------------------------------------------------------------------

    def _run(self, data: bytes | None) -> None:
        """Handle ``data``, then what waited behind it, until a batch waits or it ends."""
        while True:
            if data is not None and not self._handle(data):
                return
            if self.ended.done():
                return
            if self.lost is not None:
                self._end(self.lost)
                return
            if self.backlog:
                data = bytes(self.backlog[: self.max_buffer])
                del self.backlog[: self.max_buffer]
                if self.reading_paused and len(self.backlog) <= self.max_buffer:
                    assert self.transport is not None
                    self.reading_paused = False
                    self.transport.resume_reading()
                continue
            if self.eof:
                self._end(_EOF)
            elif self.idle is not None:
                self.idle.reading_since = self.loop.time()
            return

    def _handle(self, data: bytes) -> bool:
        """Decode and journal one read; True when it is done (the next one may follow)."""
        conn = self.conn
        if (closed := conn.closed_by_gateway()) is not None:
            self._end(closed)
            return False
        if self.idle is not None:
            self.idle.reading_since = None
        gateway = self.gateway
        outcome, accepted, kept = gateway._sort_items(conn, self.decoder.feed(data))  # noqa: SLF001
        size = len(data)
        if kept:  # undecodable frames kept as received first: the general code
            self.busy = True
            self.size = size
            task = self.store_task = self.loop.create_task(
                gateway._journal_items(conn, outcome, accepted, kept)  # noqa: SLF001
            )
            task.add_done_callback(self._stored)
            return False
        if accepted:
            positions = [p for frame in accepted for p in frame.positions]
            if positions:
                self.busy = True
                self.outcome = outcome
                self.frames = accepted
                self.count = len(positions)
                self.size = size
                gateway.journal.submit(positions).add_done_callback(
                    self._on_committed, context=self.context
                )
                return False
            gateway._accepted(conn, accepted, [])  # noqa: SLF001
        return self._finish(outcome, size)

    def _committed(self, future: asyncio.Future[list[bool]]) -> None:
        """The journal answered for a batch: run its callbacks, write its replies."""
        outcome, accepted, count, size = self.outcome, self.frames, self.count, self.size
        self.outcome = _NO_OUTCOME
        self.frames = _NO_FRAMES
        self.busy = False
        if self.detached:  # the gateway stopped meanwhile: nothing is reported or written
            if not future.cancelled():
                future.exception()
            return
        gateway = self.gateway
        try:
            fresh = future.result()
        except JournalError as err:
            outcome = gateway._journal_failed(self.conn, count, err)  # noqa: SLF001
        except asyncio.CancelledError:
            outcome = _Outcome(close="journal failure")
        else:
            gateway._accepted(self.conn, accepted, fresh)  # noqa: SLF001
        if self._finish(outcome, size):
            self._run(None)

    def _stored(self, task: asyncio.Task[_Outcome]) -> None:
        self.store_task = None
        size = self.size
        self.busy = False
        if self.detached:
            if not task.cancelled():
                task.exception()
            return
        if task.cancelled():
            outcome = _Outcome(close="journal failure")
        elif (err := task.exception()) is not None:
            _LOGGER.error(
                "%s %s: handling frames failed", self.conn.protocol, self.conn.peer, exc_info=err
            )
            outcome = _Outcome(close="internal error")
        else:
            outcome = task.result()
        if self._finish(outcome, size):
            self._run(None)

    def _finish(self, outcome: _Outcome, size: int) -> bool:
        """Account for a handled read, write its replies; True to go on reading."""
        conn = self.conn
        gateway = self.gateway
        if outcome.accepted:
            conn.unparsed = self.decoder.buffered
        else:
            conn.unparsed += size
        if conn.unparsed > self.max_buffer and not outcome.close:
            outcome.close = f"more than {self.max_buffer} bytes without a valid frame"
        if conn.rejected and not conn.identified and not outcome.close:
            outcome.close = "not a registered device"
        transport = self.transport
        if outcome.replies and transport is not None and self.lost is None:
            replies = outcome.replies
            transport.write(replies[0] if len(replies) == 1 else b"".join(replies))
        if (closed := conn.closed_by_gateway()) is not None:
            self._end(closed)
            return False
        if outcome.close:
            gateway.stats.dropped += 1
            self._end(outcome.close)
            return False
        if self.lost is not None:
            self._end(self.lost)
            return False
        if self.writing_paused:  # the device does not read: wait as long as for its data
            self.drain_timer = self.loop.call_later(gateway.idle_timeout, self._write_expired)
            return False
        return True

    def _write_expired(self) -> None:
        self.drain_timer = None
        self.gateway.stats.dropped += 1
        self._end("the device does not read its replies")

    def _end(self, reason: str) -> None:
        """The connection is over (the gateway's task closes the transport)."""
        if not self.ended.done():
            self.ended.set_result(reason)
        if self.idle is not None:
            self.idle.cancel()

    def detach(self) -> None:
        """The gateway is done with the connection: stop its timers and callbacks."""
        self.detached = True
        if self.store_task is not None:  # nothing is delivered once the gateway stopped
            self.store_task.cancel()
        if self.idle is not None:
            self.idle.cancel()
        if self.drain_timer is not None:
            self.drain_timer.cancel()
            self.drain_timer = None


class _UdpListener(asyncio.DatagramProtocol):
    """One protocol's UDP socket: a task per datagram, in order per sender."""

    def __init__(self, gateway: TrackerGateway, protocol: str) -> None:
        self.gateway = gateway
        self.protocol = protocol
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self._last: dict[tuple[str, int], asyncio.Task[None]] = {}
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)  # the socket is closed now

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        stats = self.gateway.stats
        stats.datagrams += 1
        if len(self.tasks) >= self.gateway.max_connections:
            stats.refused += 1
            return
        previous = self._last.get(addr)
        task = asyncio.get_running_loop().create_task(self._process(previous, data, addr))
        self.tasks.add(task)
        self._last[addr] = task
        task.add_done_callback(lambda t: self._done(t, addr))

    def _done(self, task: asyncio.Task[None], addr: tuple[str, int]) -> None:
        self.tasks.discard(task)
        if self._last.get(addr) is task:
            del self._last[addr]
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error(
                "%s UDP: datagram handling failed", self.protocol, exc_info=task.exception()
            )

    async def _process(
        self, previous: asyncio.Task[None] | None, data: bytes, addr: tuple[str, int]
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        await self.gateway._handle_datagram(self, data, addr)  # noqa: SLF001

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def error_received(self, exc: Exception) -> None:
        _LOGGER.debug("%s UDP: %s", self.protocol, exc)
