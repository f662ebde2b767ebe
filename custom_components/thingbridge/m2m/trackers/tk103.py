"""TK103 "(…)" text protocol (TK103-2 and Xexun-style clones; Traccar's ``tk103``).

Written by hand from the vendor's "GPS Tracker TK103 Protocol" description and the
variants real devices send; it is a regular-expression job no library covers.

A frame is ASCII between ``(`` and ``)`` (``$…$`` free text inside may contain ``)``).
Fixed-width form: ``(`` + device ID (12 characters; some devices send 11 digits or a
15-digit IMEI) + 4-character command (two letters, a digit, a letter or digit) + body +
``)``; comma form: ``(ID,COMMAND,field,…)``. No checksum. A UDP datagram may lack the
closing ``)`` (Traccar's pattern makes it optional there).

- ``BP00`` handshake → :class:`Heartbeat`; reply ``(<id>AP01HSO)``.
- ``BP05`` login (IMEI, then usually a position) → :class:`Login` [+ :class:`Position`];
  reply ``(<id>AP05)``.
- ``BR00``/``BR01``/``BO01``/``BQ81``/``ZCxx``/``DWxx``… with a position → :class:`Position`
  (fixed form: date ``yymmdd``; comma form: ``ddmmyy``; speed km/h; ``L`` + hex mileage in
  metres); without one → :class:`Alarm` or :class:`StatusReport` (cell lists).
- ``ZC20`` battery report → :class:`StatusReport`.
- ``BZ00`` cell report (``mcc,mnc,lac,cid`` in hex or ``{mcc,mnc,lac,cid}`` lists),
  ``DW5x`` LBS/Wi-Fi report (``mcc,mnc,lac,cid,count,mac*rssi*channel…,ddmmyy,hhmmss``)
  and ``BV00`` VIN → :class:`StatusReport`; ``ZC03`` command result (``$text$``) →
  :class:`CommandResponse`. A no-fix (``V``) report whose date is not a date (devices send
  ``000007`` before their first fix) → :class:`StatusReport` with its I/O status.

Other commands are :class:`UnsupportedMessage` without reply.

Device IDs are 11-15 digits (:mod:`.ids`); a frame with any other ID is a
:class:`FieldError`. An unregistered device gets nothing (``reject_reply`` is ``None``;
Traccar answers ``AP01HSO``/``AP05`` to anyone): TK103 has no record ACK, so the
handshake and login answers are all the device learns about the server, and a device that
gets them takes its data as delivered. Unanswered, it repeats ``BP00``/``BP05`` and
reconnects, and keeps the fixes it holds in memory (firmwares with a buffer) until a server
answers; fixes it sends regardless are not stored.
"""

from __future__ import annotations

from datetime import datetime
import re

from ._text import TextDecoder
from ._util import check_coordinates, parse_ddmm, parse_float, parse_int, utc_datetime
from .errors import FieldError, FrameError, ProtocolError, UnsupportedMessage
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
)
from .stream import DEFAULT_MAX_BUFFER, Item

PROTOCOL = "tk103"

_FIXED = re.compile(
    r"(?P<date>\d{6})(?P<valid>[AV]) *(?P<lat>\d+\.\d+)(?P<ns>[NS]) *(?P<lon>\d+\.\d+)(?P<ew>[EW])"
    r"(?P<speed>[ \d.]{5})(?P<time>\d{6})(?P<course>[ \d.]{6})?"
    r"(?:(?P<io>[01]{2}[0-9A-Fa-f]{6})(?:L(?P<odo>[0-9A-Fa-f]{1,12}))?)?"
)
_COMMA = re.compile(
    r"(?P<date>\d{6}),(?P<valid>[AV]),(?P<lat>-?\d+\.\d+),?(?P<ns>[NS]),"
    r"(?P<lon>-?\d+\.\d+),?(?P<ew>[EW]),(?P<speed>[\d.]+),(?P<time>\d{6})"
    r"(?:,(?P<course>[\d.]+))?(?P<extra>,.*)?$",
    re.DOTALL,
)
_CELL = re.compile(r"\{(\d+),(\d+),(\d+),(\d+)\}")
_COMMAND = re.compile(r"[A-Z]{2}[0-9][0-9A-Z]")
_ID_AND_COMMAND = re.compile(r"([0-9]{8,20}?)([A-Z]{2}[0-9][0-9A-Z])")
_NETWORK = re.compile(r",?(\d+),(\d+),([0-9A-Fa-f]+),([0-9A-Fa-f]+)(?:,|$)")
_WIFI = re.compile(r"((?:[0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2})\*([-+]?\d+)\*(\d+)")
_COMMAND_RESULT = re.compile(r",?(\d{6}),(\d{6}),\$(.*?)\$?$", re.DOTALL)
_VIN = re.compile(r"[0-9A-Za-z]{17}")

