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
  written **only after** the append returned (committed). If journaling fails there is no
  reply and the connection is closed (OsmAnd: HTTP 503), so the device resends; resends
  of stored records are recognised by the journal and not reported again.
- Frames read together (one ``read()``) are journaled in one append, then their
  callbacks run and their replies are written in stream order.

Hardening: decoder errors are logged at debug level with the peer and reason (never the
payload) and counted. A TCP connection is dropped:

- when more than ``max_buffer`` bytes arrive without a valid frame (or the decoder's own
  buffer bound overflows);
- at its first decoder error while it has not sent one valid frame (port scanners, a
  device pointed at the wrong port); later errors are skipped, as the decoders resync;
- after ``max_errors`` consecutive decoder errors;
- after ``idle_timeout`` seconds without data, or when a reply cannot be written within
  ``idle_timeout``.

Beyond ``max_connections`` concurrent TCP connections new ones are closed at once. UDP
datagrams are decoded one by one (in order per sender) and answered to the sender's
address; at most ``max_connections`` are processed at a time.

All callbacks run on the event loop and must not block; an exception in one is logged
and does not affect the device. Nothing here blocks the loop: the journal writes on its
own thread.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import logging
import time
from typing import Protocol

from aiohttp import web

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
DEFAULT_MAX_ERRORS = 10
DEFAULT_UNKNOWN_INTERVAL = 600.0
_UNKNOWN_MEMORY = 4096
_EOF = "closed by the device"
_TIMER_SLACK = 0.001  # a timer may fire this much early

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


class GatewayError(Exception):
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


@dataclass(slots=True)
class GatewayStats:
    """Counters since :meth:`TrackerGateway.start`.

    Attributes:
        connections: TCP connections open now.
        connections_total: TCP connections accepted.
        refused: Connections closed at once (over ``max_connections``) and UDP
            datagrams dropped for the same reason.
        dropped: Connections the gateway closed (overflow, errors, idle, journal failure).
        idle_timeouts: Of those, closed for being idle.
        datagrams: UDP datagrams received.
        http_requests: OsmAnd HTTP requests received.
        frames: Frames decoded.
        errors: Decoder errors (garbage, bad checksum, malformed…).
        unsupported: Well-formed messages of types the decoders do not handle.
        acks: Replies written to registered devices.
        rejected: Frames or requests from devices that are not registered.
        positions: New positions journaled.
        duplicates: Positions the journal already had (resends).
        journal_errors: Appends that failed (their data was not acknowledged).
    """

    connections: int = 0
    connections_total: int = 0
    refused: int = 0
    dropped: int = 0
    idle_timeouts: int = 0
    datagrams: int = 0
    http_requests: int = 0
    frames: int = 0
    errors: int = 0
    unsupported: int = 0
    acks: int = 0
    rejected: int = 0
    positions: int = 0
    duplicates: int = 0
    journal_errors: int = 0


@dataclass(slots=True)
class _Outcome:
    """What to do after a batch of decoded items."""

    replies: list[bytes] = field(default_factory=list)
    close: str | None = None  # the reason to close the connection


@dataclass(slots=True)
class _Conn:
    """Per-connection (or per-datagram) decoding state."""

    protocol: str
    peer: str
    stream: bool = True  # a TCP connection (tracked in connected_devices)
    good_frames: int = 0
    consecutive_errors: int = 0
    unparsed: int = 0  # bytes received since the last valid frame
    device: tuple[str, str] | None = None


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
            self._transport.abort()
            return
        start = now if since is None else since
        self._handle = self._loop.call_at(start + self._timeout, self._check)

    def cancel(self) -> None:
        self._handle.cancel()


