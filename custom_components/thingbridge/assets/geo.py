"""Geodesic distance and polygon geofences, in pure Python.

**Distance.** :func:`distance_m` is the ellipsoidal (WGS84) distance, not a sphere's:

- steps shorter than about 30 km (every step between two fixes of a moving asset) use the
  local ellipsoid: north-south with the meridian radius of curvature and east-west with the
  prime-vertical radius at the mean latitude. That costs what a haversine costs (one
  ``sin``, one ``cos``, two square roots) and stays within 0.01 % of Vincenty's geodesic,
  where a haversine on any one sphere is off by up to 0.3-0.5 % depending on latitude and
  heading (Traccar's R = 6,378,137 m: +0.08 % north-south, -0.20 % east-west at 50° N);
- longer distances use Vincenty's inverse formula on WGS84 (what Home Assistant's
  ``homeassistant.util.location`` uses), falling back to a haversine on the mean radius for
  nearly antipodal points where Vincenty does not converge.

:func:`haversine_m` is the plain spherical formula on the IUGG mean radius R1 = 6,371,008.8 m,
kept for comparison and for callers that want it.

**Geofences.** :func:`parse_geofence` reads a polygon from GeoJSON (``Polygon``,
``MultiPolygon``, or a ``Feature`` holding one) or WKT (``POLYGON``/``MULTIPOLYGON``,
longitude first as the standard says, or latitude first as Traccar stores it with
``axis_order="latlon"``), holes included. It validates everything and raises a
:class:`~.errors.GeofenceError` that names what is wrong (which polygon, ring and vertex):

- at most :data:`MAX_VERTICES` vertices in all (the closing repeat of a ring's first vertex
  is not counted), rings closed, at least 3 distinct vertices each, no zero area, no edge
  crossing another (rings must be simple and not cross each other);
- latitudes in [-90, 90], longitudes in [-180, 180], finite numbers only;
- hostile input is bounded: the text is refused above :data:`MAX_TEXT` characters before any
  parsing, nesting and token count are bounded by the grammar, so time and memory are too.

:meth:`Geofence.contains` is an even-odd ray cast in the longitude/latitude plane (edges
are straight in degrees, as in GeoJSON, WKT, Traccar and every map editor), after a
bounding-box test; each polygon's edges are indexed by latitude band, so a point tests only
the few edges of its band, not all of them. Points exactly on an edge may fall either way.

:class:`GeofenceSet` holds many geofences (an asset's) and answers which hold a point,
testing only those whose bounding box does (a grid over the boxes): the cost of a position
update follows the geofences near it, not their number.

**Antimeridian.** A ring whose consecutive vertices jump more than 180° in longitude is
taken to cross the antimeridian (``179.9`` to ``-179.9`` is a 0.2° step east), which is
how people draw such polygons; RFC 7946's recommended form (a ``MultiPolygon`` split at
±180°) works as well. A ring that encircles a pole is refused (``encircles_pole``).

No third-party geometry library: shapely is not a Home Assistant dependency (it would be a
new binary wheel requirement for a ray cast and a distance formula), and geographiclib is
not installed with Home Assistant either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
import itertools
import json
import math
import re
from typing import Any, Literal

from .errors import GeofenceError

WGS84_A = 6_378_137.0
"""WGS84 semi-major axis (m)."""
WGS84_F = 1 / 298.257223563
"""WGS84 flattening."""
WGS84_B = WGS84_A * (1 - WGS84_F)
_E2 = WGS84_F * (2 - WGS84_F)
MEAN_RADIUS_M = 6_371_008.8
"""IUGG mean Earth radius R1 = (2a + b) / 3 (m)."""

MAX_VERTICES = 500
"""Most vertices a geofence may have, over all its rings."""
MAX_TEXT = 65_536
"""Longest GeoJSON or WKT text accepted (characters)."""
_LOCAL_LIMIT = 0.005  # radians (about 32 km): below, the local-ellipsoid formula
_RAD = math.pi / 180

AxisOrder = Literal["lonlat", "latlon"]


def haversine_m(
    lat1: float, lon1: float, lat2: float, lon2: float, radius: float = MEAN_RADIUS_M
) -> float:
    """Great-circle distance on a sphere of ``radius`` metres (degrees in)."""
    p1 = lat1 * _RAD
    p2 = lat2 * _RAD
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin((lon2 - lon1) * _RAD / 2) ** 2
    )
    return 2 * radius * math.asin(math.sqrt(min(1.0, a)))


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Distance in metres between two points on the WGS84 ellipsoid (degrees in).

    See the module's docstring for the method and its accuracy.
    """
    dlat = (lat2 - lat1) * _RAD
    dlon = (lon2 - lon1) * _RAD
    if dlon > math.pi:
        dlon -= 2 * math.pi
    elif dlon < -math.pi:
        dlon += 2 * math.pi
    if -_LOCAL_LIMIT < dlat < _LOCAL_LIMIT and -_LOCAL_LIMIT < dlon < _LOCAL_LIMIT:
        phi = (lat1 + lat2) * (_RAD / 2)
        s = math.sin(phi)
        w2 = 1 - _E2 * s * s
        w = math.sqrt(w2)
        north = WGS84_A * (1 - _E2) / (w2 * w) * dlat  # meridian radius x dlat
        east = WGS84_A / w * math.cos(phi) * dlon  # prime-vertical radius x cos x dlon
        return math.sqrt(north * north + east * east)
    return vincenty_m(lat1, lon1, lat2, lon2)