_BO01 = {
    0: "power_cut",
    1: "accident",
    2: "sos",
    3: "vibration",
    4: "low_speed",
    5: "overspeed",
    6: "geofence_exit",
}
_BQ81 = {
    0: "low_battery",
    1: "overspeed",
    2: "idle",
    3: "acceleration",
    4: "braking",
    5: "temperature",
}
_EVENTS: dict[str, tuple[str | None, bool | None]] = {}
for _codes, _alarm, _ign in (
    (("ZC11", "DW31", "DW51"), "movement", None),
    (("ZC12", "DW32", "DW52"), "low_battery", None),
    (("ZC13", "DW33", "DW53"), "power_cut", None),
    (("ZC15", "DW35", "DW55"), None, True),
    (("ZC16", "DW36", "DW56"), None, False),
    (("ZC29", "DW42", "DW62"), None, True),
    (("ZC17", "DW37", "DW57"), "removing", None),
    (("ZC25", "DW3E", "DW5E"), "sos", None),
    (("ZC26", "DW3F", "DW5F"), "tampering", None),
    (("ZC27", "DW40", "DW60"), "low_power", None),
):
    for _code in _codes:
        _EVENTS[_code] = (_alarm, _ign)
_BATTERY_LEVELS = {6: 100.0, 5: 80.0, 4: 50.0, 3: 20.0, 2: 10.0}


def build_reply(device_id: str, command: str, body: str = "") -> bytes:
    """A server frame, e.g. ``build_reply("088048003342", "AP05")``."""
    return f"({device_id}{command}{body})".encode("ascii")


def _date_time(date: str, clock: str) -> datetime:
    """``ddmmyy`` and ``hhmmss`` (UTC), as the TK103 reports write them."""
    if len(date) != 6 or len(clock) != 6 or not (date + clock).isdigit():
        raise FieldError("datetime", f"{date},{clock}", "expected ddmmyy,hhmmss", protocol=PROTOCOL)
    return utc_datetime(
        2000 + int(date[4:6]), int(date[2:4]), int(date[0:2]),
        int(clock[0:2]), int(clock[2:4]), int(clock[4:6]), field="datetime", protocol=PROTOCOL,
    )  # fmt: skip


