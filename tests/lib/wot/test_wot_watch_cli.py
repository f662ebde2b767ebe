"""The ``watch`` command against the simulator's reference Things, as real subprocesses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
import io
import json
import os
from pathlib import Path
import signal
import subprocess
import sys
from typing import Any

import pytest

from custom_components.thingbridge.wot.__main__ import EXIT_OK, EXIT_REJECTED, main
from simulator.things import build_things
from simulator.wot import WotSimulator
from tests.lib.route_server import running_server

REPO = Path(__file__).resolve().parents[3]
WAIT = 60.0  # a guard against hangs, never an assertion about speed
KEYS = ["time", "thing", "id", "kind", "name", "value"]


@pytest.fixture
async def sim(socket_enabled: None) -> AsyncGenerator[WotSimulator]:
    """The lamp and thermostat (SSE), the sensor (long-poll), the WebThings dimmer (WebSocket)."""
    things = build_things(["lamp", "sensor", "thermostat", "webthing-switch"])
    simulator = WotSimulator(things, tick_interval=3600)
    await simulator.start("127.0.0.1", 0)
    yield simulator
    await simulator.stop()


class Watch:
    """``python -m custom_components.thingbridge.wot watch ...`` running as a subprocess."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, *args: str) -> Watch:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "custom_components.thingbridge.wot",
            "watch",
            *args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        return cls(process)

    async def until(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """Read lines until one matches ``predicate``."""
        assert self.process.stdout is not None
        async with asyncio.timeout(WAIT):
            while True:
                text = await self.process.stdout.readline()
                assert text, "the watch ended early"
                line = json.loads(text)
                assert list(line) == KEYS
                self.lines.append(line)
                if predicate(line):
                    return line

    async def finish(self, sig: signal.Signals | None = None) -> tuple[int, str]:
        """Send ``sig`` (if any) and wait for the exit; return the status and stderr."""
        if sig is not None:
            self.process.send_signal(sig)
        out, err = await asyncio.wait_for(self.process.communicate(), WAIT)
        self.lines += [json.loads(text) for text in out.splitlines()]
        assert self.process.returncode is not None
        return self.process.returncode, err.decode()


async def polled(check: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not check():  # noqa: ASYNC110 - the simulator offers no event for these states
            await asyncio.sleep(0.02)


async def subscribed(sim: WotSimulator, slug: str, count: int) -> None:
    """Wait until ``slug`` has ``count`` observers (push channels held open by the watch)."""
    await polled(lambda: sim.thing(slug).subscriber_count >= count)


def pushed(kind: str, thing: str, name: str, value: Any) -> Callable[[dict[str, Any]], bool]:
    def match(line: dict[str, Any]) -> bool:
        return (line["kind"], line["thing"], line["name"], line["value"]) == (
            kind,
            thing,
            name,
            value,
        )

    return match


async def test_watch_prints_sse_longpoll_and_websocket_pushes(sim: WotSimulator) -> None:
    """A directory (SSE lamp, long-poll sensor) and a WebThings Thing, stopped by signals.

    The thermostat, also in the directory, is watched alone for --seconds: the lamp's and the
    sensor's observers are the directory watch's only.
    """
    directory, dimmer, timed = await asyncio.gather(
        Watch.start(sim.base_url),
        Watch.start(sim.url_of("webthing-switch")),
        Watch.start(sim.url_of("thermostat"), "--seconds", "0.5"),
    )
    # --seconds: the watch ends on its own, cleanly.
    status, err = await timed.finish()
    assert status == EXIT_OK
    assert "'Simulated Thermostat': sse observeallproperties: GET " in err

    await subscribed(sim, "lamp", 2)  # observeallproperties + subscribeallevents (SSE)
    sim.set_property("lamp", "brightness", 33)
    sim.emit_event("lamp", "overheated", 71.5)
    await directory.until(pushed("property", "Simulated Lamp", "brightness", 33))
    await directory.until(pushed("event", "Simulated Lamp", "overheated", 71.5))
    await subscribed(sim, "sensor", 2)  # two held long-poll requests
    sim.set_property("sensor", "humidity", 61.0)
    line = await directory.until(pushed("property", "Simulated Temperature Sensor", "humidity", 61))
    assert line["id"] == "urn:thingbridge:simulator:sensor"
    assert line["time"].endswith("Z")

    await subscribed(sim, "webthing-switch", 1)
    sim.set_property("webthing-switch", "level", 77)
    await dimmer.until(pushed("property", "Simulated WebThings Dimmer", "level", 77))

    (status, err), (dimmer_status, dimmer_err) = await asyncio.gather(
        directory.finish(signal.SIGINT), dimmer.finish(signal.SIGTERM)
    )
    assert status == dimmer_status == EXIT_OK
    assert "'Simulated Temperature Sensor': longpoll observeallproperties: GET " in err
    assert "'Simulated WebThings Dimmer': websocket webthing: GET ws://" in dimmer_err
    assert "'Simulated WebThings Dimmer': connected" in dimmer_err
    assert "Traceback" not in err + dimmer_err
    # The channels were closed on the way out.
    await polled(lambda: not any(thing.subscriber_count for thing in sim.things.values()))


def run_main(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return main(["watch", *argv], out), out.getvalue()


async def test_watch_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], socket_enabled: None
) -> None:
    """Each bad SOURCE exits with 2 and says what is wrong on stderr; nothing on stdout."""
    no_base = tmp_path / "no-base.json"
    no_base.write_text(json.dumps({"title": "T", "properties": {"p": {"forms": [{"href": "/p"}]}}}))
    absolute = tmp_path / "absolute.json"
    absolute.write_text(
        json.dumps(
            {"title": "Abs", "properties": {"p": {"forms": [{"href": "http://127.0.0.1:9/p"}]}}}
        )
    )
    not_json = tmp_path / "notes.txt"
    not_json.write_text("hello")
    cases = [
        ([str(tmp_path / "missing.json")], "missing.json: cannot read the file"),
        ([str(not_json)], "notes.txt: not JSON"),
        ([str(no_base)], "relative href '/p' and no base"),
        ([str(absolute)], "$.base: 'Abs' names no base"),
        (
            [str(absolute), "--base", "http://127.0.0.1:9/"],
            "'Abs': nothing to watch (no observe or subscribe form",
        ),
        (["http://127.0.0.1:9/td?token=s3cret"], "GET http://127.0.0.1:9/td?token=***: "),
    ]
    for argv, message in cases:
        status, out = await asyncio.to_thread(run_main, argv)
        err = capsys.readouterr().err
        assert (status, out) == (EXIT_REJECTED, ""), argv
        assert message in err, err
        assert "s3cret" not in err
    with pytest.raises(SystemExit) as exit_info:
        main(["watch", str(absolute), "--seconds", "0"])
    assert exit_info.value.code == 2
    assert "must be a positive number of seconds" in capsys.readouterr().err


async def test_watch_follows_the_host_rules(
    socket_enabled: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A push form on another port of the same host is not opened, unless allowed."""
    async with running_server() as thing, running_server() as evil:
        td = tmp_path / "td.json"
        td.write_text(
            json.dumps(
                {
                    "title": "T",
                    "properties": {
                        "p": {
                            "observable": True,
                            "forms": [
                                {
                                    "href": evil.url("/sse"),
                                    "op": "observeproperty",
                                    "subprotocol": "sse",
                                }
                            ],
                        }
                    },
                }
            )
        )
        argv = [str(td), "--base", thing.url("/td"), "--seconds", "0.2"]
        status, out = await asyncio.to_thread(run_main, argv)
        assert (status, out) == (EXIT_REJECTED, "")
        assert "'T': nothing to watch" in capsys.readouterr().err
        assert evil.requests == []
        # Allowed by host:port, the stream is opened; the watch ends when its output closes.
        evil.json("/sse", b"data: 5\n\n", content_type="text/event-stream")
        allowed = [str(td), "--base", thing.url("/td"), "--allow-host", f"127.0.0.1:{evil.port}"]
        output = ClosingOutput()
        assert await asyncio.to_thread(main, ["watch", *allowed], output) == EXIT_OK
        assert [(line["name"], line["value"]) for line in output.lines] == [("p", 5)]
        assert evil.paths()[0] == "/sse"


class ClosingOutput(io.StringIO):
    """An output whose reader goes away after the first line."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, Any]] = []

    def write(self, text: str) -> int:
        self.lines.append(json.loads(text))
        raise BrokenPipeError
