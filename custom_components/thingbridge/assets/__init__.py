"""Business assets library used by ThingBridge: where an asset is, how it is used, who has it.

Pure, typed Python with no Home Assistant imports, publishable on its own (it parses on
Python 3.11). The Home Assistant glue builds the asset register on top of it:

- :mod:`.geo`: WGS84 distance, polygon geofences from GeoJSON or WKT, point-in-polygon;
- :mod:`.trips`: trip detection after Traccar 6.12 (incremental :class:`TripDetector` and
  batch :func:`detect_trips`, same results), ignition, odometer, late and resent fixes;
- :mod:`.tracks`: CSV and GPX track files read as a stream of :class:`TrackFix`;
- :mod:`.utilization`: hours in use, distance and trips per local day and in total;
- :mod:`.maintenance`: plans by engine hours, km or days (whichever first), due
  information for a scheduler, completion log;
- :mod:`.custody`: statuses, check-out/check-in, overdue; sequential asset tags.

``python -m custom_components.thingbridge.assets trips FILE`` prints a track's trips.

This module is the library's face: callers import from here, never from a submodule.
Every error the library raises on purpose is an :class:`AssetsError` with a stable
``code`` and ``placeholders`` for translated messages.
"""

from .custody import (
    ALLOWED,
    AssetStatus,
    CheckOut,
    Custody,
    CustodyRecord,
    check_prefix,
    check_tag,
    next_tag,
)
from .errors import (
    AssetsError,
    CustodyError,
    GeofenceError,
    MaintenanceError,
    StateError,
    TrackError,
)
from .geo import (
    MAX_VERTICES,
    Geofence,
    GeofenceSet,
    Polygon,
    distance_m,
    haversine_m,
    parse_geofence,
    parse_geojson,
    parse_wkt,
)
from .maintenance import (
    Completion,
    MaintenanceDue,
    MaintenancePlan,
    MeasureDue,
    Readings,
)
from .report import PURPOSES, TripRow, check_file_name, trips_csv, trips_gpx
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
from .utilization import Usage, UsageConfig, UsageCounter

__all__ = [
    "ALLOWED",
    "MAX_VERTICES",
    "PURPOSES",
    "AssetStatus",
    "AssetsError",
    "CheckOut",
    "Completion",
    "Custody",
    "CustodyError",
    "CustodyRecord",
    "FixIgnored",
    "Geofence",
    "GeofenceError",
    "GeofenceSet",
    "MaintenanceDue",
    "MaintenanceError",
    "MaintenancePlan",
    "MeasureDue",
    "OpenTrip",
    "Polygon",
    "PositionLike",
    "Readings",
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
    "TripRow",
    "TripStarted",
    "TripsRevised",
    "Usage",
    "UsageConfig",
    "UsageCounter",
    "check_file_name",
    "check_prefix",
    "check_tag",
    "detect_trips",
    "distance_m",
    "haversine_m",
    "next_tag",
    "parse_geofence",
    "parse_geojson",
    "parse_wkt",
    "read_csv",
    "read_gpx",
    "trips_csv",
    "trips_gpx",
]
