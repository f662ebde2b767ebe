"""The tracker gateway end to end: simulated devices on real loopback sockets, a real journal.

Every protocol drives a route through the gateway into the SQLite journal; the simulator
checks each reply byte for byte (GT06 CRC and serial, Teltonika record counts, H02 V4…).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import logging
from pathlib import Path
import re
import socket
import sqlite3
from typing import Any

import aiohttp
import pytest

from custom_components.thingbridge.m2m.gateway import GatewayError, TrackerGateway, _NoJournal
from custom_components.thingbridge.m2m.journal import JournalError, TrackerJournal
from custom_components.thingbridge.m2m.trackers import Heartbeat, Login, Message, Position
from simulator.trackers import (
    VirtualTracker,
    circle_route,
    coban_heartbeat,
    coban_logon,
    coban_position,
    crc16_ibm,
    crc16_x25,
    gt06_frame,
    gt06_heartbeat,
    gt06_location,
    gt06_login,
    gt06_reply,
    h02_position,
    make_fixes,
    teltonika_avl,
    teltonika_login,
    tk103_handshake,
    tk103_position,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")

HOST = "127.0.0.1"
IDS = {
    "teltonika": "356307042441013",
    "gt06": "864717003283581",
    "tk103": "088048003342",
    "coban": "359586015829802",
    "h02": "4210051415",
    "osmand": "traccar-phone-7",
}
START = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
ROUTE = circle_route((54.6872, 25.2797), 400.0, 12)
# coordinate resolution of each wire format (ddmm.mmmm text: 1e-4 minute)
TOLERANCE = {"teltonika": 1e-7, "gt06": 6e-7, "osmand": 1e-6}


@dataclass
class Harness:
    """A started gateway on loopback with a mutable allow-list and recorded callbacks."""

    journal: TrackerJournal
    gateway: TrackerGateway
    registered: set[tuple[str, str]]
    positions: list[tuple[str, list[Position]]] = field(default_factory=list)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    messages: list[tuple[str, Message]] = field(default_factory=list)
    unknown_event: asyncio.Event = field(default_factory=asyncio.Event)

    def tracker(
        self, protocol: str, route: list[tuple[float, float]] = ROUTE, **kw: Any
    ) -> VirtualTracker:
        transport = kw.get("transport")
        port = (self.gateway.udp_ports if transport == "udp" else self.gateway.ports)[protocol]
        kw.setdefault("start", START)
        kw.setdefault("ack_timeout", 5.0)
        return VirtualTracker(protocol, IDS[protocol], route, HOST, port, **kw)


Factory = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make(tmp_path: Path) -> AsyncIterator[Factory]:
    started: list[Harness] = []
    journals: list[TrackerJournal] = []

    async def factory(
        protocols: tuple[str, ...] = tuple(IDS),
        registered: set[tuple[str, str]] | None = None,
        journal: TrackerJournal | None = None,
        **options: Any,
    ) -> Harness:
        if journal is None:
            journal = TrackerJournal(tmp_path / f"journal{len(journals)}.db")
            await journal.open()
            journals.append(journal)
        allowed = set(IDS.items()) if registered is None else registered
        harness: Harness

        def on_unknown(protocol: str, device_id: str) -> None:
            harness.unknown.append((protocol, device_id))
            harness.unknown_event.set()

        gateway = TrackerGateway(
            journal,
            host=HOST,
            ports=dict.fromkeys(protocols, 0),
            is_registered=lambda p, d: (p, d) in allowed,
            on_positions=lambda p, ps: harness.positions.append((p, ps)),
            on_unknown_device=on_unknown,
            on_message=lambda p, m: harness.messages.append((p, m)),
            **options,
        )
        harness = Harness(journal, gateway, allowed)
        await gateway.start()
        started.append(harness)
        return harness

    yield factory
    for harness in started:
        await harness.gateway.stop()
    for journal in journals:
        await journal.close()


async def wait_for(predicate: Callable[[], bool], what: str, limit: float = 10.0) -> None:
    """Poll until ``predicate`` holds (a safety net against hangs, not a timing assertion)."""
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110 - polling the gateway's counters
            await asyncio.sleep(0.01)
    assert predicate(), what


async def read_to_eof(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (FIN or RST)."""
    chunks = []
    async with asyncio.timeout(10):
        try:
            while chunk := await reader.read(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)


async def assert_journal_holds_route(
    journal: TrackerJournal, protocol: str, tracker: VirtualTracker
) -> None:
    records = await journal.positions(IDS[protocol], protocol=protocol, limit=10_000)
    expected = make_fixes(ROUTE, start=START)
    assert [f.index for f in tracker.acked] == [f.index for f in expected]
    assert len(records) == len(expected), "every point exactly once"
    tolerance = TOLERANCE.get(protocol, 1e-6)
    for record, fix in zip(records, expected, strict=True):
        assert record.position.fix_time == fix.time  # the device's timestamp
        assert record.position.latitude == pytest.approx(fix.latitude, abs=tolerance)
        assert record.position.longitude == pytest.approx(fix.longitude, abs=tolerance)
    assert [r.seq for r in records] == sorted(r.seq for r in records)  # arrival order = route


