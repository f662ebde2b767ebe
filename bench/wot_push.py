"""Benchmark: push latency into Home Assistant, and setting up 200 Things from one directory.

1. **Push latency.** A real Home Assistant (the test harness's instance, with ThingBridge
   loaded) observes the simulator's lamp over Server-Sent Events. Each round changes the lamp's
   brightness on the device and times until Home Assistant's ``state_changed`` event for the
   light; interleaved with it, a plain aiohttp GET of the same property on the same loopback
   server gives the HTTP round trip to compare with. p50 and p99 of both, in one run. A Thing's
   pushed values reach Home Assistant at most ``PUSH_UPDATES_PER_SECOND`` (10) times a second:
   a value that comes sooner after the last write waits for the rest of that tenth of a second
   (and the newest wins). The rounds are therefore spaced by that interval, so each measures
   a change as a device reports it, not the cap (back to back, every round took 100 ms).
2. **Directory setup.** A directory serving ``--things`` Things (sensors of two properties,
   observed by long-poll; 200 by default) is added as one entry; the time from ``async_setup``
   to every Thing's entities being in the state machine is reported (median of several runs),
   with the CPU time Home Assistant's process spent and its memory growth per Thing (resident
   set before and after the setup, the largest of the runs). The directory's simulator runs in
   a process of its own, as devices are not Home Assistant's work. For more than 1,000 Things,
   a directory of 1,000 is set up too and the ratio of the two times given (a flat cost per
   Thing gives ``things / 1000``). The garbage collector's collections during the setup are
   counted per generation; ``--profile FILE`` writes a cProfile of the last setup (pstats; read
   it with ``python -m pstats FILE``).

Run on demand (never in the test suite):

    .venv/bin/python -m bench.wot_push [--changes 1000] [--things 200] [--setup-runs 3]
    .venv/bin/python -m bench.wot_push --changes 0 --things 5000   # directory figures only
    .venv/bin/python -m bench.wot_push --changes 0 --things 1000 --setup-runs 1 --profile /tmp/dir.prof
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import gc
import logging
import multiprocessing
from multiprocessing.connection import Connection
import os
from pathlib import Path
import statistics
import tempfile
import time
from typing import Any

import aiohttp
from aiohttp.resolver import AsyncResolver
from homeassistant import loader
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import aiohttp_client
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)

import custom_components.thingbridge  # noqa: F401 - Home Assistant must find this package
from custom_components.thingbridge.bridges.wot.coordinator import PUSH_UPDATES_PER_SECOND
from custom_components.thingbridge.const import (
    CONF_KIND,
    DOMAIN,
    KIND_WOT_DIRECTORY,
    KIND_WOT_THING,
)
from simulator.things import make_lamp, make_sensor
from simulator.wot import WotSimulator

LAMP = "light.simulated_lamp"
# The directory's Things: the simulator's sensor cut to two properties (two entities, two
# long-poll channels each). Home Assistant enables at most 10,000 entities per config entry
# (MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY), so 5,000 Things of one directory can have two each;
# and each long-poll channel holds a socket on both sides (20,000 file descriptors here).
DIRECTORY_THING_PROPERTIES = ("temperature", "humidity")


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _row(name: str, samples: list[float]) -> str:
    return (
        f"{name:40s} p50 {statistics.median(samples) * 1e3:7.3f} ms"
        f"   p99 {_pct(samples, 0.99) * 1e3:7.3f} ms   (n={len(samples)})"
    )


async def _hass(config_dir: str) -> Any:
    # Home Assistant's shared session resolves .local names through its zeroconf integration;
    # everything here is on 127.0.0.1, so use aiohttp's plain resolver, as the test harness does.
    aiohttp_client._async_make_resolver = lambda _hass: AsyncResolver()  # noqa: SLF001
    context = async_test_home_assistant(config_dir=config_dir)
    hass: HomeAssistant = await context.__aenter__()
    # As the test fixture enable_custom_integrations does: let custom integrations load.
    hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
    return context, hass


async def push_latency(changes: int) -> tuple[list[float], list[float]]:
    """Device change → ``state_changed`` in Home Assistant, beside a loopback GET."""
    sim = WotSimulator([make_lamp()], tick_interval=3600)
    await sim.start("127.0.0.1", 0)
    with tempfile.TemporaryDirectory() as config_dir:
        context, hass = await _hass(config_dir)
        try:
            entry = MockConfigEntry(
                domain=DOMAIN,
                title="Lamp",
                unique_id="urn:thingbridge:simulator:lamp",
                data={CONF_KIND: KIND_WOT_THING, "url": sim.url_of("lamp")},
            )
            entry.add_to_hass(hass)
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            sim.set_property("lamp", "on", True)
            for _ in range(1000):  # until the SSE stream is open (bounded)
                if sim.live:
                    break
                await asyncio.sleep(0.01)
            waiter: asyncio.Future[None] | None = None

            def on_state(event: Event[Any]) -> None:
                if event.data["entity_id"] == LAMP and waiter is not None and not waiter.done():
                    waiter.set_result(None)

            unsubscribe = hass.bus.async_listen(EVENT_STATE_CHANGED, on_state)
            push: list[float] = []
            rtt: list[float] = []
            url = f"{sim.url_of('lamp')}/properties/brightness"
            async with aiohttp.ClientSession() as session:
                for index in range(changes + 50):
                    waiter = asyncio.get_running_loop().create_future()
                    t0 = time.perf_counter()
                    sim.set_property("lamp", "brightness", 1 + index % 99)
                    await asyncio.wait_for(waiter, 10)
                    elapsed = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    async with session.get(url) as response:
                        await response.read()
                    round_trip = time.perf_counter() - t0
                    if index >= 50:  # the first 50 warm up connections and caches
                        push.append(elapsed)
                        rtt.append(round_trip)
                    # the next change comes after the push rate cap's interval (see above)
                    await asyncio.sleep(1 / PUSH_UPDATES_PER_SECOND + 0.005)
            unsubscribe()
            await hass.config_entries.async_unload(entry.entry_id)
        finally:
            await context.__aexit__(None, None, None)
            await sim.stop()
    return push, rtt


def _serve_directory(things: int, conn: Connection) -> None:
    """The child process: serve ``things`` sensors until the parent says stop."""

    async def serve() -> None:
        made = []
        for index in range(things):
            sensor = make_sensor()
            made.append(
                dataclasses.replace(
                    sensor,
                    slug=f"sensor-{index:05d}",
                    title=f"Sensor {index:05d}",
                    state={},
                    properties={k: sensor.properties[k] for k in DIRECTORY_THING_PROPERTIES},
                    events={},
                )
            )
        sim = WotSimulator(made, tick_interval=3600)
        await sim.start("127.0.0.1", 0)
        conn.send(sim.base_url)
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await sim.stop()

    asyncio.run(serve())


def _rss() -> int:
    """This process's resident set, in bytes."""
    pages = Path("/proc/self/statm").read_text(encoding="ascii").split()[1]
    return int(pages) * os.sysconf("SC_PAGE_SIZE")


