"""Benchmark: WotClient.read_property against a plain aiohttp GET of the same URL.

Both run in the same process, interleaved, against the simulator on loopback, so the ratio
shows what the library adds on top of one HTTP round trip. Run on demand:

    .venv/bin/python -m bench.wot_read [--rounds 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import aiohttp

from custom_components.thingbridge.wot import WotClient, fetch_thing_description
from simulator.wot import WotSimulator, make_sensor


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(rounds: int) -> None:
    """Measure and print medians, p99 and their ratio."""
    sim = WotSimulator([make_sensor()], tick_interval=3600)
    await sim.start()
    try:
        async with aiohttp.ClientSession() as session:
            td = await fetch_thing_description(session, f"{sim.base_url}things/sensor")
            client = WotClient(session, td)
            url = td.properties["temperature"].forms[0].target()
            raw: list[float] = []
            lib: list[float] = []
            for _ in range(50):  # warm-up: connection pool, caches
                await client.read_property("temperature")
            for _ in range(rounds):
                t0 = time.perf_counter()
                async with session.get(url) as resp:
                    await resp.json()
                raw.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                await client.read_property("temperature")
                lib.append(time.perf_counter() - t0)
    finally:
        await sim.stop()
    for name, samples in (("plain aiohttp GET", raw), ("WotClient.read_property", lib)):
        print(
            f"{name:26s} median {statistics.median(samples) * 1e6:7.0f} us"
            f"   p99 {_pct(samples, 0.99) * 1e6:7.0f} us   (n={len(samples)})"
        )
    print(
        f"ratio of medians (library / plain): {statistics.median(lib) / statistics.median(raw):.2f}"
    )


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2000)
    asyncio.run(run(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
