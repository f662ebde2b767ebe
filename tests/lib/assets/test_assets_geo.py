"""Geodesic distance and polygon geofences (pure library, no Home Assistant instance)."""

from __future__ import annotations

import itertools
import json
import math
import random

from homeassistant.util.location import vincenty
import pytest

from custom_components.thingbridge.assets.errors import GeofenceError
from custom_components.thingbridge.assets.geo import (
    MAX_TEXT,
    MAX_VERTICES,
    Geofence,
    GeofenceSet,
    distance_m,
    haversine_m,
    parse_geofence,
    parse_geojson,
    parse_wkt,
    vincenty_m,
)

SQUARE = "POLYGON ((13.0 52.0, 13.1 52.0, 13.1 52.1, 13.0 52.1, 13.0 52.0))"


def _ring(n: int, lat: float = 52.5, lon: float = 13.4, r: float = 0.01) -> list[list[float]]:
    pts = [
        [lon + r * math.cos(2 * math.pi * k / n), lat + r * math.sin(2 * math.pi * k / n)]
        for k in range(n)
    ]
    return [*pts, pts[0]]


def test_vincenty_matches_the_published_example() -> None:
    """Vincenty (1975) / Geoscience Australia: Flinders Peak to Buninyong, 54,972.271 m."""
    flinders = (-(37 + 57 / 60 + 3.72030 / 3600), 144 + 25 / 60 + 29.52440 / 3600)
    buninyong = (-(37 + 39 / 60 + 10.15610 / 3600), 143 + 55 / 60 + 35.38390 / 3600)
    assert vincenty_m(*flinders, *buninyong) == pytest.approx(54_972.271, abs=0.001)


def test_distance_agrees_with_home_assistants_vincenty() -> None:
    """Short steps (local ellipsoid) and long ones (Vincenty), against an independent code."""
    rng = random.Random(3)
    for _ in range(3000):
        lat, lon = rng.uniform(-80, 80), rng.uniform(-180, 180)
        d = rng.choice([20.0, 150.0, 2_000.0, 25_000.0, 400_000.0, 5_000_000.0])
        bearing = rng.uniform(0, 2 * math.pi)
        lat2 = max(-89.0, min(89.0, lat + d * math.cos(bearing) / 111_000))
        lon2 = lon + d * math.sin(bearing) / (111_000 * math.cos(math.radians(lat)))
        lon2 = (lon2 + 180) % 360 - 180
        km = vincenty((lat, lon), (lat2, lon2))
        assert km is not None
        reference = km * 1000
        # HA's vincenty rounds to 1 mm; within 0.01 % otherwise.
        assert distance_m(lat, lon, lat2, lon2) == pytest.approx(reference, rel=1e-4, abs=0.002)


def test_haversine_is_off_by_the_known_amount_and_distance_is_not() -> None:
    """At 50° N the mean-radius sphere errs by tenths of a percent east-west; WGS84 does not."""
    km = vincenty((50.0, 8.0), (50.0, 8.1))
    assert km is not None
    reference = km * 1000
    assert abs(haversine_m(50.0, 8.0, 50.0, 8.1) / reference - 1) > 0.001
    assert distance_m(50.0, 8.0, 50.0, 8.1) == pytest.approx(reference, rel=1e-5)


def test_distance_across_the_antimeridian_and_to_itself() -> None:
    assert distance_m(0.0, 179.999, 0.0, -179.999) == pytest.approx(222.64, rel=1e-3)
    assert distance_m(10.0, 20.0, 10.0, 20.0) == 0.0
    assert vincenty_m(10.0, 20.0, 10.0, 20.0) == 0.0
    # Nearly antipodal: Vincenty does not converge, the mean-radius haversine answers.
    assert vincenty_m(0.0, 0.0, 0.5, 179.7) == pytest.approx(
        haversine_m(0.0, 0.0, 0.5, 179.7), rel=1e-9
    )


def test_wkt_and_geojson_give_the_same_polygon_with_a_hole() -> None:
    wkt = (
        "POLYGON ((13.0 52.0, 13.1 52.0, 13.1 52.1, 13.0 52.1, 13.0 52.0),"
        " (13.04 52.04, 13.06 52.04, 13.06 52.06, 13.04 52.06, 13.04 52.04))"
    )
    a = parse_wkt(wkt)
    b = parse_geojson(json.dumps(a.to_geojson()))
    assert a.polygons == b.polygons
    assert a.vertex_count == 8
    for fence in (a, b):
        assert fence.contains(52.02, 13.02)
        assert not fence.contains(52.05, 13.05)  # in the hole
        assert not fence.contains(52.2, 13.05)
        assert not fence.contains(52.05, 13.2)
    assert parse_wkt(a.to_wkt()).polygons == a.polygons
    # Traccar's WKT is latitude first.
    traccar = parse_wkt(a.to_wkt("latlon"), axis_order="latlon")
    assert traccar.polygons == a.polygons
    assert a.bbox == (13.0, 52.0, 13.1, 52.1)


