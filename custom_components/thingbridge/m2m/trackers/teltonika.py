"""Teltonika Codec 8, 8 Extended and 16 over TCP and UDP (FMB/FMC/FMM/TAT devices).

Written by hand from the vendor's "Teltonika Data Sending Protocols" specification: no
maintained Python library decodes the codecs sans-IO with resynchronisation and
replies, and the format is small enough to check field by field.

TCP (:class:`TeltonikaDecoder`):

- login ``[len:2][IMEI ASCII]`` → a :class:`Frame` of kind ``"login"`` with a
  :class:`Login`; ``reply`` = ``01`` (accept), ``reject_reply`` = ``00``: the gateway
  decides by the IMEI.
- AVL packet ``00000000 [len:4] codec N1 records N2 [CRC:4]`` (CRC-16/IBM over codec…N2,
  upper two CRC bytes zero) → kind ``"avl"`` with one :class:`Position` per record;
  ``reply`` = the record count as 4 bytes (the device resends until the count matches).
- Codec 12/13 device responses → kind ``"codec12"``/``"codec13"`` with a
  :class:`CommandResponse`; no reply (the vendor expects none).
- a lone ``FF`` byte (a keep-alive some firmwares send) → kind ``"keepalive"``.

The IMEI must be 15 digits (:mod:`.ids`); another login is a :class:`FieldError` and
leaves the connection unidentified. An unregistered device gets ``00`` to its login (the
vendor's "rejected"): it closes the connection, keeps its records in flash and logs in
again later; AVL packets it sends anyway get no record count, so it resends them.

Data packets carry no IMEI: the decoder takes it from the login on the same connection
(or from ``device_id=``); a packet before any login is reported as
:class:`NotIdentifiedError` and not acknowledged, so the device keeps its data.

UDP (:class:`TeltonikaUdpDecoder`): ``[len:2][packet id:2][01][AVL packet id:1]
[IMEI len:2][IMEI] codec N1 records N2`` without CRC; the reply is
``0005 <packet id> 01 <AVL packet id> <count>`` (the vendor example echoes the packet id).

Well-known AVL IDs are mapped onto :class:`Position`: 239 ignition, 240 movement,
66 external voltage (mV), 67 battery voltage (mV), 113 battery level %, 21 GSM signal
(0-5), 16 total odometer (m), 199 trip odometer (m), 449 ignition-on counter (s) →
``engine_hours_s``, 182 HDOP (x0.1), 236/246/247/249/252/253 alarms. Every IO value is
also kept in ``io`` under its decimal ID; Codec 8E variable-length values are bytes,
except VIN (256, 325) and DTC list (281), which are text.

Speed: a gateway decodes every record of every device, so well-formed records take a fast
path (precompiled :class:`struct.Struct` reads, the IO groups unpacked pair by pair, no
per-field bounds objects). A tracker's records mostly repeat one IO layout (the same IDs in
the same groups), so the fast path keeps the layouts it met lately (a few per N1 count) and
reads a record that matches one, every ID and count checked, with one call. Anything the fast path does not accept as it stands (a
truncated record, out-of-range coordinates or time, trailing bytes…) is decoded again by
the field-by-field reader, which names the field that is wrong; both give the same
positions for valid input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
import operator
import struct

from ._util import Reader, check_coordinates, from_epoch, printable_ascii
from .checksum import crc16_ibm
from .errors import (
    ChecksumError,
    FieldError,
    FrameError,
    NotIdentifiedError,
    ProtocolError,
    UnsupportedMessage,
)
from .ids import check_device_id
from .model import (
    AnyMessage,
    CommandResponse,
    Frame,
    IoValue,
    Login,
    Position,
    StatusReport,
    join_alarms,
    new_position,
)
from .stream import DEFAULT_MAX_BUFFER, Item, Step, StreamDecoder

PROTOCOL = "teltonika"

CODEC_8 = 0x08
CODEC_8E = 0x8E
CODEC_16 = 0x10
CODEC_12 = 0x0C
CODEC_13 = 0x0D
CODEC_GH3000 = 0x07
AVL_CODECS = frozenset({CODEC_8, CODEC_8E, CODEC_16})
CODEC_14 = 0x0E
CODEC_15 = 0x0F
KNOWN_CODECS = AVL_CODECS | {CODEC_12, CODEC_13, CODEC_14, CODEC_15, CODEC_GH3000}
_RECORD_CODECS = AVL_CODECS | {CODEC_GH3000}  # packets of records, ACKed with their count

_IMEI_MIN, _IMEI_MAX = 8, 20
_PREAMBLE = b"\x00\x00\x00\x00"

_GREEN_DRIVING = {1: "acceleration", 2: "braking", 3: "cornering"}
_FLAG_ALARMS = {236: "general", 246: "tow", 247: "accident", 249: "jamming", 252: "power_cut"}


def build_login_reply(accepted: bool) -> bytes:
    """The one-byte answer to an IMEI login: ``01`` accept, ``00`` reject."""
    return b"\x01" if accepted else b"\x00"


def build_ack(count: int) -> bytes:
    """The TCP acknowledgement of an AVL packet: its record count as 4 bytes."""
    return count.to_bytes(4, "big")


def build_udp_ack(packet_id: int, avl_packet_id: int, count: int) -> bytes:
    """The UDP acknowledgement: length 5, packet id, 01, AVL packet id, accepted count."""
    return (
        b"\x00\x05" + packet_id.to_bytes(2, "big") + b"\x01" + bytes((avl_packet_id, count & 0xFF))
    )


def build_command(command: str) -> bytes:
    """A Codec 12 command packet (server → device), e.g. ``build_command("getinfo")``."""
    text = command.encode("ascii")
    body = bytes((CODEC_12, 1, 0x05)) + len(text).to_bytes(4, "big") + text + b"\x01"
    return (
        b"\x00\x00\x00\x00"
        + len(body).to_bytes(4, "big")
        + body
        + crc16_ibm(body).to_bytes(4, "big")
    )


def _flag(value: int) -> bool:
    return value > 0


class _Record:
    """Mutable accumulator for one AVL record's mapped fields."""

    def __init__(self) -> None:
        self.io: dict[str, IoValue] = {}
        self.alarms: list[str] = []
        self.fields: dict[str, float | int | bool] = {}