# -- every protocol ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "transport", "options"),
    [
        ("teltonika", "tcp", {"batch": 5}),
        ("teltonika", "udp", {"batch": 3}),
        ("gt06", "tcp", {}),
        ("tk103", "tcp", {}),
        ("coban", "tcp", {}),
        ("h02", "tcp", {}),
        ("h02", "udp", {}),
        ("osmand", "http", {"osmand_format": "query"}),
        ("osmand", "http", {"osmand_format": "json"}),
        ("osmand", "http", {"osmand_format": "form"}),
    ],
    ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}={x}" for k, x in v.items()),
)
async def test_route_is_journaled_once_in_order(
    make: Factory, protocol: str, transport: str, options: dict[str, Any]
) -> None:
    h = await make((protocol,))
    tracker = h.tracker(protocol, transport=transport, **options)
    await tracker.run(give_up_after=20)
    assert tracker.outcomes == ["done"]
    assert len(tracker.acked) == len(ROUTE)
    await assert_journal_holds_route(h.journal, protocol, tracker)
    reported = [p for _, batch in h.positions for p in batch]
    assert [p.fix_time for p in reported] == [f.time for f in tracker.acked]
    assert all(proto == protocol for proto, _ in h.positions)
    assert h.unknown == []
    assert h.gateway.stats.positions == len(ROUTE)
    assert h.gateway.stats.errors == 0
    # the same route again: all duplicates, acknowledged, not reported twice
    again = h.tracker(protocol, transport=transport, **options)
    await again.run(give_up_after=20)
    assert await h.journal.count() == len(ROUTE)
    assert h.gateway.stats.duplicates == len(ROUTE)
    assert len([p for _, batch in h.positions for p in batch]) == len(ROUTE)


async def test_teltonika_ack_bytes(make: Factory) -> None:
    h = await make(("teltonika",))
    tracker = h.tracker("teltonika", batch=5)
    await tracker.run()
    # login accepted, then each packet acknowledged with its record count (5, 5, 2)
    assert tracker.replies == [
        b"\x01",
        b"\x00\x00\x00\x05",
        b"\x00\x00\x00\x05",
        b"\x00\x00\x00\x02",
    ]


async def test_gt06_ack_bytes_and_messages(make: Factory) -> None:
    h = await make(("gt06",))
    tracker = h.tracker("gt06", route=ROUTE[:2])
    await tracker.run()
    assert tracker.replies == [
        bytes.fromhex("787805010001D9DC0D0A"),  # the reference's login reply for serial 1
        gt06_reply(0x12, 2),
        gt06_reply(0x12, 3),
        gt06_reply(0x13, 4),
    ]
    kinds = [type(m) for _, m in h.messages]
    assert kinds == [Login, Heartbeat]
    assert h.gateway.last_seen("gt06", IDS["gt06"]) is not None
    assert h.gateway.last_seen("gt06", "nobody") is None


async def test_two_records_of_one_second_and_place_are_both_delivered(make: Factory) -> None:
    """Different odometers at the same second and place are two records, not a resend;
    the exact resend of the packet is acknowledged again and not reported twice."""
    h = await make(("teltonika",))
    first = make_fixes(ROUTE, start=START)[0]
    packet = teltonika_avl([first, dataclasses.replace(first, odometer_m=first.odometer_m + 500)])
    for attempt in range(2):
        reader, writer = await asyncio.open_connection(HOST, h.gateway.ports["teltonika"])
        writer.write(teltonika_login(IDS["teltonika"]))
        assert await reader.readexactly(1) == b"\x01"
        writer.write(packet)
        assert await reader.readexactly(4) == b"\x00\x00\x00\x02", attempt
        writer.close()
    assert [[p.odometer_m for p in ps] for _, ps in h.positions] == [
        [first.odometer_m, first.odometer_m + 500]
    ]
    assert await h.journal.count() == 2
    assert h.gateway.stats.duplicates == 2


async def test_newest_first_packet_is_journaled_as_sent_and_reported_oldest_first(
    make: Factory,
) -> None:
    h = await make(("teltonika",))
    fixes = make_fixes(ROUTE, start=START)[:4]
    reader, writer = await asyncio.open_connection(HOST, h.gateway.ports["teltonika"])
    writer.write(teltonika_login(IDS["teltonika"]))
    assert await reader.readexactly(1) == b"\x01"
    writer.write(teltonika_avl(fixes[::-1]))  # a device set to send "newest first"
    assert await reader.readexactly(4) == b"\x00\x00\x00\x04"
    writer.close()
    records = await h.journal.positions(IDS["teltonika"])
    by_arrival = sorted(records, key=lambda r: r.seq)
    assert [r.position.fix_time for r in by_arrival] == [f.time for f in fixes[::-1]]
    [(_, reported)] = h.positions
    assert [p.fix_time for p in reported] == [f.time for f in fixes]


async def test_a_device_has_one_connection_the_newest(make: Factory) -> None:
    h = await make(("teltonika",))
    port = h.gateway.ports["teltonika"]
    old_reader, old_writer = await asyncio.open_connection(HOST, port)
    old_writer.write(teltonika_login(IDS["teltonika"]))
    assert await old_reader.readexactly(1) == b"\x01"
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(teltonika_login(IDS["teltonika"]))
    assert await reader.readexactly(1) == b"\x01"
    assert await read_to_eof(old_reader) == b""  # the stale one was closed
    writer.write(teltonika_avl(make_fixes(ROUTE, start=START)[:1]))
    assert await reader.readexactly(4) == b"\x00\x00\x00\x01"
    assert h.gateway.stats.replaced == 1
    assert h.gateway.connected_devices() == {("teltonika", IDS["teltonika"])}
    writer.close()
    old_writer.close()
    await wait_for(lambda: not h.gateway.connected_devices(), "disconnect noticed")


