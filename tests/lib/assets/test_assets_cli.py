"""Track files and the ``trips`` command line, run as a real subprocess."""

from __future__ import annotations

from datetime import UTC, datetime
import io
import json
from pathlib import Path
import subprocess
import sys
from typing import Any

import pytest

from custom_components.thingbridge.assets.__main__ import main
from custom_components.thingbridge.assets.errors import TrackError
from custom_components.thingbridge.assets.tracks import MAX_LINE, read_csv, read_gpx
from custom_components.thingbridge.assets.trips import TrackFix, detect_trips

from .synthetic import build_day

REPO = Path(__file__).resolve().parents[3]
MODULE = "custom_components.thingbridge.assets"
KEYS = ["start", "end", "distance_m", "duration_s", "max_speed_kmh", "estimated"]


def run(*args: str) -> tuple[int, list[dict[str, Any]], str]:
    proc = subprocess.run(
        [sys.executable, "-m", MODULE, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    return proc.returncode, lines, proc.stderr


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def write_csv(path: Path, fixes: list[TrackFix], *, odometer: bool = False) -> None:
    with path.open("w") as out:
        out.write("Time, Latitude,longitude,speed,ignition,odometer,note\n")
        for f in fixes:
            ign = "" if f.ignition is None else ("on" if f.ignition else "off")
            odo = "" if not odometer or f.odometer_m is None else f"{f.odometer_m / 1000:.4f}"
            out.write(f"{_iso(f.t)},{f.latitude!r},{f.longitude!r},{f.speed_kmh},{ign},{odo},x\n")


def write_gpx(path: Path, fixes: list[TrackFix]) -> None:
    points = "".join(
        f'<trkpt lat="{f.latitude!r}" lon="{f.longitude!r}"><ele>40</ele>'
        f"<time>{_iso(f.t)}</time></trkpt>\n"
        for f in fixes
    )
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">'
        f"<trk><name>day</name><trkseg>\n{points}</trkseg></trk></gpx>\n"
    )


def test_cli_prints_the_days_trips_from_csv_and_gpx(tmp_path: Path) -> None:
    day = build_day(ignition=True)
    expected = [t.summary() for t in detect_trips(day.fixes, close_open=True).trips]
    assert len(expected) == 4
    write_csv(tmp_path / "day.csv", day.delivery)  # the late burst too
    code, lines, err = run("trips", str(tmp_path / "day.csv"))
    assert (code, err) == (0, "")
    assert lines == expected
    assert all(list(line) == KEYS for line in lines)
    assert all(line["start"].endswith("+00:00") for line in lines)
    write_gpx(tmp_path / "day.gpx", day.fixes)
    code, gpx_lines, err = run("trips", str(tmp_path / "day.gpx"))
    assert (code, err) == (0, "")
    # GPX has no speed and no ignition: same trips by distance, ended by stops.
    assert len(gpx_lines) == 4
    for gpx, csv in zip(gpx_lines, lines, strict=True):
        assert gpx["distance_m"] == pytest.approx(csv["distance_m"], rel=0.01)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "time,latitude,longitude\n2026-01-01T00:00:00Z,abc,13.4\n",
            "line 2, field 'latitude': not a number: 'abc'",
        ),
        (
            "time,latitude\n2026-01-01T00:00:00Z,52\n",
            "line 1: the header has no 'longitude' column",
        ),
        (
            "time,latitude,longitude\n2026-13-01T00:00:00Z,52,13\n",
            "line 2, field 'time': not an ISO 8601 time",
        ),
        (
            "time,latitude,longitude\n2026-01-01T00:00:00Z,95,13\n",
            "line 2, field 'latitude': latitude outside [-90, 90]",
        ),
        (
            "time,latitude,longitude,speed\n2026-01-01T00:00:00Z,52,13,-4\n",
            "line 2, field 'speed': speed_kmh is negative",
        ),
        (
            "time,latitude,longitude,ignition\n2026-01-01T00:00:00Z,52,13,maybe\n",
            "line 2, field 'ignition': not true or false",
        ),
        (
            "time,latitude,longitude\n\n2026-01-01T00:00:00Z,52\n",
            "line 3: 2 fields, the header has 3",
        ),
        ("", "line 1: the file has no header row"),
        (
            '<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY a "aaaa">]><gpx/>',
            "document type declarations",
        ),
        (
            '<gpx><trk><trkseg><trkpt lat="x" lon="1"><time>2026-01-01T00:00:00Z</time></trkpt>',
            "line 1, field 'lat': not a number",
        ),
        (
            '<gpx><trk><trkseg><trkpt lat="1" lon="1"></trkpt></trkseg></trk></gpx>',
            "line 1: the trkpt has no time",
        ),
        ("<gpx><trk>\n<trkseg></trk></gpx>", "line 2: not valid XML: mismatched tag"),
    ],
)
def test_bad_input_is_named_and_exits_2(
    tmp_path: Path, content: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """In process (the subprocess test below runs a few of these for real)."""
    path = tmp_path / "track"
    path.write_text(content)
    assert main(["trips", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err


def test_bad_input_from_a_subprocess_is_one_line_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("time,latitude,longitude\n2026-01-01T00:00:00Z,abc,13.4\n")
    code, lines, err = run("trips", str(tmp_path / "bad.csv"))
    assert (code, lines) == (2, [])
    assert err == f"error: {tmp_path / 'bad.csv'}: line 2, field 'latitude': not a number: 'abc'\n"


def test_missing_file_and_undecodable_bytes_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trips", str(tmp_path / "nope.csv")]) == 2
    assert "No such file" in capsys.readouterr().err
    (tmp_path / "latin.csv").write_bytes(b"time,latitude,longitude\n\xff\xfe,1,2\n")
    assert main(["trips", str(tmp_path / "latin.csv"), "--format", "csv"]) == 2
    assert "not UTF-8" in capsys.readouterr().err


def test_readers_stream_and_bound_their_input() -> None:
    """A giant line is refused after MAX_LINE characters; rows come one at a time."""
    huge = io.StringIO("time,latitude,longitude\n" + "9" * (10 * MAX_LINE) + "\n")
    with pytest.raises(TrackError, match="line 2: longer than"):
        list(read_csv(huge))

    class Endless(io.RawIOBase):
        """Rows forever: the reader must yield before reading everything."""

        def __init__(self) -> None:
            self.sent = 0
            self.pending = b"time;latitude;longitude;odometer\n"

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            if not self.pending:
                self.sent += 1
                self.pending = f"2026-01-01T{self.sent // 3600 % 24:02d}:{self.sent // 60 % 60:02d}:{self.sent % 60:02d};52.0;13.0;1.5\n".encode()
            n = min(len(buffer), len(self.pending))
            buffer[:n] = self.pending[:n]
            self.pending = self.pending[n:]
            return n

    stream = io.TextIOWrapper(io.BufferedReader(Endless()), encoding="utf-8")
    rows = read_csv(stream)
    first = [next(rows) for _ in range(3)]
    assert [f.odometer_m for f in first] == [1500.0] * 3
    assert first[0].latitude == 52.0


def test_csv_values_with_spaces_or_odd_case_are_read_like_plain_ones() -> None:
    text = (
        "time;latitude;longitude;speed;ignition;odometer;accuracy\n"
        "2026-01-01T00:00:00+01:00;52.5;13.4;;;;\n"
        " 2026-01-01T00:00:10 ; 52.5 ;13.4; 4 ; On ;1.5; 7\n"
    )
    first, second = list(read_csv(io.StringIO(text)))
    assert first == TrackFix(1767222000.0, 52.5, 13.4)
    assert second == TrackFix(1767225610.0, 52.5, 13.4, 4.0, True, 1500.0, 7.0)
    bad = "time,latitude,longitude,accuracy\n2026-01-01T00:00:00Z,1,2,inf\n"
    with pytest.raises(TrackError, match="line 2, field 'accuracy': not a finite number"):
        list(read_csv(io.StringIO(bad)))


def test_gpx_reads_gpx_1_0_speed_and_ignores_waypoints() -> None:
    text = (
        '<gpx version="1.0"><wpt lat="1" lon="1"><time>2026-01-01T00:00:00Z</time></wpt>'
        '<trk><trkseg><trkpt lat="52.5" lon="13.4"><time>2026-01-01T00:00:10+01:00</time>'
        "<speed>10</speed></trkpt></trkseg></trk></gpx>"
    )
    [fix] = list(read_gpx(io.BytesIO(text.encode())))
    assert fix.speed_kmh == 36.0
    assert fix.time == datetime(2025, 12, 31, 23, 0, 10, tzinfo=UTC)
