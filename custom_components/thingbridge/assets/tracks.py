"""Track files (CSV and GPX) read as a stream of :class:`~.trips.TrackFix`.

Both readers are generators: they read the file a line (CSV) or a chunk (GPX) at a time and
never hold more than that, so a file of any size costs the same memory. Every problem is a
:class:`~.errors.TrackError` naming the line and the field (``line 12, field 'latitude':
not a number: 'abc'``).

**CSV**: a header row holding at least ``time`` (ISO 8601; a time without an offset is
taken as UTC), ``latitude`` and ``longitude`` (degrees), optionally ``speed`` (km/h),
``ignition`` (true/false, 1/0, on/off, yes/no; empty for unknown), ``odometer`` (km) and
``accuracy`` (m). Names are matched without regard to case or surrounding spaces; other
columns are ignored. The delimiter is a comma, or a semicolon when the header has no comma.
Lines longer than :data:`MAX_LINE` characters are refused.

**GPX**: ``trkpt`` elements (GPX 1.0 and 1.1) with ``lat``/``lon`` attributes and a
``time`` child; a GPX 1.0 ``speed`` child (m/s) is read as well. Document type
declarations (and with them entity definitions, the XML bombs) are refused.
"""

from __future__ import annotations

from collections.abc import Iterator
import csv
from datetime import UTC, datetime
import math
from typing import IO
from xml.parsers import expat

from .errors import TrackError
from .trips import TrackFix, check_fix

MAX_LINE = 65_536
"""Longest CSV line accepted (characters)."""
_CHUNK = 65_536
_MAX_TEXT = 256  # characters kept of a GPX element's text
_BOOLEAN: dict[str, bool | None] = {
    **dict.fromkeys(("true", "1", "on", "yes", "y", "t"), True),
    **dict.fromkeys(("false", "0", "off", "no", "n", "f"), False),
    "": None,
}
_COLUMNS = ("time", "latitude", "longitude", "speed", "ignition", "odometer", "accuracy")


