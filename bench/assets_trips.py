"""Benchmark: a 90-day trip report, and one position update with 50 polygon geofences.

The update is measured beside a plain haversine call in the same run.

**Trip report.** A synthetic van (seeded, so every run sees the same data): parked at the
depot overnight, then 3 to 7 customer visits a day along winding roads (30-90 km/h, GPS
noise of a few metres, parked jitter), ignition on while driving; a fix every 10 s, day and
night, for 90 days: 777,600 fixes. The fixes are built in compact arrays first (the
journal's part); the timed part turns each row into a :class:`TrackFix` and runs
:func:`detect_trips` over the stream, as the glue does over the journal. Wall and CPU time
(``time.process_time``: steadier on a shared machine) are medians of ``--rounds`` runs;
peak memory is measured by ``tracemalloc`` in a separate run
(Python allocations made by the report, the input arrays excluded). With ``--csv`` it also
writes the track as CSV (about 60 MB) and times the command line on it in a subprocess,
reporting the child's peak resident memory (Home Assistant's package import included).

**Position update.** An asset with 50 polygon geofences of 100 vertices each (irregular
stars spread over a 20 km square, drawn as WKT) gets a fix: the update finds the geofences
holding it (:class:`GeofenceSet`), feeds the trip detector and the utilization counters.
Beside it, in the same run: the membership alone, through the set and fence by fence, one :func:`haversine_m` call and one :func:`distance_m`
call. Each is timed in batches of 1,000 calls; the table shows the median per call over
the batches. Run on demand:

    .venv/bin/python -m bench.assets_trips [--days 90] [--rounds 5] [--batches 31] [--csv]
"""

from __future__ import annotations

import argparse
from array import array
from collections.abc import Iterator
import math
from pathlib import Path
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc

from custom_components.thingbridge.assets import (
    Geofence,
    GeofenceSet,
    TrackFix,
    TripDetector,
    UsageConfig,
    UsageCounter,
    detect_trips,
    distance_m,
    haversine_m,
    parse_geofence,
)

REPO = Path(__file__).resolve().parents[1]
STEP_S = 10
DEPOT = (52.52, 13.405)
START = 1_767_225_600  # 2026-01-01T00:00:00Z
M_PER_DEG = 111_200.0


class Track:
    """Fixes in compact columns."""

    def __init__(self) -> None:
        """Empty columns."""
        self.t = array("d")
        self.lat = array("d")
        self.lon = array("d")
        self.speed = array("d")
        self.ignition = bytearray()

    def add(self, t: float, lat: float, lon: float, speed: float, ignition: bool) -> None:
        """Append one fix."""
        self.t.append(t)
        self.lat.append(lat)
        self.lon.append(lon)
        self.speed.append(speed)
        self.ignition.append(ignition)

    def __len__(self) -> int:
        """The number of fixes."""
        return len(self.t)

    def fixes(self) -> Iterator[TrackFix]:
        """The rows as fixes, one at a time."""
        for t, lat, lon, speed, ign in zip(
            self.t, self.lat, self.lon, self.speed, self.ignition, strict=True
        ):
            yield TrackFix(t, lat, lon, speed, ign == 1)


def build_track(days: int, seed: int = 1) -> tuple[Track, int]:
    """The synthetic van; also returns how many trips it drove."""
    rng = random.Random(seed)
    track = Track()
    t = float(START)
    lat, lon = DEPOT
    coslat = math.cos(math.radians(DEPOT[0]))
    drives = 0

    def park(until: float) -> None:
        nonlocal t
        while t < until:
            r = min(8.0, abs(rng.gauss(0, 3)))
            a = rng.uniform(0, 2 * math.pi)
            track.add(
                t,
                lat + r * math.cos(a) / M_PER_DEG,
                lon + r * math.sin(a) / (M_PER_DEG * coslat),
                0.0,
                False,
            )
            t += STEP_S

    def drive(to: tuple[float, float]) -> None:
        nonlocal t, lat, lon, drives
        drives += 1
        heading_noise = 0.0
        while True:
            dy = (to[0] - lat) * M_PER_DEG
            dx = (to[1] - lon) * M_PER_DEG * coslat
            remaining = math.hypot(dx, dy)
            speed = rng.uniform(30, 90) / 3.6
            step = speed * STEP_S
            t += STEP_S
            if remaining <= step:
                lat, lon = to
                track.add(t, lat, lon, speed * 3.6, True)
                t += STEP_S
                return
            heading_noise = 0.8 * heading_noise + rng.gauss(0, 0.25)  # winding roads
            heading = math.atan2(dy, dx) + max(-1.0, min(1.0, heading_noise))
            lat += step * math.sin(heading) / M_PER_DEG
            lon += step * math.cos(heading) / (M_PER_DEG * coslat)
            noise = rng.gauss(0, 3)
            track.add(
                t,
                lat + noise / M_PER_DEG,
                lon + rng.gauss(0, 3) / (M_PER_DEG * coslat),
                speed * 3.6,
                True,
            )

    for day in range(days):
        midnight = START + day * 86400
        park(midnight + rng.uniform(6.5, 8) * 3600)
        for _ in range(rng.randint(3, 7)):
            stop = (
                DEPOT[0] + rng.uniform(-0.12, 0.12),
                DEPOT[1] + rng.uniform(-0.18, 0.18),
            )
            drive(stop)
            park(t + rng.uniform(15, 75) * 60)
        drive(DEPOT)
        park(midnight + 86400)
    return track, drives