_SCALED: dict[int, tuple[str, Callable[[int], float | int | bool]]] = {
    239: ("ignition", _flag),
    240: ("motion", _flag),
    66: ("external_voltage_v", lambda v: v / 1000.0),
    67: ("battery_v", lambda v: v / 1000.0),
    113: ("battery_percent", float),
    21: ("gsm_signal", int),
    16: ("odometer_m", float),
    199: ("trip_odometer_m", float),
    449: ("engine_hours_s", float),
    182: ("hdop", lambda v: v / 10.0),
}


def _map_io(rec: _Record, io_id: int, value: int) -> None:
    rec.io[str(io_id)] = value
    mapped = _SCALED.get(io_id)
    if mapped is not None:
        rec.fields[mapped[0]] = mapped[1](value)
    elif io_id in _FLAG_ALARMS and value > 0:
        rec.alarms.append(_FLAG_ALARMS[io_id])
    elif io_id == 253 and value in _GREEN_DRIVING:
        rec.alarms.append(_GREEN_DRIVING[value])


class _FallbackError(Exception):
    """The fast path met something it leaves to the checked decoder."""


# timestamp, priority, longitude, latitude, altitude, angle, satellites, speed
_GPS = struct.Struct(">QBiihHBH")
_NX_HEAD = struct.Struct(">HH")
_FROM_TIMESTAMP = datetime.fromtimestamp  # same result as from_epoch(), a third of the cost
_KEYS = tuple(str(i) for i in range(1024))
_MAPPED = frozenset(_SCALED) | frozenset(_FLAG_ALARMS) | {253}
_TEXT_IDS = (256, 281, 325)
_VALUE_CODES = "BHIQ"  # IO groups N1, N2, N4, N8


class _Layout:
    """A codec's record layout as :class:`struct.Struct` objects, built on demand.

    ``head`` reads the GPS element, the event IO ID (and Codec 16's generation type),
    the IO total and the N1 count in one call; ``group(g, n)`` reads group ``g``'s ``n``
    (IO ID, value) pairs followed by the next count (N2, N4, N8, or Codec 8E's NX).
    """

    __slots__ = ("_cache", "_known", "head", "id_code", "n_code", "shapes", "wide")

    def __init__(self, codec: int) -> None:
        self.wide = codec == CODEC_8E
        self.id_code = "B" if codec == CODEC_8 else "H"
        self.n_code = "H" if self.wide else "B"
        event = "HB" if codec == CODEC_16 else self.id_code
        self.head = struct.Struct(f">QBiihHBH{event}{self.n_code}{self.n_code}")
        self._cache: dict[tuple[int, int], struct.Struct] = {}
        self.shapes: dict[int, list[_Shape]] = {}
        """The IO layouts used lately, by their N1 count (most recently used first)."""
        self._known: dict[tuple[tuple[tuple[int, ...], ...], int], _Shape | None] = {}
        """The layouts met (up to :data:`_MAX_KNOWN`): None once, then built and kept."""

    def remember(self, groups: list[tuple[int, ...]], nx: int) -> None:
        """Keep the layout of a record whose IO IDs, group by group, were ``groups``."""
        n1 = len(groups[0])
        shapes = self.shapes.get(n1)
        if shapes is None:
            if len(self.shapes) >= _MAX_SHAPE_KEYS:
                self.shapes.clear()
            shapes = self.shapes[n1] = []
        key = (tuple(groups), nx)
        shape = self._known.get(key)
        if shape is None:
            if len(self._known) >= _MAX_KNOWN:
                self._known.clear()
            if key not in self._known:  # seen once: built the second time (a layout that
                self._known[key] = None  # never comes back, such as garbage, costs nothing)
                return
            shape = self._known[key] = _Shape(self, groups, nx)
        elif shape in shapes:  # it did not fit the data left (a record cut short)
            shapes.remove(shape)
        shapes.insert(0, shape)
        del shapes[_MAX_SHAPES:]

    def group(self, g: int, n: int) -> struct.Struct:
        """The reader of group ``g`` (0-3) with ``n`` pairs and the count after it."""
        found = self._cache.get((g, n))
        if found is not None:
            return found
        tail = self.n_code if g < 3 else ("H" if self.wide else "")
        layout = struct.Struct(f">{(self.id_code + _VALUE_CODES[g]) * n}{tail}")
        if n <= 64:
            self._cache[g, n] = layout
        return layout


