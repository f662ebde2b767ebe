"""Benchmark: the tracker gateway against a plain asyncio TCP echo server, same bytes.

1,000 concurrent Teltonika connections (loopback only) each log in and then send
pre-built Codec 8 packets one at a time, waiting for the answer before the next:

- **echo**: a plain asyncio streams server that writes back what it reads (the client waits
  for the whole packet to come back) — the cost of asyncio TCP alone;
- **gateway**: :class:`TrackerGateway` decoding each packet (CRC-16 included), journaling
  its records in SQLite (WAL, ``synchronous=FULL``, group commit) and only then writing
  the 4-byte ACK.

The load runs in a separate process (``--client``) so that server and client each get a
core of a 2-core machine. Phases alternate for ``--rounds`` rounds; the table shows the
medians over rounds. Run on demand:

    .venv/bin/python -m bench.trackers_gateway [--connections 1000] [--packets 10]
        [--records 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import resource
import statistics
import sys
import tempfile
import time
from typing import Any

from custom_components.thingbridge.m2m.gateway import TrackerGateway
from custom_components.thingbridge.m2m.journal import TrackerJournal
from simulator.trackers import circle_route, make_fixes, teltonika_avl, teltonika_login

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[1]


def _raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- client (load generator, own process) -------------------------------------------------------


def _imei(n: int) -> str:
    return f"35{n:013d}"


def _build(connections: int, packets: int, records: int) -> list[tuple[bytes, list[bytes]]]:
    """Per connection: the login and ``packets`` distinct AVL packets of ``records`` fixes."""
    route = circle_route((54.6872, 25.2797), 500.0, packets * records)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    out = []
    for c in range(connections):
        fixes = make_fixes(route, start=start + timedelta(days=c), interval=10)
        chunks = [fixes[i : i + records] for i in range(0, len(fixes), records)]
        out.append((teltonika_login(_imei(c)), [teltonika_avl(chunk) for chunk in chunks]))
    return out


async def _client(port: int, mode: str, connections: int, packets: int, records: int) -> None:
    plan = _build(connections, packets, records)
    opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = [None] * connections  # type: ignore[list-item]
    connect_gate = asyncio.Semaphore(200)

    async def connect(c: int) -> None:
        async with connect_gate:
            reader, writer = await asyncio.open_connection(HOST, port)
        login = plan[c][0]
        writer.write(login)
        answer = await reader.readexactly(1 if mode == "gateway" else len(login))
        assert answer in (b"\x01", login), answer
        opened[c] = (reader, writer)

    await asyncio.gather(*(connect(c) for c in range(connections)))
    latencies: list[float] = []
    go = asyncio.Event()

    async def stream(c: int) -> None:
        reader, writer = opened[c]
        await go.wait()
        for packet in plan[c][1]:
            t0 = time.perf_counter()
            writer.write(packet)
            if mode == "gateway":
                ack = await reader.readexactly(4)
                assert int.from_bytes(ack, "big") == records, ack
            else:
                await reader.readexactly(len(packet))
            latencies.append(time.perf_counter() - t0)

    tasks = [asyncio.create_task(stream(c)) for c in range(connections)]
    await asyncio.sleep(0.1)
    t0 = time.perf_counter()
    go.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    for _, writer in opened:
        writer.close()
    total = connections * packets * records
    print(
        json.dumps(
            {
                "records": total,
                "elapsed": elapsed,
                "records_per_s": total / elapsed,
                "p50": _pct(latencies, 0.5),
                "p99": _pct(latencies, 0.99),
            }
        ),
        flush=True,
    )


# -- servers -------------------------------------------------------------------------------------


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


async def _load(port: int, mode: str, args: argparse.Namespace) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.trackers_gateway",
        "--client",
        f"--port={port}",
        f"--mode={mode}",
        f"--connections={args.connections}",
        f"--packets={args.packets}",
        f"--records={args.records}",
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    async with asyncio.timeout(120):
        line = await proc.stdout.readline()
        await proc.wait()
    if proc.returncode != 0 or not line:
        raise RuntimeError(f"{mode} load failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(line)
    return result


async def _echo_round(args: argparse.Namespace) -> dict[str, Any]:
    server = await asyncio.start_server(_echo, HOST, 0, backlog=4096)
    try:
        return await _load(server.sockets[0].getsockname()[1], "echo", args)
    finally:
        server.close()
        await server.wait_closed()


async def _gateway_round(args: argparse.Namespace, directory: Path, n: int) -> dict[str, Any]:
    async with TrackerJournal(directory / f"bench{n}.db") as journal:
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
            result = await _load(gateway.ports["teltonika"], "gateway", args)
        stored = await journal.count()
        result["stored"] = stored
        result["commits"] = journal.commits
        if stored != result["records"]:
            raise RuntimeError(f"journal holds {stored} of {result['records']} records")
    return result


async def run(args: argparse.Namespace) -> None:
    """Alternate echo and gateway rounds; print each round and the medians."""
    limit = _raise_fd_limit()
    print(
        f"{args.connections} connections x {args.packets} packets x {args.records} records, "
        f"{args.rounds} rounds, fd limit {limit}"
    )
    results: dict[str, list[dict[str, Any]]] = {"echo": [], "gateway": []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.rounds):
            results["echo"].append(await _echo_round(args))
            results["gateway"].append(await _gateway_round(args, Path(tmp), n))
            for mode in ("echo", "gateway"):
                r = results[mode][-1]
                extra = f"  commits {r['commits']}" if "commits" in r else ""
                print(
                    f"round {n + 1} {mode:8s} {r['records_per_s']:9.0f} records/s  "
                    f"p50 {r['p50'] * 1e3:7.2f} ms  p99 {r['p99'] * 1e3:7.2f} ms{extra}"
                )
    print()
    print("| server | records/s | ACK p50 | ACK p99 |")
    print("|---|---|---|---|")
    medians = {}
    for mode, label in (("echo", "plain asyncio echo"), ("gateway", "TrackerGateway + journal")):
        rows = results[mode]
        medians[mode] = statistics.median(r["records_per_s"] for r in rows)
        p50 = statistics.median(r["p50"] for r in rows) * 1e3
        p99 = statistics.median(r["p99"] for r in rows) * 1e3
        print(f"| {label} | {medians[mode]:,.0f} | {p50:.2f} ms | {p99:.2f} ms |")
    print(f"\nthroughput ratio (gateway / echo): {medians['gateway'] / medians['echo']:.2f}")


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--packets", type=int, default=10, help="packets per connection")
    parser.add_argument("--records", type=int, default=5, help="records per packet")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="echo", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        _raise_fd_limit()
        asyncio.run(_client(args.port, args.mode, args.connections, args.packets, args.records))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