async def test_connected_devices(make: Factory) -> None:
    h = await make(("teltonika",))
    reader, writer = await asyncio.open_connection(HOST, h.gateway.ports["teltonika"])
    writer.write(teltonika_login(IDS["teltonika"]))
    assert await reader.readexactly(1) == b"\x01"
    assert h.gateway.connected_devices() == {("teltonika", IDS["teltonika"])}
    writer.close()
    await wait_for(lambda: not h.gateway.connected_devices(), "disconnect noticed")
    assert h.gateway.stats.connections == 0


# -- unknown devices ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("protocol", "transport", "rejection"),
    [
        ("teltonika", "tcp", "rejected"),  # login answered 00
        ("gt06", "tcp", "disconnected"),  # login not answered, connection closed
        ("h02", "tcp", "disconnected"),  # V1 not answered, connection closed
        ("tk103", "tcp", "disconnected"),  # handshake not answered, connection closed
        ("coban", "tcp", "disconnected"),  # logon not answered, connection closed
        ("teltonika", "udp", "no_ack"),
        ("osmand", "http", "rejected"),  # HTTP 400
    ],
)
async def test_unknown_device_is_not_acknowledged_until_registered(
    make: Factory, protocol: str, transport: str, rejection: str
) -> None:
    h = await make((protocol,), registered=set())
    tracker = h.tracker(protocol, transport=transport, ack_timeout=0.3)
    assert await tracker.send_once() == rejection
    assert await tracker.send_once() == rejection  # the device retries later
    assert tracker.acked == []
    assert h.unknown == [(protocol, IDS[protocol])]  # raised once, not per attempt
    assert h.gateway.stats.rejected >= 2
    assert await h.journal.count() == 0
    assert h.positions == []
    h.registered.add((protocol, IDS[protocol]))
    tracker.ack_timeout = 5.0
    await tracker.run()
    await assert_journal_holds_route(h.journal, protocol, tracker)


async def test_teltonika_unknown_data_gets_no_ack_on_the_wire(make: Factory) -> None:
    h = await make(("teltonika",), registered=set())
    fixes = make_fixes(ROUTE, start=START)
    reader, writer = await asyncio.open_connection(HOST, h.gateway.ports["teltonika"])
    # the device sends its data right behind the login: refused with 00, then the gateway
    # hangs up (a refused login no longer holds a connection open); nothing is stored
    writer.write(teltonika_login(IDS["teltonika"]) + teltonika_avl(fixes[:2]))
    assert await read_to_eof(reader) == b"\x00"
    writer.close()
    assert h.gateway.stats.connections == 0
    h.registered.add(("teltonika", IDS["teltonika"]))
    reader, writer = await asyncio.open_connection(HOST, h.gateway.ports["teltonika"])
    writer.write(teltonika_login(IDS["teltonika"]) + teltonika_avl(fixes[2:5]))
    assert await reader.readexactly(5) == b"\x01\x00\x00\x00\x03"
    writer.close()
    assert await h.journal.count() == 3


async def test_gt06_unknown_frames_get_silence(make: Factory) -> None:
    h = await make(("gt06",), registered=set())
    fixes = make_fixes(ROUTE, start=START)
    reader, writer = await asyncio.open_connection(HOST, h.gateway.ports["gt06"])
    writer.write(gt06_login(IDS["gt06"], 1) + gt06_location(fixes[0], 2))
    assert await read_to_eof(reader) == b""  # silence, then the gateway hangs up
    writer.close()
    assert h.gateway.stats.rejected == 2
    assert h.unknown == [("gt06", IDS["gt06"])]
    h.registered.add(("gt06", IDS["gt06"]))
    reader, writer = await asyncio.open_connection(HOST, h.gateway.ports["gt06"])
    writer.write(gt06_login(IDS["gt06"], 3))
    assert await reader.readexactly(10) == gt06_reply(0x01, 3)
    writer.close()
    assert await h.journal.count() == 0


def _unregistered_session(protocol: str) -> tuple[list[bytes], bytes, bytes, bytes]:
    """What an unregistered device sends (login/handshake, heartbeat, positions), what the
    gateway may answer it (only Teltonika's login ``00``), then a heartbeat sent once the
    device is registered and its answer: the first bytes after the allowed ones."""
    device_id = IDS[protocol]
    fixes = make_fixes(ROUTE, start=START)[:2]
    if protocol == "teltonika":
        barrier = teltonika_avl(make_fixes(ROUTE, start=START + timedelta(days=1))[:1])
        return [teltonika_login(device_id), teltonika_avl(fixes)], b"\x00", barrier, b"\0\0\0\1"
    if protocol == "gt06":
        frames = [gt06_login(device_id, 1), gt06_heartbeat(2), gt06_location(fixes[0], 3)]
        return frames, b"", gt06_heartbeat(4), gt06_reply(0x13, 4)
    if protocol == "tk103":
        frames = [
            f"({device_id}BP05354188048003342)".encode(),
            tk103_handshake(device_id),
            *(tk103_position(device_id, fix) for fix in fixes),
        ]
        return frames, b"", tk103_handshake(device_id), f"({device_id}AP01HSO)".encode()
    if protocol == "coban":
        frames = [coban_logon(device_id), coban_heartbeat(device_id)]
        frames += [coban_position(device_id, fix) for fix in fixes]
        frames.append(f"imei:{device_id},help me,2611010800,,L,,,0a2b,,0c3d,,,;".encode())
        return frames, b"", coban_heartbeat(device_id), b"ON"
    frames = [f"*HQ,{device_id},HTBT#".encode(), h02_position(device_id, fixes[0])]
    beat = f"*HQ,{device_id},V0#".encode()  # unlike the rejected ones, so answers differ
    return frames, b"", beat, beat


