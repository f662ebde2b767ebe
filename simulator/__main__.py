"""Run ThingBridge's reference Web of Things devices on real sockets.

Serves each Thing's TD at http://HOST:PORT/things/<name> (the WebThings-dialect one at
/webthings/<name>), a Thing Description Directory at /.well-known/wot and /things, and the
WebThings list at /webthings/. The plug needs the bearer token (--token); the lock needs HTTP
Basic credentials (--user/--password); each option shows its default.

State that a real device keeps across a power cycle survives a restart of the simulator: the
plug's energy meter is saved in --state-dir (default: config/.simulator/ in this checkout, next
to the development instance's Home Assistant configuration, which records the meter's history),
so after a restart it counts on instead of starting again at 12.5 kWh; its sensor is
`total_increasing`, and Home Assistant warns about a meter that goes back a little. Delete the
directory (or pass --no-state) to start from 12.5 kWh.

`python -m simulator trackers PROTOCOL ...` instead drives a simulated GPS tracker around a
lap to a tracker server (`python -m simulator trackers --help`), and `python -m simulator modbus
[DEVICE ...]` serves simulated Modbus TCP meters and inverters (`python -m simulator modbus --help`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path
import signal
import sys

from . import modbus, trackers
from .things import (
    DEFAULT_PASSWORD,
    DEFAULT_TOKEN,
    DEFAULT_TRAVEL_TIME,
    DEFAULT_USERNAME,
    THING_FACTORIES,
    build_things,
)
from .wot import WotSimulator

DEFAULT_STATE_DIR = Path(__file__).resolve().parent.parent / "config" / ".simulator"
"""Where the simulator keeps state across restarts: next to the development instance's config."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        "--wot-port",
        dest="port",
        type=int,
        default=8580,
        help="HTTP port of the Things; 0 picks a free one (default 8580)",
    )
    parser.add_argument(
        "--tick",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between state changes: drift, energy, heating (default 1.0)",
    )
    parser.add_argument(
        "--token",
        default=DEFAULT_TOKEN,
        help=f"bearer token the smart plug requires (default {DEFAULT_TOKEN!r})",
    )
    parser.add_argument(
        "--user",
        default=DEFAULT_USERNAME,
        help=f"HTTP Basic user name the door lock requires (default {DEFAULT_USERNAME!r})",
    )
    parser.add_argument(
        "--password",
        default=DEFAULT_PASSWORD,
        help=f"HTTP Basic password the door lock requires (default {DEFAULT_PASSWORD!r})",
    )
    parser.add_argument(
        "--travel-time",
        type=float,
        default=DEFAULT_TRAVEL_TIME,
        metavar="SECONDS",
        help=f"time the blinds take from closed to open (default {DEFAULT_TRAVEL_TIME:g})",
    )
    parser.add_argument(
        "--protect-tds",
        action="store_true",
        help="secured Things require their credentials for the TD too (default: TDs public)",
    )
    parser.add_argument(
        "--mdns",
        action="store_true",
        help="announce the Things over mDNS (_wot._tcp, _directory._sub._wot._tcp, "
        "_webthing._tcp) on --host; only on an address and network you own (default off)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        metavar="DIR",
        help="directory that keeps the plug's energy meter reading across restarts "
        f"(default {DEFAULT_STATE_DIR})",
    )
    parser.add_argument(
        "--no-state",
        action="store_true",
        help="keep no state: the plug's meter starts at 12.5 kWh on every start",
    )
    parser.add_argument(
        "things",
        nargs="*",
        metavar="THING",
        help=f"Things to serve (default: all of {', '.join(THING_FACTORIES)})",
    )
    return parser


async def _run(args: argparse.Namespace) -> None:
    things = build_things(
        args.things or list(THING_FACTORIES),
        token=args.token,
        username=args.user,
        password=args.password,
        travel_time=args.travel_time,
        state_dir=None if args.no_state else args.state_dir,
    )
    sim = WotSimulator(things, tick_interval=args.tick, protect_tds=args.protect_tds)
    await sim.start(args.host, args.port, advertise=args.mdns)
    for slug in sim.things:
        print(f"Thing {slug}: {sim.url_of(slug)}", flush=True)
    print(f"Directory: {sim.base_url}.well-known/wot", flush=True)
    if args.mdns:
        print(f"mDNS: announcing on {args.host}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sim.stop()


def main(argv: list[str] | None = None) -> None:
    """Entry point: the Web of Things devices, ``trackers`` (a GPS tracker) or ``modbus``."""
    args_list = sys.argv[1:] if argv is None else argv
    if args_list[:1] == ["trackers"]:
        raise SystemExit(trackers.main(args_list[1:]))
    if args_list[:1] == ["modbus"]:
        raise SystemExit(modbus.main(args_list[1:]))
    argv = args_list
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = sorted(set(args.things) - set(THING_FACTORIES))
    if unknown:
        parser.error(
            f"unknown thing(s) {', '.join(unknown)}; choose from {', '.join(THING_FACTORIES)}"
        )
    if args.tick <= 0 or args.travel_time <= 0:
        parser.error("--tick and --travel-time must be positive")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(args))


if __name__ == "__main__":
    main()
