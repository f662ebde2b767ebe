"""GT06 / Concox / JimiIoT binary protocol over TCP.

Written by hand from the Concox "GT06 GPS tracker communication protocol" documents, with
the real-device quirks Traccar's decoder documents; no maintained Python library exists.

Frames: ``78 78 [len:1]`` or ``79 79 [len:2]``, then protocol number, content,
serial (2), CRC-16/X-25 over length…serial (2), ``0D 0A``; ``len`` counts protocol
number to CRC. Each accepted frame is answered with ``78 78 05 <protocol> <serial> <CRC>
0D 0A`` (the CRC is recomputed for every reply) — see :func:`build_reply`.

Decoded protocol numbers:

- ``0x01`` login (IMEI in BCD, optional type code and time-zone word) → :class:`Login`;
  ``reply`` is the ACK, ``reject_reply`` ``None`` (Traccar stays silent to unknown IMEIs).
- ``0x10`` GPS, ``0x11``/``0x12``/``0x22``/``0xA0`` GPS + cell, ``0x16``/``0x26``/``0x32``
  GPS + cell + status (alarm packets) → :class:`Position`.
- ``0x13`` status / heartbeat, ``0x23`` heartbeat → :class:`Heartbeat`.
- ``0x19`` cell + status (alarm without GPS) → :class:`Alarm` or :class:`StatusReport`.
- ``0x94`` information transmission → :class:`StatusReport` (no reply, as the vendor says).
- ``0x15``/``0x21`` command responses → :class:`CommandResponse`.
- ``0x8A`` time request → a frame whose reply carries the current UTC time.

Anything else is an :class:`UnsupportedMessage` carrying the standard ACK as ``reply``
(except command echoes 0x80-0x82 and extended-header frames, which get none), so the
device is not left retrying. Course/status word: bits 0-9 course, bit 10 north latitude,
bit 11 west longitude, bit 12 GPS positioned (``valid``), bit 13 differential, bit 14 set
→ bit 15 is ACC (ignition).

The login's terminal ID must give a 15-16 digit IMEI (:mod:`.ids`), else the login is a
:class:`FieldError` and the connection stays unidentified. An unregistered device gets no
byte at all (every ``reject_reply`` is ``None``): its login is not answered, so it repeats
the login (the Concox manuals: an answer is due within 5 s) and reconnects, keeping its
buffered positions; positions and heartbeats it sends anyway are not answered either.

Device times are read as UTC. A login may announce the device's time zone
(``Login.utc_offset_s``); ``apply_login_timezone=True`` converts later times from it,
as Traccar does for devices without a configured zone.

Data frames carry no IMEI: the decoder takes it from the login on the connection (or
``device_id=``); data before a login is reported as :class:`NotIdentifiedError`, unanswered.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ._util import Reader, bcd_digits, check_coordinates, printable_ascii, utc_datetime
from .checksum import crc16_x25
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
    Alarm,
    AnyMessage,
    CommandResponse,
    Frame,
    Heartbeat,
    IoValue,
    Login,
    Position,
    StatusReport,
    join_alarms,
)
from .stream import DEFAULT_MAX_BUFFER, Item, Step, StreamDecoder

PROTOCOL = "gt06"

_LENIENT_SCAN = 1024  # how far lenient mode looks for a misplaced 0D0A

SHORT = b"\x78\x78"
LONG = b"\x79\x79"
STOP = b"\x0d\x0a"

MSG_LOGIN = 0x01
MSG_GPS = 0x10
MSG_GPS_LBS_6 = 0x11
MSG_GPS_LBS_1 = 0x12
MSG_STATUS = 0x13
MSG_STRING = 0x15
MSG_GPS_LBS_STATUS_1 = 0x16
MSG_WIFI = 0x17
MSG_LBS_STATUS = 0x19
MSG_STRING_INFO = 0x21
MSG_GPS_LBS_2 = 0x22
MSG_HEARTBEAT = 0x23
MSG_GPS_LBS_STATUS_2 = 0x26
MSG_GPS_LBS_STATUS_4 = 0x32
MSG_WIFI_2 = 0x69
MSG_TIME_REQUEST = 0x8A
MSG_INFO = 0x94
MSG_GPS_LBS_7 = 0xA0
MSG_GPS_PHONE = 0x1A
MSG_GPS_LBS_STATUS_3 = 0x27
MSG_LBS_EXTEND = 0x18
MSG_LBS_MULTIPLE_1 = 0x28
MSG_LBS_MULTIPLE_2 = 0x2E
MSG_LBS_WIFI = 0x2C
MSG_LBS_4G = 0xA1
MSG_AZ735_ALARM = 0x33
MSG_X1_GPS = 0x34
MSG_GPS_LBS_EXTEND = 0x1E
MSG_GPS_LBS_5 = 0x31
MSG_GPS_LBS_3 = 0x37
MSG_GPS_LBS_8 = 0x38

_POSITION_TYPES = frozenset(
    {MSG_GPS, MSG_GPS_LBS_6, MSG_GPS_LBS_1, MSG_GPS_LBS_2, MSG_GPS_LBS_7, MSG_GPS_PHONE}
    | {MSG_GPS_LBS_STATUS_1, MSG_GPS_LBS_STATUS_2, MSG_GPS_LBS_STATUS_3, MSG_GPS_LBS_STATUS_4}
    | {MSG_GPS_LBS_EXTEND, MSG_GPS_LBS_5, MSG_GPS_LBS_3, MSG_GPS_LBS_8}
)
_STATUS_POSITION_TYPES = frozenset(
    {MSG_GPS_LBS_STATUS_1, MSG_GPS_LBS_STATUS_2, MSG_GPS_LBS_STATUS_3, MSG_GPS_LBS_STATUS_4}
)
# GPS block, then a layout that differs by model: the rest is kept raw in ``io["extra"]``.
_GPS_THEN_RAW = frozenset({MSG_GPS_LBS_8})
# Types whose layout varies by model: a content that does not parse is acknowledged as
# unsupported (the frame and its CRC are fine) instead of being left for the device to resend.
_MODEL_VARIANT_TYPES = frozenset(
    {MSG_GPS_LBS_STATUS_3, MSG_GPS_LBS_EXTEND, MSG_GPS_LBS_5, MSG_GPS_LBS_3, MSG_GPS_LBS_8}
    | {MSG_LBS_EXTEND, MSG_LBS_MULTIPLE_1, MSG_LBS_MULTIPLE_2, MSG_LBS_WIFI, MSG_LBS_4G}
    | {MSG_GPS_LBS_STATUS_4, MSG_AZ735_ALARM, MSG_X1_GPS}
)
# Multi-cell (and Wi-Fi) reports without GPS: time, MCC/MNC, cells, timing advance [, Wi-Fi].
_MULTI_CELL_TYPES = frozenset(
    {MSG_LBS_EXTEND, MSG_LBS_MULTIPLE_1, MSG_LBS_MULTIPLE_2, MSG_LBS_WIFI, MSG_LBS_4G}
)
_NO_ACK = frozenset({0x80, 0x81, 0x82, MSG_INFO})
_WIFI_TYPES = frozenset({MSG_WIFI, MSG_WIFI_2})

# Alarm byte of the alarm/language word (GT06 manual, extended by real devices).
_ALARM_CODES = {
    0x01: "sos",
    0x02: "power_cut",
    0x03: "vibration",
    0x04: "geofence_enter",
    0x05: "geofence_exit",
    0x06: "overspeed",
    0x09: "vibration",
    0x0C: "tampering",
    0x0E: "low_battery",
    0x0F: "low_battery",
    0x11: "power_off",
    0x13: "tampering",
    0x14: "door",
    0x18: "removing",
    0x19: "low_battery",
    0x1A: "braking",
    0x1B: "cornering",
    0x23: "fall_down",
    0x26: "acceleration",
    0x25: "tampering",
    0x27: "braking",
    0x28: "braking",
    0x29: "acceleration",
    0x2A: "cornering",
    0x2B: "cornering",
    0x2C: "accident",
    0x2E: "cornering",
    0x30: "jamming",
    0x32: "tampering",
    0x33: "lock",
    0x34: "unlock",
    0x53: "fuel_leak",
    0x5B: "temperature",
    0x5C: "temperature",
    0xC9: "idle",
    0xF0: "acceleration",
    0xF1: "braking",
    0xF2: "accident",
}
# Status byte of the 0x7979 0x33 alarm (AZ735 layout).
_AZ735_ALARMS = {0xA2: "low_battery", 0xA3: "low_battery", 0xA4: "general", 0xA5: "door"}
# Bits 3-5 of the terminal-information byte.
_TERMINAL_ALARMS = {
    1: "vibration",
    2: "power_cut",
    3: "low_battery",
    4: "sos",
    6: "geofence",
    7: "removing",
}


def build_reply(
    protocol_number: int, serial: int, *, content: bytes = b"", extended: bool = False
) -> bytes:
    """A server frame: header, length, protocol number, content, serial, CRC-X.25, stop."""
    length = 5 + len(content)
    size = length.to_bytes(2, "big") if extended else bytes((length & 0xFF,))
    body = size + bytes((protocol_number,)) + content + (serial & 0xFFFF).to_bytes(2, "big")
    return (LONG if extended else SHORT) + body + crc16_x25(body).to_bytes(2, "big") + STOP


def build_command(command: str, serial: int = 1, *, server_flag: int = 0) -> bytes:
    """A 0x80 command frame (server → device), e.g. ``build_command("Relay,1#")``."""
    text = command.encode("ascii")
    content = bytes((4 + len(text),)) + server_flag.to_bytes(4, "big") + text + b"\x00\x02"
    return build_reply(0x80, serial, content=content)


def _battery_percent(level: int) -> float | None:
    """Voltage level 0-6 → percent; newer devices send the percentage itself."""
    if level <= 6:
        return float(level * 100 // 6)
    if level <= 100:
        return float(level)
    return None


def _read_time(reader: Reader, tz_offset: timedelta) -> datetime:
    """The 6-byte binary date and time (YY MM DD hh mm ss), converted to UTC."""
    y, mo, d, h, mi, s = reader.take(6, "date/time")
    return utc_datetime(2000 + y, mo, d, h, mi, s, field="datetime", protocol=PROTOCOL) - tz_offset


class _Fix:
    """The GPS block: date, satellites, coordinates, speed, course/status word."""

    def __init__(self, reader: Reader, tz_offset: timedelta, time: datetime | None = None) -> None:
        self.time = _read_time(reader, tz_offset) if time is None else time
        self.satellites = reader.uint(1, "GPS info") & 0x0F
        lat = reader.uint(4, "latitude") / 1_800_000.0
        lon = reader.uint(4, "longitude") / 1_800_000.0
        self.speed = reader.uint(1, "speed")
        flags = reader.uint(2, "course/status")
        self.flags = flags
        self.course = flags & 0x3FF
        self.valid = bool(flags & (1 << 12))
        self.latitude = lat if flags & (1 << 10) else -lat
        self.longitude = -lon if flags & (1 << 11) else lon
        self.ignition: bool | None = bool(flags & (1 << 15)) if flags & (1 << 14) else None
        check_coordinates(self.latitude, self.longitude, protocol=PROTOCOL)


def _decode_lbs(
    data: bytes, io: dict[str, IoValue], *, lac_size: int = 2, mnc2: bool = False
) -> None:
    """Decode an MCC/MNC/LAC/cell-id block into ``io`` (the cell id takes what is left)."""
    if len(data) < 2:
        return
    mcc = int.from_bytes(data[0:2], "big")
    mnc_size = 2 if (mcc & 0x8000 or mnc2) else 1
    pos = 2 + mnc_size
    io["mcc"] = mcc & 0x7FFF
    if len(data) >= pos:
        io["mnc"] = int.from_bytes(data[2:pos], "big")
    if len(data) >= pos + lac_size:
        io["lac"] = int.from_bytes(data[pos : pos + lac_size], "big")
    cid = data[pos + lac_size :]
    if cid:
        io["cell_id"] = int.from_bytes(cid, "big")


class _Status:
    """The status block: terminal info, voltage level, GSM level, alarm, language."""

    def __init__(self, block: bytes, io: dict[str, IoValue]) -> None:
        info = block[0]
        io["terminal_info"] = info
        self.ignition = bool(info & 0x02)
        self.charging = bool(info & 0x04)
        alarms = []
        terminal_alarm = _TERMINAL_ALARMS.get((info >> 3) & 0x07)
        if terminal_alarm:
            alarms.append(terminal_alarm)
        self.battery_percent: float | None = None
        self.gsm_signal: int | None = None
        if len(block) > 1:
            io["voltage_level"] = block[1]
            self.battery_percent = _battery_percent(block[1])
        if len(block) > 2:
            self.gsm_signal = block[2]
        if len(block) > 3:
            io["alarm_code"] = block[3]
            code_alarm = _ALARM_CODES.get(block[3])
            if code_alarm:
                alarms.insert(0, code_alarm)
        if len(block) > 4:
            io["language"] = block[4]
        self.alarm = join_alarms(alarms)


def _status_tail(number: int, rest: bytes, io: dict[str, IoValue], raw: bytes) -> _Status:
    """LBS length byte, LBS block, the 5-byte status block [, altitude | geofence number].

    The status block is anchored at the end: some devices send a 4-byte cell id while
    the LBS length still says 9.
    """
    if len(rest) < 6:
        raise FrameError(
            f"status block missing ({len(rest)} bytes after GPS)",
            protocol=PROTOCOL,
            raw=raw,
        )
    lbs_len = rest[0]
    tail = 5
    if number == MSG_GPS_LBS_STATUS_4 and len(rest) == lbs_len + 5 + 2:
        tail = 7  # + altitude
    elif number == MSG_GPS_LBS_STATUS_3:
        tail = 6  # + geofence number
    _decode_lbs(rest[1 : len(rest) - tail], io)
    block = rest[len(rest) - tail : len(rest) - tail + 5]
    status = _Status(block, io)
    if tail == 7:
        io["altitude"] = int.from_bytes(rest[-2:], "big", signed=True)
    elif tail == 6:
        io["geofence"] = rest[-1]
        # the high nibble of the language byte extends the alarm code
        if (block[3] | (block[4] >> 4) << 8) in (0x107, 0x10B):
            status.alarm = "jamming"
    return status


def _vxt01(
    number: int, rest: bytes, io: dict[str, IoValue], raw: bytes
) -> tuple[_Status, float | None, int | None]:
    """The VXT01 tail of 0x12/0x16 (length 0x24): status, supply voltage, GSM level.

    An 8-byte LBS block without its length byte, then for 0x12 terminal info, supply
    voltage (x0.01 V), GSM level, alarm extension; for 0x16 terminal info, voltage level,
    GSM level, alarm extension, language.
    """
    if len(rest) != 13:
        raise FrameError(f"VXT01 block of {len(rest)} bytes", protocol=PROTOCOL, raw=raw)
    _decode_lbs(rest[:8], io)
    if number == MSG_GPS_LBS_1:
        io["alarm_extension"] = rest[12]
        return _Status(rest[8:9], io), int.from_bytes(rest[9:11], "big") / 100.0, rest[11]
    io["alarm_extension"] = rest[11]
    io["language"] = rest[12]
    return _Status(rest[8:11], io), None, None


class Gt06Decoder(StreamDecoder):
    """Streaming decoder for GT06/Concox (see the module docstring).

    Args:
        device_id: The IMEI when it is already known (otherwise the login sets it).
        lenient: Accept bad CRCs (marked ``checksum_ok=False``) and frames whose stop
            bytes are not where the length field puts them (cut at the next ``0D 0A``,
            as Traccar does).
        max_buffer: Bound on unparsed bytes.
        apply_login_timezone: Convert device times from the time zone a login announces.
        clock: Source of the current UTC time for time-request replies.
    """

    protocol = PROTOCOL

    def __init__(
        self,
        *,
        device_id: str | None = None,
        lenient: bool = False,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        apply_login_timezone: bool = False,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """Start a connection's decoder."""
        super().__init__(lenient=lenient, max_buffer=max_buffer)
        self.device_id = device_id
        self.apply_login_timezone = apply_login_timezone
        self._tz = timedelta(0)
        self._clock = clock or (lambda: datetime.now(UTC))

    # -- framing --------------------------------------------------------------------------

    def _header(self, buf: bytes, pos: int) -> tuple[int, int] | bool | None:
        """``(header size, frame size)`` of a frame at ``pos``; None = need more; False = no."""
        start = buf[pos : pos + 2]
        if len(start) < 2:
            return None if start in (b"\x78", b"\x79") else False
        if start not in (SHORT, LONG):
            return False
        hsize = 3 if start == SHORT else 4
        if len(buf) - pos < hsize:
            return None
        length = int.from_bytes(buf[pos + 2 : pos + hsize], "big")
        if length < 5 or hsize + length + 2 > self.max_buffer:
            return False
        return hsize, hsize + length + 2

    def _wifi_size(self, buf: bytes, pos: int) -> int | None:
        """Size of a count-framed Wi-Fi/LBS frame at ``pos``; None = need more; 0 = not one.

        GT03-family devices send ``78 78 [Wi-Fi count] 17|69 [BCD time:6] [MAC:6 RSSI:1]…
        [cell count] [MCC:2] [MNC:1] [LAC:2 CI:2 RSSI:1]… 0D 0A`` without serial or CRC:
        the third byte counts access points, it is not a length.
        """
        if buf[pos : pos + 2] != SHORT:
            return 0
        if len(buf) - pos < 4:
            return None
        if buf[pos + 3] not in _WIFI_TYPES:
            return 0
        cells_at = pos + 4 + 6 + 7 * buf[pos + 2]
        if len(buf) <= cells_at:
            return None
        size = cells_at - pos + 1 + 3 + 5 * buf[cells_at] + 2
        if len(buf) - pos < size:
            return None
        return size if buf[pos + size - 2 : pos + size] == STOP else 0

    def _step(self, buf: bytes, pos: int) -> Step | None:
        if buf.startswith(SHORT, pos) and len(buf) - pos < 4:
            return None  # the protocol number decides whether byte 2 is a length
        if buf.startswith(SHORT, pos) and buf[pos + 3] in _WIFI_TYPES:
            normal = self._header(buf, pos)
            if not (
                isinstance(normal, tuple) and buf[pos + normal[1] - 2 : pos + normal[1]] == STOP
            ):
                wifi = self._wifi_size(buf, pos)
                if wifi is None:
                    return None
                if wifi:
                    return pos + wifi, self._wifi_frame(buf[pos : pos + wifi])
        if buf[pos] in (0x0D, 0x0A) and self._header(buf, pos) is False:
            # stray line ends between frames are not worth an error
            end = pos
            while end < len(buf) and buf[end] in (0x0D, 0x0A):
                end += 1
            return end, None
        header = self._header(buf, pos)
        if header is None:
            return None
        if header is False:
            return self._skip_garbage(buf, pos)
        assert isinstance(header, tuple)
        hsize, size = header
        if len(buf) - pos < size:
            return None
        if buf[pos + size - 2 : pos + size] == STOP:
            return pos + size, self._frame(buf[pos : pos + size], hsize)
        if self.lenient:
            # as Traccar does: cut at the next 0D0A that ends the data or precedes a frame
            stop = buf.find(STOP, pos + hsize + 1)
            while stop >= 0 and self._header(buf, stop + 2) is False and stop + 2 < len(buf):
                stop = buf.find(STOP, stop + 1)
            if stop >= 0:
                return stop + 2, self._frame(buf[pos : stop + 2], hsize)
            if len(buf) - pos < _LENIENT_SCAN:
                return None
        err = FrameError(
            f"no 0D0A stop bytes where the length field ({size - hsize - 2}) puts them",
            protocol=PROTOCOL,
            raw=buf[pos : pos + size],
        )
        return pos + 2, err

    def _skip_garbage(self, buf: bytes, pos: int) -> Step:
        i = pos + 1
        while i < len(buf):
            a = buf.find(b"\x78", i)
            b = buf.find(b"\x79", i)
            hits = [h for h in (a, b) if h >= 0]
            if not hits:
                i = len(buf)
                break
            i = min(hits)
            if self._header(buf, i) is not False or self._wifi_size(buf, i) != 0:
                break
            i += 1
        return self._garbage(buf, pos, i)

    # -- frames ---------------------------------------------------------------------------

    def _wifi_frame(self, raw: bytes) -> Item:
        """A count-framed Wi-Fi/LBS report: answered with ``78 78 00 <type> <time> 0D 0A``."""
        number = raw[3]
        reply = SHORT + b"\x00" + bytes((number,)) + raw[4:10] + STOP
        if self.device_id is None:
            return NotIdentifiedError(
                f"message 0x{number:02X} before the login; not acknowledged",
                protocol=PROTOCOL,
                raw=raw,
            )
        return UnsupportedMessage(
            f"0x{number:02X}", protocol=PROTOCOL, raw=raw, device_id=self.device_id,
            reply=reply, detail=f"Wi-Fi/LBS report, {raw[2]} access point(s)",
        )  # fmt: skip

    def _frame(self, raw: bytes, hsize: int) -> Item:
        if len(raw) < hsize + 7:
            return FrameError("frame too short", protocol=PROTOCOL, raw=raw)
        computed = crc16_x25(raw[2:-4])
        carried = int.from_bytes(raw[-4:-2], "big")
        checksum_ok = computed == carried
        if not checksum_ok and not self.lenient:
            return ChecksumError(
                computed, carried, protocol=PROTOCOL, raw=raw, device_id=self.device_id
            )
        number = raw[hsize]
        serial = int.from_bytes(raw[-6:-4], "big")
        content = raw[hsize + 1 : -6]
        ack = None if number in _NO_ACK else build_reply(number, serial)
        try:
            item = self._decode(
                number, content=content, raw=raw, ack=ack, checksum_ok=checksum_ok, serial=serial,
                extended=hsize == 4,
            )  # fmt: skip
        except ProtocolError as err:
            if number == MSG_GPS_LBS_6:  # GT03-family devices use 0x11 for cell-only reports
                return UnsupportedMessage(
                    f"0x{number:02X}", protocol=PROTOCOL, raw=raw, device_id=self.device_id,
                    reply=ack, detail=f"not a GPS report ({err.reason})", checksum_ok=checksum_ok,
                )  # fmt: skip
            if number in _MODEL_VARIANT_TYPES and self.device_id is not None:
                # a well-framed report in a model-specific layout: acknowledged, not decoded,
                # so the device does not resend it forever
                if hsize == 4:
                    ack = (
                        build_reply(number, serial, extended=True)
                        if number in (MSG_GPS_LBS_STATUS_4, MSG_AZ735_ALARM)
                        else None
                    )
                return UnsupportedMessage(
                    f"0x{number:02X}", protocol=PROTOCOL, raw=raw, device_id=self.device_id,
                    reply=ack, detail=f"model-specific layout ({err.reason})",
                    checksum_ok=checksum_ok,
                )  # fmt: skip
            err.device_id = self.device_id
            return err
        if isinstance(item, UnsupportedMessage) and hsize == 4:
            item.reply = None  # unknown extended-header types get no answer
        return item

    def _decode(
        self,
        number: int,
        *,
        content: bytes,
        raw: bytes,
        ack: bytes | None,
        checksum_ok: bool,
        serial: int,
        extended: bool = False,
    ) -> Item:
        kind = f"0x{number:02X}"
        if number == MSG_LOGIN:
            return self._login(content, raw, build_reply(number, serial), checksum_ok)
        if number == MSG_TIME_REQUEST:
            now = self._clock().astimezone(UTC)
            stamp = bytes((now.year - 2000, now.month, now.day, now.hour, now.minute, now.second))
            reply = build_reply(number, serial, content=stamp)
            return Frame(
                protocol=PROTOCOL,
                kind=kind,
                device_id=self.device_id,
                messages=(),
                raw=raw,
                reply=reply,
                checksum_ok=checksum_ok,
            )
        if number in (MSG_WIFI, MSG_WIFI_2) and len(content) >= 6:
            reply = SHORT + b"\x00" + bytes((number,)) + content[:6] + STOP
            return UnsupportedMessage(
                kind,
                protocol=PROTOCOL,
                raw=raw,
                device_id=self.device_id,
                reply=reply,
                detail="Wi-Fi/LBS report",
                checksum_ok=checksum_ok,
            )
        if self.device_id is None:
            return NotIdentifiedError(
                f"message {kind} before the login; not acknowledged", protocol=PROTOCOL, raw=raw
            )
        message: AnyMessage | None
        if extended and number in (MSG_GPS_LBS_STATUS_4, MSG_AZ735_ALARM):
            message = self._az735(number, content, raw, checksum_ok)
            ack = build_reply(number, serial, extended=True)
        elif number == MSG_X1_GPS and not raw.startswith(SHORT + b"\x37"):  # 0x37: SL4X cells
            message = self._x1_gps(content, raw, checksum_ok)
        elif number in _MULTI_CELL_TYPES:
            message = self._multi_cell(number, content, raw, checksum_ok)
        elif number in _POSITION_TYPES:
            message = self._position(number, content, raw, checksum_ok)
        elif number in (MSG_STATUS, MSG_HEARTBEAT):
            message = self._heartbeat(number, content, raw, checksum_ok)
        elif number == MSG_LBS_STATUS:
            message = self._lbs_status(content, raw, checksum_ok)
        elif number == MSG_INFO:
            message = self._info(content, raw, checksum_ok)
        elif number in (MSG_STRING, MSG_STRING_INFO):
            message = self._string(number, content, raw, checksum_ok)
            if number == MSG_STRING_INFO:
                ack = None
        else:
            message = None
        if message is None:
            return UnsupportedMessage(
                kind,
                protocol=PROTOCOL,
                raw=raw,
                device_id=self.device_id,
                reply=ack,
                checksum_ok=checksum_ok,
            )
        return Frame(
            protocol=PROTOCOL,
            kind=kind,
            device_id=self.device_id,
            messages=(message,),
            raw=raw,
            reply=ack,
            checksum_ok=checksum_ok,
        )

    def _login(self, content: bytes, raw: bytes, ack: bytes, checksum_ok: bool) -> Frame:
        reader = Reader(content, protocol=PROTOCOL)
        self.device_id = None  # until this login proves a well-formed IMEI
        digits = bcd_digits(reader.take(8, "terminal ID"), "imei", protocol=PROTOCOL)
        imei = check_device_id(PROTOCOL, digits[1:] if digits.startswith("0") else digits, raw)
        model_code = reader.uint(2, "type identification code") if reader.remaining >= 2 else None
        offset: int | None = None
        if reader.remaining >= 2:
            word = reader.uint(2, "time zone")
            tz = word >> 4
            minutes = (tz // 100) * 60 + tz % 100
            offset = (-minutes if word & 0x08 else minutes) * 60
            if abs(offset) > 14 * 3600:
                offset = None
        self.device_id = imei
        self._tz = (
            timedelta(seconds=offset)
            if (offset is not None and self.apply_login_timezone)
            else timedelta(0)
        )
        login = Login(
            protocol=PROTOCOL,
            device_id=imei,
            raw=raw,
            checksum_ok=checksum_ok,
            utc_offset_s=offset,
            model_code=model_code,
        )
        return Frame(
            protocol=PROTOCOL,
            kind="login",
            device_id=imei,
            messages=(login,),
            raw=raw,
            reply=ack,
            checksum_ok=checksum_ok,
        )

    def _position(self, number: int, content: bytes, raw: bytes, checksum_ok: bool) -> Position:
        assert self.device_id is not None
        reader = Reader(content, protocol=PROTOCOL)
        fix = _Fix(reader, self._tz)
        rest = content[reader.pos :]
        io: dict[str, IoValue] = {"course_status": fix.flags, "type": number}
        ignition = fix.ignition
        status: _Status | None = None
        odometer: float | None = None
        archive: bool | None = None
        external_v: float | None = None
        gsm: int | None = None
        if number in (MSG_GPS_LBS_1, MSG_GPS_LBS_STATUS_1) and raw.startswith(SHORT + b"\x24"):
            status, external_v, gsm = _vxt01(number, rest, io, raw)
            ignition = status.ignition
        elif number in _STATUS_POSITION_TYPES:
            status = _status_tail(number, rest, io, raw)
            ignition = status.ignition
        else:
            lac_size = 4 if number == MSG_GPS_LBS_7 else 2
            cid_size = 8 if number == MSG_GPS_LBS_7 else (4 if number == MSG_GPS_LBS_6 else 3)
            lbs_size = 0
            if number == MSG_GPS_PHONE:
                phone = rest[:21].rstrip(b"\x00")
                io["phone"] = phone.decode("ascii", "replace")
                rest = rest[21:]
            if number in _GPS_THEN_RAW:
                io["extra"] = rest
                rest = b""
            if number not in (MSG_GPS, MSG_GPS_PHONE) and len(rest) >= 2:
                mnc_size = (
                    2
                    if (int.from_bytes(rest[0:2], "big") & 0x8000 or number == MSG_GPS_LBS_6)
                    else 1
                )
                lbs_size = min(len(rest), 2 + mnc_size + lac_size + cid_size)
                _decode_lbs(rest[:lbs_size], io, lac_size=lac_size, mnc2=number == MSG_GPS_LBS_6)
            extra = rest[lbs_size:]
            if len(extra) in (3, 7):  # ACC, upload mode, re-upload flag [, mileage]
                ignition = extra[0] > 0
                io["upload_mode"] = extra[1]
                archive = extra[2] > 0
                extra = extra[3:]
            if len(extra) == 4:
                odometer = float(int.from_bytes(extra, "big"))
            elif extra:
                io["extra"] = extra
        altitude = io.pop("altitude", None)
        return Position(
            protocol=PROTOCOL,
            device_id=self.device_id,
            raw=raw,
            checksum_ok=checksum_ok,
            fix_time=fix.time,
            latitude=fix.latitude,
            longitude=fix.longitude,
            valid=fix.valid,
            altitude_m=float(altitude) if isinstance(altitude, int) else None,
            speed_kmh=float(fix.speed),
            course_deg=float(fix.course),
            satellites=fix.satellites,
            ignition=ignition,
            charging=status.charging if status else None,
            external_voltage_v=external_v,
            battery_percent=status.battery_percent if status else None,
            gsm_signal=gsm if gsm is not None else (status.gsm_signal if status else None),
            odometer_m=odometer,
            alarm=status.alarm if status else None,
            archive=archive,
            io=io,
        )

    def _az735(
        self, number: int, content: bytes, raw: bytes, checksum_ok: bool
    ) -> Position | StatusReport | Alarm:
        """0x32 GPS / 0x33 alarm in a 0x7979 frame (AZ735/JM-LL301 layout).

        Time, GPS length (0 = no fix) + GPS, LBS length (counting itself) + LBS, signal,
        then length-prefixed extra cells and Wi-Fi blocks, a status byte and a
        length-prefixed reserved block.
        """
        assert self.device_id is not None
        reader = Reader(content, protocol=PROTOCOL)
        time = _read_time(reader, self._tz)
        io: dict[str, IoValue] = {"type": number}
        fix = _Fix(reader, self._tz, time) if reader.uint(1, "GPS length") else None
        gsm: int | None = None
        lbs_len = reader.uint(1, "LBS length")
        if lbs_len:
            _decode_lbs(reader.take(max(lbs_len - 1, 0), "LBS"), io)
            gsm = reader.uint(1, "signal")
        elif not any(content[reader.pos + 9 : reader.pos + 45]):
            reader.take(min(reader.remaining, 45), "zeroed LBS")  # all blocks zero-filled
        if reader.remaining:
            io["extra_cells"] = reader.take(reader.uint(1, "cells length"), "cells")
        if reader.remaining:
            io["wifi"] = reader.take(reader.uint(1, "Wi-Fi length"), "Wi-Fi")
        alarm: str | None = None
        if reader.remaining:
            status = reader.uint(1, "status")
            io["status"] = status
            if number == MSG_AZ735_ALARM:
                alarm = _AZ735_ALARMS.get(status)
                if status in (0xA0, 0xA1):
                    io["armed"] = status == 0xA0
        if fix is None:
            cls = Alarm if alarm else StatusReport
            return cls(
                protocol=PROTOCOL, device_id=self.device_id, raw=raw, checksum_ok=checksum_ok,
                time=time, gsm_signal=gsm, alarm=alarm, io=io,
            )  # fmt: skip
        io["course_status"] = fix.flags
        return Position(
            protocol=PROTOCOL, device_id=self.device_id, raw=raw, checksum_ok=checksum_ok,
            fix_time=fix.time, latitude=fix.latitude, longitude=fix.longitude, valid=fix.valid,
            speed_kmh=float(fix.speed), course_deg=float(fix.course), satellites=fix.satellites,
            ignition=fix.ignition, gsm_signal=gsm, alarm=alarm, io=io,
        )  # fmt: skip

    def _x1_gps(self, content: bytes, raw: bytes, checksum_ok: bool) -> Position:
        """0x34 (X1 family): alarm word, GPS, terminal info, odometer, cell, driver, voltages."""
        assert self.device_id is not None
        reader = Reader(content, protocol=PROTOCOL)
        io: dict[str, IoValue] = {"type": MSG_X1_GPS, "alarm_word": reader.uint(4, "alarm")}
        fix = _Fix(reader, self._tz)
        io["course_status"] = fix.flags
        io["terminal_info"] = reader.uint(2, "terminal info")
        odometer = reader.uint(4, "odometer")
        io["mcc"] = reader.uint(2, "MCC")
        io["mnc"] = reader.uint(1, "MNC")
        io["lac"] = reader.uint(2, "LAC")
        io["cell_id"] = reader.uint(4, "cell id")
        driver = reader.uint(4, "driver id")
        if driver:
            io["driver_id"] = str(driver)
        # Traccar names the first word "battery"; real frames carry 12.8-14.3 V in it and
        # 3.9-4.2 V (a Li-ion cell) in the second, so the first is read as the supply.
        power_v = reader.uint(2, "supply voltage") / 100.0
        battery_v = reader.uint(2, "battery voltage") / 100.0
        port_info = reader.uint(4, "port info")
        io["input"] = reader.uint(1, "input")
        io["output"] = reader.uint(1, "output")
        for index in range(1, ((port_info >> 20) & 0x0F) + 1):
            io[f"adc{index}"] = reader.uint(2, f"ADC {index}") / 100.0
        return Position(
            protocol=PROTOCOL, device_id=self.device_id, raw=raw, checksum_ok=checksum_ok,
            fix_time=fix.time, latitude=fix.latitude, longitude=fix.longitude, valid=fix.valid,
            speed_kmh=float(fix.speed), course_deg=float(fix.course), satellites=fix.satellites,
            ignition=fix.ignition, odometer_m=float(odometer), battery_v=battery_v,
            external_voltage_v=power_v, io=io,
        )  # fmt: skip

    def _multi_cell(
        self, number: int, content: bytes, raw: bytes, checksum_ok: bool
    ) -> StatusReport:
        """0x18/0x28/0x2C/0x2E/0xA1: time, MCC/MNC, 7 cells, timing advance [, Wi-Fi list]."""
        assert self.device_id is not None
        reader = Reader(content, protocol=PROTOCOL)
        time = _read_time(reader, self._tz)
        mcc = reader.uint(2, "MCC")
        mnc = reader.uint(2 if mcc & 0x8000 else 1, "MNC")
        io: dict[str, IoValue] = {"type": number, "mcc": mcc & 0x7FFF, "mnc": mnc}
        wide = number == MSG_LBS_4G
        cells = []
        for index in range(7):
            lac = reader.uint(4 if wide else 2, f"cell {index + 1} LAC")
            cid = reader.uint(8 if wide else 3, f"cell {index + 1} id")
            rssi = reader.uint(1, f"cell {index + 1} signal")
            if lac:
                cells.append(f"{lac}/{cid}/{rssi}")
        io["cells"] = ";".join(cells)
        io["timing_advance"] = reader.uint(1, "timing advance")
        if number in (MSG_LBS_EXTEND, MSG_LBS_WIFI) and reader.remaining:
            points = []
            for index in range(reader.uint(1, "Wi-Fi count")):
                mac = reader.take(6, f"Wi-Fi {index + 1} MAC")
                points.append(f"{mac.hex(':')}/{reader.uint(1, f'Wi-Fi {index + 1} signal')}")
            io["wifi"] = ";".join(points)
        return StatusReport(
            protocol=PROTOCOL, device_id=self.device_id, raw=raw, checksum_ok=checksum_ok,
            time=time, io=io,
        )  # fmt: skip

    def _heartbeat(self, number: int, content: bytes, raw: bytes, checksum_ok: bool) -> Heartbeat:
        assert self.device_id is not None
        if not content:
            raise FrameError("empty status content", protocol=PROTOCOL, raw=raw)
        io: dict[str, IoValue] = {}
        if number == MSG_HEARTBEAT:
            info = content[0]
            io["terminal_info"] = info
            battery_v = int.from_bytes(content[1:3], "big") / 100.0 if len(content) >= 3 else None
            gsm = content[3] if len(content) >= 4 else None
            return Heartbeat(
                protocol=PROTOCOL, device_id=self.device_id, raw=raw, checksum_ok=checksum_ok,
                ignition=bool(info & 0x02), charging=bool(info & 0x04), battery_v=battery_v, gsm_signal=gsm, io=io,
            )  # fmt: skip
        status = _Status(content[:5], io)
        return Heartbeat(
            protocol=PROTOCOL,
            device_id=self.device_id,
            raw=raw,
            checksum_ok=checksum_ok,
            ignition=status.ignition,
            charging=status.charging,
            battery_percent=status.battery_percent,
            gsm_signal=status.gsm_signal,
            alarm=status.alarm,
            io=io,
        )

    def _lbs_status(self, content: bytes, raw: bytes, checksum_ok: bool) -> StatusReport | Alarm:
        assert self.device_id is not None
        if len(content) < 5:
            raise FrameError("LBS status content too short", protocol=PROTOCOL, raw=raw)
        io: dict[str, IoValue] = {}
        _decode_lbs(content[:-5], io)
        status = _Status(content[-5:], io)
        cls = Alarm if status.alarm else StatusReport
        return cls(
            protocol=PROTOCOL,
            device_id=self.device_id,
            raw=raw,
            checksum_ok=checksum_ok,
            ignition=status.ignition,
            charging=status.charging,
            battery_percent=status.battery_percent,
            gsm_signal=status.gsm_signal,
            alarm=status.alarm,
            io=io,
        )

    def _info(self, content: bytes, raw: bytes, checksum_ok: bool) -> StatusReport:
        assert self.device_id is not None
        if not content:
            raise FrameError("empty information content", protocol=PROTOCOL, raw=raw)
        subtype, data = content[0], content[1:]
        io: dict[str, IoValue] = {"info_type": subtype}
        voltage: float | None = None
        if subtype in (0x00, 0x0B) and len(data) == 2:
            voltage = int.from_bytes(data, "big") / 100.0
        elif subtype == 0x0A and len(data) >= 26:
            io["iccid"] = data[16:26].hex().rstrip("f")
        else:
            io["data"] = data
        return StatusReport(
            protocol=PROTOCOL, device_id=self.device_id, raw=raw, checksum_ok=checksum_ok,
            external_voltage_v=voltage, io=io,
        )  # fmt: skip

    def _string(
        self, number: int, content: bytes, raw: bytes, checksum_ok: bool
    ) -> CommandResponse:
        assert self.device_id is not None
        reader = Reader(content, protocol=PROTOCOL)
        if number == MSG_STRING:
            size = reader.uint(1, "command length")
            if size == 0 and len(content) >= 7:
                # some firmwares send length 0, the server flag and zero-padded text, language
                payload = content[5:-2].rstrip(b"\x00")
                return CommandResponse(
                    protocol=PROTOCOL, device_id=self.device_id, raw=raw, checksum_ok=checksum_ok,
                    payload=payload, text=printable_ascii(payload), message_type=number,
                )  # fmt: skip
            if size < 4:
                raise FieldError(
                    "command length", size, "must include the 4-byte server flag", protocol=PROTOCOL
                )
            reader.uint(4, "server flag")
            payload = reader.take(size - 4, "command text")
        else:
            reader.uint(4, "server flag")
            encoding = reader.uint(1, "encoding")
            payload = content[reader.pos :]
            if encoding != 1:
                try:
                    text = payload.decode("utf-16-be")
                except UnicodeDecodeError:
                    text = None
                return CommandResponse(
                    protocol=PROTOCOL,
                    device_id=self.device_id,
                    raw=raw,
                    checksum_ok=checksum_ok,
                    payload=payload,
                    text=text,
                    message_type=number,
                )
        return CommandResponse(
            protocol=PROTOCOL, device_id=self.device_id, raw=raw, checksum_ok=checksum_ok,
            payload=payload, text=printable_ascii(payload), message_type=number,
        )  # fmt: skip