def vincenty_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Vincenty's inverse formula on WGS84 (metres), haversine when it does not converge."""
    if lat1 == lat2 and lon1 == lon2:
        return 0.0
    f = WGS84_F
    u1 = math.atan((1 - f) * math.tan(lat1 * _RAD))
    u2 = math.atan((1 - f) * math.tan(lat2 * _RAD))
    big_l = (lon2 - lon1) * _RAD
    lam = big_l
    sin_u1, cos_u1 = math.sin(u1), math.cos(u1)
    sin_u2, cos_u2 = math.sin(u2), math.cos(u2)
    for _ in range(200):
        sin_lam, cos_lam = math.sin(lam), math.cos(lam)
        sin_sigma = math.hypot(cos_u2 * sin_lam, cos_u1 * sin_u2 - sin_u1 * cos_u2 * cos_lam)
        if sin_sigma == 0:
            return 0.0
        cos_sigma = sin_u1 * sin_u2 + cos_u1 * cos_u2 * cos_lam
        sigma = math.atan2(sin_sigma, cos_sigma)
        sin_alpha = cos_u1 * cos_u2 * sin_lam / sin_sigma
        cos2_alpha = 1 - sin_alpha * sin_alpha
        cos_2sm = cos_sigma - 2 * sin_u1 * sin_u2 / cos2_alpha if cos2_alpha else 0.0
        c = f / 16 * cos2_alpha * (4 + f * (4 - 3 * cos2_alpha))
        previous = lam
        lam = big_l + (1 - c) * f * sin_alpha * (
            sigma + c * sin_sigma * (cos_2sm + c * cos_sigma * (-1 + 2 * cos_2sm * cos_2sm))
        )
        if abs(lam - previous) < 1e-12:
            break
    else:
        return haversine_m(lat1, lon1, lat2, lon2)
    u_sq = cos2_alpha * (WGS84_A**2 - WGS84_B**2) / WGS84_B**2
    a = 1 + u_sq / 16384 * (4096 + u_sq * (-768 + u_sq * (320 - 175 * u_sq)))
    b = u_sq / 1024 * (256 + u_sq * (-128 + u_sq * (74 - 47 * u_sq)))
    delta_sigma = (
        b
        * sin_sigma
        * (
            cos_2sm
            + b
            / 4
            * (
                cos_sigma * (-1 + 2 * cos_2sm * cos_2sm)
                - b / 6 * cos_2sm * (-3 + 4 * sin_sigma**2) * (-3 + 4 * cos_2sm * cos_2sm)
            )
        )
    )
    return WGS84_B * a * (sigma - delta_sigma)


# -- geofences ---------------------------------------------------------------------------------

Ring = tuple[tuple[float, float], ...]
"""A closed ring of ``(longitude, latitude)`` vertices, first vertex repeated last."""