def test_multipolygon_feature_and_z_coordinates() -> None:
    fence = parse_geofence(
        {
            "type": "Feature",
            "properties": {},
            "geometry": {
                "type": "MultiPolygon",
                "coordinates": [
                    [[[0, 0, 5], [1, 0, 5], [1, 1, 5], [0, 1, 5], [0, 0, 5]]],
                    [[[10, 10], [11, 10], [11, 11], [10, 11], [10, 10]]],
                ],
            },
        }
    )
    assert fence.contains(0.5, 0.5)
    assert fence.contains(10.5, 10.5)
    assert not fence.contains(5, 5)
    assert fence.to_geojson()["type"] == "MultiPolygon"
    wkt = parse_geofence(
        "MULTIPOLYGON Z (((0 0 1, 1 0 1, 1 1 1, 0 0 1)), ((5 5 0, 6 5 0, 6 6 0, 5 5 0)))"
    )
    assert wkt.contains(0.2, 0.8)  # latitude 0.2, longitude 0.8: below the diagonal
    assert not wkt.contains(0.8, 0.2)
    assert "MULTIPOLYGON" in wkt.to_wkt()


def test_point_in_polygon_agrees_with_a_brute_force_ray_cast() -> None:
    """The banded index gives the plain even-odd answer on a concave 200-vertex star."""
    rng = random.Random(5)
    n = 200
    ring = []
    for k in range(n):
        r = 0.01 if k % 2 else 0.004
        a = 2 * math.pi * k / n
        ring.append((13.4 + r * math.cos(a), 52.5 + r * math.sin(a)))
    ring.append(ring[0])
    fence = parse_geojson({"type": "Polygon", "coordinates": [[list(p) for p in ring]]})

    def brute(lat: float, lon: float) -> bool:
        inside = False
        for (x1, y1), (x2, y2) in itertools.pairwise(ring):
            if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
                inside = not inside
        return inside

    hits = 0
    for _ in range(5000):
        lat, lon = rng.uniform(52.488, 52.512), rng.uniform(13.388, 13.412)
        assert fence.contains(lat, lon) == brute(lat, lon)
        hits += brute(lat, lon)
    assert 500 < hits < 4500  # both answers occur


def test_antimeridian_polygon_drawn_either_way() -> None:
    for text in (
        "POLYGON ((179 -1, -179 -1, -179 1, 179 1, 179 -1))",
        "POLYGON ((-179 -1, -179 1, 179 1, 179 -1, -179 -1))",
    ):
        fence = parse_geofence(text)
        assert fence.contains(0, 179.5)
        assert fence.contains(0, -179.5)
        assert fence.contains(0, 180)
        assert not fence.contains(0, 178.5)
        assert not fence.contains(0, -178.5)
        assert not fence.contains(0, 0)
    # RFC 7946's form: split at the antimeridian into a MultiPolygon.
    split = parse_geofence(
        {
            "type": "MultiPolygon",
            "coordinates": [
                [[[179, -1], [180, -1], [180, 1], [179, 1], [179, -1]]],
                [[[-180, -1], [-179, -1], [-179, 1], [-180, 1], [-180, -1]]],
            ],
        }
    )
    assert split.contains(0, 179.5)
    assert split.contains(0, -179.5)
    assert not split.contains(0, 178.5)


