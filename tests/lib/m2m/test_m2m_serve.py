"""``python -m custom_components.thingbridge.m2m serve``: the tracker gateway on its own.

The command runs as a real subprocess on loopback ports it picks itself (``--port NAME=0``,
read back from its ``listening`` line); devices are played with the simulator's frame
builders on real sockets, and the journal is opened with :class:`TrackerJournal` after the
process exited. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
import io
import json
import os
from pathlib import Path
import select
import signal
import socket
import sys
import threading
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from custom_components.thingbridge.m2m.__main__ import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    main,
    port_argument,
    register_argument,
)
from custom_components.thingbridge.m2m.journal import TrackerJournal
from custom_components.thingbridge.m2m.trackers.__main__ import decode
from custom_components.thingbridge.m2m.trackers.serialize import item_to_dict
from simulator.trackers import (
    circle_route,
    gt06_location,
    gt06_login,
    gt06_reply,
    make_fixes,
    osmand_params,
    teltonika_avl,
    teltonika_login,
    teltonika_udp,
    teltonika_udp_ack,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")

REPO = Path(__file__).resolve().parents[3]
MODULE = "custom_components.thingbridge.m2m"
HOST = "127.0.0.1"
TELTONIKA = "356307042441013"
GT06 = "864717003283581"
PHONE = "traccar-phone-7"
STRANGER = "353691840000017"  # an IMEI nobody registered
FIXES = make_fixes(
    circle_route((54.6872, 25.2797), 400.0, 8), start=datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
)
WAIT = 30.0  # bound on every wait for the process or a reply
# Block-buffered standard output, as when a script reads the lines: the command must flush.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


# -- helpers ------------------------------------------------------------------------------


def expected_positions(protocol: str, *chunks: bytes, transport: str = "tcp") -> list[Any]:
    """What ``m2m.trackers decode`` prints for these bytes: its position messages."""
    inputs = [c.decode() for c in chunks] if protocol == "osmand" else [c.hex() for c in chunks]
    items = decode(
        protocol, inputs, lenient=False, mode="auto", transport=transport, device_id=None
    )
    messages = [m for item in items for m in item_to_dict(item).get("messages", [])]
    return [m for m in messages if m["message"] == "position"]


@dataclass
class Serve:
    """A running ``serve`` process and its ``listening`` line."""

    proc: asyncio.subprocess.Process
    listening: dict[str, Any] = field(default_factory=dict)

    async def line(self) -> Any:
        """The next JSON line of its standard output."""
        assert self.proc.stdout is not None
        async with asyncio.timeout(WAIT):
            raw = await self.proc.stdout.readline()
        if not raw:
            assert self.proc.stderr is not None
            async with asyncio.timeout(WAIT):
                err = await self.proc.stderr.read()
            pytest.fail(f"serve ended its output; stderr: {err.decode()!r}")
        return json.loads(raw)

    def port(self, protocol: str, transport: str = "tcp") -> int:
        port = self.listening["ports"][protocol][transport]
        assert isinstance(port, int)
        assert port > 0
        return port

    async def finish(self, sig: int | None = None) -> tuple[int, list[Any], str]:
        """Send ``sig`` (if any) and collect the exit status, remaining lines and stderr."""
        if sig is not None:
            self.proc.send_signal(sig)
        async with asyncio.timeout(WAIT):
            out, err = await self.proc.communicate()
        assert self.proc.returncode is not None
        return self.proc.returncode, [json.loads(x) for x in out.splitlines()], err.decode()


async def start(*args: str) -> Serve:
    """Start ``serve`` with ``args`` (output not read yet)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        MODULE,
        "serve",
        *args,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=ENV,
    )
    return Serve(proc)


@asynccontextmanager
async def serving(*args: str) -> AsyncIterator[Serve]:
    """A ``serve`` process that announced its ports; killed at the end if still running."""
    served = await start(*args)
    try:
        served.listening = await served.line()
        yield served
    finally:
        if served.proc.returncode is None:
            served.proc.kill()
            await served.proc.communicate()


@asynccontextmanager
async def connection(port: int) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    async with asyncio.timeout(WAIT):
        reader, writer = await asyncio.open_connection(HOST, port)
    try:
        yield reader, writer
    finally:
        writer.transport.abort()


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes, size: int
) -> bytes:
    """Send ``data``; return the ``size`` bytes of the reply."""
    writer.write(data)
    async with asyncio.timeout(WAIT):
        return await reader.readexactly(size)


