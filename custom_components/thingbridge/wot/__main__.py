"""Command-line tools: ``describe`` (entity mapping), ``watch`` (push) and ``browse`` (mDNS).

``python -m custom_components.thingbridge.wot describe TD_FILE_OR_URL...`` prints one JSON line
per Thing Description::

    {"source": ..., "title": ..., "entities": [{"platform": ..., "name": ..., "affordance": ...}, ...],
     "skipped": [...], "services": [{"affordance": ..., "kind": ..., "reason": ...}, ...]}

``name`` is ``null`` for a Thing's main entity (a light, lock, climate ... built from several
affordances): in Home Assistant that entity takes the device's name, which is the Thing's
``title``. Entities may carry ``roles``, ``device_class``, ``unit`` and ``enabled_default``
too. ``skipped`` lists the affordances that were left out, each with the JSON path of what is
wrong. ``services`` lists the affordances no entity plays (an action taking several inputs,
or one that repeats what an entity does, such as a ``toggle`` beside a light): they are
reachable only through the ``thingbridge.invoke_action``, ``read_property`` and
``write_property`` actions; ``kind`` is ``property``, ``action`` or ``event`` and ``reason``
says why. Every affordance is in exactly one of ``entities``, ``services`` and ``skipped``.
A TD that is rejected gives ``{"source": ..., "error": ...}`` instead; the error names
the JSON path of the offending member. A URL is explored (a directory or a WebThings server
expands to its Things). The exit status is 0 when every TD was usable and 2 otherwise.
A file holding a Thing Model (``@type`` ``tm:ThingModel``, e.g. a shipped profile in
``custom_components/thingbridge/wot/profiles/``) is first made a TD: ``--set NAME=VALUE``
gives a placeholder's value (JSON when it parses as JSON, else text: ``--set HOST=10.0.0.5
--set PORT=502 --set UNIT_ID=1``) and ``--include NAME`` keeps an optional affordance (``*``
for all); a placeholder left without a value is an error naming it.

``python -m custom_components.thingbridge.wot watch SOURCE [--seconds N]`` opens the push
channels of the Thing (or of every Thing of a directory) at SOURCE, a TD file or URL as for
``describe``, as the integration does (Server-Sent Events, long-poll, WebThings WebSocket; the
same host rules, reconnecting after a drop), and prints one JSON line per pushed value or
event::

    {"time": "2026-12-04T10:00:00.000Z", "thing": ..., "id": ..., "kind": "property",
     "name": ..., "value": ...}

``time`` is when the line was written (UTC); ``thing`` the Thing's title and ``id`` its ``id``
(``null`` if it has none); ``kind`` is ``property`` or ``event``; ``value`` the pushed value
or event data. Only what the Thing pushes is shown: properties it cannot push are not polled
(a WebSocket, and an SSE stream back after a drop, read the properties once, as the
integration does). Which channels are open, and when they go down and come back, is told on
standard error. It runs until SIGINT or SIGTERM, or for ``--seconds N``, and then exits with
status 0; it exits with 2 and an error on standard error when SOURCE cannot be read, holds no
usable TD, or offers nothing to watch. A TD file needs an origin for the host rules: its
``base``, or ``--base URL`` (the address the Thing serves it at). ``--allow-host HOST`` lets
requests go to HOST too (``*`` for any), as the integration's "allow requests to other hosts"
option does.

``python -m custom_components.thingbridge.wot read SOURCE [--set NAME=VALUE ...]`` reads every
readable property of a Thing once, HTTP and Modbus alike, and prints one JSON object
``{"title": ..., "values": {...}, "errors": {...}}`` (see :mod:`.read_tool`).

``python -m custom_components.thingbridge.wot browse`` prints one JSON line per service found
on the local network.

``python -m custom_components.thingbridge.wot convert-modbus-yaml FILE...`` turns Home
Assistant core ``modbus:`` YAML into Thing Descriptions, one JSON line per (hub, unit)::

    {"source": ..., "hub": ..., "unit_id": 1, "td": {...}, "unsupported": ["$.modbus[0]..."]}

(see :mod:`.core_modbus_yaml` for what maps to what; nothing is guessed).

Credentials for URLs come from the environment, so they stay out of shell history and process
listings: ``THINGBRIDGE_USERNAME``, ``THINGBRIDGE_PASSWORD``, ``THINGBRIDGE_TOKEN``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator, Sequence
import contextlib
from dataclasses import asdict
from datetime import UTC, datetime
import functools
import io
import json
import math
import os
from pathlib import Path
import signal
import sys
from typing import Any, Literal, TextIO

import aiohttp
from yarl import URL

from .client import Credentials, WotClient
from .core_modbus_yaml import ConversionError, convert_file
from .discovery import browse, explore
from .errors import WotError, WotValidationError
from .mapping import plan_thing
from .read_tool import run_read
from .security import safe_url
from .td import MAX_TD_BYTES, ThingDescription, parse_td
from .thing_model import ThingModelError, is_thing_model, parse_assignment, td_from_document
from .transport import ANY_HOST
from .watch import Watcher

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_REJECTED = 2
PROG = "python -m custom_components.thingbridge.wot"


class InputError(WotError):
    """A file given to ``describe`` cannot be read as JSON."""


def load_json_file(path: str | Path, *, stdin: TextIO | None = None) -> Any:
    """Read and decode a JSON file of at most ``MAX_TD_BYTES`` (``-`` reads standard input).

    Raises:
        InputError: the file cannot be read, is too big, or is not JSON.
    """
    try:
        if str(path) == "-":
            stream = (stdin or sys.stdin).buffer
            data = stream.read(MAX_TD_BYTES + 1)
        else:
            with Path(path).open("rb") as file:
                data = file.read(MAX_TD_BYTES + 1)
    except OSError as err:
        raise InputError(f"cannot read the file: {err.strerror or err}") from err
    if len(data) > MAX_TD_BYTES:
        raise InputError(f"larger than the {MAX_TD_BYTES}-byte limit for a Thing Description")
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"not JSON: {err}") from err
    except RecursionError as err:
        raise InputError("JSON nested too deeply") from err


def describe_td(td: ThingDescription, source: str) -> dict[str, Any]:
    """The ``describe`` line for one parsed TD."""
    plan = plan_thing(td)
    return {
        "source": source,
        "title": td.title,
        "entities": [spec.as_dict() for spec in plan.entities],
        "skipped": [str(err) for err in td.skipped],
        "services": [service.as_dict() for service in plan.services],
    }


def describe_raw(raw: Any, source: str, base: URL | None = None) -> list[dict[str, Any]]:
    """The ``describe`` lines for a decoded document: one TD, or an array of them."""
    items = list(enumerate(raw)) if isinstance(raw, list) else [(None, raw)]
    lines: list[dict[str, Any]] = []
    for index, item in items:
        where = source if index is None else f"{source}#{index}"
        try:
            td = parse_td(item, source_url=base)
        except WotValidationError as err:
            lines.append(error_line(where, err))
        else:
            lines.append(describe_td(td, where))
    return lines


def error_line(source: str, err: Exception) -> dict[str, Any]:
    """The ``describe`` line for something that was rejected."""
    return {"source": source, "error": str(err)}


def _masked(url: str) -> str:
    """A URL for output, with any password and secret query value in it replaced by ``***``."""
    return safe_url(url)


def _is_url(argument: str) -> bool:
    return argument.lower().startswith(("http://", "https://"))


def _credentials_from_env() -> Credentials | None:
    username = os.environ.get("THINGBRIDGE_USERNAME")
    password = os.environ.get("THINGBRIDGE_PASSWORD")
    token = os.environ.get("THINGBRIDGE_TOKEN")
    if username is None and password is None and token is None:
        return None
    if password is not None and username is None:
        username = ""
    return Credentials(username=username, password=password, token=token)


async def describe_url(
    session: aiohttp.ClientSession,
    url: str,
    *,
    credentials: Credentials | None,
    allowed_hosts: frozenset[str] | None,
    request_timeout: float,
    ssl: bool,
) -> list[dict[str, Any]]:
    """The ``describe`` lines for every TD a URL leads to."""
    try:
        result = await explore(
            session,
            url,
            credentials=credentials,
            allowed_hosts=allowed_hosts,
            request_timeout=request_timeout,
            ssl=ssl,
        )
    except WotError as err:
        return [error_line(_masked(url), err)]
    lines = [describe_td(td, _masked(str(td.source_url or url))) for td in result.things]
    lines += [error_line(source, err) for source, err in result.rejected]
    return lines


def _emit(line: dict[str, Any], out: TextIO) -> None:
    out.write(json.dumps(line, ensure_ascii=False) + "\n")
    out.flush()


async def _describe(args: argparse.Namespace, out: TextIO) -> int:
    base: URL | None = args.base
    status = EXIT_OK
    allowed = frozenset(args.allow_host) if args.allow_host else None
    session: aiohttp.ClientSession | None = None
    try:
        for argument in args.sources:
            if _is_url(argument):
                if session is None:
                    session = aiohttp.ClientSession()
                lines = await describe_url(
                    session,
                    argument,
                    credentials=_credentials_from_env(),
                    allowed_hosts=allowed,
                    request_timeout=args.timeout,
                    ssl=not args.insecure,
                )
                if not lines:
                    lines = [error_line(_masked(argument), WotError("no Thing Description found"))]
            else:
                try:
                    raw = load_json_file(argument)
                    if is_thing_model(raw):
                        raw = _td_from_model(raw, argument, args)
                    lines = describe_raw(raw, argument, base)
                except (InputError, ThingModelError) as err:  # fmt: skip
                    lines = [error_line(argument, err)]
            for line in lines:
                if "error" in line:
                    status = EXIT_REJECTED
                _emit(line, out)
    finally:
        if session is not None:
            await session.close()
    return status


def _td_from_model(raw: Any, path: str, args: argparse.Namespace) -> Any:
    """The TD generated from the Thing Model ``raw`` read from ``path`` with ``--set`` values."""
    values = dict(args.set or ())
    path_arg = None if path == "-" else path
    try:
        return td_from_document(raw, path=path_arg, values=values, include=args.include or ())
    except ThingModelError as err:
        if "no value given for the placeholder" in err.reason:
            raise ThingModelError(
                err.source, err.path, f"{err.reason} (give them with --set NAME=VALUE)"
            ) from err
        raise


def _assignment(text: str) -> tuple[str, Any]:
    try:
        return parse_assignment(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _convert_modbus_yaml(args: argparse.Namespace, out: TextIO) -> int:
    status = EXIT_OK
    for path in args.files:
        try:
            things = convert_file(path)
        except ConversionError as err:
            _emit(error_line(path, err), out)
            status = EXIT_REJECTED
            continue
        for thing in things:
            if thing.unsupported or thing.td is None:
                status = EXIT_REJECTED
            _emit(thing.as_dict(path), out)
    return status


def _warn(text: str) -> None:
    sys.stderr.write(f"{PROG} watch: {text}\n")
    sys.stderr.flush()


async def _things_to_watch(
    args: argparse.Namespace, session: aiohttp.ClientSession, allowed: frozenset[str] | None
) -> list[ThingDescription]:
    """The Things at ``args.source`` (rejected entries of a directory are told on stderr).

    Raises:
        WotError: the source cannot be read or holds no usable Thing Description.
    """
    source: str = args.source
    if _is_url(source):
        result = await explore(
            session,
            source,
            credentials=_credentials_from_env(),
            allowed_hosts=allowed,
            request_timeout=args.timeout,
            ssl=not args.insecure,
        )
        for where, err in result.rejected:
            _warn(f"{where}: {err}")
        if not result.things:
            raise WotError("no usable Thing Description found")
        return result.things
    raw = load_json_file(source)
    tds = [
        parse_td(item, source_url=args.base) for item in (raw if isinstance(raw, list) else [raw])
    ]
    if allowed is None or ANY_HOST not in allowed:
        for td in tds:
            origin = td.source_url or td.base
            if origin is None or not origin.host:
                raise WotValidationError(
                    "$.base",
                    f"{td.title!r} names no base, so the host its requests may go to is "
                    "unknown: pass --base URL (the address the Thing serves its TD at)",
                )
    return tds


class _Printer:
    """Writes the ``watch`` lines; a closed output stops the watch."""

    def __init__(self, out: TextIO, stop: asyncio.Event) -> None:
        self._out = out
        self._stop = stop

    def line(
        self, td: ThingDescription, kind: Literal["property", "event"], name: str, value: Any
    ) -> None:
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        record = {
            "time": now,
            "thing": td.title,
            "id": td.id,
            "kind": kind,
            "name": name,
            "value": value,
        }
        try:
            _emit(record, self._out)
        except (OSError, ValueError):  # fmt: skip  # the reader went away (a closed pipe or file)
            self._stop.set()

    @staticmethod
    def connection(td: ThingDescription, connected: bool) -> None:
        _warn(f"{td.title!r}: " + ("connected" if connected else "disconnected; reconnecting"))


@contextlib.contextmanager
def _stopping_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """Set ``stop`` on SIGINT and SIGTERM while the block runs (where the loop can)."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):  # fmt: skip  # Windows, or not main thread
            continue
        installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def _watch(args: argparse.Namespace, out: TextIO) -> int:
    allowed = frozenset(args.allow_host) if args.allow_host else None
    stop = asyncio.Event()
    printer = _Printer(out, stop)
    watchers: list[Watcher] = []
    # Long-poll and SSE channels hold a connection each: no pool limit (as the integration).
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    with _stopping_on_signals(stop):
        try:
            try:
                tds = await _things_to_watch(args, session, allowed)
            except WotError as err:
                _warn(f"{_masked(args.source)}: {err}")
                return EXIT_REJECTED
            for td in tds:
                watcher = WotClient(
                    session,
                    td,
                    credentials=_credentials_from_env(),
                    allowed_hosts=allowed,
                    ssl=not args.insecure,
                    request_timeout=args.timeout,
                ).watch(
                    functools.partial(printer.line, td, "property"),
                    functools.partial(printer.line, td, "event"),
                    functools.partial(printer.connection, td),
                )
                if not watcher.channels:
                    _warn(
                        f"{td.title!r}: nothing to watch (no observe or subscribe form, or "
                        "WebSocket, that these credentials and host rules let it use)"
                    )
                    continue
                for channel in watcher.channels:
                    _warn(f"{td.title!r}: {channel}")
                watchers.append(watcher)
            if not watchers:
                _warn(f"{_masked(args.source)}: no push channel to watch")
                return EXIT_REJECTED
            for watcher in watchers:
                await watcher.start()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(args.seconds):
                    await stop.wait()
        finally:
            for watcher in watchers:
                await watcher.stop()
            await session.close()
    return EXIT_OK