_MAX_SHAPES = 8  # layouts tried per N1 count (a mixed fleet's models may share one)
_MAX_KNOWN = 256  # layouts built and kept for reuse
_MAX_SHAPE_KEYS = 64  # N1 counts with kept layouts


def _picker(indexes: list[int]) -> Callable[[tuple[int, ...]], tuple[int, ...]]:
    """``operator.itemgetter`` that always returns a tuple (of 0, 1 or more items)."""
    if len(indexes) > 1:
        return operator.itemgetter(*indexes)
    if indexes:
        index = indexes[0]
        return lambda values: (values[index],)
    return lambda _values: ()


class _Shape:
    """A record's whole IO element as one :class:`struct.Struct`, for records laid out alike.

    A tracker's records mostly carry the same IO IDs in the same groups, only the values
    change. Given the IDs of a record, ``whole`` reads all its IO groups (N1 pairs, N2,
    N2 pairs… up to Codec 8E's NX count) in one call; ``signature`` picks every ID and
    count from what it read, which must equal ``expected`` for the record to have this
    layout (otherwise the group-by-group reader takes it). ``value_of`` picks the values
    (in record order, named ``keys``); ``mapped_of`` those of the IDs ``mapped_ids``, which
    map onto :class:`Position` fields or alarms.
    """

    __slots__ = (
        "expected", "keys", "mapped_ids", "mapped_of", "signature", "size", "value_of", "whole",
    )  # fmt: skip

    def __init__(self, layout: _Layout, groups: list[tuple[int, ...]], nx: int) -> None:
        code = [">"]
        checked: list[int] = []  # indexes of the IDs and counts
        expected: list[int] = []
        values: list[int] = []
        mapped: list[tuple[int, int]] = []
        index = 0
        for g, ids in enumerate(groups):
            code.append((layout.id_code + _VALUE_CODES[g]) * len(ids))
            for io_id in ids:
                checked.append(index)
                expected.append(io_id)
                values.append(index + 1)
                if io_id in _MAPPED:
                    mapped.append((io_id, index + 1))
                index += 2
            if g < 3:  # the next group's count
                code.append(layout.n_code)
                checked.append(index)
                expected.append(len(groups[g + 1]))
                index += 1
            elif layout.wide:  # NX
                code.append("H")
                checked.append(index)
                expected.append(nx)
                index += 1
        self.whole = struct.Struct("".join(code))
        self.size = self.whole.size
        self.signature = operator.itemgetter(*checked)  # at least the N2, N4, N8 counts
        self.expected = tuple(expected)
        self.value_of = _picker(values)
        self.keys = tuple(_KEYS[i] if i < len(_KEYS) else str(i) for g in groups for i in g)
        self.mapped_ids = tuple(io_id for io_id, _ in mapped)
        self.mapped_of = _picker([index for _, index in mapped])


_LAYOUTS = {codec: _Layout(codec) for codec in AVL_CODECS}
_NO_ALARMS: list[str] = []
_NO_SHAPES: list[_Shape] = []  # never changed: only a found layout moves


def _decode_records(
    data: bytes,
    start: int,
    end: int,
    codec: int,
    count: int,
    *,
    device_id: str,
    raw: bytes,
    checksum_ok: bool | None,
    strict: bool,
) -> list[AnyMessage]:
    """Decode ``count`` records of an AVL codec from ``data[start:end]``."""
    try:
        return _decode_records_fast(
            data, start, end, codec, count, device_id, raw, checksum_ok, strict
        )
    except (_FallbackError, struct.error, OverflowError, ValueError, OSError):  # fmt: skip
        return _decode_records_checked(
            data, start, end, codec, count,
            device_id=device_id, raw=raw, checksum_ok=checksum_ok, strict=strict,
        )  # fmt: skip


