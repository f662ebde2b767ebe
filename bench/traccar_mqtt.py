"""Benchmark: Traccar-forwarded positions through a real Mosquitto into the library's journal.

The consumer side of ``docs/scale.md`` without Home Assistant: Debian's Mosquitto on a free
loopback port; a publisher process (paho, QoS 1, as Traccar's ``PositionForwarderMqtt``)
sends ``--messages`` documents of ``--devices`` devices to the topic ``positions``; this
process subscribes once (paho, QoS 1), decodes every document with
:func:`.m2m.decode_forwarded` and journals the positions in batches with
:class:`.m2m.TrackerJournal` (WAL, ``synchronous=FULL``), as the Home Assistant source does.

Reports messages/s from the first to the last message received and this process's CPU time
per message (paho's network thread, decoding and the journal's thread); Home Assistant's
own MQTT client, state machine and recorder are not in it. Run on demand:

    .venv/bin/python -m bench.traccar_mqtt [--messages 20000] [--devices 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from paho.mqtt import client as mqtt_client

from custom_components.thingbridge.m2m import Position, TrackerJournal, decode_forwarded

HOST = "127.0.0.1"
TOPIC = "positions"


def document(i: int, devices: int, start: datetime) -> str:
    """The ``i``-th document: devices take turns, each fix 30 s after its previous one."""
    fix = (start + timedelta(seconds=30 * (i // devices))).isoformat(timespec="milliseconds")
    return json.dumps(
        {
            "position": {
                "id": i,
                "attributes": {"sat": 9, "ignition": True, "odometer": 1000.0 + i, "motion": True},
                "deviceId": i % devices,
                "protocol": "teltonika",
                "serverTime": fix,
                "deviceTime": fix,
                "fixTime": fix,
                "outdated": False,
                "valid": True,
                "latitude": 54.0 + (i % 1000) * 1e-4,
                "longitude": 25.0 + (i % 997) * 1e-4,
                "altitude": 120.0,
                "speed": 20.0,
                "course": 90.0,
                "accuracy": 0.0,
            },
            "device": {"id": i % devices, "name": f"Van {i % devices}", "uniqueId": f"{350000000000000 + i % devices}"},
        }
    )  # fmt: skip


def publish(port: int, messages: int, devices: int) -> None:
    """The publisher process: every document at QoS 1, then wait until all are acknowledged."""
    client = mqtt_client.Client(mqtt_client.CallbackAPIVersion.VERSION2)
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    client.connect(HOST, port)
    client.loop_start()
    start = datetime.now(UTC) - timedelta(days=1)
    infos = [client.publish(TOPIC, document(i, devices, start), qos=1) for i in range(messages)]
    for info in infos:
        info.wait_for_publish(timeout=60)
    client.disconnect()
    client.loop_stop()


def free_port() -> int:
    """A free loopback port (the broker binds it right after)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


async def consume(
    port: int, messages: int, devices: int, workdir: Path, *, process: bool = True
) -> tuple[float, float]:
    """Subscribe, start the publisher, decode and journal everything; (msg/s, µs CPU/msg).

    ``process=False`` is the baseline: the same subscriber only receives and counts.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    subscribed = threading.Event()
    client = mqtt_client.Client(mqtt_client.CallbackAPIVersion.VERSION2)
    client.on_message = lambda _c, _u, msg: loop.call_soon_threadsafe(queue.put_nowait, msg.payload)
    client.on_subscribe = lambda *_args: subscribed.set()
    client.connect(HOST, port)
    client.subscribe(TOPIC, qos=1)
    client.loop_start()
    await loop.run_in_executor(None, subscribed.wait, 10)
    journal = TrackerJournal(workdir / "journal.db")
    await journal.open()
    publisher = subprocess.Popen(  # noqa: ASYNC220 - started once, waited for at the end
        [sys.executable, "-m", "bench.traccar_mqtt", "--publish", str(port), "--messages",
         str(messages), "--devices", str(devices)]
    )  # fmt: skip
    received = 0
    first = cpu0 = 0.0
    while received < messages:
        try:
            payload = await asyncio.wait_for(queue.get(), 20)
        except TimeoutError:
            break  # messages were lost: reported below
        if received == 0:
            first, cpu0 = time.perf_counter(), time.process_time()
        if not process:
            received += 1
            continue
        batch: list[Position] = [decode_forwarded(payload).position]
        while not queue.empty() and len(batch) < 256:
            batch.append(decode_forwarded(queue.get_nowait()).position)
        await journal.append(batch)
        received += len(batch)
    elapsed, cpu = time.perf_counter() - first, time.process_time() - cpu0
    await loop.run_in_executor(None, publisher.wait)
    client.loop_stop()
    client.disconnect()
    stored = await journal.count() if process else received
    await journal.close()
    if stored != messages:
        print(f"lost: {messages - stored} of {messages} messages never arrived")
    return messages / elapsed, cpu / messages * 1e6


def main() -> None:
    """Run the rounds (or, with --publish, be the publisher process)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--devices", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--publish", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish:
        publish(args.publish, args.messages, args.devices)
        return
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
    if binary is None:
        sys.exit("mosquitto is not installed (scripts/setup installs it as root on Debian)")
    results: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for _ in range(args.rounds):
        for process in (False, True):
            results[process].append(run_round(binary, args.messages, args.devices, process))
            rate, cpu = results[process][-1]
            name = "decode + journal" if process else "receive only"
            print(f"{name:>16}: {rate:,.0f} messages/s, {cpu:.1f} µs CPU per message")
    for process in (False, True):
        name = "decode + journal" if process else "receive only (baseline)"
        rates = [r for r, _ in results[process]]
        cpus = [c for _, c in results[process]]
        print(
            f"median of {args.rounds}, {name}: {statistics.median(rates):,.0f} messages/s,"
            f" {statistics.median(cpus):.1f} µs subscriber CPU per message"
        )


def run_round(binary: str, messages: int, devices: int, process: bool) -> tuple[float, float]:
    """One broker, one publisher, one subscriber."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        config = Path(tmp) / "mosquitto.conf"
        # max_queued_messages 0: no limit (the default, 1000, drops QoS 1 messages for a
        # subscriber that falls behind a burst)
        config.write_text(
            f"listener {port} {HOST}\nallow_anonymous true\npersistence false\n"
            "max_queued_messages 0\n"
        )
        broker = subprocess.Popen([binary, "-c", str(config)], stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    socket.create_connection((HOST, port), timeout=0.5).close()
                    break
                except OSError:
                    time.sleep(0.05)
            return asyncio.run(consume(port, messages, devices, Path(tmp), process=process))
        finally:
            broker.terminate()
            broker.wait()


if __name__ == "__main__":
    main()
