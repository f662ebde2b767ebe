"""Benchmark: the tracker gateway against a plain asyncio TCP echo server, same bytes.

1,000 concurrent Teltonika connections (loopback only) each log in (IMEI) and then send
pre-built Codec 8 AVL packets (5 records each by default, every record distinct, fixes
10 s apart ending just before the run, as a live fleet sends them), one at a
time: like a real device, a connection sends its next packet only once the previous one
was answered. Three servers get exactly the same connections, packets and bytes, in the
same run:

- **echo**: a plain asyncio streams server that writes back what it reads (the client
  waits for the whole packet to come back) — the cost of asyncio TCP alone;
- **durable echo**: the same echo server, but each packet's raw bytes are first
  group-committed to SQLite (WAL, ``synchronous=FULL``; whatever arrived while a commit was
  being written goes into the next one, on one writer thread) and only then written back —
  the floor for any server that stores before it answers;
- **gateway**: :class:`TrackerGateway` decoding each packet (CRC-16 included), journaling
  its records in SQLite (WAL, ``synchronous=FULL``, group commit, a fresh database file
  per phase) and only then writing the 4-byte ACK.

Two phases per server and round:

- **saturation** (throughput): every connection keeps one packet in flight
  (closed loop, 1,000 packets in flight). The rate is taken over the steady middle of the
  run — from the 10th to the 90th percentile of completion times — so connection ramp-up
  and the tail of the last connections do not count. Latency in this phase is queueing
  (Little's law: 1,000 in flight / packet rate) and is printed for reference only.
- **paced** (ACK latency a device sees): every connection sends a packet every 1-2 s
  (``--paced-interval``; the interval is drawn per connection, with a random phase and a
  fixed seed so both servers see the same schedule) for ``--paced-seconds``: about 700
  packets/s, far below saturation and still far above a real fleet (trackers report
  every few seconds to minutes). The latency is from writing the packet to reading the
  whole ACK (or echo). A connection sends at most ``--packets`` packets.

Each phase also reports the server process's CPU time per record (both of its threads:
the event loop and the journal's), which varies less than throughput on a shared machine.

The load generator runs in its own process (``--client``) on plain asyncio protocols
(no stream objects, so that it costs as little as possible); server and client share the
2 cores of the machine. Each phase reports the CPU time both processes used, as a
fraction of one core, to show which side was the bottleneck. Phases alternate echo /
durable echo / gateway; the tables show medians over ``--rounds`` rounds. Run on demand:

    .venv/bin/python -m bench.trackers_gateway [--connections 1000] [--packets 40]
        [--records 5] [--rounds 3] [--paced-seconds 10] [--paced-interval 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from typing import Any

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[1]
CLIENT_TIMEOUT = 300.0
MODES = ("echo", "durable", "gateway")
LABELS = {
    "echo": "plain asyncio echo",
    "durable": "asyncio echo + SQLite group commit",
    "gateway": "TrackerGateway + journal",
}


def _raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- the load (built once by the parent, read by every client process) ------------------------


def _imei(n: int) -> str:
    return f"35{n:013d}"


def _build(connections: int, packets: int, records: int) -> list[tuple[bytes, list[bytes]]]:
    """Per connection: the login and ``packets`` distinct AVL packets of ``records`` fixes."""
    # imported here: the client processes only read the plan and need none of this
    from simulator.trackers import (  # noqa: PLC0415
        circle_route,
        make_fixes,
        teltonika_avl,
        teltonika_login,
    )

    route = circle_route((54.6872, 25.2797), 500.0, packets * records)
    # a live fleet: every device's fixes are 10 s apart and end just before now
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(seconds=10 * packets * records)
    out = []
    for c in range(connections):
        fixes = make_fixes(route, start=start + timedelta(milliseconds=7 * c), interval=10)
        chunks = [fixes[i : i + records] for i in range(0, len(fixes), records)]
        out.append((teltonika_login(_imei(c)), [teltonika_avl(chunk) for chunk in chunks]))
    return out


def _write_plan(path: Path, plan: list[tuple[bytes, list[bytes]]]) -> None:
    """``[4-byte size][login + packets]`` per connection (the frames delimit themselves)."""
    with path.open("wb") as out:
        for login, packets in plan:
            blob = login + b"".join(packets)
            out.write(len(blob).to_bytes(4, "big") + blob)


def _read_plan(path: Path) -> list[tuple[bytes, list[bytes]]]:
    data = path.read_bytes()
    plan = []
    pos = 0
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        blob = data[pos + 4 : pos + 4 + size]
        pos += 4 + size
        login_end = 2 + int.from_bytes(blob[:2], "big")
        packets = []
        i = login_end
        while i < len(blob):
            end = i + 12 + int.from_bytes(blob[i + 4 : i + 8], "big")
            packets.append(blob[i:end])
            i = end
        plan.append((blob[:login_end], packets))
    return plan


# -- client (load generator, own process) -------------------------------------------------------


class _Device(asyncio.Protocol):
    """One simulated tracker: sends a packet, waits for the whole answer, records the time."""

    def __init__(self, login: bytes, packets: list[bytes], mode: str, records: int) -> None:
        self.login = login
        self.packets = packets
        self.echo = mode in {"echo", "durable"}
        self.ack = records.to_bytes(4, "big")
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.expected = b""
        self.sent_at = 0.0
        self.waiting: asyncio.Future[None] | None = None  # the login's answer
        self.next = 0
        self.limit = 0  # packets to send in this phase
        self.paced = False
        self.due = 0  # paced: packets whose send time has come
        self.done: asyncio.Future[None] | None = None
        self.latencies: list[float] = []
        self.completions: list[float] = []
        self.error: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if self.error is None and (self.next < self.limit or self.expected):
            self.error = f"connection lost: {exc}"
        for future in (self.waiting, self.done):
            if future is not None and not future.done():
                future.set_exception(ConnectionError(self.error or "connection lost"))

    def _send(self, data: bytes) -> None:
        assert self.transport is not None
        self.expected = data if self.echo else (b"\x01" if self.waiting else self.ack)
        self.sent_at = time.perf_counter()
        self.transport.write(data)

    async def log_in(self) -> None:
        self.waiting = asyncio.get_running_loop().create_future()
        self._send(self.login)
        await self.waiting

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) < len(self.expected):
            return
        now = time.perf_counter()
        if self.buffer != self.expected:
            self.error = f"unexpected answer {bytes(self.buffer[:16]).hex()}"
            assert self.transport is not None
            self.transport.abort()
            return
        self.buffer.clear()
        self.expected = b""
        if self.waiting is not None:
            self.waiting.set_result(None)
            self.waiting = None
            return
        self.latencies.append(now - self.sent_at)
        self.completions.append(now)
        if self.next >= self.limit:
            assert self.done is not None
            if not self.done.done():
                self.done.set_result(None)
        elif not self.paced or self.next < self.due:
            self._send_next()

    def _send_next(self) -> None:
        packet = self.packets[self.next]
        self.next += 1
        self._send(packet)

    def start(self, limit: int) -> asyncio.Future[None]:
        """Saturation: send ``limit`` packets back to back."""
        self.limit = limit
        self.done = asyncio.get_running_loop().create_future()
        self._send_next()
        return self.done

    def tick(self) -> None:
        """Paced: a send time came; send now unless the previous answer is outstanding."""
        self.due += 1
        if not self.expected and self.next < self.due:
            self._send_next()


async def _client(args: argparse.Namespace) -> None:
    plan = _read_plan(Path(args.plan))
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(200)

    async def connect(c: int) -> _Device:
        login, packets = plan[c]
        async with gate:
            _, device = await loop.create_connection(
                lambda: _Device(login, packets, args.mode, args.records), HOST, args.port
            )
        await device.log_in()
        return device

    devices = await asyncio.gather(*(connect(c) for c in range(len(plan))))
    await asyncio.sleep(0.2)
    print("ready", flush=True)  # the server takes its CPU reading now
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    if args.phase == "saturation":
        await asyncio.gather(*(d.start(len(d.packets)) for d in devices))
    else:
        rng = random.Random(5027)
        for device in devices:
            interval = rng.uniform(args.interval_min, args.interval_max)
            phase = rng.uniform(0.0, interval)
            count = max(
                1, min(len(device.packets), int((args.paced_seconds - phase) / interval) + 1)
            )
            device.paced = True
            device.limit = count
            device.done = loop.create_future()
            for k in range(count):
                loop.call_at(loop.time() + phase + k * interval, device.tick)
        await asyncio.gather(*(d.done for d in devices if d.done is not None))
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    errors = [d.error for d in devices if d.error]
    if errors:
        raise RuntimeError(f"{len(errors)} connection(s) failed, first: {errors[0]}")
    for device in devices:
        assert device.transport is not None
        device.transport.close()
    latencies = [x for d in devices for x in d.latencies]
    completions = sorted(x for d in devices for x in d.completions)
    n = len(completions)
    lo, hi = completions[n // 10], completions[(9 * n) // 10]
    packets_in_window = (9 * n) // 10 - n // 10
    print(
        json.dumps(
            {
                "records": n * args.records,
                "elapsed": elapsed,
                "records_per_s": packets_in_window * args.records / (hi - lo),
                "whole_run_records_per_s": n * args.records / elapsed,
                "p50": _pct(latencies, 0.5),
                "p99": _pct(latencies, 0.99),
                "max": max(latencies),
                "client_cpu": cpu / elapsed,
            }
        ),
        flush=True,
    )


# -- servers -------------------------------------------------------------------------------------


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    writer.close()


class _DurableEcho:
    """An echo server that group-commits each packet's bytes to SQLite before echoing it."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.executor = ThreadPoolExecutor(max_workers=1)
        self.conn: sqlite3.Connection | None = None
        self.queue: list[tuple[bytes, asyncio.Future[None]]] = []
        self.writer: asyncio.Task[None] | None = None
        self.commits = 0

    def _open(self) -> None:
        conn = sqlite3.connect(self.db, autocommit=True, check_same_thread=True)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE packets (seq INTEGER PRIMARY KEY, raw BLOB NOT NULL)")
        self.conn = conn

    def _commit(self, packets: list[bytes]) -> None:
        assert self.conn is not None
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.executemany("INSERT INTO packets (raw) VALUES (?)", [(p,) for p in packets])
        self.conn.execute("COMMIT")
        self.commits += 1

    def _count(self) -> int:
        assert self.conn is not None
        return int(self.conn.execute("SELECT COUNT(*) FROM packets").fetchone()[0])

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self.queue:
            batch, self.queue = self.queue, []
            await loop.run_in_executor(self.executor, self._commit, [p for p, _ in batch])
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def store(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self.queue.append((data, future))
        if self.writer is None or self.writer.done():
            self.writer = loop.create_task(self._write_loop())
        await future

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self.store(data)
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        writer.close()


async def _load(port: int, mode: str, phase: str, args: argparse.Namespace) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.trackers_gateway",
        "--client",
        f"--plan={args.plan}",
        f"--port={port}",
        f"--mode={mode}",
        f"--phase={phase}",
        f"--records={args.records}",
        f"--paced-seconds={args.paced_seconds}",
        f"--paced-interval={args.interval_min},{args.interval_max}",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(CLIENT_TIMEOUT):
            ready = await proc.stdout.readline()
            cpu0, t0 = time.process_time(), time.perf_counter()
            line = await proc.stdout.readline()
            cpu1, t1 = time.process_time(), time.perf_counter()
            await proc.wait()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0 or ready.strip() != b"ready" or not line:
        raise RuntimeError(f"{mode} {phase} load failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(line)
    result["server_cpu"] = (cpu1 - cpu0) / (t1 - t0)
    result["server_cpu_us_per_record"] = (cpu1 - cpu0) / result["records"] * 1e6
    return result


async def _echo_phase(phase: str, args: argparse.Namespace) -> dict[str, Any]:
    server = await asyncio.start_server(_echo, HOST, 0, backlog=4096)
    try:
        return await _load(server.sockets[0].getsockname()[1], "echo", phase, args)
    finally:
        server.close()
        await server.wait_closed()


async def _durable_phase(phase: str, args: argparse.Namespace, db: Path) -> dict[str, Any]:
    durable = _DurableEcho(db)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(durable.executor, durable._open)  # noqa: SLF001
    server = await asyncio.start_server(durable.handle, HOST, 0, backlog=4096)
    try:
        result = await _load(server.sockets[0].getsockname()[1], "durable", phase, args)
    finally:
        server.close()
        await server.wait_closed()
    packets = await loop.run_in_executor(durable.executor, durable._count)  # noqa: SLF001
    assert durable.conn is not None
    await loop.run_in_executor(durable.executor, durable.conn.close)
    durable.executor.shutdown()
    result["commits"] = durable.commits
    if packets * args.records < result["records"]:
        raise RuntimeError(f"durable echo stored {packets} packets for {result['records']} records")
    return result


async def _gateway_phase(phase: str, args: argparse.Namespace, db: Path) -> dict[str, Any]:
    from custom_components.thingbridge.m2m.gateway import TrackerGateway  # noqa: PLC0415
    from custom_components.thingbridge.m2m.journal import TrackerJournal  # noqa: PLC0415

    async with TrackerJournal(db) as journal:
        gateway = TrackerGateway(
            journal,
            host=HOST,
            ports={"teltonika": 0},
            udp=False,
            is_registered=lambda p, d: True,
            on_positions=lambda p, ps: None,
            on_unknown_device=lambda p, d: None,
            max_connections=args.connections + 10,
        )
        async with gateway:
            result = await _load(gateway.ports["teltonika"], "gateway", phase, args)
        stored = await journal.count()
        result["commits"] = journal.commits
        if stored != result["records"]:
            raise RuntimeError(f"journal holds {stored} of {result['records']} records")
    return result


def _line(n: int, phase: str, mode: str, r: dict[str, Any]) -> str:
    extra = f"  commits {r['commits']}" if "commits" in r else ""
    return (
        f"round {n + 1} {phase:10s} {mode:7s} {r['records_per_s']:9.0f} records/s "
        f"(whole run {r['whole_run_records_per_s']:7.0f})  p50 {r['p50'] * 1e3:7.2f} ms  "
        f"p99 {r['p99'] * 1e3:7.2f} ms  max {r['max'] * 1e3:7.2f} ms  "
        f"CPU server {r['server_cpu']:.2f} client {r['client_cpu']:.2f} "
        f"({r['server_cpu_us_per_record']:.1f} µs/record){extra}"
    )


async def run(args: argparse.Namespace) -> None:
    """Alternate echo and gateway phases; print each phase and the medians."""
    limit = _raise_fd_limit()
    print(
        f"{args.connections} connections x {args.packets} packets x {args.records} records "
        f"(saturation), every {args.interval_min:g}-{args.interval_max:g} s for "
        f"{args.paced_seconds:g} s (paced); {args.rounds} rounds, "
        f"fd limit {limit}",
        flush=True,
    )
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="thingbridge-bench-") as tmp:
        print(f"journal files in {tmp} (must be a real disk, not tmpfs)", flush=True)
        plan_path = Path(tmp) / "plan.bin"
        _write_plan(plan_path, _build(args.connections, args.packets, args.records))
        args.plan = str(plan_path)
        for n in range(args.rounds):
            for phase in ("saturation", "paced"):
                for mode in MODES:
                    if mode == "echo":
                        r = await _echo_phase(phase, args)
                    elif mode == "durable":
                        r = await _durable_phase(phase, args, Path(tmp) / f"echo-{phase}{n}.db")
                    else:
                        r = await _gateway_phase(phase, args, Path(tmp) / f"{phase}{n}.db")
                    results.setdefault((phase, mode), []).append(r)
                    print(_line(n, phase, mode, r), flush=True)

    def med(phase: str, mode: str, key: str) -> float:
        return float(statistics.median(r[key] for r in results[phase, mode]))

    print(f"\nmedians over {args.rounds} rounds")
    print("\n| server | records/s at saturation | CPU server / client | server CPU per record |")
    print("|---|---|---|---|")
    for mode in MODES:
        print(
            f"| {LABELS[mode]} | {med('saturation', mode, 'records_per_s'):,.0f} | "
            f"{med('saturation', mode, 'server_cpu'):.2f} / "
            f"{med('saturation', mode, 'client_cpu'):.2f} | "
            f"{med('saturation', mode, 'server_cpu_us_per_record'):.1f} µs |"
        )
    gateway_rate = med("saturation", "gateway", "records_per_s")
    for mode in ("echo", "durable"):
        ratio = gateway_rate / med("saturation", mode, "records_per_s")
        print(f"\nthroughput ratio (gateway / {LABELS[mode]}): {ratio:.2f}", end="")
    print()
    rate = statistics.median(
        r["records"] / r["elapsed"] / args.records for r in results["paced", "gateway"]
    )
    print(f"\npaced: {args.connections} connections, {rate:,.0f} packets/s offered")
    print("\n| server | ACK p50 | ACK p99 | max | CPU server / client |")
    print("|---|---|---|---|---|")
    for mode in MODES:
        print(
            f"| {LABELS[mode]} | {med('paced', mode, 'p50') * 1e3:.2f} ms | "
            f"{med('paced', mode, 'p99') * 1e3:.2f} ms | {med('paced', mode, 'max') * 1e3:.2f} ms | "
            f"{med('paced', mode, 'server_cpu'):.2f} / {med('paced', mode, 'client_cpu'):.2f} |"
        )
    print("\n(saturation latency, queueing with every connection's packet in flight)")
    for mode in MODES:
        print(
            f"{LABELS[mode]}: p50 {med('saturation', mode, 'p50') * 1e3:.1f} ms, "
            f"p99 {med('saturation', mode, 'p99') * 1e3:.1f} ms"
        )


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--packets", type=int, default=40, help="packets per connection")
    parser.add_argument("--records", type=int, default=5, help="records per packet")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--paced-seconds", type=float, default=10.0)
    parser.add_argument(
        "--paced-interval",
        default="1,2",
        help="paced: seconds between a connection's packets, MIN,MAX (default 1,2)",
    )
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--plan", default="", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="echo", help=argparse.SUPPRESS)
    parser.add_argument("--phase", default="saturation", help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        args.interval_min, args.interval_max = (float(x) for x in args.paced_interval.split(","))
    except ValueError:
        parser.error("--paced-interval is MIN,MAX in seconds, e.g. 1,2")
    if not 0 < args.interval_min <= args.interval_max:
        parser.error("--paced-interval needs 0 < MIN <= MAX")
    if not 1 <= args.records <= 255 or args.connections < 1 or args.packets < 1:
        parser.error("need at least 1 connection and packet, and 1-255 records per packet")
    if args.client:
        _raise_fd_limit()
        asyncio.run(asyncio.wait_for(_client(args), CLIENT_TIMEOUT))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