@pytest.mark.parametrize("protocol", ["teltonika", "gt06", "tk103", "coban", "h02"])
async def test_unregistered_device_gets_no_acknowledging_bytes_over_tcp(
    make: Factory, protocol: str
) -> None:
    """Logins, handshakes, heartbeats and positions of an unknown device are not answered
    (TK103 ``AP01HSO``/``AP05``, Coban ``LOAD``/``ON``, H02 echoes are what these devices
    take as delivery); Teltonika's login gets ``00``, its rejection. Then the gateway hangs
    up: everything the device ever reads is the allowed rejection."""
    h = await make((protocol,), registered=set())
    frames, allowed, _, _ = _unregistered_session(protocol)
    reader, writer = await asyncio.open_connection(HOST, h.gateway.ports[protocol])
    writer.write(b"".join(frames))
    assert await read_to_eof(reader) == allowed
    writer.close()
    assert h.unknown == [(protocol, IDS[protocol])]
    assert h.gateway.stats.rejected >= 1
    assert h.gateway.stats.acks == 0
    assert await h.journal.count() == 0


@pytest.mark.parametrize("protocol", ["tk103", "coban", "h02"])
async def test_unregistered_device_gets_no_acknowledging_bytes_over_udp(
    make: Factory, protocol: str
) -> None:
    h = await make((protocol,), registered=set())
    frames, _, barrier, barrier_reply = _unregistered_session(protocol)
    loop = asyncio.get_running_loop()
    received: asyncio.Queue[bytes] = asyncio.Queue()

    class Device(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            received.put_nowait(data)

    transport, _ = await loop.create_datagram_endpoint(
        Device, remote_addr=(HOST, h.gateway.udp_ports[protocol])
    )
    try:
        for frame in frames:
            transport.sendto(frame)
        await wait_for(lambda: h.gateway.stats.rejected == len(frames), "every datagram rejected")
        h.registered.add((protocol, IDS[protocol]))
        transport.sendto(barrier)
        async with asyncio.timeout(10):
            assert await received.get() == barrier_reply  # the first datagram we got
    finally:
        transport.close()
    assert received.empty()
    assert await h.journal.count() == 0


async def test_unknown_device_notification_repeats_after_the_interval(make: Factory) -> None:
    h = await make(("teltonika",), registered=set(), unknown_interval=0.0)
    tracker = h.tracker("teltonika")
    await tracker.send_once()
    await tracker.send_once()
    assert h.unknown == [("teltonika", IDS["teltonika"])] * 2


async def test_osmand_status_codes(make: Factory) -> None:
    h = await make(("osmand",), registered={("osmand", "known")})
    url = f"http://{HOST}:{h.gateway.ports['osmand']}/"
    body = {"device_id": "stranger", "location": {"timestamp": "2026-11-01T08:00:00Z",
            "coords": {"latitude": 1.0, "longitude": 2.0}}}  # fmt: skip
    async with aiohttp.ClientSession() as session:

        async def status(method: str, **kw: Any) -> tuple[int, str]:
            async with session.request(method, url, **kw) as resp:
                return resp.status, await resp.text()

        assert await status("POST", params={"id": "stranger", "lat": "1", "lon": "2"}) == (
            400,
            "unknown device",
        )
        assert (await status("POST", json=body))[0] == 404
        assert await status("GET", params={"lat": "1", "lon": "2"}) == (400, "field id is required")
        assert (
            await status("POST", data=b"{not json", headers={"Content-Type": "application/json"})
        )[0] == 400
        assert (await status("POST", params={"id": "known", "lat": "91", "lon": "2"}))[0] == 400
        assert (await status("PUT", params={"id": "known"}))[0] == 405
        assert (await status("POST", data=b"x" * 70_000))[0] == 413
        ok = {"id": "known", "lat": "1.5", "lon": "2.5", "timestamp": "1793520000"}
        assert await status("GET", params=ok) == (200, "")
        assert await status("POST", params={"id": "known", "batt": "50"}) == (200, "")
    assert await h.journal.count("known") == 1
    assert [type(m).__name__ for _, m in h.messages] == ["StatusReport"]
    assert h.unknown == [("osmand", "stranger")]
    assert h.gateway.stats.errors == 5  # three malformed requests, the PUT, the large body


# -- the journal fails: no ACK -----------------------------------------------------------------


def add_failing_trigger(path: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TRIGGER fail BEFORE INSERT ON positions "
            "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
    conn.close()


def drop_failing_trigger(path: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER fail")
    conn.close()


@pytest.mark.parametrize(
    ("protocol", "transport", "failure"),
    [
        ("teltonika", "tcp", "disconnected"),  # no ACK, connection closed
        ("gt06", "tcp", "disconnected"),
        ("h02", "udp", "no_ack"),
        ("osmand", "http", "no_ack"),  # HTTP 503
    ],
)
async def test_journal_failure_withholds_the_ack(
    make: Factory, protocol: str, transport: str, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    h = await make((protocol,))
    add_failing_trigger(h.journal.path)
    tracker = h.tracker(protocol, transport=transport, ack_timeout=0.5)
    assert await tracker.send_once() == failure
    assert tracker.acked == []
    assert h.positions == []
    assert h.gateway.stats.journal_errors == 1
    assert "not acknowledging" in caplog.text
    assert "disk on fire" in caplog.text
    drop_failing_trigger(h.journal.path)
    tracker.ack_timeout = 5.0
    await tracker.run()
    await assert_journal_holds_route(h.journal, protocol, tracker)


async def test_closed_journal_withholds_the_ack(make: Factory, tmp_path: Path) -> None:
    journal = TrackerJournal(tmp_path / "closed.db")
    await journal.open()
    await journal.close()
    h = await make(("teltonika",), journal=journal)
    tracker = h.tracker("teltonika")
    assert await tracker.send_once() == "disconnected"
    assert tracker.replies == [b"\x01"]  # the login, never a data ACK
    assert h.gateway.stats.acks == 1
    assert h.gateway.stats.dropped == 1


# -- hostile and broken peers ------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["teltonika", "gt06", "tk103", "coban", "h02"])
async def test_garbage_connection_is_dropped_others_keep_working(
    make: Factory, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="custom_components.thingbridge.m2m.gateway")
    h = await make((protocol,))
    _, good_writer = await asyncio.open_connection(HOST, h.gateway.ports[protocol])
    probe = b"GET /secret-path-of-a-scanner HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256))
    reader, writer = await asyncio.open_connection(HOST, h.gateway.ports[protocol])
    writer.write(probe)
    assert await read_to_eof(reader) == b""  # closed, nothing answered
    writer.close()
    assert h.gateway.stats.errors >= 1
    assert h.gateway.stats.dropped == 1
    mine = [r for r in caplog.records if r.name.startswith("custom_components")]
    assert mine
    assert all(r.levelno == logging.DEBUG for r in mine)
    assert "not a valid frame of this protocol" in caplog.text
    assert "127.0.0.1:" in caplog.text  # the peer is named
    assert "secret-path" not in caplog.text  # the payload is not logged as text
    good_writer.close()  # an idle connection that was there all along
    tracker = h.tracker(protocol)
    await tracker.run()
    assert await h.journal.count() == len(ROUTE)


async def test_too_much_data_without_a_frame_drops_the_connection(make: Factory) -> None:
    h = await make(("tk103",))
    reader, writer = await asyncio.open_connection(HOST, h.gateway.ports["tk103"])
    writer.write(tk103_handshake(IDS["tk103"]))
    assert await reader.readuntil(b")") == f"({IDS['tk103']}AP01HSO)".encode()
    # an identified device that then streams 40 KiB of an endless frame
    writer.write(b"(" + b"7" * 40_000)
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    assert await read_to_eof(reader) == b""
    writer.close()
    assert h.gateway.stats.dropped == 1
    assert h.gateway.stats.errors < h.gateway.max_errors  # the byte bound decided


async def test_error_budget_drops_an_identified_connection(make: Factory) -> None:
    h = await make(("teltonika",), max_errors=3)
    fixes = make_fixes(ROUTE, start=START)
    reader, writer = await asyncio.open_connection(HOST, h.gateway.ports["teltonika"])
    writer.write(teltonika_login(IDS["teltonika"]))
    assert await reader.readexactly(1) == b"\x01"
    bad = bytearray(teltonika_avl(fixes[:1]))
    bad[-1] ^= 0xFF  # CRC mismatch: reported, not acknowledged, connection kept
    writer.write(bytes(bad) * 2)  # budget 3 -> 1
    writer.write(teltonika_avl(fixes[:1]))  # a packet with data earns one back: 2
    assert await reader.readexactly(4) == b"\x00\x00\x00\x01"
    writer.write(bytes(bad) * 3)  # the second one spends the budget
    assert await read_to_eof(reader) == b""
    assert h.gateway.stats.errors == 4
    assert await h.journal.count() == 1


async def test_lenient_mode_accepts_bad_checksums(make: Factory) -> None:
    h = await make(("teltonika",), lenient={"teltonika": True})
    fixes = make_fixes(ROUTE, start=START)
    reader, writer = await asyncio.open_connection(HOST, h.gateway.ports["teltonika"])
    writer.write(teltonika_login(IDS["teltonika"]))
    assert await reader.readexactly(1) == b"\x01"
    bad = bytearray(teltonika_avl(fixes[:2]))
    bad[-1] ^= 0xFF
    writer.write(bytes(bad))
    assert await reader.readexactly(4) == b"\x00\x00\x00\x02"
    writer.close()
    stored = await h.journal.latest(IDS["teltonika"])
    assert stored is not None
    assert stored.position.checksum_ok is False


async def test_connection_cap(make: Factory) -> None:
    others = {("teltonika", "356307042441014"), ("teltonika", "356307042441015")}
    h = await make(("teltonika",), max_connections=2, registered=set(IDS.items()) | others)
    port = h.gateway.ports["teltonika"]
    held = []
    for _, imei in sorted(others):
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(teltonika_login(imei))
        assert await reader.readexactly(1) == b"\x01"  # the gateway is serving it
        held.append(writer)
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(teltonika_login(IDS["teltonika"]))
    with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
        await asyncio.wait_for(reader.readexactly(1), 10)
    writer.close()
    assert h.gateway.stats.refused == 1
    held.pop().close()
    await wait_for(lambda: h.gateway.stats.connections == 1, "a slot is free")
    tracker = h.tracker("teltonika")
    await tracker.run()
    assert await h.journal.count() == len(ROUTE)
    for w in held:
        w.close()


async def test_idle_connection_is_closed(make: Factory) -> None:
    h = await make(("gt06",), idle_timeout=0.2)
    reader, writer = await asyncio.open_connection(HOST, h.gateway.ports["gt06"])
    writer.write(gt06_login(IDS["gt06"], 1))
    assert await reader.readexactly(10) == gt06_reply(0x01, 1)
    assert await read_to_eof(reader) == b""  # then silence until the gateway hangs up
    writer.close()
    assert h.gateway.stats.idle_timeouts == 1


async def test_udp_garbage_is_counted_and_ignored(make: Factory) -> None:
    h = await make(("teltonika",))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.sendto(b"\x00\x02junk", (HOST, h.gateway.udp_ports["teltonika"]))
    sock.close()
    await wait_for(lambda: h.gateway.stats.errors == 1, "datagram decoded")
    tracker = h.tracker("teltonika", transport="udp")
    await tracker.run()
    assert h.gateway.stats.datagrams == 1 + tracker.sent


async def test_callback_failures_do_not_cost_the_device_its_ack(
    make: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    h = await make(("gt06",))

    def boom(*args: object) -> None:
        raise RuntimeError("callback bug")

    h.gateway._on_positions = boom
    h.gateway._on_message = boom
    tracker = h.tracker("gt06", route=ROUTE[:3])
    await tracker.run()
    assert len(tracker.acked) == 3
    assert "on_positions callback failed" in caplog.text
    assert "on_message callback failed" in caplog.text


async def test_is_registered_failure_counts_as_unknown(
    make: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    h = await make(("teltonika",))

    def broken(protocol: str, device_id: str) -> bool:
        raise KeyError(device_id)

    h.gateway._is_registered = broken
    tracker = h.tracker("teltonika")
    assert await tracker.send_once() == "rejected"
    assert "is_registered('teltonika', '356307042441013') failed" in caplog.text


# -- lifecycle and configuration ---------------------------------------------------------------


async def test_ports_tcp_udp_http_and_aliases(make: Factory) -> None:
    h = await make(("gps103", "teltonika", "osmand"), udp=True)
    assert set(h.gateway.ports) == {"coban", "teltonika", "osmand"}
    assert set(h.gateway.udp_ports) == {"coban", "teltonika"}
    assert all(port > 0 for port in h.gateway.ports.values())
    await h.gateway.stop()
    assert h.gateway.ports == {}
    await h.gateway.start()  # restartable
    assert set(h.gateway.ports) == {"coban", "teltonika", "osmand"}


async def test_no_udp(make: Factory) -> None:
    h = await make(("teltonika",), udp=False)
    assert h.gateway.udp_ports == {}


def bound_elsewhere(kind: socket.SocketKind) -> tuple[socket.socket, int]:
    """A socket holding a port; for UDP, one whose TCP twin is free (the gateway binds TCP
    first, and the many connections of the suite may hold a random port on TCP)."""
    while True:
        blocker = socket.socket(socket.AF_INET, kind)
        blocker.bind((HOST, 0))
        port = blocker.getsockname()[1]
        if kind == socket.SOCK_STREAM:
            blocker.listen()
            return blocker, port
        with socket.socket() as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                blocker.close()
                continue
        return blocker, port


@pytest.mark.parametrize(
    ("protocol", "kind", "transport"),
    [
        ("gt06", socket.SOCK_STREAM, "TCP"),
        ("osmand", socket.SOCK_STREAM, "HTTP"),
        ("teltonika", socket.SOCK_DGRAM, "UDP"),
    ],
)
async def test_port_in_use_is_a_gateway_error(
    tmp_path: Path, protocol: str, kind: socket.SocketKind, transport: str
) -> None:
    blocker, port = bound_elsewhere(kind)
    async with TrackerJournal(tmp_path / "j.db") as journal:
        gateway = TrackerGateway(
            journal,
            host=HOST,
            ports={"coban": 0, protocol: port},
            is_registered=lambda p, d: True,
            on_positions=lambda p, ps: None,
            on_unknown_device=lambda p, d: None,
        )
        with pytest.raises(GatewayError, match=f"{protocol} on {transport} port {port}") as info:
            await gateway.start()
        assert (info.value.protocol, info.value.port) == (protocol, port)
        assert gateway.ports == {}  # the coban listeners were closed again
        assert gateway.udp_ports == {}
    blocker.close()


@pytest.mark.parametrize(
    ("protocol", "kind", "transport"),
    [
        ("gt06", socket.SOCK_STREAM, "TCP"),
        ("osmand", socket.SOCK_STREAM, "HTTP"),
        ("teltonika", socket.SOCK_STREAM, "TCP"),
        ("teltonika", socket.SOCK_DGRAM, "UDP"),
    ],
)
async def test_check_ports_binds_what_the_gateway_would_and_closes_again(
    protocol: str, kind: socket.SocketKind, transport: str
) -> None:
    """The port check binds TCP and UDP (HTTP for OsmAnd), as :meth:`start` does."""
    blocker, port = bound_elsewhere(kind)
    with pytest.raises(GatewayError, match=f"{protocol} on {transport} port {port}") as info:
        await TrackerGateway.check_ports(HOST, {"coban": 0, protocol: port})
    assert (info.value.protocol, info.value.transport, info.value.port) == (
        protocol,
        transport,
        port,
    )
    blocker.close()
    await TrackerGateway.check_ports(HOST, {protocol: port})
    # closed again: the port is free on every transport the check bound
    for other in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, other) as probe:
            probe.bind((HOST, port))


async def test_check_ports_stores_nothing() -> None:
    """The checking gateway's journal refuses every position; it acknowledges nobody."""
    with pytest.raises(JournalError, match="only being tested"):
        await _NoJournal().append([])
    with pytest.raises(ValueError, match="unknown tracker protocol"):
        await TrackerGateway.check_ports(HOST, {"nmea": 0})


async def test_gateway_as_context_manager(tmp_path: Path) -> None:
    async with TrackerJournal(tmp_path / "j.db") as journal:
        gateway = TrackerGateway(
            journal,
            host=HOST,
            ports={"h02": 0},
            is_registered=lambda p, d: True,
            on_positions=lambda p, ps: None,
            on_unknown_device=lambda p, d: None,
        )
        async with gateway:
            with pytest.raises(RuntimeError, match="already started"):
                await gateway.start()
            tracker = VirtualTracker("h02", IDS["h02"], ROUTE, HOST, gateway.ports["h02"])
            await tracker.run()
        assert gateway.ports == {}
        assert await journal.count() == len(ROUTE)


async def test_unsupported_messages_get_their_reply_from_registered_devices(
    make: Factory,
) -> None:
    h = await make(("gt06",))
    reader, writer = await asyncio.open_connection(HOST, h.gateway.ports["gt06"])
    writer.write(gt06_login(IDS["gt06"], 1))
    assert await reader.readexactly(10) == gt06_reply(0x01, 1)
    frame = gt06_frame(0x8C, b"\x01\x02", 2)  # a type nobody decodes
    writer.write(frame)
    assert await reader.readexactly(10) == gt06_reply(0x8C, 2)  # answered, so no retry loop
    writer.write(frame)  # the device resends it: answered again, stored once
    assert await reader.readexactly(10) == gt06_reply(0x8C, 2)
    writer.close()
    assert h.gateway.stats.unsupported == 2
    assert h.gateway.stats.errors == 0
    # what was answered was stored first, as received
    [kept] = await h.journal.frames(IDS["gt06"])
    assert (kept.protocol, kept.kind, kept.raw) == ("gt06", "0x8C", frame)
    assert h.gateway.stats.frames_kept == 1


async def test_an_undecodable_frame_is_not_answered_when_it_cannot_be_stored(
    make: Factory,
) -> None:
    # its answer tells the device the data arrived: without a copy stored, it must not go out
    h = await make(("gt06",))
    reader, writer = await asyncio.open_connection(HOST, h.gateway.ports["gt06"])
    writer.write(gt06_login(IDS["gt06"], 1))
    assert await reader.readexactly(10) == gt06_reply(0x01, 1)
    with sqlite3.connect(h.journal.path) as conn:
        conn.execute(
            "CREATE TRIGGER fail BEFORE INSERT ON frames "
            "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
        )
    conn.close()
    writer.write(gt06_frame(0x8C, b"\x01\x02", 2))
    assert await read_to_eof(reader) == b""  # no answer; the connection is closed
    writer.close()
    assert h.gateway.stats.journal_errors == 1


async def test_stop_while_a_device_is_connected(make: Factory) -> None:
    h = await make(("teltonika",))
    reader, writer = await asyncio.open_connection(HOST, h.gateway.ports["teltonika"])
    writer.write(teltonika_login(IDS["teltonika"]))
    assert await reader.readexactly(1) == b"\x01"
    await h.gateway.stop()
    assert await read_to_eof(reader) == b""
    writer.close()
    assert h.gateway.stats.connections == 0


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"ports": {"nmea": 5005}}, "unknown tracker protocol 'nmea'"),
        ({"ports": {"gt06": 70000}}, "port for gt06"),
        ({"ports": {}}, "no protocol enabled"),
        ({"ports": {"gt06": 0}, "idle_timeout": 0}, "idle_timeout"),
        ({"ports": {"gt06": 0}, "max_connections": 0}, "max_connections"),
        ({"ports": {"gt06": 0}, "max_buffer": 10}, "max_buffer"),
    ],
)
def test_bad_configuration(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TrackerGateway(
            None,  # type: ignore[arg-type]
            is_registered=lambda p, d: True,
            on_positions=lambda p, ps: None,
            on_unknown_device=lambda p, d: None,
            **options,
        )


# -- the simulator's encoders are independent of the library -----------------------------------


def test_simulator_checksums_match_the_catalogue() -> None:
    assert crc16_ibm(b"123456789") == 0xBB3D
    assert crc16_x25(b"123456789") == 0x906E
    # the reference's computed GT06 replies (gps-trackers.md §2.2)
    assert gt06_reply(0x12, 1) == bytes.fromhex("787805120001B32D0D0A")
    assert gt06_reply(0x13, 0x11) == bytes.fromhex("787805130011F9700D0A")


def test_simulator_refuses_bad_devices() -> None:
    with pytest.raises(ValueError, match="15-digit IMEI"):
        VirtualTracker("teltonika", "123", ROUTE)
    with pytest.raises(ValueError, match="TCP only"):
        VirtualTracker("gt06", IDS["gt06"], ROUTE, transport="udp")
    with pytest.raises(ValueError, match="unknown protocol"):
        VirtualTracker("nmea", "1", ROUTE)


def test_fixes_carry_speed_course_and_odometer() -> None:
    fixes = make_fixes([(0.0, 0.0), (0.0, 0.01), (0.01, 0.01)], start=START, interval=100)
    assert fixes[0].course_deg == 90
    assert fixes[1].course_deg == 0
    assert fixes[0].speed_kmh == pytest.approx(1111.95 / 100 * 3.6, rel=1e-3)
    assert fixes[2].odometer_m == pytest.approx(2 * 1111.95, rel=1e-3)
    assert fixes[2].time - fixes[0].time == timedelta(seconds=200)


async def test_a_device_that_does_not_read_its_replies_is_closed(
    make: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    """Heartbeats sent and their replies never read: the gateway stops reading, buffers no
    more than its limit, and hangs up once its replies have waited the idle time; meanwhile
    another device is served."""
    caplog.set_level(logging.DEBUG, logger="custom_components.thingbridge.m2m.gateway")
    h = await make(("gt06",), idle_timeout=1.0)
    port = h.gateway.ports["gt06"]
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)  # a device that reads nothing
    sock.setblocking(False)
    await loop.sock_connect(sock, (HOST, port))
    chunk = b"".join(gt06_heartbeat(serial % 0xFFFF) for serial in range(1, 201))
    sent = 0
    reset = False
    try:
        await loop.sock_sendall(sock, gt06_login(IDS["gt06"], 1))
        async with asyncio.timeout(60):  # a safety net against a hang, not a timing assertion
            while sent < 200 * 15000:  # 3,000,000 heartbeats, 30 MB of replies: past any buffer
                await loop.sock_sendall(sock, chunk)
                sent += 200
    except (ConnectionResetError, BrokenPipeError):  # fmt: skip
        reset = True  # the gateway hung up with a reset: the device hears of it at once
    finally:
        sock.close()
    assert sent < 200 * 15000, "the gateway kept reading a device that reads nothing"
    assert reset
    # Its replies waited (or, with the device blocked on its own sends, its reads did) for the
    # idle time: either way the gateway gave up on it.
    assert re.search(
        r"closing \((the device does not read its replies|idle for 1 s)\)", caplog.text
    )
    assert h.gateway.stats.dropped >= 1
    # The gateway still serves others.
    tracker = h.tracker("gt06")
    await tracker.run()
    await assert_journal_holds_route(h.journal, "gt06", tracker)


async def test_frames_being_kept_when_the_gateway_stops_are_not_delivered(make: Factory) -> None:
    """A batch with an undecodable frame is stored by a task of its own: stop() cancels it, and
    its position is not reported after the gateway stopped."""
    h = await make(("gt06",))
    gate = asyncio.Event()
    entered = asyncio.Event()
    real = h.journal.store_frames

    async def slow(frames: Any) -> list[bool]:
        entered.set()
        await gate.wait()
        return await real(frames)

    h.journal.store_frames = slow  # type: ignore[method-assign]
    reader, writer = await asyncio.open_connection(HOST, h.gateway.ports["gt06"])
    writer.write(gt06_login(IDS["gt06"], 1))
    assert await reader.readexactly(10) == gt06_reply(0x01, 1)
    fixes = make_fixes(ROUTE, start=START)
    writer.write(gt06_frame(0x8C, b"\x01\x02", 2) + gt06_location(fixes[0], 3))
    async with asyncio.timeout(10):
        await entered.wait()
    await h.gateway.stop()
    pending = [t for t in asyncio.all_tasks() if "_journal_items" in repr(t) and not t.done()]
    gate.set()
    for _ in range(20):  # let a task that survived stop() run to its end
        await asyncio.sleep(0)
    writer.close()
    assert pending == []
    assert h.positions == []


async def test_a_device_that_closes_its_side_after_data_still_gets_its_ack(make: Factory) -> None:
    h = await make(("teltonika",))
    fixes = make_fixes(ROUTE, start=START)
    reader, writer = await asyncio.open_connection(HOST, h.gateway.ports["teltonika"])
    writer.write(teltonika_login(IDS["teltonika"]))
    assert await reader.readexactly(1) == b"\x01"
    writer.write(teltonika_avl(fixes[:3]))
    writer.write_eof()
    async with asyncio.timeout(10):
        rest = await reader.read()
    writer.close()
    assert rest == (3).to_bytes(4, "big")
    assert await h.journal.count() == 3


async def test_a_burst_beyond_the_buffer_limit_is_answered_in_full(make: Factory) -> None:
    """More bytes at once than max_buffer: reading pauses and resumes, every frame is answered."""
    h = await make(("gt06",), max_buffer=1024)
    reader, writer = await asyncio.open_connection(HOST, h.gateway.ports["gt06"])
    writer.write(gt06_login(IDS["gt06"], 1))
    assert await reader.readexactly(10) == gt06_reply(0x01, 1)
    count = 5000
    writer.write(b"".join(gt06_heartbeat(serial % 0xFFFF + 2) for serial in range(count)))
    async with asyncio.timeout(30):  # a safety net against a hang, not a timing assertion
        got = await reader.readexactly(10 * count)
    writer.close()
    assert got[:10] == gt06_reply(0x13, 2)
    assert got[-10:] == gt06_reply(0x13, (count - 1) % 0xFFFF + 2)
