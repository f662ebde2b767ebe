"""Business assets library used by ThingBridge: where an asset is, how it is used, who has it.

Pure, typed Python with no Home Assistant imports, publishable on its own (it parses on
Python 3.11). The Home Assistant glue builds the asset register on top of it:

- :mod:`.geo`: WGS84 distance, polygon geofences from GeoJSON or WKT, point-in-polygon;
- :mod:`.trips`: trip detection after Traccar 6.12 (incremental :class:`TripDetector` and
  batch :func:`detect_trips`, same results), ignition, odometer, late and resent fixes;
- :mod:`.tracks`: CSV and GPX track files read as a stream of :class:`TrackFix`;

This module is the library's face: callers import from here, never from a submodule.
Every error the library raises on purpose is an :class:`AssetsError` with a stable
``code`` and ``placeholders`` for translated messages.
"""

from .errors import AssetsError, GeofenceError, StateError, TrackError
from .geo import (
    MAX_VERTICES,
    Geofence,
    Polygon,
    distance_m,
    haversine_m,
    parse_geofence,
    parse_geojson,
    parse_wkt,
)
from .tracks import read_csv, read_gpx
from .trips import (
    FixIgnored,
    OpenTrip,
    PositionLike,
    TrackFix,
    Trip,
    TripConfig,
    TripDetector,
    TripEnded,
    TripEvent,
    TripProgress,
    TripReport,
    TripsRevised,
    TripStarted,
    detect_trips,
)

__all__ = [
    "MAX_VERTICES",
    "AssetsError",
    "FixIgnored",
    "Geofence",
    "GeofenceError",
    "OpenTrip",
    "Polygon",
    "PositionLike",
    "StateError",
    "TrackError",
    "TrackFix",
    "Trip",
    "TripConfig",
    "TripDetector",
    "TripEnded",
    "TripEvent",
    "TripProgress",
    "TripReport",
    "TripStarted",
    "TripsRevised",
    "detect_trips",
    "distance_m",
    "haversine_m",
    "parse_geofence",
    "parse_geojson",
    "parse_wkt",
    "read_csv",
    "read_gpx",
]