def _peer(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


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
            called at most once per device per ``unknown_interval``.
        on_message: ``(protocol, message)``: a registered device's non-position messages
            (logins, heartbeats, status reports, alarms without a fix, command responses),
            in stream order.
        host: The address to listen on (``"0.0.0.0"``: every IPv4 interface).
        udp: Also listen on UDP for the protocols that have a UDP transport.
        lenient: Accept frames with bad checksums (Traccar never checks them); one value
            for all protocols or a mapping by protocol.
        idle_timeout: Seconds without data before a TCP connection is closed.
        max_connections: Concurrent TCP connections (and UDP datagrams in process).
        max_buffer: Bound on a connection's unparsed bytes.
        max_errors: Consecutive decoder errors after which a connection is closed.
        unknown_interval: Seconds between two ``on_unknown_device`` calls for one device.
    """

    def __init__(
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
        if not idle_timeout > 0:
            raise ValueError("idle_timeout must be positive")
        if max_connections < 1 or max_errors < 1:
            raise ValueError("max_connections and max_errors must be at least 1")
        if max_buffer < 1024:
            raise ValueError("max_buffer must be at least 1024 bytes")
        self.journal = journal
        self.host = host
        self.udp = udp
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
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
        self._servers: list[asyncio.Server] = []
        self._udp: list[_UdpListener] = []
        self._runner: web.AppRunner | None = None
        self._conn_tasks: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._unknown_seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._last_seen: dict[tuple[str, str], datetime] = {}
        self._connected: dict[tuple[str, str], int] = {}
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
                await self._start_tcp(protocol, port)
                if self.udp and "udp" in transports:
                    await self._start_udp(protocol, port)
        except BaseException:
            await self.stop()
            raise

    async def _start_tcp(self, protocol: str, port: int) -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve_tcp(protocol, reader, writer)

        try:
            server = await asyncio.start_server(
                handle,
                self.host,
                port,
                reuse_address=True,
                limit=self.max_buffer,
                # a fleet reconnecting at once (after a restart) should not overflow the queue
                backlog=min(max(self.max_connections, 100), 4096),
            )
        except OSError as err:
            raise GatewayError(protocol, "TCP", port, str(err)) from err
        self._servers.append(server)
        self._ports[protocol] = server.sockets[0].getsockname()[1]
        _LOGGER.debug("%s: listening on TCP %s:%d", protocol, self.host, self._ports[protocol])

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
            transport, listener = await loop.create_datagram_endpoint(
                lambda: _UdpListener(self, protocol), local_addr=(self.host, 0)
            )
        self._udp.append(listener)
        self._udp_ports[protocol] = transport.get_extra_info("sockname")[1]
        _LOGGER.debug("%s: listening on UDP %s:%d", protocol, self.host, self._udp_ports[protocol])

    async def _start_http(self, protocol: str, port: int) -> None:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("GET", "/", self._osmand)
        app.router.add_route("POST", "/", self._osmand)
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            keepalive_timeout=min(self.idle_timeout, 75.0),
        )
        await runner.setup()
        self._runner = runner
        site = web.TCPSite(runner, self.host, port, reuse_address=True)
        try:
            await site.start()
        except OSError as err:
            raise GatewayError(protocol, "HTTP", port, str(err)) from err
        server = site._server  # noqa: SLF001 - aiohttp exposes the bound socket only here
        assert isinstance(server, asyncio.Server)
        self._ports[protocol] = server.sockets[0].getsockname()[1]
        _LOGGER.debug("%s: listening on HTTP %s:%d", protocol, self.host, self._ports[protocol])

    async def stop(self) -> None:
        """Close every listener and connection at once (no graceful flush).

        Replies not yet written are dropped; the devices resend that data.
        """
        for server in self._servers:
            server.close()
        for listener in self._udp:
            listener.close()
        tasks = list(self._conn_tasks)
        for task, writer in list(self._conn_tasks.items()):
            writer.transport.abort()
            task.cancel()
        udp_tasks = [t for listener in self._udp for t in listener.tasks]
        for task in udp_tasks:
            task.cancel()
        if tasks or udp_tasks:
            await asyncio.wait([*tasks, *udp_tasks])
        for server in self._servers:
            await server.wait_closed()
        if self._runner is not None:
            await self._runner.cleanup()
        self._servers.clear()
        self._udp.clear()
        self._runner = None
        self._ports.clear()
        self._udp_ports.clear()
        self._connected.clear()
        self._started = False

    async def __aenter__(self) -> TrackerGateway:
        """Start the gateway."""
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop the gateway."""
        await self.stop()

    # -- TCP ------------------------------------------------------------------------------

    def _stream_decoder(self, protocol: str) -> StreamDecoder:
        return _STREAM_DECODERS[protocol](
            lenient=self._lenient.get(protocol, False), max_buffer=self.max_buffer
        )

    async def _serve_tcp(
        self, protocol: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        peer = _peer(writer.get_extra_info("peername"))
        if len(self._conn_tasks) >= self.max_connections:
            self.stats.refused += 1
            _LOGGER.debug(
                "%s %s: refused, %d connections open", protocol, peer, len(self._conn_tasks)
            )
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._conn_tasks[task] = writer
        self.stats.connections = len(self._conn_tasks)
        self.stats.connections_total += 1
        conn = _Conn(protocol, peer)
        reason = "connection error"
        try:
            reason = await self._read_loop(conn, reader, writer)
        except (ConnectionError, OSError) as err:
            reason = f"connection error: {err}"
        finally:
            _LOGGER.debug("%s %s: closing (%s)", protocol, peer, reason)
            if reason == _EOF:
                writer.close()
            else:
                writer.transport.abort()
            del self._conn_tasks[task]
            self.stats.connections = len(self._conn_tasks)
            if conn.device is not None:
                self._connected[conn.device] = self._connected.get(conn.device, 1) - 1
                if self._connected[conn.device] <= 0:
                    del self._connected[conn.device]

    async def _read_loop(
        self, conn: _Conn, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> str:
        """Decode, journal and answer until the connection ends; return why it ended."""
        decoder = self._stream_decoder(conn.protocol)
        loop = asyncio.get_running_loop()
        transport = writer.transport
        idle = _IdleWatch(loop, self.idle_timeout, transport)
        try:
            while True:
                idle.reading_since = loop.time()
                data = await reader.read(self.max_buffer)
                idle.reading_since = None
                if idle.expired:
                    self.stats.idle_timeouts += 1
                    self.stats.dropped += 1
                    return f"idle for {self.idle_timeout:g} s"
                if not data:
                    return _EOF
                frames_before = conn.good_frames
                outcome = await self._handle_items(conn, decoder.feed(data))
                if conn.good_frames > frames_before:
                    conn.unparsed = decoder.buffered
                else:
                    conn.unparsed += len(data)
                if conn.unparsed > self.max_buffer and not outcome.close:
                    outcome.close = f"more than {self.max_buffer} bytes without a valid frame"
                if outcome.replies:
                    replies = outcome.replies
                    writer.write(replies[0] if len(replies) == 1 else b"".join(replies))
                    # drain() returns at once unless the socket is full or the connection is
                    # going: only then is it worth a timer
                    if transport.get_write_buffer_size() or transport.is_closing():
                        try:
                            async with asyncio.timeout(self.idle_timeout):
                                await writer.drain()
                        except TimeoutError:
                            outcome.close = outcome.close or "the device does not read its replies"
                if outcome.close:
                    self.stats.dropped += 1
                    return outcome.close
        finally:
            idle.cancel()

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
        conn.consecutive_errors += 1
        _LOGGER.debug("%s %s: %s: %s", conn.protocol, conn.peer, type(err).__name__, err.reason)
        if isinstance(err, BufferOverflowError):
            return f"more than {err.limit} bytes of unparsed data"
        if conn.good_frames == 0:
            return "not a valid frame of this protocol"
        if conn.consecutive_errors >= self.max_errors:
            return f"{conn.consecutive_errors} consecutive decoder errors"
        return None

    async def _handle_items(self, conn: _Conn, items: list[Item]) -> _Outcome:
        """Journal what registered devices sent; decide the replies (in stream order)."""
        outcome = _Outcome()
        accepted: list[Frame] = []
        for item in items:
            if isinstance(item, ProtocolError):
                if (
                    isinstance(item, UnsupportedMessage)
                    and item.reply is not None
                    and self._registered(conn.protocol, item.device_id)
                ):
                    outcome.replies.append(item.reply)
                reason = self._error(conn, item)
                if reason is not None:
                    outcome.close = reason
                    break
                continue
            self.stats.frames += 1
            conn.good_frames += 1
            conn.consecutive_errors = 0
            if not self._registered(conn.protocol, item.device_id):
                if item.device_id is not None:
                    self._unknown(conn.protocol, item.device_id, conn.peer)
                if item.reject_reply is not None:
                    outcome.replies.append(item.reject_reply)
                continue
            accepted.append(item)
            if item.reply is not None:
                outcome.replies.append(item.reply)
        if not accepted:
            return outcome
        positions = [p for frame in accepted for p in frame.positions]
        fresh: list[bool] = []
        if positions:
            try:
                fresh = await self.journal.append(positions)
            except JournalError as err:
                self.stats.journal_errors += 1
                _LOGGER.warning(
                    "%s %s: not acknowledging %d position(s): %s",
                    conn.protocol,
                    conn.peer,
                    len(positions),
                    err,
                )
                return _Outcome(close="journal failure")
        self._deliver(conn, accepted, fresh)
        self.stats.acks += sum(1 for frame in accepted if frame.reply is not None)
        return outcome

    def _deliver(self, conn: _Conn, frames: list[Frame], fresh: list[bool]) -> None:
        """Run the callbacks for journaled frames, in stream order."""
        now = datetime.now(UTC)
        flags = iter(fresh)
        for frame in frames:
            assert frame.device_id is not None
            key = (conn.protocol, frame.device_id)
            self._last_seen[key] = now
            if conn.stream and conn.device != key:
                if conn.device is not None:
                    self._connected[conn.device] -= 1
                conn.device = key
                self._connected[key] = self._connected.get(key, 0) + 1
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
                new.sort(key=lambda p: p.fix_time)  # devices may send newest first
                try:
                    self._on_positions(conn.protocol, new)
                except Exception:
                    _LOGGER.exception("on_positions callback failed")

    # -- UDP ------------------------------------------------------------------------------

    async def _handle_datagram(
        self, listener: _UdpListener, data: bytes, addr: tuple[str, int]
    ) -> None:
        protocol = listener.protocol
        conn = _Conn(protocol, _peer(addr), stream=False, good_frames=1)  # never "closes"
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

    async def _osmand(self, request: web.Request) -> web.Response:
        protocol = "osmand"
        self.stats.http_requests += 1
        peer = request.remote or "?"
        body = await request.read()
        content_type = request.headers.get("Content-Type")
        is_json = (content_type or "").split(";")[0].strip().lower() == "application/json" or (
            not content_type and body.lstrip().startswith(b"{")
        )
        try:
            reports = parse_request(
                query=request.query_string, body=body, content_type=content_type
            )
        except ProtocolError as err:
            self.stats.errors += 1
            _LOGGER.debug("%s %s: %s: %s", protocol, peer, type(err).__name__, err.reason)
            return web.Response(status=400, text=err.reason)
        self.stats.frames += 1
        devices = list(dict.fromkeys(r.device_id for r in reports))
        unknown = [d for d in devices if not self._registered(protocol, d)]
        if unknown:
            for device_id in unknown:
                self._unknown(protocol, device_id, peer)
            return web.Response(status=404 if is_json else 400, text="unknown device")
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
        self._deliver(_Conn(protocol, peer, stream=False), frames, fresh)
        self.stats.acks += 1
        return web.Response(status=200)


class _UdpListener(asyncio.DatagramProtocol):
    """One protocol's UDP socket: a task per datagram, in order per sender."""

    def __init__(self, gateway: TrackerGateway, protocol: str) -> None:
        self.gateway = gateway
        self.protocol = protocol
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self._last: dict[tuple[str, int], asyncio.Task[None]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

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
