"""Benchmark: a registered tracker's ACK latency while strangers flood every gateway port.

Three processes on loopback only:

- **gateway**: :class:`TrackerGateway` (the library alone, without Home Assistant) with its
  default limits on every protocol (Teltonika,
  GT06, TK103, Coban, H02 over TCP; OsmAnd over HTTP), a real SQLite journal, and the file
  descriptor limit Home Assistant runs with (a soft limit of 2,048). It reports its
  resident memory (``VmRSS``, and the peak ``VmHWM``) and its counters.
- **attacker**: ``--slow`` connections (1,000) to every TCP tracker port, each sending the
  first 9 bytes of a frame and then one byte every 3 s, plus ``--half-open`` (3,000) HTTP
  requests to the OsmAnd port that never finish their headers. A connection the gateway
  closes is opened again after ``--reconnect-delay`` seconds, so the attack holds its size
  for the whole phase instead of fading.
- **probe** (this process): the registered Teltonika tracker. It logs in and sends a
  one-record Codec 8 packet every ``--interval`` seconds, measuring from writing the
  packet to reading the whole 4-byte ACK, and opens a new connection every ``--per-login``
  packets so that admission under attack is measured too (a new connection's login is
  the first thing that strangers could block).

Two phases in one run, the probe identical in both: **quiet** (the probe alone), then
**attack** (the probe once every attacker connection has been opened). A packet that gets
no ACK within 5 s, or a connection that is refused, counts as a failure. The table gives
the probe's p50/p99/max latency per phase, the failures, their ratio, and the gateway's
memory at the end of each phase.

    .venv/bin/python -m bench.trackers_hostile [--slow 1000] [--half-open 3000]
        [--seconds 20] [--interval 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import UTC, datetime
import json
from pathlib import Path
import resource
import statistics
import sys
import tempfile
import time
import types
from typing import Any

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[1]
PROBE_IMEI = "356307042441013"
HA_FD_LIMIT = 2048  # Home Assistant raises its soft limit to this (util/resource.py)
ACK_TIMEOUT = 5.0
# the first 9 bytes of a frame of each protocol: enough to look like a device
SLOW_HEADERS = {
    "teltonika": b"\x00\x0f35630704",
    "gt06": b"\x78\x78\x0d\x01\x03\x56\x30\x70\x42",
    "tk103": b"(08804800",
    "coban": b"##,imei:3",
    "h02": b"*HQ,42100",
}


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _memory() -> dict[str, float]:
    """This process's resident and peak resident memory, in MiB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


# -- the gateway (own process) ------------------------------------------------------------------


def _library_only() -> None:
    """Import the m2m library without the integration package's ``__init__``.

    That ``__init__`` is Home Assistant glue and imports Home Assistant (about 130 MiB);
    inside Home Assistant that memory is there anyway, so the gateway is measured alone.
    """
    sys.path.insert(0, str(REPO))
    for name in ("custom_components", "custom_components.thingbridge"):
        package = types.ModuleType(name)
        package.__path__ = [str(REPO / name.replace(".", "/"))]
        sys.modules[name] = package


async def _gateway() -> None:
    _library_only()
    from custom_components.thingbridge.m2m.gateway import TrackerGateway  # noqa: PLC0415
    from custom_components.thingbridge.m2m.journal import TrackerJournal  # noqa: PLC0415

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(HA_FD_LIMIT, hard), hard))
    loop = asyncio.get_running_loop()
    with tempfile.TemporaryDirectory() as tmp:
        async with TrackerJournal(Path(tmp) / "journal.db") as journal:
            gateway = TrackerGateway(
                journal,
                host=HOST,
                ports={**dict.fromkeys(SLOW_HEADERS, 0), "osmand": 0},
                udp=False,
                is_registered=lambda p, d: (p, d) == ("teltonika", PROBE_IMEI),
                on_positions=lambda p, ps: None,
                on_unknown_device=lambda p, d: None,
            )
            async with gateway:
                print(json.dumps({"ports": gateway.ports}), flush=True)
                while line := await loop.run_in_executor(None, sys.stdin.readline):
                    if line.strip() == "report":
                        stats = {
                            k: getattr(gateway.stats, k)
                            for k in ("connections", "evicted", "refused", "login_timeouts")
                        }
                        print(json.dumps({**_memory(), **stats}), flush=True)