def _decode_records_fast(  # noqa: PLR0915, PLR0917 - one hot loop
    data: bytes,
    start: int,
    end: int,
    codec: int,
    count: int,
    device_id: str,
    raw: bytes,
    checksum_ok: bool | None,
    strict: bool,
) -> list[AnyMessage]:
    """:func:`_decode_records` for well-formed records; raises :class:`_FallbackError` otherwise.

    Reads may run past ``end`` (into the count and CRC bytes that follow, never past
    ``data``): the position is checked against ``end`` after each record.
    """
    layout = _LAYOUTS[codec]
    head = layout.head
    head_size = head.size
    group = layout.group
    wide = layout.wide
    keys = _KEYS
    n_keys = len(keys)
    mapped = _MAPPED
    from_timestamp = _FROM_TIMESTAMP
    utc = UTC
    shapes = layout.shapes
    remember = layout.remember
    size = len(data)
    pos = start
    messages: list[AnyMessage] = []
    for _ in range(count):
        fields = head.unpack_from(data, pos)
        pos += head_size
        millis, priority, lon_e7, lat_e7, altitude, angle, satellites, speed, event_id = fields[:9]
        n = fields[-1]
        io: dict[str, IoValue] = {"priority": priority}
        pairs: Iterable[tuple[int, int]]  # the mapped IO IDs and their values
        candidates = shapes.get(n, _NO_SHAPES)
        for index, shape in enumerate(candidates):  # a layout seen before: all the IO at once
            if pos + shape.size <= size:
                values = shape.whole.unpack_from(data, pos)
                if shape.signature(values) == shape.expected:
                    if index:  # most recently used first: a fleet's usual layout stays ahead
                        candidates.insert(0, candidates.pop(index))
                    pos += shape.size
                    io.update(zip(shape.keys, shape.value_of(values), strict=True))
                    pairs = zip(shape.mapped_ids, shape.mapped_of(values), strict=True)
                    n = values[-1] if wide else 0
                    break
        else:  # group by group; the layout is kept for the next records
            pairs = []
            groups: list[tuple[int, ...]] = []
            for g in range(4):
                reader = group(g, n)
                values = reader.unpack_from(data, pos)
                pos += reader.size
                ids: tuple[int, ...] = values[0 : 2 * n : 2]
                if n:
                    for io_id, value in zip(ids, values[1::2], strict=False):
                        io[keys[io_id] if io_id < n_keys else str(io_id)] = value
                        if io_id in mapped:
                            pairs.append((io_id, value))
                groups.append(ids)
                n = values[-1] if values else 0
            remember(groups, n if wide else 0)
        alarms = _NO_ALARMS
        ignition = motion = None
        ext_v = battery_v = battery_pct = odometer = trip = engine = hdop = None
        gsm = None
        for io_id, value in pairs:
            if io_id == 239:
                ignition = value > 0
            elif io_id == 240:
                motion = value > 0
            elif io_id == 21:
                gsm = int(value)
            elif io_id == 66:
                ext_v = value / 1000.0
            elif io_id == 16:
                odometer = float(value)
            elif io_id == 67:
                battery_v = value / 1000.0
            elif io_id == 113:
                battery_pct = float(value)
            elif io_id == 199:
                trip = float(value)
            elif io_id == 449:
                engine = float(value)
            elif io_id == 182:
                hdop = value / 10.0
            else:  # an alarm
                name = (
                    _GREEN_DRIVING.get(value)
                    if io_id == 253
                    else (_FLAG_ALARMS[io_id] if value > 0 else None)
                )
                if name is not None:
                    alarms = [*alarms, name]
        if wide:
            for _ in range(n):  # NX: variable-length values
                io_id, length = _NX_HEAD.unpack_from(data, pos)
                pos += 4
                blob = data[pos : pos + length]
                pos += length
                text = printable_ascii(blob) if io_id in _TEXT_IDS else None
                io[str(io_id)] = text if text is not None else blob
        if pos > end:
            raise _FallbackError
        lat = lat_e7 / 1e7
        lon = lon_e7 / 1e7
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise _FallbackError
        messages.append(
            new_position(
                PROTOCOL,
                device_id,
                raw,
                checksum_ok,
                from_timestamp(millis / 1000.0, utc),
                lat,
                lon,
                satellites != 0,  # valid
                float(altitude),
                float(speed),
                float(angle),  # course
                satellites,
                hdop,
                None,  # accuracy
                ignition,
                motion,
                None,  # charging
                ext_v,
                battery_v,
                battery_pct,
                gsm,
                odometer,
                trip,
                engine,
                join_alarms(alarms) if alarms else None,
                event_id,
                None,  # archive
                io,
            )
        )
    if pos > end or (strict and pos != end):
        raise _FallbackError
    return messages