def parse_time(text: str, where: str) -> float:
    """ISO 8601 text as UTC epoch seconds (no offset: UTC)."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TrackError(
            f"{where}: not an ISO 8601 time: {text[:40]!r}", code="bad_time", where=where
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise TrackError(
            f"{where}: not a number: {text[:40]!r}", code="bad_number", where=where
        ) from None
    if not math.isfinite(value):
        raise TrackError(
            f"{where}: not a finite number: {text[:40]!r}", code="bad_number", where=where
        )
    return value


def _lines(stream: IO[str]) -> Iterator[str]:
    number = 0
    while True:
        line = stream.readline(MAX_LINE + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE:
            raise TrackError(
                f"line {number}: longer than {MAX_LINE} characters",
                code="line_too_long",
                where=f"line {number}",
            )
        yield line


def read_csv(stream: IO[str]) -> Iterator[TrackFix]:
    """Fixes from a CSV track (see the module's docstring), one line at a time."""
    lines = _lines(stream)
    header_line = next(lines, None)
    if header_line is None or not header_line.strip():
        raise TrackError("line 1: the file has no header row", code="no_header", where="line 1")
    delimiter = "," if "," in header_line or ";" not in header_line else ";"
    header = next(csv.reader([header_line], delimiter=delimiter))
    names = [name.strip().lower().lstrip("\ufeff") for name in header]
    missing = [name for name in ("time", "latitude", "longitude") if name not in names]
    if missing:
        raise TrackError(
            f"line 1: the header has no {missing[0]!r} column",
            code="missing_column",
            where="line 1",
            field=missing[0],
        )
    index = {name: names.index(name) for name in _COLUMNS if name in names}
    width = max(index.values()) + 1
    rows = csv.reader(lines, delimiter=delimiter)
    ti, lai, loi, spi, igi, odi, aci = (index.get(name, -1) for name in _COLUMNS)
    inf = math.inf
    for row in rows:
        if len(row) < width:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            number = rows.line_num + 1
            raise TrackError(
                f"line {number}: {len(row)} fields, the header has {len(names)}",
                code="short_row",
                where=f"line {number}",
            )
        # The fast path: plain values. Anything unusual goes to _row, which either reads it
        # (spaces around a time) or names the line, the field and the problem.
        try:
            when = datetime.fromisoformat(row[ti])
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            t = when.timestamp()
            lat = float(row[lai])
            lon = float(row[loi])
            speed = float(row[spi]) if spi >= 0 and row[spi] else None
            ignition = _BOOLEAN[row[igi].lower()] if igi >= 0 else None
            odometer = float(row[odi]) * 1000 if odi >= 0 and row[odi] else None
            accuracy = float(row[aci]) if aci >= 0 and row[aci] else None
            if not (
                -inf < t < inf
                and -90 <= lat <= 90
                and -180 <= lon <= 180
                and (speed is None or 0 <= speed < inf)
                and (odometer is None or 0 <= odometer < inf)
                and (accuracy is None or 0 <= accuracy < inf)
            ):
                raise ValueError  # noqa: TRY301 - _row names the problem
            yield TrackFix(t, lat, lon, speed, ignition, odometer, accuracy)
        except (ValueError, KeyError, OverflowError):  # fmt: skip
            yield _row(row, index, rows.line_num + 1)


def _row(row: list[str], index: dict[str, int], number: int) -> TrackFix:
    """One CSV row read slowly: a fix, or a :class:`TrackError` naming line and field."""

    def where(name: str) -> str:
        return f"line {number}, field {name!r}"

    def optional(name: str) -> str | None:
        if name not in index:
            return None
        text = row[index[name]].strip()
        return text or None

    t = parse_time(row[index["time"]], where("time"))
    lat = _number(row[index["latitude"]], where("latitude"))
    lon = _number(row[index["longitude"]], where("longitude"))
    speed = optional("speed")
    ignition_text = optional("ignition")
    odometer = optional("odometer")
    accuracy = optional("accuracy")
    ignition: bool | None = None
    if ignition_text is not None:
        ignition = _BOOLEAN.get(ignition_text.lower())
        if ignition is None:
            raise TrackError(
                f"{where('ignition')}: not true or false: {ignition_text[:40]!r}",
                code="bad_boolean",
                where=where("ignition"),
            )
    fix = TrackFix(
        t,
        lat,
        lon,
        None if speed is None else _number(speed, where("speed")),
        ignition,
        None if odometer is None else _number(odometer, where("odometer")) * 1000,
        None if accuracy is None else _number(accuracy, where("accuracy")),
    )
    _checked(fix, number)
    return fix


def _checked(fix: TrackFix, line: int) -> None:
    try:
        check_fix(fix)
    except TrackError as err:
        name = err.placeholders.get("field", "?")
        name = {"speed_kmh": "speed", "odometer_m": "odometer", "accuracy_m": "accuracy"}.get(
            name, name
        )
        where = f"line {line}, field {name!r}"
        raise TrackError(f"{where}: {err}", code=err.code, where=where) from None


class _GpxHandler:
    def __init__(self, parser: expat.XMLParserType) -> None:
        self.parser = parser
        self.ready: list[TrackFix] = []
        self.point: dict[str, str] | None = None
        self.line = 0
        self.text: list[str] | None = None
        self.length = 0

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition(":")[2].rpartition("}")[2]
        if local == "trkpt":
            self.line = self.parser.CurrentLineNumber
            self.point = {"lat": attrs.get("lat", ""), "lon": attrs.get("lon", "")}
        elif self.point is not None and local in ("time", "speed"):
            self.text = []
            self.length = 0

    def data(self, text: str) -> None:
        if self.text is not None and self.length < _MAX_TEXT:
            self.text.append(text[: _MAX_TEXT - self.length])
            self.length += len(text)

    def end(self, name: str) -> None:
        local = name.rpartition(":")[2].rpartition("}")[2]
        point = self.point
        if point is None:
            return
        if local in ("time", "speed") and self.text is not None:
            point[local] = "".join(self.text)
            self.text = None
        elif local == "trkpt":
            self.point = None
            line = self.line
            if "time" not in point:
                raise TrackError(
                    f"line {line}: the trkpt has no time", code="bad_time", where=f"line {line}"
                )
            speed = point.get("speed")
            fix = TrackFix(
                parse_time(point["time"], f"line {line}, field 'time'"),
                _number(point["lat"], f"line {line}, field 'lat'"),
                _number(point["lon"], f"line {line}, field 'lon'"),
                None if speed is None else _number(speed, f"line {line}, field 'speed'") * 3.6,
            )
            _checked(fix, line)
            self.ready.append(fix)


def _refuse_doctype(*_: object) -> None:
    raise TrackError(
        "GPX: document type declarations are not accepted", code="bad_gpx", where="DOCTYPE"
    )


def read_gpx(stream: IO[bytes]) -> Iterator[TrackFix]:
    """Fixes from a GPX file's track points, a chunk at a time."""
    parser = expat.ParserCreate()
    handler = _GpxHandler(parser)
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.data
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_doctype
    while True:
        chunk = stream.read(_CHUNK)
        try:
            parser.Parse(chunk, not chunk)
        except expat.ExpatError as err:
            raise TrackError(
                f"line {err.lineno}: not valid XML: {expat.errors.messages[err.code]}",
                code="bad_gpx",
                where=f"line {err.lineno}",
            ) from None
        yield from handler.ready
        handler.ready.clear()
        if not chunk:
            return


def sniff_format(head: bytes) -> str:
    """``"gpx"`` when the bytes look like XML, else ``"csv"``."""
    return "gpx" if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<") else "csv"