async def udp_exchange(port: int, data: bytes) -> bytes:
    """Send one datagram; return the first datagram that comes back."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[bytes] = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            if not answer.done():
                answer.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=(HOST, port))
    try:
        transport.sendto(data)
        async with asyncio.timeout(WAIT):
            return await answer
    finally:
        transport.close()


async def osmand_post(port: int, params: dict[str, str]) -> int:
    timeout = aiohttp.ClientTimeout(total=WAIT)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(f"http://{HOST}:{port}/", params=params) as response,
    ):
        await response.read()
        return response.status


async def journal_rows(path: Path) -> dict[tuple[str, str], list[Any]]:
    """Every stored position by (protocol, device)."""
    async with TrackerJournal(path) as journal:
        return {
            (protocol, device): [
                r.position for r in await journal.positions(device, protocol=protocol)
            ]
            for protocol, device in await journal.devices()
        }


# -- the command as a subprocess ----------------------------------------------------------


async def test_serve_journals_and_acknowledges_registered_devices_only(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    async with serving(
        "--journal",
        str(path),
        "--port",
        "teltonika=0",
        "--port",
        "concox=0",  # aliases are accepted, and reported by the library's name
        "--port",
        "traccar-client=0",
        "--register",
        f"teltonika:{TELTONIKA}",
        "--register",
        f"gt06:{GT06}",
        "--register",
        f"osmand:{PHONE}",
    ) as served:
        listening = served.listening
        assert listening["event"] == "listening"
        assert listening["host"] == HOST
        assert listening["journal"] == str(path)
        assert set(listening["ports"]) == {"teltonika", "gt06", "osmand"}
        assert set(listening["ports"]["teltonika"]) == {"tcp", "udp"}
        assert set(listening["ports"]["gt06"]) == {"tcp"}
        assert set(listening["ports"]["osmand"]) == {"http"}
        assert listening["registered"] == [
            f"gt06:{GT06}",
            f"osmand:{PHONE}",
            f"teltonika:{TELTONIKA}",
        ]

        # Teltonika over TCP: login accepted, two records journaled, then acknowledged.
        login, avl = teltonika_login(TELTONIKA), teltonika_avl(FIXES[0:2])
        async with connection(served.port("teltonika")) as (reader, writer):
            assert await exchange(reader, writer, login, 1) == b"\x01"
            assert await exchange(reader, writer, avl, 4) == (2).to_bytes(4, "big")
            expected = expected_positions("teltonika", login, avl)
            assert [await served.line(), await served.line()] == [
                {
                    "event": "position",
                    "protocol": "teltonika",
                    "device_id": TELTONIKA,
                    "position": position,
                }
                for position in expected
            ]
            assert [p["fix_time"] for p in expected] == [f.time.isoformat() for f in FIXES[0:2]]
            # A resend (the ACK was lost) is acknowledged again but not printed again.
            assert await exchange(reader, writer, avl, 4) == (2).to_bytes(4, "big")

        # Teltonika over UDP: the vendor's ACK, echoing the packet IDs.
        datagram = teltonika_udp(TELTONIKA, FIXES[2:3], 7, 7)
        assert await udp_exchange(served.port("teltonika", "udp"), datagram) == (
            teltonika_udp_ack(7, 7, 1)
        )
        (position,) = expected_positions("teltonika", datagram, transport="udp")
        assert await served.line() == {
            "event": "position",
            "protocol": "teltonika",
            "device_id": TELTONIKA,
            "position": position,
        }

        # GT06: login and location answered with their protocol number and serial.
        login, location = gt06_login(GT06, 1), gt06_location(FIXES[3], 2)
        async with connection(served.port("gt06")) as (reader, writer):
            assert await exchange(reader, writer, login, 10) == gt06_reply(0x01, 1)
            assert await exchange(reader, writer, location, 10) == gt06_reply(0x12, 2)
        (position,) = expected_positions("gt06", login, location)
        assert await served.line() == {
            "event": "position",
            "protocol": "gt06",
            "device_id": GT06,
            "position": position,
        }

        # OsmAnd (Traccar Client): HTTP 200 once journaled.
        params = osmand_params(PHONE, FIXES[4])
        assert await osmand_post(served.port("osmand", "http"), params) == 200
        (position,) = expected_positions("osmand", urlencode(params).encode())
        assert await served.line() == {
            "event": "position",
            "protocol": "osmand",
            "device_id": PHONE,
            "position": position,
        }

        # Devices nobody registered: refused as inside Home Assistant, reported once each.
        async with connection(served.port("teltonika")) as (reader, writer):
            assert await exchange(reader, writer, teltonika_login(STRANGER), 1) == b"\x00"
        assert await served.line() == {
            "event": "unknown_device",
            "protocol": "teltonika",
            "device_id": STRANGER,
        }
        async with connection(served.port("gt06")) as (reader, writer):
            writer.write(gt06_login(STRANGER, 1) + gt06_location(FIXES[5], 2))
            writer.write_eof()
            async with asyncio.timeout(WAIT):
                assert await reader.read() == b""  # silence: the device keeps its data
        assert await served.line() == {
            "event": "unknown_device",
            "protocol": "gt06",
            "device_id": STRANGER,
        }
        assert await osmand_post(served.port("osmand", "http"), osmand_params("x", FIXES[6])) == (
            400
        )
        assert await served.line() == {
            "event": "unknown_device",
            "protocol": "osmand",
            "device_id": "x",
        }

        status, lines, err = await served.finish(signal.SIGTERM)

    assert status == EXIT_OK, err
    assert err == ""
    (stopped,) = lines
    assert stopped["event"] == "stopped"
    assert stopped["signal"] == "SIGTERM"
    stats = stopped["stats"]
    assert stats["positions"] == 5
    assert stats["duplicates"] == 2
    assert stats["rejected"] == 4  # teltonika login, gt06 login + location, osmand request
    assert stats["journal_errors"] == 0

    rows = await journal_rows(path)
    assert set(rows) == {("teltonika", TELTONIKA), ("gt06", GT06), ("osmand", PHONE)}
    assert [p.fix_time for p in rows["teltonika", TELTONIKA]] == [f.time for f in FIXES[0:3]]
    assert [p.fix_time for p in rows["gt06", GT06]] == [FIXES[3].time]
    assert [p.fix_time for p in rows["osmand", PHONE]] == [FIXES[4].time]


async def test_sigint_stops_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    async with serving(
        "--journal", str(path), "--port", "osmand=0", "--register", f"osmand:{PHONE}"
    ) as served:
        port = served.port("osmand", "http")
        assert await osmand_post(port, osmand_params(PHONE, FIXES[0])) == 200
        assert (await served.line())["event"] == "position"
        status, lines, err = await served.finish(signal.SIGINT)
    assert status == EXIT_OK, err
    assert err == ""
    assert [(line["event"], line["signal"]) for line in lines] == [("stopped", "SIGINT")]
    assert lines[0]["stats"]["positions"] == 1
    # the listener is closed and the journal is complete
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((HOST, port), timeout=WAIT).close()
    assert len((await journal_rows(path))["osmand", PHONE]) == 1


async def test_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.create_server((HOST, 0)) as holder:
        port = holder.getsockname()[1]
        served = await start("--journal", str(tmp_path / "j.db"), "--port", f"gt06={port}")
        status, lines, err = await served.finish()
    assert status == EXIT_FAILURE
    assert lines == []
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1
    assert err.startswith(f"python -m {MODULE} serve: cannot listen for gt06 on TCP port {port}:")
    assert "in use" in err


async def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    journal = str(tmp_path / "j.db")
    runs = await asyncio.gather(
        start("--journal", journal, "--port", "teltonika=70000"),
        start("--journal", journal),
    )
    results = [await served.finish() for served in runs]
    for status, lines, err in results:
        assert status == EXIT_USAGE
        assert lines == []
        assert "Traceback" not in err
    assert "argument --port: 'teltonika=70000': the port must be a number" in results[0][2]
    assert "at least one --port PROTOCOL=PORT is required" in results[1][2]
    assert not await asyncio.to_thread(Path(journal).exists)  # nothing was created


async def test_closed_output_stops_the_gateway(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    async with serving(
        "--journal", str(path), "--port", "osmand=0", "--register", f"osmand:{PHONE}"
    ) as served:
        # The reader goes away: the next line cannot be written.
        transport = served.proc._transport  # asyncio keeps the pipes there
        transport.get_pipe_transport(1).close()
        with contextlib.suppress(aiohttp.ClientError):  # answered or not: it is journaled
            await osmand_post(served.port("osmand", "http"), osmand_params(PHONE, FIXES[0]))
        assert served.proc.stderr is not None
        async with asyncio.timeout(WAIT):
            err = (await served.proc.stderr.read()).decode()
            status = await served.proc.wait()
    assert status == EXIT_FAILURE
    assert err == f"python -m {MODULE} serve: standard output was closed; stopped\n"
    # what was journaled stays journaled
    assert len((await journal_rows(path))["osmand", PHONE]) == 1


# -- in process (no subprocess: the same code, measured by coverage) ----------------------


class LineReader:
    """JSON lines from a pipe, each read bounded by :data:`WAIT` (a client thread never hangs)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""

    def line(self) -> Any:
        """The next line, decoded; ``None`` at the end of the output."""
        while b"\n" not in self.buffer:
            ready, _, _ = select.select([self.fd], [], [], WAIT)
            if not ready:
                raise TimeoutError("no line from serve")
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)

    def rest(self) -> list[Any]:
        """Every line up to the end of the output."""
        lines = []
        while (line := self.line()) is not None:
            lines.append(line)
        return lines