def _decode_records_checked(
    data: bytes,
    start: int,
    end: int,
    codec: int,
    count: int,
    *,
    device_id: str,
    raw: bytes,
    checksum_ok: bool | None,
    strict: bool,
) -> list[AnyMessage]:
    """Decode ``count`` records field by field, naming the field that is wrong."""
    reader = Reader(data, start, end, protocol=PROTOCOL)
    wide = codec == CODEC_8E
    id_size = 2 if codec in (CODEC_8E, CODEC_16) else 1
    count_size = 2 if wide else 1
    messages: list[AnyMessage] = []
    for index in range(count):
        what = f"record {index + 1}/{count}"
        millis = reader.uint(8, f"{what} timestamp")
        fix_time = from_epoch(millis / 1000.0, field="timestamp", protocol=PROTOCOL)
        priority = reader.uint(1, f"{what} priority")
        lon = reader.sint(4, f"{what} longitude") / 1e7
        lat = reader.sint(4, f"{what} latitude") / 1e7
        altitude = reader.sint(2, f"{what} altitude")
        angle = reader.uint(2, f"{what} angle")
        satellites = reader.uint(1, f"{what} satellites")
        speed = reader.uint(2, f"{what} speed")
        event_id = reader.uint(id_size, f"{what} event IO ID")
        if codec == CODEC_16:
            reader.uint(1, f"{what} generation type")
        reader.uint(count_size, f"{what} IO total")
        rec = _Record()
        rec.io["priority"] = priority
        for size in (1, 2, 4, 8):
            n = reader.uint(count_size, f"{what} N{size}")
            for _ in range(n):
                io_id = reader.uint(id_size, f"{what} IO ID")
                _map_io(rec, io_id, reader.uint(size, f"{what} IO {io_id} value"))
        if wide:
            nx = reader.uint(2, f"{what} NX")
            for _ in range(nx):
                io_id = reader.uint(2, f"{what} IO ID")
                length = reader.uint(2, f"{what} IO {io_id} length")
                value = reader.take(length, f"{what} IO {io_id} value")
                text = printable_ascii(value) if io_id in (256, 281, 325) else None
                rec.io[str(io_id)] = text if text is not None else value
        check_coordinates(lat, lon, protocol=PROTOCOL)
        valid = satellites != 0
        f = rec.fields
        messages.append(
            Position(
                protocol=PROTOCOL,
                device_id=device_id,
                raw=raw,
                checksum_ok=checksum_ok,
                fix_time=fix_time,
                latitude=lat,
                longitude=lon,
                valid=valid,
                altitude_m=float(altitude),
                speed_kmh=float(speed),
                course_deg=float(angle),
                satellites=satellites,
                hdop=_opt_float(f.get("hdop")),
                ignition=_opt_bool(f.get("ignition")),
                motion=_opt_bool(f.get("motion")),
                external_voltage_v=_opt_float(f.get("external_voltage_v")),
                battery_v=_opt_float(f.get("battery_v")),
                battery_percent=_opt_float(f.get("battery_percent")),
                gsm_signal=_opt_int(f.get("gsm_signal")),
                odometer_m=_opt_float(f.get("odometer_m")),
                trip_odometer_m=_opt_float(f.get("trip_odometer_m")),
                engine_hours_s=_opt_float(f.get("engine_hours_s")),
                alarm=join_alarms(rec.alarms),
                event=event_id,
                io=rec.io,
            )
        )
    if strict and reader.remaining:
        raise FrameError(
            f"{reader.remaining} unexpected byte(s) after {count} record(s)",
            protocol=PROTOCOL,
            raw=raw,
        )
    return messages


_GH3000_EPOCH = 1167609600  # 2007-01-01 00:00:00 UTC
_FLOAT = struct.Struct(">f")


def _decode_gh3000(
    data: bytes,
    start: int,
    end: int,
    count: int,
    *,
    device_id: str,
    raw: bytes,
    checksum_ok: bool | None,
    strict: bool,
) -> list[AnyMessage]:
    """Decode ``count`` GH3000 (codec 0x07) records from ``data[start:end]``.

    A record is a 4-byte time (2 priority bits, 30 bits of seconds since 2007-01-01), a
    global mask (bit 0 GPS element, bits 1-3 IO groups of 1, 2 and 4-byte values), the GPS
    element led by its own mask (bit 0 latitude and longitude as IEEE floats, 1 altitude,
    2 angle in 1/256 turns, 3 speed km/h, 4 satellites, 5 LAC and cell id, 6 signal
    quality, 7 operator code), then the IO groups (1-byte count, 1-byte IDs). A record
    without coordinates becomes a :class:`StatusReport`.
    """
    reader = Reader(data, start, end, protocol=PROTOCOL)
    messages: list[AnyMessage] = []
    for index in range(count):
        what = f"record {index + 1}/{count}"
        stamp = reader.uint(4, f"{what} timestamp")
        time = from_epoch(
            (stamp & 0x3FFFFFFF) + _GH3000_EPOCH, field="timestamp", protocol=PROTOCOL
        )
        rec = _Record()
        rec.io["priority"] = stamp >> 30
        global_mask = reader.uint(1, f"{what} global mask")
        lat = lon = None
        altitude = course = speed = None
        satellites: int | None = None
        if global_mask & 0x01:
            mask = reader.uint(1, f"{what} GPS mask")
            if mask & 0x01:
                lat = _FLOAT.unpack(reader.take(4, f"{what} latitude"))[0]
                lon = _FLOAT.unpack(reader.take(4, f"{what} longitude"))[0]
            if mask & 0x02:
                altitude = float(reader.uint(2, f"{what} altitude"))
            if mask & 0x04:
                course = reader.uint(1, f"{what} angle") * 360.0 / 256.0
            if mask & 0x08:
                speed = float(reader.uint(1, f"{what} speed"))
            if mask & 0x10:
                satellites = reader.uint(1, f"{what} satellites")
            if mask & 0x20:
                rec.io["lac"] = reader.uint(2, f"{what} LAC")
                rec.io["cell_id"] = reader.uint(2, f"{what} cell id")
            if mask & 0x40:
                rec.io["signal_quality"] = reader.uint(1, f"{what} signal quality")
            if mask & 0x80:
                rec.io["operator"] = reader.uint(4, f"{what} operator")
        for bit, size in ((0x02, 1), (0x04, 2), (0x08, 4)):
            if global_mask & bit:
                for _ in range(reader.uint(1, f"{what} N{size}")):
                    io_id = reader.uint(1, f"{what} IO ID")
                    value = reader.uint(size, f"{what} IO {io_id} value")
                    rec.io[str(io_id)] = value
                    mapped = _GH3000_IO.get(io_id)
                    if mapped is not None:
                        rec.fields[mapped[0]] = mapped[1](value)
                    elif io_id == 222 and value == 1:
                        rec.alarms.append("sos")
        f = rec.fields
        if lat is None or lon is None:
            messages.append(
                StatusReport(
                    protocol=PROTOCOL,
                    device_id=device_id,
                    raw=raw,
                    checksum_ok=checksum_ok,
                    time=time,
                    battery_v=_opt_float(f.get("battery_v")),
                    battery_percent=_opt_float(f.get("battery_percent")),
                    alarm=join_alarms(rec.alarms),
                    io=rec.io,
                )
            )
            continue
        check_coordinates(lat, lon, protocol=PROTOCOL)
        messages.append(
            Position(
                protocol=PROTOCOL,
                device_id=device_id,
                raw=raw,
                checksum_ok=checksum_ok,
                fix_time=time,
                latitude=lat,
                longitude=lon,
                valid=satellites != 0,
                altitude_m=altitude,
                speed_kmh=speed,
                course_deg=course,
                satellites=satellites,
                hdop=_opt_float(f.get("hdop")),
                motion=_opt_bool(f.get("motion")),
                battery_v=_opt_float(f.get("battery_v")),
                battery_percent=_opt_float(f.get("battery_percent")),
                alarm=join_alarms(rec.alarms),
                io=rec.io,
            )
        )
    if strict and reader.remaining:
        raise FrameError(
            f"{reader.remaining} unexpected byte(s) after {count} record(s)",
            protocol=PROTOCOL,
            raw=raw,
        )
    return messages


