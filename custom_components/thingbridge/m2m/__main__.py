"""Command line: run the GPS tracker gateway on its own (``serve``).

Usage::

    python -m custom_components.thingbridge.m2m serve --journal PATH
        --port PROTOCOL=PORT [--port PROTOCOL=PORT ...]
        [--register PROTOCOL:DEVICE_ID ...] [--host 127.0.0.1]
        [--lenient] [--idle-timeout SECONDS] [--verbose]

The gateway listens for the protocols given with ``--port`` and no others (``0`` picks a
free port; ``--port teltonika`` alone means Traccar's port, 5027; the aliases ``concox``,
``gps103`` and ``traccar-client`` are accepted). Teltonika, TK103, Coban and H02 listen on
TCP and UDP, GT06 on TCP, OsmAnd (Traccar Client) on HTTP. From there on it behaves exactly
as inside Home Assistant: only the devices given with ``--register`` (repeatable; the same
device IDs Home Assistant accepts, the IMEI for Teltonika, GT06 and Coban) are acknowledged,
and only after their positions were committed to the SQLite journal at ``PATH`` (created
when missing; its directory must exist; rows older than the journal's retention are pruned
as in Home Assistant). Any other device gets no acknowledgement, so it keeps its data and
resends later, and is reported as ``unknown_device``. Bad checksums are refused unless
``--lenient``; a TCP connection is closed after the gateway's idle timeout (the one Home
Assistant uses, ten minutes by default) or after ``--idle-timeout`` seconds of silence.

The default host 127.0.0.1 accepts local connections only (a simulator, a test, a device
behind an SSH tunnel). Real trackers need ``--host 0.0.0.0`` (every interface) or the
address of the interface they reach, and the ports opened in the firewall. Do not point
``--journal`` at the journal of a running Home Assistant.

Output: one JSON object per line on standard output, written and flushed as it happens.
Every line has an ``"event"`` key; the others depend on it::

    {"event": "listening", "host": "127.0.0.1", "journal": "/abs/path/journal.db",
     "ports": {"teltonika": {"tcp": 5027, "udp": 5027}, "gt06": {"tcp": 5023},
               "osmand": {"http": 5055}},
     "registered": ["teltonika:356307042441013"]}
        First line, once every listener is bound: the ports actually bound (so ``--port
        NAME=0`` can be found), by protocol and transport.

    {"event": "position", "protocol": "teltonika", "device_id": "356307042441013",
     "position": {"message": "position", "protocol": "teltonika", ..., "fix_time":
                  "2026-11-01T08:00:00+00:00", "latitude": 54.6872, "longitude": 25.2797, ...}}
        One per new position of a registered device, after it was journaled and before the
        device is acknowledged, oldest fix first within a frame. ``position`` is the
        message as ``python -m custom_components.thingbridge.m2m.trackers decode`` prints it
        in its ``messages`` list (same serializer, same keys); it is nested because a
        position has an ``event`` field of its own (Teltonika's event IO ID). Resends of
        journaled positions are not printed again.

    {"event": "unknown_device", "protocol": "gt06", "device_id": "864717003283581"}
        A device that is not registered sent a valid frame; it was not acknowledged. The
        gateway rate-limits these per device (once per ten minutes by default), exactly
        as it does for the discovery in Home Assistant.

    {"event": "stopped", "signal": "SIGTERM", "stats": {"connections_total": 3, ...}}
        Last line, after SIGINT or SIGTERM closed the listeners and the journal: the
        gateway's counters (frames, errors, acks, rejected, positions, duplicates…).

New keys and new event types may be added; readers should ignore those they do not know.
Strings are ASCII-escaped JSON, so device-supplied text cannot reach a terminal raw.
Warnings (a journal write that failed, so data was not acknowledged) go to standard error;
``--verbose`` adds the gateway's debug log there (each connection, each refused frame).
Standard output is written synchronously: a reader that stops reading holds the gateway up
(devices then resend); when standard output is closed the gateway stops.

The library needs no Home Assistant: from ``custom_components/thingbridge``,
``python -m m2m serve …`` is the same command without importing it (it starts faster).

Exit status: 0 after SIGINT or SIGTERM; 1 when a port cannot be bound, the journal cannot be
used or standard output was closed; 2 for bad arguments. Errors are one line on standard
error naming what was wrong.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
import json
import logging
import math
import os
from pathlib import Path
import re
import signal
import sys
from typing import Any, TextIO

from .gateway import GatewayError, TrackerGateway
from .journal import JournalError, TrackerJournal
from .trackers import ALIASES, PROTOCOLS, Position, ProtocolError
from .trackers.ids import check_device_id
from .trackers.serialize import message_to_dict

PROG = "python -m custom_components.thingbridge.m2m"
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
DEFAULT_HOST = "127.0.0.1"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_PORT = re.compile(r"[0-9]{1,5}")
_EXAMPLE_ID = "teltonika:356307042441013"


# -- arguments ----------------------------------------------------------------------------


def _protocol(name: str) -> str:
    """The library's name of a protocol or alias, as given on the command line."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in PROTOCOLS:
        raise argparse.ArgumentTypeError(
            f"unknown protocol {name!r}; known: {', '.join(PROTOCOLS)} "
            f"(aliases: {', '.join(ALIASES)})"
        )
    return key