@dataclass(frozen=True, slots=True)
class Polygon:
    """One polygon: an exterior ring and its holes, as given (longitudes in [-180, 180])."""

    exterior: Ring
    holes: tuple[Ring, ...] = ()


_Edge = tuple[float, float, float, float]  # y1, y2, x1, dx/dy (y1 != y2)


@dataclass(frozen=True, slots=True)
class _Shape:
    """A polygon ready for point tests: unwrapped longitudes, bbox, edges by latitude band."""

    west: float
    south: float
    east: float
    north: float
    band_height: float
    bands: tuple[tuple[_Edge, ...], ...]

    def contains(self, lon: float, lat: float) -> bool:
        if not (self.south <= lat <= self.north):
            return False
        if not (self.west <= lon <= self.east):
            lon += 360.0  # the shape may be unwrapped east of 180
            if not (self.west <= lon <= self.east):
                return False
        band = int((lat - self.south) / self.band_height)
        inside = False
        for y1, y2, x1, slope in self.bands[min(band, len(self.bands) - 1)]:
            if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * slope:
                inside = not inside
        return inside


@dataclass(frozen=True, slots=True)
class Geofence:
    """A validated polygon geofence (one or more polygons, with holes).

    Build it with :func:`parse_geofence`, :func:`parse_geojson` or :func:`parse_wkt`.
    """

    polygons: tuple[Polygon, ...]
    _shapes: tuple[_Shape, ...] = field(repr=False, compare=False)

    @property
    def vertex_count(self) -> int:
        """Vertices over all rings, each ring's closing vertex not counted."""
        return sum(
            len(ring) - 1
            for polygon in self.polygons
            for ring in (polygon.exterior, *polygon.holes)
        )

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` in degrees.

        ``east`` exceeds 180 for a polygon across the antimeridian.
        """
        return (
            min(s.west for s in self._shapes),
            min(s.south for s in self._shapes),
            max(s.east for s in self._shapes),
            max(s.north for s in self._shapes),
        )

    def contains(self, latitude: float, longitude: float) -> bool:
        """Whether the point is inside (not in a hole of) one of the polygons."""
        return any(shape.contains(longitude, latitude) for shape in self._shapes)

    def to_geojson(self) -> dict[str, Any]:
        """The geofence as a GeoJSON geometry (``Polygon`` or ``MultiPolygon``)."""
        rings = [
            [[list(v) for v in ring] for ring in (p.exterior, *p.holes)] for p in self.polygons
        ]
        if len(rings) == 1:
            return {"type": "Polygon", "coordinates": rings[0]}
        return {"type": "MultiPolygon", "coordinates": rings}

    def to_wkt(self, axis_order: AxisOrder = "lonlat") -> str:
        """The geofence as WKT, longitude first unless ``axis_order="latlon"`` (Traccar)."""

        def ring_text(ring: Ring) -> str:
            pairs = ((x, y) if axis_order == "lonlat" else (y, x) for x, y in ring)
            return "(" + ", ".join(f"{a!r} {b!r}" for a, b in pairs) + ")"

        def polygon_text(p: Polygon) -> str:
            return "(" + ", ".join(ring_text(r) for r in (p.exterior, *p.holes)) + ")"

        if len(self.polygons) == 1:
            return "POLYGON " + polygon_text(self.polygons[0])
        return "MULTIPOLYGON (" + ", ".join(polygon_text(p) for p in self.polygons) + ")"


def parse_geofence(data: str | Mapping[str, Any], axis_order: AxisOrder = "lonlat") -> Geofence:
    """A geofence from GeoJSON (text or a parsed mapping) or WKT text.

    The two are told apart by their first character. ``axis_order`` applies to WKT only
    (GeoJSON is always longitude first).
    """
    if isinstance(data, Mapping):
        return parse_geojson(data)
    if not isinstance(data, str):
        raise GeofenceError("a geofence must be GeoJSON or WKT text", code="not_text")
    text = _bounded(data)
    if text.startswith(("{", "[")):
        return parse_geojson(text)
    return parse_wkt(text, axis_order)


def _bounded(text: str) -> str:
    if len(text) > MAX_TEXT:
        raise GeofenceError(
            f"geofence text too long: {len(text)} characters (at most {MAX_TEXT})",
            code="too_long",
            length=len(text),
            limit=MAX_TEXT,
        )
    stripped = text.strip()
    if not stripped:
        raise GeofenceError("geofence text is empty", code="empty")
    return stripped


def parse_geojson(data: str | Mapping[str, Any]) -> Geofence:
    """A geofence from a GeoJSON ``Polygon``, ``MultiPolygon`` or ``Feature`` holding one."""
    if isinstance(data, str):
        text = _bounded(data)
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as err:  # fmt: skip
            raise GeofenceError(
                f"not valid JSON: {err}", code="bad_json", detail=str(err)[:200]
            ) from None
    if not isinstance(data, Mapping):
        raise GeofenceError("GeoJSON must be an object", code="not_geometry", kind="non-object")
    if data.get("type") == "Feature":
        geometry = data.get("geometry")
        if not isinstance(geometry, Mapping):
            raise GeofenceError("the Feature has no geometry", code="no_geometry")
        data = geometry
    kind = data.get("type")
    coordinates = data.get("coordinates")
    if kind == "Polygon":
        raw = [coordinates]
    elif kind == "MultiPolygon":
        if not isinstance(coordinates, list) or not coordinates:
            raise GeofenceError(
                "MultiPolygon coordinates must be a non-empty list of polygons",
                code="bad_structure",
                where="coordinates",
            )
        raw = coordinates
    else:
        raise GeofenceError(
            f"GeoJSON type {str(kind)[:40]!r} is not a Polygon or MultiPolygon",
            code="not_polygon",
            kind=str(kind)[:40],
        )
    polygons: list[list[list[tuple[float, float]]]] = []
    for p, rings in enumerate(raw):
        if not isinstance(rings, list) or not rings:
            raise GeofenceError(
                f"polygon {p + 1}: coordinates must be a non-empty list of rings",
                code="bad_structure",
                where=f"polygon {p + 1}",
            )
        polygon: list[list[tuple[float, float]]] = []
        for r, ring in enumerate(rings):
            where = f"polygon {p + 1}, ring {r + 1}"
            if not isinstance(ring, list):
                raise GeofenceError(
                    f"{where}: a ring must be a list of positions",
                    code="bad_structure",
                    where=where,
                )
            _check_count(len(ring))
            points: list[tuple[float, float]] = []
            for v, position in enumerate(ring):
                if not isinstance(position, list) or len(position) not in (2, 3):
                    raise GeofenceError(
                        f"{where}, vertex {v + 1}: a position must be [longitude, latitude]",
                        code="bad_position",
                        where=f"{where}, vertex {v + 1}",
                    )
                points.append(_coordinate(position[0], position[1], f"{where}, vertex {v + 1}"))
            polygon.append(points)
        polygons.append(polygon)
    return _build(polygons)


_TOKEN = re.compile(
    r"\s*(?:(?P<word>[A-Za-z]+)|(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"|(?P<punct>[(),])|(?P<other>\S))"
)


def parse_wkt(text: str, axis_order: AxisOrder = "lonlat") -> Geofence:
    """A geofence from WKT ``POLYGON`` or ``MULTIPOLYGON`` text.

    ``Z``/``M`` coordinates are allowed and ignored. ``axis_order="latlon"`` reads Traccar's
    latitude-first WKT.
    """
    text = _bounded(text)
    tokens: list[tuple[str, str, int]] = []
    position = 0
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        value = match.group(kind)
        column = match.start(kind) + 1
        if kind == "other":
            raise GeofenceError(
                f"WKT: unexpected character {value!r} at column {column}",
                code="bad_wkt",
                detail=f"unexpected {value!r} at column {column}",
            )
        tokens.append((kind, value, column))
        position = match.end()
    if text[position:].strip():  # pragma: no cover - the pattern consumes everything
        raise GeofenceError("WKT: trailing text", code="bad_wkt", detail="trailing text")
    reader = _WktReader(tokens, axis_order)
    return _build(reader.geometry())


class _WktReader:
    def __init__(self, tokens: list[tuple[str, str, int]], axis_order: AxisOrder) -> None:
        self.tokens = tokens
        self.at = 0
        self.latlon = axis_order == "latlon"
        self.vertices = 0

    def _fail(self, expected: str) -> GeofenceError:
        if self.at < len(self.tokens):
            _, value, column = self.tokens[self.at]
            found = f"{value!r} at column {column}"
        else:
            found = "the end of the text"
        detail = f"expected {expected}, found {found}"
        return GeofenceError(f"WKT: {detail}", code="bad_wkt", detail=detail)

    def _next(self, kind: str, value: str | None = None, expected: str = "") -> str:
        if self.at < len(self.tokens):
            k, v, _ = self.tokens[self.at]
            if k == kind and (value is None or v == value):
                self.at += 1
                return v
        raise self._fail(expected or repr(value))

    def _peek(self, value: str) -> bool:
        return self.at < len(self.tokens) and self.tokens[self.at][1] == value

    def geometry(self) -> list[list[list[tuple[float, float]]]]:
        word = self._next("word", expected="POLYGON or MULTIPOLYGON").upper()
        if word not in ("POLYGON", "MULTIPOLYGON"):
            raise GeofenceError(
                f"WKT type {word[:40]!r} is not a POLYGON or MULTIPOLYGON",
                code="not_polygon",
                kind=word[:40],
            )
        if self.at < len(self.tokens) and self.tokens[self.at][0] == "word":
            dims = self.tokens[self.at][1].upper()
            if dims == "EMPTY":
                raise GeofenceError("WKT: the geometry is EMPTY", code="empty")
            if dims not in ("Z", "M", "ZM"):
                raise self._fail("'('")
            self.at += 1
        if word == "POLYGON":
            polygons = [self._polygon(1)]
        else:
            self._next("punct", "(")
            polygons = [self._polygon(1)]
            while self._peek(","):
                self.at += 1
                polygons.append(self._polygon(len(polygons) + 1))
            self._next("punct", ")", "')' or ','")
        if self.at != len(self.tokens):
            raise self._fail("the end of the text")
        return polygons

    def _polygon(self, number: int) -> list[list[tuple[float, float]]]:
        self._next("punct", "(")
        rings = [self._ring(f"polygon {number}, ring 1")]
        while self._peek(","):
            self.at += 1
            rings.append(self._ring(f"polygon {number}, ring {len(rings) + 1}"))
        self._next("punct", ")", "')' or ','")
        return rings

    def _ring(self, where: str) -> list[tuple[float, float]]:
        self._next("punct", "(")
        points: list[tuple[float, float]] = []
        while True:
            self.vertices += 1
            _check_count(self.vertices)
            first = float(self._next("number", expected="a number"))
            second = float(self._next("number", expected="a number"))
            if self.at < len(self.tokens) and self.tokens[self.at][0] == "number":
                self.at += 1  # Z or M
                if self.at < len(self.tokens) and self.tokens[self.at][0] == "number":
                    self.at += 1  # ZM
            lon, lat = (second, first) if self.latlon else (first, second)
            points.append(_coordinate(lon, lat, f"{where}, vertex {len(points) + 1}"))
            if self._peek(","):
                self.at += 1
                continue
            self._next("punct", ")", "')' or ','")
            return points


def _check_count(count: int) -> None:
    # Raw positions include each ring's closing one: a bound before validation proper.
    if count > MAX_VERTICES + 100:
        raise GeofenceError(
            f"too many vertices: more than {MAX_VERTICES}",
            code="too_many_vertices",
            count=f"more than {MAX_VERTICES}",
            limit=MAX_VERTICES,
        )


def _coordinate(lon: object, lat: object, where: str) -> tuple[float, float]:
    for name, value in (("longitude", lon), ("latitude", lat)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise GeofenceError(
                f"{where}: the {name} is not a number", code="bad_position", where=where
            )
        if not math.isfinite(value):
            raise GeofenceError(
                f"{where}: the {name} is not finite", code="bad_position", where=where
            )
    assert isinstance(lon, int | float)
    assert isinstance(lat, int | float)
    if not -90.0 <= lat <= 90.0:
        raise GeofenceError(
            f"{where}: latitude {lat} is outside [-90, 90]",
            code="latitude_range",
            where=where,
            value=lat,
        )
    if not -180.0 <= lon <= 180.0:
        raise GeofenceError(
            f"{where}: longitude {lon} is outside [-180, 180]",
            code="longitude_range",
            where=where,
            value=lon,
        )
    return (float(lon), float(lat))


def _unwrap(ring: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Longitudes made continuous across the antimeridian (steps of at most 180°)."""
    out = [ring[0]]
    shift = 0.0
    for (x0, _), (x1, y1) in itertools.pairwise(ring):
        if x1 - x0 > 180:
            shift -= 360
        elif x1 - x0 < -180:
            shift += 360
        out.append((x1 + shift, y1))
    return out


def _build(raw: list[list[list[tuple[float, float]]]]) -> Geofence:
    total = sum(len(ring) - 1 for rings in raw for ring in rings)
    if total > MAX_VERTICES:
        raise GeofenceError(
            f"too many vertices: {total} (at most {MAX_VERTICES})",
            code="too_many_vertices",
            count=total,
            limit=MAX_VERTICES,
        )
    polygons: list[Polygon] = []
    shapes: list[_Shape] = []
    for p, rings in enumerate(raw):
        unwrapped: list[list[tuple[float, float]]] = []
        for r, ring in enumerate(rings):
            where = f"polygon {p + 1}, ring {r + 1}"
            if len(ring) < 4:
                raise GeofenceError(
                    f"{where}: a ring needs at least 4 positions (3 vertices and the first "
                    f"repeated), it has {len(ring)}",
                    code="ring_too_short",
                    where=where,
                    count=len(ring),
                )
            if ring[0] != ring[-1]:
                raise GeofenceError(
                    f"{where}: the ring is not closed (its last position must repeat the first)",
                    code="ring_not_closed",
                    where=where,
                )
            flat = _unwrap(ring)
            if abs(flat[-1][0] - flat[0][0]) > 1e-9:
                raise GeofenceError(
                    f"{where}: the ring encircles a pole, which is not supported",
                    code="encircles_pole",
                    where=where,
                )
            if len(set(ring)) < 3 or abs(_area(flat)) < 1e-14:
                raise GeofenceError(
                    f"{where}: the ring has no area", code="degenerate_ring", where=where
                )
            if not unwrapped and min(x for x, _ in flat) < -180:
                flat = [(x + 360, y) for x, y in flat]  # west edge in [-180, 180]
            if unwrapped:  # a hole: bring it next to its exterior across the antimeridian
                outer_west = min(x for x, _ in unwrapped[0])
                if min(x for x, _ in flat) < outer_west - 180:
                    flat = [(x + 360, y) for x, y in flat]
            unwrapped.append(flat)
        _check_simple(unwrapped, p)
        polygons.append(Polygon(tuple(rings[0]), tuple(tuple(h) for h in rings[1:])))
        shapes.append(_shape(unwrapped))
    return Geofence(tuple(polygons), tuple(shapes))


def _area(ring: Sequence[tuple[float, float]]) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring)) / 2


def _orientation(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _check_simple(rings: list[list[tuple[float, float]]], p: int) -> None:
    """Refuse edges that cross (properly) another edge of the polygon."""
    edges = [
        (r, i, ring[i], ring[i + 1]) for r, ring in enumerate(rings) for i in range(len(ring) - 1)
    ]
    boxes = [
        (min(a[0], b[0]), max(a[0], b[0]), min(a[1], b[1]), max(a[1], b[1])) for _, _, a, b in edges
    ]
    for m, (r1, i1, a, b) in enumerate(edges):
        x0, x1, y0, y1 = boxes[m]
        for n in range(m + 1, len(edges)):
            bx0, bx1, by0, by1 = boxes[n]
            if bx0 > x1 or bx1 < x0 or by0 > y1 or by1 < y0:
                continue
            r2, i2, c, d = edges[n]
            if r1 == r2 and (i2 == i1 + 1 or (i1 == 0 and i2 == len(rings[r1]) - 2)):
                continue  # adjacent edges share a vertex
            o1, o2 = _orientation(a, b, c), _orientation(a, b, d)
            o3, o4 = _orientation(c, d, a), _orientation(c, d, b)
            if ((o1 > 0 > o2) or (o1 < 0 < o2)) and ((o3 > 0 > o4) or (o3 < 0 < o4)):
                where = f"polygon {p + 1}, ring {r1 + 1}, edge {i1 + 1}"
                other = f"ring {r2 + 1}, edge {i2 + 1}"
                raise GeofenceError(
                    f"{where} crosses {other}: rings must not cross themselves or each other",
                    code="self_intersection",
                    where=where,
                    other=other,
                )


def _shape(rings: list[list[tuple[float, float]]]) -> _Shape:
    xs = [x for ring in rings for x, _ in ring]
    ys = [y for ring in rings for _, y in ring]
    south, north = min(ys), max(ys)
    edges: list[_Edge] = []
    for ring in rings:
        for (x1, y1), (x2, y2) in itertools.pairwise(ring):
            if y1 != y2:
                edges.append((y1, y2, x1, (x2 - x1) / (y2 - y1)))
    count = max(1, min(64, len(edges) // 4))
    height = (north - south) / count or 1.0
    bands: list[list[_Edge]] = [[] for _ in range(count)]
    for edge in edges:
        low, high = min(edge[0], edge[1]), max(edge[0], edge[1])
        first = min(count - 1, int((low - south) / height))
        last = min(count - 1, int((high - south) / height))
        for band in range(first, last + 1):
            bands[band].append(edge)
    return _Shape(min(xs), south, max(xs), north, height, tuple(tuple(b) for b in bands))


class GeofenceSet:
    """Many geofences (an asset's allowed areas, the zones they refine), tested at once.

    :meth:`containing` answers which of them hold a point; a grid over their bounding
    boxes picks the few whose box holds the point, so the cost of a position update grows
    with the geofences near it, not with all of them. A geofence across the antimeridian is
    tested every time (it is outside the grid).
    """

    _CELLS = 32

    def __init__(self, fences: Mapping[str, Geofence]) -> None:
        """Index ``fences`` by their keys (zone entity IDs, say)."""
        self.fences = dict(fences)
        self._always: list[tuple[str, Geofence]] = []
        gridded = []
        for key, fence in self.fences.items():
            if fence.bbox[2] > 180:
                self._always.append((key, fence))
            else:
                gridded.append((key, fence))
        self._grid: list[list[tuple[str, Geofence]]] = []
        self._west = self._south = 0.0
        self._cell_w = self._cell_h = 1.0
        if not gridded:
            return
        west = min(f.bbox[0] for _, f in gridded)
        south = min(f.bbox[1] for _, f in gridded)
        east = max(f.bbox[2] for _, f in gridded)
        north = max(f.bbox[3] for _, f in gridded)
        n = self._CELLS
        self._west, self._south = west, south
        self._cell_w = (east - west) / n or 1.0
        self._cell_h = (north - south) / n or 1.0
        self._grid = [[] for _ in range(n * n)]
        for key, fence in gridded:
            w, s, e, north_ = fence.bbox
            for row in range(
                self._cell(s, south, self._cell_h), self._cell(north_, south, self._cell_h) + 1
            ):
                for col in range(
                    self._cell(w, west, self._cell_w), self._cell(e, west, self._cell_w) + 1
                ):
                    self._grid[row * n + col].append((key, fence))

    def _cell(self, value: float, origin: float, size: float) -> int:
        return min(self._CELLS - 1, max(0, int((value - origin) / size)))

    def containing(self, latitude: float, longitude: float) -> list[str]:
        """The keys of the geofences that hold the point, in the order they were given."""
        found = [key for key, fence in self._always if fence.contains(latitude, longitude)]
        if self._grid:
            col = int((longitude - self._west) / self._cell_w)
            row = int((latitude - self._south) / self._cell_h)
            n = self._CELLS
            if 0 <= col <= n and 0 <= row <= n:
                cell = self._grid[min(row, n - 1) * n + min(col, n - 1)]
                found += [key for key, fence in cell if fence.contains(latitude, longitude)]
        if len(found) > 1:
            order = {key: i for i, key in enumerate(self.fences)}
            found.sort(key=order.__getitem__)
        return found
