"""Trip reports as CSV (a logbook) and GPX (each trip's start and end as a route).

Pure functions over :class:`~.trips.Trip` rows; the caller decides where the text goes.
Each row names its asset (name and tag), so one file can hold a whole fleet.
"""

from __future__ import annotations

from collections.abc import Iterable
import csv
from dataclasses import dataclass
import io
import re
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from .errors import AssetsError
from .trips import Trip

CSV_COLUMNS = (
    "asset",
    "tag",
    "start",
    "end",
    "start_latitude",
    "start_longitude",
    "end_latitude",
    "end_longitude",
    "distance_km",
    "duration_min",
    "max_speed_kmh",
    "odometer_start_km",
    "odometer_end_km",
    "estimated",
    "purpose",
)
PURPOSES = ("business", "private")
"""What a trip was for, as a logbook records it (business by default)."""
MAX_FILE_NAME = 64
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


@dataclass(frozen=True, slots=True)
class TripRow:
    """One trip of one asset, as a report lists it."""

    asset: str
    tag: str
    trip: Trip
    purpose: str = "business"

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON-ready data (the action's response)."""
        trip = self.trip
        return {
            "asset": self.asset,
            "tag": self.tag,
            "start": trip.start.isoformat(),
            "end": trip.end.isoformat(),
            "start_latitude": trip.start_latitude,
            "start_longitude": trip.start_longitude,
            "end_latitude": trip.end_latitude,
            "end_longitude": trip.end_longitude,
            "distance_m": round(trip.distance_m, 1),
            "duration_s": round(trip.duration_s),
            "max_speed_kmh": round(trip.max_speed_kmh, 1),
            "odometer_start_m": trip.odometer_start_m,
            "odometer_end_m": trip.odometer_end_m,
            "estimated": trip.estimated,
            "purpose": self.purpose,
        }


def _km(metres: float | None) -> str:
    return "" if metres is None else f"{metres / 1000:.3f}"


def trips_csv(rows: Iterable[TripRow]) -> str:
    """A CSV logbook: a header row, then one row per trip (distances in km)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        trip = row.trip
        writer.writerow(
            [
                _cell(row.asset),
                _cell(row.tag),
                trip.start.isoformat(),
                trip.end.isoformat(),
                f"{trip.start_latitude:.6f}",
                f"{trip.start_longitude:.6f}",
                f"{trip.end_latitude:.6f}",
                f"{trip.end_longitude:.6f}",
                _km(trip.distance_m),
                f"{trip.duration_s / 60:.1f}",
                f"{trip.max_speed_kmh:.1f}",
                _km(trip.odometer_start_m),
                _km(trip.odometer_end_m),
                "yes" if trip.estimated else "no",
                row.purpose,
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    """A text cell that a spreadsheet will not run as a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def trips_gpx(rows: Iterable[TripRow], creator: str = "ThingBridge") -> str:
    """A GPX 1.1 file: one route per trip, from its start to its end."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        (
            f'<gpx version="1.1" creator={quoteattr(creator)} '
            'xmlns="http://www.topografix.com/GPX/1/1">\n'
        ),
    ]
    for row in rows:
        trip = row.trip
        name = escape(f"{row.asset} ({row.tag}) {trip.start.isoformat()}")
        parts.append(f"  <rte>\n    <name>{name}</name>\n")
        for lat, lon, when in (
            (trip.start_latitude, trip.start_longitude, trip.start),
            (trip.end_latitude, trip.end_longitude, trip.end),
        ):
            parts.append(
                f'    <rtept lat="{lat:.6f}" lon="{lon:.6f}"><time>{when.isoformat()}</time>'
                "</rtept>\n"
            )
        parts.append("  </rte>\n")
    parts.append("</gpx>\n")
    return "".join(parts)


def check_file_name(name: str) -> str:
    """``name`` when it is a safe base name for a report file (no path, no extension).

    Raises:
        AssetsError: ``bad_file_name``: empty, too long, or anything but letters, digits,
            ``_`` and ``-`` (starting with a letter or digit), so no path can be formed.
    """
    if len(name) > MAX_FILE_NAME or not _FILE_NAME.fullmatch(name):
        raise AssetsError(
            f"not a safe file name: {name[:MAX_FILE_NAME]!r}",
            code="bad_file_name",
            name=name[:MAX_FILE_NAME],
        )
    return name