def trip_report(track: Track) -> tuple[float, float, int, float]:
    """Wall and CPU seconds, trips, distance."""
    began, cpu = time.perf_counter(), time.process_time()
    report = detect_trips(track.fixes())
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    return elapsed, cpu, len(report.trips), sum(trip.distance_m for trip in report.trips)


def peak_memory(track: Track) -> float:
    """MiB allocated at the peak of a trip report (tracemalloc)."""
    tracemalloc.start()
    detect_trips(track.fixes())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def cli_run(track: Track) -> tuple[float, float, int]:
    """The command line on the track as CSV: wall seconds, child peak RSS (MiB), trips."""
    with tempfile.TemporaryDirectory(prefix="assets-bench-") as folder:
        path = Path(folder) / "track.csv"
        with path.open("w") as out:
            out.write("time,latitude,longitude,speed,ignition\n")
            for fix in track.fixes():
                stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(fix.t))
                out.write(
                    f"{stamp},{fix.latitude:.6f},{fix.longitude:.6f},{fix.speed_kmh:.1f},"
                    f"{int(bool(fix.ignition))}\n"
                )
        size = path.stat().st_size
        began = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "custom_components.thingbridge.assets", "trips", str(path)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        elapsed = time.perf_counter() - began
        trips = len(proc.stdout.splitlines())
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    print(f"  CSV file {size / 2**20:.0f} MiB, {trips} trips")
    return elapsed, rss, trips


def import_baseline() -> tuple[float, float]:
    """The command line's start-up alone: wall seconds and peak RSS (MiB).

    A fresh child imports the command line's module (and so Home Assistant's package) and
    reports its own peak resident memory.
    """
    began = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import resource, custom_components.thingbridge.assets.__main__; "
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
            ),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - began, int(proc.stdout) / 1024


def star_wkt(rng: random.Random, lat: float, lon: float, vertices: int = 100) -> str:
    """An irregular star polygon around a point, as WKT."""
    coslat = math.cos(math.radians(lat))
    points = []
    for k in range(vertices):
        a = 2 * math.pi * k / vertices
        r = rng.uniform(300, 1500)
        points.append(
            (lon + r * math.cos(a) / (M_PER_DEG * coslat), lat + r * math.sin(a) / M_PER_DEG)
        )
    points.append(points[0])
    return "POLYGON ((" + ", ".join(f"{x:.7f} {y:.7f}" for x, y in points) + "))"


def per_call(fn: object, calls: int, batches: int) -> float:
    """Median seconds per call of ``fn(i)`` over ``batches`` batches of ``calls``."""
    samples = []
    for b in range(batches):
        began = time.perf_counter()
        for i in range(calls):
            fn(b * calls + i)  # type: ignore[operator]
        samples.append((time.perf_counter() - began) / calls)
    return statistics.median(samples)


