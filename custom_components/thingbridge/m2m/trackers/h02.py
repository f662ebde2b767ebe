"""H02 protocol (Sinotrack ST-90x and other ``*HQ`` devices), text and binary.

Written by hand from the H02 protocol description and the variants real devices send:
no maintained Python library parses it sans-IO.

Text frames run from ``*`` to ``#``:
``*HQ,<id>,V1,<hhmmss>,<A|V>,<ddmm.mmmm>,<N|S>,<dddmm.mmmm>,<E|W>,<speed knots>,<course>,
<ddmmyy>,<status 8 hex>[,…]#``. Other ``V…`` types with the same layout (V8, V4 command
answers…) decode too; coordinates may also be ``-dd-mm.mmmm`` or dot-less ``ddmmmmmm``.
``V1`` is answered ``*HQ,<id>,V4,V1,<yyyyMMddHHmmss UTC>#``; heartbeats ``V0``/``HTBT`` are
echoed up to the type (``*HQ,<id>,HTBT#``); ``NBR`` cell reports are answered
``*HQ,<id>,V4,NBR,<yyyyMMddHHmmss>#``. Other positions get ``*HQ,<id>,R12,<HHmmss>#`` only
with ``ack=True`` (by default H02 has no record ACK).

Device IDs are 10-15 digits (:mod:`.ids`); a frame with any other ID is a
:class:`FieldError`. An unregistered device gets nothing at all (``reject_reply`` is
``None`` everywhere; Traccar echoes heartbeats to anyone): no ``V4`` answer, no heartbeat
echo. The device then sees a server that does not answer: it keeps re-sending and, after
its heartbeat timeout, reconnects; firmwares with a "blind area" memory keep the fixes they
could not deliver for later.

Binary frames start with ``$``: ID (5 BCD bytes, or 8 in the 42-byte variant), time
hhmmss and date ddmmyy (BCD), latitude ddmm.mmmm (4 BCD bytes), battery (1), longitude
dddmm.mmmm plus a flags nibble (bit 1 valid, bit 2 north, bit 3 east), speed (3 BCD digits,
knots), course (3 BCD digits), status (4). Frames are 32 or 45 bytes (42 with an 8-byte
ID); the length is ``binary_length`` when given, otherwise detected from where the next
frame starts (or where the input ends) and then kept for the connection.

Status word (active low): bit 0 clear → vibration, bit 1 or 18 clear → SOS, bit 2 clear
→ overspeed, bit 19 clear → power cut; bit 10 set → ignition on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal, overload

from ._text import TextDecoder
from ._util import bcd_digits, check_coordinates, parse_ddmm, parse_float, parse_int, utc_datetime
from .errors import FieldError, FrameError, ProtocolError, UnsupportedMessage
from .ids import check_device_id
from .model import (
    KNOTS_TO_KMH,
    AnyMessage,
    CommandResponse,
    Frame,
    Heartbeat,
    IoValue,
    Position,
    StatusReport,
)
from .stream import DEFAULT_MAX_BUFFER, Item, Step

PROTOCOL = "h02"

BINARY_LENGTHS = (32, 45, 42)
_MARKERS = b"*$X"


def build_reply(device_id: str, body: str, *, manufacturer: str = "HQ") -> bytes:
    """A server frame ``*HQ,<id>,<body>#``."""
    return f"*{manufacturer},{device_id},{body}#".encode("ascii")


def _status_fields(status: int) -> tuple[str | None, bool]:
    """Alarm and ignition from the 32-bit status word."""
    alarm = None
    if not status & 1:
        alarm = "vibration"
    elif not status & (1 << 1) or not status & (1 << 18):
        alarm = "sos"
    elif not status & (1 << 2):
        alarm = "overspeed"
    elif not status & (1 << 19):
        alarm = "power_cut"
    return alarm, bool(status & (1 << 10))


def _battery_percent(value: int) -> float | None:
    if value == 0:
        return None
    if value <= 3:
        return float((value - 1) * 10)
    if value <= 6:
        return float((value - 1) * 20)
    if value <= 100:
        return float(value)
    if 0xF1 <= value <= 0xF6:
        return float(value - 0xF0)
    return None


def _is_date(text: str) -> bool:
    return (
        len(text) == 6
        and text.isdigit()
        and 1 <= int(text[0:2]) <= 31
        and 1 <= int(text[2:4]) <= 12
    )