def _client(lines: LineReader, results: dict[str, Any]) -> None:
    """Play a registered and an unknown Teltonika, then SIGINT this process."""
    listening = lines.line()
    if listening is None:
        return  # serve failed before listening: there is no handler for the signal
    try:  # serve runs until a signal (its output stays open): the SIGINT below finds it
        port = listening["ports"]["teltonika"]["tcp"]
        with socket.create_connection((HOST, port), timeout=WAIT) as sock:
            sock.sendall(teltonika_login(TELTONIKA))
            results["login"] = sock.recv(1)
            sock.sendall(teltonika_avl(FIXES[0:1]))
            results["ack"] = sock.recv(4)
        results["position"] = lines.line()
        with socket.create_connection((HOST, port), timeout=WAIT) as sock:
            sock.sendall(teltonika_login(STRANGER))
            results["reject"] = sock.recv(1)
        results["unknown"] = lines.line()
    finally:
        os.kill(os.getpid(), signal.SIGINT)
        results["rest"] = lines.rest()


def test_serve_in_process(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    read_fd, write_fd = os.pipe()
    results: dict[str, Any] = {}
    try:
        client = threading.Thread(target=_client, args=(LineReader(read_fd), results))
        client.start()
        with os.fdopen(write_fd, "w") as out:
            argv = ["serve", "--journal", str(path), "--port", "teltonika=0"]
            argv += ["--port", "osmand=0", "--register", f"teltonika:{TELTONIKA}"]
            status = main([*argv, "--lenient", "--idle-timeout", "30"], out)
        client.join(WAIT)
    finally:
        os.close(read_fd)
    assert not client.is_alive()
    assert status == EXIT_OK
    assert results["login"] == b"\x01"
    assert results["ack"] == (1).to_bytes(4, "big")
    assert results["position"]["device_id"] == TELTONIKA
    assert results["reject"] == b"\x00"
    assert results["unknown"] == {
        "event": "unknown_device",
        "protocol": "teltonika",
        "device_id": STRANGER,
    }
    assert [line["event"] for line in results["rest"]] == ["stopped"]


def _closing_reader(read_fd: int, results: dict[str, Any]) -> None:
    """Read the ``listening`` line, close the pipe, then send two records."""
    listening = LineReader(read_fd).line()
    os.close(read_fd)
    if listening is None:
        return
    with socket.create_connection(
        (HOST, listening["ports"]["teltonika"]["tcp"]), timeout=WAIT
    ) as s:
        s.sendall(teltonika_login(TELTONIKA))
        results["login"] = s.recv(1)
        s.sendall(teltonika_avl(FIXES[0:2]))
        with contextlib.suppress(OSError):  # the gateway is stopping
            s.recv(4)


def test_closed_output_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "journal.db"
    read_fd, write_fd = os.pipe()
    results: dict[str, Any] = {}
    client = threading.Thread(target=_closing_reader, args=(read_fd, results))
    client.start()
    out = os.fdopen(write_fd, "w")
    argv = ["serve", "--journal", str(path), "--port", "teltonika=0"]
    status = main([*argv, "--register", f"teltonika:{TELTONIKA}"], out)
    with contextlib.suppress(BrokenPipeError):  # what main() could not write is still buffered
        out.close()
    client.join(WAIT)
    assert not client.is_alive()
    assert results["login"] == b"\x01"
    assert status == EXIT_FAILURE
    assert (
        capsys.readouterr().err
        == f"python -m {MODULE} serve: standard output was closed; stopped\n"
    )
    assert asyncio.run(journal_rows(path)).keys() == {("teltonika", TELTONIKA)}


def test_port_in_use_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server((HOST, 0)) as holder:
        port = holder.getsockname()[1]
        out = io.StringIO()
        argv = ["serve", "--journal", str(tmp_path / "j.db"), "--port", f"h02={port}"]
        assert main(argv, out) == EXIT_FAILURE
    assert out.getvalue() == ""
    err = capsys.readouterr().err
    assert err.startswith(f"python -m {MODULE} serve: cannot listen for h02 on TCP port {port}:")
    assert len(err.splitlines()) == 1


def test_unusable_journal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    cases = {
        tmp_path: f"journal {str(tmp_path)!r} is a directory, not a file",
        tmp_path / "missing" / "j.db": f"directory {str(tmp_path / 'missing')!r} of the journal "
        "does not exist",
        text: f"tracker journal {text}: open failed: DatabaseError: file is not a database",
    }
    for journal, message in cases.items():
        out = io.StringIO()
        assert main(["serve", "--journal", str(journal), "--port", "gt06=0"], out) == EXIT_FAILURE
        assert out.getvalue() == ""
        assert capsys.readouterr().err == f"python -m {MODULE} serve: {message}\n"
    assert text.read_text() == "not a database\n" * 100


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "at least one --port PROTOCOL=PORT is required"),
        (["--port", "gsm=1"], "argument --port: unknown protocol 'gsm'; known: teltonika, gt06,"),
        (["--port", "gt06=65536"], "argument --port: 'gt06=65536': the port must be a number"),
        (["--port", "gt06=-1"], "argument --port: 'gt06=-1': the port must be a number"),
        (["--port", "gt06=0", "--port", "concox=0"], "--port: gt06 given more than once"),
        (["--port", "gt06=5023", "--port", "h02=5023"], "port 5023 given for both gt06 and h02"),
        (["--port", "gt06=0", "--register", "gt06"], "'gt06': expected PROTOCOL:DEVICE_ID"),
        (["--port", "gt06=0", "--register", ":1"], "':1': expected PROTOCOL:DEVICE_ID"),
        (["--port", "h02=0", "--register", "nmea:1"], "unknown protocol 'nmea'"),
        (["--port", "gt06=0", "--register", "gt06:86471700328358x"], "not a valid gt06 device"),
        (["--port", "h02=0", "--register", "h02:a b"], "'a b': not a valid h02 device ID"),
        (["--port", "osmand=0", "--register", "osmand:" + "7" * 65], "valid osmand device ID"),
        (["--port", "h02=0", "--register", "h02:\x1b[2J"], "id='\\x1b[2J': not a valid h02"),
        (["--port", "gt06=0", "--register", f"teltonika:{TELTONIKA}"], "no --port for teltonika"),
        (["--port", "gt06=0", "--idle-timeout", "0"], "must be a positive number of seconds"),
        (["--port", "gt06=0", "--idle-timeout", "nan"], "must be a positive number of seconds"),
        (["--port", "gt06=0", "--idle-timeout", "soon"], "--idle-timeout: not a number: 'soon'"),
    ],
)
def test_bad_arguments_in_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--journal", str(tmp_path / "j.db"), *arguments], io.StringIO())
    assert exited.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"usage: python -m {MODULE} serve ")
    assert f"python -m {MODULE} serve: error: " in err
    assert message in err
    assert not (tmp_path / "j.db").exists()


def test_argument_forms() -> None:
    assert port_argument("gt06") == ("gt06", 5023)  # Traccar's port
    assert port_argument("GPS103=0") == ("coban", 0)
    assert port_argument("traccar-client=8082") == ("osmand", 8082)
    assert register_argument("Concox:864717003283581") == ("gt06", "864717003283581")
    assert register_argument("osmand:fleet:7") == ("osmand", "fleet:7")


def test_help_documents_every_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for event in ("listening", "position", "unknown_device", "stopped"):
        assert f'{{"event": "{event}"' in out
    assert "--host 0.0.0.0" in out
