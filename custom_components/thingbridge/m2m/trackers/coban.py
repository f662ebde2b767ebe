"""Coban "TK103A/B" / GPS103 ``imei:`` text protocol (Traccar's ``gps103``, port 5001).

Written by hand from the Coban protocol description and the variants real devices send:
no maintained Python library parses it, and it is a small comma-separated format.

Frames end with ``;`` (also a line end or ``*``); no checksum.

- ``##,imei:<IMEI>,A;`` logon → :class:`Login`; reply ``LOAD``.
- ``<IMEI>;`` heartbeat → :class:`Heartbeat`; reply ``ON``.
- ``imei:<IMEI>,<keyword>,<yymmddHHMM[SS] local>,<phone>,F,<hhmmss.sss UTC>,A,<ddmm.mmmm>,N,
  <dddmm.mmmm>,E,<speed knots>,<course>[,altitude,acc,door,fuel1%,fuel2%,temp];`` →
  :class:`Position`. The UTC date is the local date corrected by the local - UTC
  difference (wrapped to ±12 h). ``L`` instead of ``F`` (no GPS) gives an
  :class:`Alarm` or :class:`StatusReport` with the cell. Keyword ``help me`` (SOS) is
  answered with ``**,imei:<IMEI>,E;``; ``acc on``/``acc off`` set ignition. Without a
  usable UTC time (``F,0.0,`` or ``F,,``) the local time is taken as UTC, as Traccar does.
- ``imei:<IMEI>,<name>,<event>,<sensor id>,<sensor V>,<hhmmss>,<ddmmyy>,<rssi>,<gps 0|1>,
  <lat>,<lon>,<speed km/h>,<course>,<alt>,<hdop>,<sats>,<acc>,<charge>,<error>,*`` (the
  "alternative" firmware, decimal degrees) → :class:`Position`.
- ``imei:<IMEI>,OBD,<yymmddHHMMSS>,<odometer>,<fuel now>,<fuel avg>,<hours>,<speed km/h>,
  <load %>,<coolant °C>,<throttle %>,<rpm>,<battery V>,<DTCs…>`` → :class:`StatusReport`.
- Any ``imei:`` frame of at most 30 characters (``imei:<IMEI>,A;``) is a logon too and is
  answered ``LOAD``, as Traccar does.

A UDP datagram may end without a terminator; its last frame is decoded all the same.

IMEIs are 15 digits (:mod:`.ids`); a frame with any other ID is a :class:`FieldError`. An
unregistered device gets nothing (``reject_reply`` is ``None``; Traccar answers ``LOAD``
and ``ON`` to anyone): the protocol has no record ACK, so ``LOAD``/``ON`` are what the
device takes for a working server. Without ``LOAD`` it repeats the logon and does not
start its GPRS reports; without ``ON`` it drops the connection and logs on again. Fixes
it could not deliver stay in its memory (models with the "save data when GPRS fails"
function) until a server answers.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from ._text import WHITESPACE, TextDecoder
from ._util import check_coordinates, parse_ddmm, parse_float, parse_int, utc_datetime
from .errors import FieldError, FrameError, ProtocolError, UnsupportedMessage
from .ids import check_device_id
from .model import (
    KNOTS_TO_KMH,
    Alarm,
    AnyMessage,
    Frame,
    Heartbeat,
    IoValue,
    Login,
    Position,
    StatusReport,
)
from .stream import DEFAULT_MAX_BUFFER, Item

PROTOCOL = "coban"

_ALARMS = {
    "help me": "sos",
    "low battery": "low_battery",
    "stockade": "geofence",
    "move": "movement",
    "speed": "overspeed",
    "door alarm": "door",
    "ac alarm": "power_cut",
    "accident alarm": "accident",
    "sensor alarm": "vibration",
    "bonnet alarm": "bonnet",
    "footbrake alarm": "foot_brake",
    "DTC": "fault",
}
_TERMINATORS = b";\n*"


def build_sos_reply(imei: str) -> bytes:
    """The acknowledgement of a ``help me`` (SOS) report."""
    return f"**,imei:{imei},E;".encode("ascii")


def _fix_time(local: str, utc_text: str, raw: bytes) -> datetime:
    """UTC fix time from the local date-time and the UTC time of day."""
    if len(local) < 10:
        raise FieldError("local time", local, "expected yymmddHHMM[SS]", protocol=PROTOCOL, raw=raw)
    local_dt = utc_datetime(
        2000 + int(local[0:2]), int(local[2:4]), int(local[4:6]), int(local[6:8]), int(local[8:10]),
        int(local[10:12]) if len(local) >= 12 else 0, field="local time", protocol=PROTOCOL,
    )  # fmt: skip
    head, _, frac = utc_text.partition(".")
    if len(head) != 6 or not head.isdigit() or not (frac.isdigit() or not frac):
        # some firmwares put a non-time there ("0.0", "31.0"): the local time is all there is
        return local_dt
    seconds = parse_float(utc_text[4:], "utc time", protocol=PROTOCOL)
    fix_time = utc_datetime(
        local_dt.year, local_dt.month, local_dt.day, int(utc_text[0:2]), int(utc_text[2:4]), seconds,
        field="utc time", protocol=PROTOCOL,
    )  # fmt: skip
    delta = local_dt - fix_time
    if delta > timedelta(hours=12):
        fix_time += timedelta(days=1)
    elif delta <= timedelta(hours=-12):
        fix_time -= timedelta(days=1)
    return fix_time


def _is_clock(text: str) -> bool:
    """Six digits: an ``hhmmss`` or ``ddmmyy`` field."""
    return len(text) == 6 and text.isdigit()


def _coordinates(tokens: list[str], raw: bytes) -> tuple[float, float, list[str]]:
    """Latitude and longitude with their hemisphere letters (before or after), and the rest."""
    coords: list[tuple[str, str]] = []
    i = 0
    while len(coords) < 2 and i < len(tokens):
        hemi_before = tokens[i] if tokens[i] in ("N", "S", "E", "W") else ""
        if hemi_before:
            i += 1
        if i >= len(tokens):
            break
        value = tokens[i]
        i += 1
        hemi = hemi_before
        if not hemi and i < len(tokens) and tokens[i] in ("N", "S", "E", "W"):
            hemi = tokens[i]
            i += 1
        coords.append((value, hemi))
    if len(coords) < 2:
        raise FrameError("latitude and longitude missing", protocol=PROTOCOL, raw=raw)
    lat = parse_ddmm(coords[0][0], coords[0][1], "latitude", protocol=PROTOCOL)
    lon = parse_ddmm(coords[1][0], coords[1][1], "longitude", protocol=PROTOCOL)
    check_coordinates(lat, lon, protocol=PROTOCOL)
    return lat, lon, tokens[i:]


class CobanDecoder(TextDecoder):
    """Streaming decoder for the Coban/GPS103 ``imei:`` protocol.

    Args:
        lenient: Unused (no checksum); accepted for a uniform interface.
        max_buffer: Bound on unparsed bytes.
        max_frame: Longest accepted frame.
    """

    protocol = PROTOCOL
    starts = b"#i0123456789"
    separators = WHITESPACE | frozenset(b";*")

    def __init__(
        self, *, lenient: bool = False, max_buffer: int = DEFAULT_MAX_BUFFER, max_frame: int = 2048
    ) -> None:
        """Create the decoder."""
        super().__init__(lenient=lenient, max_buffer=max_buffer, max_frame=max_frame)

    def _frame_end(self, buf: bytes, pos: int) -> int | None:
        window_end = min(len(buf), pos + self.max_frame + 1)
        hits = [h for h in (buf.find(bytes((t,)), pos, window_end) for t in _TERMINATORS) if h >= 0]
        end = min(hits) + 1 if hits else None
        if buf.startswith(b"imei:", pos):
            # a cut frame runs into the next one: it ends where the next ``imei:`` starts
            # (no record ACK in this protocol, so a frame swallowed here would be lost)
            following = buf.find(b"imei:", pos + 5, window_end if end is None else end)
            if following >= 0:
                return following
        return end

    def _decode_unterminated(self, raw: bytes) -> Item | None:
        return self._decode_frame(raw)

    def _decode_frame(self, raw: bytes) -> Item | None:
        try:
            text = raw.decode("ascii").rstrip(";*\r\n").strip()
        except UnicodeDecodeError:
            return FrameError("frame is not ASCII", protocol=PROTOCOL, raw=raw)
        if not text:
            return None
        try:
            return self._message(text, raw)
        except ProtocolError as err:
            return err

    def _message(self, text: str, raw: bytes) -> Item:
        if text.startswith("##") or (text.startswith("imei:") and len(raw.rstrip(b"\r\n")) <= 30):
            parts = text.split(",")
            imei = check_device_id(
                PROTOCOL, next((p[5:] for p in parts if p.startswith("imei:")), ""), raw
            )
            login = Login(protocol=PROTOCOL, device_id=imei, raw=raw)
            return Frame(
                protocol=PROTOCOL,
                kind="logon",
                device_id=imei,
                messages=(login,),
                raw=raw,
                reply=b"LOAD",
            )
        if text[0].isdigit():
            start = text.find("imei:")
            if start < 0:
                if not text.isdigit():
                    raise FrameError("heartbeat is not a numeric IMEI", protocol=PROTOCOL, raw=raw)
                check_device_id(PROTOCOL, text, raw)
                beat = Heartbeat(protocol=PROTOCOL, device_id=text, raw=raw)
                return Frame(
                    protocol=PROTOCOL,
                    kind="heartbeat",
                    device_id=text,
                    messages=(beat,),
                    raw=raw,
                    reply=b"ON",
                )
            item = self._report(text[start:], raw)
            if isinstance(item, Frame) and item.reply is None:  # IMEI prefix: answer the heartbeat
                item = replace(item, reply=b"ON")
            return item
        if not text.startswith("imei:"):
            raise FrameError("frame does not start with imei:", protocol=PROTOCOL, raw=raw)
        return self._report(text, raw)

    def _report(self, text: str, raw: bytes) -> Item:
        fields = [field.strip() for field in text.split(",")]
        imei = check_device_id(PROTOCOL, fields[0][5:], raw)
        keyword = fields[1] if len(fields) > 1 else ""
        try:
            if keyword == "OBD" and len(fields) >= 13:
                return self._obd(imei, fields, raw)
            if len(fields) >= 19 and _is_clock(fields[5]) and _is_clock(fields[6]):
                return self._alternative(imei, fields, raw)
        except ProtocolError as err:
            err.device_id = imei
            raise
        if len(fields) < 5 or fields[4] not in ("F", "L"):
            return UnsupportedMessage(keyword or "?", protocol=PROTOCOL, raw=raw, device_id=imei)
        alarm = _ALARMS.get(keyword)
        if alarm is None and keyword.startswith("T:"):
            alarm = "temperature"
        if alarm is None and keyword.startswith("oil"):
            alarm = "fuel_leak"
        ignition = {"acc on": True, "acc off": False}.get(keyword)
        reply = build_sos_reply(imei) if keyword == "help me" else None
        io: dict[str, IoValue] = {}
        if fields[3]:
            io["phone_or_rfid"] = fields[3]
        local = "".join(c for c in fields[2] if c.isdigit())
        message: AnyMessage
        try:
            if fields[4] == "F":
                message = self._position(
                    imei,
                    keyword=keyword,
                    local=local,
                    fields=fields,
                    raw=raw,
                    alarm=alarm,
                    ignition=ignition,
                    io=io,
                )
            else:
                if len(fields) > 9:
                    if fields[7]:
                        io["lac"] = parse_int(fields[7], "lac", protocol=PROTOCOL, base=16)
                    if fields[9]:
                        io["cell_id"] = parse_int(fields[9], "cell id", protocol=PROTOCOL, base=16)
                cls = Alarm if alarm else StatusReport
                message = cls(
                    protocol=PROTOCOL,
                    device_id=imei,
                    raw=raw,
                    alarm=alarm,
                    ignition=ignition,
                    io=io,
                )
        except ProtocolError as err:
            err.device_id = imei
            raise
        return Frame(
            protocol=PROTOCOL,
            kind=keyword,
            device_id=imei,
            messages=(message,),
            raw=raw,
            reply=reply,
        )

    @staticmethod
    def _obd(imei: str, fields: list[str], raw: bytes) -> Frame:
        stamp = fields[2]
        if len(stamp) != 12 or not stamp.isdigit():
            raise FieldError("time", stamp, "expected yymmddHHMMSS", protocol=PROTOCOL, raw=raw)
        time = utc_datetime(
            2000 + int(stamp[0:2]), int(stamp[2:4]), int(stamp[4:6]), int(stamp[6:8]),
            int(stamp[8:10]), int(stamp[10:12]), field="time", protocol=PROTOCOL,
        )  # fmt: skip
        io: dict[str, IoValue] = {}
        battery: float | None = None
        for index, name in enumerate(
            ("obd_odometer", "fuel_instant", "fuel_consumption", "engine_hours", "obd_speed",
             "engine_load", "coolant_temp", "throttle", "rpm", "obd_battery"),
            3,
        ):  # fmt: skip
            value = fields[index].strip().rstrip("%")
            if value in ("", "+", "-"):
                continue
            number = parse_float(value, name, protocol=PROTOCOL)
            if name == "obd_battery":
                battery = number
            else:
                io[name] = int(number) if number.is_integer() and "." not in value else number
        dtcs = [code for code in fields[13:] if code.strip()]
        if dtcs:
            io["dtcs"] = " ".join(dtcs)
        report = StatusReport(
            protocol=PROTOCOL, device_id=imei, raw=raw, time=time, external_voltage_v=battery,
            io=io,
        )  # fmt: skip
        return Frame(protocol=PROTOCOL, kind="OBD", device_id=imei, messages=(report,), raw=raw)

    @staticmethod
    def _alternative(imei: str, fields: list[str], raw: bytes) -> Frame:
        # imei:…,name,event,sensor id,sensor voltage,hhmmss,ddmmyy,rssi,gps,lat,lon,
        # speed km/h,course,altitude,hdop,satellites,ignition,charge,error
        clock, date = fields[5], fields[6]
        fix_time = utc_datetime(
            2000 + int(date[4:6]), int(date[2:4]), int(date[0:2]),
            int(clock[0:2]), int(clock[2:4]), int(clock[4:6]), field="datetime", protocol=PROTOCOL,
        )  # fmt: skip
        lat = parse_float(fields[9], "latitude", protocol=PROTOCOL)
        lon = parse_float(fields[10], "longitude", protocol=PROTOCOL)
        check_coordinates(lat, lon, protocol=PROTOCOL)

        def num(index: int, name: str) -> float:
            return parse_float(fields[index], name, protocol=PROTOCOL)

        io: dict[str, IoValue] = {"name": fields[1]}
        for index, name in ((3, "sensor_id"), (4, "sensor_voltage"), (18, "error")):
            if fields[index].strip("-"):
                io[name] = fields[index]
        event = fields[2] if fields[2].strip("-") else None
        position = Position(
            protocol=PROTOCOL, device_id=imei, raw=raw, fix_time=fix_time, latitude=lat,
            longitude=lon, valid=parse_int(fields[8], "gps status", protocol=PROTOCOL) > 0,
            altitude_m=num(13, "altitude"), speed_kmh=num(11, "speed"), course_deg=num(12, "course"),
            hdop=num(14, "hdop"), satellites=parse_int(fields[15], "satellites", protocol=PROTOCOL),
            gsm_signal=parse_int(fields[7], "rssi", protocol=PROTOCOL),
            ignition=fields[16] == "1", charging=fields[17] == "1", event=event, io=io,
        )  # fmt: skip
        return Frame(
            protocol=PROTOCOL, kind=event or "report", device_id=imei, messages=(position,),
            raw=raw,
        )  # fmt: skip

    def _position(
        self,
        imei: str,
        *,
        keyword: str,
        local: str,
        fields: list[str],
        raw: bytes,
        alarm: str | None,
        ignition: bool | None,
        io: dict[str, IoValue],
    ) -> Position:
        rest = fields[5:]
        fix_time = _fix_time(local, rest[0] if rest else "", raw)
        if len(rest) < 2 or rest[1] not in ("A", "V"):
            raise FieldError(
                "validity",
                rest[1] if len(rest) > 1 else "",
                "expected A or V",
                protocol=PROTOCOL,
                raw=raw,
            )
        valid = rest[1] == "A"
        lat, lon, extra = _coordinates(rest[2:], raw)

        def number(index: int, name: str) -> float | None:
            if index < len(extra) and extra[index].strip():
                return parse_float(extra[index].rstrip("%"), name, protocol=PROTOCOL)
            return None

        speed = number(0, "speed")
        course = number(1, "course")
        altitude = number(2, "altitude")
        if len(extra) > 3 and extra[3] in ("0", "1") and ignition is None:
            ignition = extra[3] == "1"
        if len(extra) > 4 and extra[4] in ("0", "1"):
            io["door"] = extra[4] == "1"
        for index, name in ((5, "fuel1"), (6, "fuel2"), (7, "temperature")):
            value = extra[index].strip() if index < len(extra) else ""
            if value:
                io[name] = value
        return Position(
            protocol=PROTOCOL,
            device_id=imei,
            raw=raw,
            fix_time=fix_time,
            latitude=lat,
            longitude=lon,
            valid=valid,
            altitude_m=altitude,
            speed_kmh=None if speed is None else speed * KNOTS_TO_KMH,
            course_deg=course,
            ignition=ignition,
            alarm=alarm,
            event=keyword,
            io=io,
        )