def port_argument(text: str) -> tuple[str, int]:
    """Argument type of ``--port``: ``PROTOCOL=PORT``, or ``PROTOCOL`` for Traccar's port."""
    name, sep, number = text.partition("=")
    protocol = _protocol(name)
    if not sep:
        return protocol, PROTOCOLS[protocol].port
    if not _PORT.fullmatch(number) or int(number) > 65535:
        raise argparse.ArgumentTypeError(
            f"{text!r}: the port must be a number from 0 to 65535 (0 picks a free port)"
        )
    return protocol, int(number)


def register_argument(text: str) -> tuple[str, str]:
    """Argument type of ``--register``: ``PROTOCOL:DEVICE_ID``."""
    name, sep, device_id = text.partition(":")
    if not sep or not name or not device_id:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected PROTOCOL:DEVICE_ID, e.g. {_EXAMPLE_ID}"
        )
    protocol = _protocol(name)
    try:  # the rule the decoders apply to what devices send (and the config flow too)
        check_device_id(protocol, device_id)
    except ProtocolError as err:
        raise argparse.ArgumentTypeError(err.reason) from err
    return protocol, device_id


def _seconds(text: str) -> float:
    """Argument type of ``--idle-timeout``."""
    try:
        value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from err
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _parsers() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The command line's parser and its ``serve`` subparser."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Tools of ThingBridge's machine-to-machine (M2M) library."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve_cmd = commands.add_parser(
        "serve",
        help="run the GPS tracker gateway standalone, printing JSON lines",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve_cmd.add_argument(
        "--journal",
        required=True,
        metavar="PATH",
        help="the SQLite position journal (created when missing; its directory must exist)",
    )
    serve_cmd.add_argument(
        "--port",
        dest="ports",
        type=port_argument,
        action="append",
        default=[],
        metavar="PROTOCOL=PORT",
        help="listen for PROTOCOL on PORT (0: a free port; PROTOCOL alone: Traccar's port); "
        "repeatable, at least one",
    )
    serve_cmd.add_argument(
        "--register",
        dest="registered",
        type=register_argument,
        action="append",
        default=[],
        metavar="PROTOCOL:DEVICE_ID",
        help="acknowledge and journal this device (repeatable; others are only reported)",
    )
    serve_cmd.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on (default %(default)s: this machine only; real devices "
        "need 0.0.0.0 or the address of the interface they reach)",
    )
    serve_cmd.add_argument(
        "--lenient", action="store_true", help="accept frames with bad checksums"
    )
    serve_cmd.add_argument(
        "--idle-timeout",
        type=_seconds,
        metavar="SECONDS",
        help="close a TCP connection silent this long (default: the gateway's, as in Home "
        "Assistant)",
    )
    serve_cmd.add_argument(
        "--verbose", "-v", action="store_true", help="log the gateway's decisions to stderr"
    )
    return parser, serve_cmd


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Checks across arguments; on failure print the usage and exit with status 2."""
    pairs: list[tuple[str, int]] = args.ports
    if not pairs:
        parser.error("at least one --port PROTOCOL=PORT is required")
    ports: dict[str, int] = {}
    for protocol, port in pairs:
        if protocol in ports:
            parser.error(f"--port: {protocol} given more than once")
        other = next((p for p, n in ports.items() if port != 0 and n == port), None)
        if other is not None:
            parser.error(f"--port: port {port} given for both {other} and {protocol}")
        ports[protocol] = port
    for protocol, device_id in args.registered:
        if protocol not in ports:
            parser.error(f"--register {protocol}:{device_id}: no --port for {protocol}")
    args.ports = ports
    args.registered = set(args.registered)
    args.journal = Path(args.journal).absolute()


# -- output lines -------------------------------------------------------------------------


def listening_line(
    gateway: TrackerGateway, host: str, journal: str, registered: set[tuple[str, str]]
) -> dict[str, Any]:
    """The ``listening`` line: the bound port of each protocol by transport."""
    ports: dict[str, dict[str, int]] = {}
    udp = gateway.udp_ports
    for protocol, port in gateway.ports.items():
        transport = "http" if "http" in PROTOCOLS[protocol].transports else "tcp"
        ports[protocol] = {transport: port}
        if protocol in udp:
            ports[protocol]["udp"] = udp[protocol]
    return {
        "event": "listening",
        "host": host,
        "journal": journal,
        "ports": ports,
        "registered": sorted(f"{p}:{d}" for p, d in registered),
    }


def position_line(protocol: str, position: Position) -> dict[str, Any]:
    """A ``position`` line (nested: a position has an ``event`` field of its own)."""
    return {
        "event": "position",
        "protocol": protocol,
        "device_id": position.device_id,
        "position": message_to_dict(position),
    }


def unknown_device_line(protocol: str, device_id: str) -> dict[str, Any]:
    """An ``unknown_device`` line."""
    return {"event": "unknown_device", "protocol": protocol, "device_id": device_id}


def stopped_line(signal_name: str, stats: Mapping[str, Any]) -> dict[str, Any]:
    """The ``stopped`` line."""
    return {"event": "stopped", "signal": signal_name, "stats": dict(stats)}


class _Output:
    """JSON lines to a stream, flushed one by one; a failed write calls ``on_closed`` once."""

    def __init__(self, stream: TextIO, on_closed: Callable[[], None]) -> None:
        self._stream = stream
        self._on_closed = on_closed
        self.closed = False

    def emit(self, line: Mapping[str, Any]) -> None:
        if self.closed:
            return
        try:
            self._stream.write(json.dumps(line) + "\n")
            self._stream.flush()
        except (OSError, ValueError):  # fmt: skip
            self.closed = True  # a closed pipe (OSError), a closed file (ValueError)
            if self._stream is sys.stdout:
                # the interpreter flushes stdout at exit: let that go nowhere, silently
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)
            self._on_closed()


# -- serve --------------------------------------------------------------------------------


def _fail(message: str) -> None:
    sys.stderr.write(f"{PROG} serve: {' '.join(message.split())}\n")


def _journal_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a journal file, when that shows before opening it."""
    if path.is_dir():
        return f"journal {str(path)!r} is a directory, not a file"
    parent = path.parent
    if not parent.is_dir():
        return f"directory {str(parent)!r} of the journal does not exist"
    return None