# -- the attacker (own process) -----------------------------------------------------------------


class _Slow(asyncio.Protocol):
    """A connection that sent a frame's first bytes and then drips one byte every 3 s."""

    def __init__(self, closed: asyncio.Event) -> None:
        self.closed = closed
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()


async def _hold(port: int, first: bytes, drip: bytes, args: argparse.Namespace) -> None:
    """Keep one hostile connection open for as long as the attack lasts."""
    loop = asyncio.get_running_loop()
    while True:
        closed = asyncio.Event()
        try:
            transport, _ = await loop.create_connection(
                lambda closed=closed: _Slow(closed),  # type: ignore[misc]
                HOST,
                port,
            )
        except OSError:
            await asyncio.sleep(args.reconnect_delay)
            continue
        transport.write(first)
        while not closed.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(3.0):
                    await closed.wait()
            if not closed.is_set() and drip:
                transport.write(drip)
        await asyncio.sleep(args.reconnect_delay)


async def _attacker(args: argparse.Namespace) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    ports: dict[str, int] = json.loads(args.ports)
    tasks = []
    for protocol, header in SLOW_HEADERS.items():
        for _ in range(args.slow):
            tasks.append(asyncio.create_task(_hold(ports[protocol], header, b"0", args)))
            await asyncio.sleep(0)
    request = b"POST /?id=stranger HTTP/1.1\r\nHost: gateway\r\nX-Wait: "
    for _ in range(args.half_open):
        tasks.append(asyncio.create_task(_hold(ports["osmand"], request, b"", args)))
        await asyncio.sleep(0)
    await asyncio.sleep(1.0)  # the connections above are being opened
    print(json.dumps({"attacking": len(tasks)}), flush=True)
    await asyncio.sleep(args.seconds + 30)  # the parent kills this process at the end


# -- the probe (this process) ------------------------------------------------------------------


def _packets(count: int) -> list[bytes]:
    sys.path.insert(0, str(REPO))
    from simulator.trackers import circle_route, make_fixes, teltonika_avl  # noqa: PLC0415

    route = circle_route((54.6872, 25.2797), 500.0, count)
    fixes = make_fixes(route, start=datetime(2026, 11, 1, tzinfo=UTC), interval=1)
    return [teltonika_avl([fix]) for fix in fixes]


async def _probe(port: int, packets: list[bytes], args: argparse.Namespace) -> dict[str, Any]:
    login = len(PROBE_IMEI).to_bytes(2, "big") + PROBE_IMEI.encode()
    latencies: list[float] = []
    failures = 0
    end = time.monotonic() + args.seconds
    sent = 0
    while time.monotonic() < end and sent < len(packets):
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(ACK_TIMEOUT):
                reader, writer = await asyncio.open_connection(HOST, port)
                writer.write(login)
                if await reader.readexactly(1) != b"\x01":
                    raise ConnectionError("login refused")
            for _ in range(args.per_login):
                if time.monotonic() >= end or sent >= len(packets):
                    break
                started = time.perf_counter()
                writer.write(packets[sent])
                sent += 1
                async with asyncio.timeout(ACK_TIMEOUT):
                    ack = await reader.readexactly(4)
                if ack != b"\x00\x00\x00\x01":
                    raise ConnectionError(f"unexpected ACK {ack.hex()}")
                latencies.append(time.perf_counter() - started)
                await asyncio.sleep(args.interval)
        except OSError, TimeoutError, asyncio.IncompleteReadError:
            failures += 1
            await asyncio.sleep(args.interval)
        finally:
            if writer is not None:
                writer.close()
    return {"latencies": latencies, "failures": failures}