@pytest.mark.parametrize(
    ("text", "code", "named"),
    [
        ("", "empty", "empty"),
        ("   ", "empty", "empty"),
        ("LINESTRING (0 0, 1 1)", "not_polygon", "LINESTRING"),
        ("POLYGON EMPTY", "empty", "EMPTY"),
        ("POLYGON ((0 0, 1 0, 1 1, 0 0)", "bad_wkt", "end of the text"),
        ("POLYGON ((0 0, 1 0, 1 1, 0 0))) x", "bad_wkt", "column 31"),
        ("POLYGON ((0 0, 1 0, 1 1, 0 0)) junk", "bad_wkt", "'junk'"),
        ("POLYGON ((0 0, 1 0, 1 one, 0 0))", "bad_wkt", "column 23"),
        ("POLYGON ((0 0, 1 0, 1 1; 0 0))", "bad_wkt", "';' at column 24"),
        ("POLYGON ((0 0, 1 0, 1 1, 0 1))", "ring_not_closed", "polygon 1, ring 1"),
        ("POLYGON ((0 0, 1 0, 0 0))", "ring_too_short", "polygon 1, ring 1"),
        ("POLYGON ((0 0, 1 0, 2 0, 0 0))", "degenerate_ring", "no area"),
        ("POLYGON ((0 0, 2 2, 2 0, 0 1, 0 0))", "self_intersection", "crosses"),
        ("POLYGON ((0 91, 1 0, 1 1, 0 91))", "latitude_range", "vertex 1"),
        ("POLYGON ((0 0, 181 0, 1 1, 0 0))", "longitude_range", "vertex 2"),
        (
            "POLYGON ((0 0, 1 0, 1 1, 0 0), (5 5, 6 5, 6 6, 5 5), (0.2 0.1, 0.8 0.1, 0.5 1, 0.2 0.1))",
            "self_intersection",
            "ring 3",
        ),
        ("POLYGON ((0 0, 1e999 0, 1 1, 0 0))", "bad_position", "not finite"),
        ('{"type": "Point", "coordinates": [0, 0]}', "not_polygon", "Point"),
        (
            '{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, "x"], [0, 0]]]}',
            "bad_position",
            "vertex 3",
        ),
        (
            '{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, true], [0, 0]]]}',
            "bad_position",
            "vertex 3",
        ),
        (
            '{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1], [0, 0]]]}',
            "bad_position",
            "vertex 3",
        ),
        ('{"type": "Polygon", "coordinates": []}', "bad_structure", "polygon 1"),
        ('{"type": "Polygon", "coordinates": [5]}', "bad_structure", "ring 1"),
        ('{"type": "MultiPolygon", "coordinates": {}}', "bad_structure", "coordinates"),
        ('{"type": "Feature", "geometry": null}', "no_geometry", "geometry"),
        ("[1, 2]", "not_geometry", "object"),
        ("{not json", "bad_json", "JSON"),
        ("POLYGON ((0 80, 120 80, -120 80, 0 80))", "encircles_pole", "pole"),
    ],
)
def test_bad_geofences_are_refused_with_a_reason(text: str, code: str, named: str) -> None:
    with pytest.raises(GeofenceError) as caught:
        parse_geofence(text)
    assert caught.value.code == code, str(caught.value)
    assert named in str(caught.value)


def test_vertex_limit_counts_every_ring() -> None:
    ok = {"type": "Polygon", "coordinates": [_ring(MAX_VERTICES)]}
    assert parse_geojson(ok).vertex_count == MAX_VERTICES
    too_many = {"type": "Polygon", "coordinates": [_ring(400), _ring(101, r=0.001)]}
    with pytest.raises(GeofenceError) as caught:
        parse_geojson(too_many)
    assert caught.value.code == "too_many_vertices"
    assert caught.value.placeholders == {"count": "501", "limit": "500"}


def test_hostile_input_is_refused_quickly_and_boundedly() -> None:
    """Oversized text, deep nesting and a million vertices fail fast with a reason."""
    cases = {
        "x" * (MAX_TEXT + 1): "too_long",
        "[" * 60_000: "bad_json",
        '{"type": "Polygon", "coordinates": [' + "[" * 30_000: "bad_json",
        "POLYGON ((" + "1 1, " * 10_000 + "1 1))": "too_many_vertices",
    }
    for text, code in cases.items():
        with pytest.raises(GeofenceError) as caught:
            parse_geofence(text[: MAX_TEXT + 1] if code != "too_long" else text)
        assert caught.value.code == code
    big = {"type": "Polygon", "coordinates": [[[0, 0]] * 1_000_000]}
    with pytest.raises(GeofenceError) as caught:
        parse_geojson(big)
    assert caught.value.code == "too_many_vertices"
    with pytest.raises(GeofenceError, match="GeoJSON or WKT text"):
        parse_geofence(42)  # type: ignore[arg-type]


def test_geofence_set_answers_as_testing_each_fence() -> None:
    """The grid only picks candidates: the answer is the brute force one, in given order."""
    rng = random.Random(9)
    fences: dict[str, Geofence] = {}
    for n in range(40):
        lat, lon = 52.5 + rng.uniform(-0.1, 0.1), 13.4 + rng.uniform(-0.15, 0.15)
        fences[f"zone.z{n}"] = parse_geojson(
            {"type": "Polygon", "coordinates": [_ring(12, lat, lon, rng.uniform(0.002, 0.03))]}
        )
    fences["zone.dateline"] = parse_geofence("POLYGON ((179 -1, -179 -1, -179 1, 179 1, 179 -1))")
    fences["zone.everything"] = parse_geofence("POLYGON ((13 52, 14 52, 14 53, 13 53, 13 52))")
    index = GeofenceSet(fences)
    hits = 0
    for _ in range(4000):
        lat, lon = 52.5 + rng.uniform(-0.13, 0.13), 13.4 + rng.uniform(-0.2, 0.2)
        expected = [key for key, fence in fences.items() if fence.contains(lat, lon)]
        assert index.containing(lat, lon) == expected
        hits += len(expected) > 1
    assert hits > 500
    assert index.containing(0.0, -179.5) == ["zone.dateline"]
    assert index.containing(10.0, 10.0) == []
    assert GeofenceSet({}).containing(1.0, 2.0) == []
    assert GeofenceSet({"zone.d": fences["zone.dateline"]}).containing(0.0, 179.5) == ["zone.d"]