async def serve(args: argparse.Namespace, out: TextIO) -> int:
    """Run the gateway until SIGINT or SIGTERM; return the exit status."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    reasons: list[str] = []

    def request_stop(reason: str) -> None:
        reasons.append(reason)
        stop.set()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, request_stop, sig.name)
    try:
        output = _Output(out, lambda: request_stop("stdout"))
        return await _serve(args, output, stop, reasons)
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


async def _serve(
    args: argparse.Namespace, output: _Output, stop: asyncio.Event, reasons: list[str]
) -> int:
    path: Path = args.journal
    journal = TrackerJournal(path)
    try:
        await journal.open()
    except JournalError as err:
        _fail(str(err))
        return EXIT_FAILURE
    registered: set[tuple[str, str]] = args.registered

    def is_registered(protocol: str, device_id: str) -> bool:
        return (protocol, device_id) in registered

    def on_positions(protocol: str, positions: list[Position]) -> None:
        for position in positions:
            output.emit(position_line(protocol, position))

    def on_unknown_device(protocol: str, device_id: str) -> None:
        output.emit(unknown_device_line(protocol, device_id))

    try:
        options: dict[str, Any] = {}  # only what differs from the gateway's defaults
        if args.lenient:
            options["lenient"] = True
        if args.idle_timeout is not None:
            options["idle_timeout"] = args.idle_timeout
        gateway = TrackerGateway(
            journal,
            ports=args.ports,
            host=args.host,
            is_registered=is_registered,
            on_positions=on_positions,
            on_unknown_device=on_unknown_device,
            **options,
        )
        try:
            await gateway.start()
        except GatewayError as err:
            _fail(str(err))
            return EXIT_FAILURE
        try:
            output.emit(listening_line(gateway, args.host, str(path), registered))
            await stop.wait()
        finally:
            await gateway.stop()
    finally:
        await journal.close()
    if output.closed:
        _fail("standard output was closed; stopped")
        return EXIT_FAILURE
    output.emit(stopped_line(reasons[0], asdict(gateway.stats)))
    return EXIT_OK


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run a command; return the exit status (bad arguments exit with status 2)."""
    parser, serve_parser = _parsers()
    args = parser.parse_args(argv)
    _check(serve_parser, args)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    problem = _journal_problem(args.journal)
    if problem is not None:
        _fail(problem)
        return EXIT_FAILURE
    try:
        return asyncio.run(serve(args, out or sys.stdout))
    except KeyboardInterrupt:  # before the signal handlers were installed
        return 130


if __name__ == "__main__":
    sys.exit(main())