# GH3000 IO IDs (its own table, not the FM one): 1 battery %, 20 HDOP x0.1,
# 67 battery mV, 240 movement; 222 = 1 is the SOS button.
_GH3000_IO: dict[int, tuple[str, Callable[[int], float | int | bool]]] = {
    1: ("battery_percent", float),
    20: ("hdop", lambda v: v / 10.0),
    67: ("battery_v", lambda v: v / 1000.0),
    240: ("motion", lambda v: v == 1),
}


def _opt_float(value: float | int | bool | None) -> float | None:
    return None if value is None else float(value)


def _opt_int(value: float | int | bool | None) -> int | None:
    return None if value is None else int(value)


def _opt_bool(value: float | int | bool | None) -> bool | None:
    return None if value is None else bool(value)


def _decode_command(
    data: bytes,
    start: int,
    end: int,
    codec: int,
    *,
    device_id: str,
    raw: bytes,
    checksum_ok: bool | None,
) -> CommandResponse:
    """Decode a Codec 12/13 message (one response) from ``data[start:end]``."""
    reader = Reader(data, start, end, protocol=PROTOCOL)
    message_type = reader.uint(1, "type")
    size = reader.uint(4, "size")
    time: datetime | None = None
    if codec == CODEC_13:
        if size + 4 == reader.remaining:
            # the size leaves the timestamp out (the vendor's text counts it in)
            time = from_epoch(reader.uint(4, "timestamp"), field="timestamp", protocol=PROTOCOL)
        elif size < 4:
            raise FieldError(
                "size", size, "Codec 13 size must include the 4-byte timestamp", protocol=PROTOCOL
            )
        elif size >= 8 and size == reader.remaining and not any(data[reader.pos : reader.pos + 2]):
            # an 8-byte millisecond timestamp (an older revision of the vendor's table):
            # read as 4-byte seconds it would fall on the first day of 1970
            millis = reader.uint(8, "timestamp")
            time = from_epoch(millis / 1000.0, field="timestamp", protocol=PROTOCOL)
            size -= 8
        else:
            time = from_epoch(reader.uint(4, "timestamp"), field="timestamp", protocol=PROTOCOL)
            size -= 4
    payload = reader.take(size, "payload")
    if reader.remaining:
        raise FrameError(
            f"{reader.remaining} unexpected byte(s) after the response", protocol=PROTOCOL, raw=raw
        )
    text = printable_ascii(payload)
    driver_id = None
    if text is not None and text.startswith("GTSL"):
        parts = text.strip().split("|")
        driver_id = parts[4] if len(parts) > 4 and parts[4] else None
    return CommandResponse(
        protocol=PROTOCOL,
        device_id=device_id,
        raw=raw,
        checksum_ok=checksum_ok,
        payload=payload,
        text=text.strip() if text is not None else None,
        time=time,
        message_type=message_type,
        driver_id=driver_id,
    )