class Tk103Decoder(TextDecoder):
    """Streaming decoder for the TK103 ``(…)`` protocol.

    Args:
        lenient: Unused (TK103 has no checksum); accepted for a uniform interface.
        max_buffer: Bound on unparsed bytes.
        max_frame: Longest accepted frame.
    """

    protocol = PROTOCOL
    starts = b"("

    def __init__(
        self, *, lenient: bool = False, max_buffer: int = DEFAULT_MAX_BUFFER, max_frame: int = 1024
    ) -> None:
        """Create the decoder."""
        super().__init__(lenient=lenient, max_buffer=max_buffer, max_frame=max_frame)

    def _frame_end(self, buf: bytes, pos: int) -> int | None:
        window_end = min(len(buf), pos + self.max_frame + 1)
        i = pos
        while True:
            close = buf.find(b")", i, window_end)
            if close < 0:
                return None
            if buf.count(b"$", pos, close) % 2 == 0:
                return close + 1
            i = close + 1

    def _decode_frame(self, raw: bytes) -> Item | None:
        return self._decode_content(raw, raw[1:-1])

    def _decode_unterminated(self, raw: bytes) -> Item | None:
        return self._decode_content(raw, raw[1:].rstrip(b" \t\r\n\x00"))

    def _decode_content(self, raw: bytes, data: bytes) -> Item | None:
        try:
            content = data.decode("ascii")
        except UnicodeDecodeError:
            return FrameError("frame is not ASCII", protocol=PROTOCOL, raw=raw)
        parts = content.split(",", 2)
        comma_form = (
            len(parts) > 1 and 0 < len(parts[0]) <= 20 and bool(_COMMAND.fullmatch(parts[1]))
        )
        if comma_form:
            device_id, command = parts[0], parts[1]
            body = parts[2] if len(parts) > 2 else ""
        else:
            # fixed width: a 12-character ID, or digits up to the first command-like code
            device_id, command, body = content[:12], content[12:16], content[16:]
            if not _COMMAND.fullmatch(command):
                found = _ID_AND_COMMAND.match(content)
                if found:
                    device_id, command = found.group(1), found.group(2)
                    body = content[found.end() :]
        if not device_id or len(command) != 4 or not command.isalnum():
            return FrameError("no device ID and 4-character command", protocol=PROTOCOL, raw=raw)
        try:
            check_device_id(PROTOCOL, device_id, raw)
        except FieldError as err:
            return err
        try:
            return self._message(device_id, command, body, raw, comma_form=comma_form)
        except ProtocolError as err:
            err.device_id = device_id
            return err

    def _message(
        self, device_id: str, command: str, body: str, raw: bytes, *, comma_form: bool
    ) -> Item:
        def frame(messages: tuple[AnyMessage, ...], reply: bytes | None = None) -> Frame:
            return Frame(
                protocol=PROTOCOL, kind=command, device_id=device_id, messages=messages, raw=raw,
                reply=reply,
            )  # fmt: skip

        if command == "BP00":
            io: dict[str, IoValue] = {"data": body} if body else {}
            beat = Heartbeat(protocol=PROTOCOL, device_id=device_id, raw=raw, io=io)
            return frame((beat,), build_reply(device_id, "AP01", "HSO"))
        if command == "ZC20":
            return frame((self._battery(device_id, body, raw),))
        if command == "ZC03":
            return frame((self._command_result(device_id, body, raw),))
        if command == "BV00" and _VIN.fullmatch(body):
            vin = StatusReport(protocol=PROTOCOL, device_id=device_id, raw=raw, io={"vin": body})
            return frame((vin,))
        alarm, ignition = self._alarm(command, body)
        position = self._position(
            device_id, body, raw, comma_form=comma_form, alarm=alarm, ignition=ignition
        )
        rest: AnyMessage | None = position
        if rest is None and command.startswith("DW5"):
            rest = self._lbs_wifi(device_id, body, raw, alarm=alarm, ignition=ignition)
        if rest is None and command == "BZ00" and "{" not in body:
            rest = self._network(device_id, body, raw)
        if rest is None:
            cells = _CELL.findall(body)
            io = {"cells": ";".join(",".join(c) for c in cells)} if cells else {}
            if alarm:
                rest = Alarm(protocol=PROTOCOL, device_id=device_id, raw=raw, alarm=alarm, io=io)
            elif cells or ignition is not None:
                rest = StatusReport(
                    protocol=PROTOCOL, device_id=device_id, raw=raw, ignition=ignition, io=io
                )
        if command == "BP05":
            digits = body[:15]
            imei = digits if digits.isdigit() and len(digits) == 15 else None
            login = Login(protocol=PROTOCOL, device_id=device_id, raw=raw, imei=imei)
            messages: tuple[AnyMessage, ...] = (login,) if rest is None else (login, rest)
            return frame(messages, build_reply(device_id, "AP05"))
        if rest is None:
            return UnsupportedMessage(command, protocol=PROTOCOL, raw=raw, device_id=device_id)
        return frame((rest,))

    @staticmethod
    def _alarm(command: str, body: str) -> tuple[str | None, bool | None]:
        if command == "BO01" and body[:1].isdigit():
            return _BO01.get(int(body[0])), None
        if command == "BQ81":
            match = re.match(r",?ALARM,(\d)", body)
            if match:
                return _BQ81.get(int(match.group(1))), None
        return _EVENTS.get(command, (None, None))

    def _position(
        self,
        device_id: str,
        body: str,
        raw: bytes,
        *,
        comma_form: bool,
        alarm: str | None,
        ignition: bool | None,
    ) -> Position | StatusReport | None:
        match = _COMMA.search(body) if comma_form else _FIXED.search(body)
        if match is None:
            return None
        g = match.groupdict()
        io: dict[str, IoValue] = {}
        charging: bool | None = None
        odometer: float | None = None
        status = g.get("io")
        if status:
            io["io_status"] = status
            charging = status[0] == "0"
            ignition = status[1] == "1" if ignition is None else ignition
            if g.get("odo"):
                odometer = float(parse_int(g["odo"], "mileage", protocol=PROTOCOL, base=16))
        if g.get("extra"):
            io["extra"] = g["extra"].lstrip(",")
        date, clock = g["date"], g["time"]
        if comma_form:
            day, month, year = int(date[0:2]), int(date[2:4]), int(date[4:6])
        else:
            year, month, day = int(date[0:2]), int(date[2:4]), int(date[4:6])
        try:
            fix_time = utc_datetime(
                2000 + year, month, day, int(clock[0:2]), int(clock[2:4]), int(clock[4:6]),
                field="datetime", protocol=PROTOCOL,
            )  # fmt: skip
        except FieldError:
            if g["valid"] == "A":
                raise
            # no fix yet and no clock either: keep the status, there is no position
            return StatusReport(
                protocol=PROTOCOL, device_id=device_id, raw=raw, ignition=ignition,
                charging=charging, alarm=alarm, io=io,
            )  # fmt: skip
        lat = parse_ddmm(g["lat"], g["ns"], "latitude", protocol=PROTOCOL)
        lon = parse_ddmm(g["lon"], g["ew"], "longitude", protocol=PROTOCOL)
        check_coordinates(lat, lon, protocol=PROTOCOL)
        speed = parse_float(g["speed"], "speed", protocol=PROTOCOL)
        course = (
            parse_float(g["course"], "course", protocol=PROTOCOL)
            if (g.get("course") or "").strip()
            else None
        )
        return Position(
            protocol=PROTOCOL,
            device_id=device_id,
            raw=raw,
            fix_time=fix_time,
            latitude=lat,
            longitude=lon,
            valid=g["valid"] == "A",
            speed_kmh=speed,
            course_deg=course,
            ignition=ignition,
            charging=charging,
            odometer_m=odometer,
            alarm=alarm,
            io=io,
        )

    @staticmethod
    def _network(device_id: str, body: str, raw: bytes) -> StatusReport | None:
        """``BZ00,mcc,mnc,lac,cid[,lac,cid…],status``: LAC and cell IDs in hex."""
        match = _NETWORK.match(body)
        if match is None:
            return None
        io: dict[str, IoValue] = {
            "mcc": int(match.group(1)),
            "mnc": int(match.group(2)),
            "lac": int(match.group(3), 16),
            "cell_id": int(match.group(4), 16),
        }
        return StatusReport(protocol=PROTOCOL, device_id=device_id, raw=raw, io=io)

    @staticmethod
    def _lbs_wifi(
        device_id: str, body: str, raw: bytes, *, alarm: str | None, ignition: bool | None
    ) -> StatusReport | Alarm | None:
        """``DW5x,mcc,mnc,lac,cid,count,mac*rssi*channel…,ddmmyy,hhmmss`` (decimal cell)."""
        fields = body.split(",")
        if len(fields) < 7 or not all(f.isdigit() for f in fields[:5]):
            return None
        count = int(fields[4])
        wifis = [_WIFI.fullmatch(f) for f in fields[5 : 5 + count]]
        tail = fields[5 + count : 7 + count]
        if len(tail) != 2 or not all(wifis):
            return None
        date, clock = tail
        time = _date_time(date, clock)
        io: dict[str, IoValue] = {
            "mcc": int(fields[0]),
            "mnc": int(fields[1]),
            "lac": int(fields[2]),
            "cell_id": int(fields[3]),
        }
        if count:
            io["wifi"] = ";".join(f"{m.group(1)},{m.group(2)}" for m in wifis if m)
        cls = Alarm if alarm else StatusReport
        return cls(
            protocol=PROTOCOL, device_id=device_id, raw=raw, time=time, alarm=alarm,
            ignition=ignition, io=io,
        )  # fmt: skip

    @staticmethod
    def _command_result(device_id: str, body: str, raw: bytes) -> CommandResponse:
        """``ZC03,ddmmyy,hhmmss,$text$``: the device's answer to a command."""
        match = _COMMAND_RESULT.match(body)
        if match is None:
            raise FrameError("ZC03 needs date, time and $text$", protocol=PROTOCOL, raw=raw)
        date, clock, text = match.groups()
        time = _date_time(date, clock)
        return CommandResponse(
            protocol=PROTOCOL, device_id=device_id, raw=raw, payload=text.encode("ascii"),
            text=text, time=time,
        )  # fmt: skip

    @staticmethod
    def _battery(device_id: str, body: str, raw: bytes) -> StatusReport:
        fields = body.split(",")
        if len(fields) < 5:
            raise FrameError(
                "ZC20 needs date, time, level, voltage and power", protocol=PROTOCOL, raw=raw
            )
        date, clock = fields[0], fields[1]
        time = _date_time(date, clock)
        level = parse_int(fields[2], "battery level", protocol=PROTOCOL)
        voltage = parse_int(fields[3], "battery voltage", protocol=PROTOCOL)
        power = parse_int(fields[4], "power voltage", protocol=PROTOCOL)
        return StatusReport(
            protocol=PROTOCOL,
            device_id=device_id,
            raw=raw,
            time=time,
            battery_percent=_BATTERY_LEVELS.get(level),
            battery_v=None if voltage == 65535 else voltage / 100.0,
            external_voltage_v=None if power == 65535 else power / 10.0,
            io={"battery_level_code": level},
        )