async def _report(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(b"report\n")
    await proc.stdin.drain()
    line = await proc.stdout.readline()
    result: dict[str, Any] = json.loads(line)
    return result


async def run(args: argparse.Namespace) -> None:
    """Start the gateway, measure the probe quiet and under attack, print the table."""
    script = [sys.executable, "-m", "bench.trackers_hostile"]
    gateway = await asyncio.create_subprocess_exec(
        *script, "--role", "gateway", cwd=REPO, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    attacker: asyncio.subprocess.Process | None = None
    try:
        assert gateway.stdout is not None
        ports = json.loads(await gateway.stdout.readline())["ports"]
        packets = _packets(int(2 * args.seconds / args.interval) + 10)
        rows: dict[str, dict[str, Any]] = {}
        start = await _report(gateway)
        quiet = await _probe(ports["teltonika"], packets[: len(packets) // 2], args)
        rows["quiet"] = {**quiet, **(await _report(gateway))}
        attacker = await asyncio.create_subprocess_exec(
            *script, "--role", "attacker", "--ports", json.dumps(ports),
            "--slow", str(args.slow), "--half-open", str(args.half_open),
            "--seconds", str(args.seconds), "--reconnect-delay", str(args.reconnect_delay),
            cwd=REPO, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert attacker.stdout is not None
        opened = json.loads(await attacker.stdout.readline())["attacking"]
        under = await _probe(ports["teltonika"], packets[len(packets) // 2 :], args)
        rows["attack"] = {**under, **(await _report(gateway))}
    finally:
        for proc in (attacker, gateway):
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()
    print(
        f"\nattack: {args.slow} slow connections on each of 5 TCP ports + {args.half_open} "
        f"half-open OsmAnd requests ({opened} attacker connections kept open, reopened "
        f"{args.reconnect_delay:g} s after the gateway closes one); probe: a packet every "
        f"{args.interval:g} s, a new login every {args.per_login} packets, {args.seconds:g} s "
        "per phase\n"
    )
    print(
        "| phase | ACKs | failures | p50 ms | p99 ms | max ms | gateway RSS MiB | peak RSS MiB "
        "| peak growth MiB | evicted | login timeouts | refused |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for phase, r in rows.items():
        lat = [x * 1000 for x in r["latencies"]]
        print(
            f"| {phase} | {len(lat)} | {r['failures']} | {statistics.median(lat):.2f} "
            f"| {_pct(lat, 0.99):.2f} | {max(lat):.2f} | {r['VmRSS']:.1f} | {r['VmHWM']:.1f} "
            f"| {r['VmHWM'] - start['VmRSS']:.1f} | {r['evicted']} | {r['login_timeouts']} | {r['refused']} |"
        )
    print(
        f"\ngateway process RSS when started, before any connection: {start['VmRSS']:.1f} MiB"
        " (Python, aiohttp, SQLite and the m2m library; Home Assistant not imported)"
    )
    q = [x * 1000 for x in rows["quiet"]["latencies"]]
    a = [x * 1000 for x in rows["attack"]["latencies"]]
    print(
        f"\nattack/quiet: p50 x{statistics.median(a) / statistics.median(q):.2f}, "
        f"p99 x{_pct(a, 0.99) / _pct(q, 0.99):.2f}"
    )


def main() -> None:
    """Parse the arguments and run the benchmark (or one of its processes)."""
    parser = argparse.ArgumentParser(prog="python -m bench.trackers_hostile")
    parser.add_argument("--role", choices=("run", "gateway", "attacker"), default="run")
    parser.add_argument("--ports", default="{}")
    parser.add_argument("--slow", type=int, default=1000, help="slow connections per TCP port")
    parser.add_argument("--half-open", type=int, default=3000, help="half-open HTTP requests")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    parser.add_argument("--interval", type=float, default=0.05, help="probe packet interval")
    parser.add_argument("--per-login", type=int, default=20, help="probe packets per connection")
    parser.add_argument("--reconnect-delay", type=float, default=0.5)
    args = parser.parse_args()
    if args.role == "gateway":
        asyncio.run(_gateway())
    elif args.role == "attacker":
        asyncio.run(_attacker(args))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
