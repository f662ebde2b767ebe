"""What the real third-party peer tests share: the peers' processes, and a watcher recorder.

Two peers run as subprocesses on 127.0.0.1: a node-wot servient (``tests/peers/nodewot/``,
started by :func:`running_nodewot`) and webthing-python's servers (``tests/peers/webthing/``,
started by :func:`running_webthing`). Each writes JSON lines on stdout (what it received, what
it did, replies to commands) and takes JSON commands on stdin; closing stdin stops it. The
tests wait on those lines instead of sleeping.

The library tests (tests/lib/wot/test_*_peer.py) and the Home Assistant ones
(tests/bridges/wot/test_peers_in_ha.py) start the peers through this module.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
import contextlib
from dataclasses import dataclass, field
import importlib.util
import json
import os
from pathlib import Path
import shutil
import signal
import sys
from typing import Any, ClassVar, NoReturn

import pytest

WAIT_TIMEOUT = 20.0
# Bounds on waits for a peer to start; generous because a loaded CI machine may be slow. They
# bound how long a broken run hangs; nothing asserts on how long anything took.
READY_TIMEOUT = 60.0

PEERS = Path(__file__).resolve().parents[1] / "peers"
NODEWOT_DIR = PEERS / "nodewot"
SERVIENT = NODEWOT_DIR / "servient.mjs"
WEBTHING_SERVER = PEERS / "webthing" / "server.py"
NODE = shutil.which("node")

type Message = dict[str, Any]


def _nodewot_skip_reason() -> str | None:
    if NODE is None or shutil.which("npm") is None:
        return "node/npm are not installed: the node-wot peer cannot run"
    if not (NODEWOT_DIR / "node_modules" / "@node-wot" / "binding-http" / "package.json").is_file():
        return "the node-wot peer is not installed: run scripts/setup"
    return None


NODEWOT_SKIP_REASON = _nodewot_skip_reason()
WEBTHING_SKIP_REASON = (
    "webthing (webthing-python) is not installed: run scripts/setup"
    if importlib.util.find_spec("webthing") is None
    else None
)


class Recorder:
    """Collects what a watcher delivers and lets the test wait for a given delivery."""

    def __init__(self) -> None:
        self.properties: list[tuple[str, Any]] = []
        self.events: list[tuple[str, Any]] = []
        self.connection: list[bool] = []
        self._changed = asyncio.Event()

    def on_property(self, name: str, value: Any) -> None:
        self.properties.append((name, value))
        self._changed.set()

    def on_event(self, name: str, data: Any) -> None:
        self.events.append((name, data))
        self._changed.set()

    def on_connection(self, connected: bool) -> None:
        self.connection.append(connected)
        self._changed.set()

    async def wait(self, predicate: Callable[[], bool], what: str) -> None:
        try:
            async with asyncio.timeout(WAIT_TIMEOUT):
                while not predicate():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            pytest.fail(
                f"{what} never reached the callbacks; got properties={self.properties!r} "
                f"events={self.events!r} connection={self.connection!r}"
            )


# --------------------------------------------------------------------------------------------
# a peer process


@dataclass
class PeerProcess:
    """A running peer and everything it has reported so far."""

    label: ClassVar[str] = "peer"

    process: asyncio.subprocess.Process
    messages: list[Message] = field(default_factory=list)
    stderr: bytearray = field(default_factory=bytearray)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    closed: bool = False

    def of(self, kind: str, **match: Any) -> list[Message]:
        """The ``kind`` messages whose members equal ``match``."""
        return [
            m[kind]
            for m in self.messages
            if kind in m
            and isinstance(m[kind], dict)
            and all(m[kind].get(k) == v for k, v in match.items())
        ]

    async def wait(self, predicate: Callable[[], bool], what: str) -> None:
        """Wait until ``predicate`` holds; fail naming ``what`` if it never does."""
        try:
            async with asyncio.timeout(WAIT_TIMEOUT):
                async with self.changed:
                    await self.changed.wait_for(lambda: predicate() or self.closed)
        except TimeoutError:
            pytest.fail(f"{self.label} peer: {what} did not happen; {self.describe()}")
        if not predicate():
            pytest.fail(f"{self.label} peer exited before {what}; {self.describe()}")

    async def command(self, **command: Any) -> Any:
        """Send a command on stdin and return the value of its reply."""
        assert self.process.stdin is not None
        replies = len(self.of("reply"))
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()
        await self.wait(lambda: len(self.of("reply")) > replies, f"a reply to {command!r}")
        reply = self.of("reply")[replies]
        assert "error" not in reply, reply
        return reply.get("value")

    def describe(self) -> str:
        """What the peer said, for failure messages."""
        tail = bytes(self.stderr[-2000:]).decode(errors="replace")
        return f"stdout messages: {self.messages[-30:]!r}; stderr tail: {tail!r}"


async def _read_stdout(peer: PeerProcess) -> None:
    assert peer.process.stdout is not None
    async for line in peer.process.stdout:
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            message = {"unparsed": line.decode(errors="replace")}
        async with peer.changed:
            peer.messages.append(message)
            peer.changed.notify_all()
    async with peer.changed:
        peer.closed = True
        peer.changed.notify_all()


async def _read_stderr(peer: PeerProcess) -> None:
    assert peer.process.stderr is not None
    async for line in peer.process.stderr:
        peer.stderr += line
        del peer.stderr[:-16384]


async def stop_peer(process: asyncio.subprocess.Process, how: str = "stdin") -> int:
    """Stop a peer by closing its stdin or by SIGTERM; kill it if it lingers."""
    if process.returncode is None:
        if how == "stdin":
            assert process.stdin is not None
            process.stdin.close()
        else:
            process.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(WAIT_TIMEOUT):
            return await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()
        return -1


@contextlib.asynccontextmanager
async def _running[P: PeerProcess](
    make: Callable[[asyncio.subprocess.Process], P],
    argv: list[str],
    not_ready: Callable[[str], NoReturn],
    **kwargs: Any,
) -> AsyncGenerator[tuple[P, Message]]:
    """Start ``argv`` as a peer; yield it with its ready line once it has written one."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            **kwargs,
        )
    except OSError as err:
        pytest.skip(f"the peer {argv[1]} cannot start: {err}")
    peer = make(process)
    readers = [
        asyncio.create_task(_read_stdout(peer)),
        asyncio.create_task(_read_stderr(peer)),
    ]
    try:
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                async with peer.changed:
                    await peer.changed.wait_for(
                        lambda: peer.closed or any(m.get("ready") for m in peer.messages)
                    )
        except TimeoutError:
            not_ready(f"{peer.label} peer never became ready; {peer.describe()}")
        ready = next((m for m in peer.messages if m.get("ready")), None)
        if ready is None:
            not_ready(f"{peer.label} peer exited before it was ready; {peer.describe()}")
        yield peer, ready
    finally:
        await stop_peer(process)
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