def _is_hex8(text: str) -> bool:
    return len(text) == 8 and all(c in "0123456789abcdefABCDEF" for c in text)


@overload
def _datetime(date: str, clock: str) -> datetime: ...
@overload
def _datetime(date: str, clock: str, *, strict: Literal[False]) -> datetime | None: ...
def _datetime(date: str, clock: str, *, strict: bool = True) -> datetime | None:
    """``ddmmyy`` and ``hhmmss`` as UTC; ``None`` for a bad value unless ``strict``."""
    if _is_date(date) and len(clock) == 6 and clock.isdigit():
        try:
            return utc_datetime(
                2000 + int(date[4:6]), int(date[2:4]), int(date[0:2]),
                int(clock[0:2]), int(clock[2:4]), int(clock[4:6]), field="datetime", protocol=PROTOCOL,
            )  # fmt: skip
        except FieldError:
            if strict:
                raise
            return None
    if strict:
        raise FieldError(
            "datetime", f"{date} {clock}", "expected ddmmyy and hhmmss", protocol=PROTOCOL
        )
    return None


def _status(io: dict[str, IoValue], text: str) -> tuple[str | None, bool | None]:
    """Record the status word in ``io``; its alarm and ignition (``None`` without one)."""
    if not _is_hex8(text):
        return None, None
    status = int(text, 16)
    io["status"] = status
    return _status_fields(status)


