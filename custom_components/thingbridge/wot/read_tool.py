"""The ``read`` command: read every readable property of a Thing once, HTTP and Modbus alike.

``python -m custom_components.thingbridge.wot read SOURCE [--set NAME=VALUE ...]`` prints one
JSON object::

    {"title": ..., "values": {property: value, ...}, "errors": {property: reason, ...}}

SOURCE is a TD or Thing Model file, an http(s) URL of a TD, or the name of a shipped Thing Model
(``eastron-sdm630`` or ``eastron-sdm630.tm.json``). ``--set`` fills a Thing Model's placeholders
(``--set HOST=192.0.2.5 --set PORT=502 --set UNIT_ID=1``). Modbus properties are read as one
plan through a connection of the command's own (``modbus_connection``, as Home Assistant's modbus
integration uses); HTTP properties one by one. A property that cannot be read is in ``errors``
with the reason; the exit status is then 1. A SOURCE that cannot be used (unreadable, not JSON,
not a TD, a placeholder without a value, a Thing with no readable property) exits with 2 and
an error on standard error naming SOURCE.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
from pathlib import Path
import sys
from typing import Any, TextIO

import aiohttp

from .client import WotClient, fetch_json
from .errors import WotError, WotValidationError
from .modbus.client import ModbusThingClient, modbus_form, open_unit, thing_endpoint
from .td import MAX_TD_BYTES, ThingDescription, parse_td
from .thing_model import (
    SHIPPED_PROFILES,
    ProfileLibrary,
    ThingModelError,
    read_json_file,
    td_from_document,
)

EXIT_OK = 0
EXIT_READ_ERRORS = 1
EXIT_UNUSABLE = 2


class SourceError(WotError):
    """SOURCE cannot be turned into a Thing Description."""


def _is_url(argument: str) -> bool:
    return argument.lower().startswith(("http://", "https://"))


def _json_safe(value: Any) -> Any:
    """Values as JSON can hold them (a NaN or infinity from a float register becomes null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


async def load_source(
    source: str,
    *,
    values: dict[str, Any],
    include: tuple[str, ...] = (),
    session: aiohttp.ClientSession | None = None,
    request_timeout: float = 10.0,
) -> ThingDescription:
    """The TD that SOURCE (file, URL or shipped Thing Model name) stands for.

    Raises :class:`SourceError` naming what is wrong.
    """
    base = None
    path: Path | None = None
    if _is_url(source):
        if session is None:
            raise SourceError(f"{source}: no HTTP session")
        try:
            raw = await fetch_json(
                session,
                source,
                accept="application/td+json, application/json;q=0.9",
                limit=MAX_TD_BYTES,
                request_timeout=request_timeout,
            )
        except WotError as err:
            raise SourceError(f"{source}: {err}") from err
        base = source
    else:
        path = Path(source)
        if not path.is_file() and source != "-":
            library = await asyncio.get_running_loop().run_in_executor(
                None, ProfileLibrary, SHIPPED_PROFILES
            )
            shipped = library.path_of(source)
            if shipped is None:
                known = ", ".join(library.ids()) or "none"
                raise SourceError(
                    f"{source}: no such file, and no shipped Thing Model of that name "
                    f"(shipped: {known})"
                )
            path = shipped
        try:
            raw = read_json_file(path) if source != "-" else _stdin_json()
        except WotError as err:
            raise SourceError(f"{source}: {err}") from err
    try:
        document = td_from_document(raw, path=path, values=values, include=include)
        return parse_td(document, source_url=base)
    except ThingModelError as err:
        hint = " (give it with --set NAME=VALUE)" if "placeholder" in err.reason else ""
        raise SourceError(f"{source}: {err}{hint}") from err
    except WotValidationError as err:
        raise SourceError(f"{source}: {err}") from err


def _stdin_json() -> Any:
    data = sys.stdin.buffer.read(MAX_TD_BYTES + 1)
    if len(data) > MAX_TD_BYTES:
        raise SourceError(f"larger than the {MAX_TD_BYTES}-byte limit")
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SourceError(f"not JSON: {err}") from err


async def read_thing(
    td: ThingDescription,
    session: aiohttp.ClientSession,
    *,
    request_timeout: float = 10.0,
) -> dict[str, Any]:
    """Read every readable property once: ``{"title", "values", "errors"}``."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    modbus_names = [
        name for name, prop in td.properties.items() if modbus_form(prop, "readproperty")
    ]
    http_names = [
        name for name, prop in td.properties.items() if prop.readable and name not in modbus_names
    ]
    if modbus_names:
        try:
            link, unit_id = thing_endpoint(td)
        except WotValidationError as err:
            errors.update(dict.fromkeys(modbus_names, str(err)))
        else:
            async with open_unit(link, unit_id, request_timeout=request_timeout) as unit:
                result = await ModbusThingClient(td, unit, timeout=request_timeout).read_all(
                    everything=True
                )
            values.update(result.values)
            errors.update(result.errors)
    if http_names:
        client = WotClient(session, td, request_timeout=request_timeout)
        gate = asyncio.Semaphore(4)

        async def read(name: str) -> None:
            async with gate:
                try:
                    values[name] = await client.read_property(name)
                except WotError as err:
                    errors[name] = str(err)

        await asyncio.gather(*(read(name) for name in http_names))
    order = list(td.properties)
    return {
        "title": td.title,
        "values": {n: _json_safe(values[n]) for n in order if n in values},
        "errors": {n: errors[n] for n in order if n in errors},
    }


async def run_read(args: argparse.Namespace, out: TextIO) -> int:
    """The ``read`` command (see the module's docstring)."""
    async with aiohttp.ClientSession() as session:
        try:
            td = await load_source(
                args.source,
                values=dict(args.set or ()),
                include=tuple(args.include or ()),
                session=session,
                request_timeout=args.timeout,
            )
        except SourceError as err:
            sys.stderr.write(f"read: {err}\n")
            return EXIT_UNUSABLE
        if not any(prop.readable for prop in td.properties.values()):
            sys.stderr.write(f"read: {args.source}: no readable property\n")
            return EXIT_UNUSABLE
        line = await read_thing(td, session, request_timeout=args.timeout)
    out.write(json.dumps(line, ensure_ascii=False) + "\n")
    out.flush()
    return EXIT_READ_ERRORS if line["errors"] else EXIT_OK