def update_costs(batches: int) -> dict[str, float]:
    """Median seconds per call of a position update and its baselines."""
    rng = random.Random(2)
    fences: list[Geofence] = [
        parse_geofence(
            star_wkt(rng, DEPOT[0] + rng.uniform(-0.09, 0.09), DEPOT[1] + rng.uniform(-0.14, 0.14))
        )
        for _ in range(50)
    ]
    assert all(f.vertex_count == 100 for f in fences)
    n = 1000 * batches
    points = [
        (DEPOT[0] + rng.uniform(-0.1, 0.1), DEPOT[1] + rng.uniform(-0.15, 0.15)) for _ in range(n)
    ]
    inside = sum(any(f.contains(lat, lon) for f in fences) for lat, lon in points[:2000])
    print(f"  {inside / 20:.0f} % of the test points lie in at least one geofence")
    detector = TripDetector()
    usage = UsageCounter(UsageConfig(time_zone="Europe/Berlin"))
    # The asset drives through the area: consecutive points 140 m apart.
    route = []
    lat, lon = DEPOT
    for i in range(n):
        lat += 0.0009 * math.sin(i / 50)
        lon += 0.0015 * math.cos(i / 70)
        route.append(TrackFix(START + i * STEP_S, lat, lon, 50.0, True))

    def membership(i: int) -> object:
        lat, lon = points[i]
        return [f.contains(lat, lon) for f in fences]

    index = GeofenceSet({f"zone.fence_{n}": fence for n, fence in enumerate(fences)})

    def update(i: int) -> object:
        fix = route[i]
        events = detector.feed(fix)
        usage.apply(events)
        usage.feed(fix)
        return index.containing(fix.latitude, fix.longitude)

    def indexed(i: int) -> object:
        lat, lon = points[i]
        return index.containing(lat, lon)

    def haversine(i: int) -> object:
        lat, lon = points[i]
        return haversine_m(DEPOT[0], DEPOT[1], lat, lon)

    def geodesic(i: int) -> object:
        lat, lon = points[i]
        return distance_m(DEPOT[0], DEPOT[1], lat, lon)

    return {
        "position update (50 geofences + trips + utilization)": per_call(update, 1000, batches),
        "50 geofences through GeofenceSet.containing": per_call(indexed, 1000, batches),
        "50 geofences one by one (Geofence.contains)": per_call(membership, 1000, batches),
        "haversine_m (one call)": per_call(haversine, 1000, batches),
        "distance_m (WGS84, one call)": per_call(geodesic, 1000, batches),
    }


def main() -> None:
    """Run both parts and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=31)
    parser.add_argument("--csv", action="store_true", help="also time the command line on a CSV")
    args = parser.parse_args()

    began = time.perf_counter()
    track, drives = build_track(args.days)
    print(
        f"Synthetic track: {len(track):,} fixes over {args.days} days, {drives} drives "
        f"(built in {time.perf_counter() - began:.1f} s)"
    )
    times, cpus = [], []
    for _ in range(args.rounds):
        elapsed, cpu, trips, distance = trip_report(track)
        times.append(elapsed)
        cpus.append(cpu)
    peak = peak_memory(track)
    print()
    print("| trip report | value |")
    print("|---|---|")
    print(f"| fixes | {len(track):,} |")
    print(f"| trips found / driven | {trips} / {drives} |")
    print(f"| distance | {distance / 1000:,.0f} km |")
    print(f"| wall time (median of {args.rounds}) | {statistics.median(times):.2f} s |")
    print(f"| wall time (min / max) | {min(times):.2f} / {max(times):.2f} s |")
    print(f"| CPU time (median / min) | {statistics.median(cpus):.2f} / {min(cpus):.2f} s |")
    print(f"| CPU per fix (median) | {statistics.median(cpus) / len(track) * 1e6:.2f} µs |")
    print(f"| peak memory (tracemalloc) | {peak:.1f} MiB |")
    if args.csv:
        start_up, start_rss = import_baseline()
        elapsed, rss, cli_trips = cli_run(track)
        print(f"| command line on the CSV (subprocess) | {elapsed:.2f} s, {cli_trips} trips |")
        print(f"| command line peak RSS (incl. Home Assistant import) | {rss:.0f} MiB |")
        print(
            f"| its start-up alone (import, Home Assistant included) | {start_up:.2f} s, {start_rss:.0f} MiB |"
        )
    print()
    costs = update_costs(args.batches)
    print(f"| one call (median of {args.batches} batches of 1,000) | µs |")
    print("|---|---|")
    for name, seconds in costs.items():
        print(f"| {name} | {seconds * 1e6:.2f} |")
    base = costs["haversine_m (one call)"]
    update = costs["position update (50 geofences + trips + utilization)"]
    print(f"\nA position update costs {update / base:.0f} haversine calls.")


if __name__ == "__main__":
    main()
