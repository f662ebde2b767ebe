"""Command line: trips of a track file.

``python -m custom_components.thingbridge.assets trips FILE`` reads a CSV or GPX track
(see :mod:`.tracks`; the format is told from the first bytes unless ``--format`` says it)
and prints one JSON line per trip::

    {"start": ISO, "end": ISO, "distance_m": ..., "duration_s": ..., "max_speed_kmh": ...,
     "estimated": bool}

Times are UTC with their offset. A trip still in progress at the end of the file is closed
at its last fix. The trip rules are Traccar's defaults (:class:`.trips.TripConfig`); the
options below change them. The file is streamed: memory does not grow with its size.
Exit status 0 on success, 2 when the input is unusable (the error names the line and the
field) or the file cannot be read.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
import io
import json
import sys

from .errors import AssetsError
from .tracks import read_csv, read_gpx, sniff_format
from .trips import TrackFix, TripConfig, detect_trips


def _fixes(path: str, kind: str) -> Iterator[TrackFix]:
    with open(path, "rb") as raw:  # noqa: PTH123 - a path or /dev/stdin as given
        stream = io.BufferedReader(raw)
        if kind == "auto":
            kind = sniff_format(stream.peek(64)[:64])
        if kind == "gpx":
            yield from read_gpx(stream)
        else:
            text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
            try:
                yield from read_csv(text)
            except UnicodeDecodeError as err:
                raise AssetsError(
                    f"the file is not UTF-8 text ({err.reason})", code="bad_encoding"
                ) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m custom_components.thingbridge.assets",
        description="Business assets: trips of a CSV or GPX track.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    trips = commands.add_parser("trips", help="print one JSON line per trip of a track file")
    trips.add_argument("file", help="a CSV or GPX track")
    trips.add_argument("--format", choices=("auto", "csv", "gpx"), default="auto")
    defaults = TripConfig()
    trips.add_argument("--min-distance", type=float, default=defaults.min_distance_m, help="m")
    trips.add_argument("--min-duration", type=float, default=defaults.min_duration_s, help="s")
    trips.add_argument("--stop-gap", type=float, default=defaults.stop_gap_s, help="s")
    args = parser.parse_args(argv)
    try:
        config = TripConfig(
            min_distance_m=args.min_distance,
            min_duration_s=args.min_duration,
            stop_gap_s=args.stop_gap,
        )
        report = detect_trips(_fixes(args.file, args.format), config, close_open=True)
    except AssetsError as err:
        sys.stderr.write(f"error: {args.file}: {err}\n")
        return 2
    except OSError as err:
        sys.stderr.write(f"error: {args.file}: {err.strerror or err}\n")
        return 2
    out = sys.stdout
    for trip in report.trips:
        out.write(json.dumps(trip.summary()) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
