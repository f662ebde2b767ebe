"""Kill tests: the gateway process is SIGKILLed mid-stream and restarted on the same journal.

The simulated device keeps every fix until it is acknowledged and resends after
reconnecting; the journal must end up with every position exactly once.

- ``after commit``: the gateway kills itself inside ``on_positions``, i.e. after the
  journal committed a frame and before its ACK went out — the resend must be recognised
  as a duplicate.
- ``mid-stream``: the test SIGKILLs the process at an arbitrary moment while the device
  streams.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
import json
import os
from pathlib import Path
import shutil
import signal
import sys
import tempfile

import pytest

from custom_components.thingbridge.m2m.journal import TrackerJournal
from simulator.trackers import VirtualTracker, circle_route, make_fixes

pytestmark = pytest.mark.usefixtures("socket_enabled")

REPO = Path(__file__).resolve().parents[3]
HOST = "127.0.0.1"
IDS = {"teltonika": "356307042441013", "gt06": "864717003283581", "osmand": "phone-1"}
ROUTE = circle_route((54.6872, 25.2797), 300.0, 40)

# The library is imported as the top-level package ``m2m``: it needs no Home Assistant,
# and the process starts in a fraction of the time the integration package would take. Only
# the library is on the path (a link to it): the platform modules beside it are named like
# standard library modules (``calendar.py``) that aiohttp imports.
GATEWAY_PROCESS = """
import asyncio, json, os, signal, sys
sys.path.insert(0, os.environ["THINGBRIDGE_LIBRARIES"])
from m2m.gateway import TrackerGateway
from m2m.journal import TrackerJournal
assert "homeassistant" not in sys.modules

path, protocol, port, device, die_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
frames = 0

def on_positions(proto, positions):
    global frames
    frames += 1
    if frames == die_at:  # journaled and committed, ACK not yet written
        os.kill(os.getpid(), signal.SIGKILL)

async def main():
    journal = TrackerJournal(path)
    await journal.open()
    gateway = TrackerGateway(
        journal, host="127.0.0.1", ports={protocol: port},
        is_registered=lambda p, d: d == device,
        on_positions=on_positions, on_unknown_device=lambda p, d: None,
    )
    await gateway.start()
    print(json.dumps(gateway.ports), flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@asynccontextmanager
async def gateway_process(
    journal: Path, protocol: str, port: int = 0, die_at: int = 0
) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """Run a gateway in its own process; yield it and its bound port; SIGKILL it at the end."""
    libraries = Path(tempfile.mkdtemp(prefix="thingbridge-libs-"))
    (libraries / "m2m").symlink_to(REPO / "custom_components" / "thingbridge" / "m2m")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        GATEWAY_PROCESS,
        str(journal),
        protocol,
        str(port),
        IDS[protocol],
        str(die_at),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "THINGBRIDGE_LIBRARIES": str(libraries)},
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            line = await proc.stdout.readline()
        assert line, "the gateway process did not start"
        yield proc, json.loads(line)[protocol]
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        shutil.rmtree(libraries, ignore_errors=True)


async def journal_count(path: Path, device: str) -> int:
    async with TrackerJournal(path) as journal:
        return await journal.count(device)


async def assert_every_fix_once(path: Path, protocol: str, tracker: VirtualTracker) -> None:
    expected = make_fixes(ROUTE, start=tracker.acked[0].time)
    assert [f.index for f in tracker.acked] == list(range(len(ROUTE)))
    async with TrackerJournal(path) as journal:
        records = await journal.positions(IDS[protocol], limit=1000)
    assert [r.position.fix_time for r in records] == [f.time for f in expected]
    for record, fix in zip(records, expected, strict=True):
        assert record.position.latitude == pytest.approx(fix.latitude, abs=1e-6)
    assert [r.seq for r in records] == sorted(r.seq for r in records)


@pytest.mark.parametrize(("protocol", "batch"), [("teltonika", 4), ("gt06", 1), ("osmand", 1)])
async def test_killed_after_commit_before_ack(tmp_path: Path, protocol: str, batch: int) -> None:
    path = tmp_path / "journal.db"
    die_at = 3
    async with gateway_process(path, protocol, die_at=die_at) as (first, port):
        tracker = VirtualTracker(protocol, IDS[protocol], ROUTE, HOST, port, batch=batch)
        streaming = asyncio.create_task(tracker.run(give_up_after=60, retry_delay=0.02))
        async with asyncio.timeout(30):
            assert await first.wait() == -signal.SIGKILL
    # frames 1-2 were acknowledged; frame 3 is in the journal but its ACK never left
    assert len(tracker.acked) == (die_at - 1) * batch
    assert await journal_count(path, IDS[protocol]) == die_at * batch
    assert not streaming.done()  # the device keeps trying, its buffer intact
    async with gateway_process(path, protocol, port=port):
        async with asyncio.timeout(60):
            await streaming
    await assert_every_fix_once(path, protocol, tracker)
    assert tracker.sent > len(ROUTE) // batch  # frame 3 was sent twice


async def test_killed_mid_stream(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    protocol = "teltonika"
    async with gateway_process(path, protocol) as (first, port):
        tracker = VirtualTracker(protocol, IDS[protocol], ROUTE, HOST, port, batch=2)
        streaming = asyncio.create_task(tracker.run(give_up_after=60, retry_delay=0.02))
        async with asyncio.timeout(30):
            while len(tracker.acked) < 10:  # noqa: ASYNC110 - watching the device's buffer
                await asyncio.sleep(0.001)
        first.kill()  # SIGKILL wherever the gateway happens to be
        assert await first.wait() == -signal.SIGKILL
    acked_before = len(tracker.acked)
    assert acked_before < len(ROUTE)
    assert await journal_count(path, IDS[protocol]) >= acked_before  # nothing ACKed was lost
    async with gateway_process(path, protocol, port=port):
        async with asyncio.timeout(60):
            await streaming
    await assert_every_fix_once(path, protocol, tracker)