class H02Decoder(TextDecoder):
    """Streaming decoder for H02 text and binary frames.

    Args:
        lenient: Unused (H02 has no checksum); accepted for a uniform interface.
        max_buffer: Bound on unparsed bytes.
        max_frame: Longest accepted text frame.
        binary_length: Length of binary ``$`` frames (32, 42 or 45); ``None`` detects it.
        ack: Also answer positions other than V1 with ``R12`` (Traccar's ``h02.ack``).
        clock: Source of the current UTC time for replies.
    """

    protocol = PROTOCOL
    starts = _MARKERS

    def __init__(
        self,
        *,
        lenient: bool = False,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        max_frame: int = 1024,
        binary_length: int | None = None,
        ack: bool = False,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """Create the decoder."""
        super().__init__(lenient=lenient, max_buffer=max_buffer, max_frame=max_frame)
        if binary_length is not None and binary_length not in BINARY_LENGTHS:
            raise ValueError(f"binary_length must be one of {BINARY_LENGTHS}")
        self.binary_length = binary_length
        self.ack = ack
        self._datagram_size: int | None = None
        self._clock = clock or (lambda: datetime.now(UTC))

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    # -- framing --------------------------------------------------------------------------

    def _step(self, buf: bytes, pos: int) -> Step | None:
        marker = buf[pos]
        if marker in (0x24, 0x58):  # '$' binary, 'X' binary
            size = self._binary_size(buf, pos) if marker == 0x24 else 32
            if size is None:
                return None
            if len(buf) - pos < size:
                return None
            raw = buf[pos : pos + size]
            return pos + size, self._binary(raw) if marker == 0x24 else UnsupportedMessage(
                "X", protocol=PROTOCOL, raw=raw, detail="binary X frame"
            )
        return super()._step(buf, pos)

    def _binary_size(self, buf: bytes, pos: int) -> int | None:
        if self.binary_length is not None:
            return self.binary_length
        avail = len(buf) - pos
        for size in BINARY_LENGTHS:
            if avail > size and self._next_frame_at(buf, pos, pos + size):
                self.binary_length = size  # confirmed by the next frame: keep it
                return size
        if self._datagram_size is not None:  # one datagram, one frame, whatever its length
            return self._datagram_size
        if avail in BINARY_LENGTHS:
            return avail
        if avail > max(BINARY_LENGTHS):
            return 45
        return None

    @staticmethod
    def _next_frame_at(buf: bytes, pos: int, at: int) -> bool:
        """Whether another frame of the same device plainly starts at ``at``.

        A binary frame's tail is arbitrary bytes, so one marker byte proves nothing: the
        next binary frame must repeat this frame's ID, a text frame must start ``*XX,``.
        """
        while at < len(buf) and buf[at] in b"\r\n":
            at += 1
        if at >= len(buf):
            return False
        if buf[at] == 0x24:
            return len(buf) >= at + 6 and buf[at + 1 : at + 6] == buf[pos + 1 : pos + 6]
        if buf[at] == 0x2A:
            head = buf[at + 1 : at + 4]
            return len(head) == 3 and head[:2].isalpha() and head[2:] == b","
        return False

    def decode_datagram(self, data: bytes | bytearray | memoryview) -> list[Item]:
        """Decode one datagram: a binary datagram is one frame of the datagram's length."""
        data = bytes(data)
        if data[:1] == b"$" and len(data) >= min(BINARY_LENGTHS):
            self._datagram_size = len(data.rstrip(b"\r\n"))
        try:
            return super().decode_datagram(data)
        finally:
            self._datagram_size = None

    def _frame_end(self, buf: bytes, pos: int) -> int | None:
        window = min(len(buf), pos + self.max_frame + 1)
        end = buf.find(b"#", pos, window)
        # a cut frame runs into the next one: it ends where the next ``*XX,`` starts (the
        # V4 reply is no record ACK, so a frame swallowed here would be lost)
        limit = window if end < 0 else end
        star = buf.find(b"*", pos + 1, limit)
        while star >= 0:
            if self._next_frame_at(buf, pos, star):
                return star
            star = buf.find(b"*", star + 1, limit)
        return None if end < 0 else end + 1

    # -- text -----------------------------------------------------------------------------

    def _decode_frame(self, raw: bytes) -> Item | None:
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            return FrameError("frame is not ASCII", protocol=PROTOCOL, raw=raw)
        fields = [f.strip() for f in text[1:-1].split(",")]
        if len(fields) < 3 or not fields[1]:
            return FrameError("expected *XX,<id>,<type>,…#", protocol=PROTOCOL, raw=raw)
        maker, device_id, kind = fields[0], fields[1], fields[2]
        try:
            check_device_id(PROTOCOL, device_id, raw)
        except FieldError as err:
            return err
        try:
            return self._text(maker, device_id, kind, fields, raw)
        except ProtocolError as err:
            err.device_id = device_id
            return err

    def _text(self, maker: str, device_id: str, kind: str, fields: list[str], raw: bytes) -> Item:
        if kind in ("V0", "HTBT"):
            io: dict[str, IoValue] = {}
            battery = None
            if len(fields) > 3 and fields[3].isdigit():
                battery = (
                    _battery_percent(int(fields[3])) if kind == "V0" else float(int(fields[3]))
                )
            beat = Heartbeat(
                protocol=PROTOCOL, device_id=device_id, raw=raw, battery_percent=battery, io=io
            )
            echo = f"*{maker},{device_id},{kind}#".encode("ascii")
            return Frame(
                protocol=PROTOCOL,
                kind=kind,
                device_id=device_id,
                messages=(beat,),
                raw=raw,
                reply=echo,
            )
        stamp = self._now().strftime("%Y%m%d%H%M%S")
        if kind == "NBR":
            cells = self._nbr(device_id, fields, raw)
            return Frame(
                protocol=PROTOCOL,
                kind=kind,
                device_id=device_id,
                messages=(cells,),
                raw=raw,
                reply=build_reply(device_id, f"V4,NBR,{stamp}", manufacturer=maker),
            )
        report: AnyMessage | None = None
        try:
            if kind == "V3":
                report = self._v3(device_id, fields, raw)
            elif kind == "LINK":
                report = self._link(device_id, fields, raw)
            elif kind == "SMS":
                text = raw.decode("ascii")[:-1].split(",", 3)[3] if len(fields) > 3 else ""
                report = CommandResponse(
                    protocol=PROTOCOL, device_id=device_id, raw=raw, payload=text.encode("ascii"),
                    text=text,
                )  # fmt: skip
            elif kind == "VP1":
                report = self._vp1(device_id, fields, raw)
        except ProtocolError as err:  # a variant of a report type we only know one layout of
            return UnsupportedMessage(
                kind, protocol=PROTOCOL, raw=raw, device_id=device_id, detail=err.reason
            )
        if report is not None:
            return Frame(
                protocol=PROTOCOL, kind=kind, device_id=device_id, messages=(report,), raw=raw
            )
        if not kind.startswith("V"):
            return UnsupportedMessage(kind, protocol=PROTOCOL, raw=raw, device_id=device_id)
        position = None
        first_error: ProtocolError | None = None
        starts = range(4, len(fields)) if kind == "V4" else (3,)
        for start in starts:
            try:
                position = self._position(device_id, fields, start, raw)
                break
            except ProtocolError as err:
                first_error = first_error or err
        if position is None:
            if kind == "V4":
                return UnsupportedMessage(
                    kind,
                    protocol=PROTOCOL,
                    raw=raw,
                    device_id=device_id,
                    detail="command answer without a position",
                )
            assert first_error is not None
            raise first_error
        if kind == "V1":
            reply: bytes | None = build_reply(device_id, f"V4,V1,{stamp}", manufacturer=maker)
        elif self.ack:
            reply = build_reply(
                device_id, f"R12,{self._now().strftime('%H%M%S')}", manufacturer=maker
            )
        else:
            reply = None
        return Frame(
            protocol=PROTOCOL,
            kind=kind,
            device_id=device_id,
            messages=(position,),
            raw=raw,
            reply=reply,
        )

    def _position(self, device_id: str, fields: list[str], start: int, raw: bytes) -> Position:
        f = fields[start:]
        if len(f) < 9:
            raise FrameError(
                f"position needs 9 fields after the type, got {len(f)}", protocol=PROTOCOL, raw=raw
            )
        clock, validity = f[0], f[1]
        if (len(clock) != 6 or not clock.isdigit()) and clock:
            raise FieldError("time", clock, "expected hhmmss", protocol=PROTOCOL, raw=raw)
        lat = parse_ddmm(f[2], f[3], "latitude", protocol=PROTOCOL)
        lon = parse_ddmm(f[4], f[5], "longitude", protocol=PROTOCOL)
        if f[3].upper() not in ("N", "S") or f[5].upper() not in ("E", "W"):
            raise FieldError(
                "hemisphere", f"{f[3]}/{f[5]}", "expected N|S and E|W", protocol=PROTOCOL, raw=raw
            )
        check_coordinates(lat, lon, protocol=PROTOCOL)
        speed = parse_float(f[6], "speed", protocol=PROTOCOL) if f[6] else 0.0
        course = parse_float(f[7], "course", protocol=PROTOCOL) if f[7] else None
        index = 8
        io: dict[str, IoValue] = {}
        if not _is_date(f[index]) and index + 1 < len(f) and _is_date(f[index + 1]):
            if f[index].isdigit():
                io["battery"] = int(f[index])
            index += 1
        date = f[index]
        if not date and not clock:
            # no clock yet (no fix since power-up): Traccar stamps it on arrival
            fix_time = self._now().replace(microsecond=0)
        elif not _is_date(date) or not clock:
            raise FieldError(
                "datetime",
                f"{date} {clock}",
                "expected ddmmyy and hhmmss",
                protocol=PROTOCOL,
                raw=raw,
            )
        else:
            fix_time = _datetime(date, clock)
        tail = f[index + 1 :]
        alarm: str | None = None
        ignition: bool | None = None
        status_at = next((i for i, value in enumerate(tail[:4]) if _is_hex8(value)), None)
        if status_at is not None:
            status = int(tail[status_at], 16)
            io["status"] = status
            alarm, ignition = _status_fields(status)
            tail = tail[status_at + 1 :]
        if tail:
            io["extra"] = ",".join(tail)
        valid = validity == "A" or (validity.isdigit() and bool(validity))
        return Position(
            protocol=PROTOCOL,
            device_id=device_id,
            raw=raw,
            fix_time=fix_time,
            latitude=lat,
            longitude=lon,
            valid=valid,
            speed_kmh=speed * KNOTS_TO_KMH,
            course_deg=course,
            ignition=ignition,
            alarm=alarm,
            io=io,
        )

    def _v3(self, device_id: str, fields: list[str], raw: bytes) -> StatusReport:
        # *HQ,id,V3,hhmmss,<mcc 3 digits><mnc>,count,(lac,cid,rxlev,rssi)*,battery hex,
        # reboot,X,ddmmyy,status#
        if len(fields) < 11 or len(fields[4]) < 4 or not fields[4].isdigit():
            raise FrameError("V3 report too short", protocol=PROTOCOL, raw=raw)
        count = parse_int(fields[5], "count", protocol=PROTOCOL)
        end = 6 + 4 * count
        if len(fields) < end + 5 or fields[end + 2].upper() != "X":
            raise FrameError(
                f"V3 report announces {count} cells but does not match", protocol=PROTOCOL, raw=raw
            )
        cells = fields[6:end]
        io: dict[str, IoValue] = {
            "mcc": int(fields[4][:3]),
            "mnc": int(fields[4][3:]),
            "cells": ";".join(",".join(cells[i : i + 4]) for i in range(0, len(cells), 4)),
            "battery_raw": parse_int(fields[end], "battery", protocol=PROTOCOL, base=16),
        }
        alarm, ignition = _status(io, fields[end + 4])
        return StatusReport(
            protocol=PROTOCOL, device_id=device_id, raw=raw,
            time=_datetime(fields[end + 3], fields[3], strict=False), alarm=alarm, ignition=ignition,
            io=io,
        )  # fmt: skip

    def _link(self, device_id: str, fields: list[str], raw: bytes) -> StatusReport:
        # *HQ,id,LINK,hhmmss,rssi,satellites,battery %,steps,turnovers,ddmmyy,status#
        if len(fields) < 11:
            raise FrameError("LINK report too short", protocol=PROTOCOL, raw=raw)
        rssi, sats, battery, steps, turns = (
            parse_int(fields[i], name, protocol=PROTOCOL)
            for i, name in enumerate(("rssi", "satellites", "battery", "steps", "turnovers"), 4)
        )
        io: dict[str, IoValue] = {"satellites": sats, "steps": steps, "turnovers": turns}
        alarm, ignition = _status(io, fields[10])
        return StatusReport(
            protocol=PROTOCOL, device_id=device_id, raw=raw,
            time=_datetime(fields[9], fields[3], strict=False), gsm_signal=rssi,
            battery_percent=float(battery), alarm=alarm, ignition=ignition, io=io,
        )  # fmt: skip

    def _vp1(self, device_id: str, fields: list[str], raw: bytes) -> Position | StatusReport:
        # *hq,imei,VP1,V,mcc,mnc,lac,cid,rssi[Ylac,cid,rssi…]#  (cells only), or
        # *hq,imei,VP1,A|B,ddmm.mmmm,N,dddmm.mmmm,E,speed knots,course,ddmmyy#
        if len(fields) > 5 and fields[3].upper() == "V":
            io: dict[str, IoValue] = {
                "mcc": parse_int(fields[4], "mcc", protocol=PROTOCOL),
                "mnc": parse_int(fields[5], "mnc", protocol=PROTOCOL),
                "cells": ",".join(fields[6:]).replace("Y", ";").strip(";"),
            }
            return StatusReport(protocol=PROTOCOL, device_id=device_id, raw=raw, io=io)
        if len(fields) < 11 or fields[3].upper() not in ("A", "B"):
            raise FrameError(
                "VP1 report needs validity, position and date", protocol=PROTOCOL, raw=raw
            )
        lat = parse_ddmm(fields[4], fields[5], "latitude", protocol=PROTOCOL)
        lon = parse_ddmm(fields[6], fields[7], "longitude", protocol=PROTOCOL)
        check_coordinates(lat, lon, protocol=PROTOCOL)
        speed = parse_float(fields[8], "speed", protocol=PROTOCOL)
        course = parse_float(fields[9], "course", protocol=PROTOCOL)
        day = _datetime(fields[10], "000000")
        # the report has a date but no time of day: today's report is stamped on arrival
        now = self._now().replace(microsecond=0)
        fix_time = now if now.date() == day.date() else day
        return Position(
            protocol=PROTOCOL, device_id=device_id, raw=raw, fix_time=fix_time, latitude=lat,
            longitude=lon, valid=True, speed_kmh=speed * KNOTS_TO_KMH, course_deg=course,
        )  # fmt: skip

    def _nbr(self, device_id: str, fields: list[str], raw: bytes) -> StatusReport:
        # *HQ,id,NBR,hhmmss,mcc,mnc,delay,count,(lac,cid,rssi)*,ddmmyy,status[,…]#
        if len(fields) < 10:
            raise FrameError("NBR report too short", protocol=PROTOCOL, raw=raw)
        clock = fields[3]
        io: dict[str, IoValue] = {
            "mcc": parse_int(fields[4], "mcc", protocol=PROTOCOL),
            "mnc": parse_int(fields[5], "mnc", protocol=PROTOCOL),
        }
        count = parse_int(fields[7], "count", protocol=PROTOCOL)
        cells = fields[8 : 8 + 3 * count]
        date_at = 8 + 3 * count
        if len(cells) != 3 * count or date_at + 1 >= len(fields):
            raise FrameError(
                f"NBR report announces {count} cells but is shorter", protocol=PROTOCOL, raw=raw
            )
        io["cells"] = ";".join(",".join(cells[i : i + 3]) for i in range(0, len(cells), 3))
        date, status_text = fields[date_at], fields[date_at + 1]
        if not (date + clock).isdigit() or len(date) != 6 or len(clock) != 6:
            raise FieldError(
                "datetime",
                f"{date} {clock}",
                "expected ddmmyy and hhmmss",
                protocol=PROTOCOL,
                raw=raw,
            )
        # some devices count seconds past 59 ("160169"): keep the cells, drop the time
        time = _datetime(date, clock, strict=False)
        alarm = ignition = None
        if _is_hex8(status_text):
            io["status"] = int(status_text, 16)
            alarm, ignition = _status_fields(int(status_text, 16))
        return StatusReport(
            protocol=PROTOCOL,
            device_id=device_id,
            raw=raw,
            time=time,
            alarm=alarm,
            ignition=ignition,
            io=io,
        )

    # -- binary ---------------------------------------------------------------------------

    def _binary(self, raw: bytes) -> Item:
        try:
            return self._decode_binary(raw)
        except ProtocolError as err:
            return err

    def _decode_binary(self, raw: bytes) -> Frame:
        id_size = 8 if len(raw) == 42 else 5
        digits = bcd_digits(raw[1 : 1 + id_size], "id", protocol=PROTOCOL)
        device_id = check_device_id(PROTOCOL, digits[:15] if id_size == 8 else digits, raw)
        p = 1 + id_size
        when = bcd_digits(raw[p : p + 6], "datetime", protocol=PROTOCOL)
        fix_time = utc_datetime(
            2000 + int(when[10:12]), int(when[8:10]), int(when[6:8]), int(when[0:2]), int(when[2:4]), int(when[4:6]),
            field="datetime", protocol=PROTOCOL,
        )  # fmt: skip
        lat_digits = bcd_digits(raw[p + 6 : p + 10], "latitude", protocol=PROTOCOL)
        battery = raw[p + 10]
        lon_block = raw[p + 11 : p + 16].hex()
        lon_digits, flags = lon_block[:9], int(lon_block[9], 16)
        if not lon_digits.isdigit():
            raise FieldError("longitude", lon_digits, "not BCD", protocol=PROTOCOL, raw=raw)
        lat = int(lat_digits[:2]) + int(lat_digits[2:]) / 10000.0 / 60.0
        lon = int(lon_digits[:3]) + int(lon_digits[3:]) / 10000.0 / 60.0
        if int(lat_digits[2:4]) >= 60 or int(lon_digits[3:5]) >= 60:
            raise FieldError(
                "coordinates",
                f"{lat_digits}/{lon_digits}",
                "minutes must be below 60",
                protocol=PROTOCOL,
                raw=raw,
            )
        lat = lat if flags & 0x04 else -lat
        lon = lon if flags & 0x08 else -lon
        check_coordinates(lat, lon, protocol=PROTOCOL)
        motion = raw[p + 16 : p + 19].hex()
        if not motion.isdigit():
            raise FieldError("speed/course", motion, "not BCD", protocol=PROTOCOL, raw=raw)
        speed, course = int(motion[:3]), int(motion[3:])
        status = int.from_bytes(raw[p + 19 : p + 23], "big")
        alarm, ignition = _status_fields(status)
        io: dict[str, IoValue] = {"status": status, "battery": battery}
        extra = raw[p + 23 :]
        if extra:
            io["extra"] = extra
        position = Position(
            protocol=PROTOCOL,
            device_id=device_id,
            raw=raw,
            fix_time=fix_time,
            latitude=lat,
            longitude=lon,
            valid=bool(flags & 0x02),
            speed_kmh=speed * KNOTS_TO_KMH,
            course_deg=float(course),
            ignition=ignition,
            battery_percent=_battery_percent(battery),
            alarm=alarm,
            io=io,
        )
        reply = (
            build_reply(device_id, f"R12,{self._now().strftime('%H%M%S')}") if self.ack else None
        )
        messages: tuple[AnyMessage, ...] = (position,)
        return Frame(
            protocol=PROTOCOL,
            kind="binary",
            device_id=device_id,
            messages=messages,
            raw=raw,
            reply=reply,
        )
