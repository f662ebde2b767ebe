"""Command-line tools: ``describe`` (a dry run of the entity mapping) and ``browse`` (mDNS).

``python -m custom_components.thingbridge.wot describe TD_FILE_OR_URL...`` prints one JSON line
per Thing Description::

    {"source": ..., "title": ..., "entities": [{"platform": ..., "name": ..., "affordance": ...}, ...],
     "skipped": [...]}

``name`` is ``null`` for a Thing's main entity (a light, lock, climate ... built from several
affordances): in Home Assistant that entity takes the device's name, which is the Thing's
``title``. Entities may carry ``roles``, ``device_class``, ``unit`` and ``enabled_default``
too. ``skipped`` lists the affordances that were left out, each with the JSON path of what is
wrong. A TD that is rejected gives ``{"source": ..., "error": ...}`` instead; the error names
the JSON path of the offending member. A URL is explored (a directory or a WebThings server
expands to its Things). The exit status is 0 when every TD was usable and 2 otherwise.

``python -m custom_components.thingbridge.wot browse`` prints one JSON line per service found
on the local network.

Credentials for URLs come from the environment, so they stay out of shell history and process
listings: ``THINGBRIDGE_USERNAME``, ``THINGBRIDGE_PASSWORD``, ``THINGBRIDGE_TOKEN``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import asdict
import io
import json
import os
from pathlib import Path
import sys
from typing import Any, TextIO

import aiohttp
from yarl import URL

from .client import Credentials
from .discovery import browse, explore
from .errors import WotError, WotValidationError
from .mapping import map_thing
from .security import safe_url
from .td import MAX_TD_BYTES, ThingDescription, parse_td

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
    return {
        "source": source,
        "title": td.title,
        "entities": [spec.as_dict() for spec in map_thing(td)],
        "skipped": [str(err) for err in td.skipped],
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
                    lines = describe_raw(load_json_file(argument), argument, base)
                except InputError as err:
                    lines = [error_line(argument, err)]
            for line in lines:
                if "error" in line:
                    status = EXIT_REJECTED
                _emit(line, out)
    finally:
        if session is not None:
            await session.close()
    return status


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
            '"skipped"}. "name" is null for a Thing\'s main entity, which takes the device '
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
        help="a TD file (JSON, at most 1 MiB; - for standard input) or an http(s) URL",
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
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run a command; return the exit status."""
    args = _parser().parse_args(argv)
    stream = out or sys.stdout
    if isinstance(stream, io.TextIOWrapper):
        stream.reconfigure(encoding="utf-8")
    runner = _describe if args.command == "describe" else _browse
    try:
        return asyncio.run(runner(args, stream))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
