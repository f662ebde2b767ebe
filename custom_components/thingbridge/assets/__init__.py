"""Business assets library used by ThingBridge: where an asset is, how it is used, who has it.

Pure, typed Python with no Home Assistant imports, publishable on its own (it parses on
Python 3.11). The Home Assistant glue builds the asset register on top of it:

- :mod:`.geo`: WGS84 distance, polygon geofences from GeoJSON or WKT, point-in-polygon;

This module is the library's face: callers import from here, never from a submodule.
Every error the library raises on purpose is an :class:`AssetsError` with a stable
``code`` and ``placeholders`` for translated messages.
"""

from .errors import AssetsError, GeofenceError
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

__all__ = [
    "MAX_VERTICES",
    "AssetsError",
    "Geofence",
    "GeofenceError",
    "Polygon",
    "distance_m",
    "haversine_m",
    "parse_geofence",
    "parse_geojson",
    "parse_wkt",
]