async def _browse(args: argparse.Namespace, out: TextIO) -> int:
    try:
        services = await browse(timeout=args.timeout, interfaces=args.interface or None)
    except (OSError, ValueError) as err:
        sys.stderr.write(f"{PROG} browse: cannot listen for mDNS: {err}\n")
        return EXIT_FAILURE
    for service in services:
        _emit(asdict(service), out)
    return EXIT_OK


def _http_url(text: str) -> URL:
    """Argument type of ``--base``."""
    try:
        url = URL(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a URL: {text!r}") from err
    if url.scheme not in ("http", "https") or not url.host:
        raise argparse.ArgumentTypeError(f"not an absolute http(s) URL: {text!r}")
    return url


def _seconds(text: str) -> float:
    """Argument type of ``--timeout``."""
    try:
        value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from err
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600 seconds, got {text}")
    return value


def _duration(text: str) -> float:
    """Argument type of ``watch --seconds``."""
    try:
        value = float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from err
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Tools of ThingBridge's Web of Things library.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    describe = commands.add_parser(
        "describe",
        help="show which Home Assistant entities Thing Descriptions would become",
        description=(
            "Parse each Thing Description and print, per TD, one JSON line: "
            '{"source", "title", "entities": [{"platform", "name", "affordance", ...}], '
            '"skipped", "services": [{"affordance", "kind", "reason"}]}: every affordance '
            "is an entity, a service (reached only through Home Assistant's thingbridge "
            "actions) or skipped with its reason. "
            '"name" is null for a Thing\'s main entity, which takes the device '
            "name (the Thing's title). A rejected TD prints "
            '{"source", "error"}, the error naming the JSON path of the offending member. '
            "URLs are fetched; a directory or WebThings server expands to its Things. "
            "A file holding a JSON array is read as a list of TDs."
        ),
        epilog=(
            "Exit status: 0 when every TD was usable, 2 when any was rejected or could not be "
            "read. Credentials for URLs are read from THINGBRIDGE_USERNAME, "
            "THINGBRIDGE_PASSWORD and THINGBRIDGE_TOKEN."
        ),
    )
    describe.add_argument(
        "sources",
        nargs="+",
        metavar="TD_FILE_OR_URL",
        help=(
            "a TD or Thing Model file (JSON, at most 1 MiB; - for standard input) or an http(s) URL"
        ),
    )
    describe.add_argument(
        "--base",
        type=_http_url,
        metavar="URL",
        help="resolve relative hrefs in TD files against this URL (as if fetched from there)",
    )
    describe.add_argument(
        "--allow-host",
        action="append",
        metavar="HOST",
        help="let a directory link to HOST as well as to its own host (repeatable; * for any)",
    )
    describe.add_argument(
        "--timeout",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="timeout of each HTTP request (default: %(default)s)",
    )
    describe.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    describe.add_argument(
        "--set",
        action="append",
        type=_assignment,
        metavar="NAME=VALUE",
        help=(
            "a Thing Model placeholder's value, e.g. HOST=10.0.0.5 or PORT=502 (read as JSON "
            "when it is JSON, else as text; repeatable)"
        ),
    )
    describe.add_argument(
        "--include",
        action="append",
        metavar="NAME",
        help="keep this optional affordance of a Thing Model (repeatable; * for all)",
    )

    watch = commands.add_parser(
        "watch",
        help="print what a Thing pushes (SSE, long-poll, WebThings WebSocket) as JSON lines",
        description=(
            "Open the push channels of the Thing at SOURCE (or of every Thing of a directory) "
            "as ThingBridge does, under the same host rules, and print one JSON line per "
            'pushed value or event: {"time", "thing", "id", "kind": "property" | "event", '
            '"name", "value"}. "time" is UTC; "thing" is the title, "id" the Thing\'s id '
            "(null if none). Channel state goes to standard error. Properties the Thing "
            "cannot push are not polled."
        ),
        epilog=(
            "Runs until SIGINT/SIGTERM or for --seconds, then exits with 0; exits with 2 when "
            "SOURCE cannot be read, holds no usable TD or has nothing to watch. A TD file "
            "needs a base (in the TD, or --base). Credentials come from THINGBRIDGE_USERNAME, "
            "THINGBRIDGE_PASSWORD and THINGBRIDGE_TOKEN."
        ),
    )
    watch.add_argument(
        "source",
        metavar="SOURCE",
        help=(
            "a TD or Thing Model file (JSON, at most 1 MiB; - for standard input) or an http(s) URL"
        ),
    )
    watch.add_argument(
        "--seconds",
        type=_duration,
        metavar="N",
        help="stop after N seconds (default: until SIGINT or SIGTERM)",
    )
    watch.add_argument(
        "--base",
        type=_http_url,
        metavar="URL",
        help="the URL a TD file was served at: relative hrefs resolve against it, and it is "
        "the host requests may go to",
    )
    watch.add_argument(
        "--allow-host",
        action="append",
        metavar="HOST",
        help="let requests go to HOST (or HOST:PORT) too (repeatable; * for any), as the "
        "option to allow requests to other hosts",
    )
    watch.add_argument(
        "--timeout",
        type=_seconds,
        default=10.0,
        metavar="SECONDS",
        help="timeout of each HTTP request and handshake (default: %(default)s)",
    )
    watch.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")

    read_cmd = commands.add_parser(
        "read",
        help="read every readable property of a Thing once (HTTP and Modbus)",
        description=(
            "Read every readable property of the Thing at SOURCE once and print one JSON "
            'object: {"title", "values": {property: value}, "errors": {property: reason}}. '
            "SOURCE is a TD or Thing Model file, an http(s) URL, or the name of a shipped "
            "Thing Model (e.g. eastron-sdm630). Modbus properties are read as one plan over "
            "a connection of the command's own."
        ),
        epilog=(
            "Exit status: 0 when every property was read, 1 when some could not be (see "
            '"errors"), 2 when SOURCE cannot be used (named on standard error).'
        ),
    )
    read_cmd.add_argument(
        "source",
        metavar="SOURCE",
        help="a TD or Thing Model file (- for standard input), an http(s) URL, or the name "
        "of a shipped Thing Model",
    )
    read_cmd.add_argument(
        "--set",
        action="append",
        type=_assignment,
        metavar="NAME=VALUE",
        help="a Thing Model placeholder's value, e.g. HOST=192.0.2.5, PORT=502, UNIT_ID=1 "
        "(JSON when it is JSON, else text; repeatable)",
    )
    read_cmd.add_argument(
        "--include",
        action="append",
        metavar="NAME",
        help="keep this optional affordance of a Thing Model (repeatable; * for all)",
    )
    read_cmd.add_argument(
        "--timeout",
        type=_seconds,
        default=5.0,
        metavar="SECONDS",
        help="timeout of each request (default: %(default)s)",
    )

    browse_cmd = commands.add_parser(
        "browse",
        help="list Things, directories and WebThings servers advertised over mDNS",
        description=(
            "Listen for _wot._tcp, _directory._sub._wot._tcp and _webthing._tcp "
            "advertisements and print one JSON line per service: "
            '{"kind", "name", "url", "host", "port"}.'
        ),
    )
    browse_cmd.add_argument(
        "--timeout",
        type=_seconds,
        default=3.0,
        metavar="SECONDS",
        help="how long to listen (default: %(default)s)",
    )
    browse_cmd.add_argument(
        "--interface",
        action="append",
        metavar="ADDRESS",
        help="IP address of an interface to use (repeatable; default: all interfaces)",
    )

    convert = commands.add_parser(
        "convert-modbus-yaml",
        help="turn Home Assistant core modbus: YAML into Thing Descriptions",
        description=(
            "Read a configuration.yaml (its modbus: key), a modbus: block or one hub, and "
            "print one JSON line per (hub, unit): "
            '{"source", "hub", "unit_id", "td", "unsupported": [...]}. "td" is a Thing '
            "Description with the sensors, binary sensors and switches of that unit as "
            "properties (W3C Modbus binding modv: terms, ThingBridge tbm: terms); "
            '"unsupported" lists, with their YAML paths, the keys and entities that were '
            'not converted and why. A hub that cannot be converted prints "td": null.'
        ),
        epilog=(
            "Exit status: 0 when everything was converted, 2 when anything was left out or "
            "a file could not be read. !secret and !include values are not resolved."
        ),
    )
    convert.add_argument(
        "files", nargs="+", metavar="YAML_FILE", help="a YAML file (at most 1 MiB)"
    )
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run a command; return the exit status."""
    args = _parser().parse_args(argv)
    stream = out or sys.stdout
    if isinstance(stream, io.TextIOWrapper):
        stream.reconfigure(encoding="utf-8")
    if args.command == "convert-modbus-yaml":
        return _convert_modbus_yaml(args, stream)
    runner = {"describe": _describe, "watch": _watch, "read": run_read}.get(args.command, _browse)
    try:
        return asyncio.run(runner(args, stream))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