# --------------------------------------------------------------------------------------------
# node-wot


@dataclass
class NodeWotPeer(PeerProcess):
    """A running node-wot servient (the "Counter" Thing) and everything it has reported."""

    label: ClassVar[str] = "node-wot"

    td_url: str = ""
    port: int = 0

    def count(self, key: str, value: Any) -> int:
        """How many stdout messages had ``key`` equal to ``value``."""
        return sum(1 for m in self.messages if m.get(key) == value)

    def requests(self, path_suffix: str) -> list[Message]:
        """The requests the servient received for URLs ending in ``path_suffix``."""
        return [
            m["request"]
            for m in self.messages
            if "request" in m and m["request"]["url"].endswith(path_suffix)
        ]

    def open_requests(self, path_suffix: str) -> int:
        """How many requests for URLs ending in ``path_suffix`` are still open."""
        opened = len(self.requests(path_suffix))
        closed = sum(
            1 for m in self.messages if "closed" in m and m["closed"]["url"].endswith(path_suffix)
        )
        return opened - closed


@contextlib.asynccontextmanager
async def running_nodewot(
    port: int = 0, *, not_ready: Callable[[str], NoReturn] = pytest.fail
) -> AsyncGenerator[NodeWotPeer]:
    """A node-wot servient on 127.0.0.1 (``port`` 0: a free one); stopped on exit.

    ``not_ready`` is called with the reason when it starts but never says it is ready.
    """
    assert NODE is not None
    env = {k: v for k, v in os.environ.items() if k not in ("PORT", "WOT_PORT", "DEBUG")}
    argv = [NODE, str(SERVIENT), str(port)]
    async with _running(NodeWotPeer, argv, not_ready, cwd=NODEWOT_DIR, env=env) as (peer, ready):
        peer.td_url, peer.port = ready["td"], ready["port"]
        yield peer


# --------------------------------------------------------------------------------------------
# webthing-python


@dataclass
class WebThingPeer(PeerProcess):
    """webthing-python's single-thing and multiple-things servers and what they reported."""

    label: ClassVar[str] = "webthing"

    ports: dict[str, int] = field(default_factory=dict)

    def url(self, server: str, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.ports[server]}{path}"

    async def logged(self, kind: str, **match: Any) -> list[Message]:
        """:meth:`of`, once every line the peer wrote before now has been read."""
        await self.command(cmd="ping")
        return self.of(kind, **match)


@contextlib.asynccontextmanager
async def running_webthing(
    single: int = 0, multiple: int = 0, *, not_ready: Callable[[str], NoReturn] = pytest.skip
) -> AsyncGenerator[WebThingPeer]:
    """webthing-python's servers on 127.0.0.1 (ports 0: free ones); stopped on exit."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, str(WEBTHING_SERVER), str(single), str(multiple)]
    async with _running(WebThingPeer, argv, not_ready, env=env) as (peer, ready):
        peer.ports = {"single": ready["single"], "multiple": ready["multiple"]}
        yield peer
