"""The simulator runs as its own process and speaks plain HTTP."""

from __future__ import annotations

import asyncio
import re
import signal
import sys

import aiohttp

from simulator.wot import WotSimulator, make_sensor

from .conftest import REPO


async def test_simulator_process_serves_things(socket_enabled: None) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulator", "--wot-port", "0", "lamp",
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        match = re.fullmatch(r"Thing lamp: (http://127\.0\.0\.1:\d+/things/lamp)\n", line)
        assert match, line
        async with aiohttp.ClientSession() as session:
            async with session.get(match[1]) as resp:
                assert resp.headers["Content-Type"].startswith("application/td+json")
                td = await resp.json(content_type=None)
            assert td["title"] == "Simulated Lamp"
            assert set(td["properties"]) == {"on", "brightness"}
            async with session.put(f"{match[1]}/properties/brightness", data=b"40") as resp:
                assert resp.status == 204
            async with session.get(f"{match[1]}/properties/brightness") as resp:
                assert await resp.json() == 40
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_simulator_rejects_bad_writes(wot_sim: WotSimulator) -> None:
    base = f"{wot_sim.base_url}things"
    async with aiohttp.ClientSession() as session:
        for path, body, status in [
            ("lamp/properties/brightness", b"101", 400),
            ("lamp/properties/on", b"not json", 400),
            ("sensor/properties/temperature", b"20", 405),
            ("lamp/properties/colour", b"1", 404),
            ("kettle/properties/on", b"true", 404),
        ]:
            async with session.put(f"{base}/{path}", data=body) as resp:
                assert resp.status == status, path
        async with session.get(f"{base}/lamp/properties/colour") as resp:
            assert resp.status == 404
        async with session.get(f"{wot_sim.base_url}.well-known/wot") as resp:
            titles = [td["title"] for td in await resp.json()]
        assert titles == ["Simulated Lamp", "Simulated Temperature Sensor"]


async def test_sensor_drifts_within_bounds(socket_enabled: None) -> None:
    sim = WotSimulator([make_sensor()], tick_interval=0.01)
    await sim.start()
    try:
        prop = sim.things["sensor"].properties["temperature"]
        seen = set()
        for _ in range(20):
            await asyncio.sleep(0.02)
            seen.add(prop.value)
        assert len(seen) > 1
        assert all(15.0 <= v <= 30.0 for v in seen)
    finally:
        await sim.stop()