def _decode_data_field(
    data: bytes,
    start: int,
    end: int,
    *,
    device_id: str,
    raw: bytes,
    checksum_ok: bool | None,
    strict: bool,
) -> tuple[int, int, list[AnyMessage]]:
    """Decode ``codec N1 … N2`` in ``data[start:end]``; return codec, count, messages."""
    if end - start < 3:
        raise FrameError(
            f"data field of {end - start} byte(s) is too short", protocol=PROTOCOL, raw=raw
        )
    codec = data[start]
    count = data[start + 1]
    count2 = data[end - 1]
    if count != count2 and strict:
        raise FieldError(
            "number_of_data_2",
            count2,
            f"differs from number of data 1 ({count})",
            protocol=PROTOCOL,
            raw=raw,
        )
    if codec in AVL_CODECS:
        messages = _decode_records(
            data, start + 2, end - 1, codec, count,
            device_id=device_id, raw=raw, checksum_ok=checksum_ok, strict=strict,
        )  # fmt: skip
        return codec, count, messages
    if codec == CODEC_GH3000:
        messages = _decode_gh3000(
            data, start + 2, end - 1, count,
            device_id=device_id, raw=raw, checksum_ok=checksum_ok, strict=strict,
        )  # fmt: skip
        return codec, count, messages
    if codec in (CODEC_12, CODEC_13):
        if count != 1:
            raise FieldError(
                "quantity",
                count,
                "Codec 12/13 carries exactly one message",
                protocol=PROTOCOL,
                raw=raw,
            )
        message = _decode_command(
            data, start + 2, end - 1, codec, device_id=device_id, raw=raw, checksum_ok=checksum_ok
        )
        return codec, count, [message]
    return codec, count, []


class TeltonikaDecoder(StreamDecoder):
    """Streaming decoder for Teltonika over TCP (see the module docstring).

    Args:
        device_id: The IMEI when it is already known (otherwise the login sets it).
        lenient: Accept bad CRCs and inconsistent counts (marked ``checksum_ok=False``).
        max_buffer: Bound on unparsed bytes; also the largest accepted packet.
    """

    protocol = PROTOCOL

    def __init__(
        self,
        *,
        device_id: str | None = None,
        lenient: bool = False,
        max_buffer: int = DEFAULT_MAX_BUFFER,
    ) -> None:
        """Start a connection's decoder."""
        super().__init__(lenient=lenient, max_buffer=max_buffer)
        self.device_id = device_id

    def _avl_state(self, buf: bytes, i: int) -> bool | None:
        """Whether an AVL packet can start at ``i``: True, False, or None (need more)."""
        avail = len(buf) - i
        if any(buf[i : i + 4]):
            return False
        if avail < 8:
            return None
        length = int.from_bytes(buf[i + 4 : i + 8], "big")
        if length < 3 or length + 12 > self.max_buffer:
            return False
        if avail < 9:
            return None
        return buf[i + 8] in KNOWN_CODECS

    def _login_state(self, buf: bytes, i: int) -> bool | None:
        avail = len(buf) - i
        if avail < 2:
            return None if buf[i] == 0 else False
        length = int.from_bytes(buf[i : i + 2], "big")
        if not _IMEI_MIN <= length <= _IMEI_MAX:
            return False
        digits = buf[i + 2 : i + 2 + length]
        if not all(0x30 <= b <= 0x39 for b in digits):
            return False
        return True if len(digits) == length else None

    def _plausible(self, buf: bytes, i: int) -> bool | None:
        login = self._login_state(buf, i)
        if login is not False:
            return login
        return self._avl_state(buf, i)

    def _step(self, buf: bytes, pos: int) -> Step | None:
        if buf.startswith(_PREAMBLE, pos) and self._avl_state(buf, pos):
            # an AVL packet (a login never starts with a zero length)
            end = pos + 12 + int.from_bytes(buf[pos + 4 : pos + 8], "big")
            if len(buf) < end:
                return None
            return end, self._packet(buf[pos:end])
        if buf[pos] == 0xFF:
            frame = Frame(
                protocol=PROTOCOL,
                kind="keepalive",
                device_id=self.device_id,
                messages=(),
                raw=b"\xff",
            )
            return pos + 1, frame
        state = self._plausible(buf, pos)
        if state is None:
            return None
        if state is False:
            return self._skip_garbage(buf, pos)
        return self._login(buf, pos)  # a plausible AVL packet was taken above

    def _skip_garbage(self, buf: bytes, pos: int) -> Step:
        i = pos + 1
        while i < len(buf):
            zero = buf.find(b"\x00", i)
            ff = buf.find(b"\xff", i)
            candidates = [c for c in (zero, ff) if c >= 0]
            if not candidates:
                i = len(buf)
                break
            i = min(candidates)
            if buf[i] == 0xFF or self._plausible(buf, i) is not False:
                break
            i += 1
        return self._garbage(buf, pos, i)

    def _login(self, buf: bytes, pos: int) -> Step:
        length = int.from_bytes(buf[pos : pos + 2], "big")
        raw = buf[pos : pos + 2 + length]
        try:
            imei = check_device_id(PROTOCOL, raw[2:].decode("ascii"), raw)
        except FieldError as err:
            self.device_id = None  # its data packets are not identified either
            return pos + len(raw), err
        self.device_id = imei
        login = Login(protocol=PROTOCOL, device_id=imei, raw=raw)
        frame = Frame(
            protocol=PROTOCOL,
            kind="login",
            device_id=imei,
            messages=(login,),
            raw=raw,
            reply=build_login_reply(True),
            reject_reply=build_login_reply(False),
        )
        return pos + len(raw), frame

    def _packet(self, raw: bytes) -> Item:
        data_end = len(raw) - 4
        computed = crc16_ibm(raw[8:data_end])
        carried = int.from_bytes(raw[data_end:], "big")
        checksum_ok = computed == carried
        if not checksum_ok and not self.lenient:
            return ChecksumError(
                computed, carried, protocol=PROTOCOL, raw=raw, device_id=self.device_id
            )
        if self.device_id is None:
            return NotIdentifiedError(
                "AVL data before the IMEI login; not acknowledged", protocol=PROTOCOL, raw=raw
            )
        try:
            codec, count, messages = _decode_data_field(
                raw, 8, data_end,
                device_id=self.device_id, raw=raw, checksum_ok=checksum_ok, strict=not self.lenient,
            )  # fmt: skip
        except ProtocolError as err:
            if raw[8] == CODEC_GH3000 and len(raw) > 9:
                # GH3000 layouts vary by firmware: a well-framed packet that does not parse
                # is acknowledged (as before this codec was decoded), not resent forever
                return UnsupportedMessage(
                    "codec 0x07", protocol=PROTOCOL, raw=raw, device_id=self.device_id,
                    reply=build_ack(raw[9]), detail=err.reason, checksum_ok=checksum_ok,
                )  # fmt: skip
            err.device_id = self.device_id
            return err
        if codec not in _RECORD_CODECS | {CODEC_12, CODEC_13}:
            return UnsupportedMessage(
                f"codec 0x{codec:02X}",
                protocol=PROTOCOL,
                raw=raw,
                device_id=self.device_id,
                checksum_ok=checksum_ok,
            )
        if codec in (CODEC_12, CODEC_13):
            kind = "codec12" if codec == CODEC_12 else "codec13"
            return Frame(
                protocol=PROTOCOL, kind=kind, device_id=self.device_id,
                messages=tuple(messages), raw=raw, checksum_ok=checksum_ok,
            )  # fmt: skip
        return Frame(
            protocol=PROTOCOL,
            kind="avl",
            device_id=self.device_id,
            messages=tuple(messages),
            raw=raw,
            reply=build_ack(count),
            checksum_ok=checksum_ok,
        )


