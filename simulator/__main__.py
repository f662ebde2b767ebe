"""Run the reference devices: ``python -m simulator [--host H] [--wot-port P] [THING ...]``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from .wot import THING_FACTORIES, WotSimulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--wot-port", type=int, default=8580, help="HTTP port of the Things (default 8580)"
    )
    parser.add_argument(
        "things",
        nargs="*",
        metavar="THING",
        help=f"Things to serve (default: all of {', '.join(THING_FACTORIES)})",
    )
    return parser


async def _run(args: argparse.Namespace) -> None:
    names = args.things or list(THING_FACTORIES)
    sim = WotSimulator([THING_FACTORIES[name]() for name in names])
    await sim.start(args.host, args.wot_port)
    for slug in sim.things:
        print(f"Thing {slug}: {sim.base_url}things/{slug}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sim.stop()


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = sorted(set(args.things) - set(THING_FACTORIES))
    if unknown:
        parser.error(
            f"unknown thing(s) {', '.join(unknown)}; choose from {', '.join(THING_FACTORIES)}"
        )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run(args))


if __name__ == "__main__":
    main()
