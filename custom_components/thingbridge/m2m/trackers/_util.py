"""Bounds-checked readers and field parsers shared by the decoders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import math

from .errors import FieldError, FrameError


class Reader:
    """Big-endian reads over a byte slice that raise :class:`FrameError` past its end."""

    __slots__ = ("data", "end", "pos", "protocol")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None, *, protocol: str) -> None:
        """Read ``data[pos:end]``."""
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end
        self.protocol = protocol

    @property
    def remaining(self) -> int:
        """Bytes left."""
        return self.end - self.pos

    def take(self, size: int, what: str) -> bytes:
        """Read ``size`` bytes."""
        if size < 0 or self.pos + size > self.end:
            raise FrameError(
                f"truncated: {what} needs {size} byte(s), {self.remaining} left",
                protocol=self.protocol,
                raw=self.data,
            )
        out = self.data[self.pos : self.pos + size]
        self.pos += size
        return out

    def uint(self, size: int, what: str) -> int:
        """Read an unsigned big-endian integer."""
        return int.from_bytes(self.take(size, what), "big")

    def sint(self, size: int, what: str) -> int:
        """Read a signed (two's complement) big-endian integer."""
        return int.from_bytes(self.take(size, what), "big", signed=True)


def utc_datetime(  # noqa: PLR0917 - the six parts of a date and time
    year: int,
    month: int,
    day: int,
    hour: int,
    minute: int,
    second: float,
    *,
    field: str,
    protocol: str,
) -> datetime:
    """Build an aware UTC datetime, or raise :class:`FieldError` naming the field."""
    whole = int(second)
    micro = round((second - whole) * 1_000_000)
    try:
        return datetime(year, month, day, hour, minute, whole, min(micro, 999_999), tzinfo=UTC)
    except (ValueError, OverflowError) as err:
        value = f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02.0f}"
        raise FieldError(
            field, value, f"not a valid date/time ({err})", protocol=protocol
        ) from None


def from_epoch(seconds: float, *, field: str, protocol: str) -> datetime:
    """Convert Unix seconds to an aware UTC datetime, or raise :class:`FieldError`."""
    if not math.isfinite(seconds):
        raise FieldError(field, seconds, "not a finite timestamp", protocol=protocol)
    try:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    except (ValueError, OverflowError) as err:
        raise FieldError(
            field, seconds, f"not a valid timestamp ({err})", protocol=protocol
        ) from None


def check_coordinates(lat: float, lon: float, *, protocol: str) -> None:
    """Raise :class:`FieldError` when a coordinate is out of range."""
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise FieldError("latitude", lat, "out of range -90..90", protocol=protocol)
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise FieldError("longitude", lon, "out of range -180..180", protocol=protocol)


def parse_float(text: str, field: str, *, protocol: str) -> float:
    """Parse a finite decimal number, or raise :class:`FieldError`."""
    stripped = text.strip()
    try:
        value = float(stripped)
    except ValueError:
        raise FieldError(field, text, "not a number", protocol=protocol) from None
    if not math.isfinite(value) or not _DECIMAL_CHARS.issuperset(stripped.lower()):
        raise FieldError(field, text, "not a finite decimal number", protocol=protocol)
    return value


_DECIMAL_CHARS = frozenset("0123456789+-.e")


def parse_int(text: str, field: str, *, protocol: str, base: int = 10) -> int:
    """Parse an integer (digits only, no sign or spaces), or raise :class:`FieldError`."""
    digits = "0123456789abcdef"[:base]
    stripped = text.strip()
    if not stripped or not all(c in digits for c in stripped.lower()) or len(stripped) > 40:
        raise FieldError(field, text, f"not a base-{base} integer", protocol=protocol)
    return int(stripped, base)


def parse_ddmm(text: str, hemisphere: str, field: str, *, protocol: str) -> float:
    """Parse an NMEA-style ``[-]d…dmm.mmmm`` coordinate with its N/S/E/W letter.

    Also accepts the ``-dd-mm.mmmm`` form some H02 devices send and the dot-less
    ``ddmmmmmm`` form (four decimal digits of minutes).
    """
    raw = text.strip()
    if not raw.isascii():
        raise FieldError(field, text, "not a ddmm.mmmm coordinate", protocol=protocol)
    negative = False
    if raw.startswith("-") and raw.count("-") == 2:  # -dd-mm.mmmm
        _, deg_text, min_text = raw.split("-")
        negative = True
        degrees = parse_int(deg_text, field, protocol=protocol) if deg_text else 0
        minutes = parse_float(min_text, field, protocol=protocol)
    else:
        if raw.startswith("-"):
            negative = True
            raw = raw[1:]
        if "." in raw:
            whole, _, frac = raw.partition(".")
            if not whole.isdigit() or not frac.isdigit() or len(whole) < 1:
                raise FieldError(field, text, "not a ddmm.mmmm coordinate", protocol=protocol)
            degrees = int(whole[:-2]) if len(whole) > 2 else 0
            minutes = float(f"{whole[-2:]}.{frac}")
        elif raw.isdigit() and len(raw) >= 7:  # ddmmmmmm: 4 decimals of minutes
            degrees = int(raw[:-6])
            minutes = int(raw[-6:]) / 10000.0
        else:
            raise FieldError(field, text, "not a ddmm.mmmm coordinate", protocol=protocol)
    if minutes >= 60.0:
        raise FieldError(field, text, "minutes must be below 60", protocol=protocol)
    value = degrees + minutes / 60.0
    hemi = hemisphere.strip().upper()
    if hemi in ("S", "W"):
        negative = True
    elif hemi not in ("N", "E", ""):
        raise FieldError(field, hemisphere, "hemisphere must be N, S, E or W", protocol=protocol)
    return -value if negative else value


def bcd_digits(data: bytes, field: str, *, protocol: str) -> str:
    """Decode packed BCD into its digit string, or raise :class:`FieldError`."""
    text = data.hex()
    if not text.isdigit():
        raise FieldError(field, data, "not packed BCD", protocol=protocol)
    return text


def printable_ascii(data: bytes) -> str | None:
    """The ASCII text of ``data`` when it is all printable (tabs/newlines allowed)."""
    if all(32 <= b < 127 or b in (9, 10, 13) for b in data):
        return data.decode("ascii")
    return None