class TeltonikaUdpDecoder:
    """Decoder for Teltonika UDP datagrams (each datagram is one AVL packet).

    Args:
        lenient: Accept a length field that disagrees with the datagram size and
            inconsistent record counts.
    """

    protocol = PROTOCOL

    def __init__(self, *, lenient: bool = False) -> None:
        """Create the decoder (it keeps no state between datagrams)."""
        self.lenient = lenient

    def decode_datagram(self, data: bytes | bytearray | memoryview) -> list[Item]:
        """Decode one datagram into a :class:`Frame` (or an error), as a one-item list."""
        raw = bytes(data)
        try:
            return [self._decode(raw)]
        except ProtocolError as err:
            return [err]

    def _decode(self, raw: bytes) -> Frame:
        reader = Reader(raw, protocol=PROTOCOL)
        length = reader.uint(2, "length")
        if length != len(raw) - 2 and not self.lenient:
            raise FieldError(
                "length",
                length,
                f"datagram carries {len(raw) - 2} bytes after it",
                protocol=PROTOCOL,
                raw=raw,
            )
        packet_id = reader.uint(2, "packet id")
        reader.uint(1, "not usable byte")
        avl_packet_id = reader.uint(1, "AVL packet id")
        imei_length = reader.uint(2, "IMEI length")
        imei_bytes = reader.take(imei_length, "IMEI")
        if not imei_bytes or not imei_bytes.isdigit() or imei_length > _IMEI_MAX:
            raise FieldError("imei", imei_bytes, "must be ASCII digits", protocol=PROTOCOL, raw=raw)
        imei = check_device_id(PROTOCOL, imei_bytes.decode("ascii"), raw)
        try:
            codec, count, messages = _decode_data_field(
                raw,
                reader.pos,
                len(raw),
                device_id=imei,
                raw=raw,
                checksum_ok=None,
                strict=not self.lenient,
            )
        except ProtocolError as err:
            err.device_id = imei
            raise
        reply = build_udp_ack(packet_id, avl_packet_id, count)
        if codec not in _RECORD_CODECS:
            raise UnsupportedMessage(
                f"codec 0x{codec:02X}", protocol=PROTOCOL, raw=raw, device_id=imei, reply=reply
            )
        return Frame(
            protocol=PROTOCOL,
            kind="avl",
            device_id=imei,
            messages=tuple(messages),
            raw=raw,
            reply=reply,
        )
