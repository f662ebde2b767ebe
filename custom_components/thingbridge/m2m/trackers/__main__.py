"""Command line: decode tracker frames to JSON lines.

``python -m custom_components.thingbridge.m2m.trackers decode --protocol NAME INPUT…``
prints one JSON line per decoded frame or error; exit status 0 when everything decoded,
2 when any error was reported. ``--list`` prints the protocols and Traccar's ports.
``--protocol traccar`` decodes documents a Traccar server forwards (one JSON document per
input or stdin line, :mod:`.traccar_forward`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import json
import re
import sys
from typing import TextIO

from . import ALIASES, PROTOCOLS, create_decoder
from .errors import FrameError, ProtocolError
from .model import Frame
from .osmand import parse_text
from .serialize import item_to_dict
from .stream import Item
from .teltonika import TeltonikaUdpDecoder
from .traccar_forward import PROTOCOL as TRACCAR, decode_forwarded

_BINARY = {"teltonika", "gt06"}
_HEX_SEPARATORS = re.compile(r"[\s:]|0x", re.IGNORECASE)
_HEX = re.compile(r"^(?:[0-9a-fA-F]{2})+$")


def _as_hex(text: str) -> bytes | None:
    compact = _HEX_SEPARATORS.sub("", text)
    return bytes.fromhex(compact) if compact and _HEX.match(compact) else None


def _input_bytes(text: str, protocol: str, mode: str) -> bytes:
    if mode == "text":
        return text.encode("utf-8")
    data = _as_hex(text)
    if mode == "hex" or protocol in _BINARY:
        if data is None:
            raise FrameError(
                "input is not hex (pairs of hex digits, spaces or colons allowed)",
                protocol=protocol,
            )
        return data
    if data is not None and protocol == "h02" and not text.lstrip().startswith("*"):
        return data
    return text.encode("utf-8")


def _is_teltonika_udp(data: bytes) -> bool:
    return (
        len(data) > 8
        and int.from_bytes(data[0:2], "big") == len(data) - 2
        and data[4] == 0x01
        and not data[2:].isdigit()
    )


def decode(
    protocol: str,
    inputs: Sequence[str],
    *,
    lenient: bool,
    mode: str,
    transport: str,
    device_id: str | None,
) -> list[Item]:
    """Decode the inputs (consecutive chunks of one stream) into frames and errors."""
    name = ALIASES.get(protocol, protocol)
    items: list[Item] = []
    if name == "osmand":
        for text in inputs:
            try:
                items.extend(
                    Frame(
                        protocol=name, kind="http", device_id=r.device_id, messages=(r,), raw=r.raw
                    )
                    for r in parse_text(text)
                )
            except ProtocolError as err:
                items.append(err)
        return items
    if name == TRACCAR:
        for text in inputs:
            try:
                position = decode_forwarded(text).position
            except ProtocolError as err:
                items.append(err)
            else:
                items.append(
                    Frame(
                        protocol=name,
                        kind="forward",
                        device_id=position.device_id,
                        messages=(position,),
                        raw=text.encode("utf-8", "replace"),
                    )
                )
        return items
    chunks: list[bytes] = []
    for text in inputs:
        try:
            chunks.append(_input_bytes(text, name, mode))
        except ProtocolError as err:
            items.append(err)
    if name == "teltonika" and (
        transport == "udp"
        or (transport == "auto" and chunks and all(_is_teltonika_udp(c) for c in chunks))
    ):
        udp = TeltonikaUdpDecoder(lenient=lenient)
        for chunk in chunks:
            items.extend(udp.decode_datagram(chunk))
        return items
    decoder = create_decoder(name, lenient=lenient, device_id=device_id)
    if transport == "udp":
        for chunk in chunks:
            items.extend(decoder.decode_datagram(chunk))
        return items
    for chunk in chunks:
        items.extend(decoder.feed(chunk))
    items.extend(decoder.flush())
    return items


def _list(out: TextIO) -> None:
    for info in PROTOCOLS.values():
        alias = f" (Traccar: {info.traccar_name})" if info.traccar_name != info.name else ""
        out.write(
            f"{info.name:<10} {info.port:>5}  {'/'.join(info.transports):<8} {info.description}{alias}\n"
        )


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; return the exit status."""
    stream = out or sys.stdout
    parser = argparse.ArgumentParser(
        prog="python -m custom_components.thingbridge.m2m.trackers",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument(
        "--list", action="store_true", help="list the protocols and their Traccar default ports"
    )
    sub = parser.add_subparsers(dest="command")
    dec = sub.add_parser("decode", help="decode frames given as hex or text")
    dec.add_argument(
        "--protocol",
        "-p",
        choices=sorted([*PROTOCOLS, *ALIASES, TRACCAR]),
        help="protocol name (traccar: JSON a Traccar server forwards)",
    )
    dec.add_argument(
        "--list", action="store_true", help="list the protocols and their Traccar default ports"
    )
    dec.add_argument(
        "--lenient", action="store_true", help="accept bad checksums (marked checksum_ok=false)"
    )
    dec.add_argument(
        "--hex",
        dest="mode",
        action="store_const",
        const="hex",
        default="auto",
        help="inputs are hex",
    )
    dec.add_argument(
        "--text", dest="mode", action="store_const", const="text", help="inputs are text"
    )
    dec.add_argument(
        "--transport",
        choices=["auto", "tcp", "udp"],
        default="auto",
        help="tcp: inputs are chunks of one stream; udp: each input is a datagram",
    )
    dec.add_argument(
        "--device-id",
        default="unknown",
        help="ID for data frames when no login precedes them (Teltonika, GT06)",
    )
    dec.add_argument(
        "inputs",
        nargs="*",
        metavar="HEX_OR_TEXT",
        help="frames (hex with spaces/colons, or text); '-' or none reads stdin",
    )
    sub.add_parser("list", help="list the protocols and their Traccar default ports")
    args = parser.parse_args(argv)
    if args.list or args.command == "list":
        _list(stream)
        return 0
    if args.command != "decode":
        parser.print_usage(sys.stderr)
        return 2
    if not args.protocol:
        dec.error("--protocol is required")
    inputs = list(args.inputs)
    if not inputs or inputs == ["-"]:
        text = sys.stdin.read()
        inputs = (
            [text]
            if args.protocol in ("osmand", "traccar-client") or args.mode == "text"
            else [line for line in text.splitlines() if line.strip()]
        )
    items = decode(
        args.protocol,
        inputs,
        lenient=args.lenient,
        mode=args.mode,
        transport=args.transport,
        device_id=args.device_id,
    )
    failed = False
    for item in items:
        failed = failed or isinstance(item, ProtocolError)
        stream.write(json.dumps(item_to_dict(item), ensure_ascii=False, sort_keys=False) + "\n")
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