@dataclasses.dataclass
class Setup:
    """One directory setup.

    Seconds (wall and CPU), resident-set growth in bytes, and the garbage collector's
    collections (per generation) and the seconds they took.
    """

    seconds: float
    cpu: float
    rss_growth: int
    collections: tuple[int, ...]
    gc_seconds: tuple[float, ...]


class _GcCounter:
    """Counts the garbage collector's collections per generation, and the time they take."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.thread_time()
            return
        self.counts[info["generation"]] += 1
        self.seconds[info["generation"]] += time.thread_time() - self._started


async def directory_setup(things: int, profile: str | None = None) -> Setup:
    """Set up a directory entry of ``things`` Things until every Thing's entities exist.

    With ``profile``, the setup runs under cProfile and its statistics are written there.
    """
    parent, child = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=_serve_directory, args=(things, child), daemon=True
    )
    server.start()
    loop = asyncio.get_running_loop()
    base_url = await loop.run_in_executor(None, parent.recv)
    with tempfile.TemporaryDirectory() as config_dir:
        context, hass = await _hass(config_dir)
        try:
            entry = MockConfigEntry(
                domain=DOMAIN,
                title="Directory",
                unique_id="directory",
                data={CONF_KIND: KIND_WOT_DIRECTORY, "url": f"{base_url}.well-known/wot"},
            )
            entry.add_to_hass(hass)
            rss0 = _rss()
            counter = _GcCounter()
            profiler = cProfile.Profile() if profile else None
            gc.callbacks.append(counter)
            try:
                t0, cpu0 = time.perf_counter(), time.process_time()
                if profiler is not None:
                    profiler.enable()
                assert await hass.config_entries.async_setup(entry.entry_id)
                await hass.async_block_till_done()
                if profiler is not None:
                    profiler.disable()
                seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            finally:
                gc.callbacks.remove(counter)
            setup = Setup(
                seconds, cpu, _rss() - rss0, tuple(counter.counts), tuple(counter.seconds)
            )
            if profiler is not None and profile:
                profiler.dump_stats(profile)
                print(f"profile of the setup written to {profile}")
            count = len(entry.runtime_data.things)
            temps = [s for s in hass.states.async_entity_ids("sensor") if "temperature" in s]
            assert count == things, f"{count} of {things} Things were set up"
            assert len(temps) == things, f"{len(temps)} temperature sensors for {things} Things"
            await hass.config_entries.async_unload(entry.entry_id)
        finally:
            await context.__aexit__(None, None, None)
            parent.send("stop")
            await loop.run_in_executor(None, server.join, 30)
    return setup


def _setup_row(things: int, setups: list[Setup]) -> str:
    seconds = [s.seconds for s in setups]
    cpu = statistics.median(s.cpu for s in setups)
    # The largest growth: a later run in the same process reuses memory an earlier one freed.
    per_thing = max(s.rss_growth for s in setups) / things
    collections = "; ".join(
        f"{'/'.join(str(n) for n in s.collections)}"
        f" in {'/'.join(f'{t:.2f}' for t in s.gc_seconds)} s"
        for s in setups
    )
    return (
        f"directory of {things} Things set up: median {statistics.median(seconds):.2f} s"
        f" (runs: {', '.join(f'{s:.2f}' for s in seconds)}); CPU {cpu:.2f} s"
        f" (runs: {', '.join(f'{s.cpu:.2f}' for s in setups)};"
        f" {cpu / things * 1e3:.2f} ms per Thing); memory {per_thing / 1024:.1f} KiB per Thing;"
        f" garbage collections (generation 0/1/2) {collections}"
    )


async def run(changes: int, things: int, setup_runs: int, profile: str | None = None) -> None:
    """Measure and print."""
    logging.basicConfig(level=logging.WARNING)
    if changes:
        push, rtt = await push_latency(changes)
        print(_row("push: device change -> HA state_changed", push))
        print(_row("loopback HTTP GET round trip", rtt))
        print(
            f"p99 difference: {(_pct(push, 0.99) - _pct(rtt, 0.99)) * 1e3:.3f} ms;"
            f" ratio of medians {statistics.median(push) / statistics.median(rtt):.2f}"
        )
    sizes = [1000, things] if things > 1000 else [things]
    medians: dict[int, float] = {}
    for size in sizes:
        setups = [
            await directory_setup(size, profile if index == setup_runs - 1 else None)
            for index in range(setup_runs)
        ]
        medians[size] = statistics.median(s.seconds for s in setups)
        print(_setup_row(size, setups), flush=True)
    if len(sizes) > 1:
        ratio = medians[things] / medians[1000]
        print(
            f"setup time of {things} Things / 1000 Things: {ratio:.2f}"
            f" (a flat cost per Thing gives {things / 1000:g})"
        )


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--things", type=int, default=200)
    parser.add_argument("--setup-runs", type=int, default=3)
    parser.add_argument(
        "--profile", metavar="FILE", help="write a cProfile (pstats) of the last directory setup"
    )
    args = parser.parse_args()
    asyncio.run(run(args.changes, args.things, args.setup_runs, args.profile))


if __name__ == "__main__":
    main()
