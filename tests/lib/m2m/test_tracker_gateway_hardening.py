"""The tracker gateway under attack: cheap floods must not shut registered trackers out.

Each test reproduces an attack found on loopback against an earlier gateway (issue 8,
items 8-10) at a small, bounded scale: slow strangers holding every slot, keep-alive bytes
refilling an error counter, half-sent HTTP requests, a process out of file descriptors.
The full-scale numbers are measured by ``bench/trackers_hostile.py``, not asserted here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from datetime import UTC, datetime
import json
import logging
from pathlib import Path
import socket
import subprocess
import sys
import textwrap
import time
from typing import Any

import aiohttp
import pytest

from custom_components.thingbridge.m2m.gateway import TrackerGateway, _source
from custom_components.thingbridge.m2m.journal import TrackerJournal
from simulator.trackers import (
    circle_route,
    gt06_login,
    gt06_reply,
    make_fixes,
    osmand_params,
    teltonika_avl,
    teltonika_login,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")

HOST = "127.0.0.1"
IMEI = "356307042441013"
OTHER_IMEI = "356307042441014"
GT06_IMEI = "864717003283581"
FIXES = make_fixes(
    circle_route((54.6872, 25.2797), 400.0, 12), start=datetime(2026, 11, 1, 8, tzinfo=UTC)
)
SAFETY = 10.0  # a bound against hangs, never a timing assertion


@contextlib.asynccontextmanager
async def gateway(tmp_path: Path, *protocols: str, **options: Any) -> AsyncIterator[TrackerGateway]:
    registered = {
        ("teltonika", IMEI),
        ("teltonika", OTHER_IMEI),
        ("gt06", GT06_IMEI),
        ("osmand", "phone-1"),
    }
    async with TrackerJournal(tmp_path / "journal.db") as journal:
        gw = TrackerGateway(
            journal,
            host=HOST,
            ports=dict.fromkeys(protocols, 0),
            udp=False,
            is_registered=lambda p, d: (p, d) in registered,
            on_positions=lambda p, ps: None,
            on_unknown_device=lambda p, d: None,
            **options,
        )
        async with gw:
            yield gw


async def connect(
    port: int, source: str = HOST
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(HOST, port, local_addr=(source, 0))


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """Whether the server has closed the connection (without waiting for it to)."""
    await asyncio.sleep(0)
    if reader.at_eof():
        return True
    try:
        async with asyncio.timeout(0.05):
            while await reader.read(4096):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


async def read_to_eof(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    async with asyncio.timeout(SAFETY):
        with contextlib.suppress(ConnectionResetError):
            while chunk := await reader.read(65536):
                chunks.append(chunk)
    return b"".join(chunks)


async def teltonika_session(port: int, source: str = HOST) -> bytes:
    """Log in as the registered Teltonika device, send two records; what came back."""
    reader, writer = await connect(port, source)
    try:
        writer.write(teltonika_login(IMEI))
        async with asyncio.timeout(SAFETY):
            answer = await reader.readexactly(1)
            writer.write(teltonika_avl(FIXES[:2]))
            return answer + await reader.readexactly(4)
    finally:
        writer.close()


# -- item 8: slow strangers, one pool ------------------------------------------------------------


async def test_slow_strangers_on_another_port_do_not_lock_a_registered_tracker_out(
    tmp_path: Path,
) -> None:
    # 60 connections to the GT06 port that send half a frame and then stall held every
    # slot of a single pool (max_connections=60): the Teltonika tracker was refused
    async with gateway(
        tmp_path, "teltonika", "gt06", max_connections=60, max_pending_per_address=16
    ) as gw:
        held = []
        for _ in range(60):
            reader, writer = await connect(gw.ports["gt06"])
            writer.write(b"\x78\x78\x0d\x01\x08")  # the start of a GT06 login
            held.append((reader, writer))
        await asyncio.sleep(0.05)
        assert await teltonika_session(gw.ports["teltonika"]) == b"\x01\x00\x00\x00\x02"
        assert gw.stats.evicted >= 60 - 16
        still_open = [r for r, _ in held if not await closed_by_server(r)]
        assert len(still_open) <= 16
        for _, writer in held:
            writer.close()


async def test_a_full_house_evicts_the_oldest_stranger_for_a_new_connection(
    tmp_path: Path,
) -> None:
    async with gateway(tmp_path, "teltonika", max_connections=3, max_pending_per_address=3) as gw:
        port = gw.ports["teltonika"]
        device_reader, device_writer = await connect(port)  # identified: never evicted
        device_writer.write(teltonika_login(OTHER_IMEI))
        assert await device_reader.readexactly(1) == b"\x01"
        strangers = [await connect(port) for _ in range(2)]
        await asyncio.sleep(0.05)
        assert await teltonika_session(port) == b"\x01\x00\x00\x00\x02"
        assert await closed_by_server(strangers[0][0])  # the oldest stranger made room
        assert not await closed_by_server(device_reader)
        assert gw.stats.refused == 0
        device_writer.close()
        for _, writer in strangers:
            writer.close()


async def test_one_address_cannot_evict_another_addresses_pending_connections(
    tmp_path: Path,
) -> None:
    async with gateway(tmp_path, "gt06", max_pending_per_address=4) as gw:
        port = gw.ports["gt06"]
        patient = [await connect(port, "127.0.0.3") for _ in range(4)]
        flood = [await connect(port, "127.0.0.2") for _ in range(20)]
        await asyncio.sleep(0.05)
        assert [await closed_by_server(r) for r, _ in patient] == [False] * 4
        flood_open = [r for r, _ in flood if not await closed_by_server(r)]
        assert len(flood_open) == 4  # the newest four of that address
        assert gw.stats.evicted == 16
        for _, writer in patient + flood:
            writer.close()


async def test_keepalive_bytes_before_a_login_do_not_keep_a_connection(tmp_path: Path) -> None:
    # a lone FF byte counted as a valid frame: a stranger sending one every few seconds was
    # never closed and never identified
    async with gateway(tmp_path, "teltonika", login_timeout=0.3) as gw:
        reader, writer = await connect(gw.ports["teltonika"])
        async with asyncio.timeout(SAFETY):
            while not reader.at_eof():
                writer.write(b"\xff")
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
                await asyncio.sleep(0.05)
        writer.close()
        assert gw.stats.login_timeouts == 1
        assert gw.stats.connections == 0


async def test_a_registered_device_is_not_held_to_the_login_deadline(tmp_path: Path) -> None:
    async with gateway(tmp_path, "gt06", login_timeout=0.2) as gw:
        reader, writer = await connect(gw.ports["gt06"])
        writer.write(gt06_login(GT06_IMEI, 1))
        assert await reader.readexactly(10) == gt06_reply(0x01, 1)
        await asyncio.sleep(0.5)
        assert not await closed_by_server(reader)
        assert gw.stats.login_timeouts == 0
        writer.close()


async def test_a_refused_teltonika_login_is_hung_up(tmp_path: Path) -> None:
    async with gateway(tmp_path, "teltonika") as gw:
        reader, writer = await connect(gw.ports["teltonika"])
        writer.write(teltonika_login("356307042441099"))  # not registered
        assert await read_to_eof(reader) == b"\x00"
        writer.close()
        assert gw.stats.connections == 0


# -- item 10: an error budget that keep-alives cannot refill --------------------------------------


@pytest.mark.parametrize("logged_in", [False, True])
async def test_garbage_between_keepalives_is_dropped(tmp_path: Path, logged_in: bool) -> None:
    # FF + 255 junk bytes, over and over: each FF reset the error count, so the connection
    # was never closed and kept the decoder busy
    async with gateway(tmp_path, "teltonika", max_errors=5) as gw:
        reader, writer = await connect(gw.ports["teltonika"])
        if logged_in:
            writer.write(teltonika_login(IMEI))
            assert await reader.readexactly(1) == b"\x01"
        junk = b"\xff" + bytes(range(1, 256))
        async with asyncio.timeout(SAFETY):
            for _ in range(200):
                if reader.at_eof():
                    break
                writer.write(junk)
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
                await asyncio.sleep(0.005)
        assert await read_to_eof(reader) == b""
        writer.close()
        assert gw.stats.errors <= 5
        assert gw.stats.dropped == 1


# -- item 9: the OsmAnd HTTP port -------------------------------------------------------------


async def test_half_sent_http_requests_are_bounded_and_normal_requests_served(
    tmp_path: Path,
) -> None:
    # 200 requests that never finish their headers were all held open (no limit, no header
    # deadline); at scale the process ran out of descriptors
    async with gateway(tmp_path, "osmand", max_pending_per_address=32) as gw:
        port = gw.ports["osmand"]
        held = []
        for _ in range(200):
            reader, writer = await connect(port)
            writer.write(b"POST /?id=phone-1 HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            held.append((reader, writer))
        await asyncio.sleep(0.1)
        still_open = [r for r, _ in held if not await closed_by_server(r)]
        assert len(still_open) <= 32
        async with aiohttp.ClientSession() as session:
            params = osmand_params("phone-1", FIXES[0])
            async with session.post(f"http://{HOST}:{port}/", params=params) as resp:
                assert resp.status == 200
        for _, writer in held:
            writer.close()


async def test_http_headers_and_body_have_a_deadline(tmp_path: Path) -> None:
    async with gateway(tmp_path, "osmand", http_timeout=0.3) as gw:
        port = gw.ports["osmand"]
        reader, writer = await connect(port)
        writer.write(b"POST /?id=phone-1 HTTP/1.1\r\nHost: x\r\n")  # headers never end
        assert await read_to_eof(reader) == b""
        writer.close()
        reader, writer = await connect(port)
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nid=phone-1")
        answer = await read_to_eof(reader)
        assert answer.startswith(b"HTTP/1.1 408")
        writer.close()


async def test_unknown_http_device_is_hung_up_and_paths_are_checked(tmp_path: Path) -> None:
    async with gateway(tmp_path, "osmand") as gw:
        url = f"http://{HOST}:{gw.ports['osmand']}"
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/?id=stranger&lat=1&lon=2") as resp:
                assert resp.status == 400
                assert resp.headers.get("Connection", "").lower() == "close"
            async with session.get(f"{url}/admin?id=phone-1") as resp:
                assert resp.status == 404
        async with asyncio.timeout(SAFETY):
            while gw.stats.connections:  # noqa: ASYNC110 - both were closed by the gateway
                await asyncio.sleep(0.01)
        assert gw.stats.rejected == 1


def start_gateway_script(script: str) -> subprocess.Popen[str]:
    """Run a gateway in its own process (its descriptor limit lowered), talking JSON lines."""
    return subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[3],
    )


ACCEPT_FLOOD = textwrap.dedent(
    """
    import asyncio, json, logging, resource, sys, tempfile
    from custom_components.thingbridge.m2m.gateway import TrackerGateway
    from custom_components.thingbridge.m2m.journal import TrackerJournal

    records = []
    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    async def main():
        logging.getLogger().addHandler(Keep())
        logging.getLogger().setLevel(logging.WARNING)
        with tempfile.TemporaryDirectory() as tmp:
            async with TrackerJournal(tmp + "/j.db") as journal:
                gw = TrackerGateway(
                    journal, host="127.0.0.1", ports={"gt06": 0, "osmand": 0}, udp=False,
                    is_registered=lambda p, d: False, on_positions=lambda p, ps: None,
                    on_unknown_device=lambda p, d: None, max_pending=10_000,
                    max_pending_per_address=10_000, max_connections=10_000,
                )
                async with gw:
                    print(json.dumps(gw.ports), flush=True)
                    import os
                    used = len(os.listdir("/proc/self/fd"))
                    resource.setrlimit(resource.RLIMIT_NOFILE, (used + 40, 20000))
                    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
                    await asyncio.sleep(2.5)
                    errors = gw.stats.accept_errors
        print(json.dumps({"records": len(records), "accept_errors": errors}), flush=True)

    asyncio.run(main())
    """
)


def test_running_out_of_descriptors_does_not_flood_the_log(tmp_path: Path) -> None:
    # asyncio's own accept loop logged "socket.accept() out of system resource" once per
    # pending connection per second (305,846 lines in 30 s); the gateway backs off quietly
    proc = start_gateway_script(ACCEPT_FLOOD)
    assert proc.stdin is not None
    assert proc.stdout is not None
    socks = []
    try:
        ports = json.loads(proc.stdout.readline())
        for port in ports.values():
            for _ in range(150):
                s = socket.create_connection((HOST, port), timeout=SAFETY)
                s.sendall(b"x")
                socks.append(s)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        report = json.loads(proc.stdout.readline())
        assert proc.wait(timeout=30) == 0
    finally:
        for s in socks:
            s.close()
        proc.kill()
    assert report["accept_errors"] >= 1  # it did run out
    assert report["records"] <= 2  # one warning a minute (per gateway), not one per attempt


# -- found by a second review of the admission code ---------------------------------------------


async def test_strangers_spread_over_sources_do_not_evict_a_slow_login(tmp_path: Path) -> None:
    # the per-protocol cap evicted the globally oldest pending connection: strangers spread
    # over 6 addresses (each under its own cap) evicted a tracker on a slow link before it
    # could log in. Now the source holding the most pending connections pays.
    async with gateway(tmp_path, "teltonika", max_pending=8, max_pending_per_address=2) as gw:
        port = gw.ports["teltonika"]
        reader, writer = await connect(port)  # the device: its login comes late
        strangers = []
        for _ in range(10):
            strangers.extend([await connect(port, f"127.0.0.{n}") for n in range(2, 8)])
            await asyncio.sleep(0.01)
        writer.write(teltonika_login(IMEI))
        async with asyncio.timeout(SAFETY):
            assert await reader.readexactly(1) == b"\x01"
        assert gw.stats.evicted >= 60 - gw.max_pending
        writer.close()
        for _, w in strangers:
            w.close()


async def test_malformed_http_is_not_logged_as_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # aiohttp logged each of these as ERROR with a traceback: 1,000 requests, 1,000 records
    caplog.set_level(logging.DEBUG)
    bad = [
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ]
    async with gateway(tmp_path, "osmand") as gw:
        for request in bad * 5:
            reader, writer = await connect(gw.ports["osmand"])
            writer.write(request)
            await read_to_eof(reader)
            writer.close()
        assert gw.stats.errors >= len(bad) * 5
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_flood_of_invented_ids_is_rate_limited(tmp_path: Path) -> None:
    # the per-device memory held 4,096 IDs: cycling 5,000 new ones (UDP, spoofable) raised
    # the callback for every one of them, round after round
    calls: list[tuple[str, str]] = []
    async with TrackerJournal(tmp_path / "journal.db") as journal:
        gw = TrackerGateway(
            journal,
            host=HOST,
            ports={"h02": 0},
            is_registered=lambda p, d: False,
            on_positions=lambda p, ps: None,
            on_unknown_device=lambda p, d: calls.append((p, d)),
        )
        async with gw:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            started = time.monotonic()
            for n in range(1500):
                sock.sendto(f"*HQ,{4_000_000_000 + n},HTBT#".encode(), (HOST, gw.udp_ports["h02"]))
                if n % 50 == 49:  # not faster than the gateway reads them (a busy machine
                    # drops loopback datagrams once the socket buffer is full)
                    for _ in range(400):
                        if gw.stats.datagrams > n:
                            break
                        await asyncio.sleep(0.005)
            sock.close()
            seen = -1
            async with asyncio.timeout(SAFETY):  # until every datagram that came was handled
                while seen != gw.stats.datagrams or gw.stats.rejected < gw.stats.datagrams:
                    seen = gw.stats.datagrams
                    await asyncio.sleep(0.1)
            elapsed = time.monotonic() - started
    assert gw.stats.rejected >= 1000  # loopback UDP may drop a few, not most
    assert len(calls) <= 500 + 10 * elapsed + 1  # the burst, then 10 a second
    assert gw.stats.unknown_suppressed == gw.stats.rejected - len(calls)


async def test_http_requests_are_not_device_connections(tmp_path: Path) -> None:
    # each OsmAnd connection was counted as the device's connection and never uncounted
    async with gateway(tmp_path, "osmand") as gw:
        url = f"http://{HOST}:{gw.ports['osmand']}/"
        for fix in FIXES[:4]:
            async with (
                aiohttp.ClientSession() as session,
                session.post(url, params=osmand_params("phone-1", fix)) as resp,
            ):
                assert resp.status == 200
        assert gw.connected_devices() == set()
        assert gw.stats.replaced == 0
        assert gw.stats.acks == 4


@pytest.mark.parametrize("protocol", ["gt06", "osmand"])
async def test_evicting_a_connection_being_set_up_leaves_no_loop_errors(
    tmp_path: Path, protocol: str
) -> None:
    # an eviction closed the socket under a transport being built: "Bad file descriptor"
    # from the event loop for nearly every evicted connection
    loop = asyncio.get_running_loop()
    errors: list[str] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(str(context.get("message"))))
    try:
        async with gateway(tmp_path, protocol, max_pending=4, max_pending_per_address=1) as gw:
            socks = []
            for _ in range(3):
                for _ in range(100):
                    s = socket.socket()
                    s.setblocking(False)
                    with contextlib.suppress(BlockingIOError):
                        s.connect((HOST, gw.ports[protocol]))
                    socks.append(s)
                await asyncio.sleep(0.2)
            async with asyncio.timeout(SAFETY):
                while gw.stats.connections_total < 300:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            assert gw.stats.connections <= 1
            for s in socks:
                s.close()
    finally:
        loop.set_exception_handler(previous)
    assert errors == []


EMFILE_LOCKOUT = textwrap.dedent(
    """
    import asyncio, json, os, resource, sys, tempfile
    from custom_components.thingbridge.m2m.gateway import TrackerGateway
    from custom_components.thingbridge.m2m.journal import TrackerJournal

    async def main():
        with tempfile.TemporaryDirectory() as tmp:
            async with TrackerJournal(tmp + "/j.db") as journal:
                gw = TrackerGateway(
                    journal, host="127.0.0.1", ports={"teltonika": 0}, udp=False,
                    is_registered=lambda p, d: d == "356307042441013",
                    on_positions=lambda p, ps: None, on_unknown_device=lambda p, d: None,
                )
                async with gw:
                    used = len(os.listdir("/proc/self/fd"))
                    resource.setrlimit(resource.RLIMIT_NOFILE, (used + 20, 20000))
                    print(json.dumps(gw.ports), flush=True)
                    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
                    print(json.dumps({"evicted": gw.stats.evicted,
                                      "accept_errors": gw.stats.accept_errors}), flush=True)

    asyncio.run(main())
    """
)


def test_out_of_descriptors_a_stranger_makes_room_for_a_tracker(tmp_path: Path) -> None:
    # while accept() failed for lack of descriptors nobody was evicted: strangers holding
    # them kept a registered tracker out until their login deadline
    proc = start_gateway_script(EMFILE_LOCKOUT)
    assert proc.stdin is not None
    assert proc.stdout is not None
    strangers = []
    try:
        port = json.loads(proc.stdout.readline())["teltonika"]
        for _ in range(40):
            s = socket.create_connection((HOST, port), timeout=SAFETY)
            strangers.append(s)
        time.sleep(0.5)  # the gateway runs out of descriptors on them
        with socket.create_connection((HOST, port), timeout=SAFETY) as device:
            device.sendall(teltonika_login(IMEI))
            assert device.recv(1) == b"\x01"
        proc.stdin.write("report\n")
        proc.stdin.flush()
        report = json.loads(proc.stdout.readline())
        assert proc.wait(timeout=30) == 0
    finally:
        for s in strangers:
            s.close()
        proc.kill()
    assert report["accept_errors"] >= 1
    assert report["evicted"] >= 1


async def test_a_fleet_reconnecting_at_once_from_one_address_is_not_evicted(
    tmp_path: Path,
) -> None:
    # trackers behind one mobile carrier's NAT share its address: after a restart they all
    # reconnect at once, and a per-address cap of 32 evicted most of them before their login
    fleet = [f"35630704{n:07d}" for n in range(250)]  # within the per-address cap of 256
    async with TrackerJournal(tmp_path / "journal.db") as journal:
        gw = TrackerGateway(
            journal,
            host=HOST,
            ports={"teltonika": 0},
            udp=False,
            is_registered=lambda p, d: True,
            on_positions=lambda p, ps: None,
            on_unknown_device=lambda p, d: None,
        )
        async with gw:
            port = gw.ports["teltonika"]

            def fleet_session() -> list[bytes]:
                # every tracker connects first, then they all log in (a real socket each)
                socks = [socket.create_connection((HOST, port), timeout=SAFETY) for _ in fleet]
                time.sleep(0.5)  # the gateway has accepted them all: all pending at once
                try:
                    for sock, imei in zip(socks, fleet, strict=True):
                        sock.sendall(teltonika_login(imei))
                    return [sock.recv(1) for sock in socks]
                finally:
                    for sock in socks:
                        sock.close()

            answers = await asyncio.to_thread(fleet_session)
            assert answers == [b"\x01"] * len(fleet)
            assert gw.stats.evicted == 0


@pytest.mark.parametrize(
    ("peer", "source"),
    [
        (("203.0.113.7", 40000), "203.0.113.7"),  # an IPv4 address is one source
        (("2001:db8:1:2:aaaa::1", 40000, 0, 0), "2001:db8:1:2::/64"),  # an IPv6 /64 is one
        (("2001:db8:1:2:ffff::9", 40001, 0, 0), "2001:db8:1:2::/64"),
        (("2001:db8:1:3::1", 40000, 0, 0), "2001:db8:1:3::/64"),
        (("::ffff:198.51.100.4", 40000, 0, 0), "198.51.100.4"),  # IPv4 on a dual-stack socket
        (("fe80::1%eth0", 40000, 0, 2), "fe80::/64"),
    ],
)
def test_connections_count_per_ipv4_address_and_ipv6_64(
    peer: tuple[object, ...], source: str
) -> None:
    # one IPv6 subscriber holds a whole /64: counted per address, it could open connections
    # from as many addresses as it likes and never reach the per-source cap
    assert _source(peer) == source
